//! The log's Merkle tree, hashed as RFC 6962 (section 2.1) says: a leaf is
//! `SHA-256(0x00 || entry)`, an inner node `SHA-256(0x01 || left || right)`,
//! and a tree of `n` leaves splits at the largest power of two below `n`.
//!
//! [`Frontier`] keeps only the right edge of a tree (one hash per set bit of
//! its size): enough to append to it and to compute its root, which is all
//! the centre needs to extend the log and all a replica needs to check that a
//! newer checkpoint extends the one it verified.

use crate::Sha256;

/// The hash of the leaf holding `entry`.
///
/// ```
/// use blocklist_core::log::tree::leaf_hash;
/// use blocklist_core::Sha256;
/// assert_eq!(leaf_hash(b"x"), Sha256::of(b"\x00x"));
/// ```
pub fn leaf_hash(entry: &[u8]) -> Sha256 {
    Sha256::of_parts(&[&[0x00], entry])
}

/// The hash of an inner node over `left` and `right`.
pub fn node_hash(left: &Sha256, right: &Sha256) -> Sha256 {
    Sha256::of_parts(&[&[0x01], &left.0, &right.0])
}

/// The root of the tree whose leaf hashes are `leaves` (RFC 6962's MTH; the
/// empty tree's root is the SHA-256 of nothing).
///
/// ```
/// use blocklist_core::log::tree::{leaf_hash, node_hash, root_of};
/// let (a, b, c) = (leaf_hash(b"a"), leaf_hash(b"b"), leaf_hash(b"c"));
/// assert_eq!(root_of(&[a, b, c]), node_hash(&node_hash(&a, &b), &c));
/// ```
pub fn root_of(leaves: &[Sha256]) -> Sha256 {
    match leaves.len() {
        0 => Sha256::of(b""),
        1 => leaves[0],
        n => {
            let split = 1 << (usize::BITS - 1 - (n - 1).leading_zeros());
            node_hash(&root_of(&leaves[..split]), &root_of(&leaves[split..]))
        }
    }
}

/// The inclusion proof of leaf `index` in the tree whose leaf hashes are
/// `leaves` (RFC 6962's PATH, section 2.1.1): the sibling hashes from the
/// leaf up, about `log2(leaves.len())` of them. `None` when `index` is not a
/// leaf of the tree.
///
/// ```
/// use blocklist_core::log::tree::{inclusion_proof, leaf_hash, root_from_inclusion, root_of};
/// let leaves: Vec<_> = (0..7u8).map(|i| leaf_hash(&[i])).collect();
/// let proof = inclusion_proof(5, &leaves).unwrap();
/// assert_eq!(proof.len(), 3);
/// assert_eq!(root_from_inclusion(5, 7, leaves[5], &proof), Some(root_of(&leaves)));
/// ```
pub fn inclusion_proof(index: u64, leaves: &[Sha256]) -> Option<Vec<Sha256>> {
    let index = usize::try_from(index).ok().filter(|i| *i < leaves.len())?;
    let mut proof = Vec::new();
    let (mut at, mut span) = (index, leaves);
    // Down from the root, keeping the sibling subtree of each split; the
    // proof lists them from the leaf up.
    while span.len() > 1 {
        let split = 1 << (usize::BITS - 1 - (span.len() - 1).leading_zeros());
        if at < split {
            proof.push(root_of(&span[split..]));
            span = &span[..split];
        } else {
            proof.push(root_of(&span[..split]));
            span = &span[split..];
            at -= split;
        }
    }
    proof.reverse();
    Some(proof)
}

/// The root that `proof` gives for the leaf hash `leaf` at `index` in a
/// tree of `size` leaves (RFC 9162, section 2.1.3.2); `None` when the proof
/// cannot be one for that position (out of the tree, too short or too long).
/// The caller compares the root with the one a signed checkpoint names.
pub fn root_from_inclusion(
    index: u64,
    size: u64,
    leaf: Sha256,
    proof: &[Sha256],
) -> Option<Sha256> {
    if index >= size {
        return None;
    }
    let (mut at, mut last) = (index, size - 1);
    let mut root = leaf;
    for sibling in proof {
        if last == 0 {
            return None;
        }
        if at & 1 == 1 || at == last {
            root = node_hash(sibling, &root);
            // A right edge without a sibling at these levels: climb them.
            while at & 1 == 0 && at != 0 {
                at >>= 1;
                last >>= 1;
            }
        } else {
            root = node_hash(&root, sibling);
        }
        at >>= 1;
        last >>= 1;
    }
    (last == 0).then_some(root)
}

