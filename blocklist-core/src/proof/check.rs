//! What a reader checks of a proof bundle (docs/FORMAT.md, PR1-PR6): the
//! bundle's encoding; every carried file's place in the log, by hashes
//! alone, so that a changed byte costs no signature check; the root chain
//! from the trust root the reader holds, and the checkpoint's signatures;
//! the registries; then each delta and each of its operations on the
//! identifier, against the listings the operations before it made.

use std::collections::BTreeMap;

use crate::document::{
    envelope, Delta, DocType, FileRef, Op, Registry, SubmissionOp, TrustRoot, Version,
};
use crate::entry::{Agency, Entry, EntryMeta};
use crate::log::record::Record;
use crate::log::tree::{leaf_hash, root_from_inclusion};
use crate::log::{Checkpoint, SignedCheckpoint};
use crate::proof::{Change, Event, History, LoggedFile, ProofBundle, ProofError, Signer};
use crate::verify::{read_unverified, Authority, Verified, Verifier};
use crate::{Identifier, Sha256, Timestamp};

/// Checks the proof bundle `bytes` against `root`, a trust root of its list
/// the reader holds (obtained out of band), and returns the history it
/// proves. Nothing but the two is read: no network, no clock.
///
/// ```no_run
/// let bundle = std::fs::read("shop.example.proof").unwrap();
/// let root = std::fs::read("th-national-root-1.root").unwrap();
/// let history = blocklist_core::proof::verify_bundle(&bundle, &root).unwrap();
/// print!("{}", history.to_words(|t| t.to_string()));
/// ```
pub fn verify_bundle(bytes: &[u8], root: &[u8]) -> Result<History, ProofError> {
    let bundle = ProofBundle::from_bytes(bytes)?;
    // Hashes before signatures: a byte changed in any carried file is
    // refused by its inclusion proof, at the cost of a few hashes.
    let checkpoint = SignedCheckpoint::parse(&bundle.checkpoint)
        .map_err(|source| ProofError::Checkpoint { source })?;
    let head = checkpoint.checkpoint();
    let at = &bundle.at_record;
    let at_file = FileRef {
        version: bundle.at,
        sha256: at.sha256,
        size: at.size,
    };
    recorded(
        head,
        Record {
            doc: DocType::Delta,
            file: at_file,
        },
        at.index,
        &at.path,
    )?;
    for (doc, files) in [
        (DocType::Root, &bundle.roots),
        (DocType::Registry, &bundle.registries),
        (DocType::Delta, &bundle.deltas),
    ] {
        // A file whose version cannot be read is refused whole below.
        for logged in files {
            if let Some(version) = named_version(&logged.file) {
                in_log(head, doc, version, logged)?;
            }
        }
    }
    let mut verifier = root_chain(&bundle, root)?;
    if verifier.root().list != bundle.list {
        return Err(ProofError::Chain {
            reason: format!(
                "the bundle is of list {}, the trust root given of {}",
                bundle.list,
                verifier.root().list
            ),
        });
    }
    checkpoint
        .verify(&bundle.list, &verifier.root().publish_keys)
        .map_err(|source| ProofError::Checkpoint { source })?;
    for (i, logged) in bundle.registries.iter().enumerate() {
        verifier
            .accept_registry(&logged.file)
            .map_err(|source| ProofError::File {
                file: format!("registry {} of the bundle", i + 1),
                source,
            })?;
    }
    let mut walk = Walk {
        id: &bundle.id,
        registry: verifier.registry().map(|r| &**r),
        principals_from: bundle.registries.first().map(|r| r.index),
        held: Timestamp(0),
        listings: BTreeMap::new(),
        events: Vec::new(),
    };
    let mut last = None;
    for (i, logged) in bundle.deltas.iter().enumerate() {
        let delta = verifier
            .delta_in_history(&logged.file)
            .map_err(|source| ProofError::File {
                file: format!("delta {} of the bundle", i + 1),
                source,
            })?;
        let refuse = |reason: String| ProofError::Delta {
            version: delta.version,
            reason,
        };
        if let Some(last) = last.filter(|l| *l >= delta.version) {
            return Err(refuse(format!(
                "follows version {last}: deltas are carried in ascending order, each once"
            )));
        }
        if delta.version > bundle.at {
            return Err(refuse(format!(
                "is after version {}, the bundle's",
                bundle.at
            )));
        }
        if delta.version == bundle.at && delta.file_sha256() != at.sha256 {
            return Err(refuse(
                "is another file than the one the log records for the bundle's version".to_owned(),
            ));
        }
        last = Some(delta.version);
        walk.delta(&delta, logged.index)?;
    }
    Ok(History {
        list: bundle.list,
        id: bundle.id.clone(),
        at: bundle.at,
        root_version: verifier.root().version,
        checkpoint: checkpoint.clone(),
        events: walk.events,
        standing: walk.listings.into_values().collect(),
        registered: walk.principals_from.is_some(),
    })
}

