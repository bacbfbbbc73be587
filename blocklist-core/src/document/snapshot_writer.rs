//! A [`Snapshot`](super::Snapshot) written as its entries stream in: the
//! centre's snapshot of a list too large to hold whole (10M entries are some
//! 1.6 GB as `Entry` values, a tenth of that as the file).
//!
//! Two passes over the list, within one read of it: the first counts the
//! entries of each group ([`SnapshotPlan::count`], in any order), so every
//! length prefix, and the payload length the envelope's header announces,
//! is known before the first byte; the second hands the entries over in
//! wire order ([`SnapshotWriter::push`]): by kind, reason, agency, listing
//! time, expiry (none first), then value bytewise. The bytes are those the
//! snapshot's own encoder writes for the same content.

use std::collections::HashMap;
use std::io::{BufWriter, Write};

use serde::Serialize;

use crate::commitment::{Commitment, StateAccumulator};
use crate::document::envelope::{SealWriter, Sealed};
use crate::document::groups::{time_reason, Agencies, WireMeta};
use crate::document::snapshot::{place_tail, Origin, PastOverride, SnapshotHead};
use crate::document::{encode_wire, DocType, EncodeError};
use crate::entry::{Entry, EntryMeta};
use crate::keys::{KeyId, Signer};
use crate::kind::Kind;

const DOC: DocType = DocType::Snapshot;

/// The groups of a snapshot to be written, counted from every entry it will
/// hold. Its size grows with the groups (one per kind and metadata), not
/// with the entries.
///
/// ```
/// use blocklist_core::document::SnapshotPlan;
/// use blocklist_core::{Agency, EntryMeta, Kind, Reason, Timestamp};
/// let meta = EntryMeta { reason: Reason::PHISHING, agency: Agency::new("th-aoc").unwrap(),
///     listed_at: Timestamp(1), expires_at: None };
/// let mut plan = SnapshotPlan::default();
/// plan.count(Kind::Domain, &meta, "scam.example");
/// plan.count(Kind::Domain, &meta, "fraud.example");
/// assert_eq!((plan.groups(), plan.entries()), (1, 2));
/// ```
#[derive(Default, Debug)]
pub struct SnapshotPlan {
    groups: HashMap<(Kind, EntryMeta), GroupSize>,
}

#[derive(Default, Debug, Clone, Copy)]
struct GroupSize {
    values: u64,
    /// The values' encoded bytes, length prefixes included.
    bytes: u64,
}

impl SnapshotPlan {
    /// Counts one entry the snapshot will hold.
    pub fn count(&mut self, kind: Kind, meta: &EntryMeta, value: &str) {
        let bytes = varint_len(value.len() as u64) + value.len() as u64;
        let size = self.groups.entry((kind, meta.clone())).or_default();
        size.values += 1;
        size.bytes += bytes;
    }

    /// The groups counted.
    pub fn groups(&self) -> usize {
        self.groups.len()
    }

    /// The entries counted.
    pub fn entries(&self) -> u64 {
        self.groups.values().map(|size| size.values).sum()
    }
}

/// The fields of the snapshot's wire form before its entries, in order
/// (`docs/FORMAT.md`, "Snapshot"): the snapshot encoder's `WireSnapshot`
/// cut at its entries, which the property test below holds it to.
#[derive(Serialize)]
struct WireHead<'a> {
    list: &'a str,
    version: u64,
    created_at: u64,
    state_digest: [u8; 32],
    state_entries: u64,
    agencies: Vec<String>,
}

/// A group's wire form before its values: kind, metadata, value count
/// (`EntryGroup`'s fields, its values' length as postcard writes a `Vec`'s).
#[derive(Serialize)]
struct WireGroupHead {
    kind: u16,
    meta: WireMeta,
    values: u64,
}

/// A group as the writer will write it: its key, its value count, and its
/// wire form before the values, encoded once.
struct PlannedGroup {
    kind: Kind,
    meta: EntryMeta,
    values: u64,
    head: Vec<u8>,
}

