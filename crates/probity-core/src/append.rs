//! The append rules, independent of storage: what makes an event acceptable as the next
//! record, and an in-memory ledger that applies them (for tests, tools and the examples; the
//! sled-backed engine applies the same rules through [`admit`]).

use std::collections::HashMap;

use crate::checkpoint::{Checkpoint, NoteSigner, SignedNote};
use crate::envelope::{AuthenticEvent, EnvelopeError, SignedEvent};
use crate::hash::Hash;
use crate::ids::{EventId, Seq};
use crate::merkle::{self, MemoryTree};
use crate::record::{ChainHead, Record};
use crate::registry::{AuthError, KeyEffect, KeyRegistry};
use crate::roles::RoleMatrix;
use crate::time::RecordedAt;

/// Limits an appender enforces beyond the format itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendRules {
    /// How far `occurred_at` may lie after `recorded_at`, in microseconds (clock skew).
    pub max_future_skew_micros: i64,
}

impl Default for AppendRules {
    fn default() -> Self {
        AppendRules {
            max_future_skew_micros: 5 * 60 * 1_000_000,
        }
    }
}

/// Why an event was not appended. Nothing changes when this is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    /// Envelope, body or signature invalid.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// The signer may not record this event now.
    #[error(transparent)]
    Unauthorised(#[from] AuthError),
    /// `occurred_at` is further in the future than the allowed clock skew.
    #[error(
        "occurred_at {occurred_at} is more than {max_skew_secs} s after the ledger's clock ({now})"
    )]
    FromTheFuture {
        /// The event's time.
        occurred_at: String,
        /// The ledger's time.
        now: RecordedAt,
        /// The allowed skew.
        max_skew_secs: i64,
    },
    /// The event id was used before for a different event.
    #[error("event id {id} was already recorded at record {first} with different content")]
    IdConflict {
        /// The id.
        id: EventId,
        /// Where it was recorded.
        first: Seq,
    },
}

/// An event that passed every check and the record it becomes.
#[derive(Debug, Clone)]
pub struct Admitted {
    /// The sealed record.
    pub record: Record,
    /// What it does to the keys once committed.
    pub effect: KeyEffect,
}

/// Checks an authentic (parsed, signature-verified) event as the next record after `head`
/// and seals it. Does not check event-id uniqueness (that needs the store's index) and
/// changes nothing.
pub fn admit(
    registry: &KeyRegistry,
    matrix: &RoleMatrix,
    rules: &AppendRules,
    head: &ChainHead,
    event: AuthenticEvent,
    recorded_at: RecordedAt,
) -> Result<Admitted, AppendError> {
    let body = event.body();
    if body.occurred_at.unix_micros() > recorded_at.unix_micros() + rules.max_future_skew_micros {
        return Err(AppendError::FromTheFuture {
            occurred_at: body.occurred_at.to_string(),
            now: recorded_at,
            max_skew_secs: rules.max_future_skew_micros / 1_000_000,
        });
    }
    let effect = registry.authorize(head.next_seq, body, matrix)?;
    let record = Record::seal(
        head.next_seq,
        recorded_at,
        head.last_hash,
        event.into_signed(),
    );
    Ok(Admitted { record, effect })
}

/// The outcome of an append: a new record, or the original one for an idempotent retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// Appended now.
    New(Record),
    /// The same event was appended before; this is that record.
    Duplicate(Record),
}

impl Appended {
    /// The record either way.
    pub fn record(&self) -> &Record {
        match self {
            Appended::New(r) | Appended::Duplicate(r) => r,
        }
    }
}

/// A whole ledger in memory.
#[derive(Debug)]
pub struct MemoryLedger {
    matrix: RoleMatrix,
    rules: AppendRules,
    registry: KeyRegistry,
    head: ChainHead,
    records: Vec<Record>,
    ids: HashMap<EventId, Seq>,
    tree: MemoryTree,
}

impl MemoryLedger {
    /// An empty ledger; the first append must be the genesis event.
    pub fn new(matrix: RoleMatrix, rules: AppendRules) -> Self {
        MemoryLedger {
            matrix,
            rules,
            registry: KeyRegistry::new(),
            head: ChainHead::default(),
            records: Vec::new(),
            ids: HashMap::new(),
            tree: MemoryTree::new(),
        }
    }

    /// Appends `event` at `recorded_at`.
    pub fn append(
        &mut self,
        event: SignedEvent,
        recorded_at: RecordedAt,
    ) -> Result<Appended, AppendError> {
        let authentic = event.open()?;
        let id = authentic.body().id.clone();
        if let Some(&first) = self.ids.get(&id) {
            let original = &self.records[first.0 as usize];
            return if original.event == event {
                Ok(Appended::Duplicate(original.clone()))
            } else {
                Err(AppendError::IdConflict { id, first })
            };
        }
        let admitted = admit(
            &self.registry,
            &self.matrix,
            &self.rules,
            &self.head,
            authentic,
            recorded_at,
        )?;
        let record = admitted.record;
        self.registry.apply(record.seq, admitted.effect);
        self.head = ChainHead {
            next_seq: record.seq.next(),
            last_hash: record.hash,
        };
        self.ids.insert(id, record.seq);
        self.tree.push(record.hash);
        self.records.push(record.clone());
        Ok(Appended::New(record))
    }

    /// Every record, in order.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// The keys as of now.
    pub fn registry(&self) -> &KeyRegistry {
        &self.registry
    }

    /// The role matrix.
    pub fn matrix(&self) -> &RoleMatrix {
        &self.matrix
    }

    /// The Merkle tree over the records.
    pub fn tree(&self) -> &MemoryTree {
        &self.tree
    }

    /// Number of records.
    pub fn size(&self) -> u64 {
        self.tree.size()
    }

    /// The current root.
    pub fn root(&self) -> Hash {
        self.tree.root()
    }

    /// A checkpoint of the current size signed by `signer` (whose name is the origin).
    pub fn checkpoint(&self, signer: &NoteSigner) -> SignedNote {
        let origin = signer.verifier_key().name;
        let mut keys = crate::keychain::KeyChain::new();
        for record in &self.records {
            let is_key = crate::envelope::EventBody::parse(record.event.body_bytes())
                .is_ok_and(|b| crate::keychain::is_key_record_type(b.event_type.as_str()));
            if is_key {
                keys.push(&record.hash);
            }
        }
        let mut checkpoint = Checkpoint::new(origin, self.size(), self.root());
        checkpoint.extensions.push(keys.extension_line());
        signer.sign_checkpoint(&checkpoint)
    }

    /// The inclusion proof of record `seq` in the tree of `size` records.
    pub fn inclusion_proof(&self, seq: Seq, size: u64) -> Option<Vec<Hash>> {
        merkle::inclusion_proof(&self.tree, seq.0, size).ok()
    }
}
