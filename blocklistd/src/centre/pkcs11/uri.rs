//! RFC 7512 PKCS#11 URIs: how an operator names a key in a token.
//!
//! ```text
//! pkcs11:token=centre;object=publish-1?pin-source=file:/etc/blocklist/pin
//! ```
//!
//! Path attributes (`;`-separated) pick the token and the object; query
//! attributes (`&`-separated) say where the module and the PIN are. Values
//! are percent-decoded. Only the attributes the centre uses are accepted: an
//! attribute it would silently ignore could make it pick another key than the
//! operator meant, so any other is refused by name. `pin-value` is refused
//! too: a PIN in a URI ends up in shell history and `ps` output.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::centre::pkcs11::Pkcs11Error;

/// The scheme prefix.
pub const SCHEME: &str = "pkcs11:";

/// A parsed PKCS#11 URI naming one key object in one token.
///
/// ```
/// use blocklistd::centre::pkcs11::Pkcs11Uri;
/// let uri: Pkcs11Uri = "pkcs11:token=centre;object=publish%201?pin-source=file:/run/pin"
///     .parse()
///     .unwrap();
/// assert_eq!(uri.token.as_deref(), Some("centre"));
/// assert_eq!(uri.object.as_deref(), Some("publish 1"));
/// assert_eq!(uri.pin_source, Some("/run/pin".into()));
/// assert_eq!(uri.to_string(), "pkcs11:token=centre;object=publish%201?pin-source=file:/run/pin");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pkcs11Uri {
    /// The token's label (`token=`).
    pub token: Option<String>,
    /// The token's manufacturer (`manufacturer=`).
    pub manufacturer: Option<String>,
    /// The token's serial number (`serial=`).
    pub serial: Option<String>,
    /// The token's model (`model=`).
    pub model: Option<String>,
    /// The slot's id (`slot-id=`, decimal).
    pub slot_id: Option<u64>,
    /// The key object's label (`object=`, CKA_LABEL).
    pub object: Option<String>,
    /// The key object's id (`id=`, CKA_ID, raw bytes).
    pub id: Option<Vec<u8>>,
    /// The object class (`type=`); the command decides which half of the key
    /// pair it reads, so this only has to be a valid class name.
    pub object_type: Option<String>,
    /// The PIN file (`pin-source=file:PATH` or `pin-source=PATH`).
    pub pin_source: Option<PathBuf>,
    /// The module (`module-path=`), over `--pkcs11-module`.
    pub module_path: Option<PathBuf>,
}

/// Object classes RFC 7512 names for `type=`.
const OBJECT_TYPES: [&str; 5] = ["public", "private", "cert", "secret-key", "data"];

impl FromStr for Pkcs11Uri {
    type Err = Pkcs11Error;

    fn from_str(text: &str) -> Result<Pkcs11Uri, Pkcs11Error> {
        let bad = |reason: String| Pkcs11Error::Uri {
            // The text may hold a PIN by mistake (pin-value=): never echoed.
            uri: redact(text),
            reason,
        };
        let rest =
            strip_scheme(text).ok_or_else(|| bad(format!("does not start with {SCHEME:?}")))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut uri = Pkcs11Uri::default();
        let mut seen = Vec::new();
        for (section, separator, text) in [(Section::Path, ';', path), (Section::Query, '&', query)]
        {
            for attribute in text.split(separator).filter(|a| !a.is_empty()) {
                let (name, raw) = attribute
                    .split_once('=')
                    .ok_or_else(|| bad(format!("attribute {attribute:?} has no '='")))?;
                if seen.contains(&name) {
                    return Err(bad(format!("attribute {name:?} appears twice")));
                }
                seen.push(name);
                let bytes =
                    decode(raw, section).map_err(|reason| bad(format!("{name}: {reason}")))?;
                uri.set(section, name, bytes).map_err(bad)?;
            }
        }
        Ok(uri)
    }
}