/// Writes a signed snapshot to `W` as its entries are pushed in wire order,
/// holding one group's bookkeeping at a time.
///
/// ```
/// use blocklist_core::document::*;
/// use blocklist_core::*;
/// let entry = Entry { id: Identifier::parse(Kind::Domain, "scam.example", &Rules::default()).unwrap(),
///     meta: EntryMeta { reason: Reason::PHISHING, agency: Agency::new("th-aoc").unwrap(),
///         listed_at: Timestamp(1), expires_at: None } };
/// let head = SnapshotHead { list: ListId::new("demo").unwrap(), version: Version::FIRST,
///     created_at: Timestamp(2), state: ListState::of(std::slice::from_ref(&entry)) };
/// let mut plan = SnapshotPlan::default();
/// plan.count(entry.id.kind(), &entry.meta, entry.id.as_str());
/// let mut writer = SnapshotWriter::begin(Vec::new(), &head, plan, &Default::default(), &[], &[]).unwrap();
/// writer.push(&entry).unwrap();
/// let key = SecretKey::generate().unwrap();
/// let (bytes, sealed) = writer.finish(&[&key]).unwrap();
/// let snapshot = Snapshot { list: head.list, version: head.version, created_at: head.created_at,
///     entries: vec![entry], state: head.state, sequences: Default::default(), overrides: vec![],
///     origins: vec![], extensions: vec![] };
/// assert_eq!(bytes, snapshot.sign(&[&key]).unwrap());
/// assert_eq!(sealed.size, bytes.len() as u64);
/// ```
pub struct SnapshotWriter<W: Write> {
    out: BufWriter<SealWriter<W>>,
    /// The groups still to come, in wire order.
    groups: std::vec::IntoIter<PlannedGroup>,
    /// The group being written and how many of its values are still to come.
    group: Option<(Kind, EntryMeta)>,
    left: u64,
    /// The value pushed last in the group (empty at its start).
    last: String,
    tail: Vec<u8>,
    /// A time past what replicas keep, reported by [`SnapshotWriter::finish`]
    /// (not before the entries are through, so that a caller comparing
    /// [`SnapshotWriter::state`] with what its source says finds an edited
    /// source first).
    refused: Option<EncodeError>,
    expected: crate::document::ListState,
    state: StateAccumulator,
}

impl<W: Write> SnapshotWriter<W> {
    /// Writes the envelope's header and the snapshot's fields before its
    /// entries. `plan` counts exactly the entries to be pushed; `head.state`
    /// is what they must give.
    pub fn begin(
        out: W,
        head: &SnapshotHead,
        plan: SnapshotPlan,
        sequences: &std::collections::BTreeMap<KeyId, u64>,
        overrides: &[PastOverride],
        origins: &[Origin],
    ) -> Result<SnapshotWriter<W>, EncodeError> {
        let agencies = Agencies::collect(plan.groups.keys().map(|(_, meta)| meta));
        let mut refused = None;
        let mut sorted: Vec<_> = plan
            .groups
            .into_iter()
            .map(|((kind, meta), size)| {
                if let Some((field, time)) = meta.time_out_of_range() {
                    let what = format!("{} entries of agency {}", size.values, meta.agency);
                    refused.get_or_insert(EncodeError::Invalid {
                        doc: DOC.name(),
                        field,
                        reason: time_reason(&what, time),
                    });
                }
                (
                    (kind.code(), WireMeta::of(&meta, &agencies)),
                    kind,
                    meta,
                    size,
                )
            })
            .collect();
        sorted.sort_unstable_by_key(|(wire, ..)| *wire);
        let mut groups_len = 0;
        let mut groups = Vec::with_capacity(sorted.len());
        for ((code, wire), kind, meta, size) in sorted {
            let head = encode_wire(
                DOC,
                &WireGroupHead {
                    kind: code,
                    meta: wire,
                    values: size.values,
                },
            )?;
            groups_len += head.len() as u64 + size.bytes;
            groups.push(PlannedGroup {
                kind,
                meta,
                values: size.values,
                head,
            });
        }
        let head_bytes = encode_wire(
            DOC,
            &WireHead {
                list: head.list.as_str(),
                version: head.version.get(),
                created_at: head.created_at.0,
                state_digest: head.state.digest.0,
                state_entries: head.state.entries,
                agencies: agencies.to_wire(),
            },
        )?;
        let tail = encode_wire(
            DOC,
            &place_tail(&[], head.version, sequences, overrides, origins)?,
        )?;
        let payload_len = head_bytes.len() as u64
            + varint_len(groups.len() as u64)
            + groups_len
            + tail.len() as u64;
        let mut out = BufWriter::with_capacity(1 << 16, SealWriter::begin(out, DOC, payload_len)?);
        out.write_all(&head_bytes)
            .and_then(|()| write_varint(&mut out, groups.len() as u64))
            .map_err(|e| out.get_ref().failed(&e))?;
        Ok(SnapshotWriter {
            out,
            groups: groups.into_iter(),
            group: None,
            left: 0,
            last: String::new(),
            tail,
            refused,
            expected: head.state,
            state: StateAccumulator::default(),
        })
    }

