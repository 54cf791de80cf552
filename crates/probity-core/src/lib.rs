//! The pure core of Probity, a tamper-evident ledger for hospital procurement oversight.
//!
//! No I/O, no async runtime, no storage: only the formats and the rules. Everything that is
//! hashed or signed is specified byte for byte in `schemas/FORMAT.md`.
//!
//! * [`envelope`]: events signed by the person who records them (DSSE, strict Ed25519).
//! * [`record`]: records sealed at a sequence number and hash-chained.
//! * [`merkle`]: the RFC 6962 Merkle tree over records, with inclusion and consistency proofs.
//! * [`checkpoint`]: C2SP signed-note checkpoints, witness cosignatures and policies.
//! * [`registry`] and [`roles`]: keys enrolled inside the log, and who may record what.
//! * [`verify`]: the chain verifier, which reports every finding.
//! * [`strict_json`]: one accepted JSON form for every input (objects are objects, no repeated keys).
//!
//! A ledger in a few lines:
//!
//! ```
//! use probity_core::prelude::*;
//!
//! let admin = SecretKey::from_seed(&[1; 32]);
//! let ledger_key = SecretKey::from_seed(&[2; 32]);
//! let genesis = EventBody {
//!     id: EventId::new("genesis")?,
//!     event_type: EventType::new(GENESIS)?,
//!     schema: 1,
//!     ledger: LedgerId::new("city-hospital")?,
//!     subjects: Subjects::default(),
//!     occurred_at: OccurredAt::parse("2026-01-01T00:00:00+08:00")?,
//!     signer: admin.public_key(),
//!     payload: serde_json::json!({
//!         "origin": "probity.example/city-hospital",
//!         "ledger_key": ledger_key.public_key(),
//!         "admins": [{"key": admin.public_key(), "holder": "Admin"}],
//!     })
//!     .into(),
//! };
//! let mut head = ChainHead::default();
//! let record = head.append(SignedEvent::sign(&genesis, &admin), RecordedAt::from_unix_micros(0));
//!
//! // The ledger key signs a checkpoint over it (the root of one record is its hash).
//! let signer = NoteSigner::new("probity.example/city-hospital", ledger_key);
//! let note = signer.sign_checkpoint(&Checkpoint::new("probity.example/city-hospital", 1, record.hash));
//!
//! let matrix = RoleMatrix::governance();
//! let mut verifier = ChainVerifier::new(&matrix);
//! verifier.pin_log_key(signer.verifier_key()).add_checkpoint(note, 1);
//! verifier.push(&record);
//! assert!(verifier.finish().is_intact());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod append;
pub mod checkpoint;
pub mod envelope;
pub mod event_ids;
pub mod hash;
pub mod ids;
pub mod investigation;
pub mod keychain;
pub mod keys;
pub mod merkle;
pub mod mldsa;
pub mod par;
pub mod proof;
pub mod receipt;
pub mod record;
pub mod registry;
pub mod roles;
#[cfg(feature = "schema")]
pub mod schema;
pub mod strict_json;
pub mod subject;
pub mod time;
pub mod verify;
pub mod witness;

/// The types most callers need.
pub mod prelude {
    pub use crate::append::{AppendError, AppendRules, Appended, MemoryLedger};
    pub use crate::checkpoint::{
        Checkpoint, Cosigner, NoteSigner, SignedNote, VerifierKey, WitnessPolicy,
    };
    pub use crate::envelope::{AuthenticEvent, EventBody, Payload, SignedEvent, Subjects};
    pub use crate::hash::Hash;
    pub use crate::ids::{EventId, EventType, LedgerId, Seq, SubjectId};
    pub use crate::keys::{KeyId, PublicKey, SecretKey, Signature};
    pub use crate::merkle::{Frontier, MemoryTree};
    pub use crate::receipt::Receipt;
    pub use crate::record::{ChainHead, Record};
    pub use crate::registry::{GenesisPayload, KeyRegistry};
    pub use crate::roles::{Role, RoleMatrix, GENESIS, KEY_ENROLLED, KEY_REVOKED};
    pub use crate::time::{OccurredAt, RecordedAt};
    pub use crate::verify::{ChainVerifier, Finding, VerifyReport};
}
