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

#[cfg(test)]
mod tests {
    use super::distance;

    #[test]
    fn known_distances() {
        assert_eq!(distance(b"", b""), 0);
        assert_eq!(distance(b"abc", b""), 3);
        assert_eq!(distance(b"abcd", b"abdc"), 1);
        assert_eq!(distance(b"ca", b"abc"), 3); // OSA, unlike Damerau, cannot edit a swapped pair
        assert_eq!(distance(b"kitten", b"sitting"), 3);
    }
}
