//! ledgerd as a process against a real nats-server: concurrent appends form one order and the
//! stream equals the book; every bad input gets its specific error and changes nothing (alone
//! or in a batch); queries serve checkpoints and proofs; SIGTERM shuts down cleanly.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use futures_util::StreamExt as _;
use probity_core::merkle::{verify_consistency, verify_inclusion};
use probity_core::prelude::*;
use probity_ledger::wire::{
    self, CheckpointReply, ConsistencyProof, CosignReply, InclusionProof, Reply,
};
use probity_testkit::nats::NatsServer;
use probity_testkit::{malleate, request_payload, LEDGER};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_clients_get_one_order_and_the_stream_equals_the_book() {
    let nats = NatsServer::start();
    let data = DataDir::init();
    let mut ledgerd = spawn_ledgerd(data.path(), &nats.url(), &["--checkpoint-every", "100"]);
    let client = connect(&nats.url()).await;
    let before = wait_ready(&client, &ledgerd).await.size;

    let clients = 16;
    let each = 40;
    let mut tasks = Vec::new();
    for c in 0..clients {
        let client = connect(&nats.url()).await;
        let h = data.hospital.clone();
        tasks.push(tokio::spawn(async move {
            let mut receipts = Vec::new();
            for i in 0..each {
                let signer = if c % 2 == 0 { &h.clerk } else { &h.clerk2 };
                let event = h.request(&format!("c{c}-{i}"), &format!("CASE-{c}-{i}"), signer);
                match append(&client, event).await.unwrap() {
                    Reply::Ok(receipt) => receipts.push(receipt),
                    Reply::Error(e) => panic!("append refused: {e:?}"),
                }
            }
            receipts
        }));
    }
    let mut seqs = Vec::new();
    for task in tasks {
        for receipt in task.await.unwrap() {
            receipt
                .verify(&data.hospital.ledger_key.public_key())
                .unwrap();
            seqs.push(receipt.seq.0);
        }
    }
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (before..before + clients * each).collect::<Vec<_>>(),
        "no gaps, no duplicates"
    );

    assert_eq!(
        ledgerd.terminate(),
        Some(0),
        "clean exit on SIGTERM; log:\n{}",
        ledgerd.log_text()
    );
    let ledger = data.open();
    assert_eq!(ledger.size(), before + clients * each);
    assert_stream_equals_book(&client, &ledger).await;
    let report = verify_book(&ledger);
    assert!(report.is_intact(), "{:#?}", report.findings);
}

