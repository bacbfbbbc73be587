//! A key as the command line names it: a key file, or a key in a PKCS#11
//! token named by its URI. Every option that takes a key file takes a URI.
//!
//! ```text
//! keys/publish.key                          a secret key file (keyfile)
//! pkcs11:token=centre;object=publish-1      a key in a token (pkcs11)
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use blocklist_core::document::{KeySet, Version};
use blocklist_core::{PublicKey, SecretKey, SignError, Signer};

use crate::centre::pkcs11::{self, Pkcs11Error, Pkcs11Uri, TokenKey, Tokens};
use crate::centre::{keyfile, CentreError};

/// Where a key is: a file path, or a token object.
///
/// ```
/// use blocklistd::centre::keys::KeyName;
/// assert!(matches!("keys/root.key".parse(), Ok(KeyName::File(_))));
/// assert!(matches!("pkcs11:token=centre;object=root-a".parse(), Ok(KeyName::Token(_))));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyName {
    /// A key file (secret, or public for the roles that need only that).
    File(PathBuf),
    /// A key object in a PKCS#11 token (boxed: most names are files).
    Token(Box<Pkcs11Uri>),
}

impl FromStr for KeyName {
    type Err = Pkcs11Error;

    fn from_str(text: &str) -> Result<KeyName, Pkcs11Error> {
        if pkcs11::strip_scheme(text).is_some() {
            text.parse().map(|uri| KeyName::Token(Box::new(uri)))
        } else {
            Ok(KeyName::File(PathBuf::from(text)))
        }
    }
}

impl fmt::Display for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyName::File(path) => write!(f, "{}", path.display()),
            KeyName::Token(uri) => write!(f, "{uri}"),
        }
    }
}

/// A key the centre signs with, wherever it is held.
#[derive(Debug)]
pub enum CentreKey {
    /// Read from a key file into memory.
    File(SecretKey),
    /// Held in a token, which signs.
    Token(TokenKey),
}

impl From<SecretKey> for CentreKey {
    fn from(key: SecretKey) -> CentreKey {
        CentreKey::File(key)
    }
}

impl Signer for CentreKey {
    fn public_key(&self) -> PublicKey {
        match self {
            CentreKey::File(key) => key.public_key(),
            CentreKey::Token(key) => key.public_key(),
        }
    }

    fn sign(&self, message: &[u8]) -> Result<[u8; 64], SignError> {
        match self {
            CentreKey::File(key) => Signer::sign(key, message),
            CentreKey::Token(key) => key.sign(message),
        }
    }
}

/// Refuses `signers` unless each is one of `set`, the `role` keys of trust
/// root `root` (a stray signature would make every client refuse the
/// document), and there are at least its threshold of them. `hint` ends both
/// messages (e.g. what the document is signed by).
pub fn check_signers<'k>(
    signers: impl ExactSizeIterator<Item = &'k CentreKey>,
    set: &KeySet,
    role: &str,
    root: Version,
    hint: &str,
) -> Result<(), CentreError> {
    let given = signers.len();
    for key in signers {
        let id = key.public_key().id();
        if set.get(&id).is_none() {
            return Err(CentreError::usage(format!(
                "key {id} is not a {role} key of trust root {root}{hint}"
            )));
        }
    }
    if given < usize::from(set.threshold()) {
        return Err(CentreError::usage(format!(
            "{given} {role} key(s) given, trust root {root} needs {}{hint}",
            set.threshold()
        )));
    }
    Ok(())
}

/// What `keygen` made.
#[derive(Debug)]
pub struct Generated {
    /// Where the secret is: the key file, or the token object's URI.
    pub secret: String,
    /// Whether the secret is in a token (sensitive, not extractable).
    pub in_token: bool,
    /// The public key file.
    pub public_file: PathBuf,
    /// The public key.
    pub key: PublicKey,
}

/// Opens keys by name, with the tokens this process has open.
///
/// ```no_run
/// use blocklistd::centre::keys::Keyring;
/// use blocklistd::centre::pkcs11::Tokens;
/// let mut keyring = Keyring::new(Tokens::from_env(None));
/// let root = keyring.signer(&"pkcs11:token=centre;object=root-a".parse().unwrap()).unwrap();
/// let publish = keyring.public(&"keys/publish.pub".parse().unwrap()).unwrap();
/// ```
pub struct Keyring {
    tokens: Tokens,
}

impl Keyring {
    /// A keyring opening token keys through `tokens`.
    pub fn new(tokens: Tokens) -> Keyring {
        Keyring { tokens }
    }

    /// The signing key `name` names.
    pub fn signer(&mut self, name: &KeyName) -> Result<CentreKey, CentreError> {
        Ok(match name {
            KeyName::File(path) => CentreKey::File(keyfile::read_secret(path)?),
            KeyName::Token(uri) => CentreKey::Token(self.tokens.signer(uri)?),
        })
    }

    /// Each signing key of `names`.
    pub fn signers(&mut self, names: &[KeyName]) -> Result<Vec<CentreKey>, CentreError> {
        names.iter().map(|name| self.signer(name)).collect()
    }

    /// The public key `name` names (a public or secret key file, or a token's
    /// public key object).
    pub fn public(&mut self, name: &KeyName) -> Result<PublicKey, CentreError> {
        Ok(match name {
            KeyName::File(path) => keyfile::read_public(path)?,
            KeyName::Token(uri) => self.tokens.public_key(uri)?,
        })
    }

    /// Each public key of `names`.
    pub fn publics(&mut self, names: &[KeyName]) -> Result<Vec<PublicKey>, CentreError> {
        names.iter().map(|name| self.public(name)).collect()
    }

    /// Generates a key pair: into `<prefix>.key` and `<prefix>.pub` for a
    /// file name; in the token for a URI, with the public half written to
    /// `public_file` (default `<object>.pub` in the current folder), so the
    /// key can be named in `init` and `rotate` without the token.
    pub fn keygen(
        &mut self,
        name: &KeyName,
        public_file: Option<&Path>,
    ) -> Result<Generated, CentreError> {
        match name {
            KeyName::File(prefix) => {
                if public_file.is_some() {
                    return Err(CentreError::usage(
                        "--public is for token keys: a key file's public half is PREFIX.pub",
                    ));
                }
                let pair = keyfile::keygen(prefix)?;
                Ok(Generated {
                    secret: pair.secret.display().to_string(),
                    in_token: false,
                    public_file: pair.public,
                    key: pair.key,
                })
            }
            KeyName::Token(uri) => {
                let public_file = match (public_file, &uri.object) {
                    (Some(path), _) => path.to_owned(),
                    (None, Some(object)) => PathBuf::from(format!("{object}.pub")),
                    (None, None) => {
                        return Err(Pkcs11Error::NoObjectNamed {
                            uri: uri.to_string(),
                        }
                        .into())
                    }
                };
                // Checked before the token is touched: a key made whose
                // public half cannot be written would be an orphan.
                if public_file.exists() {
                    return Err(CentreError::usage(format!(
                        "{} exists: a public key file is never overwritten",
                        public_file.display()
                    )));
                }
                keyfile::create_key_folder(&public_file)?;
                let key = self.tokens.generate(uri)?;
                keyfile::write_public(&public_file, &key)?;
                Ok(Generated {
                    secret: uri.to_string(),
                    in_token: true,
                    public_file,
                    key,
                })
            }
        }
    }
}
