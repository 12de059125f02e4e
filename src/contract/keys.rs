//! Interning ids: borrower and loan ids of either integer or string type
//! become dense `u32` indices, numbered in sorted id order.
//!
//! Numbering in sorted order (not in order of appearance) is what makes every
//! output independent of the order of input rows.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Int64Array, StringArray};
use rayon::prelude::*;
use rustc_hash::FxHashMap;

use super::read::Column;

/// What an id column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdType {
    /// Integer ids (kept as Int64).
    Int,
    /// String ids (kept as Utf8).
    Str,
}

impl IdType {
    /// The type of an id column, or None for a non-id column.
    pub fn of(column: &Column) -> Option<Self> {
        match column {
            Column::IntId(_) => Some(IdType::Int),
            Column::StrId(_) => Some(IdType::Str),
            _ => None,
        }
    }
    /// A name for messages.
    pub fn name(self) -> &'static str {
        match self {
            IdType::Int => "integer",
            IdType::Str => "string",
        }
    }
}

#[derive(Debug)]
enum Keys {
    /// Sorted integer ids, found by search (rows mostly arrive in id order,
    /// so a search from the previous id's position ends in a step or two).
    Int(Vec<i64>),
    /// Sorted string ids and a map to their positions.
    Str(Vec<Box<str>>, FxHashMap<Box<str>, u32>),
}

/// A sorted set of distinct ids with a lookup from id to its position.
#[derive(Debug)]
pub struct KeyIndex {
    keys: Keys,
}

impl KeyIndex {
    /// The distinct non-null ids of the parts' columns, of each part's
    /// column at the rows `row(item)` of its items, sorted. The columns are
    /// pieces of one id column of type `id_type` (given, not taken from the
    /// parts, so that a table with no rows keeps its column's type). Chunks
    /// of items are reduced to their sorted distinct ids in parallel, then
    /// merged.
    pub fn build<T: Sync>(
        id_type: IdType,
        parts: &[(&Column, &[T])],
        row: impl Fn(&T) -> usize + Sync,
    ) -> Self {
        let keys = match id_type {
            IdType::Str => {
                let sorted: Vec<Box<str>> = sorted_distinct(parts, &row, |c, r| match c {
                    Column::StrId(a) => a.is_valid(r).then(|| a.value(r)),
                    _ => None,
                })
                .into_iter()
                .map(Box::from)
                .collect();
                let map = sorted
                    .iter()
                    .enumerate()
                    .map(|(i, k)| (k.clone(), i as u32))
                    .collect();
                Keys::Str(sorted, map)
            }
            IdType::Int => Keys::Int(sorted_distinct(parts, &row, |c, r| match c {
                Column::IntId(a) => a.is_valid(r).then(|| a.value(r)),
                _ => None,
            })),
        };
        Self { keys }
    }

    /// Number of distinct ids.
    pub fn len(&self) -> usize {
        match &self.keys {
            Keys::Int(v) => v.len(),
            Keys::Str(v, _) => v.len(),
        }
    }

    /// True when there are no ids.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The id type.
    pub fn id_type(&self) -> IdType {
        match &self.keys {
            Keys::Int(..) => IdType::Int,
            Keys::Str(..) => IdType::Str,
        }
    }

    /// The index of the id at `row` of `column` (None when null or unknown).
    /// `column` must have this index's id type.
    pub fn lookup(&self, column: &Column, row: usize) -> Option<u32> {
        match (&self.keys, column) {
            (Keys::Int(v), Column::IntId(a)) => a
                .is_valid(row)
                .then(|| v.binary_search(&a.value(row)).ok().map(|i| i as u32))?,
            (Keys::Str(_, m), Column::StrId(a)) => {
                a.is_valid(row).then(|| m.get(a.value(row)).copied())?
            }
            _ => None,
        }
    }

    /// A lookup for `column` that remembers the last id it resolved, which
    /// makes the common case of rows grouped by id a comparison, not a hash.
    pub fn cached<'a>(&'a self, column: &'a Column) -> CachedLookup<'a> {
        CachedLookup::new(self, column)
    }

