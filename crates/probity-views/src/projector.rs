//! Verify, then apply, then commit: the projector takes records in ledger order, checks each
//! one (seq, chain link, record hash, signer's key and role, duplicate event id, every ledger
//! checkpoint it has been given when the tree reaches that size, and either the event's strict
//! signature or a ledger-signed checkpoint that covers the record), applies the verified ones
//! to the projection, and writes the changed rows with the new cursor in one durable batch.
//! The first record that fails is reported and stops the projector: views are never built past
//! a record that does not verify.

use std::path::Path;
use std::sync::OnceLock;

use probity_core::checkpoint::{SignedNote, VerifierKey};
use probity_core::envelope::{AuthenticEvent, EventBody};
use probity_core::par::par_map;
use probity_core::record::Record;
use probity_core::roles::RoleMatrix;
use probity_core::subject::Subject;
use probity_core::verify::{event_id_key, ChainVerifier};
use probity_projector::{time, Applied, Projection};

use crate::history::{Times, SNAPSHOT_EVERY};
use crate::partial::Wanted;
use crate::store::{Batch, Cursor, Halt, StoreError, ViewStore};

/// The projection of the views in `store`, `applied` records long, with every row read back
/// but the full timeline chunks.
fn whole_projection(store: &ViewStore, applied: u64) -> Result<Projection, StoreError> {
    let mut projection = Projection::new();
    // Full timeline chunks stay in the store, read back when a timeline is asked for: what
    // is held grows with the cases, not the records (`Projection::let_go_of_full_chunks`).
    projection.read_from(std::sync::Arc::new(store.clone()));
    let restore = |projection: &mut Projection, key: &str, json: &[u8]| {
        projection
            .restore_row(key, json)
            .map_err(|e| StoreError::Corrupt(e.to_string()))
    };
    // Timelines are most of what the views hold: of those, only each case's last chunk
    // is read (the others when a timeline is asked for), so opening costs what the cases
    // are, not what the records are.
    for (key, json) in store.rows_except("timelines")? {
        restore(&mut projection, &key, &json)?;
    }
    for key in projection.last_chunks() {
        if let Some(json) = store.current_row(&key)? {
            restore(&mut projection, &key, &json)?;
        }
    }
    projection.applied = applied;
    Ok(projection)
}

/// The cursor of views that hold no record yet.
fn new_cursor() -> Cursor {
    Cursor {
        applied: 0,
        last_recorded_at: 0,
        verifier: ChainVerifier::new(matrix()).state(),
        halted: None,
        max_times: Times::default(),
        last_snapshot: 0,
    }
}

fn matrix() -> &'static RoleMatrix {
    static MATRIX: OnceLock<RoleMatrix> = OnceLock::new();
    MATRIX.get_or_init(probity_events::role_matrix)
}

/// Why the projector stopped.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// A record failed verification or could not be decoded; nothing from it on is applied.
    #[error("record {} refused: {}", .0.seq, .0.reason)]
    Halted(Halt),
    /// The views could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The records could not be read from their source (book or stream).
    #[error("reading records: {0}")]
    Source(String),
}

/// The projection, its verifier and its store.
#[derive(Debug)]
pub struct Projector {
    store: ViewStore,
    projection: Projection,
    verifier: ChainVerifier<'static>,
    cursor: Cursor,
    snapshot_every: u64,
    /// What the records applied since the last commit add to the store besides their rows.
    staged: Batch,
    /// Records applied when the cursor was last committed.
    committed: u64,
    /// Whether the verifier knows the stored event ids (read on the first record to verify).
    ids_known: bool,
    /// Whether the projection is partial: it holds only the rows read so far, and reads
    /// the others from the store as applying records or answering asks for them
    /// ([`open_partial`](Self::open_partial)).
    partial: bool,
    /// Rows a partial projection read from the store so far.
    rows_read: usize,
}

