//! The log's files, laid out as C2SP tlog-tiles says (height 8): under
//! `log/`, `tile/<L>/<N>` holds the 256 hashes of level-`L` tile `N` (leaf
//! hashes at level 0; at level `L` the roots of the perfect subtrees of
//! `256^L` leaves), `tile/entries/<N>` the 256 entries themselves, each
//! after its length as a big-endian u16, and a tile not yet full is written
//! as `<N>.p/<W>` with its `W` items. `N` is written in groups of three
//! digits, all but the last after an `x` (`x001/234`).
//!
//! A tile named by a checkpoint never changes; a larger tree writes a wider
//! partial tile, or the full one, beside it. [`TiledLog`] is the writer's
//! view: the right edge of each level, which is what the next append and
//! the root need.

use crate::log::tree::{leaf_hash, root_of, Frontier};
use crate::log::LogError;
use crate::Sha256;

/// Items per full tile (height 8).
pub const TILE_WIDTH: u64 = 256;

/// The path of the hash tile at `level`, number `n`, holding `width` hashes
/// (1..=256), relative to the log's folder.
///
/// ```
/// use blocklist_core::log::tiles::{entries_path, tile_path};
/// assert_eq!(tile_path(0, 1_234_067, 256), "tile/0/x001/x234/067");
/// assert_eq!(tile_path(2, 5, 3), "tile/2/005.p/3");
/// assert_eq!(entries_path(0, 17), "tile/entries/000.p/17");
/// ```
pub fn tile_path(level: u8, n: u64, width: u64) -> String {
    format!("tile/{level}/{}", numbered(n, width))
}

/// The path of entry bundle `n` holding `width` entries (1..=256).
pub fn entries_path(n: u64, width: u64) -> String {
    format!("tile/entries/{}", numbered(n, width))
}

/// Whether `path` (under `log/`) is a tile's or an entry bundle's path, in
/// the one spelling [`tile_path`] and [`entries_path`] give.
///
/// ```
/// use blocklist_core::log::tiles::is_tile_path;
/// assert!(is_tile_path("tile/0/x001/234.p/17") && is_tile_path("tile/entries/000"));
/// assert!(!is_tile_path("tile/0/x000/001") && !is_tile_path("tile/0/001.p/256") && !is_tile_path("tile/../x"));
/// ```
pub fn is_tile_path(path: &str) -> bool {
    let Some((level, rest)) = path.strip_prefix("tile/").and_then(|r| r.split_once('/')) else {
        return false;
    };
    let (number, width) = match rest.split_once(".p/") {
        Some((number, width)) => (number, width.parse().ok()),
        None => (rest, Some(TILE_WIDTH)),
    };
    let mut n = 0u64;
    for group in number.split('/') {
        let digits = group.strip_prefix('x').unwrap_or(group);
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        let Some(next) = n
            .checked_mul(1000)
            .and_then(|n| n.checked_add(digits.parse().unwrap_or(0)))
        else {
            return false;
        };
        n = next;
    }
    let Some(width) = width.filter(|w| (1..=TILE_WIDTH).contains(w)) else {
        return false;
    };
    let rendered = match level {
        "entries" => entries_path(n, width),
        level => match level.parse::<u8>() {
            Ok(level) if level < 64 => tile_path(level, n, width),
            _ => return false,
        },
    };
    rendered == path
}

fn numbered(mut n: u64, width: u64) -> String {
    let mut path = format!("{:03}", n % 1000);
    while n >= 1000 {
        n /= 1000;
        path = format!("x{:03}/{path}", n % 1000);
    }
    if width < TILE_WIDTH {
        path.push_str(&format!(".p/{width}"));
    }
    path
}

/// The bytes of an entry bundle holding `entries`.
pub fn encode_bundle<E: AsRef<[u8]>>(entries: &[E]) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.as_ref();
        let len = u16::try_from(entry.len()).expect("records are short");
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(entry);
    }
    out
}

/// The entries of the bundle at `path`, which must hold exactly `width` of
/// them, each at most `max_entry` bytes, and nothing after the last.
pub fn decode_bundle(
    path: &str,
    bytes: &[u8],
    width: u64,
    max_entry: usize,
) -> Result<Vec<Vec<u8>>, LogError> {
    let refuse = |reason: String| LogError::Tile {
        path: path.to_owned(),
        reason,
    };
    let mut entries = Vec::new();
    let mut rest = bytes;
    while let Some((len, tail)) = rest.split_first_chunk::<2>() {
        let len = usize::from(u16::from_be_bytes(*len));
        if len > max_entry {
            return Err(refuse(format!(
                "entry {} announces {len} bytes, more than any record",
                entries.len()
            )));
        }
        let Some((entry, tail)) = tail.split_at_checked(len) else {
            return Err(refuse(format!("entry {} is cut short", entries.len())));
        };
        if entries.len() as u64 == width {
            return Err(refuse(format!("holds more than its {width} entries")));
        }
        entries.push(entry.to_vec());
        rest = tail;
    }
    if !rest.is_empty() {
        return Err(refuse("ends inside an entry's length".to_owned()));
    }
    if entries.len() as u64 != width {
        return Err(refuse(format!(
            "holds {} entries, its name says {width}",
            entries.len()
        )));
    }
    Ok(entries)
}

