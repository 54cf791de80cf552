//! The Probity ledger engine: the book (sled) and its single writer, usable in-process with no
//! server (the embedded default) and wrapped by `ledgerd` for NATS.
//!
//! # What an acknowledgement means
//!
//! [`Ledger::append`] returns a receipt only after the record, its index entries and its
//! Merkle nodes were written in one atomic sled batch **and** `flush` (fsync) returned.
//! Concurrent appends share one flush (group commit). A process crash after the receipt
//! cannot lose the record; a crash before it loses nothing that was acknowledged, and the
//! batch lands whole or not at all. A storage error fails every append in the batch, and the
//! engine refuses further appends until it is reopened, which rebuilds its state from the
//! book.
//!
//! ```
//! use std::sync::Arc;
//! use probity_core::prelude::*;
//! use probity_ledger::{AppendRequest, EngineConfig, Ledger, SystemClock};
//!
//! let dir = tempfile::tempdir()?;
//! let admin = SecretKey::from_seed(&[1; 32]);
//! let ledger_key = SecretKey::from_seed(&[2; 32]);
//! let genesis = EventBody {
//!     id: EventId::new("genesis")?,
//!     event_type: EventType::new(GENESIS)?,
//!     schema: 1,
//!     ledger: LedgerId::new("city-hospital")?,
//!     subjects: Subjects::default(),
//!     occurred_at: OccurredAt::new(probity_ledger::now().datetime()),
//!     signer: admin.public_key(),
//!     payload: serde_json::json!({"origin": "probity.example/city-hospital",
//!         "ledger_key": ledger_key.public_key(),
//!         "admins": [{"key": admin.public_key(), "holder": "Admin"}]}).into(),
//! };
//! let (ledger, receipt) = Ledger::create(dir.path(), SignedEvent::sign(&genesis, &admin),
//!     ledger_key, EngineConfig::default(), Arc::new(SystemClock))?;
//! assert_eq!(receipt.seq, Seq(0));
//! receipt.verify(&ledger.ledger_public_key())?;
//! ledger.close();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod acked;
pub mod audit;
mod book;
pub mod datadir;
mod engine;
mod error;
pub mod evidence;
pub mod export;
pub mod keyfile;
mod layout;
mod memory;
pub mod mirror;
pub mod requests;
pub mod scenario;

pub use book::{Book, NodeError};
pub use engine::{
    check_stateless, now, open_sled, AppendRequest, Clock, CosignError, EngineConfig, Ledger,
    ManualClock, ProofError, Status, SystemClock,
};
pub use error::{AppendError, LedgerError};
pub use memory::without_huge_pages;
/// The wire protocol, re-exported: requests and replies carry the engine's types.
pub use probity_wire as wire;
