//! The web console end to end, in real headless Chromium driven over WebDriver (Debian's
//! `chromium` and `chromium-driver`; `.ci/run` installs them) against the real `probity serve`:
//! a clerk imports a key file into the browser, fills purchase-step forms made from the event
//! schemas, signs in the browser and gets receipts; the discipline officer sees the finding the
//! steps caused, opens its evidence and downloads its proof bundle, which `probity verify-proof`
//! accepts; an auditor views the blacklist as known at a past date and verifies an export
//! against the pinned ledger key. Screenshots of each page
//! are kept in `target/console-screenshots/`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod serving;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use probity_core::keys::PublicKey;
use serving::{demo, probity, signed, token, Server};

/// A chromedriver on a free port, stopped on drop.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let binary =
            std::env::var("PROBITY_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let child = Command::new(&binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("{binary}: {e} (apt-get install chromium chromium-driver; .ci/run does)")
            });
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver { child, port }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn browser(driver: &Driver, downloads: &Path) -> Client {
    let binary = std::env::var("PROBITY_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let capabilities = serde_json::json!({
        "goog:chromeOptions": {
            "binary": binary,
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1100", "--lang=zh-CN"],
            "prefs": {
                "download.default_directory": downloads.to_str().unwrap(),
                "download.prompt_for_download": false,
                "intl.accept_languages": "zh-CN,zh"
            }
        }
    });
    let serde_json::Value::Object(capabilities) = capabilities else {
        unreachable!()
    };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a WebDriver session in headless Chromium")
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(screenshots().join(format!("{name}.png")), png).unwrap();
}

async fn css(c: &Client, selector: &str) -> Element {
    c.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(selector))
        .await
        .unwrap_or_else(|e| panic!("{selector}: {e}"))
}

