//! Test support: a fixture hospital (keys, genesis, enrolments, valid events), a clock tests
//! can set, and malleated signatures. Dev-only: never a dependency of a shipped crate.

use probity_core::prelude::*;
use serde_json::{json, Value};

pub mod ledgerd;
pub mod nats;
pub mod scenario;

/// The ledger id of the fixture hospital.
pub const LEDGER: &str = "test-hospital";
/// Its checkpoint origin.
pub const ORIGIN: &str = "probity.example/test-hospital";

/// A clock the test sets; `recorded_at` is whatever it says.
pub type TestClock = probity_ledger::ManualClock;

/// A clock showing `at` (an RFC 3339 literal).
pub fn clock_at(at: &str) -> TestClock {
    // Invariant: tests pass valid RFC 3339 literals.
    TestClock::new(RecordedAt::parse(at).expect("valid RFC 3339"))
}

/// The keys of the fixture hospital.
#[derive(Debug, Clone)]
pub struct Hospital {
    /// Administrator.
    pub admin: SecretKey,
    /// The ledger's own key.
    pub ledger_key: SecretKey,
    /// A procurement clerk.
    pub clerk: SecretKey,
    /// A second clerk.
    pub clerk2: SecretKey,
    /// The discipline-inspection office.
    pub discipline: SecretKey,
    /// A key nobody enrolled.
    pub stranger: SecretKey,
}

/// A USCC with a valid check character (Minjiang Medical, a fixture supplier).
pub const SUPPLIER: &str = "91350100M000100Y43";

impl Default for Hospital {
    fn default() -> Self {
        Hospital {
            admin: SecretKey::from_seed(&[1; 32]),
            ledger_key: SecretKey::from_seed(&[2; 32]),
            clerk: SecretKey::from_seed(&[3; 32]),
            clerk2: SecretKey::from_seed(&[6; 32]),
            discipline: SecretKey::from_seed(&[4; 32]),
            stranger: SecretKey::from_seed(&[5; 32]),
        }
    }
}

impl Hospital {
    /// An event body signed by `signer`, with subjects taken from the payload.
    pub fn event(
        &self,
        id: &str,
        event_type: &str,
        signer: &SecretKey,
        occurred_at: &str,
        payload: Value,
    ) -> SignedEvent {
        SignedEvent::sign(
            &self.body(id, event_type, signer, occurred_at, payload),
            signer,
        )
    }

    /// The unsigned body of [`Hospital::event`].
    pub fn body(
        &self,
        id: &str,
        event_type: &str,
        signer: &SecretKey,
        occurred_at: &str,
        payload: Value,
    ) -> EventBody {
        let mut subjects = Subjects::default();
        for (kind, id) in probity_events::catalogue::implied_subjects(&payload) {
            // Invariant: fixture payloads carry valid ids.
            let id = SubjectId::new(id).expect("valid subject id");
            subjects.add(probity_core::subject::Subject::new(kind, id));
        }
        EventBody {
            id: EventId::new(id).expect("valid event id"),
            event_type: EventType::new(event_type).expect("valid event type"),
            schema: 1,
            ledger: LedgerId::new(LEDGER).expect("valid ledger id"),
            subjects,
            occurred_at: OccurredAt::parse(occurred_at).expect("valid occurred_at"),
            signer: signer.public_key(),
            payload: payload.into(),
        }
    }

    /// Record 0.
    pub fn genesis(&self) -> SignedEvent {
        self.event(
            "genesis",
            GENESIS,
            &self.admin,
            "2026-01-01T08:00:00+08:00",
            json!({"origin": ORIGIN, "ledger_key": self.ledger_key.public_key(),
                   "admins": [{"key": self.admin.public_key(), "holder": "Administrator"}]}),
        )
    }

    /// Enrolment of `key` with `role`.
    pub fn enrol(&self, id: &str, key: &SecretKey, role: Role) -> SignedEvent {
        self.event(
            id,
            KEY_ENROLLED,
            &self.admin,
            "2026-01-01T08:05:00+08:00",
            json!({"key": key.public_key(), "role": role, "holder": format!("{role} holder")}),
        )
    }