    /// Writes `entry`, the next in wire order.
    pub fn push(&mut self, entry: &Entry) -> Result<(), EncodeError> {
        if self.left == 0 {
            let Some(group) = self.groups.next() else {
                return Err(self.out_of_plan(entry, "more entries than were counted"));
            };
            self.out
                .write_all(&group.head)
                .map_err(|e| self.failed(&e))?;
            self.left = group.values;
            self.group = Some((group.kind, group.meta));
            self.last.clear();
        }
        let in_group = self
            .group
            .as_ref()
            .is_some_and(|(kind, meta)| *kind == entry.id.kind() && *meta == entry.meta);
        if !in_group {
            return Err(self.out_of_plan(entry, "not in the group the counts put next"));
        }
        let value = entry.id.as_str();
        if !self.last.is_empty() && value.as_bytes() <= self.last.as_bytes() {
            return Err(self.out_of_plan(entry, "not after the value before it"));
        }
        write_varint(&mut self.out, value.len() as u64)
            .and_then(|()| self.out.write_all(value.as_bytes()))
            .map_err(|e| self.failed(&e))?;
        self.last.clear();
        self.last.push_str(value);
        self.left -= 1;
        self.state.add(entry);
        Ok(())
    }

    /// The commitments to the entries pushed so far.
    pub fn state(&self) -> &StateAccumulator {
        &self.state
    }

    /// Writes the fields after the entries and the signatures of `keys`,
    /// once every counted entry was pushed and they give the head's state.
    /// Returns the writer and the file's digest and size.
    pub fn finish<S: Signer + ?Sized>(mut self, keys: &[&S]) -> Result<(W, Sealed), EncodeError> {
        if self.left != 0 || !self.groups.as_slice().is_empty() {
            let short = self.left + self.groups.map(|group| group.values).sum::<u64>();
            return Err(EncodeError::Invalid {
                doc: DOC.name(),
                field: "entries",
                reason: format!("{short} fewer entries than were counted"),
            });
        }
        if let Some(refused) = self.refused {
            return Err(refused);
        }
        // Never sign entries the head's state does not commit to, whatever
        // the caller checked.
        let state = self.state.state(Commitment::CURRENT);
        if state != self.expected {
            return Err(EncodeError::Invalid {
                doc: DOC.name(),
                field: "state",
                reason: format!(
                    "the entries give {} ({} entries), the head says {} ({} entries)",
                    state.digest, state.entries, self.expected.digest, self.expected.entries
                ),
            });
        }
        self.out
            .write_all(&self.tail)
            .map_err(|e| self.failed(&e))?;
        let sealer = self.out.into_inner().map_err(|e| EncodeError::Write {
            doc: DOC.name(),
            reason: e.error().to_string(),
        })?;
        sealer.finish(keys)
    }

    fn failed(&self, error: &std::io::Error) -> EncodeError {
        self.out.get_ref().failed(error)
    }

    fn out_of_plan(&self, entry: &Entry, why: &str) -> EncodeError {
        EncodeError::Invalid {
            doc: DOC.name(),
            field: "entries",
            reason: format!(
                "{}: {why} (entries must come in wire order, as counted)",
                entry.id
            ),
        }
    }
}

/// The bytes of `n` as a postcard varint (P1: LEB128, 7 bits a byte).
fn varint_len(n: u64) -> u64 {
    u64::from((64 - n.leading_zeros()).max(1).div_ceil(7))
}

