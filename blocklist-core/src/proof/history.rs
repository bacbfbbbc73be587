//! [`History`]: what a verified proof bundle says of its identifier, as data
//! (for `--json`) and in plain words.

use std::fmt::Write as _;

use crate::document::{ListId, RemovalReason, Version};
use crate::entry::{Agency, EntryMeta, Timestamp};
use crate::identifier::Identifier;
use crate::keys::KeyId;
use crate::log::SignedCheckpoint;

/// Who signed for a change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Signer {
    /// The agency, by a submission signed with one of its registered keys.
    Agency {
        /// The agency's id.
        agency: Agency,
        /// Its name in the agency registry.
        name: String,
        /// The key that signed the submission.
        key: KeyId,
        /// The submission's sequence number.
        sequence: u64,
        /// When the centre accepted the submission.
        accepted_at: Timestamp,
        /// For a removal, the reason the agency gave.
        why: Option<RemovalReason>,
    },
    /// A threshold of the override keys, by a signed override.
    Override {
        /// When its signers made it.
        made_at: Timestamp,
        /// The removal reason.
        why: RemovalReason,
        /// The decision in words (a case or appeal reference).
        note: String,
        /// The override keys that signed it.
        keys: Vec<KeyId>,
    },
    /// The centre's publish keys alone: a listing under a label no agency
    /// registered, one made before agencies were principals, or the purge
    /// of a listing that had expired (W6).
    Centre,
}

/// What one operation did to one agency's listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// The agency's listing was made.
    Listed(EntryMeta),
    /// Its reason or expiry changed.
    Updated(EntryMeta),
    /// It was removed; the listing as it stood before.
    Removed(EntryMeta),
}

impl Change {
    /// The listing the change is about (after it, or before a removal).
    pub fn listing(&self) -> &EntryMeta {
        match self {
            Change::Listed(m) | Change::Updated(m) | Change::Removed(m) => m,
        }
    }
}

/// One change to the identifier, where it was published, and who signed
/// for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The version whose delta made it.
    pub version: Version,
    /// When the centre made that delta.
    pub published_at: Timestamp,
    /// The log entry that records that delta.
    pub log_index: u64,
    /// The change.
    pub change: Change,
    /// Who signed for it.
    pub by: Signer,
}

/// One identifier's history, as a verified bundle proves it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct History {
    /// The list.
    pub list: ListId,
    /// The identifier.
    pub id: Identifier,
    /// The version the history runs to.
    pub at: Version,
    /// The trust root in force at the checkpoint, whose keys signed it.
    pub root_version: Version,
    /// The checkpoint every inclusion proof led to, its publish signatures
    /// verified; witnesses' cosignature lines are for the reader who names
    /// them to check ([`crate::log::Witnesses::check`]).
    pub checkpoint: SignedCheckpoint,
    /// The changes, oldest first.
    pub events: Vec<Event>,
    /// The listings standing at `at` after the changes shown.
    pub standing: Vec<EntryMeta>,
    /// Whether the bundle carries agency registry version 1. Without it,
    /// every change shows as the centre's, and that no agency was
    /// registered is the bundle maker's word (PR7).
    pub registered: bool,
}

impl History {
    /// The history in plain words, each time written by `time`.
    ///
    /// ```
    /// use blocklist_core::document::{ListId, Version};
    /// use blocklist_core::log::checkpoint::{origin, Checkpoint, SignedCheckpoint};
    /// use blocklist_core::proof::History;
    /// use blocklist_core::{Identifier, Kind, SecretKey, Sha256, Signer};
    /// let list = ListId::new("demo").unwrap();
    /// let head = Checkpoint { origin: origin(&list), size: 1, root: Sha256::of(b"") };
    /// let key = SecretKey::generate().unwrap();
    /// let history = History {
    ///     list,
    ///     id: Identifier::from_canonical(Kind::Domain, "shop.example").unwrap(),
    ///     at: Version::FIRST, root_version: Version::FIRST,
    ///     checkpoint: SignedCheckpoint::sign(head, &[&key as &dyn Signer]).unwrap(),
    ///     events: vec![], standing: vec![], registered: false,
    /// };
    /// assert!(history.to_words(|t| t.to_string()).contains("At version 1: not listed."));
    /// ```
    pub fn to_words(&self, time: impl Fn(Timestamp) -> String) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} on list {}, up to version {}:",
            self.id, self.list, self.at
        );
        for event in &self.events {
            let meta = event.change.listing();
            let what = match &event.change {
                Change::Listed(m) => format!(
                    "listed by {} for {}, {}",
                    m.agency,
                    m.reason,
                    expiry(m, &time)
                ),
                Change::Updated(m) => format!(
                    "{}'s listing updated: now for {}, {}",
                    m.agency,
                    m.reason,
                    expiry(m, &time)
                ),
                Change::Removed(m) => format!(
                    "{}'s listing (for {}, listed {}) removed",
                    m.agency,
                    m.reason,
                    time(m.listed_at)
                ),
            };
            let by = match &event.by {
                Signer::Agency {
                    agency,
                    name,
                    key,
                    sequence,
                    accepted_at,
                    why,
                } => format!(
                    "{}asked by {agency} ({name}) in its submission {sequence}, signed with its key {} and accepted by the centre {}",
                    why.map_or_else(String::new, |why| format!("because {why}: ")),
                    key.short(),
                    time(*accepted_at)
                ),
                Signer::Override {
                    made_at,
                    why,
                    note,
                    keys,
                } => format!(
                    "by override, over {}'s head: because {why}, \"{note}\"; signed {} by {} override key(s) ({})",
                    meta.agency,
                    time(*made_at),
                    keys.len(),
                    keys.iter().map(KeyId::short).collect::<Vec<_>>().join(", ")
                ),
                Signer::Centre => {
                    "by the centre alone (no agency signed for it: a label's listing, one made before agencies were principals, or one that had expired)".to_owned()
                }
            };
            let _ = writeln!(
                out,
                "- version {}, published {}: {what}; {by}.",
                event.version,
                time(event.published_at)
            );
        }
        if self.events.is_empty() {
            let _ = writeln!(out, "- no change shown.");
        }
        match &self.standing[..] {
            [] => {
                let _ = writeln!(out, "At version {}: not listed.", self.at);
            }
            standing => {
                for m in standing {
                    let _ = writeln!(
                        out,
                        "At version {}: listed by {} for {} since {}, {}.",
                        self.at,
                        m.agency,
                        m.reason,
                        time(m.listed_at),
                        expiry(m, &time)
                    );
                }
            }
        }
        let _ = writeln!(
            out,
            "Proven: every change above is in a delta signed by the centre's publish keys and recorded in its transparency log of {} entries (root {}), whose checkpoint the publish keys of trust root {} signed ({} signature line(s)); every agency's and override's signature and authority is checked as replicas check them.",
            self.checkpoint.checkpoint().size,
            self.checkpoint.checkpoint().root,
            self.root_version,
            self.checkpoint.lines()
        );
        if !self.registered {
            let _ = writeln!(
                out,
                "Not proven: that no agency was registered. The bundle carries no agency registry, so every change shows as the centre's; had agencies been principals, those changes would have needed their signatures."
            );
        }
        let _ = writeln!(
            out,
            "Not proven: that no other version changed this identifier. The bundle carries the versions that did as its maker chose them; a replica that replayed every delta, or the log's records, show the rest."
        );
        out
    }
}

fn expiry(meta: &EntryMeta, time: impl Fn(Timestamp) -> String) -> String {
    match meta.expires_at {
        Some(t) => format!("expiring {}", time(t)),
        None => "never expiring".to_owned(),
    }
}