impl Projector {
    /// Opens the views in `dir`, reading back the rows (of timelines, each case's last chunk),
    /// the cursor and the event ids.
    pub fn open(dir: &Path) -> Result<Projector, StoreError> {
        let store = ViewStore::open(dir)?;
        let cursor = store.cursor()?;
        Projector::over(store, cursor, false)
    }

    /// Opens the views in `dir` without reading their rows: the projection is partial, and
    /// applying a record reads the rows it touches (undoing and applying again until none was
    /// missing — records are applied in order, each exactly once, to the rows
    /// as committed), as answering ([`settle`](Self::settle)) reads the rows an answer needs.
    /// What this costs is what the records and answers touch, not what the views hold: for
    /// catching up views a few records behind before answering.
    pub fn open_partial(dir: &Path) -> Result<Projector, StoreError> {
        let store = ViewStore::open(dir)?;
        let cursor = store.cursor()?;
        Projector::over(store, cursor, true)
    }

    /// The projector of the views in `store`, whose cursor (read already) is `cursor`: partial
    /// ([`open_partial`](Self::open_partial)) or with its rows read back
    /// ([`open`](Self::open)).
    pub(crate) fn over(
        store: ViewStore,
        cursor: Option<Cursor>,
        partial: bool,
    ) -> Result<Projector, StoreError> {
        let cursor = cursor.unwrap_or_else(new_cursor);
        let projection = if partial {
            crate::partial::partial_projection(&store, cursor.applied)?
        } else {
            whole_projection(&store, cursor.applied)?
        };
        // The event ids (a million records' are ~100 ms and ~50 MB) are read only when the
        // verifier reads on: a reader of up-to-date views never needs them.
        let verifier = ChainVerifier::resume(matrix(), cursor.verifier.clone(), []);
        Ok(Projector {
            store,
            projection,
            verifier,
            ids_known: false,
            partial,
            rows_read: 0,
            committed: cursor.applied,
            cursor,
            snapshot_every: SNAPSHOT_EVERY,
            staged: Batch::default(),
        })
    }

    /// Computes `read` from the projection; a partial one first reads from the store the rows
    /// `read` asks for and the tables it lists, computing it again until nothing is missing
    /// (see [`crate::partial`]). Rows staged but not committed are held, so they are read as
    /// staged. `read` is called at least once, and again after each read from the store.
    pub fn settle<T>(&mut self, read: impl Fn(&Projection) -> T) -> Result<T, StoreError> {
        loop {
            let answer = read(&self.projection);
            if !self.partial {
                return Ok(answer);
            }
            let wanted = Wanted::take(&mut self.projection);
            if wanted.is_empty() {
                return Ok(answer);
            }
            self.rows_read += wanted.fill(&self.store, &mut self.projection)?;
        }
    }

    /// Whether the projection is partial ([`open_partial`](Self::open_partial)).
    pub fn is_partial(&self) -> bool {
        self.partial
    }

    /// How many rows a partial projection read from the store so far (a row asked for and
    /// found absent counts too; the timeline chunks a timeline reads on its way do not).
    pub fn rows_read(&self) -> usize {
        self.rows_read
    }

    /// Takes a snapshot for `replay` at the end of the first batch at least `records` after
    /// the last one (default [`SNAPSHOT_EVERY`]).
    pub fn snapshot_every(&mut self, records: u64) {
        self.snapshot_every = records.max(1);
    }

    /// Checks checkpoints against `key` rather than the key genesis names.
    pub fn pin_log_key(&mut self, key: VerifierKey) {
        self.verifier.pin_log_key(key);
    }

    /// A ledger checkpoint of `size` records, checked when the projector reaches that size
    /// (one for a size already passed cannot be checked here and is ignored).
    pub fn add_checkpoint(&mut self, note: SignedNote, size: u64) {
        if size > self.cursor.applied {
            self.verifier.add_checkpoint(note, size);
        }
    }

    /// Forgets a stored halt, durably, so the next [`apply`](Self::apply) verifies the
    /// refused record again (after an operator fixed what made it fail, e.g. a wrongly pinned
    /// key). Nothing past the cursor was applied, so nothing needs undoing. Returns the halt.
    pub fn clear_halt(&mut self) -> Result<Option<Halt>, StoreError> {
        let halt = self.cursor.halted.take();
        if halt.is_some() {
            self.store.commit(Batch::default(), &self.cursor)?;
        }
        Ok(halt)
    }