fn write_varint(out: &mut impl Write, n: u64) -> std::io::Result<()> {
    let mut buf = [0u8; 10];
    let written = postcard::to_slice(&n, &mut buf).map_err(std::io::Error::other)?;
    out.write_all(written)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;

    use super::*;
    use crate::digest::Sha256;
    use crate::document::snapshot::tests::{in_wire_order, snapshots};
    use crate::document::{Document, ListState, Snapshot};
    use crate::entry::Timestamp;
    use crate::keys::SecretKey;

    fn head(snapshot: &Snapshot) -> SnapshotHead {
        SnapshotHead {
            list: snapshot.list.clone(),
            version: snapshot.version,
            created_at: snapshot.created_at,
            state: snapshot.state,
        }
    }

    fn plan(entries: &[Entry]) -> SnapshotPlan {
        let mut plan = SnapshotPlan::default();
        for entry in entries {
            plan.count(entry.id.kind(), &entry.meta, entry.id.as_str());
        }
        plan
    }

    fn writer(snapshot: &Snapshot, counted: &[Entry]) -> SnapshotWriter<Vec<u8>> {
        SnapshotWriter::begin(
            Vec::new(),
            &head(snapshot),
            plan(counted),
            &snapshot.sequences,
            &snapshot.overrides,
            &snapshot.origins,
        )
        .unwrap()
    }

    /// A snapshot of `n` entries whose groups hold several values each, in
    /// wire order.
    fn sample(n: u16) -> Snapshot {
        let mut rng = proptest::test_runner::TestRunner::deterministic();
        let mut snapshot = snapshots().new_tree(&mut rng).unwrap().current();
        while snapshot.entries.len() < usize::from(n) {
            snapshot = snapshots().new_tree(&mut rng).unwrap().current();
        }
        snapshot.extensions.clear();
        in_wire_order(snapshot)
    }

    proptest! {
        #[test]
        fn streamed_snapshots_are_the_bytes_the_encoder_writes(
            snapshot in snapshots(),
            counting_order in any::<prop::sample::Index>(),
        ) {
            let mut snapshot = snapshot;
            // The centre writes no extension it does not know.
            snapshot.extensions.clear();
            let snapshot = in_wire_order(snapshot);
            let mut counted = snapshot.entries.clone();
            let turn = counting_order.index(counted.len() + 1);
            counted.rotate_left(turn);
            let mut writer = writer(&snapshot, &counted);
            for entry in &snapshot.entries {
                writer.push(entry).unwrap();
            }
            prop_assert_eq!(writer.state(), &StateAccumulator::of(&snapshot.entries));
            let key = SecretKey::from_seed(&[7; 32]);
            let (bytes, sealed) = writer.finish(&[&key]).unwrap();
            prop_assert_eq!(&bytes, &snapshot.sign(&[&key]).unwrap());
            prop_assert_eq!(sealed.sha256, Sha256::of(&bytes));
            prop_assert_eq!(sealed.size, bytes.len() as u64);
        }
    }

    #[test]
    fn entries_out_of_wire_order_are_refused() {
        let snapshot = sample(3);
        let mut writer = writer(&snapshot, &snapshot.entries);
        writer.push(&snapshot.entries[0]).unwrap();
        let err = writer.push(&snapshot.entries[0]).unwrap_err();
        assert!(err.to_string().contains("wire order"), "{err}");
        let mut writer = self::writer(&snapshot, &snapshot.entries);
        let pushed: Result<Vec<()>, _> = snapshot
            .entries
            .iter()
            .rev()
            .map(|e| writer.push(e))
            .collect();
        assert!(pushed.is_err());
    }

    #[test]
    fn entries_not_counted_or_missing_are_refused() {
        let snapshot = sample(2);
        let (last, counted) = snapshot.entries.split_last().unwrap();
        let mut writer = writer(&snapshot, counted);
        for entry in counted {
            writer.push(entry).unwrap();
        }
        let err = writer.push(last).unwrap_err();
        assert!(
            err.to_string().contains("more entries than were counted"),
            "{err}"
        );

        let mut writer = self::writer(&snapshot, &snapshot.entries);
        writer.push(&snapshot.entries[0]).unwrap();
        let key = SecretKey::from_seed(&[7; 32]);
        let err = writer.finish(&[&key]).unwrap_err();
        let short = snapshot.entries.len() - 1;
        assert!(
            err.to_string().contains(&format!("{short} fewer entries")),
            "{err}"
        );
    }

    #[test]
    fn entries_that_do_not_give_the_head_state_are_not_signed() {
        let mut snapshot = sample(1);
        snapshot.state = ListState::default();
        let mut writer = writer(&snapshot, &snapshot.entries);
        for entry in &snapshot.entries {
            writer.push(entry).unwrap();
        }
        let key = SecretKey::from_seed(&[7; 32]);
        let err = writer.finish(&[&key]).unwrap_err();
        assert!(err.to_string().contains("invalid state"), "{err}");
    }

    #[test]
    fn a_time_replicas_cannot_keep_is_refused_once_the_entries_are_through() {
        let mut snapshot = sample(1);
        snapshot.entries[0].meta.listed_at = Timestamp(EntryMeta::LAST_TIME.0 + 1);
        snapshot.state = ListState::of(&snapshot.entries);
        let mut writer = writer(&snapshot, &snapshot.entries);
        for entry in &snapshot.entries {
            writer.push(entry).unwrap();
        }
        // A caller can still compare the entries' state with its source's.
        assert_eq!(writer.state(), &StateAccumulator::of(&snapshot.entries));
        let key = SecretKey::from_seed(&[7; 32]);
        let err = writer.finish(&[&key]).err().unwrap();
        assert!(err.to_string().contains("2106-02-07"), "{err}");
    }

    #[test]
    fn varint_lengths_are_postcards() {
        for n in [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut buf = [0u8; 10];
            let encoded = postcard::to_slice(&n, &mut buf).unwrap().len() as u64;
            assert_eq!(varint_len(n), encoded, "{n}");
        }
    }
}
