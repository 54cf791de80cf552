//! RFC 6962 / RFC 9162 Merkle tree: hashing, roots, inclusion and consistency proofs.
//!
//! Leaf hash `SHA-256(0x00 ‖ data)`, node hash `SHA-256(0x01 ‖ left ‖ right)`, empty tree
//! `SHA-256("")`. Proofs are generated from any [`NodeReader`] (a store of the hashes of
//! complete subtrees, which is how the ledger keeps its tree in sled) and verified with the
//! iterative algorithms of RFC 9162 §2.1.3.2 and §2.1.4.2.

use std::convert::Infallible;

use crate::hash::Hash;

/// The root of the empty tree, `SHA-256("")`.
pub const EMPTY_ROOT: Hash = Hash([
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
]);

/// `SHA-256(0x00 ‖ data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    Hash::digest_parts(&[&[0x00], data])
}

/// `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    Hash::digest_parts(&[&[0x01], &left.0, &right.0])
}

/// Why a proof did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is not below tree size {size}")]
    IndexBeyondSize {
        /// Leaf index.
        index: u64,
        /// Tree size.
        size: u64,
    },
    /// The proof has the wrong number of hashes for these sizes.
    #[error("proof has the wrong number of hashes for these tree sizes")]
    WrongLength,
    /// The proof's hashes do not lead to the stated root(s).
    #[error("proof does not lead to the stated root")]
    RootMismatch,
    /// The newer tree is smaller than the older one.
    #[error("new tree size {new} is smaller than old tree size {old}")]
    SizeShrinks {
        /// Older size.
        old: u64,
        /// Newer size.
        new: u64,
    },
    /// Consistency with the empty tree proves nothing and is refused.
    #[error("consistency with an empty tree is meaningless")]
    EmptyOldTree,
}

/// Why a proof could not be generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProveError<E> {
    /// The request does not fit the tree (index or sizes out of range).
    #[error("{0}")]
    OutOfRange(&'static str),
    /// The node store failed.
    #[error("node store: {0}")]
    Store(E),
}

/// Reads the hashes of complete subtrees: `node(level, index)` is the root of the perfect
/// subtree over leaves `[index·2^level, (index+1)·2^level)`; level 0 holds leaf hashes.
pub trait NodeReader {
    /// The store's error.
    type Error;
    /// The hash of one complete subtree.
    fn node(&self, level: u8, index: u64) -> Result<Hash, Self::Error>;
}

/// The largest power of two strictly below `n` (`n ≥ 2`).
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// The root of the subtree over leaves `[lo, hi)`.
pub fn subtree_root<R: NodeReader>(reader: &R, lo: u64, hi: u64) -> Result<Hash, R::Error> {
    let n = hi - lo;
    if n == 0 {
        return Ok(EMPTY_ROOT);
    }
    if n.is_power_of_two() && lo % n == 0 {
        return reader.node(n.trailing_zeros() as u8, lo / n);
    }
    let k = split_point(n);
    let left = subtree_root(reader, lo, lo + k)?;
    let right = subtree_root(reader, lo + k, hi)?;
    Ok(node_hash(&left, &right))
}

/// The root of the first `size` leaves.
pub fn root<R: NodeReader>(reader: &R, size: u64) -> Result<Hash, R::Error> {
    subtree_root(reader, 0, size)
}