    /// Records applied so far: the seq of the next record wanted.
    pub fn applied(&self) -> u64 {
        self.cursor.applied
    }

    /// Records applied ([`stage`](Self::stage)d) but not yet committed.
    pub fn staged(&self) -> u64 {
        self.cursor.applied - self.committed
    }

    /// The cursor as stored (or as it will be stored by the next
    /// [`commit`](Self::commit), when records are [`staged`](Self::staged)).
    pub fn cursor(&self) -> &Cursor {
        &self.cursor
    }

    /// The projection as of the last applied record. Of a partial projector, only the rows
    /// read so far: answer through [`settle`](Self::settle), or check
    /// [`Projection::wants`] after reading.
    pub fn projection(&self) -> &Projection {
        &self.projection
    }

    /// The store.
    pub fn store(&self) -> &ViewStore {
        &self.store
    }

    /// Verifies and applies `records` (which must continue from [`applied`](Self::applied)),
    /// then commits them with the cursor, durably, in one batch. When a record fails, the ones
    /// before it are still applied and committed, and the failure is stored and returned.
    pub fn apply(&mut self, records: &[Record]) -> Result<(), ProjectError> {
        self.apply_prepared(records, None)
    }

    /// [`apply`](Self::apply) with the work that needs no state ([`prepare`]) done
    /// beforehand: `prepared` must be `prepare(records)`.
    pub fn apply_prepared(
        &mut self,
        records: &[Record],
        prepared: Option<Prepared>,
    ) -> Result<(), ProjectError> {
        self.stage(records, prepared)?;
        Ok(self.commit()?)
    }

    /// Verifies and applies `records` like [`apply_prepared`](Self::apply_prepared) but
    /// leaves them for the next [`commit`](Self::commit) to write, so that a reader can hand
    /// over records in small pieces (and keep both cores busy) while the views are still
    /// written in large batches. A record that fails is stored at once, with the ones before
    /// it (the staged ones included), and returned.
    pub fn stage(
        &mut self,
        records: &[Record],
        prepared: Option<Prepared>,
    ) -> Result<(), ProjectError> {
        if let Some(halt) = &self.cursor.halted {
            return Err(ProjectError::Halted(halt.clone()));
        }
        if records.is_empty() {
            return Ok(());
        }
        if !self.ids_known {
            self.verifier.know_event_ids(self.store.event_ids()?);
            self.ids_known = true;
        }
        let before = self.verifier.finish_peek().len();
        // The event ids of the records staged before these (the verifier's rewind needs them).
        let staged_ids = self.staged.event_ids.len();
        let (opened, mut decoded) = self.verify(records, prepared);
        let failed = self.verifier.finish_peek()[before..]
            .iter()
            .map(|f| (f.seq(), f.to_string()))
            .min_by_key(|(seq, _)| *seq);
        let (good, mut halt) = match failed {
            None => (records, None),
            Some((seq, reason)) => {
                // The verifier has moved past the bad record: start it again from the last
                // applied one and take only the records before the bad one.
                let good = &records[..records.iter().take_while(|r| r.seq.0 < seq).count()];
                self.rewind_verifier(good, staged_ids)?;
                (good, Some(Halt { seq, reason }))
            }
        };
        // Decoding by the catalogue is independent per record: on all cores, unless prepared.
        decoded.truncate(good.len());
        if decoded.len() < good.len() {
            decoded.extend(par_map(&opened[decoded.len()..good.len()], |body| {
                decode(body.as_ref())
            }));
        }
        let mut events = Vec::with_capacity(good.len());
        for ((record, body), event) in good.iter().zip(opened).zip(decoded) {
            let event = event.and_then(|event| {
                body.map(|body| (body, event))
                    .ok_or_else(|| "the event did not open".to_owned())
            });
            match event {
                Ok((body, event)) => events.push((record, body, event)),
                Err(reason) => {
                    halt = Some(Halt {
                        seq: record.seq.0,
                        reason,
                    });
                    break;
                }
            }
        }
        let applied = events.len();
        if let Err(e) = self.project(&events) {
            // A partial projection could not read a row: none of these records is applied
            // (the trial was rolled back), so the verifier goes back to the last one staged.
            self.rewind_verifier(&[], staged_ids)?;
            return Err(e.into());
        }
        let staged = &mut self.staged;
        for (record, body, _) in &events {
            staged.event_ids.push((event_id_key(&body.id), record.seq));
            let times = Times {
                occurred_at: time::of(body.occurred_at.datetime()),
                recorded_at: time::known(record.recorded_at),
            };
            staged.times.push(times);
            self.cursor.max_times = self.cursor.max_times.max(times);
            for (kind, id) in body.subjects.iter() {
                let subject = Subject::new(kind, id.clone());
                staged.subjects.push((subject.to_string(), record.seq));
            }
        }
        if applied < good.len() {
            // A record verified but did not decode: rewind the verifier to the last applied.
            self.rewind_verifier(&good[..applied], staged_ids)?;
        }
        if let Some(last) = good[..applied].last() {
            self.cursor.applied = last.seq.0 + 1;
            self.cursor.last_recorded_at = last.recorded_at.unix_micros();
        }
        self.cursor.verifier = self.verifier.state();
        let Some(halt) = halt else {
            return Ok(());
        };
        self.cursor.halted = Some(halt.clone());
        self.commit()?;
        tracing::error!(seq = halt.seq, reason = %halt.reason, "record refused; projection stopped");
        Err(ProjectError::Halted(halt))
    }

