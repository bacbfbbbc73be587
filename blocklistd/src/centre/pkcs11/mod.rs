//! The centre's keys in a PKCS#11 token (an HSM; SoftHSM2 for trials).
//!
//! A key is named by an RFC 7512 URI ([`Pkcs11Uri`]); its secret half never
//! leaves the token: `keygen` makes it there (sensitive, not extractable) and
//! [`TokenKey`] asks the token to sign (CKM_EDDSA, pure Ed25519). The module
//! comes from the URI's `module-path`, else `--pkcs11-module`, else
//! `BLOCKLIST_PKCS11_MODULE`; the PIN from the URI's `pin-source` file, else
//! `BLOCKLIST_PKCS11_PIN`, never from the command line.
//!
//! Ed25519 in PKCS#11 3.0: keys are CKK_EC_EDWARDS with CKA_EC_PARAMS the
//! DER of the curve OID 1.3.101.112 (or the printable string
//! `edwards25519`), and CKA_EC_POINT the DER OCTET STRING of the 32-byte
//! RFC 8032 public key (some tokens give the 32 bytes bare: both are read).

mod error;
mod uri;

use std::path::{Path, PathBuf};

use blocklist_core::{PublicKey, SignError, Signer};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Function, Pkcs11};
use cryptoki::error::{Error as CryptokiError, RvError};
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;

pub use error::{Pkcs11Error, ReturnCode};
pub(crate) use uri::strip_scheme;
pub use uri::{Pkcs11Uri, SCHEME};

use crate::centre::keyfile;

/// The environment variable naming the module when neither the URI nor
/// `--pkcs11-module` does.
pub const MODULE_ENV: &str = "BLOCKLIST_PKCS11_MODULE";
/// The environment variable holding the PIN when the URI names no `pin-source`.
pub const PIN_ENV: &str = "BLOCKLIST_PKCS11_PIN";

/// DER of the Ed25519 OID 1.3.101.112 (RFC 8410), the curve's CKA_EC_PARAMS.
const ED25519_OID: [u8; 5] = [0x06, 0x03, 0x2b, 0x65, 0x70];
/// DER PrintableString "edwards25519", the other CKA_EC_PARAMS PKCS#11 3.0 allows.
const ED25519_NAME: &[u8] = b"\x13\x0cedwards25519";

/// The modules this process has loaded, and the defaults for module and PIN.
/// One per process: a module is initialised once (C_Initialize twice fails),
/// and every key of one module shares it.
///
/// ```no_run
/// use blocklistd::centre::pkcs11::Tokens;
/// use blocklist_core::Signer as _;
/// let mut tokens = Tokens::from_env(None);
/// let key = tokens
///     .signer(&"pkcs11:token=centre;object=publish-1".parse().unwrap())
///     .unwrap();
/// println!("key id {}", key.public_key().id());
/// ```
pub struct Tokens {
    default_module: Option<PathBuf>,
    env_pin: Option<AuthPin>,
    loaded: Vec<(PathBuf, Pkcs11)>,
}

/// A signing key held in a token, with a logged-in session to it.
pub struct TokenKey {
    session: Session,
    key: ObjectHandle,
    public: PublicKey,
    name: String,
}

/// An open session on the token a URI names.
struct Opened {
    context: Pkcs11,
    session: Session,
    slot: Slot,
    token: String,
    name: String,
}

/// Which half of a key pair an object is.
#[derive(Clone, Copy)]
enum Half {
    Private,
    Public,
}

impl Half {
    fn class(self) -> ObjectClass {
        match self {
            Half::Private => ObjectClass::PRIVATE_KEY,
            Half::Public => ObjectClass::PUBLIC_KEY,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Half::Private => "private",
            Half::Public => "public",
        }
    }
}

impl Tokens {
    /// Defaults from the command line's `--pkcs11-module` (if given) and the
    /// environment ([`MODULE_ENV`], [`PIN_ENV`]).
    pub fn from_env(module_flag: Option<PathBuf>) -> Tokens {
        Tokens::new(
            module_flag.or_else(|| std::env::var_os(MODULE_ENV).map(PathBuf::from)),
            std::env::var(PIN_ENV).ok(),
        )
    }

