//! `probity serve`'s API as a client sees it, on the real binary over a real socket: every
//! endpoint answers on the demo's data; bad input gets its documented code and status and
//! changes nothing; and the roles of a tokens file reach exactly what `schemas/HTTP.md` says.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod serving;

use serde_json::{json, Value};
use serving::{check_in, conforms, demo, probity, signed, token, Server};

#[test]
fn every_read_answers_on_the_demo_and_matches_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo(dir.path());
    let server = Server::start(&data, None);

    assert_eq!(server.get("/healthz", None).status, 200);
    let ready = server.get("/readyz", None);
    assert_eq!(ready.status, 200, "{}", ready.text());
    let size = server.size();
    assert!(size > 100, "{size}");

    // Each answer as its published schema (schemas/http/) says; `-` has none of its own (a
    // record is FORMAT.md's, a payload schema is the catalogue's).
    for (path, schema) in [
        ("/api/status", "status"),
        ("/api/checkpoint", "checkpoint"),
        ("/api/proof/inclusion?seq=3", "proof-inclusion"),
        ("/api/proof/consistency?size1=10", "proof-consistency"),
        ("/api/version?subject=case:CASE-1", "version"),
        ("/api/records/3", "-"),
        ("/api/keys", "keys"),
        ("/api/policy", "policy"),
        ("/api/blacklist", "blacklist"),
        (
            "/api/blacklist?at=2026-03-25T00:00:00%2B08:00&known_at=2026-03-25T00:00:00%2B08:00",
            "blacklist",
        ),
        ("/api/findings", "findings"),
        ("/api/findings?rule=split-purchase", "findings"),
        ("/api/suppliers/91330100MA2H0007XM", "supplier"),
        ("/api/suppliers/91330100MA2H0001XF", "supplier"),
        ("/api/reps/REP-R7", "rep"),
        ("/api/reps/REP-R1", "rep"),
        ("/api/cases/CASE-1", "case"),
        ("/api/cases/CASE-2", "case"),
        ("/api/cases", "cases"),
        ("/api/staff/S-LI", "staff"),
        // The older shapes, asked for (QUERIES.md, "Version 2 answers").
        ("/api/policy?version=2", "v2/policy"),
        ("/api/blacklist?version=2", "v2/blacklist"),
        ("/api/findings?version=2", "v2/findings"),
        ("/api/suppliers/91330100MA2H0007XM?version=2", "v2/supplier"),
        ("/api/reps/REP-R7?version=2", "v2/rep"),
        ("/api/cases/CASE-1?version=2", "v2/case"),
        ("/api/cases?version=2", "v2/cases"),
        ("/api/staff/S-LI?version=2", "v2/staff"),
        ("/api/cases/CASE-1?version=3", "case"),
        ("/api/event-types", "event-types"),
        ("/api/event-types/purchase.requested", "-"),
    ] {
        let answer = server.get(path, None);
        assert_eq!(answer.status, 200, "{path}: {}", answer.text());
        assert!(
            answer.json().get("ok").is_some(),
            "{path}: {}",
            answer.text()
        );
        if schema != "-" {
            conforms(schema, &answer.json());
        }
    }
    conforms("readyz", &server.get("/readyz", None).json());
    // Version 3 times are RFC 3339 at the hospital's offset; the older shape has µs.
    let supplier = server.get("/api/suppliers/91330100MA2H0007XM", None).json();
    let old = server
        .get("/api/suppliers/91330100MA2H0007XM?version=2", None)
        .json();
    let at = supplier["ok"]["admitted"]["at"].as_str().unwrap();
    assert!(at.ends_with("+08:00"), "{supplier}");
    assert_eq!(
        probity_core::time::OccurredAt::parse(at)
            .unwrap()
            .unix_micros(),
        old["ok"]["supplier"]["admitted"][0].as_i64().unwrap(),
        "{old}"
    );
    // A version that is not one, or one given for CSV, is refused.
    for path in [
        "/api/policy?version=4",
        "/api/cases?version=x",
        "/api/blacklist?version=2&format=csv",
    ] {
        let refused = server.get(path, None);
        assert_eq!(refused.status, 400, "{path}: {}", refused.text());
        assert_eq!(
            refused.json()["error"]["code"],
            "malformed-request",
            "{path}"
        );
    }
    // The check can fail: a status whose size is text is not one.
    let wrong = json!({"ok": {"ledger": "x", "origin": "x", "size": "many", "root": "00", "checkpoint_size": null, "last_recorded_at": null, "active_keys": 1}});
    assert!(std::panic::catch_unwind(|| conforms("status", &wrong)).is_err());
    // Errors are answers too.
    conforms(
        "status",
        &server.get("/api/suppliers/91330100MA2H9999XX", None).json(),
    );

    // Every console page renders, in Chinese by default.
    for path in [
        "/",
        "/findings",
        "/records/3",
        "/suppliers/91330100MA2H0007XM",
        "/cases/CASE-2",
        "/reps/REP-R7",
        "/staff/S-LI",
        "/visits",
        "/cases",
        "/replay",
        "/replay?at=2026-03-20T00:00:00",
        "/replay?sense=true&from=2026-03-01T00:00:00&to=2026-04-01T00:00:00",
        "/ledger",
        "/record",
        "/login",
        "/search?q=CASE-2",
        "/search?q=Imaging",
    ] {
        let page = server.get(path, None);
        assert_eq!(page.status, 200, "{path}: {}", page.text());
        assert!(page.content_type.starts_with("text/html"), "{path}");
        assert!(page.text().contains("<html lang=\"zh-CN\">"), "{path}");
    }
    assert_eq!(server.get("/search?q=nothing-like-this", None).status, 404);
    // The supplier's sanctions with their derived ends, in the hospital's zone: on 25 March the
    // blacklisting of 23 March 09:00, for a year, was in force.
    let supplier = server
        .get("/suppliers/91330100MA2H0007XM?at=2026-03-25T00:00:00", None)
        .text();
    let sanctions = &supplier[supplier.find("id=\"sanctions\"").unwrap()..];
    assert!(
        sanctions.contains(
            "<td>列入黑名单</td><td></td><td>2026-03-23 09:00:00</td><td>2027-03-23 09:00:00</td>"
        ),
        "{sanctions}"
    );
    assert!(supplier.contains("不得采购"), "{supplier}");
    // A staff page: the reps they met and their roles in cases.
    let staff = server.get("/staff/S-LI", None).text();
    let meetings = &staff[staff.find("id=\"meetings\"").unwrap()..];
    assert!(meetings.contains("href=\"/reps/REP-R1\""), "{meetings}");
    assert!(staff.contains("id=\"roles\""), "{staff}");
    // A case page names the next expected step, linked to the form that records it.
    let case = server.get("/cases/CASE-1", None).text();
    let next = &case[case.find("id=\"next-step\"").unwrap()..];
    assert!(
        next.contains("下一步") && next.contains("purchase."),
        "{next}"
    );

    // The same answers as the CLI's --json, which reads the same views.
    let findings = server.get("/api/findings", None).json()["ok"].clone();
    let keys = server.get("/api/keys", None).json()["ok"].clone();
    assert!(keys
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["role"] == "clerk"));
    let inclusion = server.get("/api/proof/inclusion?seq=3", None).json()["ok"].clone();
    let proof_bundle = server.get("/api/records/3/proof-bundle", None);
    assert_eq!(proof_bundle.status, 200);
    // The record's JSON as the export holds it (what travels beside a bundle too large to
    // carry it), under the name verify-proof looks for.
    let record_file = server.get("/api/records/3/record.json", None);
    assert_eq!(record_file.status, 200);
    let record: Value = serde_json::from_slice(&record_file.body).unwrap();
    assert_eq!(record["seq"], 3);
    let bundle_path = dir.path().join("record-3.tlog-proof");
    std::fs::write(&bundle_path, &proof_bundle.body).unwrap();
    let export = server.get("/api/export", None);
    assert_eq!(export.status, 200);
    let export_path = dir.path().join("export.jsonl");
    std::fs::write(&export_path, &export.body).unwrap();
    // The sunshine publication, and the extension it names, served where it says.
    let ocds = server.get("/api/ocds", None).json()["ok"].clone();
    let base = server.base.clone();
    let extension_url = ocds["extensions"][1].as_str().unwrap().to_owned();
    assert_eq!(
        extension_url,
        format!("{}/ocds/extension.json", server.base)
    );
    let extension = server.get("/ocds/extension.json", None);
    assert_eq!(extension.status, 200);
    assert_eq!(
        extension.text(),
        std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../schemas/ocds/extension.json")
        )
        .unwrap()
    );
    let records = server.get("/api/ocds?package=records", None).json()["ok"].clone();
    assert!(records["records"][0]["compiledRelease"]["tag"] == serde_json::json!(["compiled"]));
    let refused = server.get("/api/ocds?package=everything", None);
    assert_eq!(
        (refused.status, refused.code().as_str()),
        (400, "bad-request")
    );

    let metrics = server.get("/metrics", None).text();
    assert!(
        metrics.contains(&format!("probity_ledger_records {size}")),
        "{metrics}"
    );
    assert!(metrics.contains("probity_http_requests_total{method=\"GET\",status=\"200\"}"));
    server.stop();

    let vkey = data.join("ledger.vkey");
    let vkey = vkey.to_str().unwrap();
    let (code, cli, stderr) = probity(&["findings", "--data", data.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(serde_json::from_str::<Value>(&cli).unwrap(), findings);
    // `probity ocds` writes the same package as the server publishes, given its address.
    let package = dir.path().join("ocds.json");
    let (code, _, stderr) = probity(&[
        "ocds",
        "--data",
        data.to_str().unwrap(),
        "--out",
        package.to_str().unwrap(),
        "--base-url",
        &base,
    ]);
    assert_eq!(code, 0, "{stderr}");
    let written: Value = serde_json::from_slice(&std::fs::read(&package).unwrap()).unwrap();
    assert_eq!(written, ocds);
    assert_eq!(inclusion["tree_size"].as_u64(), Some(size));
    let (code, out, stderr) = probity(&[
        "verify-proof",
        bundle_path.to_str().unwrap(),
        "--ledger-vkey",
        vkey,
    ]);
    assert_eq!(code, 0, "{out}{stderr}");
    let (code, out, stderr) = probity(&[
        "verify",
        export_path.to_str().unwrap(),
        "--ledger-vkey",
        vkey,
    ]);
    assert_eq!(code, 0, "{out}{stderr}");
}

#[test]
fn csv_opens_in_a_spreadsheet_with_times_in_the_hospitals_zone() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo(dir.path());
    let server = Server::start(&data, None);
    let csv = server.get("/api/blacklist?format=csv", None);
    assert_eq!(csv.status, 200);
    assert!(
        csv.content_type.starts_with("text/csv"),
        "{}",
        csv.content_type
    );
    let text = csv.text();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("\u{feff}uscc,name,ban,list,from (+08:00),until (+08:00),record")
    );
    let row = lines.next().unwrap();
    assert!(row.starts_with("91330100MA2H0007XM,"), "{row}");
    assert!(row.contains(",blacklist,,"), "{row}");
    assert!(row.contains(",2026-03-23 09:00:00,"), "{row}");
    let findings = server
        .get("/api/findings?format=csv&rule=split-purchase", None)
        .text();
    assert!(findings.lines().count() >= 2, "{findings}");
    assert!(
        findings
            .lines()
            .skip(1)
            .all(|l| l.contains(",split-purchase,")),
        "{findings}"
    );
    assert_eq!(
        server.get("/api/findings?format=xml", None).code(),
        "malformed-request"
    );
    // The case list, amounts as people read them.
    let cases = server.get("/api/cases?format=csv", None).text();
    assert!(cases.starts_with("\u{feff}case,state,next_step,department,item,estimated,method,award_supplier,award,findings"), "{cases}");
    assert!(cases.lines().count() > 3, "{cases}");
    assert!(cases.contains(",\"¥180,000 (18万元)\","), "{cases}");
    assert_eq!(
        server.get("/api/cases?state=open", None).code(),
        "malformed-request"
    );
}

