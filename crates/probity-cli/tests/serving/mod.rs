//! `probity serve` as a real process on a demo data directory, and a plain HTTP client for it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use probity_core::prelude::*;
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_probity");

/// Runs `probity` to the end: exit code, stdout, stderr.
pub fn probity(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `probity demo` into `dir/data`.
pub fn demo(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    let (code, _, stderr) = probity(&["demo", "--data", data.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    data
}

/// A token for `user` with `role`, added to `tokens` by `probity token add`.
pub fn token(tokens: &Path, user: &str, role: &str) -> String {
    let (code, stdout, stderr) = probity(&[
        "token",
        "add",
        "--tokens",
        tokens.to_str().unwrap(),
        "--user",
        user,
        "--role",
        role,
        "--json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    v["token"].as_str().unwrap().to_owned()
}

/// A running `probity serve`.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    stderr: PathBuf,
    agent: ureq::Agent,
}

/// An answer: status, content type, body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The error code of an `{"error": …}` answer.
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("not an error: {}", self.text()))
            .to_owned()
    }
}

impl Server {
    /// Starts `probity serve` on `data`, on a free loopback port.
    pub fn start(data: &Path, tokens: Option<&Path>) -> Server {
        let mut args = vec!["--data", data.to_str().unwrap(), "--listen", "127.0.0.1:0"];
        if let Some(tokens) = tokens {
            args.extend(["--tokens", tokens.to_str().unwrap()]);
        }
        Server::start_with(&args, &data.with_extension("serve.log"))
    }

    /// Starts `probity serve ARGS`, its stderr in `log`.
    pub fn start_with(args: &[&str], log: &Path) -> Server {
        let stderr = log.to_owned();
        let mut command = Command::new(BIN);
        command.arg("serve").args(args);
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .map(|addr| format!("http://{addr}"))
            .unwrap_or_else(|| {
                panic!(
                    "probity serve did not start: {line:?} {}",
                    std::fs::read_to_string(&stderr).unwrap_or_default()
                )
            });
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        Server {
            child,
            base,
            stderr,
            agent,
        }
    }

    fn answer(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
        let mut response = response.unwrap();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let mut body = Vec::new();
        response
            .body_mut()
            .as_reader()
            .read_to_end(&mut body)
            .unwrap();
        Answer {
            status: response.status().as_u16(),
            content_type,
            body,
        }
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> Answer {
        let mut request = self.agent.get(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        Self::answer(request.call())
    }

    pub fn post(&self, path: &str, token: Option<&str>, body: &[u8]) -> Answer {
        let mut request = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json");
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        Self::answer(request.send(body))
    }

    /// The ledger's size, as `/api/status` reports it.
    pub fn size(&self) -> u64 {
        self.get("/api/status", None).json()["ok"]["size"]
            .as_u64()
            .unwrap()
    }

    /// Stops it with SIGTERM (as a service manager would); returns what it logged.
    pub fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "probity serve stopped with {status}");
        std::fs::read_to_string(&self.stderr).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An append request for an event of `event_type` with `payload`, signed with the key in
/// `key_file`, as a client that holds the key would send it.
pub fn signed(key_file: &Path, event_type: &str, id: &str, payload: Value) -> Value {
    let key = probity_ledger::keyfile::read_key(key_file).unwrap();
    let mut subjects = Subjects::default();
    for (kind, subject) in probity_events::catalogue::implied_subjects(&payload) {
        subjects.add(probity_core::subject::Subject::new(
            kind,
            SubjectId::new(subject).unwrap(),
        ));
    }
    let body = EventBody {
        id: EventId::new(id).unwrap(),
        event_type: EventType::new(event_type).unwrap(),
        schema: probity_events::spec(event_type).unwrap().schema,
        ledger: LedgerId::new("city-hospital").unwrap(),
        subjects,
        occurred_at: OccurredAt::new(probity_ledger::now().datetime()),
        signer: key.public_key(),
        payload: payload.into(),
    };
    serde_json::json!({ "event": SignedEvent::sign(&body, &key) })
}

/// A walk-in check-in (no booking) of the demo's rep REP-R7: a clerk may record it.
pub fn check_in(id: &str) -> Value {
    serde_json::json!({"visit": id, "filing_number": "REP-R7", "room": "RECEPTION-1", "identity_matched": true})
}

/// Checks `answer` against the published schema `schemas/http/<name>.json`, formats too (a
/// `date-time` must be RFC 3339).
pub fn conforms(name: &str, answer: &Value) {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../schemas/http/{name}.json"));
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    let errors: Vec<String> = validator
        .iter_errors(answer)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{name}: {errors:?}\n{answer}");
}
