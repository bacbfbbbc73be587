//! A readable view of any published file (root, manifest, delta, snapshot,
//! agency registry), agency submission or the centre's acknowledgement of
//! one, and the same as JSON for machines.
//! Inspection decodes and checks the
//! file's form but not its signatures against a root: that is `verify`'s job.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use blocklist_core::document::{
    envelope, Acknowledgement, AgencyEntry, CarriedSubmission, Delta, DocType, Document, FileRef,
    KeySet, ListingRef, ListingRequest, ListingUpdate, Manifest, Op, Override, Receipt, Registry,
    Snapshot, Submission, SubmissionOp, TrustRoot,
};
use blocklist_core::{Commitment, Entry, Sha256, Timestamp};
use serde::Serialize;

use crate::centre::CentreError;

/// What a file holds, in a form for people ([`Inspection::to_text`]) and
/// machines (serde).
#[derive(Debug, Serialize)]
pub struct Inspection {
    /// `root`, `manifest`, `delta`, `snapshot`, `registry`, `submission` or
    /// `acknowledgement`.
    #[serde(rename = "type")]
    pub doc_type: &'static str,
    /// The list.
    pub list: String,
    /// The envelope format, which names the commitment a state digest is
    /// (`lane sum` before 3, `lthash16` since).
    pub format: u8,
    /// The commitment a manifest's, delta's or snapshot's state digest is.
    pub commitment: String,
    /// The key ids that signed (short form).
    pub signed_by: Vec<String>,
    /// The type's fields.
    #[serde(flatten)]
    pub body: Body,
}

/// The fields of each document type.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Body {
    /// A trust root.
    Root {
        /// Its version.
        version: u64,
        /// When it was signed.
        issued_at: String,
        /// When clients start warning.
        expires_at: String,
        /// Root keys and threshold.
        root_keys: Keys,
        /// Publish keys and threshold.
        publish_keys: Keys,
        /// Override keys and threshold, if the root names any.
        #[serde(skip_serializing_if = "Option::is_none")]
        override_keys: Option<Keys>,
    },
    /// A manifest.
    Manifest {
        /// Its serial.
        serial: u64,
        /// The newest version.
        version: u64,
        /// Entries at that version.
        entries: u64,
        /// Their state digest.
        state_digest: String,
        /// When it was signed.
        issued_at: String,
        /// When it expires.
        expires_at: String,
        /// Files listed, as paths.
        roots: Vec<String>,
        /// Deltas listed, as paths.
        deltas: Vec<String>,
        /// Snapshots listed, as paths.
        snapshots: Vec<String>,
        /// Agency registries listed, as paths.
        registries: Vec<String>,
    },
    /// An agency registry.
    Registry {
        /// Its version.
        version: u64,
        /// When it was signed.
        issued_at: String,
        /// Every agency, ascending by id.
        agencies: Vec<AgencyView>,
    },
    /// A delta or a snapshot.
    Entries {
        /// Its version.
        version: u64,
        /// When it was made.
        created_at: String,
        /// Entries in the list at that version.
        state_entries: u64,
        /// The state digest.
        state_digest: String,
        /// Operation (or entry) counts per kind: `{"domain": {"add": 3}}`.
        counts: Counts,
        /// The first operations or entries, as text.
        first: Vec<String>,
        /// A delta's carried submissions, one line each: the agency's
        /// signed requests its changes answer.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        carried: Vec<String>,
        /// A delta's carried overrides, one line each.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        overrides: Vec<String>,
        /// A snapshot's past overrides, one line each, with the version
        /// that applied each.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        past_overrides: Vec<String>,
        /// A snapshot's origins, one line each, with the version that
        /// carried each: the submissions its agencies' listings come from.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        origins: Vec<String>,
    },
    /// An override.
    Override {
        /// When its signers made it.
        made_at: String,
        /// Why.
        why: String,
        /// The decision in words.
        note: String,
        /// Each listing it removes, as text.
        removals: Vec<String>,
        /// Each listing it updates, with its new reason and expiry, as text.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        updates: Vec<String>,
    },
    /// An agency's submission.
    Submission {
        /// The agency it names (the centre checks its signature is one of the agency's keys).
        agency: String,
        /// Its sequence number.
        sequence: u64,
        /// When the agency made it.
        created_at: String,
        /// Whether it asks to be published at once.
        urgent: bool,
        /// Operation counts per kind: `{"number": {"add": 3}}`.
        counts: Counts,
        /// The first operations, as text.
        first: Vec<String>,
    },
    /// The centre's acknowledgement of a submission.
    Acknowledgement {
        /// SHA-256 of the submission file, hex.
        submission_sha256: String,
        /// The agency that signed the submission.
        agency: String,
        /// The submission's sequence number.
        sequence: u64,
        /// When the centre accepted it.
        accepted_at: String,
        /// The latest version it will be in.
        version: u64,
    },
    /// A replica's receipt.
    Receipt {
        /// The version the replica applied.
        version: u64,
        /// The state it holds at that version (digest, hex).
        state_digest: String,
        /// How many entries it holds.
        entries: u64,
        /// The log checkpoint it verified: size and root hash, if any.
        log: Option<String>,
        /// When it applied the version.
        applied_at: String,
        /// The replica's key id (hex).
        replica: String,
    },
}