#[test]
fn bad_requests_get_their_code_and_status_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo(dir.path());
    let clerk = data.join("keys/clerk-zhou.key");
    let server = Server::start(&data, None);
    let size = server.size();

    let cases: Vec<(Answer, u16, &str)> = vec![
        (
            server.get("/api/blacklist?at=x&at=y", None),
            400,
            "malformed-request",
        ),
        (
            server.get("/api/blacklist?at=yesterday", None),
            400,
            "bad-time",
        ),
        (
            server.get("/api/blacklist?colour=red", None),
            400,
            "malformed-request",
        ),
        (
            server.get("/api/findings?rule=no-such-rule", None),
            400,
            "unknown-rule",
        ),
        (
            server.get("/api/status?format=csv", None),
            400,
            "malformed-request",
        ),
        (
            server.get("/api/suppliers/91330100MA2H0007XM?format=csv", None),
            400,
            "malformed-request",
        ),
        (
            server.get("/api/suppliers/91330100MA2H9999XX", None),
            404,
            "not-found",
        ),
        (server.get("/api/records/99999", None), 404, "not-found"),
        (
            server.get("/api/records/minus-one", None),
            400,
            "bad-request",
        ),
        (
            server.get("/api/proof/inclusion?seq=99999", None),
            400,
            "bad-proof-request",
        ),
        (
            server.get("/api/event-types/no.such", None),
            422,
            "unknown-event-type",
        ),
        (
            server.post("/api/events", None, b"{not json"),
            400,
            "malformed-json",
        ),
        (
            server.post("/api/events", None, b"[]"),
            400,
            "malformed-request",
        ),
        (
            server.post("/api/events", None, &vec![b' '; 200_000]),
            413,
            "too-large",
        ),
        (
            server.post("/api/events/batch", None, &vec![b' '; 1_100_000]),
            413,
            "too-large",
        ),
    ];
    for (answer, status, code) in cases {
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (status, code),
            "{}",
            answer.text()
        );
    }

    // A signature that does not verify; an event of a type the clerk may not record; a
    // payload that breaks its schema, named by field.
    let mut forged = signed(&clerk, "rep.checked_in", "forged-1", check_in("V-F1"));
    let sig = forged["event"]["signatures"][0]["sig"]
        .as_str()
        .unwrap()
        .to_owned();
    let flipped = if sig.starts_with('A') {
        sig.replacen('A', "B", 1)
    } else {
        format!("A{}", &sig[1..])
    };
    forged["event"]["signatures"][0]["sig"] = json!(flipped);
    let answer = server.post("/api/events", None, forged.to_string().as_bytes());
    assert_eq!(
        (answer.status, answer.code().as_str()),
        (422, "bad-signature"),
        "{}",
        answer.text()
    );
    let sanction = signed(
        &clerk,
        "supplier.violation_recorded",
        "wrong-role-1",
        json!({"uscc": "91330100MA2H0007XM", "kind": "kickback", "description": "x", "evidence": ["file-1"]}),
    );
    let answer = server.post("/api/events", None, sanction.to_string().as_bytes());
    assert_eq!(
        (answer.status, answer.code().as_str()),
        (422, "wrong-role"),
        "{}",
        answer.text()
    );
    let mut bad = check_in("V-F2");
    bad["identity_matched"] = json!("yes");
    let answer = server.post(
        "/api/events",
        None,
        signed(&clerk, "rep.checked_in", "bad-1", bad)
            .to_string()
            .as_bytes(),
    );
    assert_eq!(
        (answer.status, answer.code().as_str()),
        (422, "schema-violation"),
        "{}",
        answer.text()
    );
    assert!(
        answer.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("identity_matched"),
        "{}",
        answer.text()
    );

    assert_eq!(server.size(), size, "a refused request changed the ledger");
    let metrics = server.get("/metrics", None).text();
    assert!(
        metrics.contains("probity_append_refusals_total{code=\"bad-signature\"} 1"),
        "{metrics}"
    );
}

