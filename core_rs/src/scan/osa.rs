//! Optimal string alignment distance: Levenshtein plus transposition of adjacent characters,
//! each substring edited at most once. Hand-typed tags slip by one key or swap two.

use std::cell::RefCell;

/// OSA distance between two byte strings (tags are ASCII).
pub fn distance(a: &[u8], b: &[u8]) -> usize {
    let m = b.len();
    let mut prev2: Vec<usize> = vec![0; m + 1];
    let mut prev: Vec<usize> = (0..=m).collect();
    let mut cur: Vec<usize> = vec![0; m + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(prev2[j - 2] + 1);
            }
            cur[j] = d;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[m]
}

/// Longest strings `within` compares on the stack (longer ones fall back to `distance`).
const BAND_MAX: usize = 64;

/// The OSA distance of `a` and `b` when it is at most `k`, else None. No allocation. When one
/// string fits a machine word (a tag always does), bit-parallel: one column of the table per
/// byte of the other, a dozen word operations each; otherwise banded.
pub fn within(a: &[u8], b: &[u8], k: u8) -> Option<u8> {
    if a.len().abs_diff(b.len()) > usize::from(k) {
        return None;
    }
    let d = if a.is_empty() || b.is_empty() {
        a.len().max(b.len())
    } else if a.len() <= WORD {
        bit_parallel(a, b, k)?
    } else if b.len() <= WORD {
        bit_parallel(b, a, k)? // the distance is symmetric
    } else {
        return within_banded(a, b, k);
    };
    (d <= usize::from(k)).then_some(d as u8)
}

/// Longest pattern `bit_parallel` takes: one bit per byte in a u64.
pub const WORD: usize = 64;

/// Where each byte value occurs in a pattern of at most 64 bytes (bit r: byte r), in a table
/// kept between patterns: zeroing its 2 KB for every comparison cost more than the comparison.
#[derive(Debug)]
pub struct Positions {
    table: [u64; 256],
    /// The bytes whose entries are set, cleared when the next pattern is loaded (so a search
    /// cut short by a panic leaves nothing behind).
    loaded: [u8; WORD],
    len: usize,
}

impl Default for Positions {
    fn default() -> Self {
        Self::new()
    }
}

impl Positions {
    pub const fn new() -> Self {
        Positions {
            table: [0; 256],
            loaded: [0; WORD],
            len: 0,
        }
    }

    /// Hold the positions of `pattern` (its first 64 bytes) instead of the last pattern's.
    pub fn load(&mut self, pattern: &[u8]) {
        for &c in &self.loaded[..self.len] {
            self.table[usize::from(c)] = 0;
        }
        let n = pattern.len().min(WORD);
        for (r, &c) in pattern[..n].iter().enumerate() {
            self.table[usize::from(c)] |= 1 << r;
        }
        self.loaded[..n].copy_from_slice(&pattern[..n]);
        self.len = n;
    }

    /// The positions of byte `c` in the pattern.
    #[inline]
    pub fn of(&self, c: u8) -> u64 {
        self.table[usize::from(c)]
    }
}

thread_local! {
    static POSITIONS: RefCell<Positions> = const { RefCell::new(Positions::new()) };
}

/// `f` over the positions of `pattern`, in this thread's table (or a fresh one while that is
/// in use further up the stack).
fn with_positions<R>(pattern: &[u8], f: impl FnOnce(&Positions) -> R) -> R {
    POSITIONS.with(|cell| match cell.try_borrow_mut() {
        Ok(mut table) => {
            table.load(pattern);
            f(&table)
        }
        Err(_) => {
            let mut table = Positions::new();
            table.load(pattern);
            f(&table)
        }
    })
}

/// The OSA distance of a non-empty `pattern` of at most 64 bytes and a non-empty `text`, by
/// Hyyro's bit-vector recurrence (H. Hyyro, "A bit-vector algorithm for computing Levenshtein
/// and Damerau edit distances", Nordic Journal of Computing 10, 2003): bit r of `vp` / `vn`
/// says the column's cell r+1 is one more / one less than cell r; the distance is tracked at
/// the last row. None as soon as it must exceed `k`.
fn bit_parallel(pattern: &[u8], text: &[u8], k: u8) -> Option<usize> {
    with_positions(pattern, |positions| {
        columns(positions, pattern.len(), text, usize::from(k))
    })
}