    /// The ids at `indices`, as an Arrow array of the id type.
    pub fn take(&self, indices: &[u32]) -> ArrayRef {
        match &self.keys {
            Keys::Int(v) => Arc::new(Int64Array::from_iter_values(
                indices.iter().map(|&i| v[i as usize]),
            )),
            Keys::Str(v, _) => Arc::new(StringArray::from_iter_values(
                indices.iter().map(|&i| &*v[i as usize]),
            )),
        }
    }

    /// The id at `index`, for messages.
    pub fn display(&self, index: u32) -> String {
        match &self.keys {
            Keys::Int(v) => v[index as usize].to_string(),
            Keys::Str(v, _) => v[index as usize].to_string(),
        }
    }
}

/// The distinct keys `key(column, row(item))` of each part's items (None:
/// no key), sorted. Chunks of items are reduced to their sorted distinct
/// keys in parallel, then merged.
fn sorted_distinct<'a, T: Sync, K: Ord + Send>(
    parts: &[(&'a Column, &[T])],
    row: impl Fn(&T) -> usize + Sync,
    key: impl Fn(&'a Column, usize) -> Option<K> + Sync,
) -> Vec<K> {
    const CHUNK: usize = 64 * 1024;
    let chunks: Vec<(&'a Column, &[T])> = parts
        .iter()
        .flat_map(|&(col, items)| items.chunks(CHUNK).map(move |c| (col, c)))
        .collect();
    let parts: Vec<Vec<K>> = chunks
        .into_par_iter()
        .map(|(col, c)| {
            // Inputs are usually grouped by id: skipping runs of the same id
            // first makes each sort small.
            let mut v: Vec<K> = Vec::new();
            for k in c.iter().filter_map(|item| key(col, row(item))) {
                if v.last() != Some(&k) {
                    v.push(k);
                }
            }
            v.sort_unstable();
            v.dedup();
            v
        })
        .collect();
    let mut v: Vec<K> = parts.into_iter().flatten().collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The position of `key` in the sorted `v`, searched from `from` with steps
/// that double (a galloping search, forwards or backwards: a few probes when
/// the key is near `from`, as the next or an interleaved id is).
fn search_from(v: &[i64], from: usize, key: i64) -> Option<usize> {
    let from = from.min(v.len());
    if from < v.len() && v[from] <= key {
        // v[lo] <= key; find hi > lo with v[hi] > key (or the end).
        let (mut lo, mut step) = (from, 1);
        let hi = loop {
            let probe = lo + step;
            if probe >= v.len() {
                break v.len();
            }
            if v[probe] > key {
                break probe;
            }
            lo = probe;
            step *= 2;
        };
        return v[lo..hi].binary_search(&key).ok().map(|i| lo + i);
    }
    // key < v[hi] (or hi is the end); find lo < hi with v[lo] <= key (or 0).
    let (mut hi, mut step) = (from, 1);
    let lo = loop {
        if hi < step {
            break 0;
        }
        let probe = hi - step;
        if v[probe] <= key {
            break probe;
        }
        hi = probe;
        step *= 2;
    };
    v[lo..hi].binary_search(&key).ok().map(|i| lo + i)
}

/// See [`KeyIndex::cached`].
pub struct CachedLookup<'a> {
    index: &'a KeyIndex,
    column: &'a Column,
    /// Integer ids as a plain slice (with the column's validity, when it
    /// has nulls): the common case, looked up without matching the column's
    /// type on every row.
    ints: Option<(&'a [i64], Option<&'a arrow::buffer::NullBuffer>)>,
    /// The last integer id resolved and what it resolved to.
    last_int: Option<(i64, Option<u32>)>,
    /// The last row resolved (string ids) and what it resolved to.
    last: Option<(usize, Option<u32>)>,
    /// Where the next search starts: after the last id found.
    cursor: usize,
}

impl<'a> CachedLookup<'a> {
    fn new(index: &'a KeyIndex, column: &'a Column) -> Self {
        let ints = match (&index.keys, column) {
            (Keys::Int(_), Column::IntId(a)) => Some((a.values().as_ref(), a.nulls())),
            _ => None,
        };
        Self {
            index,
            column,
            ints,
            last_int: None,
            last: None,
            cursor: 0,
        }
    }

    /// The index of the id at `row` (None when null or unknown).
    #[inline]
    pub fn get(&mut self, row: usize) -> Option<u32> {
        if let Some((values, nulls)) = self.ints {
            if nulls.is_some_and(|n| n.is_null(row)) {
                return None;
            }
            let key = values[row];
            if let Some((k, found)) = self.last_int {
                if k == key {
                    return found;
                }
            }
            return self.search_int(key);
        }
        self.get_other(row)
    }

    /// An integer id not equal to the last one: rows sorted by id move
    /// forward in sorted order, so the search starts from the previous id's
    /// position (a step for the next id).
    fn search_int(&mut self, key: i64) -> Option<u32> {
        let Keys::Int(v) = &self.index.keys else {
            unreachable!("`ints` is only set for integer keys");
        };
        let found = search_from(v, self.cursor, key).map(|i| i as u32);
        if let Some(i) = found {
            self.cursor = i as usize + 1;
        }
        self.last_int = Some((key, found));
        found
    }

    /// String ids (and a column of the other type, which never matches).
    fn get_other(&mut self, row: usize) -> Option<u32> {
        if let Some((prev, found)) = self.last {
            let same = match self.column {
                Column::StrId(a) => {
                    a.is_valid(row) && a.is_valid(prev) && a.value(row) == a.value(prev)
                }
                _ => false,
            };
            if same {
                self.last = Some((row, found));
                return found;
            }
        }
        // String ids try the next id before hashing (a hash probe into a
        // large map is a cache miss).
        let next = self.cursor;
        let found = match (&self.index.keys, self.column) {
            (Keys::Str(v, _), Column::StrId(a))
                if next < v.len() && a.is_valid(row) && a.value(row) == &*v[next] =>
            {
                Some(next as u32)
            }
            _ => self.index.lookup(self.column, row),
        };
        if let Some(i) = found {
            self.cursor = i as usize + 1;
        }
        self.last = Some((row, found));
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_ids_in_sorted_order() {
        let col = Column::StrId(StringArray::from(vec![
            Some("b"),
            None,
            Some("a"),
            Some("b"),
        ]));
        let idx = KeyIndex::build(IdType::Str, &[(&col, &[0, 1, 2, 3][..])], |&r| r);
        assert_eq!(idx.len(), 2);
        assert_eq!(idx.lookup(&col, 0), Some(1));
        assert_eq!(idx.lookup(&col, 1), None);
        assert_eq!(idx.lookup(&col, 2), Some(0));
        assert_eq!(idx.display(0), "a");
        let ints = Column::IntId(Int64Array::from(vec![30, 10, 20]));
        let idx = KeyIndex::build(
            IdType::Int,
            &[(&ints, &[0, 1][..]), (&ints, &[2][..])],
            |&r| r,
        );
        assert_eq!(idx.lookup(&ints, 0), Some(2));
        assert_eq!(idx.id_type(), IdType::Int);
        // A column of the other type never matches.
        assert_eq!(idx.lookup(&col, 0), None);
        let mut c = idx.cached(&ints);
        assert_eq!(
            (c.get(0), c.get(0), c.get(1), c.get(2)),
            (Some(2), Some(2), Some(0), Some(1))
        );
        // Sorted input takes the next-id path; unknown ids still miss.
        let sorted = Column::IntId(Int64Array::from(vec![10, 20, 20, 30, 40, 10]));
        let mut c = idx.cached(&sorted);
        let got: Vec<_> = (0..6).map(|r| c.get(r)).collect();
        assert_eq!(got, vec![Some(0), Some(1), Some(1), Some(2), None, Some(0)]);
        // A null id between equal ids resolves to nothing, and does not
        // disturb the ids around it.
        let nulls = Column::IntId(Int64Array::from(vec![Some(10), None, Some(10), Some(20)]));
        let mut c = idx.cached(&nulls);
        let got: Vec<_> = (0..4).map(|r| c.get(r)).collect();
        assert_eq!(got, vec![Some(0), None, Some(0), Some(1)]);
    }

    #[test]
    fn a_search_from_any_position_finds_what_a_binary_search_finds() {
        let v: Vec<i64> = (0..300).map(|i| i * 3 - 200).collect();
        for from in [0, 1, 2, 7, 150, 298, 299, 300, 400] {
            for key in -205..710 {
                assert_eq!(
                    search_from(&v, from, key),
                    v.binary_search(&key).ok(),
                    "from {from}, key {key}"
                );
            }
        }
        assert_eq!(search_from(&[], 0, 1), None);
    }
}
