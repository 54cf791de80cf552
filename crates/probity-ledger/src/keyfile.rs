//! Private key files: 64 hex characters of Ed25519 seed, mode 0600, never logged. Reading
//! refuses a file others can read. Also public verifier keys given inline or as a file.

use std::io::Write;
use std::path::{Path, PathBuf};

use probity_core::checkpoint::VerifierKey;
use probity_core::keys::SecretKey;

/// Why a key file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// I/O.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Group or others may read it.
    #[error("{path} is readable by others (mode {mode:o}); run: chmod 600 {path}")]
    TooOpen {
        /// The file.
        path: String,
        /// Its mode.
        mode: u32,
    },
    /// Not a key file.
    #[error("{path} is not a private key file (expected 64 hex characters)")]
    Malformed {
        /// The file.
        path: String,
    },
    /// Not a C2SP verifier key.
    #[error("{given} is not a verifier key (C2SP vkey, or a file holding one): {reason}")]
    NotAVerifierKey {
        /// What was given.
        given: String,
        /// Why it does not parse.
        reason: String,
    },
    /// Refusing to overwrite.
    #[error("{path} exists; refusing to overwrite a key (use --force)")]
    Exists {
        /// The file.
        path: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyFileError + '_ {
    move |source| KeyFileError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// A public verifier key (C2SP vkey, e.g. the ledger's checkpoint key) given inline on a
/// command line, or as the path of a file holding it.
pub fn read_vkey(given: &str) -> Result<VerifierKey, KeyFileError> {
    let path = Path::new(given);
    let text = if path.is_file() {
        std::fs::read_to_string(path).map_err(io(path))?
    } else {
        given.to_owned()
    };
    VerifierKey::parse(text.trim()).map_err(|e| KeyFileError::NotAVerifierKey {
        given: given.to_owned(),
        reason: e.to_string(),
    })
}

/// Writes `key` to `path` as [`write_key`] does, and its public key (base64) to `path.pub`;
/// returns the public key's path.
pub fn write_key_pair(
    path: &Path,
    key: &SecretKey,
    overwrite: bool,
) -> Result<PathBuf, KeyFileError> {
    write_key(path, key, overwrite)?;
    let public = PathBuf::from(format!("{}.pub", path.display()));
    std::fs::write(&public, format!("{}\n", key.public_key().to_base64())).map_err(io(&public))?;
    Ok(public)
}

/// The mode of a file that should be private (a key, a tokens file) when group or others may
/// read it; `None` when only its owner may (or where there are no such modes).
pub fn too_open(path: &Path) -> std::io::Result<Option<u32>> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
        Ok((mode & 0o077 != 0).then_some(mode))
    }
    #[cfg(not(unix))]
    {
        std::fs::metadata(path).map(|_| None)
    }
}

/// Reads a private key file.
pub fn read_key(path: &Path) -> Result<SecretKey, KeyFileError> {
    if let Some(mode) = too_open(path).map_err(io(path))? {
        return Err(KeyFileError::TooOpen {
            path: path.display().to_string(),
            mode,
        });
    }
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    SecretKey::from_seed_hex(&text).map_err(|_| KeyFileError::Malformed {
        path: path.display().to_string(),
    })
}

/// Writes a private key file with mode 0600 (created so, never widened in between).
pub fn write_key(path: &Path, key: &SecretKey, overwrite: bool) -> Result<(), KeyFileError> {
    if path.exists() && !overwrite {
        return Err(KeyFileError::Exists {
            path: path.display().to_string(),
        });
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io(path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io(path))?;
    }
    file.write_all(format!("{}\n", key.to_seed_hex()).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(unix)]
    fn written_keys_are_private_and_read_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        let key = SecretKey::from_seed(&[9; 32]);
        write_key(&path, &key, false).unwrap();
        assert_eq!(read_key(&path).unwrap().public_key(), key.public_key());
        assert!(matches!(
            write_key(&path, &key, false),
            Err(KeyFileError::Exists { .. })
        ));
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(read_key(&path), Err(KeyFileError::TooOpen { .. })));
        let bad = dir.path().join("bad.key");
        std::fs::write(&bad, "nope").unwrap();
        std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(
            read_key(&bad),
            Err(KeyFileError::Malformed { .. })
        ));
    }
}
