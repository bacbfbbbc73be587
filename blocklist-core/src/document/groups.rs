//! The compact wire form of many entries, shared by deltas and snapshots.
//!
//! Entries listed together share their metadata (same agency, reason, time,
//! expiry), so the wire groups them: each group states the kind and metadata
//! once, then only the values. A value then costs its bytes plus a one-byte
//! length. Agencies are named once per document in a sorted table.
//!
//! Canonical form: groups strictly ascending by (kind, reason, agency, listed_at,
//! expires_at), values strictly ascending within a group, no empty group, every
//! agency in the table used, no listing (identifier and agency) twice in one
//! document.

use std::collections::hash_map::Entry as Slot;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::document::{DecodeError, DocType, EncodeError};
use crate::entry::{Agency, Entry, EntryMeta, Reason, Timestamp};
use crate::identifier::Identifier;
use crate::kind::Kind;

/// Metadata on the wire: the agency is an index into the document's table.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct WireMeta {
    pub(crate) reason: u16,
    pub(crate) agency: u32,
    pub(crate) listed_at: u64,
    pub(crate) expires_at: Option<u64>,
}

impl WireMeta {
    /// `meta` with its agency named by its index in `agencies`.
    pub(crate) fn of(meta: &EntryMeta, agencies: &Agencies) -> WireMeta {
        WireMeta {
            reason: meta.reason.0,
            agency: agencies.index_of(&meta.agency),
            listed_at: meta.listed_at.0,
            expires_at: meta.expires_at.map(|t| t.0),
        }
    }
}

/// Entries of one kind sharing one metadata.
#[derive(Serialize, Deserialize)]
pub(crate) struct EntryGroup {
    kind: u16,
    meta: WireMeta,
    values: Vec<String>,
}

/// Identifiers of one kind (removals carry no metadata).
#[derive(Serialize, Deserialize)]
pub(crate) struct KeyGroup {
    kind: u16,
    values: Vec<String>,
}

/// The document's sorted table of agency ids (empty for a submission,
/// whose one agency is its signer's).
#[derive(Default)]
pub(crate) struct Agencies(Vec<Agency>);

impl Agencies {
    /// The table of every agency named in `metas`.
    pub(crate) fn collect<'a>(metas: impl Iterator<Item = &'a EntryMeta>) -> Agencies {
        let set: BTreeSet<&Agency> = metas.map(|m| &m.agency).collect();
        Agencies(set.into_iter().cloned().collect())
    }

    pub(crate) fn to_wire(&self) -> Vec<String> {
        self.0.iter().map(|a| a.as_str().to_owned()).collect()
    }

    pub(crate) fn from_wire(doc: DocType, wire: &[String]) -> Result<Agencies, DecodeError> {
        let mut table = Vec::with_capacity(wire.len());
        for id in wire {
            let agency = Agency::new(id).map_err(|e| doc.invalid("agency table", e.to_string()))?;
            if table.last().is_some_and(|prev: &Agency| prev >= &agency) {
                return Err(doc.invalid("agency table", "not strictly ascending"));
            }
            table.push(agency);
        }
        Ok(Agencies(table))
    }

    fn index_of(&self, agency: &Agency) -> u32 {
        self.0
            .binary_search(agency)
            .expect("the table was collected from these entries") as u32
    }
}

/// Groups entries into canonical wire form.
pub(crate) fn group_entries<'a>(
    entries: impl Iterator<Item = &'a Entry>,
    agencies: &Agencies,
) -> Vec<EntryGroup> {
    let mut groups: BTreeMap<(u16, WireMeta), Vec<String>> = BTreeMap::new();
    for entry in entries {
        groups
            .entry((entry.id.kind().code(), WireMeta::of(&entry.meta, agencies)))
            .or_default()
            .push(entry.id.as_str().to_owned());
    }
    groups
        .into_iter()
        .map(|((kind, meta), mut values)| {
            values.sort_unstable();
            EntryGroup { kind, meta, values }
        })
        .collect()
}

/// Groups identifiers into canonical wire form.
pub(crate) fn group_keys<'a>(ids: impl Iterator<Item = &'a Identifier>) -> Vec<KeyGroup> {
    let mut groups: BTreeMap<u16, Vec<String>> = BTreeMap::new();
    for id in ids {
        groups
            .entry(id.kind().code())
            .or_default()
            .push(id.as_str().to_owned());
    }
    groups
        .into_iter()
        .map(|(kind, mut values)| {
            values.sort_unstable();
            KeyGroup { kind, values }
        })
        .collect()
}

