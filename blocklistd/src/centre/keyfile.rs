//! Key files: one line of text, a header word then the key in hex.
//!
//! ```text
//! blocklist-secret-key-v1 <64 hex digits: the ed25519 seed>
//! blocklist-public-key-v1 <64 hex digits: the public key>
//! ```
//!
//! Secret key files are created with mode 0600 and refused when group or
//! others can read them, as ssh does: a readable signing key is a leaked one.
//! Public key files (`.pub`) let the root keys stay offline: `init` and
//! `rotate` need root secrets, but name publish keys by their public half.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use blocklist_core::{PublicKey, SecretKey};

use crate::centre::CentreError;

const SECRET_HEADER: &str = "blocklist-secret-key-v1";
const PUBLIC_HEADER: &str = "blocklist-public-key-v1";

/// The paths `keygen` wrote.
#[derive(Debug)]
pub struct KeyPair {
    /// The secret key file (mode 0600).
    pub secret: PathBuf,
    /// The public key file.
    pub public: PathBuf,
    /// The public key.
    pub key: PublicKey,
}

/// Generates a key pair into `<prefix>.key` and `<prefix>.pub`. Neither file
/// may exist: overwriting a signing key is never what an operator meant.
/// Missing folders of the prefix are created, readable by the owner only
/// (they hold secret keys).
pub fn keygen(prefix: &Path) -> Result<KeyPair, CentreError> {
    let secret_path = with_suffix(prefix, "key");
    let public_path = with_suffix(prefix, "pub");
    create_key_folder(&secret_path)?;
    let key = SecretKey::generate().map_err(|e| CentreError::usage(e.to_string()))?;
    // The line is built in one buffer that is wiped after writing, so no copy
    // of the seed outlives this call (SecretKey wipes its own on drop).
    let mut seed = key.to_seed();
    let mut line = vec![0u8; SECRET_HEADER.len() + 1 + 64 + 1];
    line[..SECRET_HEADER.len()].copy_from_slice(SECRET_HEADER.as_bytes());
    line[SECRET_HEADER.len()] = b' ';
    hex::encode_to_slice(
        seed,
        &mut line[SECRET_HEADER.len() + 1..SECRET_HEADER.len() + 65],
    )
    .expect("64 hex digits fit the slice");
    *line.last_mut().expect("not empty") = b'\n';
    let written = write_new(&secret_path, 0o600, &line);
    line.fill(0);
    seed.fill(0);
    written?;
    let public = key.public_key();
    write_public(&public_path, &public)?;
    Ok(KeyPair {
        secret: secret_path,
        public: public_path,
        key: public,
    })
}

/// Creates the missing folders above a key file, readable by the owner only
/// (they may hold secret keys).
pub(crate) fn create_key_folder(file: &Path) -> Result<(), CentreError> {
    match file.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(CentreError::io("create", dir)),
        None => Ok(()),
    }
}

/// Writes a new public key file (it must not exist).
pub fn write_public(path: &Path, key: &PublicKey) -> Result<(), CentreError> {
    write_new(path, 0o644, public_line(key).as_bytes())
}

/// The public key file line for `key`.
pub fn public_line(key: &PublicKey) -> String {
    format!("{PUBLIC_HEADER} {}\n", hex::encode(key.to_bytes()))
}

/// Reads a secret key file, refusing one that group or others can read.
pub fn read_secret(path: &Path) -> Result<SecretKey, CentreError> {
    if let Some(mode) = exposed_mode(path).map_err(CentreError::io("read", path))? {
        return Err(CentreError::KeyPermissions {
            path: path.to_owned(),
            mode,
        });
    }
    let bytes = read_key_line(path, SECRET_HEADER)?;
    Ok(SecretKey::from_seed(&bytes))
}

/// The permission bits of a secret's file (a key, a token PIN) when group or
/// others may read it: such a secret is a leaked one.
pub(crate) fn exposed_mode(path: &Path) -> std::io::Result<Option<u32>> {
    let mode = fs::metadata(path)?.permissions().mode();
    Ok((mode & 0o077 != 0).then_some(mode & 0o777))
}

