//! Verification: the only way bytes become a [`Verified`] document.
//!
//! A [`Verifier`] holds the pinned [`TrustRoot`] of one list. It checks, in this
//! order, and with a distinct [`VerifyError`] for each failure: the envelope
//! is well formed and of the expected type, every signature is by a key of the
//! right role and valid, enough distinct keys signed, the payload decodes to
//! its canonical form, the document is for this list, and its version follows
//! what the client holds (no rollback, replay or gap). Payloads other than
//! trust roots are decoded only after their signatures check out.
//!
//! An agency's submission to the centre is checked against the agency
//! registry instead of the trust root: [`verify_submission`]. A replica's
//! receipt is checked against the replica keys the centre registered:
//! [`verify_receipt`].

pub mod authority;
pub mod provenance;
mod receipt;
mod submission;

use provenance::Provenance;

use authority::Since;
pub use authority::{Authority, AuthorityError, CarriedOverride, MAX_CLOCK_SKEW};
pub use receipt::{verify_receipt, ReceiptError};
pub use submission::{verify_submission, SubmissionError};

use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read};
use std::ops::Deref;
use std::os::unix::fs::FileExt as _;

use sha2::{Digest as _, Sha256 as Sha2};

use crate::commitment::Commitment;
use crate::digest::Sha256;
use crate::document::{
    envelope, Acknowledgement, DecodeError, Delta, DocType, Document, FileRef, KeySet, ListId,
    ListState, Manifest, Origin, Override, Registry, RegistryChangeError, Snapshot, SnapshotHead,
    SnapshotStream, SnapshotTail, SnapshotTailStream, TrustRoot, Version,
};
use crate::entry::{Entry, Timestamp};
use crate::keys::KeyId;

/// A document whose signatures, list and version were checked by a [`Verifier`].
/// Nothing outside this module can make one, so unverified data cannot reach
/// the store by accident.
#[derive(Debug, Clone)]
pub struct Verified<T> {
    doc: T,
    file: Sha256,
    /// The envelope format it was read in.
    format: u8,
    /// For a delta verified under an agency registry: who asked for what.
    authority: Option<Box<Authority>>,
}

impl Verified<Delta> {
    /// What the delta's carried submissions ask for, which the store checks
    /// each operation against as it applies it: `None` when the verifier
    /// held no agency registry (no listing is an agency's to guard).
    pub fn authority(&self) -> Option<&Authority> {
        self.authority.as_deref()
    }
}

impl<T> Verified<T> {
    /// The document.
    pub fn into_inner(self) -> T {
        self.doc
    }

    /// SHA-256 of the file it was read from.
    pub fn file_sha256(&self) -> Sha256 {
        self.file
    }

    /// The envelope format it was read in.
    pub fn format(&self) -> u8 {
        self.format
    }

    /// Which commitment its state digest is (a manifest's, delta's or
    /// snapshot's; by its format).
    pub fn commitment(&self) -> Commitment {
        Commitment::of_format(self.format)
    }
}

impl<T> Deref for Verified<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.doc
    }
}

/// Which key set a signature is checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The root keys, which sign trust roots and agency registries.
    Root,
    /// The publish keys, which sign manifests, deltas and snapshots.
    Publish,
    /// The override keys, which sign overrides.
    Override,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Root => "root",
            Role::Publish => "publish",
            Role::Override => "override",
        })
    }
}

