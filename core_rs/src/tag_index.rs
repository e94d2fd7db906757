//! Near-miss search: every tag within optimal-string-alignment distance k of a query.
//!
//! The tags are kept sorted in one byte arena; a range of the sorted array sharing a prefix is a
//! trie node, so the trie costs no memory beyond the sorted copy. The search walks that implicit
//! trie depth first with one OSA dynamic-programming row per depth (banded to |i - j| <= k) and
//! drops a subtree as soon as its row's minimum exceeds k (safe for OSA: a transposition from row
//! i-2 needs a cell <= k-1 there, which leaves a cell <= k in row i-1). Real tag orders share long
//! prefixes (program, facility, order) with sequential serials, so the walk is a thin trunk with
//! a bounded fan-out at the serial end; a child run is found by galloping, not by a scan.

/// Longest tag the index accepts (METRC tags are 24 characters).
pub const MAX_TAG_LEN: usize = 64;

/// Sorted tags with their package ids.
#[derive(Debug, Default)]
pub struct TagIndex {
    bytes: Vec<u8>,
    starts: Vec<u32>,
    ids: Vec<u32>,
}

/// One result: a package id and its distance from the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub id: u32,
    pub distance: u8,
}

impl TagIndex {
    /// Build from `(id, tag)` pairs (tags at most MAX_TAG_LEN bytes).
    pub fn build<'a>(tags: impl Iterator<Item = (u32, &'a [u8])>) -> Self {
        let mut pairs: Vec<(u32, &[u8])> = tags.collect();
        pairs.sort_unstable_by(|a, b| a.1.cmp(b.1));
        let total: usize = pairs.iter().map(|p| p.1.len()).sum();
        let mut index = TagIndex {
            bytes: Vec::with_capacity(total),
            starts: Vec::with_capacity(pairs.len() + 1),
            ids: Vec::with_capacity(pairs.len()),
        };
        index.starts.push(0);
        for (id, tag) in pairs {
            index.bytes.extend_from_slice(tag);
            index.starts.push(index.bytes.len() as u32);
            index.ids.push(id);
        }
        index
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Heap bytes held by the index.
    pub fn heap_bytes(&self) -> usize {
        self.bytes.capacity() + 4 * (self.starts.capacity() + self.ids.capacity())
    }

    fn tag(&self, i: usize) -> &[u8] {
        &self.bytes[self.starts[i] as usize..self.starts[i + 1] as usize]
    }

    fn tag_len(&self, i: usize) -> usize {
        (self.starts[i + 1] - self.starts[i]) as usize
    }

    /// Byte `d` of sorted tag `i` (the caller knows the tag is longer than `d`).
    fn byte(&self, i: usize, d: usize) -> u8 {
        self.bytes[self.starts[i] as usize + d]
    }

    /// Every tag within distance `k` of `query`, in lexicographic order of the tags.
    pub fn within(&self, query: &[u8], k: u8, out: &mut Vec<Hit>) {
        self.walk(query, k, None, out);
    }

    /// Walk the trie with bound `k`. With `quota`, collect only hits at distance exactly `k` and
    /// stop after that many: the walk runs in tag order, so they are the first ones in tag order.
    fn walk(&self, query: &[u8], k: u8, quota: Option<usize>, out: &mut Vec<Hit>) {
        if self.is_empty() || query.len() > MAX_TAG_LEN + usize::from(k) || quota == Some(0) {
            return;
        }
        let m = query.len();
        let width = m + 1;
        let cap = k.saturating_add(1);
        let mut rows = vec![cap; width * (MAX_TAG_LEN + 1)];
        for (j, cell) in rows.iter_mut().take(width.min(usize::from(k) + 1)).enumerate() {
            *cell = j as u8;
        }
        let mut walk = Walk {
            index: self,
            query,
            k,
            width,
            rows,
            path: [0; MAX_TAG_LEN + 1],
            out,
            only_k: quota.is_some(),
            quota: quota.unwrap_or(usize::MAX),
        };
        walk.node(0, self.len(), 0);
    }

    /// The nearest tags: distance <= `k`, ranked by distance then tag, at most `limit` of them.
    /// With a limit, each distance is searched in turn and a walk stops once the list is full,
    /// so a short list in a dense serial range stays cheap.
    pub fn nearest(&self, query: &[u8], k: u8, limit: Option<usize>) -> Vec<Hit> {
        let mut out = Vec::new();
        let Some(limit) = limit else {
            self.walk(query, k, None, &mut out);
            out.sort_by_key(|h| h.distance); // stable: ties stay in tag order
            return out;
        };
        for bound in 0..=k {
            let remaining = limit.saturating_sub(out.len());
            if remaining == 0 {
                break;
            }
            self.walk(query, bound, Some(remaining), &mut out);
        }
        out
    }

    /// Tag text of a sorted position's package, for tests and diagnostics.
    pub fn tags(&self) -> impl Iterator<Item = (u32, &[u8])> {
        (0..self.len()).map(|i| (self.ids[i], self.tag(i)))
    }
}