/// The hashes of the hash tile at `path`, which must hold exactly `width`.
fn decode_hashes(path: &str, bytes: &[u8], width: u64) -> Result<Vec<Sha256>, LogError> {
    if bytes.len() as u64 != width * 32 {
        return Err(LogError::Tile {
            path: path.to_owned(),
            reason: format!(
                "holds {} bytes, {width} hashes are {}",
                bytes.len(),
                width * 32
            ),
        });
    }
    Ok(bytes
        .chunks_exact(32)
        .map(|h| Sha256(h.try_into().expect("32-byte chunks")))
        .collect())
}

/// A tile file to write: its path under `log/` and its bytes.
pub type TileFile = (String, Vec<u8>);

/// The right edge of a tiled log: at each level, the hashes of the tile not
/// yet full, and the entries of the bundle not yet full. Appending returns
/// the full tiles it completes; [`TiledLog::edge_tiles`] the partial ones.
///
/// ```
/// use blocklist_core::log::TiledLog;
/// let mut log = TiledLog::default();
/// let mut files = Vec::new();
/// for i in 0..300u32 {
///     files.extend(log.append(format!("entry {i}\n").into_bytes()));
/// }
/// files.extend(log.edge_tiles());
/// let names: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
/// assert_eq!(names, ["tile/entries/000", "tile/0/000", "tile/0/001.p/44", "tile/1/000.p/1", "tile/entries/001.p/44"]);
/// let read = |path: &str| Ok(files.iter().find(|(p, _)| p == path).unwrap().1.clone());
/// assert_eq!(TiledLog::load(300, read).unwrap().root(), log.root());
/// ```
#[derive(Clone, Debug, Default)]
pub struct TiledLog {
    size: u64,
    /// Per level, the hashes of its tile not yet full.
    levels: Vec<Vec<Sha256>>,
    /// The entries of the bundle not yet full.
    bundle: Vec<Vec<u8>>,
}

impl TiledLog {
    /// The edge of the log of `size` entries whose tiles `read` returns (by
    /// path under `log/`): only the partial tiles at its edge are read. Each
    /// must hold what its name says, and the partial bundle's entries must
    /// hash to the partial level-0 tile.
    pub fn load(
        size: u64,
        mut read: impl FnMut(&str) -> Result<Vec<u8>, LogError>,
    ) -> Result<TiledLog, LogError> {
        let mut levels = Vec::new();
        let mut level = 0u8;
        while size >> (8 * u32::from(level)) > 0 {
            let units = size >> (8 * u32::from(level));
            let width = units % TILE_WIDTH;
            let hashes = if width == 0 {
                Vec::new()
            } else {
                let path = tile_path(level, units / TILE_WIDTH, width);
                decode_hashes(&path, &read(&path)?, width)?
            };
            levels.push(hashes);
            level += 1;
        }
        let width = size % TILE_WIDTH;
        let bundle = if width == 0 {
            Vec::new()
        } else {
            let path = entries_path(size / TILE_WIDTH, width);
            let entries = decode_bundle(&path, &read(&path)?, width, usize::from(u16::MAX))?;
            if entries
                .iter()
                .map(|e| leaf_hash(e))
                .ne(levels[0].iter().copied())
            {
                return Err(LogError::Tile {
                    path,
                    reason: "its entries do not hash to the level-0 tile beside it".to_owned(),
                });
            }
            entries
        };
        Ok(TiledLog {
            size,
            levels,
            bundle,
        })
    }

    /// The number of entries.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends `entry`, returning the tiles it fills (written once, never
    /// again).
    pub fn append(&mut self, entry: Vec<u8>) -> Vec<TileFile> {
        let mut full = Vec::new();
        let mut carry = leaf_hash(&entry);
        self.bundle.push(entry);
        self.size += 1;
        if self.bundle.len() as u64 == TILE_WIDTH {
            let n = self.size / TILE_WIDTH - 1;
            full.push((
                entries_path(n, TILE_WIDTH),
                encode_bundle(&std::mem::take(&mut self.bundle)),
            ));
        }
        for level in 0u8.. {
            if self.levels.len() == usize::from(level) {
                self.levels.push(Vec::new());
            }
            let hashes = &mut self.levels[usize::from(level)];
            hashes.push(carry);
            if hashes.len() as u64 != TILE_WIDTH {
                break;
            }
            let n = (self.size >> (8 * u32::from(level))) / TILE_WIDTH - 1;
            carry = root_of(hashes);
            full.push((tile_path(level, n, TILE_WIDTH), hashes_bytes(hashes)));
            hashes.clear();
        }
        full
    }