/// Why a document was refused. Version errors carry both the version the client
/// trusts and the one offered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The bytes are not a well-formed, canonical document.
    #[error("malformed {doc}: {source}")]
    Malformed {
        /// The document type expected.
        doc: DocType,
        /// What is wrong.
        source: DecodeError,
    },
    /// A well-formed document of another type.
    #[error("wrong kind of document: expected a {expected}, found a {found}")]
    WrongDocument {
        /// The type expected.
        expected: DocType,
        /// The type found.
        found: DocType,
    },
    /// Signed by a key that is not in the role's key set.
    #[error(
        "{doc} is signed by key {key_id}, which is not a {role} key of trust root {root_version}"
    )]
    UnknownKey {
        /// The document type.
        doc: DocType,
        /// The unknown key.
        key_id: KeyId,
        /// The role checked.
        role: Role,
        /// The trust root's version.
        root_version: Version,
    },
    /// A signature that does not verify.
    #[error("{doc} has a bad signature by key {key_id}")]
    BadSignature {
        /// The document type.
        doc: DocType,
        /// The key the signature claims.
        key_id: KeyId,
    },
    /// Too few distinct keys signed.
    #[error("{doc} has {valid} valid {role} signatures, the threshold is {threshold}")]
    ThresholdNotMet {
        /// The document type.
        doc: DocType,
        /// The role checked.
        role: Role,
        /// Valid signatures found.
        valid: usize,
        /// Signatures needed.
        threshold: u8,
    },
    /// An override, under a trust root that names no override keys.
    #[error("an override needs override keys, and trust root {root_version} names none")]
    NoOverrideKeys {
        /// The trust root's version.
        root_version: Version,
    },
    /// A document of another list.
    #[error("{doc} is for list {found:?}, this client follows {expected:?}")]
    WrongList {
        /// The document type.
        doc: DocType,
        /// The list followed.
        expected: String,
        /// The list named.
        found: String,
    },
    /// Older than what the client holds.
    #[error("rollback refused: {doc} version {offered} is older than trusted version {trusted}")]
    Rollback {
        /// The document type.
        doc: DocType,
        /// The version the client holds.
        trusted: u64,
        /// The version offered.
        offered: u64,
    },
    /// A manifest older than the newest one verified: a lagging mirror or
    /// cache while it is within its lifetime, a replay once past it.
    #[error("rollback refused: manifest serial {offered} is older than serial {seen} already verified (it expires at {expires_at})")]
    SerialRollback {
        /// The newest serial verified.
        seen: u64,
        /// The serial offered.
        offered: u64,
        /// The offered manifest's expiry.
        expires_at: Timestamp,
    },
    /// The version the client already holds, offered again.
    #[error("replay refused: {doc} version {version} is already applied")]
    Replay {
        /// The document type.
        doc: DocType,
        /// The version.
        version: u64,
    },
    /// A document that skips versions.
    #[error("version gap: holding {doc} version {trusted}, the next {doc} must be {}, got {offered}", trusted + 1)]
    Gap {
        /// The document type.
        doc: DocType,
        /// The version the client holds.
        trusted: u64,
        /// The delta's version.
        offered: u64,
    },
    /// A manifest past its expiry.
    #[error(
        "manifest serial {serial} expired at {expires_at} (now {now}): the feed may be frozen"
    )]
    Expired {
        /// The manifest's serial.
        serial: u64,
        /// Its expiry.
        expires_at: Timestamp,
        /// The time of the check.
        now: Timestamp,
    },
    /// An agency registry that changes what the registry held says may not
    /// change (AR4, AR5).
    #[error(
        "registry version {offered} breaks the history of version {held} held (0: none): {source}"
    )]
    RegistryChange {
        /// The version held (0: none).
        held: u64,
        /// The version offered.
        offered: u64,
        /// What it changes.
        source: RegistryChangeError,
    },
    /// A delta whose operations are not the ones its agencies asked for
    /// (W1-W6): the centre acting in an agency's name.
    #[error("{source}")]
    Authority {
        /// What is not authorised (boxed: it is rare, and large).
        source: Box<AuthorityError>,
    },
    /// Content that does not match the digest announced for it.
    #[error("digest mismatch for {what}: expected {expected}, got {actual}")]
    DigestMismatch {
        /// What was checked (a file, a list state).
        what: String,
        /// The announced digest (and count or size).
        expected: String,
        /// What the content gives.
        actual: String,
    },
}

/// Checks documents of one list against a pinned trust root.
///
/// ```
/// use blocklist_core::document::*;
/// use blocklist_core::verify::{Verifier, VerifyError};
/// use blocklist_core::*;
/// let key = SecretKey::generate().unwrap();
/// let list = ListId::new("demo").unwrap();
/// let root = TrustRoot::single_key(list.clone(), &key, Timestamp(0), Timestamp(u64::MAX));
/// let verifier = Verifier::pin(&root.sign(&[&key]).unwrap()).unwrap();
///
/// let delta = Delta { list, version: Version::FIRST, created_at: Timestamp(0),
///                     ops: vec![], state: ListState::default(), submissions: vec![],
///                     overrides: vec![],
///                     extensions: vec![] };
/// let bytes = delta.sign(&[&key]).unwrap();
/// assert!(verifier.delta(&bytes, None).is_ok());
/// assert!(matches!(verifier.delta(&bytes, Version::new(1)), Err(VerifyError::Replay { .. })));
/// ```
#[derive(Clone, Debug)]
pub struct Verifier {
    root: Verified<TrustRoot>,
    /// The newest agency registry accepted, if any: kept across root
    /// rotations, since it was signed by the root in force when it came.
    registry: Option<Verified<Registry>>,
    /// `issued_at` of registry version 1, the first accepted: from then on
    /// agencies are principals (W1).
    principals_since: Option<Timestamp>,
    /// `issued_at` of the first trust root of the chain held that names
    /// override keys: from then on a legacy listing is an override's to
    /// remove (W1, W6).
    overrides_since: Option<Timestamp>,
    /// The override keys of every trust root of the chain held, oldest
    /// first, with the root's version: a snapshot's past overrides were
    /// signed under the root of their day, and one that updates a listing
    /// must verify under one of them (W8).
    override_keys: Vec<(KeySet, Version)>,
}

impl Verifier {
    /// Trusts a first root, which must be signed by a threshold of its own root
    /// keys. How the client came to hold these bytes (shipped with the install,
    /// compared against a published digest) is what makes them trustworthy.
    pub fn pin(root: &[u8]) -> Result<Verifier, VerifyError> {
        let env = envelope_of::<TrustRoot>(root)?;
        // A root names its own keys, so it is decoded before its signatures
        // can be checked (roots are small and rare); every other document is
        // checked first.
        let doc: TrustRoot = decode(&env)?;
        check_signatures((&env).into(), Role::Root, &[(&doc.root_keys, doc.version)])?;
        Ok(Verifier {
            overrides_since: doc.override_keys.as_ref().map(|_| doc.issued_at),
            override_keys: doc
                .override_keys
                .iter()
                .map(|keys| (keys.clone(), doc.version))
                .collect(),
            root: Verified {
                doc,
                file: Sha256::of(root),
                format: env.format,
                authority: None,
            },
            registry: None,
            principals_since: None,
        })
    }

