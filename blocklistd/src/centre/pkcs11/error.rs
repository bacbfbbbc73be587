//! [`Pkcs11Error`]: why a key in a token could not be used, naming the URI
//! (token and object) and, for a refused call, the PKCS#11 return code.

use std::fmt;
use std::path::PathBuf;

use cryptoki::context::Function;
use cryptoki::error::RvError;

/// A token key that could not be found, generated or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Pkcs11Error {
    /// The URI does not parse.
    #[error("invalid PKCS#11 URI {uri:?}: {reason}")]
    Uri {
        /// The URI as given (a `pin-value` blanked).
        uri: String,
        /// What is wrong.
        reason: String,
    },
    /// No module was named anywhere.
    #[error("{uri}: no PKCS#11 module: give --pkcs11-module PATH, set BLOCKLIST_PKCS11_MODULE or add ?module-path=PATH")]
    NoModule {
        /// The key's URI.
        uri: String,
    },
    /// The module could not be loaded or initialised.
    #[error("cannot load PKCS#11 module {module}: {reason}")]
    Module {
        /// The module's path.
        module: PathBuf,
        /// What the loader or C_Initialize said.
        reason: String,
    },
    /// No token present matches the URI.
    #[error("{uri}: no token present matches (module {module}; tokens present: {present})")]
    TokenAbsent {
        /// The key's URI.
        uri: String,
        /// The module asked.
        module: PathBuf,
        /// The labels of the tokens that are present.
        present: String,
    },
    /// More than one token matches the URI.
    #[error("{uri}: {count} tokens match; name one by token=, serial= or slot-id=")]
    TokenAmbiguous {
        /// The key's URI.
        uri: String,
        /// How many match.
        count: usize,
    },
    /// No PIN was given for a token that needs a login.
    #[error("{uri}: no PIN: add ?pin-source=file:PATH to the URI or set BLOCKLIST_PKCS11_PIN")]
    NoPin {
        /// The key's URI.
        uri: String,
    },
    /// The PIN file could not be read, or others can read it.
    #[error("{uri}: PIN file {path}: {reason}")]
    PinFile {
        /// The key's URI.
        uri: String,
        /// The PIN file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The token refused the login (a wrong PIN: CKR_PIN_INCORRECT).
    #[error("{uri}: login to token {token:?} refused: {rv}")]
    Login {
        /// The key's URI.
        uri: String,
        /// The token's label.
        token: String,
        /// The return code.
        rv: ReturnCode,
    },
    /// The URI names no object (`object=` or `id=`) to use.
    #[error("{uri}: name the key by object= (its label) or id=")]
    NoObjectNamed {
        /// The key's URI.
        uri: String,
    },
    /// No key object matches in the token.
    #[error("{uri}: no {class} key object {object:?} in token {token:?}")]
    ObjectNotFound {
        /// The key's URI.
        uri: String,
        /// The token's label.
        token: String,
        /// The object's label, or `id=` in hex.
        object: String,
        /// `private` or `public`.
        class: &'static str,
    },
    /// More than one key object matches.
    #[error(
        "{uri}: {count} {class} key objects match in token {token:?}; name one by object= and id="
    )]
    ObjectAmbiguous {
        /// The key's URI.
        uri: String,
        /// The token's label.
        token: String,
        /// How many match.
        count: usize,
        /// `private` or `public`.
        class: &'static str,
    },
    /// `keygen` found a key of that name already: it never replaces one.
    #[error("{uri}: token {token:?} holds a key object {object:?} already; a signing key is never replaced")]
    ObjectExists {
        /// The key's URI.
        uri: String,
        /// The token's label.
        token: String,
        /// The object's label.
        object: String,
    },
    /// The object is a key, but not an Ed25519 one.
    #[error("{uri}: not an ed25519 key: {reason}")]
    NotEd25519 {
        /// The key's URI.
        uri: String,
        /// What was found.
        reason: String,
    },
    /// The token lacks a mechanism the command needs.
    #[error("{uri}: token {token:?} does not support {mechanism}")]
    MechanismUnsupported {
        /// The key's URI.
        uri: String,
        /// The token's label.
        token: String,
        /// The mechanism (CKM_EDDSA, CKM_EC_EDWARDS_KEY_PAIR_GEN).
        mechanism: &'static str,
    },
    /// A generated private key is not protected as asked.
    #[error("{uri}: the token left the generated private key {attribute}; it is kept, but do not use it as a centre key")]
    Unprotected {
        /// The key's URI.
        uri: String,
        /// What is wrong (`extractable`, `not sensitive`).
        attribute: &'static str,
    },
    /// Any other call the token refused.
    #[error("{uri}: {function} failed: {rv}")]
    Call {
        /// The key's URI.
        uri: String,
        /// The PKCS#11 function.
        function: Function,
        /// The return code.
        rv: ReturnCode,
    },
    /// The cryptoki layer failed outside a PKCS#11 call (a malformed answer).
    #[error("{uri}: {reason}")]
    Wrapper {
        /// The key's URI.
        uri: String,
        /// cryptoki's message.
        reason: String,
    },
}

impl Pkcs11Error {
    /// The error for a failed cryptoki call on the key named by `uri`.
    pub(crate) fn call(uri: &str) -> impl FnOnce(cryptoki::error::Error) -> Pkcs11Error + '_ {
        move |error| match error {
            cryptoki::error::Error::Pkcs11(rv, function) => Pkcs11Error::Call {
                uri: uri.to_owned(),
                function,
                rv: ReturnCode(rv),
            },
            other => Pkcs11Error::Wrapper {
                uri: uri.to_owned(),
                reason: other.to_string(),
            },
        }
    }
}

/// A PKCS#11 return code, shown by its name in the standard (`CKR_PIN_INCORRECT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReturnCode(pub RvError);

impl fmt::Display for ReturnCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // cryptoki names each code after the standard's in CamelCase
        // (PinIncorrect for CKR_PIN_INCORRECT); its Display is a paragraph.
        let camel = format!("{:?}", self.0);
        f.write_str("CKR")?;
        for c in camel.chars() {
            if c.is_ascii_uppercase() {
                f.write_str("_")?;
            }
            write!(f, "{}", c.to_ascii_uppercase())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_codes_show_their_standard_names() {
        for (rv, name) in [
            (RvError::PinIncorrect, "CKR_PIN_INCORRECT"),
            (RvError::TokenNotPresent, "CKR_TOKEN_NOT_PRESENT"),
            (RvError::MechanismInvalid, "CKR_MECHANISM_INVALID"),
            (RvError::KeyHandleInvalid, "CKR_KEY_HANDLE_INVALID"),
        ] {
            assert_eq!(ReturnCode(rv).to_string(), name);
        }
    }
}
