//! An [`Entry`]: an identifier with the metadata a hit returns.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::identifier::Identifier;

/// Seconds since the Unix epoch (UTC). Documents, the store and the index
/// all carry time in this one unit.
///
/// ```
/// use blocklist_lookup::Timestamp;
/// let t = Timestamp(1_700_000_000);
/// assert!(t < Timestamp::now());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The current wall-clock time (a clock before 1970 reads as 0).
    pub fn now() -> Timestamp {
        Timestamp(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        )
    }

    /// This time plus `secs`, saturating.
    pub fn plus(self, secs: u64) -> Timestamp {
        Timestamp(self.0.saturating_add(secs))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@{}", self.0)
    }
}

/// Why an identifier is listed: a numeric category code agreed between the
/// centre and its members. The named codes are documented in `docs/FORMAT.md`;
/// other codes pass through unchanged so a centre can add categories.
///
/// ```
/// use blocklist_lookup::Reason;
/// assert_eq!(Reason::MULE_ACCOUNT.name(), Some("mule_account"));
/// assert_eq!(Reason::from_name("phishing"), Some(Reason::PHISHING));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reason(pub u16);

impl Reason {
    /// No category given.
    pub const UNSPECIFIED: Reason = Reason(0);
    /// An account used to receive or move scam proceeds.
    pub const MULE_ACCOUNT: Reason = Reason(1);
    /// A number used for scam calls.
    pub const SCAM_CALL: Reason = Reason(2);
    /// A number used for scam SMS.
    pub const SCAM_SMS: Reason = Reason(3);
    /// A domain used for phishing (credential theft).
    pub const PHISHING: Reason = Reason(4);
    /// A domain or number used for investment or shopping fraud.
    pub const FRAUD: Reason = Reason(5);
    /// An identifier used to spread malware.
    pub const MALWARE: Reason = Reason(6);
    /// An identifier impersonating a government agency or bank.
    pub const IMPERSONATION: Reason = Reason(7);

    const NAMED: NamedCodes = NamedCodes(&[
        (Reason::UNSPECIFIED.0, "unspecified"),
        (Reason::MULE_ACCOUNT.0, "mule_account"),
        (Reason::SCAM_CALL.0, "scam_call"),
        (Reason::SCAM_SMS.0, "scam_sms"),
        (Reason::PHISHING.0, "phishing"),
        (Reason::FRAUD.0, "fraud"),
        (Reason::MALWARE.0, "malware"),
        (Reason::IMPERSONATION.0, "impersonation"),
    ]);

    /// The code's name, when it is one of the named codes.
    pub fn name(self) -> Option<&'static str> {
        Self::NAMED.name(self.0)
    }

    /// The code for a name (case-insensitive), or for a decimal number.
    pub fn from_name(name: &str) -> Option<Reason> {
        Self::NAMED.read(name).map(Reason)
    }
}

/// The named values of a 16-bit code that passes unnamed values through (a
/// listing's [`Reason`], a removal's reason): each value's name, and the
/// reading of a name (case-insensitive) or of a decimal number.
///
/// ```
/// use blocklist_lookup::NamedCodes;
/// const COLOURS: NamedCodes = NamedCodes(&[(0, "none"), (1, "red")]);
/// assert_eq!(COLOURS.name(1), Some("red"));
/// assert_eq!(COLOURS.read(" RED "), Some(1));
/// assert_eq!(COLOURS.read("7"), Some(7));
/// assert_eq!(COLOURS.read("blue"), None);
/// ```
pub struct NamedCodes(pub &'static [(u16, &'static str)]);

impl NamedCodes {
    /// The name of `code`, when it has one.
    pub fn name(&self, code: u16) -> Option<&'static str> {
        self.0.iter().find(|(c, _)| *c == code).map(|(_, n)| *n)
    }

    /// The code a name or a decimal number stands for.
    pub fn read(&self, text: &str) -> Option<u16> {
        let text = text.trim();
        if let Ok(code) = text.parse::<u16>() {
            return Some(code);
        }
        self.0
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(text))
            .map(|(c, _)| *c)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "reason#{}", self.0),
        }
    }
}

/// The agency that listed an entry: a short id such as `th-aoc` or `bank-004`.
///
/// 1 to [`Agency::MAX_LEN`] bytes of ASCII letters, digits, `.`, `_` and `-`,
/// so it fits the fixed field of a C result and needs no escaping anywhere.
///
/// ```
/// use blocklist_lookup::Agency;
/// assert!(Agency::new("th-aoc").is_ok());
/// assert!(Agency::new("has space").is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
// Shared, not boxed: a snapshot holds millions of entries from a handful of agencies.
pub struct Agency(std::sync::Arc<str>);

/// An agency id that breaks the rules of [`Agency`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid agency id {id:?}: use 1 to 31 ASCII letters, digits, '.', '_' or '-'")]
pub struct InvalidAgency {
    /// The id as given.
    pub id: String,
}

impl Agency {
    /// The longest agency id, in bytes (the C result reserves one more for NUL).
    pub const MAX_LEN: usize = 31;

    /// Checks and wraps an agency id.
    pub fn new(id: &str) -> Result<Agency, InvalidAgency> {
        let ok = !id.is_empty()
            && id.len() <= Self::MAX_LEN
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if ok {
            Ok(Agency(id.into()))
        } else {
            Err(InvalidAgency { id: id.to_owned() })
        }
    }