async fn sign_in(c: &Client, base: &str, token: &str) {
    c.goto(&format!("{base}/login")).await.unwrap();
    css(c, "input[name=token]")
        .await
        .send_keys(token)
        .await
        .unwrap();
    css(c, "#login button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    css(c, "table#blacklist, #blacklist-empty").await;
}

async fn fill(c: &Client, field: &str, value: &str) {
    let input = css(c, &format!("[name='{field}']")).await;
    if input.tag_name().await.unwrap() == "select" {
        input.select_by_value(value).await.unwrap();
    } else if input.attr("type").await.unwrap().as_deref() == Some("datetime-local") {
        // What typing gives depends on the browser's locale: set the field's value instead.
        let element = serde_json::to_value(&input).unwrap();
        c.execute(
            "arguments[0].value = arguments[1];",
            vec![element, value.into()],
        )
        .await
        .unwrap();
    } else {
        input.send_keys(value).await.unwrap();
    }
}

/// Opens the clerk's page, imports `key` into the browser, fills the form of `event_type` and
/// signs and submits it; returns the receipt's record number.
async fn record(
    c: &Client,
    base: &str,
    key: &Path,
    event_type: &str,
    fields: &[(&str, &str)],
    shot_name: &str,
) -> u64 {
    c.goto(&format!("{base}/record")).await.unwrap();
    sign_here(c, key, Some(event_type), fields, shot_name).await
}

/// On the clerk's page, already open: imports `key`, chooses `event_type` (if given), fills
/// `fields`, signs and submits; returns the receipt's record number.
async fn sign_here(
    c: &Client,
    key: &Path,
    event_type: Option<&str>,
    fields: &[(&str, &str)],
    shot_name: &str,
) -> u64 {
    let outcome = submit_here(c, key, event_type, fields, shot_name).await;
    let class = outcome.attr("class").await.unwrap().unwrap_or_default();
    assert_eq!(class, "receipt", "{}", outcome.text().await.unwrap());
    outcome
        .attr("data-seq")
        .await
        .unwrap()
        .unwrap()
        .parse()
        .unwrap()
}

/// [`sign_here`], returning the outcome shown, a receipt or a refusal.
async fn submit_here(
    c: &Client,
    key: &Path,
    event_type: Option<&str>,
    fields: &[(&str, &str)],
    shot_name: &str,
) -> Element {
    css(c, "body[data-ready=true]").await;
    css(c, "#key-file")
        .await
        .send_keys(key.to_str().unwrap())
        .await
        .unwrap();
    let public = std::fs::read_to_string(key.with_extension("key.pub")).unwrap();
    let public: PublicKey = serde_json::from_value(serde_json::Value::from(public.trim())).unwrap();
    css(
        c,
        &format!("#key-status[data-key-id='{}']", public.key_id()),
    )
    .await;
    if let Some(event_type) = event_type {
        css(c, "#event-type")
            .await
            .select_by_value(event_type)
            .await
            .unwrap();
    }
    // The form is rebuilt from the type's schema: wait for its first field.
    css(c, &format!("[name='{}']", fields[0].0)).await;
    for (field, value) in fields {
        fill(c, field, value).await;
    }
    css(c, "#sign-submit").await.click().await.unwrap();
    let outcome = css(c, "#outcome.receipt, #outcome.refusal").await;
    shot(c, shot_name).await;
    outcome
}

async fn wait_for_file(path: &Path) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(bytes) = std::fs::read(path) {
            if !bytes.is_empty() {
                return bytes;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{} was not downloaded",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clerk_signs_in_the_browser_the_officer_proves_the_finding_the_auditor_looks_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo(dir.path());
    let tokens = dir.path().join("tokens.toml");
    let clerk = token(&tokens, "zhou.clerk", "clerk");
    let equipment = token(&tokens, "sun.equipment", "equipment_office");
    let discipline = token(&tokens, "chen.discipline", "discipline_office");
    let auditor = token(&tokens, "lin.audit", "auditor");
    let server = Server::start(&data, Some(&tokens));
    let base = server.base.clone();
    let downloads = dir.path().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let driver = Driver::start();
    let c = browser(&driver, &downloads).await;

    // The first page, in Chinese: the blacklist.
    c.goto(&format!("{base}/")).await.unwrap();
    assert_eq!(css(&c, "h1").await.text().await.unwrap(), "黑名单");
    shot(&c, "01-blacklist").await;

    // A clerk requests a purchase; the equipment office awards it before any procurement
    // process was opened, to a blacklisted supplier.
    sign_in(&c, &base, &clerk).await;
    let request = record(
        &c,
        &base,
        &data.join("keys/clerk-zhou.key"),
        "purchase.requested",
        &[
            ("payload.case", "CASE-E2E"),
            ("payload.department", "cardiology"),
            ("payload.requester", "S-ZHOU"),
            ("payload.item", "输液泵"),
            ("payload.category", "A0232"),
            ("payload.quantity", "4"),
            ("payload.estimated.fen", "9600000"),
            ("payload.estimated.currency", "CNY"),
            ("payload.budget_project", "BP-E2E"),
            ("payload.justification", "病房设备更新"),
        ],
        "02-clerk-receipt",
    )
    .await;
    sign_in(&c, &base, &equipment).await;
    let award = record(
        &c,
        &base,
        &data.join("keys/equip-sun.key"),
        "purchase.award_decided",
        &[
            ("payload.case", "CASE-E2E"),
            ("payload.supplier", "91330100MA2H0007XM"),
            ("payload.amount.fen", "9500000"),
            ("payload.amount.currency", "CNY"),
        ],
        "03-award-receipt",
    )
    .await;
    assert!(award > request);
    // A value its schema refuses: nothing is recorded, and the form names the field.
    let supplier = css(&c, "[name='payload.supplier']").await;
    supplier.clear().await.unwrap();
    supplier.send_keys("NOT-A-USCC").await.unwrap();
    css(&c, "#sign-submit").await.click().await.unwrap();
    css(&c, "#outcome.refusal[data-code='schema-violation']").await;
    css(&c, ".field.invalid[data-path='payload.supplier']").await;
    shot(&c, "03b-refusal-names-the-field").await;
    assert_eq!(server.size(), award + 1, "a refused event was recorded");

    // The discipline office sees the finding, opens the award in its evidence, downloads the
    // proof bundle.
    sign_in(&c, &base, &discipline).await;
    c.goto(&format!("{base}/findings?rule=step-order"))
        .await
        .unwrap();
    let row = css(&c, "tr.finding:has(a[href='/cases/CASE-E2E'])").await;
    let text = row.text().await.unwrap();
    assert!(text.contains("CASE-E2E"), "{text}");
    shot(&c, "04-findings").await;
    row.find(Locator::Css(&format!("a[href='/records/{award}']")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let h1 = css(&c, "h1").await.text().await.unwrap();
    assert_eq!(h1, format!("记录 #{award}"));
    shot(&c, "05-evidence-record").await;
    css(&c, "#proof-bundle").await.click().await.unwrap();
    let bundle_path = downloads.join(format!("record-{award}.tlog-proof"));
    wait_for_file(&bundle_path).await;
    let vkey = data.join("ledger.vkey");
    let (code, out, stderr) = probity(&[
        "verify-proof",
        bundle_path.to_str().unwrap(),
        "--ledger-vkey",
        vkey.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{stderr}");

    // The officer records the review, signed in the browser too: it is on the ledger and
    // shown with the finding.
    c.goto(&format!("{base}/findings?rule=step-order"))
        .await
        .unwrap();
    let row = css(&c, "tr.finding:has(a[href='/cases/CASE-E2E'])").await;
    row.find(Locator::Css("a.review-link"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    css(&c, "body[data-ready=true]").await;
    let finding = css(&c, "[name='payload.finding']")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(
        finding.starts_with("step-order/") && finding.contains("CASE-E2E"),
        "{finding:?}"
    );
    let review = sign_here(
        &c,
        &data.join("keys/do-chen.key"),
        None,
        &[
            ("payload.outcome", "confirmed"),
            ("payload.note", "未开启采购程序即定标，已约谈设备处。"),
        ],
        "05b-review-receipt",
    )
    .await;
    c.goto(&format!("{base}/findings?rule=step-order"))
        .await
        .unwrap();
    let reviews = css(&c, "tr.finding:has(a[href='/cases/CASE-E2E']) td.reviews")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        reviews.contains("属实")
            && reviews.contains("do-chen")
            && reviews.contains(&format!("#{review}")),
        "{reviews}"
    );
    shot(&c, "05c-finding-reviewed").await;

    // The desk: a clerk books a rep's visit (the slot typed in the hospital's zone); the
    // discipline office sees it awaiting approval and approves it, naming the reception room.
    sign_in(&c, &base, &clerk).await;
    record(
        &c,
        &base,
        &data.join("keys/clerk-zhou.key"),
        "rep.visit_requested",
        &[
            ("payload.visit", "V-E2E"),
            ("payload.filing_number", "REP-R7"),
            ("payload.host", "S-LI"),
            ("payload.department", "cardiology"),
            ("payload.slot.from", "2026-12-01T10:00:00"),
            ("payload.slot.to", "2026-12-01T10:30:00"),
            ("payload.pledge_signed", "true"),
        ],
        "06a-visit-booked",
    )
    .await;
    sign_in(&c, &base, &discipline).await;
    c.goto(&format!("{base}/visits")).await.unwrap();
    assert_eq!(css(&c, "#pending").await.text().await.unwrap(), "1");
    let booked = css(&c, "tr[data-visit='V-E2E']").await;
    let slot = booked.text().await.unwrap();
    assert!(
        slot.contains("2026-12-01 10:00:00") && slot.contains("待审批"),
        "{slot}"
    );
    shot(&c, "06b-visits-awaiting-approval").await;
    booked
        .find(Locator::Css("a.approve"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    sign_here(
        &c,
        &data.join("keys/do-chen.key"),
        None,
        &[("payload.reception_room", "RECEPTION-1")],
        "06c-visit-approved",
    )
    .await;
    c.goto(&format!("{base}/visits")).await.unwrap();
    assert_eq!(css(&c, "#pending").await.text().await.unwrap(), "0");
    let state = css(&c, "tr[data-visit='V-E2E']")
        .await
        .text()
        .await
        .unwrap();
    assert!(state.contains("已批准"), "{state}");

    // A step is based on what the clerk saw: the case page pins the case's version in its
    // link to the next step. A supervision recorded while the form is open gets the step
    // refused (nothing recorded), and the page sends the clerk back to the case.
    sign_in(&c, &base, &clerk).await;
    let opened = server.post(
        "/api/events",
        Some(&clerk),
        &serde_json::to_vec(&signed(
            &data.join("keys/clerk-zhou.key"),
            "purchase.requested",
            "ev-e2e-expect-request",
            serde_json::json!({"case": "CASE-E2E-2", "department": "cardiology", "requester": "S-ZHOU",
                "item": "心电监护仪", "category": "A0232", "quantity": 2,
                "estimated": {"fen": 3_000_000, "currency": "CNY"}, "budget_project": "BP-E2E",
                "justification": "病房设备更新"}),
        ))
        .unwrap(),
    );
    assert!(opened.json()["ok"]["seq"].is_u64(), "{}", opened.text());
    c.goto(&format!("{base}/cases/CASE-E2E-2")).await.unwrap();
    css(&c, "a.record-next").await.click().await.unwrap();
    let pinned = css(&c, "#expect-note[data-expect]").await;
    let pinned: serde_json::Value =
        serde_json::from_str(&pinned.attr("data-expect").await.unwrap().unwrap()).unwrap();
    assert_eq!(pinned, serde_json::json!({"case:CASE-E2E-2": 1}));
    let supervised = server.post(
        "/api/events",
        Some(&discipline),
        &serde_json::to_vec(&signed(
            &data.join("keys/do-chen.key"),
            "purchase.supervision_recorded",
            "ev-e2e-expect-supervision",
            serde_json::json!({"case": "CASE-E2E-2", "inspector": "S-CHEN", "opinion": "concern",
                "step": "purchase.requested", "note": "预算依据不足"}),
        ))
        .unwrap(),
    );
    assert!(
        supervised.json()["ok"]["seq"].is_u64(),
        "{}",
        supervised.text()
    );
    let size = server.size();
    let step = [
        ("payload.method", "inquiry"),
        ("payload.deadline", "2026-12-20T17:00:00"),
    ];
    let outcome = submit_here(
        &c,
        &data.join("keys/clerk-zhou.key"),
        None,
        &step,
        "06d-step-refused-case-changed",
    )
    .await;
    assert_eq!(
        outcome.attr("data-code").await.unwrap().as_deref(),
        Some("version-mismatch"),
        "{}",
        outcome.text().await.unwrap()
    );
    assert_eq!(
        server.size(),
        size,
        "a step over an unseen change was recorded"
    );
    // Back to the case: the supervision is in its timeline, and the step, based on it, goes in.
    outcome
        .find(Locator::Css("a.reopen[href='/cases/CASE-E2E-2']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let timeline = css(&c, "table.timeline").await.text().await.unwrap();
    assert!(
        timeline.contains("purchase.supervision_recorded"),
        "{timeline}"
    );
    css(&c, "a.record-next").await.click().await.unwrap();
    let opened = sign_here(
        &c,
        &data.join("keys/clerk-zhou.key"),
        None,
        &step,
        "06e-step-recorded-after-looking-again",
    )
    .await;
    assert_eq!(opened, size);
    // Its own step counted: a second step from the same page is based on it.
    let pinned = css(&c, "#expect-note")
        .await
        .attr("data-expect")
        .await
        .unwrap();
    assert_eq!(pinned.as_deref(), Some(r#"{"case:CASE-E2E-2":3}"#));

    // An auditor looks back: on 20 March the ledger did not yet hold the blacklisting that
    // was true from 23 March; known on 25 March, it did.
    sign_in(&c, &base, &auditor).await;
    c.goto(&format!(
        "{base}/?at=2026-03-24T00:00:00&known_at=2026-03-20T00:00:00"
    ))
    .await
    .unwrap();
    css(&c, "#blacklist-empty").await;
    shot(&c, "06-blacklist-known-at-20-march").await;
    c.goto(&format!(
        "{base}/?at=2026-03-24T00:00:00&known_at=2026-03-25T00:00:00"
    ))
    .await
    .unwrap();
    let table = css(&c, "table#blacklist").await.text().await.unwrap();
    assert!(
        table.contains("91330100MA2H0007XM") && table.contains("2026-03-23 09:00:00"),
        "{table}"
    );
    shot(&c, "07-blacklist-known-at-25-march").await;

    // The replay shows what changed between the two moments: the blacklisting appeared.
    c.goto(&format!(
        "{base}/replay?sense=known&from=2026-03-20T00:00:00&to=2026-03-25T00:00:00"
    ))
    .await
    .unwrap();
    let added = css(&c, "#blacklist-added").await.text().await.unwrap();
    assert!(added.contains("91330100MA2H0007XM"), "{added}");
    shot(&c, "07b-replay-diff").await;

    // The auditor checks an export they hold against the key the hospital gave them: intact
    // as exported, and a changed byte found at its record.
    let export = server.get("/api/export", Some(&auditor)).body;
    let export_path = dir.path().join("held-export.jsonl");
    std::fs::write(&export_path, &export).unwrap();
    let changed = String::from_utf8(export).unwrap().replacen(
        "\"seq\":8,\"recorded_at\":\"2026-03-02T00:31:00.000000Z\"",
        "\"seq\":8,\"recorded_at\":\"2026-03-02T00:31:01.000000Z\"",
        1,
    );
    let changed_path = dir.path().join("changed-export.jsonl");
    std::fs::write(&changed_path, changed).unwrap();
    let vkey = std::fs::read_to_string(data.join("ledger.vkey")).unwrap();
    c.goto(&format!("{base}/ledger")).await.unwrap();
    css(&c, "a#verify-link").await.click().await.unwrap();
    css(&c, "body[data-ready=true]").await;
    css(&c, "#verify-file")
        .await
        .send_keys(export_path.to_str().unwrap())
        .await
        .unwrap();
    css(&c, "#verify-vkey")
        .await
        .send_keys(vkey.trim())
        .await
        .unwrap();
    css(&c, "#verify-submit").await.click().await.unwrap();
    let outcome = css(&c, "#verify-outcome[data-intact=true]").await;
    let text = outcome.text().await.unwrap();
    assert!(text.contains("完好") && text.contains("固定"), "{text}");
    shot(&c, "07c-export-verified").await;
    // Requiring the auditor's witness: the demo's checkpoint carries its cosignature, but the
    // export's newest one (signed at export, after today's steps) does not yet.
    let witness = std::fs::read_to_string(data.join("keys/witness.vkey")).unwrap();
    css(&c, "#verify-witnesses")
        .await
        .send_keys(witness.trim())
        .await
        .unwrap();
    let quorum = css(&c, "#verify-quorum").await;
    quorum.clear().await.unwrap();
    quorum.send_keys("1").await.unwrap();
    css(&c, "#verify-submit").await.click().await.unwrap();
    let unmet = css(&c, "#verify-outcome[data-intact=false]")
        .await
        .text()
        .await
        .unwrap();
    assert!(unmet.contains("witness"), "{unmet}");
    shot(&c, "07c2-export-newest-checkpoint-not-witnessed").await;
    css(&c, "#verify-witnesses").await.clear().await.unwrap();
    quorum.clear().await.unwrap();
    quorum.send_keys("0").await.unwrap();
    css(&c, "#verify-file")
        .await
        .send_keys(changed_path.to_str().unwrap())
        .await
        .unwrap();
    css(&c, "#verify-submit").await.click().await.unwrap();
    css(&c, "#verify-outcome[data-intact=false]").await;
    css(&c, "#verify-outcome tr[data-code=hash-mismatch]").await;
    shot(&c, "07d-export-changed-byte-found").await;

    // In English on request.
    c.goto(&format!("{base}/lang/en")).await.unwrap();
    assert_eq!(css(&c, "h1").await.text().await.unwrap(), "Blacklist");
    c.goto(&format!("{base}/ledger")).await.unwrap();
    shot(&c, "08-ledger-en").await;

    c.close().await.unwrap();
    let log = server.stop();
    assert!(
        log.contains("chen.discipline") && log.contains("/api/records/"),
        "{log}"
    );
}