    /// Applies verified, decoded records to the projection. A partial one applies them as a
    /// trial: if that asked for rows it did not hold (or listed a table), the trial is rolled
    /// back (at the cost of the rows it changed), the rows are read into the projection, and
    /// the records applied again, until one round needed nothing. Each record thus changes the
    /// projection once, from the rows as committed or staged.
    fn project(
        &mut self,
        events: &[(&Record, EventBody, probity_events::Event)],
    ) -> Result<(), StoreError> {
        let apply = |projection: &mut Projection| {
            for (record, body, event) in events {
                projection.apply(Applied {
                    seq: record.seq,
                    recorded_at: record.recorded_at,
                    body,
                    event,
                });
            }
        };
        if !self.partial {
            apply(&mut self.projection);
            return Ok(());
        }
        loop {
            let trial = self.projection.begin_trial();
            apply(&mut self.projection);
            let wanted = Wanted::take(&mut self.projection);
            if wanted.is_empty() {
                self.projection.keep_trial();
                return Ok(());
            }
            self.projection.roll_back(trial);
            self.rows_read += wanted.fill(&self.store, &mut self.projection)?;
        }
    }

    /// Stops the projection at record `seq` for a reason found before the verifier could look
    /// (a stream message that is not a record at all): stored and shown like a refused
    /// record's halt. The records before it must have been applied.
    pub fn halt(&mut self, seq: u64, reason: String) -> ProjectError {
        let halt = Halt { seq, reason };
        self.cursor.halted = Some(halt.clone());
        if let Err(e) = self.commit() {
            return e.into();
        }
        tracing::error!(seq = halt.seq, reason = %halt.reason, "stream message refused; projection stopped");
        ProjectError::Halted(halt)
    }

    /// Writes the rows the staged records changed, their history and the cursor, durably, in
    /// one batch (taking a snapshot if one is due).
    pub fn commit(&mut self) -> Result<(), StoreError> {
        let mut batch = std::mem::take(&mut self.staged);
        if self.cursor.applied >= self.cursor.last_snapshot + self.snapshot_every {
            batch.snapshot = true;
            self.cursor.last_snapshot = self.cursor.applied;
        }
        self.projection
            .drain_changes(|key, json| batch.rows.push((key, json)));
        self.store.commit(batch, &self.cursor)?;
        self.committed = self.cursor.applied;
        self.projection.let_go_of_full_chunks();
        Ok(())
    }