use serving::Answer;

#[test]
fn pre_signed_events_are_appended_with_receipts_and_retries_are_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo(dir.path());
    let clerk = data.join("keys/clerk-zhou.key");
    let server = Server::start(&data, None);
    let size = server.size();

    let request = signed(&clerk, "rep.checked_in", "walk-in-1", check_in("V-W1"));
    let first = server.post("/api/events", None, request.to_string().as_bytes());
    assert_eq!(first.status, 200, "{}", first.text());
    conforms("receipt", &first.json());
    let receipt = first.json()["ok"].clone();
    assert_eq!(receipt["seq"].as_u64(), Some(size));
    assert_eq!(receipt["duplicate"], json!(false));
    let again = server
        .post("/api/events", None, request.to_string().as_bytes())
        .json()["ok"]
        .clone();
    assert_eq!(
        (again["seq"].clone(), again["duplicate"].clone()),
        (receipt["seq"].clone(), json!(true))
    );

    // A batch: one good, one refused on its own.
    let good = signed(&clerk, "rep.checked_in", "walk-in-2", check_in("V-W2"));
    let mut bad = signed(&clerk, "rep.checked_in", "walk-in-3", check_in("V-W3"));
    bad["event"]["signatures"][0]["keyid"] = json!("00000000000000000000000000000000");
    let batch = json!({"events": [good, bad]});
    let replies = server.post("/api/events/batch", None, batch.to_string().as_bytes());
    assert_eq!(replies.status, 200, "{}", replies.text());
    conforms("batch", &replies.json());
    let replies = replies.json()["ok"].clone();
    assert_eq!(
        replies[0]["ok"]["seq"].as_u64(),
        Some(size + 1),
        "{replies}"
    );
    assert_eq!(replies[1]["error"]["code"], json!("bad-key"), "{replies}");

    // The walk-in is a finding at once: reads wait for the views to hold every record.
    let findings = server.get("/api/findings?rule=rep-visit", None).json()["ok"].clone();
    assert!(
        findings
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["evidence"].as_array().unwrap().contains(&json!(size))),
        "{findings}"
    );

    // A draft is the body the CLI would build; signed here, it is appended.
    let key = probity_ledger::keyfile::read_key(&clerk).unwrap();
    let draft = json!({"type": "rep.checked_in", "payload": check_in("V-W4"), "signer": key.public_key(), "id": "walk-in-4"});
    let answer = server.post("/api/drafts", None, draft.to_string().as_bytes());
    assert_eq!(answer.status, 200, "{}", answer.text());
    conforms("draft", &answer.json());
    let body = answer.json()["ok"]["body"]
        .as_str()
        .unwrap()
        .as_bytes()
        .to_vec();
    let event = probity_core::prelude::SignedEvent::sign_bytes(body, &key);
    let appended = server.post(
        "/api/events",
        None,
        json!({"event": event}).to_string().as_bytes(),
    );
    assert_eq!(
        appended.json()["ok"]["seq"].as_u64(),
        Some(size + 2),
        "{}",
        appended.text()
    );
    let bad_draft =
        json!({"type": "rep.checked_in", "payload": {"visit": "V"}, "signer": key.public_key()});
    let answer = server.post("/api/drafts", None, bad_draft.to_string().as_bytes());
    assert_eq!(
        (answer.status, answer.code().as_str()),
        (422, "schema-violation"),
        "{}",
        answer.text()
    );
    // A subject field that is no id is refused naming that field, as any other bad field.
    let spaced = json!({"type": "rep.checked_in", "payload": {"visit": "V-1", "filing_number": "REP R7", "room": "RECEPTION-1", "identity_matched": true}, "signer": key.public_key()});
    let answer = server.post("/api/drafts", None, spaced.to_string().as_bytes());
    assert_eq!(
        (answer.status, answer.code().as_str()),
        (422, "schema-violation"),
        "{}",
        answer.text()
    );
    assert!(
        answer.text().contains("field `filing_number`"),
        "{}",
        answer.text()
    );

    let metrics = server.get("/metrics", None).text();
    assert!(metrics.contains("probity_appends_total 4"), "{metrics}");
    // While it serves, the data directory is its own: other commands say so and where to go.
    let (code, _, stderr) = probity(&["status", "--data", data.to_str().unwrap()]);
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("probity serve (use its HTTP API then)"),
        "{stderr}"
    );
    server.stop();
    let (code, out, stderr) = probity(&["verify", "--data", data.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{stderr}");
}

#[test]
fn without_a_tokens_file_it_listens_on_loopback_only() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo(dir.path());
    let (code, _, stderr) = probity(&[
        "serve",
        "--data",
        data.to_str().unwrap(),
        "--listen",
        "0.0.0.0:0",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("loopback only"), "{stderr}");
    let (code, _, stderr) = probity(&[
        "serve",
        "--data",
        data.to_str().unwrap(),
        "--utc-offset",
        "Beijing",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("±hh:mm"), "{stderr}");
    // A token for a role that does not exist is not made, and no file is written.
    let tokens = dir.path().join("tokens.toml");
    let (code, _, stderr) = probity(&[
        "token",
        "add",
        "--tokens",
        tokens.to_str().unwrap(),
        "--user",
        "x",
        "--role",
        "wizard",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("one of administrator, clerk"), "{stderr}");
    assert!(!tokens.exists());
}

/// The shipped roles, each with its own token: what each may read and do, and that a refusal
/// changes nothing. The access log names who read what.
#[test]
fn each_role_reaches_what_it_may_and_nothing_more() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo(dir.path());
    let tokens = dir.path().join("tokens.toml");
    let clerk = token(&tokens, "zhou.clerk", "clerk");
    let auditor = token(&tokens, "lin.audit", "auditor");
    let discipline = token(&tokens, "chen.discipline", "discipline_office");
    let server = Server::start(&data, Some(&tokens));
    let size = server.size();

    // Anyone: health, metrics, the published blacklist and policy, status and proofs.
    for path in [
        "/healthz",
        "/metrics",
        "/api/blacklist",
        "/api/policy",
        "/api/status",
        "/api/checkpoint",
        "/api/proof/inclusion?seq=1",
        "/api/ocds",
        "/ocds/extension.json",
        "/",
    ] {
        assert_eq!(server.get(path, None).status, 200, "{path}");
    }
    // No token: nothing else.
    for path in [
        "/api/findings",
        "/api/suppliers/91330100MA2H0007XM",
        "/api/reps/REP-R7",
        "/api/records/3",
        "/api/records/3/proof-bundle",
        "/api/records/3/record.json",
        "/api/export",
        "/api/keys",
        "/api/version?subject=case:CASE-2",
        "/api/replay?seq=3",
        "/api/replay/diff?from=2026-03-15T00:00:00%2B08:00&to=2026-04-01T00:00:00%2B08:00",
        "/api/replay/bundle?seq=3",
    ] {
        let answer = server.get(path, None);
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (401, "unauthenticated"),
            "{path}"
        );
    }
    let walk_in = signed(
        &data.join("keys/clerk-zhou.key"),
        "rep.checked_in",
        "role-1",
        check_in("V-R1"),
    );
    let answer = server.post("/api/events", None, walk_in.to_string().as_bytes());
    assert_eq!(answer.code(), "unauthenticated");
    // The console's pages need what their answers need; search would tell what exists.
    assert_eq!(server.get("/findings", None).status, 401);
    assert_eq!(server.get("/search?q=REP-R7", None).status, 401);
    assert_eq!(server.get("/findings", Some(&clerk)).status, 403);
    assert_eq!(server.get("/record", Some(&auditor)).status, 403);
    // A refused post leaves the client's connection usable for its next request (the body
    // is read before the refusal; a body too large closes the connection, saying so).
    for _ in 0..20 {
        let refused = server.post("/api/events", None, walk_in.to_string().as_bytes());
        assert_eq!(refused.status, 401);
        assert_eq!(server.get("/api/status", None).status, 200);
        let huge = server.post("/api/events", Some(&clerk), &vec![b' '; 200_000]);
        assert_eq!(huge.status, 413);
        assert_eq!(server.get("/api/status", None).status, 200);
    }
    // A token the server does not know is refused even where none is needed.
    assert_eq!(
        server.get("/api/blacklist", Some("pbt_guessed")).code(),
        "unauthenticated"
    );

    // A clerk: suppliers and cases, appends; not findings, reps, records or exports.
    assert_eq!(
        server
            .get("/api/suppliers/91330100MA2H0007XM", Some(&clerk))
            .status,
        200
    );
    assert_eq!(server.get("/api/cases/CASE-2", Some(&clerk)).status, 200);
    let version = server.get("/api/version?subject=case:CASE-2", Some(&clerk));
    assert_eq!(version.status, 200, "{}", version.text());
    assert!(version.json()["ok"]["version"].as_u64().unwrap() > 0);
    let bad = server.get("/api/version?subject=CASE-2", Some(&clerk));
    assert_eq!(
        (bad.status, bad.code().as_str()),
        (400, "malformed-request")
    );
    for path in [
        "/api/findings",
        "/api/reps/REP-R7",
        "/api/staff/S-LI",
        "/api/records/3",
        "/api/export",
        "/api/replay?seq=3",
    ] {
        let answer = server.get(path, Some(&clerk));
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (403, "forbidden"),
            "{path}"
        );
    }
    // An auditor reads everything and records nothing.
    assert_eq!(server.get("/api/findings", Some(&auditor)).status, 200);
    assert_eq!(server.get("/api/export", Some(&auditor)).status, 200);
    let answer = server.post(
        "/api/events",
        Some(&auditor),
        walk_in.to_string().as_bytes(),
    );
    assert_eq!((answer.status, answer.code().as_str()), (403, "forbidden"));
    assert_eq!(server.size(), size, "a refused append changed the ledger");
    // The clerk's token submits the event the clerk signed; the discipline office reads it.
    let answer = server.post("/api/events", Some(&clerk), walk_in.to_string().as_bytes());
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(
        server.get("/api/reps/REP-R7", Some(&discipline)).status,
        200
    );

    let log = server.stop();
    assert!(
        log.contains("lin.audit") && log.contains("/api/export"),
        "{log}"
    );
    assert!(
        log.contains("zhou.clerk") && log.contains("append"),
        "{log}"
    );
    assert!(!log.contains(&clerk), "a token was logged");
}