    /// The trust root in force.
    pub fn root(&self) -> &Verified<TrustRoot> {
        &self.root
    }

    /// Moves to the next trust root: its version must be exactly one more, a
    /// threshold of the current root keys must sign it, and so must a threshold
    /// of its own root keys. On error the current root stays.
    pub fn rotate(&mut self, next: &[u8]) -> Result<&Verified<TrustRoot>, VerifyError> {
        let current = &self.root.doc;
        let env = envelope_of::<TrustRoot>(next)?;
        // Signed by old and new root keys alike: decoded first, as in `pin`.
        let doc: TrustRoot = decode(&env)?;
        // Version first: a root offered again is better reported as a replay
        // than as signed by keys the current root no longer has.
        self.check_list(&doc)?;
        follows(DocType::Root, Some(current.version), doc.version)?;
        check_signatures(
            (&env).into(),
            Role::Root,
            &[
                (&current.root_keys, current.version),
                (&doc.root_keys, doc.version),
            ],
        )?;
        if let Some(keys) = &doc.override_keys {
            self.overrides_since.get_or_insert(doc.issued_at);
            self.override_keys.push((keys.clone(), doc.version));
        }
        self.root = Verified {
            doc,
            file: Sha256::of(next),
            format: env.format,
            authority: None,
        };
        Ok(&self.root)
    }

    /// From when agencies are principals: `issued_at` of the first
    /// registry accepted (W1); `None` while none is.
    pub fn principals_since(&self) -> Option<Timestamp> {
        self.principals_since
    }

    /// The newest agency registry accepted ([`Self::accept_registry`]).
    pub fn registry(&self) -> Option<&Verified<Registry>> {
        self.registry.as_ref()
    }

    /// Checks an agency registry as the next one after the registry held:
    /// signed by a threshold of the current root's root keys and by no other
    /// key (AR2), of this list, exactly the next version (version 1 when
    /// none is held; AR3), and changing nothing the held one fixes (AR4,
    /// AR5). Root keys sign it, not publish keys: the centre's online key
    /// alone can neither register an agency nor give one a key.
    ///
    /// ```
    /// use blocklist_core::document::*;
    /// use blocklist_core::verify::Verifier;
    /// use blocklist_core::*;
    /// let key = SecretKey::generate().unwrap();
    /// let list = ListId::new("demo").unwrap();
    /// let root = TrustRoot::single_key(list.clone(), &key, Timestamp(0), Timestamp(u64::MAX));
    /// let mut verifier = Verifier::pin(&root.sign(&[&key]).unwrap()).unwrap();
    /// let registry = Registry::new(list, Version::FIRST, Timestamp(0), vec![], vec![]).unwrap();
    /// let bytes = registry.sign(&[&key]).unwrap();
    /// assert!(verifier.check_registry(&bytes).is_ok());
    /// verifier.accept_registry(&bytes).unwrap();
    /// assert!(verifier.check_registry(&bytes).is_err()); // a replay now
    /// ```
    pub fn check_registry(&self, bytes: &[u8]) -> Result<Verified<Registry>, VerifyError> {
        let doc: Verified<Registry> = self.signed_by(bytes, Role::Root)?;
        let held = self.registry.as_deref();
        follows(DocType::Registry, held.map(|r| r.version), doc.version)?;
        doc.check_follows(held)
            .map_err(|source| VerifyError::RegistryChange {
                held: held.map_or(0, |r| r.version.get()),
                offered: doc.version.get(),
                source,
            })?;
        Ok(doc)
    }

    /// Checks a registry of a version no newer than the one held, as the
    /// current root's keys sign it again after a rotation (AR2): signed by a
    /// threshold of them and by no other key, of this list. Whether its
    /// content follows the chain is for whoever takes the kept chain up
    /// again, version by version; a newer version goes through
    /// [`Self::accept_registry`] instead.
    pub fn check_registry_signed_again(&self, bytes: &[u8]) -> Result<Version, VerifyError> {
        let doc: Verified<Registry> = self.signed_by(bytes, Role::Root)?;
        let held = self.registry.as_deref().map(|r| r.version);
        match held {
            Some(held) if doc.version <= held => Ok(doc.version),
            _ => Err(VerifyError::Gap {
                doc: DocType::Registry,
                trusted: held.map_or(0, Version::get),
                offered: doc.version.get(),
            }),
        }
    }

    /// Checks a registry as [`Self::check_registry`] does and, if it passes,
    /// holds it as the registry in force. On error the held one stays.
    pub fn accept_registry(&mut self, bytes: &[u8]) -> Result<&Verified<Registry>, VerifyError> {
        let verified = self.check_registry(bytes)?;
        self.principals_since.get_or_insert(verified.issued_at);
        Ok(self.registry.insert(verified))
    }