/// What a document's operation or entry is about, for the uniqueness rule:
/// an identifier and whose listing of it, or `None` for every listing of it
/// (a submission's operation, a format-1 delta's removal).
pub(crate) type Named<'a> = (&'a Identifier, Option<&'a Agency>);

/// What an entry names: its agency's listing of its identifier.
pub(crate) fn entry_named(entry: &Entry) -> Named<'_> {
    (&entry.id, Some(&entry.meta.agency))
}

/// The first identifier `named` names twice: a document may name each
/// listing at most once, and an identifier named whole not otherwise.
fn first_duplicate<'a>(named: impl Iterator<Item = Named<'a>>) -> Option<&'a Identifier> {
    // One map and one hash per name: a submission or delta names up to a
    // million, and its check is most of what verifying one costs. Sized by
    // what is already decoded (or to be encoded), not by a count read.
    let mut seen: HashMap<&Identifier, Seen<'_>> = HashMap::with_capacity(named.size_hint().0);
    for (id, agency) in named {
        match (seen.entry(id), agency) {
            (Slot::Vacant(slot), None) => {
                slot.insert(Seen::Whole);
            }
            (Slot::Vacant(slot), Some(agency)) => {
                slot.insert(Seen::One(agency));
            }
            (Slot::Occupied(_), None) => return Some(id),
            (Slot::Occupied(mut slot), Some(agency)) => match slot.get_mut() {
                Seen::Whole => return Some(id),
                Seen::One(first) if *first == agency => return Some(id),
                Seen::One(first) => {
                    let first = *first;
                    slot.insert(Seen::Several(vec![first, agency]));
                }
                Seen::Several(all) => {
                    if all.contains(&agency) {
                        return Some(id);
                    }
                    all.push(agency);
                }
            },
        }
    }
    None
}

/// How [`first_duplicate`] has seen an identifier named so far.
enum Seen<'a> {
    /// Whole (every listing of it).
    Whole,
    /// For one agency's listing, or for several agencies' (rare).
    One(&'a Agency),
    Several(Vec<&'a Agency>),
}

/// Refuses to encode a document that names a listing twice.
pub(crate) fn unique_to_encode<'a>(
    doc: DocType,
    version: u64,
    named: impl Iterator<Item = Named<'a>>,
) -> Result<(), EncodeError> {
    match first_duplicate(named) {
        Some(id) => Err(EncodeError::DuplicateIdentifier {
            doc: doc.name(),
            version,
            id: id.to_string(),
        }),
        None => Ok(()),
    }
}

/// Refuses to encode an entry whose times replicas cannot store (see
/// [`EntryMeta::LAST_TIME`]).
pub(crate) fn times_to_encode<'a>(
    doc: DocType,
    entries: impl Iterator<Item = &'a Entry>,
) -> Result<(), EncodeError> {
    for entry in entries {
        if let Some((field, time)) = entry.meta.time_out_of_range() {
            return Err(EncodeError::Invalid {
                doc: doc.name(),
                field,
                reason: time_reason(&entry.id.to_string(), time),
            });
        }
    }
    Ok(())
}

/// Why a time is refused, for `what` (an identifier, or a group of them).
pub(crate) fn time_reason(what: &str, time: Timestamp) -> String {
    format!(
        "{what}: {} is after {} (2106-02-07), the last time an entry can carry",
        time.0,
        EntryMeta::LAST_TIME.0
    )
}

/// Refuses a decoded document that names a listing twice.
pub(crate) fn unique_decoded<'a>(
    doc: DocType,
    named: impl Iterator<Item = Named<'a>>,
) -> Result<(), DecodeError> {
    match first_duplicate(named) {
        Some(id) => Err(doc.invalid("identifiers", format!("{id} appears more than once"))),
        None => Ok(()),
    }
}

/// Reads wire groups back, checking every canonical-form rule. Groups come
/// whole ([`Ungrouper::entries`], [`Ungrouper::keys`]) or, for a snapshot
/// read as it streams, one header and one value at a time
/// ([`Ungrouper::group`], [`Ungrouper::value`]): both check the same rules.
pub(crate) struct Ungrouper {
    doc: DocType,
    agencies: Agencies,
    agency_used: Vec<bool>,
    count: u64,
    /// The last entry group's key: the next must be greater.
    prev_group: Option<(u16, WireMeta)>,
}