/// Sends each payload to `subject`: each must be refused with its code, leaving the ledger's
/// status as `before`.
async fn assert_each_refused<T: serde::de::DeserializeOwned + std::fmt::Debug>(
    client: &async_nats::Client,
    subject: String,
    cases: Vec<(&str, Vec<u8>)>,
    before: &probity_ledger::Status,
) {
    for (code, payload) in cases {
        match request_raw::<T>(client, subject.clone(), payload)
            .await
            .unwrap()
        {
            Reply::Error(e) => assert_eq!(e.code, code, "{e:?}"),
            Reply::Ok(r) => panic!("{code}: accepted as {r:?}"),
        }
        assert_eq!(
            &status(client).await.unwrap(),
            before,
            "{code} changed the ledger"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_its_specific_error_and_changes_nothing() {
    let nats = NatsServer::start();
    let data = DataDir::init();
    let ledgerd = spawn_ledgerd(data.path(), &nats.url(), &[]);
    let client = connect(&nats.url()).await;
    wait_ready(&client, &ledgerd).await;
    let h = &data.hospital;
    match append(&client, h.request("first", "CASE-1", &h.clerk))
        .await
        .unwrap()
    {
        Reply::Ok(_) => {}
        Reply::Error(e) => panic!("{e:?}"),
    }
    match append(&client, h.revoke("revoke-clerk2", &h.clerk2))
        .await
        .unwrap()
    {
        Reply::Ok(_) => {}
        Reply::Error(e) => panic!("{e:?}"),
    }
    let before = status(&client).await.unwrap();

    let good = h.request("good", "CASE-2", &h.clerk);
    let mut tampered = good.body_bytes().to_vec();
    let at = tampered.iter().position(|&b| b == b'6').unwrap();
    tampered[at] = b'7';
    let body = |id: &str, case: &str| {
        h.body(
            id,
            "purchase.requested",
            &h.clerk,
            "2026-01-02T09:00:00+08:00",
            request_payload(case),
        )
    };
    let mut schema_violation = body("sv", "CASE-3");
    schema_violation.payload = json!({"case": "CASE-3", "quantity": "six"}).into();
    let mut unknown_type = body("ut", "CASE-4");
    unknown_type.event_type = EventType::new("purchase.bribe_paid").unwrap();
    let mut future = body("future", "CASE-5");
    future.occurred_at = OccurredAt::parse("2099-01-01T00:00:00Z").unwrap();
    let sign = |b: EventBody| SignedEvent::sign(&b, &h.clerk);
    let append_bytes = |event: &SignedEvent| serde_json::to_vec(&json!({"event": event})).unwrap();

    let mut oversized = append_bytes(&good);
    oversized.extend(std::iter::repeat_n(b' ', wire::MAX_REQUEST_BYTES));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("malformed-json", b"{\"event\": ".to_vec()),
        (
            "malformed-request",
            br#"{"event": {"payloadType": 7}}"#.to_vec(),
        ),
        ("malformed-request", br#"{"evnt": {}}"#.to_vec()),
        ("too-large", oversized),
        (
            "bad-signature",
            append_bytes(&SignedEvent::from_parts(
                tampered,
                good.keyid(),
                *good.signature(),
            )),
        ),
        (
            "bad-signature",
            append_bytes(&SignedEvent::from_parts(
                good.body_bytes().to_vec(),
                good.keyid(),
                malleate(good.signature()),
            )),
        ),
        (
            "unknown-key",
            append_bytes(&h.request("by-stranger", "CASE-6", &h.stranger)),
        ),
        (
            "revoked-key",
            append_bytes(&h.request("by-revoked", "CASE-6", &h.clerk2)),
        ),
        (
            "wrong-role",
            append_bytes(&h.sanction("clerk-sanction", &h.clerk)),
        ),
        (
            "id-conflict",
            append_bytes(&h.request("first", "CASE-OTHER", &h.clerk)),
        ),
        ("schema-violation", append_bytes(&sign(schema_violation))),
        ("unknown-event-type", append_bytes(&sign(unknown_type))),
        ("clock-skew", append_bytes(&sign(future))),
    ];
    // One accepted form: each object written as an array, a repeated key, another text of
    // `occurred_at`, a governance event at an unknown schema — each refused, nothing recorded.
    let envelope = serde_json::to_value(&good).unwrap();
    let as_array = |v: &serde_json::Value| -> serde_json::Value {
        serde_json::Value::Array(v.as_object().unwrap().values().cloned().collect())
    };
    let mut envelope_with_array_signature = envelope.clone();
    envelope_with_array_signature["signatures"][0] = as_array(&envelope["signatures"][0]);
    let signed_text =
        |text: String| append_bytes(&SignedEvent::sign_bytes(text.into_bytes(), &h.clerk));
    let good_body: serde_json::Value = serde_json::from_slice(good.body_bytes()).unwrap();
    let mut subjects_as_array = good_body.clone();
    subjects_as_array["subjects"] = json!([["CASE-2"]]);
    let mut money_as_array = good_body.clone();
    money_as_array["payload"]["estimated"] = json!([18_000_000, "CNY"]);
    let mut spaced_time = good_body.clone();
    spaced_time["occurred_at"] = "2026-01-02 09:00:00+08:00".into();
    let mut enrol_v2: serde_json::Value =
        serde_json::from_slice(h.enrol("enrol-v2", &h.stranger, Role::Clerk).body_bytes()).unwrap();
    enrol_v2["schema"] = 2.into();
    let enrol_v2 = SignedEvent::sign_bytes(serde_json::to_vec(&enrol_v2).unwrap(), &h.admin);
    let one_form: Vec<(&str, Vec<u8>)> = vec![
        (
            "malformed-request",
            serde_json::to_vec(&json!([envelope, {}])).unwrap(),
        ),
        (
            "malformed-request",
            serde_json::to_vec(&json!({ "event": as_array(&envelope) })).unwrap(),
        ),
        (
            "malformed-request",
            serde_json::to_vec(&json!({ "event": envelope_with_array_signature })).unwrap(),
        ),
        (
            "malformed-request",
            format!(r#"{{"event":{envelope},"expect":{{"case:CASE-2":0,"case:CASE-2":1}}}}"#)
                .into_bytes(),
        ),
        (
            "malformed-body",
            signed_text(as_array(&good_body).to_string()),
        ),
        ("malformed-body", signed_text(subjects_as_array.to_string())),
        ("schema-violation", signed_text(money_as_array.to_string())),
        ("malformed-body", signed_text(spaced_time.to_string())),
        ("unsupported-schema", append_bytes(&enrol_v2)),
    ];
    let cases = cases.into_iter().chain(one_form).collect();
    assert_each_refused::<Receipt>(&client, wire::append_subject(LEDGER), cases, &before).await;
    // A retry of the first event is not an error: it gets the original receipt back.
    match append(&client, h.request("first", "CASE-1", &h.clerk))
        .await
        .unwrap()
    {
        Reply::Ok(receipt) => assert!(receipt.duplicate),
        Reply::Error(e) => panic!("{e:?}"),
    }
    assert_eq!(status(&client).await.unwrap(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_appends_each_event_on_its_own_in_order() {
    let nats = NatsServer::start();
    let data = DataDir::init();
    let mut ledgerd = spawn_ledgerd(data.path(), &nats.url(), &[]);
    let client = connect(&nats.url()).await;
    let before = wait_ready(&client, &ledgerd).await;
    let h = &data.hospital;
    let good = h.request("b-1", "CASE-B1", &h.clerk);
    let mut huge = request_payload("CASE-B9");
    huge["justification"] = json!("x".repeat(wire::MAX_REQUEST_BYTES / 2));
    let events = vec![
        good.clone(),
        SignedEvent::from_parts(
            good.body_bytes().to_vec(),
            good.keyid(),
            malleate(good.signature()),
        ),
        h.request("b-stranger", "CASE-B2", &h.stranger),
        h.request("b-2", "CASE-B2", &h.clerk2),
        h.request("b-1", "CASE-OTHER", &h.clerk),
        good.clone(),
        h.sanction("b-clerk-sanction", &h.clerk),
        h.request("b-3", "CASE-B3", &h.clerk),
    ];
    let replies = match append_batch(&client, events).await.unwrap() {
        Reply::Ok(replies) => replies,
        Reply::Error(e) => panic!("the batch was refused whole: {e:?}"),
    };
    let outcome: Vec<String> = replies
        .iter()
        .map(|reply| match reply {
            Reply::Ok(receipt) if receipt.duplicate => format!("duplicate of {}", receipt.seq.0),
            Reply::Ok(receipt) => format!("seq {}", receipt.seq.0),
            Reply::Error(e) => e.code.to_string(),
        })
        .collect();
    let first = before.size;
    assert_eq!(
        outcome,
        [
            format!("seq {first}"),
            "bad-signature".into(),
            "unknown-key".into(),
            format!("seq {}", first + 1),
            "id-conflict".into(),
            format!("duplicate of {first}"),
            "wrong-role".into(),
            format!("seq {}", first + 2),
        ]
    );
    for reply in &replies {
        if let Reply::Ok(receipt) = reply {
            receipt.verify(&h.ledger_key.public_key()).unwrap();
        }
    }
    assert_eq!(status(&client).await.unwrap().size, first + 3);

    // Refused whole, changing nothing: not JSON, not a batch, an event that is not one (here
    // too large to be one), too many events, too many bytes.
    let after = status(&client).await.unwrap();
    let too_many = wire::AppendBatchMessage {
        events: (0..=wire::MAX_BATCH_EVENTS)
            .map(|i| wire::AppendMessage {
                event: h.request(&format!("many-{i}"), "CASE-M", &h.clerk),
                expect: Default::default(),
            })
            .collect(),
    };
    let huge_event = wire::AppendBatchMessage {
        events: vec![wire::AppendMessage {
            event: h.event(
                "b-huge",
                "purchase.requested",
                &h.clerk,
                "2026-01-02T09:00:00+08:00",
                huge,
            ),
            expect: Default::default(),
        }],
    };
    let mut too_large = br#"{"events": []}"#.to_vec();
    too_large.extend(std::iter::repeat_n(b' ', wire::MAX_BATCH_BYTES));
    let cases = vec![
        ("malformed-json", br#"{"events": ["#.to_vec()),
        ("malformed-request", br#"{"event": {}}"#.to_vec()),
        (
            "malformed-request",
            serde_json::to_vec(&huge_event).unwrap(),
        ),
        ("too-many", serde_json::to_vec(&too_many).unwrap()),
        ("too-large", too_large),
    ];
    assert_each_refused::<Vec<Reply<Receipt>>>(
        &client,
        wire::append_batch_subject(LEDGER),
        cases,
        &after,
    )
    .await;

    assert_eq!(ledgerd.terminate(), Some(0), "{}", ledgerd.log_text());
    let ledger = data.open();
    assert_stream_equals_book(&client, &ledger).await;
    assert!(verify_book(&ledger).is_intact());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_and_proofs_are_served() {
    let nats = NatsServer::start();
    let data = DataDir::init();
    let ledgerd = spawn_ledgerd(data.path(), &nats.url(), &["--checkpoint-every", "8"]);
    let client = connect(&nats.url()).await;
    wait_ready(&client, &ledgerd).await;
    let h = &data.hospital;
    let mut receipts = Vec::new();
    for i in 0..20 {
        match append(
            &client,
            h.request(&format!("q{i}"), &format!("CASE-{i}"), &h.clerk),
        )
        .await
        .unwrap()
        {
            Reply::Ok(r) => receipts.push(r),
            Reply::Error(e) => panic!("{e:?}"),
        }
    }
    let checkpoint: Reply<CheckpointReply> =
        request_raw(&client, wire::checkpoint_subject(LEDGER), b"{}".to_vec())
            .await
            .unwrap();
    let Reply::Ok(checkpoint) = checkpoint else {
        panic!("{checkpoint:?}")
    };
    let vkey = VerifierKey::ed25519(probity_testkit::ORIGIN, h.ledger_key.public_key());
    let verified = WitnessPolicy::log_only(vkey)
        .verify(&SignedNote::parse(checkpoint.note.as_bytes()).unwrap())
        .unwrap();
    assert_eq!(verified.checkpoint.size, checkpoint.size);

    let receipt = &receipts[3];
    let proof: Reply<InclusionProof> = request_raw(
        &client,
        wire::inclusion_subject(LEDGER),
        serde_json::to_vec(&json!({"seq": receipt.seq})).unwrap(),
    )
    .await
    .unwrap();
    let Reply::Ok(proof) = proof else {
        panic!("{proof:?}")
    };
    assert_eq!(proof.leaf_hash, receipt.hash);
    verify_inclusion(
        &receipt.hash,
        receipt.seq.0,
        proof.tree_size,
        &proof.proof,
        &verified.checkpoint.root,
    )
    .unwrap();

    let consistency: Reply<ConsistencyProof> = request_raw(
        &client,
        wire::consistency_subject(LEDGER),
        serde_json::to_vec(&json!({"size1": 5})).unwrap(),
    )
    .await
    .unwrap();
    let Reply::Ok(c) = consistency else {
        panic!("{consistency:?}")
    };
    verify_consistency(c.size1, c.size2, &c.proof, &c.root1, &c.root2).unwrap();
    assert_eq!(c.root2, verified.checkpoint.root);

    let beyond: Reply<InclusionProof> = request_raw(
        &client,
        wire::inclusion_subject(LEDGER),
        serde_json::to_vec(&json!({"seq": 1, "size": 10_000})).unwrap(),
    )
    .await
    .unwrap();
    assert!(
        matches!(beyond, Reply::Error(ref e) if e.code == "bad-proof-request"),
        "{beyond:?}"
    );

    // A subject's version: how many records named it, what `expect` compares.
    let version = |subject: &str| {
        let payload = serde_json::to_vec(&json!({ "subject": subject })).unwrap();
        let client = client.clone();
        async move {
            request_raw::<wire::VersionReply>(&client, wire::version_subject(LEDGER), payload)
                .await
                .unwrap()
        }
    };
    let Reply::Ok(case_3) = version("case:CASE-3").await else {
        panic!("no version")
    };
    assert_eq!(
        (case_3.version, case_3.subject.as_str()),
        (1, "case:CASE-3")
    );
    let Reply::Ok(nobody) = version("case:CASE-NEVER").await else {
        panic!("no version")
    };
    assert_eq!(nobody.version, 0);
    let before = status(&client).await.unwrap();
    assert_eq!(nobody.size, before.size);
    assert_each_refused::<wire::VersionReply>(
        &client,
        wire::version_subject(LEDGER),
        vec![
            ("malformed-request", br#"{"subject": "CASE-3"}"#.to_vec()),
            ("malformed-request", br#"{"subject": "ward:5"}"#.to_vec()),
            (
                "malformed-request",
                br#"{"subject": "case:CASE-3", "x": 1}"#.to_vec(),
            ),
            (
                "malformed-request",
                br#"{"subject": ["case:CASE-3"]}"#.to_vec(),
            ),
            ("malformed-json", b"{".to_vec()),
        ],
        &before,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn witness_cosignatures_are_attached_to_checkpoints() {
    let nats = NatsServer::start();
    let data = DataDir::init();
    let witness = Cosigner::new("audit.example/w1", SecretKey::from_seed(&[41; 32]));
    let stranger = Cosigner::new("audit.example/w2", SecretKey::from_seed(&[42; 32]));
    let witness_vkey = witness.verifier_key().to_string();
    let ledgerd = spawn_ledgerd(
        data.path(),
        &nats.url(),
        &["--checkpoint-every", "4", "--witness", &witness_vkey],
    );
    let client = connect(&nats.url()).await;
    wait_ready(&client, &ledgerd).await;
    let h = &data.hospital;
    for i in 0..6 {
        let reply = append(
            &client,
            h.request(&format!("w{i}"), &format!("CASE-{i}"), &h.clerk),
        )
        .await
        .unwrap();
        assert!(matches!(reply, Reply::Ok(_)), "{reply:?}");
    }
    let Reply::Ok(checkpoint) =
        request_raw::<CheckpointReply>(&client, wire::checkpoint_subject(LEDGER), b"{}".to_vec())
            .await
            .unwrap()
    else {
        panic!("no checkpoint")
    };
    let mut note = SignedNote::parse(checkpoint.note.as_bytes()).unwrap();
    note.add_signature(witness.cosign(&note, 1_790_000_000).unwrap());
    note.add_signature(stranger.cosign(&note, 1_790_000_000).unwrap());
    let cosign = |note: &SignedNote| {
        let body = serde_json::to_vec(&json!({"note": String::from_utf8_lossy(&note.to_bytes())}))
            .unwrap();
        request_raw::<CosignReply>(&client, wire::cosign_subject(LEDGER), body)
    };

    // The configured witness's cosignature is kept, the stranger's ignored.
    let Reply::Ok(reply) = cosign(&note).await.unwrap() else {
        panic!("cosign refused")
    };
    assert_eq!(reply.size, checkpoint.size);
    assert_eq!(reply.attached, ["audit.example/w1"]);
    // Sent again: nothing new.
    let Reply::Ok(again) = cosign(&note).await.unwrap() else {
        panic!("cosign refused")
    };
    assert!(again.attached.is_empty());

    // The stored checkpoint now meets a one-witness policy.
    let Reply::Ok(stored) = request_raw::<CheckpointReply>(
        &client,
        wire::checkpoint_subject(LEDGER),
        serde_json::to_vec(&json!({"size": checkpoint.size})).unwrap(),
    )
    .await
    .unwrap() else {
        panic!("no checkpoint")
    };
    let policy = WitnessPolicy {
        log: VerifierKey::ed25519(probity_testkit::ORIGIN, h.ledger_key.public_key()),
        witnesses: vec![witness.verifier_key()],
        quorum: 1,
    };
    let verified = policy
        .verify(&SignedNote::parse(stored.note.as_bytes()).unwrap())
        .unwrap();
    assert_eq!(
        verified.witnesses,
        [("audit.example/w1".to_owned(), 1_790_000_000)]
    );
    assert!(!stored.note.contains("audit.example/w2"));

    // A note whose text is not the ledger's checkpoint is refused.
    let mut forged = note.clone();
    forged.text = forged.text.replacen(&checkpoint.size.to_string(), "1", 1);
    match cosign(&forged).await.unwrap() {
        Reply::Error(e) => assert!(
            ["other-checkpoint", "no-checkpoint"].contains(&e.code.as_str()),
            "{e:?}"
        ),
        Reply::Ok(r) => panic!("forged note accepted: {r:?}"),
    }
    match cosign(&SignedNote {
        text: "not a checkpoint\n".into(),
        signatures: vec![],
    })
    .await
    .unwrap()
    {
        Reply::Error(e) => assert_eq!(e.code, "malformed-request", "{e:?}"),
        Reply::Ok(r) => panic!("junk accepted: {r:?}"),
    }
}

#[test]
fn sigterm_while_waiting_for_nats_closes_the_book_cleanly() {
    let data = DataDir::init();
    // Nothing listens on port 1: ledgerd keeps trying to connect until it is stopped.
    let mut ledgerd = spawn_ledgerd(data.path(), "nats://127.0.0.1:1", &[]);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !ledgerd.log_text().contains("book opened") {
        assert!(
            std::time::Instant::now() < deadline,
            "ledgerd never opened the book:\n{}",
            ledgerd.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        ledgerd.terminate(),
        Some(0),
        "killed, not stopped:\n{}",
        ledgerd.log_text()
    );
    assert!(ledgerd.log_text().contains("stopped during startup"));
    // The book was let go and is intact.
    assert!(verify_book(&data.open()).is_intact());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_get_pull_consumers_and_a_flood_of_read_requests_is_bounded() {
    let nats = NatsServer::start();
    let data = DataDir::init();
    let ledgerd = spawn_ledgerd(data.path(), &nats.url(), &[]);
    let client = connect(&nats.url()).await;
    wait_ready(&client, &ledgerd).await;
    let read = |from: u64| {
        request_raw::<wire::ReadReply>(
            &client,
            wire::read_subject(LEDGER),
            serde_json::to_vec(&wire::ReadRequest { from }).unwrap(),
        )
    };
    // A consumer from record 2 delivers records 2 and 3 of the 4 the fixture holds, in order.
    let Reply::Ok(made) = read(2).await.unwrap() else {
        panic!("no consumer")
    };
    assert!(made.consumer.starts_with("reader-") && made.consumer.len() == 7 + 64);
    let js = async_nats::jetstream::new(client.clone());
    let stream = js.get_stream(&made.stream).await.unwrap();
    let consumer: async_nats::jetstream::consumer::PullConsumer =
        stream.get_consumer(&made.consumer).await.unwrap();
    let info = consumer.cached_info();
    assert_eq!(
        info.config.ack_policy,
        async_nats::jetstream::consumer::AckPolicy::None
    );
    assert!(info.config.deliver_subject.is_none(), "a pull consumer");
    let mut messages = consumer.messages().await.unwrap();
    for seq in [2, 3] {
        let message = tokio::time::timeout(Duration::from_secs(5), messages.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let record = Record::from_json(&message.payload).unwrap();
        assert_eq!(record.seq.0, seq);
    }
    // Bad requests get their code and make nothing.
    let malformed =
        request_raw::<wire::ReadReply>(&client, wire::read_subject(LEDGER), b"[0]".to_vec())
            .await
            .unwrap();
    assert!(matches!(malformed, Reply::Error(e) if e.code == "malformed-request"));
    assert!(matches!(
        read(u64::MAX).await.unwrap(),
        Reply::Error(e) if e.code == "bad-request"
    ));
    // Each consumer lives 30 s unused: at most 64 read requests are taken in that time (the
    // three above among them), then `busy`.
    let mut busy = 0;
    for _ in 0..70 {
        match read(0).await.unwrap() {
            Reply::Ok(_) => {}
            Reply::Error(e) if e.code == "busy" => busy += 1,
            Reply::Error(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(busy, 9, "64 per window, three taken above");
}

/// `--metrics-listen`: appends and refusals by code are counted as answered (singles and
/// batches), the book's size read at the scrape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_appends_and_refusals_by_code() {
    let nats = NatsServer::start();
    let data = DataDir::init();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let address = format!("127.0.0.1:{port}");
    let mut ledgerd = spawn_ledgerd(data.path(), &nats.url(), &["--metrics-listen", &address]);
    let client = connect(&nats.url()).await;
    wait_ready(&client, &ledgerd).await;
    let h = &data.hospital;
    let good = h.request("m-1", "CASE-M1", &h.clerk);
    assert!(matches!(
        append(&client, good.clone()).await.unwrap(),
        Reply::Ok(_)
    ));
    let forged = SignedEvent::from_parts(
        good.body_bytes().to_vec(),
        good.keyid(),
        malleate(good.signature()),
    );
    assert!(matches!(
        append(&client, forged).await.unwrap(),
        Reply::Error(_)
    ));
    let batch = vec![
        h.request("m-2", "CASE-M2", &h.clerk),
        h.request("m-stranger", "CASE-M3", &h.stranger),
    ];
    assert!(matches!(
        append_batch(&client, batch).await.unwrap(),
        Reply::Ok(_)
    ));
    let size = status(&client).await.unwrap().size;

    let scrape = tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut response = agent
            .get(format!("http://{address}/metrics"))
            .call()
            .unwrap();
        assert_eq!(response.status(), 200);
        response.body_mut().read_to_string().unwrap()
    })
    .await
    .unwrap();
    assert!(scrape.contains("probity_appends_total 2"), "{scrape}");
    assert!(
        scrape.contains("probity_append_refusals_total{code=\"bad-signature\"} 1"),
        "{scrape}"
    );
    assert!(
        scrape.contains("probity_append_refusals_total{code=\"unknown-key\"} 1"),
        "{scrape}"
    );
    assert!(
        scrape.contains(&format!("probity_ledger_records {size}")),
        "{scrape}"
    );
    assert_eq!(ledgerd.terminate(), Some(0));
}