impl Pkcs11Uri {
    fn set(&mut self, section: Section, name: &str, bytes: Vec<u8>) -> Result<(), String> {
        let text = || {
            String::from_utf8(bytes.clone())
                .map_err(|_| format!("{name}: not UTF-8 after decoding"))
        };
        let slot = match (section, name) {
            (Section::Path, "token") => &mut self.token,
            (Section::Path, "manufacturer") => &mut self.manufacturer,
            (Section::Path, "serial") => &mut self.serial,
            (Section::Path, "model") => &mut self.model,
            (Section::Path, "object") => &mut self.object,
            (Section::Path, "id") => {
                self.id = Some(bytes);
                return Ok(());
            }
            (Section::Path, "slot-id") => {
                let value = text()?;
                // RFC 7512: a decimal CK_SLOT_ID, digits only.
                if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(format!("slot-id {value:?} is not a decimal number"));
                }
                self.slot_id = Some(
                    value
                        .parse()
                        .map_err(|_| format!("slot-id {value:?} is out of range"))?,
                );
                return Ok(());
            }
            (Section::Path, "type") => {
                let value = text()?;
                if !OBJECT_TYPES.contains(&value.as_str()) {
                    return Err(format!(
                        "type {value:?} is not one of {}",
                        OBJECT_TYPES.join(", ")
                    ));
                }
                &mut self.object_type
            }
            (Section::Query, "pin-source") => {
                let value = text()?;
                let path = value.strip_prefix("file:").unwrap_or(&value);
                if path.is_empty() || path.starts_with('|') {
                    return Err(format!(
                        "pin-source {value:?}: only a file is read (file:/path)"
                    ));
                }
                self.pin_source = Some(PathBuf::from(path));
                return Ok(());
            }
            (Section::Query, "module-path") => {
                let value = text()?;
                if value.is_empty() {
                    return Err("module-path is empty".to_owned());
                }
                self.module_path = Some(PathBuf::from(value));
                return Ok(());
            }
            (Section::Query, "pin-value") => {
                return Err("pin-value is refused: a PIN in a URI leaks to shell history and process lists; use pin-source=file:PATH or BLOCKLIST_PKCS11_PIN".to_owned())
            }
            (Section::Path, _) => {
                return Err(format!(
                    "path attribute {name:?} is not supported (token, manufacturer, serial, model, slot-id, object, id, type)"
                ))
            }
            (Section::Query, _) => {
                return Err(format!(
                    "query attribute {name:?} is not supported (pin-source, module-path)"
                ))
            }
        };
        *slot = Some(text()?);
        Ok(())
    }
}

impl fmt::Display for Pkcs11Uri {
    /// The URI in a canonical form: attributes in a fixed order, every byte
    /// outside the unreserved set percent-encoded (`/` kept in paths).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(SCHEME)?;
        let slot_id = self.slot_id.map(|id| id.to_string());
        let path: [(&str, Option<&[u8]>); 8] = [
            ("token", self.token.as_deref().map(str::as_bytes)),
            (
                "manufacturer",
                self.manufacturer.as_deref().map(str::as_bytes),
            ),
            ("serial", self.serial.as_deref().map(str::as_bytes)),
            ("model", self.model.as_deref().map(str::as_bytes)),
            ("slot-id", slot_id.as_deref().map(str::as_bytes)),
            ("object", self.object.as_deref().map(str::as_bytes)),
            ("id", self.id.as_deref()),
            ("type", self.object_type.as_deref().map(str::as_bytes)),
        ];
        let present = path
            .iter()
            .filter_map(|(name, value)| Some((name, (*value)?)));
        for (at, (name, value)) in present.enumerate() {
            let separator = if at == 0 { "" } else { ";" };
            write!(f, "{separator}{name}={}", Encoded(value, Section::Path))?;
        }
        let pin = self
            .pin_source
            .as_ref()
            .map(|p| format!("file:{}", p.display()));
        let module = self.module_path.as_ref().map(|p| p.display().to_string());
        let mut separator = "?";
        for (name, value) in [("pin-source", pin), ("module-path", module)] {
            if let Some(value) = value {
                write!(
                    f,
                    "{separator}{name}={}",
                    Encoded(value.as_bytes(), Section::Query)
                )?;
                separator = "&";
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Path,
    Query,
}

/// Whether `byte` may appear unencoded in a value of `section` (RFC 7512
/// section 2.3: unreserved characters, `pk11-res-avail`, and what does not
/// separate attributes there).
fn allowed(byte: u8, section: Section) -> bool {
    byte.is_ascii_alphanumeric()
        || b"-._~:[]@!$'()*+,=".contains(&byte)
        || match section {
            Section::Path => byte == b'&',
            Section::Query => b"/?|".contains(&byte),
        }
}

/// Percent-decodes `raw`, refusing characters RFC 7512 does not allow raw.
fn decode(raw: &str, section: Section) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.bytes();
    while let Some(byte) = bytes.next() {
        if byte == b'%' {
            let pair = [bytes.next(), bytes.next()];
            let hex = match pair {
                [Some(hi), Some(lo)] => [hi, lo],
                _ => return Err("'%' not followed by two hex digits".to_owned()),
            };
            let value = std::str::from_utf8(&hex)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| {
                    format!("'%{}' is not a hex escape", String::from_utf8_lossy(&hex))
                })?;
            out.push(value);
        } else if allowed(byte, section) {
            out.push(byte);
        } else {
            return Err(format!(
                "character {:?} must be percent-encoded",
                char::from(byte)
            ));
        }
    }
    Ok(out)
}