    /// Checks a manifest: publish signatures, list, not expired at `now`, and
    /// not older than the newest serial this client has seen (an equal serial is
    /// the same manifest fetched again, which is fine).
    pub fn manifest(
        &self,
        bytes: &[u8],
        now: Timestamp,
        seen_serial: Option<u64>,
    ) -> Result<Verified<Manifest>, VerifyError> {
        let doc: Verified<Manifest> = self.publish_signed(bytes)?;
        if let Some(seen) = seen_serial.filter(|seen| doc.serial < *seen) {
            return Err(VerifyError::SerialRollback {
                seen,
                offered: doc.serial,
                expires_at: doc.expires_at,
            });
        }
        if now >= doc.expires_at {
            return Err(VerifyError::Expired {
                serial: doc.serial,
                expires_at: doc.expires_at,
                now,
            });
        }
        Ok(doc)
    }

    /// Checks a delta for a client at version `current` (`None`: the empty list):
    /// publish signatures, list, and that it is exactly the next version.
    pub fn delta(
        &self,
        bytes: &[u8],
        current: Option<Version>,
    ) -> Result<Verified<Delta>, VerifyError> {
        let doc: Verified<Delta> = self.publish_signed(bytes)?;
        follows(DocType::Delta, current, doc.version)?;
        self.with_authority(doc)
    }

    /// Checks a delta of the published history, wherever it stands in the
    /// chain: publish signatures, list, and who asked for its changes (W2,
    /// W3, W7), as [`Self::delta`] checks them, but not that it follows a
    /// version held. A proof bundle carries only the deltas that touched
    /// one identifier ([`crate::proof`]).
    pub fn delta_in_history(&self, bytes: &[u8]) -> Result<Verified<Delta>, VerifyError> {
        self.with_authority(self.publish_signed(bytes)?)
    }

    fn with_authority(&self, mut doc: Verified<Delta>) -> Result<Verified<Delta>, VerifyError> {
        doc.authority = self
            .authority(&doc)
            .map_err(|source| VerifyError::Authority {
                source: Box::new(source),
            })?
            .map(Box::new);
        Ok(doc)
    }