    /// Defaults given explicitly: the module for URIs without `module-path`,
    /// the PIN for URIs without `pin-source`.
    pub fn new(default_module: Option<PathBuf>, pin: Option<String>) -> Tokens {
        Tokens {
            default_module,
            env_pin: pin.map(AuthPin::from),
            loaded: Vec::new(),
        }
    }

    /// The signing key `uri` names: a logged-in session, the private key
    /// object, and its public half read from the matching public key object.
    pub fn signer(&mut self, uri: &Pkcs11Uri) -> Result<TokenKey, Pkcs11Error> {
        let opened = self.open(uri, false)?;
        opened.require(MechanismType::EDDSA, "CKM_EDDSA")?;
        self.login(uri, &opened)?;
        let key = opened.find_one(uri, Half::Private)?;
        let public = opened.public_key(uri)?;
        Ok(TokenKey {
            session: opened.session,
            key,
            public,
            name: opened.name,
        })
    }

    /// The public key `uri` names (its public key object; no login).
    pub fn public_key(&mut self, uri: &Pkcs11Uri) -> Result<PublicKey, Pkcs11Error> {
        self.open(uri, false)?.public_key(uri)
    }

    /// Generates an Ed25519 key pair in the token `uri` names, labelled by
    /// its `object` (and `id`, if given): the private key sensitive, never
    /// extractable, for signing only. Refuses a label already in use, and a
    /// token that did not honour the protection asked.
    pub fn generate(&mut self, uri: &Pkcs11Uri) -> Result<PublicKey, Pkcs11Error> {
        let opened = self.open(uri, true)?;
        let Some(label) = &uri.object else {
            return Err(Pkcs11Error::NoObjectNamed {
                uri: opened.name.clone(),
            });
        };
        opened.require(
            MechanismType::ECC_EDWARDS_KEY_PAIR_GEN,
            "CKM_EC_EDWARDS_KEY_PAIR_GEN",
        )?;
        self.login(uri, &opened)?;
        let call = Pkcs11Error::call(&opened.name);
        let taken = opened
            .session
            .find_objects(&[Attribute::Label(label.as_bytes().to_vec())])
            .map_err(call)?;
        if !taken.is_empty() {
            return Err(Pkcs11Error::ObjectExists {
                uri: opened.name.clone(),
                token: opened.token.clone(),
                object: label.clone(),
            });
        }
        let mut named = vec![Attribute::Label(label.as_bytes().to_vec())];
        named.extend(uri.id.clone().map(Attribute::Id));
        let public_template = [
            vec![
                Attribute::Token(true),
                Attribute::Private(false),
                Attribute::Verify(true),
                Attribute::EcParams(ED25519_OID.to_vec()),
            ],
            named.clone(),
        ]
        .concat();
        let private_template = [
            vec![
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Sign(true),
            ],
            named,
        ]
        .concat();
        let (public, private) = opened
            .session
            .generate_key_pair(
                &Mechanism::EccEdwardsKeyPairGen,
                &public_template,
                &private_template,
            )
            .map_err(Pkcs11Error::call(&opened.name))?;
        opened.check_protected(private)?;
        ed25519_public(&opened.name, &opened.session, public)
    }

    /// Loads the module (once), finds the one token that matches and opens a session.
    fn open(&mut self, uri: &Pkcs11Uri, read_write: bool) -> Result<Opened, Pkcs11Error> {
        let name = uri.to_string();
        let module = uri
            .module_path
            .clone()
            .or_else(|| self.default_module.clone())
            .ok_or_else(|| Pkcs11Error::NoModule { uri: name.clone() })?;
        let context = self.module(&module)?;
        let call = |e| Pkcs11Error::call(&name)(e);
        let mut matching = Vec::new();
        let mut present = Vec::new();
        for slot in context.get_slots_with_initialized_token().map_err(call)? {
            let info = context.get_token_info(slot).map_err(call)?;
            present.push(format!("{:?}", info.label()));
            let matches =
                |wanted: &Option<String>, found: &str| wanted.as_deref().is_none_or(|w| w == found);
            if matches(&uri.token, info.label())
                && matches(&uri.manufacturer, info.manufacturer_id())
                && matches(&uri.serial, info.serial_number())
                && matches(&uri.model, info.model())
                && uri.slot_id.is_none_or(|id| id == slot.id())
            {
                matching.push((slot, info.label().to_owned()));
            }
        }
        let (slot, token) = match matching.len() {
            1 => matching.remove(0),
            0 => {
                return Err(Pkcs11Error::TokenAbsent {
                    uri: name.clone(),
                    module,
                    present: if present.is_empty() {
                        "none".to_owned()
                    } else {
                        present.join(", ")
                    },
                })
            }
            count => {
                return Err(Pkcs11Error::TokenAmbiguous {
                    uri: name.clone(),
                    count,
                })
            }
        };
        let session = if read_write {
            context.open_rw_session(slot)
        } else {
            context.open_ro_session(slot)
        }
        .map_err(call)?;
        Ok(Opened {
            context,
            session,
            slot,
            token,
            name,
        })
    }