/// A verifier at the root in force: the bundle's roots are consecutive
/// versions, one of them is `root` byte for byte, and each after it
/// rotates from the one before (R1, R2). Roots before it are checked only
/// as published files (in the log).
fn root_chain(bundle: &ProofBundle, root: &[u8]) -> Result<Verifier, ProofError> {
    let mut verifier = Verifier::pin(root).map_err(|source| ProofError::Root {
        what: "given".to_owned(),
        source,
    })?;
    let given = verifier.root().version;
    let mut versions = Vec::with_capacity(bundle.roots.len());
    for (i, logged) in bundle.roots.iter().enumerate() {
        let version = read_unverified::<TrustRoot>(&logged.file)
            .map_err(|source| ProofError::Root {
                what: format!("{} of the bundle", i + 1),
                source,
            })?
            .version;
        if versions
            .last()
            .is_some_and(|v: &Version| v.get().checked_add(1) != Some(version.get()))
        {
            return Err(ProofError::Chain {
                reason: format!(
                    "root {} of the bundle is version {version}, not the next",
                    i + 1
                ),
            });
        }
        versions.push(version);
    }
    match versions.iter().position(|v| *v == given) {
        Some(at) if bundle.roots[at].file == root => {}
        Some(_) => {
            return Err(ProofError::Chain {
                reason: format!("the bundle's root version {given} is not the trust root given"),
            })
        }
        None => {
            return Err(ProofError::Chain {
                reason: format!(
                    "the bundle's roots (versions {} to {}) do not include the trust root given (version {given})",
                    versions[0],
                    versions[versions.len() - 1]
                ),
            })
        }
    }
    for (logged, version) in bundle.roots.iter().zip(&versions) {
        if *version > given {
            verifier
                .rotate(&logged.file)
                .map_err(|source| ProofError::Root {
                    what: format!("version {version} of the bundle"),
                    source,
                })?;
        }
    }
    Ok(verifier)
}

/// The version a root, registry or delta file names, read without the rest
/// of it: each of their payloads starts with the list's name and the
/// version (docs/FORMAT.md). `None` for a file that is not a document.
fn named_version(file: &[u8]) -> Option<Version> {
    let payload = envelope::parse(file).ok()?.payload;
    let ((_, version), _) = postcard::take_from_bytes::<(&str, u64)>(payload).ok()?;
    Version::new(version)
}

/// Checks that `logged`, a `doc` of `version`, is recorded at the entry it
/// names of the tree `head` signs (PR4).
fn in_log(
    head: &Checkpoint,
    doc: DocType,
    version: Version,
    logged: &LoggedFile,
) -> Result<(), ProofError> {
    let file = FileRef {
        version,
        sha256: Sha256::of(&logged.file),
        size: logged.file.len() as u64,
    };
    recorded(head, Record { doc, file }, logged.index, &logged.path)
}

/// Checks that `record` is entry `index` of the tree `head` signs, by the
/// inclusion proof `path`.
fn recorded(
    head: &Checkpoint,
    record: Record,
    index: u64,
    path: &[Sha256],
) -> Result<(), ProofError> {
    let leaf = leaf_hash(&record.to_bytes());
    if root_from_inclusion(index, head.size, leaf, path) != Some(head.root) {
        return Err(ProofError::NotInLog {
            file: format!("{} {}", record.doc, record.file.version),
            index,
            size: head.size,
        });
    }
    Ok(())
}

/// The identifier's listings as the deltas shown so far leave them, and
/// the events they made.
struct Walk<'a> {
    id: &'a Identifier,
    registry: Option<&'a Registry>,
    /// The log entry of registry version 1: a delta recorded after it was
    /// published with agencies as principals, and is judged whatever date
    /// it claims (the log's order is the checkpoint's word, not the
    /// centre's clock).
    principals_from: Option<u64>,
    /// The newest `created_at` of the deltas walked: from a judged one on,
    /// every later one is (W1), as for a replica holding it.
    held: Timestamp,
    listings: BTreeMap<Agency, EntryMeta>,
    events: Vec<Event>,
}

