//! Who is asking, and what their role lets them do over HTTP (`schemas/HTTP.md`,
//! "Authentication").
//!
//! Each person gets a bearer token (`probity token add`). The server keeps only the token's
//! SHA-256 in its tokens file, with the user name and one role from `schemas/roles.md`, so a
//! stolen tokens file gives no one a token. A token authenticates *requests*; it never signs
//! anything: every event is signed by its recorder's own key before it reaches the server, and
//! the ledger checks that key's role again. So a clerk's token in hostile hands can read what
//! a clerk may read and submit events someone else already signed, nothing more.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use probity_core::roles::Role;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a route needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone: health, metrics, the blacklist and policy (published by the hospital), the
    /// ledger's status, checkpoints and proofs (which prove, and reveal no content).
    Public,
    /// Any holder of a token: supplier and case pages, the key list, event forms.
    Staff,
    /// The discipline office, auditors and administrators: findings, reps, staff, records,
    /// exports.
    Oversight,
    /// Submitting signed events: any role that may record something (not auditors, who record
    /// nothing).
    Record,
}

/// What a caller may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// The operator of a server without a tokens file (loopback only): may do everything.
    Operator,
    /// No token: public routes only.
    Anonymous,
    /// A token holder with this role.
    Holder(Role),
}

/// Who made a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The user name in the tokens file (`local` for the operator, `-` without a token).
    pub user: String,
    /// What they may be.
    pub standing: Standing,
}

impl Caller {
    /// The operator of a server without a tokens file.
    pub fn local() -> Caller {
        Caller {
            user: "local".into(),
            standing: Standing::Operator,
        }
    }

    /// Someone with no token.
    pub fn anonymous() -> Caller {
        Caller {
            user: "-".into(),
            standing: Standing::Anonymous,
        }
    }

    /// Whether this caller may use a route that needs `access`.
    pub fn may(&self, access: Access) -> bool {
        let role = match self.standing {
            Standing::Operator => return true,
            Standing::Anonymous => return access == Access::Public,
            Standing::Holder(role) => role,
        };
        match access {
            Access::Public | Access::Staff => true,
            Access::Oversight => matches!(
                role,
                Role::DisciplineOffice | Role::Auditor | Role::Administrator
            ),
            Access::Record => role != Role::Auditor,
        }
    }

    /// The role's name, for messages (`-` for the operator and the anonymous).
    pub fn role_name(&self) -> &'static str {
        match self.standing {
            Standing::Holder(role) => role.as_str(),
            Standing::Operator | Standing::Anonymous => "-",
        }
    }
}

/// Why the tokens file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// I/O.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not a tokens file.
    #[error("{path}: {reason}")]
    Malformed {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// Others may read it.
    #[error("{path} is readable by others (mode {mode:o}); run: chmod 600 {path}")]
    TooOpen {
        /// The file.
        path: String,
        /// Its mode.
        mode: u32,
    },
    /// A user name that is already there, or not a name.
    #[error("{0}")]
    BadUser(String),
}

/// One line of the tokens file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    user: String,
    role: String,
    /// Hex SHA-256 of the token.
    sha256: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    token: Vec<Entry>,
}

/// The tokens a server accepts.
#[derive(Clone, Debug, Default)]
pub struct Tokens {
    by_hash: HashMap<[u8; 32], Caller>,
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TokenError + '_ {
    move |source| TokenError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn read_file(path: &Path) -> Result<File, TokenError> {
    let malformed = |reason: String| TokenError::Malformed {
        path: path.display().to_string(),
        reason,
    };
    if let Some(mode) = probity_ledger::keyfile::too_open(path).map_err(io(path))? {
        return Err(TokenError::TooOpen {
            path: path.display().to_string(),
            mode,
        });
    }
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    let file: File = toml::from_str(&text).map_err(|e| malformed(e.to_string()))?;
    Ok(file)
}

impl Tokens {
    /// Reads a tokens file (mode 0600; see the module).
    pub fn read(path: &Path) -> Result<Tokens, TokenError> {
        let file = read_file(path)?;
        let malformed = |reason: String| TokenError::Malformed {
            path: path.display().to_string(),
            reason,
        };
        let mut by_hash = HashMap::new();
        for entry in file.token {
            let role = Role::parse(&entry.role).ok_or_else(|| {
                malformed(format!(
                    "user {:?}: unknown role {:?}; one of: {}",
                    entry.user,
                    entry.role,
                    Role::ALL.map(|r| r.as_str()).join(", ")
                ))
            })?;
            let mut hash = [0u8; 32];
            hex::decode_to_slice(&entry.sha256, &mut hash).map_err(|_| {
                malformed(format!(
                    "user {:?}: sha256 must be 64 hex characters",
                    entry.user
                ))
            })?;
            let caller = Caller {
                user: entry.user,
                standing: Standing::Holder(role),
            };
            if by_hash.insert(hash, caller).is_some() {
                return Err(malformed("two users share a token".into()));
            }
        }
        Ok(Tokens { by_hash })
    }

    /// Who holds `token`, if anyone.
    pub fn caller(&self, token: &str) -> Option<&Caller> {
        self.by_hash.get(&digest(token))
    }