    fn module(&mut self, path: &Path) -> Result<Pkcs11, Pkcs11Error> {
        if let Some((_, context)) = self.loaded.iter().find(|(p, _)| p == path) {
            return Ok(context.clone());
        }
        let failed = |reason: String| Pkcs11Error::Module {
            module: path.to_owned(),
            reason,
        };
        let context = Pkcs11::new(path).map_err(|e| failed(e.to_string()))?;
        match context.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            // Another path to the same library (a symlink) loaded it already.
            Ok(()) | Err(CryptokiError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(CryptokiError::Pkcs11(rv, function)) => {
                return Err(failed(format!("{function} failed: {}", ReturnCode(rv))))
            }
            Err(other) => return Err(failed(other.to_string())),
        }
        self.loaded.push((path.to_owned(), context.clone()));
        Ok(context)
    }

    /// Logs in as the user, with the PIN from the URI's file or the
    /// environment. A token this process logged in to already is fine: login
    /// state is per token and application, shared by its sessions.
    fn login(&self, uri: &Pkcs11Uri, opened: &Opened) -> Result<(), Pkcs11Error> {
        let pin = match &uri.pin_source {
            Some(path) => read_pin(&opened.name, path)?,
            None => self.env_pin.clone().ok_or_else(|| Pkcs11Error::NoPin {
                uri: opened.name.clone(),
            })?,
        };
        match opened.session.login(UserType::User, Some(&pin)) {
            Ok(()) | Err(CryptokiError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(()),
            Err(CryptokiError::Pkcs11(rv, Function::Login)) => Err(Pkcs11Error::Login {
                uri: opened.name.clone(),
                token: opened.token.clone(),
                rv: ReturnCode(rv),
            }),
            Err(other) => Err(Pkcs11Error::call(&opened.name)(other)),
        }
    }
}

impl Opened {
    /// Asks for one mechanism's info (listing them all would make cryptoki
    /// log an error for each vendor mechanism it does not know).
    fn require(&self, mechanism: MechanismType, name: &'static str) -> Result<(), Pkcs11Error> {
        match self.context.get_mechanism_info(self.slot, mechanism) {
            Ok(_) => Ok(()),
            Err(CryptokiError::Pkcs11(RvError::MechanismInvalid, _)) => {
                Err(Pkcs11Error::MechanismUnsupported {
                    uri: self.name.clone(),
                    token: self.token.clone(),
                    mechanism: name,
                })
            }
            Err(other) => Err(Pkcs11Error::call(&self.name)(other)),
        }
    }

    /// The one Ed25519 key object of `half` the URI's `object` and `id` name.
    fn find_one(&self, uri: &Pkcs11Uri, half: Half) -> Result<ObjectHandle, Pkcs11Error> {
        let mut template = vec![
            Attribute::Class(half.class()),
            Attribute::KeyType(KeyType::EC_EDWARDS),
        ];
        template.extend(
            uri.object
                .as_ref()
                .map(|o| Attribute::Label(o.as_bytes().to_vec())),
        );
        template.extend(uri.id.clone().map(Attribute::Id));
        let object = match (&uri.object, &uri.id) {
            (Some(label), _) => label.clone(),
            (None, Some(id)) => format!("id={}", hex::encode(id)),
            (None, None) => {
                return Err(Pkcs11Error::NoObjectNamed {
                    uri: self.name.clone(),
                })
            }
        };
        let mut found = self
            .session
            .find_objects(&template)
            .map_err(Pkcs11Error::call(&self.name))?;
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err(Pkcs11Error::ObjectNotFound {
                uri: self.name.clone(),
                token: self.token.clone(),
                object,
                class: half.name(),
            }),
            count => Err(Pkcs11Error::ObjectAmbiguous {
                uri: self.name.clone(),
                token: self.token.clone(),
                count,
                class: half.name(),
            }),
        }
    }