    /// Puts the verifier back to the last record staged before this call
    /// (`self.cursor.verifier`, with the event ids stored and the first `staged_ids` staged)
    /// and runs it over `records`, which follow that record.
    fn rewind_verifier(&mut self, records: &[Record], staged_ids: usize) -> Result<(), StoreError> {
        let mut ids = self.store.event_ids()?;
        ids.extend_from_slice(&self.staged.event_ids[..staged_ids]);
        self.verifier = ChainVerifier::resume(matrix(), self.cursor.verifier.clone(), ids);
        self.ids_known = true;
        for record in records {
            self.verifier.push(record);
        }
        Ok(())
    }

    /// Runs the verifier over `records`: those up to the last pending ledger checkpoint in
    /// the batch through the covered path (chain, Merkle root against the signed checkpoint,
    /// keys and roles; no per-event signature), the rest — and all of them if the covered
    /// checks fail — one signature at a time. Returns each record's event body if it opened.
    ///
    /// Also returns the catalogue's decoding of the first records, as far as `prepared` had
    /// it for records that the covered path verified (the caller decodes the rest).
    fn verify(
        &mut self,
        records: &[Record],
        prepared: Option<Prepared>,
    ) -> (Vec<Option<EventBody>>, Vec<Decoded>) {
        let covered = self
            .verifier
            .covering_checkpoint(records.len() as u64)
            .map_or(0, |size| (size - self.verifier.next_seq()) as usize);
        let (head, tail) = records.split_at(covered);
        let (parsed, mut decoded) = match prepared {
            Some(Prepared {
                mut parsed,
                mut decoded,
            }) if parsed.len() == records.len() => {
                parsed.truncate(covered);
                decoded.truncate(covered);
                (parsed, decoded)
            }
            _ => (probity_core::verify::parse_covered(head), Vec::new()),
        };
        let mut bodies: Vec<Option<EventBody>> =
            match self.verifier.push_covered_parsed(head, parsed) {
                Some(bodies) => bodies.into_iter().map(Some).collect(),
                None => {
                    decoded.clear();
                    self.push_signed(head)
                }
            };
        bodies.extend(self.push_signed(tail));
        (bodies, decoded)
    }

    fn push_signed(&mut self, records: &[Record]) -> Vec<Option<EventBody>> {
        self.verifier
            .push_batch(records)
            .into_iter()
            .map(|event| event.map(AuthenticEvent::into_body))
            .collect()
    }

    /// Lets go of the projection and keeps the store, to read.
    pub fn into_store(self) -> ViewStore {
        self.store
    }

    /// Flushes and closes the views.
    pub fn close(self) {
        self.store.close();
    }
}

/// A record's event decoded by the catalogue, or why not.
type Decoded = Result<probity_events::Event, String>;

/// The part of applying a batch that needs no state: each record's recomputed hash and event
/// body, and the body decoded by the catalogue. [`prepare`] it for the next batch on other
/// cores while [`Projector::apply_prepared`] applies this one.
#[derive(Debug)]
pub struct Prepared {
    parsed: Vec<Option<(probity_core::hash::Hash, EventBody)>>,
    decoded: Vec<Decoded>,
}

/// The stateless work of a batch (see [`Prepared`]).
pub fn prepare(records: &[Record]) -> Prepared {
    let parsed = probity_core::verify::parse_covered(records);
    let decoded = par_map(&parsed, |parsed| {
        decode(parsed.as_ref().map(|(_, body)| body))
    });
    Prepared { parsed, decoded }
}

/// The event of a verified record, decoded by the catalogue.
fn decode(opened: Option<&EventBody>) -> Decoded {
    // Invariant: a record that passed verification opened.
    let body = opened.ok_or_else(|| "the event did not open".to_owned())?;
    probity_events::validate_body(body)
        .map_err(|e| format!("the event is not in the catalogue: {e}"))
}