/// Without a tokens file, a request addressed to another name (a page elsewhere whose domain
/// was pointed at 127.0.0.1: DNS rebinding) is refused.
#[test]
fn without_tokens_only_requests_to_a_loopback_name_are_answered() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let data = demo(dir.path());
    let server = Server::start(&data, None);
    let address = server.base.trim_start_matches("http://").to_owned();
    let ask = |host: &str| {
        let mut stream = std::net::TcpStream::connect(&address).unwrap();
        write!(
            stream,
            "GET /api/findings HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).unwrap();
        reply
    };
    let rebound = ask("attacker.example:8080");
    assert!(rebound.starts_with("HTTP/1.1 403"), "{rebound}");
    assert!(rebound.contains("\"forbidden\""), "{rebound}");
    assert!(ask(&address).starts_with("HTTP/1.1 200"));
    let port = address.rsplit_once(':').unwrap().1;
    assert!(ask(&format!("localhost:{port}")).starts_with("HTTP/1.1 200"));
}

/// A review of a finding, signed by the discipline office, is on the ledger and comes back
/// with the finding: in the API's answer, its CSV and `probity findings`.
#[test]
fn a_findings_review_is_recorded_and_shown_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo(dir.path());
    let server = Server::start(&data, None);
    let findings = server.get("/api/findings?rule=split-purchase", None).json()["ok"].clone();
    let finding = findings[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(findings[0]["reviews"], json!([]));
    let review = json!({"finding": finding, "outcome": "referred", "note": "移送纪委"});
    let request = signed(
        &data.join("keys/do-chen.key"),
        "integrity.finding_reviewed",
        "review-1",
        review.clone(),
    );
    let receipt = server.post("/api/events", None, request.to_string().as_bytes());
    assert_eq!(receipt.status, 200, "{}", receipt.text());
    let seq = receipt.json()["ok"]["seq"].clone();
    // A clerk may not review.
    let by_clerk = signed(
        &data.join("keys/clerk-zhou.key"),
        "integrity.finding_reviewed",
        "review-2",
        review,
    );
    assert_eq!(
        server
            .post("/api/events", None, by_clerk.to_string().as_bytes())
            .code(),
        "wrong-role"
    );

    let findings = server.get("/api/findings?rule=split-purchase", None).json()["ok"].clone();
    let reviews = &findings[0]["reviews"];
    assert_eq!(reviews.as_array().unwrap().len(), 1, "{findings}");
    assert_eq!(
        (
            &reviews[0]["outcome"],
            &reviews[0]["record"],
            &reviews[0]["reviewer"]
        ),
        (&json!("referred"), &seq, &json!("do-chen"))
    );
    let csv = server
        .get("/api/findings?rule=split-purchase&format=csv", None)
        .text();
    assert!(csv.contains(&format!("referred (record {seq})")), "{csv}");
    server.stop();
    let (code, out, stderr) = probity(&[
        "findings",
        "--data",
        data.to_str().unwrap(),
        "--rule",
        "split-purchase",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        out.contains("reviewed referred by do-chen") && out.contains("移送纪委"),
        "{out}"
    );
}

/// The investigators' API: the views as of a moment (what `replay --json` prints), what
/// changed between two, and an investigation bundle that `probity verify` accepts offline.
#[test]
fn investigators_replay_diff_and_bundle_through_the_api() {
    const IMAGING: &str = "91330100MA2H0007XM";
    let dir = tempfile::tempdir().unwrap();
    let data = demo(dir.path());
    let server = Server::start(&data, None);

    // As known on 20 March the imaging supplier was not yet banned; on 1 April it was.
    let before = server.get(
        &format!("/api/replay?known_at=2026-03-20T00:00:00%2B08:00&supplier={IMAGING}"),
        None,
    );
    assert_eq!(before.status, 200, "{}", before.text());
    conforms("replay", &before.json());
    let before = before.json()["ok"].clone();
    assert_eq!(
        before["moment"],
        json!({"sense": "known_at", "at": "2026-03-20T00:00:00+08:00"})
    );
    assert_eq!(before["view"]["uscc"], IMAGING, "{before}");
    assert!(
        before["blacklist"].as_array().unwrap().is_empty(),
        "{before}"
    );
    assert!(before["timeline"].as_array().unwrap().len() > 1, "{before}");
    let after = server.get("/api/replay?true_at=2026-04-01T00:00:00%2B08:00", None);
    conforms("replay", &after.json());
    assert_eq!(after.json()["ok"]["blacklist"][0]["uscc"], IMAGING);

    let diff = server.get(
        "/api/replay/diff?from=2026-03-15T00:00:00%2B08:00&to=2026-04-01T00:00:00%2B08:00",
        None,
    );
    assert_eq!(diff.status, 200, "{}", diff.text());
    conforms("replay-diff", &diff.json());
    assert_eq!(diff.json()["ok"]["blacklist_added"][0]["uscc"], IMAGING);

    // The bundle of a case as known on 1 April, verified offline against the ledger key.
    let bundle = server.get(
        "/api/replay/bundle?known_at=2026-04-01T00:00:00%2B08:00&case=CASE-2",
        None,
    );
    assert_eq!(bundle.status, 200, "{}", bundle.text());
    let file = dir.path().join("case-2.json");
    std::fs::write(&file, bundle.text()).unwrap();
    let vkey = data.join("ledger.vkey");
    let (code, out, stderr) = probity(&[
        "verify",
        file.to_str().unwrap(),
        "--ledger-vkey",
        vkey.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{stderr}");

    // The console's replay page links the bundle of the moment it shows.
    let page = server.get("/replay?at=2026-04-01T00:00", None).text();
    let link = "/api/replay/bundle?known_at=2026-04-01T00:00:00%2B08:00";
    assert!(page.contains(link), "{page}");
    assert_eq!(server.get(link, None).status, 200);

    // Bad questions get their codes.
    for (path, status, code) in [
        ("/api/replay", 400, "malformed-request"),
        ("/api/replay?seq=3&known_at=2026-03-20T00:00:00%2B08:00", 400, "malformed-request"),
        ("/api/replay?seq=3&case=CASE-1&rep=REP-R7", 400, "malformed-request"),
        ("/api/replay?seq=3&events=100000", 400, "malformed-request"),
        ("/api/replay?seq=3&colour=red", 400, "malformed-request"),
        ("/api/replay?known_at=yesterday", 400, "bad-time"),
        ("/api/replay?seq=999999", 404, "not-found"),
        ("/api/replay/diff?from=2026-03-15T00:00:00%2B08:00", 400, "malformed-request"),
        (
            "/api/replay/diff?from=2026-03-15T00:00:00%2B08:00&to=2026-04-01T00:00:00%2B08:00&sense=maybe",
            400,
            "malformed-request",
        ),
        ("/api/replay/bundle?true_at=soon", 400, "bad-time"),
    ] {
        let refused = server.get(path, None);
        assert_eq!(
            (refused.status, refused.code().as_str()),
            (status, code),
            "{path}: {}",
            refused.text()
        );
    }
}

/// An auditor uploads an export they hold and has it verified against the ledger key they
/// were given, as `probity verify FILE --ledger-vkey` would: intact as exported; a changed
/// byte, another ledger's key or a cut tail are findings in the answer; bad requests get their
/// code; nothing is kept or appended, and no file the caller names is read on the server.
#[test]
fn an_auditor_verifies_an_export_they_hold_against_the_pinned_key() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo(dir.path());
    let tokens = dir.path().join("tokens.toml");
    let auditor = token(&tokens, "lin.audit", "auditor");
    let clerk = token(&tokens, "zhou.clerk", "clerk");
    let server = Server::start(&data, Some(&tokens));
    let size = server.size();
    let export = server.get("/api/export", Some(&auditor)).body;
    let vkey = std::fs::read_to_string(data.join("ledger.vkey")).unwrap();
    let pinned = format!("/api/verify?ledger_vkey={}", encoded(vkey.trim()));
    let verify = |path: &str, who: Option<&str>, body: &[u8]| server.post(path, who, body);

    let intact = verify(&pinned, Some(&auditor), &export).json();
    conforms("verify", &intact);
    let report = &intact["ok"];
    assert_eq!(report["findings"], json!([]), "{:?}", intact["error"]);
    assert_eq!(report["records"].as_u64(), Some(size));
    assert_eq!(report["key_pinned"], json!(true));
    assert!(report["checkpoints_checked"].as_u64().unwrap() >= 1);
    // The same answer as the command line's.
    let file = dir.path().join("export.jsonl");
    std::fs::write(&file, &export).unwrap();
    let (code, cli, stderr) = probity(&[
        "verify",
        file.to_str().unwrap(),
        "--ledger-vkey",
        vkey.trim(),
        "--json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(serde_json::from_str::<Value>(&cli).unwrap(), *report);

    // Without a pinned key: checked against the genesis record's own key, and said so.
    let unpinned = verify("/api/verify", Some(&auditor), &export).json();
    assert_eq!(unpinned["ok"]["key_pinned"], json!(false));
    assert_eq!(unpinned["ok"]["findings"], json!([]));

    // One changed byte in a record (when record 8 says it was recorded): found there.
    let text = String::from_utf8(export.clone()).unwrap();
    let tampered = text.replacen(
        "\"seq\":8,\"recorded_at\":\"2026-03-02T00:31:00.000000Z\"",
        "\"seq\":8,\"recorded_at\":\"2026-03-02T00:31:01.000000Z\"",
        1,
    );
    assert_ne!(tampered, text, "record 8 is not where the demo puts it");
    let found = verify(&pinned, Some(&auditor), tampered.as_bytes()).json();
    conforms("verify", &found);
    let findings = found["ok"]["findings"].as_array().unwrap();
    assert!(
        findings
            .iter()
            .any(|f| f["code"] == "hash-mismatch" && f["seq"] == 8),
        "{:?}",
        found["ok"]["findings"]
    );
    // The tail cut off after a checkpoint: the header's size says so.
    let cut: Vec<&str> = text.lines().collect();
    let cut = format!("{}\n", cut[..cut.len() - 1].join("\n"));
    let short = verify(&pinned, Some(&auditor), cut.as_bytes()).json();
    assert!(
        short["ok"]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "size-mismatch"),
        "{:?}",
        short["ok"]["findings"]
    );
    // Another ledger's key pinned: its checkpoints do not verify.
    let clerk_key = std::fs::read_to_string(data.join("keys/clerk-zhou.key.pub")).unwrap();
    let clerk_key: probity_core::keys::PublicKey =
        serde_json::from_value(Value::from(clerk_key.trim())).unwrap();
    let other = probity_core::checkpoint::VerifierKey::ed25519("city-hospital", clerk_key);
    let foreign = format!("/api/verify?ledger_vkey={}", encoded(&other.to_string()));
    let refused = verify(&foreign, Some(&auditor), &export).json();
    assert_ne!(
        refused["ok"]["findings"],
        json!([]),
        "{:?}",
        refused["error"]
    );

    // The auditor's witness must have cosigned the latest checkpoint: it has (the demo's
    // witness cosigned it); a witness that did not makes the quorum unmet, a finding.
    let witness = std::fs::read_to_string(data.join("keys/witness.vkey")).unwrap();
    let witnessed = verify(
        &format!("{pinned}&witness={}&quorum=1", encoded(witness.trim())),
        Some(&auditor),
        &export,
    )
    .json();
    conforms("verify", &witnessed);
    assert_eq!(
        witnessed["ok"]["findings"],
        json!([]),
        "{:?}",
        witnessed["error"]
    );
    assert_eq!(
        witnessed["ok"]["witnessed"]["witnesses"][0]["name"],
        json!("audit.example/city-hospital-witness")
    );
    let stranger = probity_core::checkpoint::VerifierKey::ed25519(
        "audit.example/another-witness",
        serde_json::from_value(Value::from(
            std::fs::read_to_string(data.join("keys/do-chen.key.pub"))
                .unwrap()
                .trim(),
        ))
        .unwrap(),
    );
    let unmet = verify(
        &format!(
            "{pinned}&witness={}&quorum=1",
            encoded(&stranger.to_string())
        ),
        Some(&auditor),
        &export,
    )
    .json();
    assert_ne!(unmet["ok"]["findings"], json!([]), "{:?}", unmet["error"]);
    assert_eq!(unmet["ok"]["witnessed"], Value::Null);

    // Bad requests: their code, and nothing changes.
    let server_file = format!(
        "/api/verify?ledger_vkey={}",
        encoded(data.join("ledger.vkey").to_str().unwrap())
    );
    for (path, who, body, status, code) in [
        ("/api/verify", None, &export[..], 401, "unauthenticated"),
        ("/api/verify", Some(&clerk), &export[..], 403, "forbidden"),
        (
            "/api/verify?ledger_vkey=not-a-key",
            Some(&auditor),
            &export[..],
            400,
            "malformed-request",
        ),
        // A path on the server is not read: it is not a key.
        (
            server_file.as_str(),
            Some(&auditor),
            &export[..],
            400,
            "malformed-request",
        ),
        (
            "/api/verify?allow_unanchored=yes",
            Some(&auditor),
            &export[..],
            400,
            "malformed-request",
        ),
        (
            "/api/verify?quorum=1",
            Some(&auditor),
            &export[..],
            400,
            "malformed-request",
        ),
        (
            "/api/verify?quorum=one",
            Some(&auditor),
            &export[..],
            400,
            "malformed-request",
        ),
        (
            "/api/verify?witness=not-a-key",
            Some(&auditor),
            &export[..],
            400,
            "malformed-request",
        ),
        (
            "/api/verify?witnessed_at=140",
            Some(&auditor),
            &export[..],
            400,
            "malformed-request",
        ),
        (
            "/api/verify?seq=3",
            Some(&auditor),
            &export[..],
            400,
            "malformed-request",
        ),
        (
            "/api/verify?allow_unanchored=true&allow_unanchored=true",
            Some(&auditor),
            &export[..],
            400,
            "malformed-request",
        ),
        (
            "/api/verify",
            Some(&auditor),
            &b"{\"not\": \"an export\"}\n"[..],
            400,
            "malformed-request",
        ),
        (
            "/api/verify",
            Some(&auditor),
            &b"\xff\xfe\n"[..],
            400,
            "malformed-request",
        ),
    ] {
        let answer = verify(path, who.map(String::as_str), body);
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (status, code),
            "{path}: {}",
            answer.text()
        );
    }
    // An unknown parameter's refusal says which there are.
    let unknown = verify("/api/verify?seq=3", Some(&auditor), &export);
    assert!(
        unknown
            .text()
            .contains("ledger_vkey, witness, quorum, witnessed_at and allow_unanchored"),
        "{}",
        unknown.text()
    );
    // One endless line: refused once past the longest line an export may have, not held.
    let endless = vec![b'x'; (4 << 20) + 1024];
    let answer = verify("/api/verify", Some(&auditor), &endless);
    assert_eq!(
        (answer.status, answer.code().as_str()),
        (400, "malformed-request")
    );
    assert!(
        answer.text().contains("is longer than"),
        "{}",
        answer.text()
    );
    assert_eq!(server.size(), size);
    server.stop();
}

/// `text` percent-encoded for a query string.
fn encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