    /// What `delta`'s carried submissions ask for, checked against the
    /// agency registry held (W2, W3): `None` when no registry is held and
    /// the delta carries none. [`Self::delta`] calls it; a centre calls it
    /// too, to check a delta as replicas will before it signs it.
    pub fn authority(&self, delta: &Delta) -> Result<Option<Authority>, AuthorityError> {
        let carried = delta.submissions.len() + delta.overrides.len();
        match (self.registry(), self.principals_since) {
            (Some(registry), Some(since)) => {
                let overrides = delta
                    .overrides
                    .iter()
                    .enumerate()
                    .map(|(index, file)| {
                        CarriedOverride::new(file, |file| self.override_doc(file)).map_err(
                            |source| AuthorityError::Override {
                                index,
                                source: Box::new(source),
                            },
                        )
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let since = Since {
                    principals: since,
                    overrides: self.overrides_since,
                };
                Authority::new(delta, registry, since, overrides).map(Some)
            }
            _ if carried > 0 => Err(AuthorityError::NoRegistry { count: carried }),
            _ => Ok(None),
        }
    }

    /// Checks an override: signed by a threshold of the current root's
    /// override keys and by no other key (OV1), and of this list. Anyone
    /// holding the trust root can check one; a replica checks each its delta
    /// carries ([`Self::delta`]).
    ///
    /// ```
    /// use blocklist_core::document::*;
    /// use blocklist_core::verify::{Verifier, VerifyError};
    /// use blocklist_core::*;
    /// let (key, judge) = (SecretKey::generate().unwrap(), SecretKey::generate().unwrap());
    /// let list = ListId::new("demo").unwrap();
    /// let mut root = TrustRoot::single_key(list.clone(), &key, Timestamp(0), Timestamp(u64::MAX));
    /// root.override_keys = Some(KeySet::new(vec![judge.public_key()], 1).unwrap());
    /// let verifier = Verifier::pin(&root.sign(&[&key]).unwrap()).unwrap();
    /// let decision = Override { list, made_at: Timestamp(5), why: RemovalReason::APPEAL_UPHELD,
    ///     note: "appeal 7".into(), extensions: vec![], updates: vec![], removals: vec![ListingRef {
    ///         id: Identifier::from_canonical(Kind::Domain, "shop.example").unwrap(),
    ///         agency: Agency::new("th-aoc").unwrap(), listed_at: Timestamp(1) }] };
    /// assert!(verifier.override_doc(&decision.sign(&[&judge]).unwrap()).is_ok());
    /// // The publish key is no override key.
    /// let refused = verifier.override_doc(&decision.sign(&[&key]).unwrap());
    /// assert!(matches!(refused, Err(VerifyError::UnknownKey { .. })));
    /// ```
    pub fn override_doc(&self, bytes: &[u8]) -> Result<Verified<Override>, VerifyError> {
        self.signed_by(bytes, Role::Override)
    }

    /// Checks the centre's acknowledgement of a submission: publish
    /// signatures of the current root and no other (K1, AK2), and this
    /// list. Its version is the latest the submission will be in, not a
    /// version the client holds, so no order is checked. Anyone holding the
    /// trust root can check one; compare [`Acknowledgement::submission`]
    /// with the SHA-256 of the submission file to tie the two together.
    ///
    /// ```
    /// use std::num::NonZeroU64;
    /// use blocklist_core::document::*;
    /// use blocklist_core::verify::Verifier;
    /// use blocklist_core::*;
    /// let key = SecretKey::generate().unwrap();
    /// let list = ListId::new("demo").unwrap();
    /// let root = TrustRoot::single_key(list.clone(), &key, Timestamp(0), Timestamp(u64::MAX));
    /// let verifier = Verifier::pin(&root.sign(&[&key]).unwrap()).unwrap();
    /// let ack = Acknowledgement { list, submission: Sha256::of(b"file"),
    ///     agency: Agency::new("th-aoc").unwrap(), sequence: NonZeroU64::MIN,
    ///     accepted_at: Timestamp(5), version: Version::FIRST, extensions: vec![] };
    /// let verified = verifier.acknowledgement(&ack.sign(&[&key]).unwrap()).unwrap();
    /// assert_eq!(verified.submission, Sha256::of(b"file"));
    /// ```
    pub fn acknowledgement(&self, bytes: &[u8]) -> Result<Verified<Acknowledgement>, VerifyError> {
        self.publish_signed(bytes)
    }

    /// Checks a snapshot for a client at version `current`: publish signatures,
    /// list, newer than `current`, and entries that match the signed state digest.
    pub fn snapshot(
        &self,
        bytes: &[u8],
        current: Option<Version>,
    ) -> Result<Verified<Snapshot>, VerifyError> {
        let doc: Verified<Snapshot> = self.publish_signed(bytes)?;
        if let Some(current) = current.filter(|c| doc.version <= *c) {
            return Err(stale(DocType::Snapshot, current, doc.version));
        }
        check_state(
            &format!("snapshot {} entries", doc.version),
            &doc.state,
            &doc.computed_state(doc.commitment()),
        )?;
        let head = SnapshotHead {
            list: doc.list.clone(),
            version: doc.version,
            created_at: doc.created_at,
            state: doc.state,
        };
        let traced = match self.snapshot_provenance(&head) {
            Some(provenance) => provenance.check_all(&doc),
            None => Provenance::none_carried(doc.origins.len() as u64),
        };
        traced.map_err(|source| VerifyError::Authority {
            source: Box::new(source),
        })?;
        Ok(doc)
    }

    /// The checks of the origins a snapshot whose head is `head` carries
    /// (W8): `None` when no agency registry is held (and then it must carry
    /// none). A centre checks its store with it before it signs a snapshot
    /// ([`crate::store::Store::untraced`]).
    pub fn snapshot_provenance(&self, head: &SnapshotHead) -> Option<Provenance> {
        let registry = self.registry()?;
        Some(Provenance::new(
            head,
            registry,
            self.principals_since?,
            (&self.override_keys, self.root.doc.version),
        ))
    }

    /// Checks a snapshot file as it streams, for a client at version
    /// `current`, in memory that does not grow with the snapshot: the
    /// envelope and publish signatures (the payload is hashed in pieces, never
    /// held), list, and that it is newer than `current`. Its entries are read
    /// only by the store, through [`SnapshotFile::entries`], which hashes the
    /// bytes again as it decodes them and refuses them, before anything
    /// commits, unless they are the bytes the signatures cover and give the
    /// signed state.
    ///
    /// ```
    /// use std::io::Write as _;
    /// use blocklist_core::document::*;
    /// use blocklist_core::verify::Verifier;
    /// use blocklist_core::*;
    /// let key = SecretKey::generate().unwrap();
    /// let list = ListId::new("demo").unwrap();
    /// let root = TrustRoot::single_key(list.clone(), &key, Timestamp(0), Timestamp(u64::MAX));
    /// let verifier = Verifier::pin(&root.sign(&[&key]).unwrap()).unwrap();
    /// let snapshot = Snapshot { list, version: Version::FIRST, created_at: Timestamp(0),
    ///     entries: vec![], state: ListState::default(), sequences: Default::default(),
    ///     overrides: vec![], origins: vec![], extensions: vec![] };
    /// let mut file = tempfile::tempfile().unwrap();
    /// file.write_all(&snapshot.sign(&[&key]).unwrap()).unwrap();
    /// let verified = verifier.snapshot_file(file, None).unwrap();
    /// assert_eq!(verified.head().version, Version::FIRST);
    /// ```
    pub fn snapshot_file(
        &self,
        file: File,
        current: Option<Version>,
    ) -> Result<Verified<SnapshotFile>, VerifyError> {
        let doc = DocType::Snapshot;
        let malformed = |source| VerifyError::Malformed { doc, source };
        let scanned = envelope::scan(&mut BufReader::with_capacity(
            READ_BUFFER,
            FileRange::new(&file, 0, u64::MAX),
        ))
        .map_err(malformed)?;
        if scanned.header.doc_type != doc {
            return Err(VerifyError::WrongDocument {
                expected: doc,
                found: scanned.header.doc_type,
            });
        }
        let root = &self.root.doc;
        check_signatures(
            Signed {
                doc_type: doc,
                signatures: &scanned.signatures,
                message: &scanned.message,
            },
            Role::Publish,
            &[(&root.publish_keys, root.version)],
        )?;
        let payload_len = scanned.header.payload_len;
        let (head, _) = open_payload(&file, payload_len).map_err(malformed)?;
        self.check_list_id(doc, &head.list)?;
        if let Some(current) = current.filter(|c| head.version <= *c) {
            return Err(stale(doc, current, head.version));
        }
        // The origins' count is known only once the entries are read: the
        // store refuses them then if no registry is held.
        let provenance = self.snapshot_provenance(&head);
        Ok(Verified {
            doc: SnapshotFile {
                head,
                file,
                payload_len,
                signed_digest: scanned.signed_digest,
                provenance,
            },
            file: scanned.file_sha256,
            format: scanned.header.format,
            authority: None,
        })
    }

    fn publish_signed<T: Document>(&self, bytes: &[u8]) -> Result<Verified<T>, VerifyError> {
        self.signed_by(bytes, Role::Publish)
    }

    /// A document of type `T` signed by a threshold of the current root's
    /// keys of `role` and by no other key, decoded only then, of this list.
    fn signed_by<T: Document>(&self, bytes: &[u8], role: Role) -> Result<Verified<T>, VerifyError> {
        let root = &self.root.doc;
        let keys = match role {
            Role::Root => &root.root_keys,
            Role::Publish => &root.publish_keys,
            Role::Override => root
                .override_keys
                .as_ref()
                .ok_or(VerifyError::NoOverrideKeys {
                    root_version: root.version,
                })?,
        };
        let env = envelope_of::<T>(bytes)?;
        check_signatures((&env).into(), role, &[(keys, root.version)])?;
        let doc: T = decode(&env)?;
        self.check_list(&doc)?;
        Ok(Verified {
            doc,
            file: Sha256::of(bytes),
            format: env.format,
            authority: None,
        })
    }

    fn check_list<T: Document>(&self, doc: &T) -> Result<(), VerifyError> {
        self.check_list_id(T::TYPE, doc.list())
    }

    fn check_list_id(&self, doc: DocType, list: &ListId) -> Result<(), VerifyError> {
        if list != &self.root.doc.list {
            return Err(VerifyError::WrongList {
                doc,
                expected: self.root.doc.list.to_string(),
                found: list.to_string(),
            });
        }
        Ok(())
    }
}

/// The buffer snapshot files are read through.
const READ_BUFFER: usize = 256 << 10;

/// A snapshot file whose envelope and signatures were checked by
/// [`Verifier::snapshot_file`], with what its payload says before the
/// entries. The entries are read from the file when the store applies it.
#[derive(Debug)]
pub struct SnapshotFile {
    head: SnapshotHead,
    file: File,
    payload_len: u64,
    /// What the signatures cover: SHA-256 of the header and the payload.
    signed_digest: Sha256,
    /// The checks of its origins (W8), when the verifier held a registry.
    provenance: Option<Provenance>,
}

/// The entries of a [`SnapshotFile`], read again from the file in bounded
/// batches and hashed as they are read. A file changed since it was verified
/// fails [`SnapshotRest::finish`], once the rest was read: a store applies
/// the entries in a transaction that commits only once it has accepted them.
pub struct SnapshotEntries<'a> {
    stream: PayloadStream<'a>,
    signed_digest: Sha256,
}

/// A snapshot file's payload, decoded as it is read and hashed.
type PayloadStream<'a> = SnapshotStream<BufReader<Hashing<FileRange<'a>>>>;

impl SnapshotFile {
    /// What the snapshot says before its entries.
    pub fn head(&self) -> &SnapshotHead {
        &self.head
    }

