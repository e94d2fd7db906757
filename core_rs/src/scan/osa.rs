//! Optimal string alignment distance: Levenshtein plus transposition of adjacent characters,
//! each substring edited at most once. Hand-typed tags slip by one key or swap two.

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

/// The OSA distance of `a` and `b` when it is at most `k`, else None: a banded computation
/// (only cells with |i - j| <= k) on stack rows, stopping as soon as a row's minimum exceeds
/// `k` (safe for OSA: a transposition from row i-2 needs a cell <= k-1 there, which leaves a
/// cell <= k in row i-1). No allocation; O(k * len).
pub fn within(a: &[u8], b: &[u8], k: u8) -> Option<u8> {
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
    use super::{distance, within};

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
