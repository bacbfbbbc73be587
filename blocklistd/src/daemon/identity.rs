//! The daemon's identity key: an ed25519 key made on its first start in the
//! data folder (`identity.key`, mode 0600, and `identity.pub`), never
//! overwritten. It signs the daemon's receipts; its id is the replica id the
//! centre registers (`blocklist replicas add`) and `/v1/status` shows.
//!
//! The files are the centre's key files ([`crate::centre::keyfile`]): one
//! format, one permission check. A key that others can read, or that does
//! not read as a key, stops the daemon with the file named: a new key would
//! silently make it another replica.

use std::path::{Path, PathBuf};

use blocklist_core::SecretKey;

use crate::centre::keyfile;
use crate::daemon::DaemonError;

/// The identity's secret key file, in the data folder.
pub const IDENTITY_KEY_FILE: &str = "identity.key";
/// The identity's public key file, beside it: what an operator carries to the centre.
pub const IDENTITY_PUB_FILE: &str = "identity.pub";

/// The identity key of the daemon whose data folder is `data_dir`, made
/// (with its public file) if there is none yet.
///
/// ```
/// use blocklistd::daemon::identity;
/// let data = tempfile::tempdir().unwrap();
/// let made = identity::load_or_create(data.path()).unwrap();
/// let again = identity::load_or_create(data.path()).unwrap();
/// assert_eq!(made.public_key(), again.public_key());
/// ```
pub fn load_or_create(data_dir: &Path) -> Result<SecretKey, DaemonError> {
    let path = data_dir.join(IDENTITY_KEY_FILE);
    let refused = |reason: String| DaemonError::Identity {
        path: path.clone(),
        reason,
    };
    if !path.exists() {
        std::fs::create_dir_all(data_dir).map_err(|source| DaemonError::Io {
            action: "create data folder",
            path: data_dir.to_owned(),
            source,
        })?;
        let made = keyfile::keygen(&prefix(data_dir)).map_err(|e| refused(e.to_string()))?;
        tracing::info!(
            key = %made.secret.display(),
            replica_id = %hex::encode(made.key.id().0),
            "made this daemon's identity key; register it at the centre (blocklist replicas add)"
        );
    }
    let key = keyfile::read_secret(&path).map_err(|e| {
        refused(format!(
            "{e}; the identity key is never made again over one that exists (that would make this daemon another replica): fix it, or remove it and register the new one"
        ))
    })?;
    // A start killed between the two files left the key alone: its public
    // half is what the operator carries to the centre.
    let public = data_dir.join(IDENTITY_PUB_FILE);
    if !public.exists() {
        keyfile::write_public(&public, &key.public_key()).map_err(|e| DaemonError::Identity {
            path: public,
            reason: e.to_string(),
        })?;
    }
    Ok(key)
}

/// The path both files share, without the extension.
fn prefix(data_dir: &Path) -> PathBuf {
    data_dir.join("identity")
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn the_key_is_made_readable_by_the_owner_only_with_its_public_file() {
        let data = tempfile::tempdir().unwrap();
        let key = load_or_create(&data.path().join("data")).unwrap();
        let path = data.path().join("data").join(IDENTITY_KEY_FILE);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let public = keyfile::read_public(&data.path().join("data").join(IDENTITY_PUB_FILE));
        assert_eq!(public.unwrap(), key.public_key());
    }

    #[test]
    fn a_public_file_lost_to_a_killed_start_is_made_again_from_the_key() {
        let data = tempfile::tempdir().unwrap();
        let key = load_or_create(data.path()).unwrap();
        let public = data.path().join(IDENTITY_PUB_FILE);
        std::fs::remove_file(&public).unwrap();
        assert_eq!(
            load_or_create(data.path()).unwrap().public_key(),
            key.public_key()
        );
        assert_eq!(keyfile::read_public(&public).unwrap(), key.public_key());
    }

    #[test]
    fn a_key_others_can_read_or_a_corrupt_one_stops_the_daemon_and_is_kept() {
        let data = tempfile::tempdir().unwrap();
        load_or_create(data.path()).unwrap();
        let path = data.path().join(IDENTITY_KEY_FILE);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = load_or_create(data.path()).unwrap_err().to_string();
        assert!(
            error.contains("identity.key") && error.contains("644"),
            "{error}"
        );
        std::fs::write(&path, "not a key\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let error = load_or_create(data.path()).unwrap_err().to_string();
        assert!(error.contains("identity.key"), "{error}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "not a key\n");
    }
}