impl Walk<'_> {
    /// Takes one delta's operations on the identifier (PR5, PR6).
    fn delta(&mut self, delta: &Verified<Delta>, index: u64) -> Result<(), ProofError> {
        let version = delta.version;
        let refuse = |reason: String| ProofError::Delta { version, reason };
        let unauthorised = |source| ProofError::Unauthorised {
            version,
            source: Box::new(source),
        };
        let ops: Vec<&Op> = delta.ops.iter().filter(|op| op.id() == self.id).collect();
        if ops.is_empty() {
            return Err(refuse(format!("does not change {}", self.id)));
        }
        let authority = delta.authority();
        let recorded_since_principals = self.principals_from.is_some_and(|first| index > first);
        let judged = authority.filter(|a| a.judges(self.held) || recorded_since_principals);
        self.held = self.held.max(delta.created_at);
        let before = self.listings.clone();
        let gap = "the bundle must carry the identifier's history from its first listing";
        for op in ops {
            let olds: Vec<Option<EntryMeta>> = match op {
                Op::Add(e) if self.listings.contains_key(&e.meta.agency) => {
                    return Err(refuse(format!(
                        "adds {}'s listing, which the changes shown before hold already",
                        e.meta.agency
                    )))
                }
                Op::Add(_) => vec![None],
                Op::Update(e) => vec![Some(self.held(&e.meta.agency, "updates", gap, &refuse)?)],
                Op::Remove(_, Some(agency)) => {
                    vec![Some(self.held(agency, "removes", gap, &refuse)?)]
                }
                Op::Remove(_, None) if self.listings.is_empty() => {
                    return Err(refuse(format!(
                    "removes every listing of {}, and the changes shown before leave none; {gap}",
                    self.id
                )))
                }
                Op::Remove(_, None) => self.listings.values().cloned().map(Some).collect(),
            };
            for old in olds {
                if let Some(authority) = judged {
                    let old_entry = old.clone().map(|meta| Entry {
                        id: self.id.clone(),
                        meta,
                    });
                    authority
                        .check(op, old_entry.as_ref())
                        .map_err(unauthorised)?;
                }
                let change = match (op, old) {
                    (Op::Add(e), _) => Change::Listed(e.meta.clone()),
                    (Op::Update(e), _) => Change::Updated(e.meta.clone()),
                    (Op::Remove(..), Some(old)) => Change::Removed(old),
                    (Op::Remove(..), None) => unreachable!("a removal is of a listing held"),
                };
                let agency = change.listing().agency.clone();
                match &change {
                    Change::Listed(m) | Change::Updated(m) => {
                        self.listings.insert(agency.clone(), m.clone());
                    }
                    Change::Removed(_) => {
                        self.listings.remove(&agency);
                    }
                }
                self.events.push(Event {
                    version,
                    published_at: delta.created_at,
                    log_index: index,
                    by: self.signer(delta, authority, &agency),
                    change,
                });
            }
        }
        // What a carried submission asked of the identifier and the delta
        // did not make must have asked for no change (W5).
        if let Some(authority) = judged {
            let held: Vec<EntryMeta> = before.into_values().collect();
            for listing in authority.unmade().iter().filter(|l| &l.0 == self.id) {
                authority
                    .check_unmade(listing, &held)
                    .map_err(unauthorised)?;
            }
        }
        Ok(())
    }

    fn held(
        &self,
        agency: &Agency,
        verb: &str,
        gap: &str,
        refuse: &impl Fn(String) -> ProofError,
    ) -> Result<EntryMeta, ProofError> {
        self.listings.get(agency).cloned().ok_or_else(|| {
            refuse(format!(
                "{verb} {agency}'s listing of {}, which no change shown before made; {gap}",
                self.id
            ))
        })
    }

    /// Who signed for the change to `agency`'s listing in `delta`.
    fn signer(&self, delta: &Delta, authority: Option<&Authority>, agency: &Agency) -> Signer {
        let Some(authority) = authority else {
            return Signer::Centre;
        };
        let listing = (self.id.clone(), agency.clone());
        if let Some(index) = authority.asked_by(&listing) {
            let signer = &authority.signers()[index];
            return Signer::Agency {
                agency: agency.clone(),
                name: self
                    .registry
                    .and_then(|r| r.agency(agency.as_str()))
                    .map_or_else(String::new, |a| a.name().to_owned()),
                key: signer.key,
                sequence: signer.sequence,
                accepted_at: delta.submissions[index].accepted_at,
                why: match authority.request(&listing) {
                    Some(SubmissionOp::Remove(r)) => Some(r.why),
                    _ => None,
                },
            };
        }
        authority
            .overrides()
            .iter()
            .find(|o| {
                o.decision
                    .listings()
                    .any(|l| &l.id == self.id && &l.agency == agency)
            })
            .map_or(Signer::Centre, |o| Signer::Override {
                made_at: o.decision.made_at,
                why: o.decision.why,
                note: o.decision.note.clone(),
                keys: o.signers.clone(),
            })
    }
}