    fn public_key(&self, uri: &Pkcs11Uri) -> Result<PublicKey, Pkcs11Error> {
        let object = self.find_one(uri, Half::Public)?;
        ed25519_public(&self.name, &self.session, object)
    }

    /// Refuses a private key the token left readable: the property the
    /// centre's key ceremony relies on is checked, not assumed.
    fn check_protected(&self, private: ObjectHandle) -> Result<(), Pkcs11Error> {
        let attributes = self
            .session
            .get_attributes(
                private,
                &[AttributeType::Sensitive, AttributeType::Extractable],
            )
            .map_err(Pkcs11Error::call(&self.name))?;
        let unprotected = |attribute| Pkcs11Error::Unprotected {
            uri: self.name.clone(),
            attribute,
        };
        for attribute in attributes {
            match attribute {
                Attribute::Sensitive(false) => return Err(unprotected("not sensitive")),
                Attribute::Extractable(true) => return Err(unprotected("extractable")),
                _ => {}
            }
        }
        Ok(())
    }
}

/// The Ed25519 public key of a public key object, from CKA_EC_PARAMS and CKA_EC_POINT.
fn ed25519_public(
    name: &str,
    session: &Session,
    object: ObjectHandle,
) -> Result<PublicKey, Pkcs11Error> {
    let attributes = session
        .get_attributes(object, &[AttributeType::EcParams, AttributeType::EcPoint])
        .map_err(Pkcs11Error::call(name))?;
    let not_ed25519 = |reason: String| Pkcs11Error::NotEd25519 {
        uri: name.to_owned(),
        reason,
    };
    let mut point = None;
    for attribute in attributes {
        match attribute {
            Attribute::EcParams(params) if params != ED25519_OID && params != ED25519_NAME => {
                return Err(not_ed25519(format!(
                    "CKA_EC_PARAMS {} names another curve",
                    hex::encode(params)
                )))
            }
            Attribute::EcPoint(bytes) => point = Some(bytes),
            _ => {}
        }
    }
    let point = point.ok_or_else(|| not_ed25519("no CKA_EC_POINT".to_owned()))?;
    let bytes: [u8; 32] = match point.as_slice() {
        [0x04, 0x20, key @ ..] if key.len() == 32 => key.try_into().expect("32 bytes"),
        key if key.len() == 32 => key.try_into().expect("32 bytes"),
        other => {
            return Err(not_ed25519(format!(
                "CKA_EC_POINT {} is not a 32-byte key",
                hex::encode(other)
            )))
        }
    };
    PublicKey::from_bytes(&bytes).map_err(|e| not_ed25519(e.to_string()))
}

/// Reads a PIN file: one line, refused when group or others can read it.
fn read_pin(name: &str, path: &Path) -> Result<AuthPin, Pkcs11Error> {
    let failed = |reason: String| Pkcs11Error::PinFile {
        uri: name.to_owned(),
        path: path.to_owned(),
        reason,
    };
    if let Some(mode) = keyfile::exposed_mode(path).map_err(|e| failed(e.to_string()))? {
        return Err(failed(format!(
            "mode {mode:o}: it must not be readable by group or others (chmod 600)"
        )));
    }
    // Wiped when dropped, as AuthPin wipes its own copy.
    let text =
        zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|e| failed(e.to_string()))?);
    let pin = text.strip_suffix('\n').unwrap_or(&text);
    Ok(AuthPin::from(pin.strip_suffix('\r').unwrap_or(pin)))
}

impl Signer for TokenKey {
    fn public_key(&self) -> PublicKey {
        self.public
    }

    fn sign(&self, message: &[u8]) -> Result<[u8; 64], SignError> {
        let failed = |reason: String| SignError {
            signer: self.name.clone(),
            reason,
        };
        let mechanism = Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure));
        let signature = self
            .session
            .sign(&mechanism, self.key, message)
            .map_err(|e| failed(Pkcs11Error::call(&self.name)(e).to_string()))?;
        signature
            .try_into()
            .map_err(|s: Vec<u8>| failed(format!("a {}-byte signature, not 64", s.len())))
    }
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenKey({}, {:?})", self.name, self.public)
    }
}