/// The distance of the pattern whose `positions` these are (`m` bytes) and `text`, or None once
/// a column shows it exceeds `k`: D changes by at most one per row, so no path through column
/// j ends below the cell on the diagonal that ends in the last cell (row j + m - n, clamped
/// into the pattern) plus the rows it was clamped by (a transposition skips a column, but the
/// cell it skips from bounds it as well). That cell is D[0] = j plus the deltas above it.
fn columns(positions: &Positions, m: usize, text: &[u8], k: usize) -> Option<usize> {
    let last = 1u64 << (m - 1);
    let (mut vp, mut vn, mut d0, mut pm_before) = (u64::MAX, 0u64, 0u64, 0u64);
    let mut dist = m;
    let n = text.len();
    for (j, &c) in text.iter().enumerate() {
        let pm = positions.of(c);
        let transposed = ((!d0 & pm) << 1) & pm_before;
        d0 = ((((pm & vp).wrapping_add(vp)) ^ vp) | pm | vn) | transposed;
        let hp = vn | !(d0 | vp);
        let hn = d0 & vp;
        dist += usize::from(hp & last != 0);
        dist -= usize::from(hn & last != 0);
        let hp = (hp << 1) | 1;
        let hn = hn << 1;
        vp = hn | !(d0 | hp);
        vn = hp & d0;
        pm_before = pm;
        // Column j + 1 now: its diagonal row, clamped, and D there.
        let t = (j + 1 + m) as i64 - n as i64;
        let row = t.clamp(0, m as i64) as usize;
        let above = if row >= 64 {
            u64::MAX
        } else {
            (1u64 << row) - 1
        };
        let cell =
            (j + 1 + (vp & above).count_ones() as usize) - (vn & above).count_ones() as usize;
        if cell + t.abs_diff(row as i64) as usize > k {
            return None;
        }
    }
    Some(dist)
}

/// `within` by a banded computation (only cells with |i - j| <= k) on stack rows, stopping as
/// soon as a row's minimum exceeds `k` (safe for OSA: a transposition from row i-2 needs a
/// cell <= k-1 there, which leaves a cell <= k in row i-1). O(k * len).
fn within_banded(a: &[u8], b: &[u8], k: u8) -> Option<u8> {
    let (n, m, kk) = (a.len(), b.len(), usize::from(k));
    if n.abs_diff(m) > kk {
        return None;
    }
    if n > BAND_MAX || m > BAND_MAX {
        let d = distance(a, b);
        return (d <= kk).then_some(d as u8);
    }
    let cap = k.saturating_add(1);
    let mut prev2 = [cap; BAND_MAX + 1];
    let mut prev = [cap; BAND_MAX + 1];
    let mut cur = [cap; BAND_MAX + 1];
    for (j, cell) in prev.iter_mut().enumerate().take(m.min(kk) + 1) {
        *cell = j as u8;
    }
    for i in 1..=n {
        let lo = i.saturating_sub(kk).max(1);
        let hi = (i + kk).min(m);
        cur[0] = if i <= kk { i as u8 } else { cap };
        if lo > 1 {
            cur[lo - 1] = cap;
        }
        let mut best = cur[0];
        for j in lo..=hi {
            let cost = u8::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(prev2[j - 2] + 1);
            }
            let d = d.min(cap);
            cur[j] = d;
            best = best.min(d);
        }
        if hi < m {
            cur[hi + 1] = cap;
        }
        if best > k {
            return None;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    (prev[m] <= k).then_some(prev[m])
}

#[cfg(test)]
mod tests {
    use super::{distance, within, within_banded};

    /// Random strings over a small alphabet (many swaps and repeats), some longer than a word.
    #[test]
    fn bit_parallel_and_banded_agree_with_the_full_table() {
        let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for _ in 0..20_000 {
            let long = next(10) == 0;
            let len = |next: &mut dyn FnMut(u64) -> u64| {
                (if long { 60 + next(12) } else { next(9) }) as usize
            };
            let a: Vec<u8> = (0..len(&mut next)).map(|_| b'a' + next(3) as u8).collect();
            let mut b = a.clone();
            for _ in 0..next(4) {
                let i = next(b.len() as u64 + 1) as usize;
                match next(4) {
                    0 if i < b.len() => b[i] = b'a' + next(3) as u8,
                    1 if i + 1 < b.len() => b.swap(i, i + 1),
                    2 if i < b.len() => {
                        b.remove(i);
                    }
                    _ => b.insert(i, b'a' + next(3) as u8),
                }
            }
            let d = distance(&a, &b);
            for k in 0..=4u8 {
                let want = (d <= usize::from(k)).then_some(d as u8);
                assert_eq!(within(&a, &b, k), want, "{a:?} {b:?} {k}");
                assert_eq!(within_banded(&a, &b, k), want, "{a:?} {b:?} {k}");
            }
        }
    }

    #[test]
    fn banded_agrees_with_the_full_table() {
        let words = [
            "",
            "a",
            "ab",
            "ba",
            "abc",
            "acb",
            "bca",
            "ca",
            "abcd",
            "abdc",
            "badc",
            "kitten",
            "sitting",
            "1A4000000000000000000100",
            "1A4000000000000000001000",
            "1A4000000000000000000010",
            "A14000000000000000000100",
        ];
        for a in words {
            for b in words {
                let d = distance(a.as_bytes(), b.as_bytes());
                for k in 0..=4u8 {
                    let want = (d <= usize::from(k)).then_some(d as u8);
                    assert_eq!(
                        within(a.as_bytes(), b.as_bytes(), k),
                        want,
                        "{a:?} {b:?} {k}"
                    );
                }
            }
        }
    }

    #[test]
    fn known_distances() {
        assert_eq!(distance(b"", b""), 0);
        assert_eq!(distance(b"abc", b""), 3);
        assert_eq!(distance(b"abcd", b"abdc"), 1);
        assert_eq!(distance(b"ca", b"abc"), 3); // OSA, unlike Damerau, cannot edit a swapped pair
        assert_eq!(distance(b"kitten", b"sitting"), 3);
    }
}