/// The right edge of a tree: for each set bit of its size, from the highest,
/// the root of the perfect subtree that bit stands for.
///
/// ```
/// use blocklist_core::log::tree::{leaf_hash, root_of, Frontier};
/// let leaves: Vec<_> = (0..5u8).map(|i| leaf_hash(&[i])).collect();
/// let mut edge = Frontier::default();
/// for leaf in &leaves {
///     edge.push(*leaf);
/// }
/// assert_eq!((edge.size(), edge.root()), (5, root_of(&leaves)));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    peaks: Vec<Sha256>,
}

impl Frontier {
    /// The edge of a tree of `size` leaves from its peaks, largest subtree
    /// first; `None` unless there is one peak per set bit of `size`.
    pub fn from_peaks(size: u64, peaks: Vec<Sha256>) -> Option<Frontier> {
        (peaks.len() == size.count_ones() as usize).then_some(Frontier { size, peaks })
    }

    /// The edge of the tree whose leaves hold `entries`.
    pub fn of_entries<E: AsRef<[u8]>>(entries: &[E]) -> Frontier {
        let mut edge = Frontier::default();
        entries
            .iter()
            .for_each(|e| edge.push(leaf_hash(e.as_ref())));
        edge
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The peaks, largest subtree first.
    pub fn peaks(&self) -> &[Sha256] {
        &self.peaks
    }

    /// Appends the leaf whose hash is `leaf`.
    pub fn push(&mut self, leaf: Sha256) {
        let mut carry = leaf;
        let mut height = 0;
        while self.size >> height & 1 == 1 {
            let left = self.peaks.pop().expect("one peak per set bit");
            carry = node_hash(&left, &carry);
            height += 1;
        }
        self.peaks.push(carry);
        self.size += 1;
    }

    /// The tree's root.
    pub fn root(&self) -> Sha256 {
        let mut peaks = self.peaks.iter().rev();
        let Some(last) = peaks.next() else {
            return Sha256::of(b"");
        };
        peaks.fold(*last, |right, left| node_hash(left, &right))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn the_frontier_gives_the_root_of_every_prefix(n in 0usize..600) {
            let leaves: Vec<Sha256> = (0..n as u32).map(|i| leaf_hash(&i.to_le_bytes())).collect();
            let mut edge = Frontier::default();
            prop_assert_eq!(edge.root(), root_of(&[]));
            for (i, leaf) in leaves.iter().enumerate() {
                edge.push(*leaf);
                prop_assert_eq!(edge.root(), root_of(&leaves[..=i]));
                prop_assert_eq!(Frontier::from_peaks(edge.size(), edge.peaks().to_vec()), Some(edge.clone()));
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn an_inclusion_proof_proves_its_leaf_and_no_other(n in 1usize..300, pick in any::<u64>(), flip in any::<u64>()) {
            let leaves: Vec<Sha256> = (0..n as u32).map(|i| leaf_hash(&i.to_le_bytes())).collect();
            let root = root_of(&leaves);
            let index = pick % n as u64;
            let proof = inclusion_proof(index, &leaves).unwrap();
            prop_assert!(proof.len() <= 64 - (n as u64).leading_zeros() as usize);
            prop_assert_eq!(root_from_inclusion(index, n as u64, leaves[index as usize], &proof), Some(root));
            // Another leaf, another position, a changed hash or a cut proof: not this root.
            let other = (index + 1 + flip % n as u64) % n as u64;
            if other != index {
                prop_assert_ne!(root_from_inclusion(other, n as u64, leaves[index as usize], &proof), Some(root));
            }
            if let Some(first) = proof.first() {
                let mut bent = proof.clone();
                bent[0] = Sha256::of(&first.0);
                prop_assert_ne!(root_from_inclusion(index, n as u64, leaves[index as usize], &bent), Some(root));
                prop_assert_ne!(root_from_inclusion(index, n as u64, leaves[index as usize], &proof[1..]), Some(root));
            }
            prop_assert_eq!(inclusion_proof(n as u64, &leaves), None);
            prop_assert_eq!(root_from_inclusion(n as u64, n as u64, leaves[0], &proof), None);
        }
    }

    #[test]
    fn rfc_6962_test_vector_roots() {
        // The eight inputs and roots of RFC 6962's reference tests
        // (certificate-transparency's merkle_tree_test.cc).
        let inputs: [&[u8]; 8] = [
            b"",
            b"\x00",
            b"\x10",
            b"\x20\x21",
            b"\x30\x31",
            b"\x40\x41\x42\x43",
            b"\x50\x51\x52\x53\x54\x55\x56\x57",
            b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
        ];
        let roots = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        let mut edge = Frontier::default();
        for (input, root) in inputs.iter().zip(roots) {
            edge.push(leaf_hash(input));
            assert_eq!(edge.root().to_string(), root);
        }
    }
}