    /// The id text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Agency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a hit returns besides "listed": why, by whom, since when, until when.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EntryMeta {
    /// The category of fraud.
    pub reason: Reason,
    /// Who listed it.
    pub agency: Agency,
    /// When it was listed.
    pub listed_at: Timestamp,
    /// When it stops matching (freezes are often temporary); `None` never expires.
    pub expires_at: Option<Timestamp>,
}

impl EntryMeta {
    /// The latest `listed_at` or `expires_at` an entry may carry:
    /// 2106-02-07 06:28:14 UTC. Replicas keep entry times as 32-bit seconds
    /// (the lookup index), so a document with a later time is refused when
    /// it is encoded or decoded, before any replica applies it: accepted, it
    /// would commit to the store and then fail every index build.
    pub const LAST_TIME: Timestamp = Timestamp(u32::MAX as u64 - 1);

    /// The first of `listed_at` and `expires_at` that is past
    /// [`LAST_TIME`](Self::LAST_TIME), with its field name.
    ///
    /// ```
    /// # use blocklist_lookup::*;
    /// let mut meta = EntryMeta {
    ///     reason: Reason::MULE_ACCOUNT,
    ///     agency: Agency::new("th-aoc").unwrap(),
    ///     listed_at: Timestamp(1_700_000_000),
    ///     expires_at: None,
    /// };
    /// assert_eq!(meta.time_out_of_range(), None);
    /// meta.expires_at = Some(Timestamp(7_258_118_400)); // 2200-01-01
    /// assert_eq!(meta.time_out_of_range(), Some(("expires_at", Timestamp(7_258_118_400))));
    /// ```
    pub fn time_out_of_range(&self) -> Option<(&'static str, Timestamp)> {
        [
            ("listed_at", Some(self.listed_at)),
            ("expires_at", self.expires_at),
        ]
        .into_iter()
        .find_map(|(field, time)| time.filter(|&t| t > Self::LAST_TIME).map(|t| (field, t)))
    }

    /// Whether the entry still matches at `now`: an entry stops matching at
    /// its expiry time, without waiting for the delta that removes it.
    ///
    /// ```
    /// # use blocklist_lookup::*;
    /// let meta = EntryMeta {
    ///     reason: Reason::MULE_ACCOUNT,
    ///     agency: Agency::new("th-aoc").unwrap(),
    ///     listed_at: Timestamp(100),
    ///     expires_at: Some(Timestamp(200)),
    /// };
    /// assert!(meta.is_active(Timestamp(199)));
    /// assert!(!meta.is_active(Timestamp(200)));
    /// ```
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.expires_at.is_none_or(|end| now < end)
    }
}

/// A listed identifier and its metadata.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Entry {
    /// What is listed.
    pub id: Identifier,
    /// Why, by whom, since and until when.
    pub meta: EntryMeta,
}

/// What a lookup answers for an identifier listed by one or more agencies:
/// the listing that stands for it, and how many listings it has.
///
/// The listing that stands is the one that matches longest (one that never
/// expires, else the latest expiry), then the earliest listed, then the
/// first by agency id: whenever the identifier matches, the listing that
/// stands is active, and every replica picks the same one.
///
/// ```
/// # use blocklist_lookup::*;
/// let listing = |agency: &str, expires: Option<u64>| EntryMeta {
///     reason: Reason::SCAM_CALL,
///     agency: Agency::new(agency).unwrap(),
///     listed_at: Timestamp(100),
///     expires_at: expires.map(Timestamp),
/// };
/// let standing = Standing::of([listing("th-aoc", Some(500)), listing("th-dsi", None)]).unwrap();
/// assert_eq!(standing.meta.agency.as_str(), "th-dsi");
/// assert_eq!(standing.listings, 2);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Standing {
    /// The listing that stands for the identifier.
    pub meta: EntryMeta,
    /// How many agencies list it (at least 1), expired listings not yet
    /// purged included.
    pub listings: u32,
}

impl Standing {
    /// One agency's listing, alone.
    pub fn one(meta: EntryMeta) -> Standing {
        Standing { meta, listings: 1 }
    }

    /// The standing of an identifier with `listings`; `None` for none.
    pub fn of(listings: impl IntoIterator<Item = EntryMeta>) -> Option<Standing> {
        listings
            .into_iter()
            .map(Standing::one)
            .reduce(Standing::merge)
    }

    /// The standing of an identifier listed as in `self` and in `other`.
    pub fn merge(self, other: Standing) -> Standing {
        let listings = self.listings.saturating_add(other.listings);
        let meta = if stands_before(&other.meta, &self.meta) {
            other.meta
        } else {
            self.meta
        };
        Standing { meta, listings }
    }
}

/// One agency's listing alone ([`Standing::one`]).
impl From<&EntryMeta> for Standing {
    fn from(meta: &EntryMeta) -> Standing {
        Standing::one(meta.clone())
    }
}

impl From<&Standing> for Standing {
    fn from(standing: &Standing) -> Standing {
        standing.clone()
    }
}

/// Whether listing `a` stands for its identifier before listing `b`.
fn stands_before(a: &EntryMeta, b: &EntryMeta) -> bool {
    let order = |m: &EntryMeta| {
        (
            std::cmp::Reverse(m.expires_at.map_or(u64::MAX, |t| t.0)),
            m.listed_at,
        )
    };
    (order(a), &a.agency) < (order(b), &b.agency)
}