impl Ungrouper {
    pub(crate) fn new(doc: DocType, agencies: Agencies) -> Self {
        Ungrouper {
            doc,
            agency_used: vec![false; agencies.0.len()],
            agencies,
            count: 0,
            prev_group: None,
        }
    }

    pub(crate) fn entries(&mut self, groups: Vec<EntryGroup>) -> Result<Vec<Entry>, DecodeError> {
        let mut out = Vec::with_capacity(groups.iter().map(|g| g.values.len()).sum());
        // Each list of groups (a delta's adds, its updates) is ordered on its own.
        self.prev_group = None;
        for group in groups {
            let meta = self.group(group.kind, group.meta, group.values.len() as u64)?;
            for id in self.identifiers(group.kind, group.values)? {
                out.push(Entry {
                    id,
                    meta: meta.clone(),
                });
            }
        }
        Ok(out)
    }

    /// Checks the header of the next entry group (its key follows the last
    /// one's, it has `len` values) and returns the metadata its entries share.
    pub(crate) fn group(
        &mut self,
        kind: u16,
        meta: WireMeta,
        len: u64,
    ) -> Result<EntryMeta, DecodeError> {
        let key = (kind, meta);
        if self.prev_group.is_some_and(|p| p >= key) {
            return Err(self.doc.invalid("entry groups", "not strictly ascending"));
        }
        self.prev_group = Some(key);
        if len == 0 {
            return Err(self.doc.invalid("group", "has no values"));
        }
        self.meta(meta)
    }

    pub(crate) fn keys(&mut self, groups: Vec<KeyGroup>) -> Result<Vec<Identifier>, DecodeError> {
        let mut out = Vec::new();
        let mut prev = None;
        for group in groups {
            if prev.is_some_and(|p| p >= group.kind) {
                return Err(self.doc.invalid("key groups", "not strictly ascending"));
            }
            prev = Some(group.kind);
            if group.values.is_empty() {
                return Err(self.doc.invalid("group", "has no values"));
            }
            out.extend(self.identifiers(group.kind, group.values)?);
        }
        Ok(out)
    }

    /// Ends the read: every agency in the table must have been used.
    pub(crate) fn finish(self) -> Result<(), DecodeError> {
        match self.agency_used.iter().position(|used| !used) {
            Some(i) => Err(self.doc.invalid(
                "agency table",
                format!("agency {} is never used", self.agencies.0[i]),
            )),
            None => Ok(()),
        }
    }

    fn meta(&mut self, wire: WireMeta) -> Result<EntryMeta, DecodeError> {
        let index = wire.agency as usize;
        let agency = self.agencies.0.get(index).ok_or_else(|| {
            self.doc
                .invalid("agency", format!("index {index} is past the table"))
        })?;
        self.agency_used[index] = true;
        let meta = EntryMeta {
            reason: Reason(wire.reason),
            agency: agency.clone(),
            listed_at: Timestamp(wire.listed_at),
            expires_at: wire.expires_at.map(Timestamp),
        };
        match meta.time_out_of_range() {
            Some((field, time)) => Err(self.doc.invalid(
                field,
                time_reason(&format!("group of identifier #{}", self.count), time),
            )),
            None => Ok(meta),
        }
    }

    fn identifiers(
        &mut self,
        kind: u16,
        values: Vec<String>,
    ) -> Result<Vec<Identifier>, DecodeError> {
        let mut out = Vec::with_capacity(values.len());
        let mut prev: Option<&str> = None;
        for value in &values {
            out.push(self.value(kind, prev, value)?);
            prev = Some(value);
        }
        Ok(out)
    }

    /// Checks the next value of a group of `kind`, after `prev` in the same
    /// group (values are strictly ascending), and returns its identifier.
    pub(crate) fn value(
        &mut self,
        kind: u16,
        prev: Option<&str>,
        value: &str,
    ) -> Result<Identifier, DecodeError> {
        if prev.is_some_and(|prev| prev >= value) {
            return Err(self.doc.invalid("group", "values not strictly ascending"));
        }
        let id = Identifier::from_canonical(Kind::from_code(kind), value).map_err(|source| {
            DecodeError::Identifier {
                doc: self.doc.name(),
                index: self.count,
                source: Box::new(source),
            }
        })?;
        self.count += 1;
        Ok(id)
    }
}