    /// The checks of the origins it carries (W8): `None` when the verifier
    /// held no agency registry, and so a snapshot that carries origins is
    /// refused ([`AuthorityError::OriginsWithoutRegistry`]).
    pub fn provenance(&self) -> Option<&Provenance> {
        self.provenance.as_ref()
    }

    /// Reads the entries from the start, hashing every byte read.
    pub fn entries(&self) -> Result<SnapshotEntries<'_>, VerifyError> {
        let (_, stream) = open_payload(&self.file, self.payload_len).map_err(malformed_snapshot)?;
        Ok(SnapshotEntries {
            stream,
            signed_digest: self.signed_digest,
        })
    }
}

impl<'a> SnapshotEntries<'a> {
    /// Appends up to `max` more entries to `out`; `false` once all were read.
    /// Entries come in wire order, checked as [`SnapshotStream`] checks them.
    pub fn read_entries(&mut self, out: &mut Vec<Entry>, max: usize) -> Result<bool, VerifyError> {
        self.stream
            .read_entries(out, max)
            .map_err(malformed_snapshot)
    }

    /// Ends the entries: what follows them is read next, up to the origins
    /// ([`SnapshotRest`]).
    pub fn finish(self) -> Result<SnapshotRest<'a>, VerifyError> {
        let tail = self.stream.finish().map_err(malformed_snapshot)?;
        Ok(SnapshotRest {
            tail,
            signed_digest: self.signed_digest,
        })
    }
}