/// A value percent-encoded for output.
struct Encoded<'a>(&'a [u8], Section);

impl fmt::Display for Encoded<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &byte in self.0 {
            let keep = byte.is_ascii_alphanumeric()
                || b"-._~".contains(&byte)
                || (self.1 == Section::Query && b"/:".contains(&byte));
            if keep {
                write!(f, "{}", char::from(byte))?;
            } else {
                write!(f, "%{byte:02X}")?;
            }
        }
        Ok(())
    }
}

/// `text` after its `pkcs11:` scheme, written in any case (RFC 3986: a
/// scheme is case-insensitive), or `None` when it names none.
pub(crate) fn strip_scheme(text: &str) -> Option<&str> {
    let scheme = text.get(..SCHEME.len())?;
    scheme
        .eq_ignore_ascii_case(SCHEME)
        .then(|| &text[SCHEME.len()..])
}

/// `text` with everything from its first `pin-value=` on blanked, for
/// error messages: a PIN holding `&`, or a second `pin-value`, is never
/// echoed either.
fn redact(text: &str) -> String {
    match text.find("pin-value=") {
        Some(at) => format!("{}pin-value=***", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn parse(text: &str) -> Result<Pkcs11Uri, String> {
        text.parse::<Pkcs11Uri>().map_err(|e| e.to_string())
    }

    #[test]
    fn rfc_7512_examples_parse() {
        let uri = parse("pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;model=1.0;object=my-certificate;type=cert;id=%69%95%3E%5C%F4%BD%EC%91;serial=").unwrap();
        assert_eq!(uri.token.as_deref(), Some("The Software PKCS#11 Softtoken"));
        assert_eq!(uri.manufacturer.as_deref(), Some("Snake Oil, Inc."));
        assert_eq!(uri.model.as_deref(), Some("1.0"));
        assert_eq!(uri.object.as_deref(), Some("my-certificate"));
        assert_eq!(uri.object_type.as_deref(), Some("cert"));
        assert_eq!(
            uri.id.as_deref(),
            Some(&[0x69, 0x95, 0x3e, 0x5c, 0xf4, 0xbd, 0xec, 0x91][..])
        );
        assert_eq!(uri.serial.as_deref(), Some(""));

        let uri =
            parse("pkcs11:token=Name%20with%20a%20small%20A%20with%20acute:%20%C3%A1").unwrap();
        assert_eq!(
            uri.token.as_deref(),
            Some("Name with a small A with acute: \u{e1}")
        );

        let uri = parse("pkcs11:object=my-pubkey;type=public").unwrap();
        assert_eq!(uri.object.as_deref(), Some("my-pubkey"));

        let uri = parse(
            "pkcs11:token=my-token;object=my-certificate;type=cert?pin-source=file:/etc/token_pin",
        )
        .unwrap();
        assert_eq!(uri.pin_source, Some(PathBuf::from("/etc/token_pin")));

        let uri =
            parse("pkcs11:slot-id=3;object=k?module-path=/usr/lib/softhsm/libsofthsm2.so").unwrap();
        assert_eq!(uri.slot_id, Some(3));
        assert_eq!(
            uri.module_path,
            Some(PathBuf::from("/usr/lib/softhsm/libsofthsm2.so"))
        );
        assert_eq!(parse("pkcs11:").unwrap(), Pkcs11Uri::default());
    }

    #[test]
    fn pin_value_is_refused_and_never_echoed() {
        let err = parse("pkcs11:token=centre;object=k?pin-value=123456").unwrap_err();
        assert!(err.contains("pin-value is refused"), "{err}");
        assert!(!err.contains("123456"), "{err}");
        // A second pin-value, a PIN holding `&`, an upper-case scheme.
        for (text, pin) in [
            ("pkcs11:object=k?pin-value=1&pin-value=2468", "2468"),
            ("pkcs11:object=k?pin-value=12&34", "34"),
            ("PKCS11:object=k?pin-value=97531", "97531"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(!err.contains(pin), "{text}: {err}");
        }
    }

    #[test]
    fn the_scheme_is_read_in_any_case() {
        assert_eq!(
            parse("PKCS11:token=centre;object=k").unwrap(),
            parse("pkcs11:token=centre;object=k").unwrap()
        );
        assert_eq!(strip_scheme("Pkcs11:object=k"), Some("object=k"));
        assert_eq!(strip_scheme("keys/root"), None);
    }

    #[test]
    fn unsupported_or_repeated_attributes_are_refused_by_name() {
        for (text, expected) in [
            (
                "pkcs11:slot-description=Sun%20Metaslot",
                "\"slot-description\"",
            ),
            ("pkcs11:token=a;x-vendor=b", "\"x-vendor\""),
            ("pkcs11:object=k?module-name=softhsm2", "\"module-name\""),
            ("pkcs11:token=a;token=b", "\"token\" appears twice"),
            ("pkcs11:object", "has no '='"),
            ("pkcs11:type=key", "type \"key\""),
            ("pkcs11:slot-id=-1", "not a decimal"),
            ("pkcs11:slot-id=99999999999999999999999", "out of range"),
            ("pkcs11:object=a%2", "two hex digits"),
            ("pkcs11:object=a%zz", "'%zz'"),
            ("pkcs11:object=a b", "' ' must be percent-encoded"),
            ("pkcs11:object=%FF", "not UTF-8"),
            ("pkcs11:object=k?pin-source=|/bin/pin", "only a file"),
            ("token=centre", "does not start with \"pkcs11:\""),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }

    fn value() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(any::<String>())
    }

    proptest! {
        #[test]
        fn parsing_never_panics(text in "pkcs11:[ -~]{0,60}") {
            let _ = text.parse::<Pkcs11Uri>();
        }

        #[test]
        fn display_parses_back_to_the_same_uri(
            token in value(),
            object in value(),
            serial in value(),
            id in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20)),
            slot_id in proptest::option::of(any::<u64>()),
            pin in proptest::option::of("/[a-z0-9 _&;?%=/.-]{1,30}"),
            module in proptest::option::of("/[a-z0-9 _&;?%=/.-]{1,30}"),
        ) {
            let uri = Pkcs11Uri {
                token,
                object,
                serial,
                id,
                slot_id,
                pin_source: pin.map(PathBuf::from),
                module_path: module.map(PathBuf::from),
                ..Pkcs11Uri::default()
            };
            let text = uri.to_string();
            prop_assert_eq!(text.parse::<Pkcs11Uri>().unwrap(), uri, "{}", text);
        }
    }
}
