//! Parallel building blocks for the pipeline's large vectors.
//!
//! A table of millions of rows is built in parallel chunks; putting the
//! chunks together is a copy of the whole table into fresh memory, whose
//! first touch (a page fault in which the kernel zeroes the page) is best
//! spread over every core rather than left to one thread.

use rayon::prelude::*;

/// `parts` concatenated: a single part is moved, not copied; several are
/// copied into place in parallel, each part by one task.
pub fn par_concat<T: Copy + Send + Sync>(mut parts: Vec<Vec<T>>) -> Vec<T> {
    if parts.len() <= 1 {
        return parts.pop().unwrap_or_default();
    }
    let total = parts.iter().map(Vec::len).sum();
    let mut out: Vec<T> = Vec::with_capacity(total);
    {
        let mut rest = &mut out.spare_capacity_mut()[..total];
        let mut slots = Vec::with_capacity(parts.len());
        for p in &parts {
            let (head, tail) = std::mem::take(&mut rest).split_at_mut(p.len());
            slots.push(head);
            rest = tail;
        }
        slots.into_par_iter().zip(&parts).for_each(|(dst, src)| {
            for (d, s) in dst.iter_mut().zip(src) {
                d.write(*s);
            }
        });
    }
    // SAFETY: the slots are consecutive, start at 0 and their lengths sum to
    // `total`, within the capacity; each slot was written in full above
    // (a slot and its part have the same length), so out[..total] is
    // initialized.
    unsafe { out.set_len(total) };
    out
}

/// Where a chunk of a parallel pass writes its output: its own stretch of
/// the pass's final vector (see [`par_fill`]). Its fields are private to
/// this module: `par_fill` trusts `len` to count the values written.
pub(crate) struct Sink<'a, T> {
    slot: &'a mut [std::mem::MaybeUninit<T>],
    len: usize,
}

impl<T> Sink<'_, T> {
    /// Appends `value` (panics beyond the stretch's length: a chunk writes
    /// at most one value per input it reads).
    #[inline]
    pub(crate) fn push(&mut self, value: T) {
        self.slot[self.len].write(value);
        self.len += 1;
    }

    /// How many values were pushed.
    pub(crate) fn written(&self) -> usize {
        self.len
    }
}

/// Runs `chunk` in parallel over `bounds` (consecutive ranges that start at
/// 0 and end at `total`; the closure gets each range's index too), each writing at most its range's length of
/// values straight into its own stretch of one vector; the stretches are
/// then closed up. Nothing is copied when every chunk fills its stretch
/// (no row rejected), and the vector's pages are first touched by the
/// chunks, on every core, rather than by a copy afterwards.
pub(crate) fn par_fill<T: Copy + Send + Sync, R: Send>(
    total: usize,
    bounds: &[(usize, usize)],
    chunk: impl Fn(usize, (usize, usize), &mut Sink<T>) -> R + Sync + Send,
) -> (Vec<T>, Vec<R>) {
    debug_assert_eq!(bounds.last().map_or(0, |b| b.1), total);
    let mut out: Vec<T> = Vec::with_capacity(total);
    // Each chunk's stretch starts where the previous one's ends (its offset
    // is the sum of the lengths before it, whatever the bounds' values);
    // stretches beyond `total` would fail `split_at_mut`, never write out
    // of bounds.
    let mut slots = Vec::with_capacity(bounds.len());
    let mut offsets = Vec::with_capacity(bounds.len());
    {
        let mut rest = &mut out.spare_capacity_mut()[..total];
        let mut offset = 0;
        for &(first, end) in bounds {
            let (head, tail) = std::mem::take(&mut rest).split_at_mut(end - first);
            offsets.push(offset);
            offset += head.len();
            slots.push(head);
            rest = tail;
        }
    }
    let (lens, results): (Vec<usize>, Vec<R>) = slots
        .into_par_iter()
        .zip(bounds)
        .enumerate()
        .map(|(k, (slot, &b))| {
            let mut sink = Sink { slot, len: 0 };
            let r = chunk(k, b, &mut sink);
            (sink.len, r)
        })
        .unzip();
    // Close up the stretches: chunk k's values move down to follow chunk
    // k - 1's.
    let base = out.as_mut_ptr();
    let mut len = 0;
    for (&offset, &n) in offsets.iter().zip(&lens) {
        if offset != len {
            // SAFETY: [offset, offset + n) lies in chunk k's stretch of
            // out's capacity, whose first n values `Sink::push` wrote
            // (n <= the stretch's length); [len, len + n) lies within the
            // capacity too, with len <= offset; `copy` allows the two
            // ranges to overlap. T is Copy: nothing is dropped twice.
            unsafe { std::ptr::copy(base.add(offset), base.add(len), n) };
        }
        len += n;
    }
    // SAFETY: out[..len] holds the values of every chunk, moved together
    // above, each initialized by `Sink::push`.
    unsafe { out.set_len(len) };
    (out, results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn par_fill_closes_up_the_chunks_in_order() {
        // Chunk k keeps the inputs of its range that are not multiples of
        // k + 2 (none, some or all of them).
        let total = 1000;
        let bounds: Vec<(usize, usize)> = [0, 0, 5, 5, 300, 301, 700, 1000]
            .windows(2)
            .map(|w| (w[0], w[1]))
            .collect();
        let keep = |k: usize, i: usize| k == 6 || !i.is_multiple_of(k + 2);
        let (got, counts) = par_fill(total, &bounds, |k, (first, end), out| {
            assert_eq!(bounds[k], (first, end));
            for i in first..end {
                if keep(k, i) {
                    out.push((i as u32, i as f64 / 2.0));
                }
            }
            assert_eq!(out.written(), (first..end).filter(|&i| keep(k, i)).count());
            k
        });
        let want: Vec<(u32, f64)> = bounds
            .iter()
            .enumerate()
            .flat_map(|(k, &(f, e))| (f..e).filter(move |&i| keep(k, i)))
            .map(|i| (i as u32, i as f64 / 2.0))
            .collect();
        assert_eq!(got, want);
        assert_eq!(counts, (0..bounds.len()).collect::<Vec<_>>());
        let (none, _) = par_fill::<u8, ()>(0, &[], |_, _, _| ());
        assert!(none.is_empty());
    }

    #[test]
    fn par_concat_is_the_parts_in_order() {
        let parts: Vec<Vec<(u32, f64)>> = vec![
            vec![],
            (0..5).map(|i| (i, f64::from(i) / 2.0)).collect(),
            vec![],
            vec![],
            (5..1000).map(|i| (i, -f64::from(i))).collect(),
            vec![(1000, f64::NAN)],
        ];
        let want: Vec<(u32, f64)> = parts.concat();
        let got = par_concat(parts);
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert_eq!((g.0, g.1.to_bits()), (w.0, w.1.to_bits()));
        }
        assert!(par_concat::<u8>(vec![]).is_empty());
        assert!(par_concat::<u8>(vec![vec![], vec![]]).is_empty());
        assert_eq!(par_concat(vec![vec![1, 2]]), vec![1, 2]);
    }
}