/// What a [`SnapshotFile`] says after its entries, read again from the file
/// and hashed as it is read: its sequences and past overrides
/// ([`Self::tail`]), then its origins one at a time ([`Self::next_origin`]).
/// A file changed since it was verified fails [`Self::finish`].
pub struct SnapshotRest<'a> {
    tail: SnapshotTailStream<BufReader<Hashing<FileRange<'a>>>>,
    signed_digest: Sha256,
}

impl SnapshotRest<'_> {
    /// Its agency sequences and past overrides ([`Snapshot::sequences`],
    /// [`Snapshot::overrides`]).
    pub fn tail(&self) -> &SnapshotTail {
        self.tail.tail()
    }

    /// The origins not yet read ([`Snapshot::origins`]).
    pub fn origins_left(&self) -> u64 {
        self.tail.origins_left()
    }

    /// The next origin, in the order the snapshot carries them; `None` once
    /// all were read.
    pub fn next_origin(&mut self) -> Result<Option<Origin>, VerifyError> {
        self.tail.next_origin().map_err(malformed_snapshot)
    }

    /// Ends the read: the rest of the payload must be canonical, and the
    /// bytes read must be the ones the signatures cover. Returns the
    /// sequences and past overrides.
    pub fn finish(self) -> Result<SnapshotTail, VerifyError> {
        let (tail, _, reader) = self.tail.finish().map_err(malformed_snapshot)?;
        let read = Sha256(reader.into_inner().hasher.finalize().into());
        if read != self.signed_digest {
            return Err(VerifyError::DigestMismatch {
                what: "snapshot file read again to apply it (changed since it was verified?)"
                    .to_owned(),
                expected: self.signed_digest.to_string(),
                actual: read.to_string(),
            });
        }
        Ok(tail)
    }
}

/// A snapshot that does not decode.
fn malformed_snapshot(source: DecodeError) -> VerifyError {
    VerifyError::Malformed {
        doc: DocType::Snapshot,
        source,
    }
}

/// The payload's head and a stream at its first entry, hashing the header
/// and payload of `file` as they are read.
fn open_payload(
    file: &File,
    payload_len: u64,
) -> Result<(SnapshotHead, PayloadStream<'_>), DecodeError> {
    let signed_len = (envelope::HEADER_LEN as u64).saturating_add(payload_len);
    let mut hashing = Hashing {
        inner: FileRange::new(file, 0, signed_len),
        hasher: Sha2::new(),
    };
    // The header is hashed (it is signed) but not decoded again.
    let mut header = [0u8; envelope::HEADER_LEN];
    hashing
        .read_exact(&mut header)
        .map_err(|e| DecodeError::Read {
            doc: DocType::Snapshot.name(),
            reason: e.to_string(),
        })?;
    SnapshotStream::open(BufReader::with_capacity(READ_BUFFER, hashing), payload_len)
}

/// A byte range of a file read by position (`pread`), so that any number of
/// readers share one open file without a shared cursor.
struct FileRange<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}

impl<'a> FileRange<'a> {
    fn new(file: &'a File, start: u64, end: u64) -> Self {
        FileRange {
            file,
            pos: start,
            end,
        }
    }
}

impl Read for FileRange<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = (self.end - self.pos).min(buf.len() as u64) as usize;
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// A reader that hashes every byte it passes on.
struct Hashing<R> {
    inner: R,
    hasher: Sha2,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Reads a document without checking any signature: for the one step that
/// needs a document's content before it can be verified, learning which trust
/// roots a manifest lists so the chain up to the current root can be fetched.
/// What it returns is not [`Verified`], so it cannot reach the store.
///
/// ```
/// use blocklist_core::document::{Delta, Manifest};
/// use blocklist_core::verify::{read_unverified, VerifyError};
/// assert!(matches!(read_unverified::<Manifest>(b"BLKL"), Err(VerifyError::Malformed { .. })));
/// ```
pub fn read_unverified<T: Document>(bytes: &[u8]) -> Result<T, VerifyError> {
    decode(&envelope_of::<T>(bytes)?)
}

/// Checks that a file matches the manifest's reference to it: size first, so a
/// hostile mirror's oversized file is refused without hashing it all.
pub fn check_file(what: &str, bytes: &[u8], expected: &FileRef) -> Result<(), VerifyError> {
    check_file_size(what, bytes.len() as u64, expected)?;
    let mut check = FileCheck::default();
    check.update(bytes);
    check.finish(what, expected)
}

/// [`check_file`] for a file that arrives in pieces (a snapshot downloaded
/// to disk): each piece is hashed as it passes, and nothing is held.
///
/// ```
/// use blocklist_core::document::{FileRef, Version};
/// use blocklist_core::verify::FileCheck;
/// use blocklist_core::Sha256;
/// let expected = FileRef { version: Version::FIRST, sha256: Sha256::of(b"abcd"), size: 4 };
/// let mut check = FileCheck::default();
/// check.update(b"ab");
/// check.update(b"cd");
/// assert!(check.finish("file", &expected).is_ok());
/// ```
#[derive(Clone, Default)]
pub struct FileCheck {
    hasher: Sha2,
    size: u64,
}

impl FileCheck {
    /// Hashes the next piece of the file.
    pub fn update(&mut self, piece: &[u8]) {
        self.hasher.update(piece);
        self.size += piece.len() as u64;
    }

