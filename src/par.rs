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

#[cfg(test)]
mod tests {
    use super::*;

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