struct Walk<'a, 'o> {
    index: &'a TagIndex,
    query: &'a [u8],
    k: u8,
    width: usize,
    rows: Vec<u8>,
    path: [u8; MAX_TAG_LEN + 1],
    out: &'o mut Vec<Hit>,
    /// Collect only hits at distance exactly k, at most `quota` of them.
    only_k: bool,
    quota: usize,
}

impl Walk<'_, '_> {
    /// Visit the node of sorted range `lo..hi`, whose tags share a prefix of `depth` bytes whose
    /// DP row is already in `rows[depth]`.
    fn node(&mut self, lo: usize, hi: usize, depth: usize) {
        let ix = self.index;
        let m = self.query.len();
        let mut i = lo;
        while i < hi && ix.tag_len(i) == depth {
            let d = self.rows[depth * self.width + m];
            if d <= self.k && (!self.only_k || d == self.k) {
                self.out.push(Hit { id: ix.ids[i], distance: d });
                if self.only_k {
                    self.quota -= 1;
                    if self.quota == 0 {
                        return;
                    }
                }
            }
            i += 1;
        }
        if depth == MAX_TAG_LEN {
            return;
        }
        while i < hi && self.quota > 0 {
            let c = ix.byte(i, depth);
            let end = if ix.byte(hi - 1, depth) == c {
                hi
            } else {
                self.run_end(i, hi, depth, c)
            };
            if self.row(depth + 1, c) {
                self.node(i, end, depth + 1);
            }
            i = end;
        }
    }

    /// First position in `i..hi` whose byte at `depth` is not `c` (galloping, then bisecting).
    fn run_end(&self, i: usize, hi: usize, depth: usize, c: u8) -> usize {
        let ix = self.index;
        let mut step = 1;
        while i + step < hi && ix.byte(i + step, depth) == c {
            step *= 2;
        }
        let (mut a, mut b) = (i + step / 2 + 1, (i + step).min(hi));
        while a < b {
            let mid = (a + b) / 2;
            if ix.byte(mid, depth) == c {
                a = mid + 1;
            } else {
                b = mid;
            }
        }
        a
    }

    /// Fill row `i` (prefix of length i ending in `c`); true when some cell is within k.
    fn row(&mut self, i: usize, c: u8) -> bool {
        self.path[i] = c;
        let (k, w, q) = (usize::from(self.k), self.width, self.query);
        let cap = self.k + 1;
        let lo = i.saturating_sub(k).max(1);
        let hi = (i + k).min(q.len());
        let (before, current) = self.rows.split_at_mut(i * w);
        let prev = &before[(i - 1) * w..i * w];
        let prev2 = if i >= 2 {
            &before[(i - 2) * w..(i - 1) * w]
        } else {
            prev
        };
        let cur = &mut current[..w];
        cur[0] = i.min(usize::from(cap)) as u8;
        let mut best = cur[0];
        for j in lo..=hi {
            let cost = u8::from(q[j - 1] != c);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && c == q[j - 2] && self.path[i - 1] == q[j - 1] {
                v = v.min(prev2[j - 2] + 1);
            }
            let v = v.min(cap);
            cur[j] = v;
            best = best.min(v);
        }
        best <= self.k
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::osa;

    #[test]
    fn finds_slips_and_swaps() {
        let tags: Vec<&[u8]> = vec![
            b"1A4000000000000000000001",
            b"1A4000000000000000000010",
            b"ZZZ",
        ];
        let index = TagIndex::build(tags.iter().enumerate().map(|(i, t)| (i as u32, *t)));
        let hits = index.nearest(b"1A4000000000000000000100", 2, None);
        let got: Vec<(u32, u8)> = hits.iter().map(|h| (h.id, h.distance)).collect();
        assert_eq!(got, vec![(1, 1), (0, 2)]);
        assert_eq!(index.nearest(b"ZZ", 2, None).len(), 1);
        assert!(index.nearest(b"QQQQQ", 2, None).is_empty());
    }

    #[test]
    fn agrees_with_brute_force_on_a_small_set() {
        let words: Vec<String> = (0..400)
            .map(|i| format!("1A4{:05X}{}", i * 7, i % 3))
            .collect();
        let index = TagIndex::build(
            words
                .iter()
                .enumerate()
                .map(|(i, w)| (i as u32, w.as_bytes())),
        );
        for q in ["1A40001C1", "1A4001C01", "1A4", "", "1A400AF01", "A1400AF0"] {
            for k in 0..=2u8 {
                let mut want: Vec<(u32, u8)> = words
                    .iter()
                    .enumerate()
                    .map(|(i, w)| (i as u32, osa::distance(w.as_bytes(), q.as_bytes()) as u8))
                    .filter(|&(_, d)| d <= k)
                    .collect();
                want.sort_by(|a, b| (a.1, &words[a.0 as usize]).cmp(&(b.1, &words[b.0 as usize])));
                let got: Vec<(u32, u8)> = index
                    .nearest(q.as_bytes(), k, None)
                    .iter()
                    .map(|h| (h.id, h.distance))
                    .collect();
                assert_eq!(got, want, "query {q} k {k}");
            }
        }
    }
}