/// Reads a public key file; a secret key file is accepted too (its public
/// half is derived), so one path can name a key in every role.
pub fn read_public(path: &Path) -> Result<PublicKey, CentreError> {
    let text = fs::read_to_string(path).map_err(CentreError::io("read", path))?;
    if text.starts_with(SECRET_HEADER) {
        return Ok(read_secret(path)?.public_key());
    }
    let bytes = read_key_line(path, PUBLIC_HEADER)?;
    PublicKey::from_bytes(&bytes).map_err(|e| CentreError::KeyFile {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

fn read_key_line(path: &Path, header: &str) -> Result<[u8; 32], CentreError> {
    let bad = |reason: String| CentreError::KeyFile {
        path: path.to_owned(),
        reason,
    };
    let text = fs::read_to_string(path).map_err(CentreError::io("read", path))?;
    let mut words = text.split_whitespace();
    let found = words.next().unwrap_or("");
    if found != header {
        return Err(bad(format!("starts with {found:?}, expected {header:?}")));
    }
    let mut key = [0u8; 32];
    match (words.next(), words.next()) {
        (Some(hex_key), None) if hex::decode_to_slice(hex_key, &mut key).is_ok() => Ok(key),
        _ => Err(bad(format!("expected \"{header} <64 hex digits>\""))),
    }
}

fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut name = prefix.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

/// Creates `path` with `mode` from the start (no window where a secret is
/// world-readable), failing if it exists, whole or not at all: the bytes go
/// to a temporary file beside it, fsynced, which is then linked to `path`
/// (a link, unlike a rename, fails where `path` exists). A crash never
/// leaves an empty or partial key file that the next start would refuse.
fn write_new(path: &Path, mode: u32, bytes: &[u8]) -> Result<(), CentreError> {
    let name = path
        .file_name()
        .ok_or_else(|| CentreError::usage(format!("{} names no file", path.display())))?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let temp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    // A killed writer's (of this process id) would make the create fail.
    let _ = fs::remove_file(&temp);
    let written = write_temp(&temp, mode, bytes).and_then(|()| {
        match fs::hard_link(&temp, path) {
            Ok(()) => Ok(()),
            // A file system without hard links (a FAT key stick): a rename,
            // after the check a link would have made.
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists && !path.exists() => {
                fs::rename(&temp, path)
            }
            Err(e) => Err(e),
        }
        .map_err(CentreError::io("create", path))
    });
    let _ = fs::remove_file(&temp);
    written?;
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(CentreError::io("sync", dir))
}

/// Writes `bytes` to the new file `temp`, created with `mode`, and fsyncs it.
fn write_temp(temp: &Path, mode: u32, bytes: &[u8]) -> Result<(), CentreError> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(temp)
        .map_err(CentreError::io("create", temp))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(CentreError::io("write", temp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keygen_writes_a_pair_that_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let pair = keygen(&dir.path().join("centre")).unwrap();
        let mode = fs::metadata(&pair.secret).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let secret = read_secret(&pair.secret).unwrap();
        assert_eq!(secret.public_key(), pair.key);
        assert_eq!(read_public(&pair.public).unwrap(), pair.key);
        assert_eq!(read_public(&pair.secret).unwrap(), pair.key);
    }

    #[test]
    fn keygen_creates_missing_folders_readable_by_the_owner_only() {
        let tmp = tempfile::tempdir().unwrap();
        let pair = keygen(&tmp.path().join("keys/centre/root")).unwrap();
        assert!(pair.secret.is_file() && pair.public.is_file());
        let mode = fs::metadata(tmp.path().join("keys"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn keygen_refuses_to_overwrite_a_key_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let first = keygen(&dir.path().join("k")).unwrap();
        assert!(matches!(
            keygen(&dir.path().join("k")),
            Err(CentreError::Io {
                action: "create",
                ..
            })
        ));
        assert_eq!(read_secret(&first.secret).unwrap().public_key(), first.key);
        let mut names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["k.key", "k.pub"]);
    }

    #[test]
    fn group_readable_secret_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let pair = keygen(&dir.path().join("k")).unwrap();
        fs::set_permissions(&pair.secret, fs::Permissions::from_mode(0o640)).unwrap();
        assert!(matches!(
            read_secret(&pair.secret),
            Err(CentreError::KeyPermissions { mode: 0o640, .. })
        ));
    }

    #[test]
    fn public_file_with_wrong_header_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.pub");
        fs::write(&path, "ssh-ed25519 AAAA\n").unwrap();
        let err = read_public(&path).unwrap_err().to_string();
        assert!(
            err.contains("expected \"blocklist-public-key-v1\""),
            "{err}"
        );
    }
}