    /// The bytes seen so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Checks the whole file (`what`, for errors): size first, then SHA-256.
    pub fn finish(self, what: &str, expected: &FileRef) -> Result<(), VerifyError> {
        check_file_size(what, self.size, expected)?;
        let actual = Sha256(self.hasher.finalize().into());
        if actual != expected.sha256 {
            return Err(VerifyError::DigestMismatch {
                what: what.to_owned(),
                expected: expected.sha256.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(())
    }
}

fn check_file_size(what: &str, size: u64, expected: &FileRef) -> Result<(), VerifyError> {
    if size != expected.size {
        return Err(VerifyError::DigestMismatch {
            what: what.to_owned(),
            expected: format!("{} bytes", expected.size),
            actual: format!("{size} bytes"),
        });
    }
    Ok(())
}

/// Checks a list state against the one a signed document announced.
pub fn check_state(
    what: &str,
    expected: &ListState,
    actual: &ListState,
) -> Result<(), VerifyError> {
    if expected != actual {
        return Err(VerifyError::DigestMismatch {
            what: what.to_owned(),
            expected: format!("{} ({} entries)", expected.digest, expected.entries),
            actual: format!("{} ({} entries)", actual.digest, actual.entries),
        });
    }
    Ok(())
}

/// Whether `offered` is exactly the version after `current`.
fn follows(doc: DocType, current: Option<Version>, offered: Version) -> Result<(), VerifyError> {
    let trusted = current.map_or(0, Version::get);
    match offered.get() {
        n if n == trusted + 1 => Ok(()),
        n if n > trusted + 1 => Err(VerifyError::Gap {
            doc,
            trusted,
            offered: n,
        }),
        _ => Err(stale(
            doc,
            current.expect("offered <= trusted implies trusted >= 1"),
            offered,
        )),
    }
}

/// The error for a version at or below the one held: a replay when equal,
/// a rollback when older.
pub(crate) fn stale(doc: DocType, current: Version, offered: Version) -> VerifyError {
    if offered == current {
        VerifyError::Replay {
            doc,
            version: offered.get(),
        }
    } else {
        VerifyError::Rollback {
            doc,
            trusted: current.get(),
            offered: offered.get(),
        }
    }
}

/// Parses the envelope and checks it holds a `T`.
fn envelope_of<T: Document>(bytes: &[u8]) -> Result<envelope::Envelope<'_>, VerifyError> {
    let env = envelope::parse(bytes).map_err(|source| VerifyError::Malformed {
        doc: T::TYPE,
        source,
    })?;
    if env.doc_type != T::TYPE {
        return Err(VerifyError::WrongDocument {
            expected: T::TYPE,
            found: env.doc_type,
        });
    }
    Ok(env)
}

fn decode<T: Document>(env: &envelope::Envelope<'_>) -> Result<T, VerifyError> {
    T::decode_payload(env.payload).map_err(|source| VerifyError::Malformed {
        doc: T::TYPE,
        source,
    })
}

/// What signatures are checked on: the document type, the signatures, and
/// the message they must be over.
#[derive(Clone, Copy)]
struct Signed<'a> {
    doc_type: DocType,
    signatures: &'a [envelope::Signature],
    message: &'a [u8],
}

impl<'a> From<&'a envelope::Envelope<'_>> for Signed<'a> {
    fn from(env: &'a envelope::Envelope<'_>) -> Self {
        Signed {
            doc_type: env.doc_type,
            signatures: &env.signatures,
            message: &env.message,
        }
    }
}

/// Checks the envelope's signatures against one or more key sets of `role`
/// (two during a root rotation: the old root's and the new one's). Every
/// signature must be by a key of some set and valid: a stray or broken
/// signature is refused rather than ignored, so any change to a signed file is
/// an error. Each set must then have its threshold of signatures.
fn check_signatures(
    signed: Signed<'_>,
    role: Role,
    sets: &[(&KeySet, Version)],
) -> Result<(), VerifyError> {
    let Signed {
        doc_type,
        signatures,
        message,
    } = signed;
    for sig in signatures {
        let key = sets
            .iter()
            .find_map(|(set, _)| set.get(&sig.key_id))
            .ok_or(VerifyError::UnknownKey {
                doc: doc_type,
                key_id: sig.key_id,
                role,
                root_version: sets[0].1,
            })?;
        if !key.verifies(message, &sig.bytes) {
            return Err(VerifyError::BadSignature {
                doc: doc_type,
                key_id: sig.key_id,
            });
        }
    }
    for (set, _) in sets {
        let valid = signatures
            .iter()
            .filter(|sig| set.get(&sig.key_id).is_some())
            .count();
        if valid < usize::from(set.threshold()) {
            return Err(VerifyError::ThresholdNotMet {
                doc: doc_type,
                role,
                valid,
                threshold: set.threshold(),
            });
        }
    }
    Ok(())
}