/// An agency in readable form (`inspect`, `agency list`).
#[derive(Debug, Serialize)]
pub struct AgencyView {
    /// Its id.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// The kinds it may list.
    pub kinds: Vec<String>,
    /// `active`, or `revoked` (from `revoked_at`).
    pub status: &'static str,
    /// When it was revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    /// Its keys.
    pub keys: Vec<AgencyKeyView>,
}

/// One key of an agency in readable form.
#[derive(Debug, Serialize)]
pub struct AgencyKeyView {
    /// The key id (short form).
    pub id: String,
    /// The public key, hex.
    pub public_key: String,
    /// When it was revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

impl AgencyView {
    /// The view of `agency`.
    pub fn of(agency: &AgencyEntry) -> AgencyView {
        AgencyView {
            id: agency.id().to_string(),
            name: agency.name().to_owned(),
            kinds: agency.kinds().iter().map(|k| k.to_string()).collect(),
            status: if agency.revoked_at().is_some() {
                "revoked"
            } else {
                "active"
            },
            revoked_at: agency.revoked_at().map(time),
            keys: agency
                .keys()
                .iter()
                .map(|k| AgencyKeyView {
                    id: k.key.id().short(),
                    public_key: hex::encode(k.key.to_bytes()),
                    revoked_at: k.revoked_at.map(time),
                })
                .collect(),
        }
    }