    /// Revocation of `key`.
    pub fn revoke(&self, id: &str, key: &SecretKey) -> SignedEvent {
        self.event(
            id,
            KEY_REVOKED,
            &self.admin,
            "2026-01-01T08:06:00+08:00",
            json!({"key_id": key.public_key().key_id(), "reason": "left the post"}),
        )
    }

    /// A new ledger in `book` (a sled directory): genesis and [`Hospital::enrolments`],
    /// recorded at the system clock's time.
    pub fn create_ledger(&self, book: &std::path::Path) -> probity_ledger::Ledger {
        self.create_ledger_with(book, probity_ledger::EngineConfig::default())
    }

    /// [`create_ledger`](Self::create_ledger) with other engine settings (e.g. checkpoints
    /// every few records).
    pub fn create_ledger_with(
        &self,
        book: &std::path::Path,
        config: probity_ledger::EngineConfig,
    ) -> probity_ledger::Ledger {
        use probity_ledger::{AppendRequest, Ledger, SystemClock};
        let (ledger, _) = Ledger::create(
            book,
            self.genesis(),
            self.ledger_key.clone(),
            config,
            std::sync::Arc::new(SystemClock),
        )
        .expect("a new ledger");
        for event in self.enrolments() {
            ledger
                .append(AppendRequest::new(event))
                .expect("fixture enrolments are valid");
        }
        ledger
    }

    /// The enrolments of the two clerks and the discipline office, in order.
    pub fn enrolments(&self) -> Vec<SignedEvent> {
        vec![
            self.enrol("enrol-clerk", &self.clerk, Role::Clerk),
            self.enrol("enrol-clerk2", &self.clerk2, Role::Clerk),
            self.enrol("enrol-discipline", &self.discipline, Role::DisciplineOffice),
        ]
    }

    /// A valid purchase request of case `case` by `signer` (a clerk).
    pub fn request(&self, id: &str, case: &str, signer: &SecretKey) -> SignedEvent {
        self.event(
            id,
            "purchase.requested",
            signer,
            "2026-01-02T09:00:00+08:00",
            request_payload(case),
        )
    }

    /// A valid blacklisting of the fixture supplier, signed by `signer`.
    pub fn sanction(&self, id: &str, signer: &SecretKey) -> SignedEvent {
        self.event(
            id,
            "supplier.sanction_imposed",
            signer,
            "2026-01-02T10:00:00+08:00",
            sanction_payload(id),
        )
    }
}

/// A valid `supplier.sanction_imposed` payload: a two-year blacklisting of the fixture
/// supplier, decision `SAN-<id>`.
pub fn sanction_payload(id: &str) -> Value {
    json!({"sanction": format!("SAN-{id}"), "uscc": SUPPLIER, "kind": "blacklist",
           "effective_from": "2026-01-02T00:00:00+08:00", "duration": {"unit": "years", "count": 2},
           "conditions": [], "decision": "DI-1", "reason": "kickbacks"})
}

/// A valid `purchase.requested` payload.
pub fn request_payload(case: &str) -> Value {
    json!({"case": case, "department": "cardiology", "requester": "S-0207", "item": "infusion pump",
           "category": "A0232", "quantity": 6, "estimated": {"fen": 18_000_000, "currency": "CNY"},
           "budget_project": "BP-7", "justification": "replacement of worn units"})
}

/// `sig` with its `S` replaced by `S + L` (the group order): the classic malleated signature,
/// which a non-strict verifier accepts.
pub fn malleate(sig: &Signature) -> Signature {
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut out = sig.0;
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(out[32 + i]) + u16::from(L[i]) + carry;
        out[32 + i] = sum as u8;
        carry = sum >> 8;
    }
    Signature(out)
}

/// xorshift64*: enough randomness for kill timings and byte positions, reproducible from the
/// seed a test prints.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// Seeded from the environment variable `var` when set (to replay a failure), else from
    /// the clock; the seed is printed with how to replay it.
    pub fn seeded(var: &str, what: &str) -> Rng {
        let seed = std::env::var(var)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
                    | 1
            });
        eprintln!("{what} seed: {seed} ({var}={seed} to replay)");
        Rng(seed)
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `lo..hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo)
    }
}