    /// The partial tiles at the log's edge, to write beside the full ones
    /// before a checkpoint names this size.
    pub fn edge_tiles(&self) -> Vec<TileFile> {
        let mut files = Vec::new();
        for (level, hashes) in self.levels.iter().enumerate() {
            if !hashes.is_empty() {
                let level = u8::try_from(level).expect("64 levels hold any u64 size");
                let n = (self.size >> (8 * u32::from(level))) / TILE_WIDTH;
                files.push((
                    tile_path(level, n, hashes.len() as u64),
                    hashes_bytes(hashes),
                ));
            }
        }
        if !self.bundle.is_empty() {
            files.push((
                entries_path(self.size / TILE_WIDTH, self.bundle.len() as u64),
                encode_bundle(&self.bundle),
            ));
        }
        files
    }

    /// The right edge of the tree.
    pub fn frontier(&self) -> Frontier {
        let mut peaks = Vec::new();
        for hashes in self.levels.iter().rev() {
            let mut at = 0;
            for bit in (0..8).rev() {
                let run = 1usize << bit;
                if hashes.len() & run != 0 {
                    peaks.push(root_of(&hashes[at..at + run]));
                    at += run;
                }
            }
        }
        Frontier::from_peaks(self.size, peaks).expect("one peak per set bit of the size")
    }

    /// The tree's root.
    pub fn root(&self) -> Sha256 {
        self.frontier().root()
    }
}

fn hashes_bytes(hashes: &[Sha256]) -> Vec<u8> {
    hashes.iter().flat_map(|h| h.0).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    proptest! {
        /// Appends in random batches, writing the files as the centre does
        /// (full tiles once, partial ones at each batch's end), and checks
        /// each size's root, a reload from the files, and that no file is
        /// ever written twice with other bytes.
        #[test]
        fn batches_of_appends_write_tiles_that_reload_to_the_same_tree(
            batches in proptest::collection::vec(0usize..300, 1..8),
        ) {
            let mut files: HashMap<String, Vec<u8>> = HashMap::new();
            let mut log = TiledLog::default();
            let mut leaves = Vec::new();
            let mut i = 0u32;
            for batch in batches {
                let mut written = Vec::new();
                for _ in 0..batch {
                    let entry = format!("entry {i}\n").into_bytes();
                    leaves.push(leaf_hash(&entry));
                    written.extend(log.append(entry));
                    i += 1;
                }
                written.extend(log.edge_tiles());
                for (path, bytes) in written {
                    if let Some(old) = files.insert(path.clone(), bytes.clone()) {
                        prop_assert_eq!(old, bytes, "{} rewritten", path);
                    }
                }
                prop_assert_eq!(log.root(), root_of(&leaves));
                let read = |path: &str| files.get(path).cloned().ok_or_else(|| LogError::Tile {
                    path: path.to_owned(), reason: "missing".to_owned(),
                });
                let reloaded = TiledLog::load(log.size(), read).unwrap();
                prop_assert_eq!(reloaded.root(), log.root());
                prop_assert_eq!(reloaded.frontier(), log.frontier());
            }
        }
    }

    proptest! {
        #[test]
        fn any_bytes_are_refused_or_decode_to_a_bundle_that_encodes_back(
            bytes in proptest::collection::vec(any::<u8>(), 0..600),
            width in 1u64..=256,
        ) {
            if let Ok(entries) = decode_bundle("p", &bytes, width, 128) {
                prop_assert_eq!(entries.len() as u64, width);
                prop_assert_eq!(encode_bundle(&entries), bytes);
            }
        }

        #[test]
        fn rendered_paths_are_tile_paths(
            level in 0u8..64, n in any::<u64>(), width in 1u64..=256, junk in "[tilexn0-9./p]{0,40}",
        ) {
            prop_assert!(is_tile_path(&tile_path(level, n, width)));
            prop_assert!(is_tile_path(&entries_path(n, width)));
            if is_tile_path(&junk) {
                prop_assert!(junk.starts_with("tile/"));
            }
        }
    }

    #[test]
    fn a_bundle_holds_exactly_what_its_name_says() {
        let bundle = encode_bundle(&[b"ab".to_vec(), b"c".to_vec()]);
        assert_eq!(decode_bundle("p", &bundle, 2, 128).unwrap().len(), 2);
        for (bytes, width, max, says) in [
            (bundle.clone(), 1, 128, "more than its 1"),
            (bundle.clone(), 3, 128, "holds 2 entries"),
            (bundle[..bundle.len() - 1].to_vec(), 2, 128, "cut short"),
            (
                [bundle.as_slice(), &[0]].concat(),
                2,
                128,
                "inside an entry's length",
            ),
            (bundle.clone(), 2, 1, "announces 2 bytes"),
        ] {
            let err = decode_bundle("p", &bytes, width, max)
                .unwrap_err()
                .to_string();
            assert!(err.contains(says), "{err}");
        }
    }
}