    /// One line for the agency, then one per key, for people.
    pub fn write_text(&self, out: &mut String) {
        let revoked = |at: &Option<String>| {
            at.as_ref()
                .map_or(String::new(), |t| format!(" (revoked from {t})"))
        };
        let _ = writeln!(
            out,
            "{} {:?}: {}, may list {}{}",
            self.id,
            self.name,
            self.status,
            self.kinds.join(", "),
            revoked(&self.revoked_at)
        );
        for key in &self.keys {
            let _ = writeln!(out, "  key {}{}", key.id, revoked(&key.revoked_at));
        }
    }
}

/// A key set in readable form.
#[derive(Debug, Serialize)]
pub struct Keys {
    /// How many must sign.
    pub threshold: u8,
    /// Their ids (short form).
    pub ids: Vec<String>,
}

/// Decodes a file's bytes; `first` bounds the entries listed.
pub fn inspect(file: &str, bytes: &[u8], first: usize) -> Result<Inspection, CentreError> {
    let decode_error = |source| CentreError::Decode {
        file: file.to_owned(),
        source,
    };
    if bytes.starts_with(&blocklist_core::proof::bundle::MAGIC) {
        return Err(CentreError::usage(format!(
            "{file} is a proof bundle, not a signed document: check and read it with blocklist verify-proof {file} --root ROOT"
        )));
    }
    let env = envelope::parse(bytes).map_err(decode_error)?;
    let signed_by = env.signatures.iter().map(|s| s.key_id.short()).collect();
    let (list, body) = match env.doc_type {
        DocType::Root => {
            let root = TrustRoot::decode_payload(env.payload).map_err(decode_error)?;
            let body = Body::Root {
                version: root.version.get(),
                issued_at: time(root.issued_at),
                expires_at: time(root.expires_at),
                root_keys: keys(&root.root_keys),
                publish_keys: keys(&root.publish_keys),
                override_keys: root.override_keys.as_ref().map(keys),
            };
            (root.list, body)
        }
        DocType::Manifest => {
            let m = Manifest::decode_payload(env.payload).map_err(decode_error)?;
            let paths = |doc, refs: &[FileRef]| refs.iter().map(|r| r.path(doc)).collect();
            let body = Body::Manifest {
                serial: m.serial,
                version: m.version.get(),
                entries: m.state.entries,
                state_digest: m.state.digest.to_string(),
                issued_at: time(m.issued_at),
                expires_at: time(m.expires_at),
                roots: paths(DocType::Root, &m.roots),
                deltas: paths(DocType::Delta, &m.deltas),
                snapshots: paths(DocType::Snapshot, &m.snapshots),
                registries: paths(DocType::Registry, &m.registries),
            };
            (m.list, body)
        }
        DocType::Registry => {
            let r = Registry::decode_payload(env.payload).map_err(decode_error)?;
            let body = Body::Registry {
                version: r.version.get(),
                issued_at: time(r.issued_at),
                agencies: r.agencies().iter().map(AgencyView::of).collect(),
            };
            (r.list, body)
        }
        DocType::Delta => {
            let d = Delta::decode_payload(env.payload).map_err(decode_error)?;
            let ops = d.ops.iter().map(|op| match op {
                Op::Add(e) => ("add", e.id.kind(), format!("add {}", entry(e))),
                Op::Update(e) => ("update", e.id.kind(), format!("update {}", entry(e))),
                Op::Remove(id, None) => ("remove", id.kind(), format!("remove {id}")),
                Op::Remove(id, Some(agency)) => (
                    "remove",
                    id.kind(),
                    format!("remove {id} as listed by {agency}"),
                ),
            });
            let mut body = entries_body(d.version.get(), d.created_at, d.state, ops, first);
            if let Body::Entries {
                carried, overrides, ..
            } = &mut body
            {
                *carried = d.submissions.iter().map(carried_line).collect();
                *overrides = d.overrides.iter().map(|o| override_line(o)).collect();
            }
            (d.list, body)
        }
        DocType::Snapshot => {
            let s = Snapshot::decode_payload(env.payload).map_err(decode_error)?;
            let items = s.entries.iter().map(|e| ("entries", e.id.kind(), entry(e)));
            let mut body = entries_body(s.version.get(), s.created_at, s.state, items, first);
            if let Body::Entries {
                past_overrides,
                origins,
                ..
            } = &mut body
            {
                *past_overrides = s
                    .overrides
                    .iter()
                    .map(|o| format!("version {} {}", o.version, override_line(&o.file)))
                    .collect();
                *origins = s
                    .origins
                    .iter()
                    .map(|o| format!("version {} {}", o.version, carried_line(&o.submission)))
                    .collect();
            }
            (s.list, body)
        }
        DocType::Submission => {
            let s = Submission::decode_payload(env.payload).map_err(decode_error)?;
            let ops = s.ops.iter().map(|op| {
                let text = match op {
                    SubmissionOp::Add(l) | SubmissionOp::Update(l) => request(l),
                    SubmissionOp::Remove(r) => format!("{} why={}", r.id, r.why),
                };
                (op.verb(), op.id().kind(), format!("{} {text}", op.verb()))
            });
            let (counts, first) = count_and_show(ops, first);
            let body = Body::Submission {
                agency: s.agency.to_string(),
                sequence: s.sequence.get(),
                created_at: time(s.created_at),
                urgent: s.urgent,
                counts,
                first,
            };
            (s.list, body)
        }
        DocType::Override => {
            let o = Override::decode_payload(env.payload).map_err(decode_error)?;
            let body = Body::Override {
                made_at: time(o.made_at),
                why: o.why.to_string(),
                note: o.note,
                removals: o.removals.iter().map(listing).collect(),
                updates: o.updates.iter().map(update).collect(),
            };
            (o.list, body)
        }
        DocType::Acknowledgement => {
            let a = Acknowledgement::decode_payload(env.payload).map_err(decode_error)?;
            let body = Body::Acknowledgement {
                submission_sha256: a.submission.to_string(),
                agency: a.agency.to_string(),
                sequence: a.sequence.get(),
                accepted_at: time(a.accepted_at),
                version: a.version.get(),
            };
            (a.list, body)
        }
        DocType::Receipt => {
            let r = Receipt::decode_payload(env.payload).map_err(decode_error)?;
            let body = Body::Receipt {
                version: r.version.get(),
                state_digest: r.state.digest.to_string(),
                entries: r.state.entries,
                log: r
                    .log
                    .map(|log| format!("size {} root {}", log.size, log.root)),
                applied_at: time(r.applied_at),
                replica: hex::encode(r.replica.0),
            };
            (r.list, body)
        }
    };
    Ok(Inspection {
        doc_type: env.doc_type.name(),
        list: list.to_string(),
        format: env.format,
        commitment: Commitment::of_format(env.format).to_string(),
        signed_by,
        body,
    })
}

/// Counts per kind and operation.
type Counts = BTreeMap<String, BTreeMap<&'static str, u64>>;

/// Counts `items` (operation, kind, text) per kind and operation, and keeps
/// the text of the `first` ones.
fn count_and_show(
    items: impl Iterator<Item = (&'static str, blocklist_core::Kind, String)>,
    first: usize,
) -> (Counts, Vec<String>) {
    let mut counts = Counts::new();
    let mut shown = Vec::new();
    for (what, kind, text) in items {
        *counts
            .entry(kind.to_string())
            .or_default()
            .entry(what)
            .or_default() += 1;
        if shown.len() < first {
            shown.push(text);
        }
    }
    (counts, shown)
}

fn entries_body(
    version: u64,
    created_at: Timestamp,
    state: blocklist_core::document::ListState,
    items: impl Iterator<Item = (&'static str, blocklist_core::Kind, String)>,
    first: usize,
) -> Body {
    let (counts, shown) = count_and_show(items, first);
    Body::Entries {
        version,
        created_at: time(created_at),
        state_entries: state.entries,
        state_digest: state.digest.to_string(),
        counts,
        first: shown,
        carried: vec![],
        overrides: vec![],
        past_overrides: vec![],
        origins: vec![],
    }
}

/// A carried submission as one line: who, which, when accepted, how much.
/// Read, not verified (`blocklist verify` and every replica verify it).
fn carried_line(c: &CarriedSubmission) -> String {
    let accepted = time(c.accepted_at);
    let sha256 = Sha256::of(&c.file);
    match envelope::parse(&c.file).and_then(|env| Submission::decode_payload(env.payload)) {
        Ok(sub) => format!(
            "{sha256} agency={} sequence={} accepted={accepted} operations={}",
            sub.agency,
            sub.sequence,
            sub.ops.len()
        ),
        Err(e) => format!("{sha256} accepted={accepted} unreadable: {e}"),
    }
}

/// A carried override as one line: which, when made, why, how much.
fn override_line(file: &[u8]) -> String {
    let sha256 = Sha256::of(file);
    match Override::from_file(file) {
        Ok(o) => format!(
            "{sha256} made={} why={} removals={} updates={} note={:?}",
            time(o.made_at),
            o.why,
            o.removals.len(),
            o.updates.len(),
            o.note
        ),
        Err(e) => format!("{sha256} unreadable: {e}"),
    }
}

fn listing(l: &ListingRef) -> String {
    format!("{} listed by {} at {}", l.id, l.agency, time(l.listed_at))
}

fn update(u: &ListingUpdate) -> String {
    let mut text = format!("{} to reason={}", listing(&u.listing), u.reason);
    match u.expires_at {
        Some(t) => {
            let _ = write!(text, " expires={}", time(t));
        }
        None => text.push_str(" expires=never"),
    }
    text
}

fn entry(e: &Entry) -> String {
    let mut text = format!(
        "{} reason={} agency={} listed={}",
        e.id,
        e.meta.reason,
        e.meta.agency,
        time(e.meta.listed_at)
    );
    if let Some(t) = e.meta.expires_at {
        let _ = write!(text, " expires={}", time(t));
    }
    text
}

fn request(l: &ListingRequest) -> String {
    let mut text = format!("{} reason={}", l.id, l.reason);
    if let Some(t) = l.expires_at {
        let _ = write!(text, " expires={}", time(t));
    }
    text
}

fn keys(set: &KeySet) -> Keys {
    Keys {
        threshold: set.threshold(),
        ids: set.keys().iter().map(|k| k.id().short()).collect(),
    }
}

/// RFC 3339 UTC, or the raw number for times past what the calendar code handles.
pub fn time(t: Timestamp) -> String {
    std::time::UNIX_EPOCH
        .checked_add(std::time::Duration::from_secs(t.0))
        .filter(|_| t.0 < 253_402_300_800) // year 10000
        .map_or_else(
            || t.to_string(),
            |st| humantime::format_rfc3339_seconds(st).to_string(),
        )
}

impl Inspection {
    /// The readable form.
    pub fn to_text(&self) -> String {
        let mut out = format!("{} of list {}\n", self.doc_type, self.list);
        let _ = writeln!(
            out,
            "format: {} (state digests: {})",
            self.format, self.commitment
        );
        let _ = writeln!(out, "signed by: {}", self.signed_by.join(", "));
        match &self.body {
            Body::Root {
                version,
                issued_at,
                expires_at,
                root_keys,
                publish_keys,
                override_keys,
            } => {
                let _ = writeln!(
                    out,
                    "version: {version}\nissued: {issued_at}\nexpires: {expires_at}"
                );
                let sets = [("root", Some(root_keys)), ("publish", Some(publish_keys))];
                let sets = sets
                    .into_iter()
                    .chain([("override", override_keys.as_ref())]);
                for (role, set) in sets.filter_map(|(role, set)| Some((role, set?))) {
                    let _ = writeln!(
                        out,
                        "{role} keys: {} of {}: {}",
                        set.threshold,
                        set.ids.len(),
                        set.ids.join(", ")
                    );
                }
            }
            Body::Manifest {
                serial,
                version,
                entries,
                state_digest,
                issued_at,
                expires_at,
                roots,
                deltas,
                snapshots,
                registries,
            } => {
                let _ = writeln!(
                    out,
                    "serial: {serial}\nversion: {version}\nentries: {entries}\nstate digest: {state_digest}\nissued: {issued_at}\nexpires: {expires_at}"
                );
                for (what, paths) in [
                    ("roots", roots),
                    ("deltas", deltas),
                    ("snapshots", snapshots),
                    ("registries", registries),
                ] {
                    let _ = writeln!(out, "{what} ({}):", paths.len());
                    for path in paths {
                        let _ = writeln!(out, "  {path}");
                    }
                }
            }
            Body::Registry {
                version,
                issued_at,
                agencies,
            } => {
                let _ = writeln!(
                    out,
                    "version: {version}\nissued: {issued_at}\nagencies ({}):",
                    agencies.len()
                );
                for agency in agencies {
                    agency.write_text(&mut out);
                }
            }
            Body::Entries {
                version,
                created_at,
                state_entries,
                state_digest,
                counts,
                first,
                carried,
                overrides,
                past_overrides,
                origins,
            } => {
                let _ = writeln!(
                    out,
                    "version: {version}\ncreated: {created_at}\nentries after: {state_entries}\nstate digest: {state_digest}"
                );
                write_counts(&mut out, counts, first);
                for (label, lines) in [
                    ("carried submission", carried),
                    ("carried override", overrides),
                    ("past override", past_overrides),
                    ("origin", origins),
                ] {
                    for line in lines {
                        let _ = writeln!(out, "{label}: {line}");
                    }
                }
            }
            Body::Override {
                made_at,
                why,
                note,
                removals,
                updates,
            } => {
                let _ = writeln!(out, "made: {made_at}\nwhy: {why}\nnote: {note}");
                for line in removals {
                    let _ = writeln!(out, "removes: {line}");
                }
                for line in updates {
                    let _ = writeln!(out, "updates: {line}");
                }
            }
            Body::Submission {
                agency,
                sequence,
                created_at,
                urgent,
                counts,
                first,
            } => {
                let _ = writeln!(
                    out,
                    "agency: {agency}\nsequence: {sequence}\ncreated: {created_at}\nurgent: {}",
                    if *urgent { "yes" } else { "no" }
                );
                write_counts(&mut out, counts, first);
            }
            Body::Acknowledgement {
                submission_sha256,
                agency,
                sequence,
                accepted_at,
                version,
            } => {
                let _ = writeln!(
                    out,
                    "submission: {submission_sha256}\nagency: {agency}\nsequence: {sequence}\naccepted: {accepted_at}\nin version: {version} at the latest"
                );
            }
            Body::Receipt {
                version,
                state_digest,
                entries,
                log,
                applied_at,
                replica,
            } => {
                let _ = writeln!(
                    out,
                    "replica: {replica}\nversion: {version}\nstate: {state_digest} ({entries} entries)\nlog: {}\napplied: {applied_at}",
                    log.as_deref().unwrap_or("none")
                );
            }
        }
        out
    }
}

fn write_counts(out: &mut String, counts: &Counts, first: &[String]) {
    for (kind, per) in counts {
        let per: Vec<String> = per.iter().map(|(what, n)| format!("{what} {n}")).collect();
        let _ = writeln!(out, "{kind}: {}", per.join(", "));
    }
    if !first.is_empty() {
        let _ = writeln!(out, "first {}:", first.len());
        for line in first {
            let _ = writeln!(out, "  {line}");
        }
    }
}