    /// How many tokens there are.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }
}

/// Makes a token for `user` with `role`, adds its hash to the tokens file at `path` (created
/// with mode 0600 if missing) and returns the token: shown once, never stored.
pub fn add_token(path: &Path, user: &str, role: Role) -> Result<String, TokenError> {
    let valid = !user.is_empty()
        && user.len() <= 64
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c));
    if !valid {
        return Err(TokenError::BadUser(format!(
            "user {user:?}: 1–64 of A-Z a-z 0-9 - _ . @"
        )));
    }
    let mut file = if path.exists() {
        read_file(path)?
    } else {
        File::default()
    };
    if file.token.iter().any(|e| e.user == user) {
        return Err(TokenError::BadUser(format!(
            "user {user:?} already has a token in {}; remove its [[token]] entry first to replace it",
            path.display()
        )));
    }
    let mut secret = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut secret);
    let token = format!("pbt_{}", hex::encode(secret));
    file.token.push(Entry {
        user: user.to_owned(),
        role: role.as_str().to_owned(),
        sha256: hex::encode(digest(&token)),
    });
    let text = toml::to_string(&file).map_err(|e| TokenError::Malformed {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let header = "# Probity HTTP tokens: `probity token add` writes this file. Only each token's\n# SHA-256 is kept; the token itself was shown once to the person it belongs to.\n";
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut out = options.open(&tmp).map_err(io(&tmp))?;
    out.write_all(header.as_bytes()).map_err(io(&tmp))?;
    out.write_all(text.as_bytes()).map_err(io(&tmp))?;
    out.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))?;
    Ok(token)
}

/// The token a request carries: `Authorization: Bearer <token>`, else the console's
/// `probity_token` cookie.
pub fn presented(headers: &axum::http::HeaderMap) -> Option<String> {
    if let Some(value) = headers.get(axum::http::header::AUTHORIZATION) {
        return value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_owned());
    }
    cookie(headers, "probity_token").map(str::to_owned)
}

/// The value of the cookie `name` a request carries.
pub fn cookie<'h>(headers: &'h axum::http::HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_kept_only_as_its_hash_and_names_its_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.toml");
        let clerk = add_token(&path, "wang.fang", Role::Clerk).unwrap();
        let auditor = add_token(&path, "li.audit", Role::Auditor).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(&clerk) && !text.contains(&auditor));
        let tokens = Tokens::read(&path).unwrap();
        assert_eq!(tokens.len(), 2);
        let caller = tokens.caller(&clerk).unwrap();
        assert_eq!(
            (caller.user.as_str(), caller.standing),
            ("wang.fang", Standing::Holder(Role::Clerk))
        );
        assert!(tokens.caller("pbt_guess").is_none());
        assert!(matches!(
            add_token(&path, "wang.fang", Role::Clerk),
            Err(TokenError::BadUser(_))
        ));
    }

    #[test]
    fn roles_reach_what_they_may() {
        let of = |role| Caller {
            user: "u".into(),
            standing: Standing::Holder(role),
        };
        assert!(of(Role::Clerk).may(Access::Record));
        assert!(!of(Role::Clerk).may(Access::Oversight));
        assert!(of(Role::Auditor).may(Access::Oversight));
        assert!(!of(Role::Auditor).may(Access::Record));
        assert!(of(Role::DisciplineOffice).may(Access::Record));
        assert!(Caller::local().may(Access::Oversight));
        assert!(Caller::anonymous().may(Access::Public));
        assert!(!Caller::anonymous().may(Access::Staff));
    }

    /// A tokens file that is not one is refused whole, naming what is wrong.
    #[cfg(unix)]
    #[test]
    fn a_malformed_tokens_file_is_refused_saying_why() {
        use std::os::unix::fs::OpenOptionsExt;
        let dir = tempfile::tempdir().unwrap();
        let hash = "ab".repeat(32);
        for (text, says) in [
            (format!("[[token]]\nuser = \"a\"\nrole = \"wizard\"\nsha256 = \"{hash}\"\n"), "unknown role \"wizard\""),
            ("[[token]]\nuser = \"a\"\nrole = \"clerk\"\nsha256 = \"xyz\"\n".to_owned(), "64 hex characters"),
            (format!("[[token]]\nuser = \"a\"\nrole = \"clerk\"\nsha256 = \"{hash}\"\nadmin = true\n"), "unknown field"),
            (format!("[[token]]\nuser = \"a\"\nrole = \"clerk\"\nsha256 = \"{hash}\"\n[[token]]\nuser = \"b\"\nrole = \"auditor\"\nsha256 = \"{hash}\"\n"), "share a token"),
        ] {
            let path = dir.path().join("tokens.toml");
            let _ = std::fs::remove_file(&path);
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .unwrap();
            file.write_all(text.as_bytes()).unwrap();
            match Tokens::read(&path) {
                Err(TokenError::Malformed { reason, .. }) => {
                    assert!(reason.contains(says), "{reason} (wanted {says:?})")
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_tokens_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.toml");
        add_token(&path, "a", Role::Clerk).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            Tokens::read(&path),
            Err(TokenError::TooOpen { .. })
        ));
    }
}