/// The audit path of leaf `index` in the tree of `size` leaves (RFC 6962 §2.1.1 `PATH`).
pub fn inclusion_proof<R: NodeReader>(
    reader: &R,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, ProveError<R::Error>> {
    if index >= size {
        return Err(ProveError::OutOfRange("leaf index is not below tree size"));
    }
    let mut proof = Vec::new();
    path(reader, index, 0, size, &mut proof).map_err(ProveError::Store)?;
    Ok(proof)
}

fn path<R: NodeReader>(
    reader: &R,
    m: u64,
    lo: u64,
    hi: u64,
    out: &mut Vec<Hash>,
) -> Result<(), R::Error> {
    if hi - lo == 1 {
        return Ok(());
    }
    let k = split_point(hi - lo);
    if m < lo + k {
        path(reader, m, lo, lo + k, out)?;
        out.push(subtree_root(reader, lo + k, hi)?);
    } else {
        path(reader, m, lo + k, hi, out)?;
        out.push(subtree_root(reader, lo, lo + k)?);
    }
    Ok(())
}

/// The consistency proof from the tree of `old` leaves to the tree of `new` leaves
/// (RFC 6962 §2.1.2 `PROOF`). Requires `0 < old ≤ new`.
pub fn consistency_proof<R: NodeReader>(
    reader: &R,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, ProveError<R::Error>> {
    if old == 0 || old > new {
        return Err(ProveError::OutOfRange(
            "consistency needs 0 < old size <= new size",
        ));
    }
    let mut proof = Vec::new();
    if old < new {
        subproof(reader, old, 0, new, true, &mut proof).map_err(ProveError::Store)?;
    }
    Ok(proof)
}

fn subproof<R: NodeReader>(
    reader: &R,
    m: u64,
    lo: u64,
    hi: u64,
    whole: bool,
    out: &mut Vec<Hash>,
) -> Result<(), R::Error> {
    let n = hi - lo;
    if m == n {
        if !whole {
            out.push(subtree_root(reader, lo, hi)?);
        }
        return Ok(());
    }
    let k = split_point(n);
    if m <= k {
        subproof(reader, m, lo, lo + k, whole, out)?;
        out.push(subtree_root(reader, lo + k, hi)?);
    } else {
        subproof(reader, m - k, lo + k, hi, false, out)?;
        out.push(subtree_root(reader, lo, lo + k)?);
    }
    Ok(())
}

/// Verifies that `leaf` is at `index` in the tree of `size` leaves with root `root`
/// (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexBeyondSize { index, size });
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    if r != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Verifies that the tree of `size1` leaves with root `root1` is a prefix of the tree of
/// `size2` leaves with root `root2` (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    proof: &[Hash],
    root1: &Hash,
    root2: &Hash,
) -> Result<(), ProofError> {
    if size2 < size1 {
        return Err(ProofError::SizeShrinks {
            old: size1,
            new: size2,
        });
    }
    if size1 == 0 {
        return Err(ProofError::EmptyOldTree);
    }
    if size1 == size2 {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        return if root1 == root2 {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    let (first, rest) = match proof.split_first() {
        Some(split) => split,
        None => return Err(ProofError::WrongLength),
    };
    // When size1 is a power of two the old root is itself the first node of the path.
    let (start, path): (&Hash, &[Hash]) = if size1.is_power_of_two() {
        (root1, proof)
    } else {
        (first, rest)
    };
    let (mut f, mut s) = (size1 - 1, size2 - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (*start, *start);
    for c in path {
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    if fr != *root1 || sr != *root2 {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// A whole tree in memory, every complete subtree kept: for tests, tools and small ledgers.
#[derive(Clone, Debug, Default)]
pub struct MemoryTree {
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Appends a leaf hash, completing whatever subtrees it completes.
    pub fn push(&mut self, leaf: Hash) {
        let mut level = 0;
        let mut hash = leaf;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            let nodes = &mut self.levels[level];
            nodes.push(hash);
            if nodes.len() % 2 == 1 {
                break;
            }
            hash = node_hash(&nodes[nodes.len() - 2], &nodes[nodes.len() - 1]);
            level += 1;
        }
    }

    /// Root of the first `size` leaves (`size ≤ self.size()`).
    pub fn root_at(&self, size: u64) -> Hash {
        root(self, size).unwrap_or(EMPTY_ROOT)
    }

    /// Root of the whole tree.
    pub fn root(&self) -> Hash {
        self.root_at(self.size())
    }
}

/// The missing-node error of a [`MemoryTree`] asked beyond its size.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no complete subtree at level {level}, index {index}")]
pub struct MissingNode {
    /// Level asked for.
    pub level: u8,
    /// Index asked for.
    pub index: u64,
}

impl NodeReader for MemoryTree {
    type Error = MissingNode;

    fn node(&self, level: u8, index: u64) -> Result<Hash, MissingNode> {
        self.levels
            .get(usize::from(level))
            .and_then(|nodes| nodes.get(index as usize))
            .copied()
            .ok_or(MissingNode { level, index })
    }
}

/// The right edge of a growing tree: the roots of its maximal complete subtrees, left to
/// right. Enough to compute the current root in O(log n) memory while streaming leaves.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Frontier {
    size: u64,
    // (level, hash) of each complete subtree on the right edge, levels strictly decreasing.
    stack: Vec<(u8, Hash)>,
}

impl Frontier {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        self.push_reporting(leaf, |_, _, _| {});
    }

    /// Appends a leaf hash and reports every complete subtree it completes, the leaf itself
    /// included, as `(level, index, hash)`: what a persistent [`NodeReader`] must store.
    pub fn push_reporting(&mut self, leaf: Hash, mut completed: impl FnMut(u8, u64, Hash)) {
        let mut index = self.size;
        self.size += 1;
        let mut entry = (0u8, leaf);
        completed(0, index, leaf);
        while let Some(&(level, left)) = self.stack.last() {
            if level != entry.0 {
                break;
            }
            self.stack.pop();
            index >>= 1;
            entry = (level + 1, node_hash(&left, &entry.1));
            completed(entry.0, index, entry.1);
        }
        self.stack.push(entry);
    }

    /// The complete subtrees `(level, index)` on the right edge of a tree of `size` leaves,
    /// left to right: the nodes [`Frontier::restore`] needs.
    pub fn edge_positions(size: u64) -> Vec<(u8, u64)> {
        (0..64u8)
            .rev()
            .filter(|level| size & (1 << level) != 0)
            .map(|level| (level, (size >> level) - 1))
            .collect()
    }

    /// Rebuilds the frontier of a tree of `size` leaves from its edge nodes, read from `reader`.
    pub fn restore<R: NodeReader>(size: u64, reader: &R) -> Result<Frontier, R::Error> {
        let stack = Frontier::edge_positions(size)
            .into_iter()
            .map(|(level, index)| reader.node(level, index).map(|hash| (level, hash)))
            .collect::<Result<_, _>>()?;
        Ok(Frontier { size, stack })
    }

    /// The root of the tree so far.
    pub fn root(&self) -> Hash {
        let mut nodes = self.stack.iter().rev();
        let Some(&(_, mut acc)) = nodes.next() else {
            return EMPTY_ROOT;
        };
        for (_, left) in nodes {
            acc = node_hash(left, &acc);
        }
        acc
    }
}

/// A [`NodeReader`] over a slice of leaf hashes, computing subtrees on demand (O(n) per node):
/// for small trees and tests only.
#[derive(Clone, Copy, Debug)]
pub struct LeafSlice<'a>(pub &'a [Hash]);

impl NodeReader for LeafSlice<'_> {
    type Error = Infallible;

    fn node(&self, level: u8, index: u64) -> Result<Hash, Infallible> {
        let width = 1usize << level;
        let lo = index as usize * width;
        Ok(mth(&self.0[lo..lo + width]))
    }
}

/// RFC 6962 `MTH` straight from the definition, for cross-checking.
pub fn mth(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => EMPTY_ROOT,
        1 => leaves[0],
        n => {
            let k = split_point(n as u64) as usize;
            node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn memory_tree_frontier_and_definition_agree() {
        let all = leaves(70);
        let mut tree = MemoryTree::new();
        let mut frontier = Frontier::new();
        for (i, leaf) in all.iter().enumerate() {
            tree.push(*leaf);
            frontier.push(*leaf);
            let want = mth(&all[..=i]);
            assert_eq!(tree.root(), want, "size {}", i + 1);
            assert_eq!(frontier.root(), want, "size {}", i + 1);
        }
    }

    #[test]
    fn reported_nodes_are_the_tree_and_restore_rebuilds_the_frontier() {
        let all = leaves(37);
        let mut tree = MemoryTree::new();
        let mut frontier = Frontier::new();
        for leaf in &all {
            tree.push(*leaf);
            frontier.push_reporting(*leaf, |level, index, hash| {
                assert_eq!(tree.node(level, index), Ok(hash), "node ({level}, {index})");
            });
            let restored = Frontier::restore(tree.size(), &tree).unwrap();
            assert_eq!(restored.root(), frontier.root());
            assert_eq!(restored.size(), frontier.size());
        }
    }

    #[test]
    fn every_inclusion_and_consistency_proof_verifies_up_to_40() {
        let all = leaves(40);
        let mut tree = MemoryTree::new();
        all.iter().for_each(|l| tree.push(*l));
        for size in 1..=40u64 {
            let root = tree.root_at(size);
            for index in 0..size {
                let proof = inclusion_proof(&tree, index, size).unwrap();
                verify_inclusion(&all[index as usize], index, size, &proof, &root).unwrap();
            }
            for old in 1..=size {
                let proof = consistency_proof(&tree, old, size).unwrap();
                verify_consistency(old, size, &proof, &tree.root_at(old), &root).unwrap();
            }
        }
    }
}
