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

/// Sorted tags of one length (fixed stride) and their trie in level order: the nodes of level d
/// are the distinct d-byte prefixes in sorted order, and a node's children are one contiguous
/// run of the next level, so walking down costs two array reads instead of a binary search.
#[derive(Debug, Default)]
struct Group {
    len: usize,
    bytes: Vec<u8>,
    ids: Vec<u32>,
    /// child_start[d][x]: first child (in level d+1) of node x of level d; one extra at the end.
    child_start: Vec<Vec<u32>>,
    /// label[d][y]: the last byte of node y of level d (label[0] is empty: the root).
    label: Vec<Vec<u8>>,
}

impl Group {
    /// Build the level-order trie of the sorted tags.
    fn build_trie(&mut self) {
        let (n, len) = (self.ids.len(), self.len);
        self.child_start = vec![Vec::new(); len];
        self.label = vec![Vec::new(); len + 1];
        let mut counts = vec![0u32; len + 1]; // nodes created so far per level
        for i in 0..n {
            let lcp = if i == 0 {
                0
            } else {
                let (a, b) = (self.tag(i - 1), self.tag(i));
                a.iter().zip(b).take_while(|(x, y)| x == y).count()
            };
            // Tag i opens a new node on every level deeper than the common prefix.
            for d in (lcp + 1).max(1)..=len {
                if i == 0 && d == 1 {
                    self.child_start[0].push(0);
                    counts[0] = 1;
                }
                if d < len {
                    self.child_start[d].push(counts[d + 1]);
                }
                self.label[d].push(self.bytes[i * len + d - 1]);
                counts[d] += 1;
            }
        }
        for d in 0..len {
            self.child_start[d].push(counts[d + 1]);
        }
    }

    fn tag(&self, i: usize) -> &[u8] {
        &self.bytes[i * self.len..(i + 1) * self.len]
    }
}

/// Sorted tags with their package ids, one group per tag length.
#[derive(Debug, Default)]
pub struct TagIndex {
    groups: Vec<Group>,
}

/// Hits of an acceptance-tested walk: (distance, tag, package id), ranked.
pub type Hits<'s> = Vec<(u8, &'s [u8], u32)>;

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
        pairs.sort_unstable_by(|a, b| (a.1.len(), a.1).cmp(&(b.1.len(), b.1)));
        let mut groups: Vec<Group> = Vec::new();
        for (id, tag) in pairs {
            if groups.last().map_or(true, |g| g.len != tag.len()) {
                groups.push(Group {
                    len: tag.len(),
                    ..Group::default()
                });
            }
            let g = groups.last_mut().expect("pushed above");
            g.bytes.extend_from_slice(tag);
            g.ids.push(id);
        }
        for g in &mut groups {
            if g.len > 0 && g.len <= MAX_TAG_LEN {
                g.build_trie();
            }
        }
        TagIndex { groups }
    }

    pub fn len(&self) -> usize {
        self.groups.iter().map(|g| g.ids.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes held by the index.
    pub fn heap_bytes(&self) -> usize {
        let trie = |g: &Group| -> usize {
            g.child_start
                .iter()
                .map(|v| 4 * v.capacity())
                .sum::<usize>()
                + g.label.iter().map(Vec::capacity).sum::<usize>()
        };
        self.groups
            .iter()
            .map(|g| g.bytes.capacity() + 4 * g.ids.capacity() + trie(g))
            .sum()
    }

    /// Every tag within distance `k` of `query`, ranked by distance then tag.
    pub fn within(&self, query: &[u8], k: u8, out: &mut Vec<Hit>) {
        let mut found: Vec<(u8, &[u8], u32)> = Vec::new();
        for g in self.candidate_groups(query, k) {
            let mut hits = Vec::new();
            walk(g, query, k, None, &mut hits);
            found.extend(hits.iter().map(|&(i, d)| (d, g.tag(i), g.ids[i])));
        }
        found.sort_unstable();
        out.extend(found.iter().map(|&(distance, _, id)| Hit { id, distance }));
    }

    fn candidate_groups<'s>(&'s self, query: &'s [u8], k: u8) -> impl Iterator<Item = &'s Group> {
        let (m, k) = (query.len(), usize::from(k));
        self.groups
            .iter()
            .filter(move |g| g.len + k >= m && g.len <= m + k)
    }

    /// The nearest tags: distance <= `k`, ranked by distance then tag, at most `limit` of them.
    /// With a limit, each distance is searched in turn and a walk stops once the list is full,
    /// so a short list in a dense serial range stays cheap.
    pub fn nearest(&self, query: &[u8], k: u8, limit: Option<usize>) -> Vec<Hit> {
        let mut out = Vec::new();
        let Some(limit) = limit else {
            self.within(query, k, &mut out);
            return out;
        };
        for bound in 0..=k {
            let quota = limit.saturating_sub(out.len());
            if quota == 0 {
                break;
            }
            // The first `quota` tags at exactly this distance, in tag order, over all groups.
            let mut found: Vec<(&[u8], u32)> = Vec::new();
            for g in self.candidate_groups(query, bound) {
                let mut hits = Vec::new();
                walk(g, query, bound, Some(quota), &mut hits);
                found.extend(hits.iter().map(|&(i, _)| (g.tag(i), g.ids[i])));
            }
            found.sort_unstable();
            out.extend(found.iter().take(quota).map(|&(_, id)| Hit {
                id,
                distance: bound,
            }));
        }
        out
    }

    /// Every tag within distance `k` of `query` whose package id `accept`s, as (distance, tag,
    /// id) ranked by distance then tag. One walk of the trie: the predicate only decides which
    /// leaves are hits, so its cost is that of the neighbourhood, whatever the hits.
    pub fn within_where<'s>(
        &'s self,
        query: &[u8],
        k: u8,
        accept: &dyn Fn(u32) -> bool,
    ) -> Vec<(u8, &'s [u8], u32)> {
        self.within_where_until(query, k, accept, usize::MAX).0
    }

    /// `within_where`, except that once `enough` accepted tags at distance 1 are found the
    /// walk goes on with bound 1 (nothing beyond it can rank among the first `enough`): the
    /// hits, and the bound the walk ended with (hits beyond it are leftovers to drop). One
    /// walk instead of a walk at distance 1 followed, when that falls short, by one at k.
    pub fn within_where_until<'s>(
        &'s self,
        query: &[u8],
        k: u8,
        accept: &dyn Fn(u32) -> bool,
        enough: usize,
    ) -> (Hits<'s>, u8) {
        let mut found: Vec<(u8, &[u8], u32)> = Vec::new();
        let mut hits = Vec::new();
        let m = query.len();
        let mut until = Until {
            needed: enough,
            count: 0,
            bound: k,
        };
        for g in &self.groups {
            let kk = usize::from(until.bound);
            if g.len + kk < m || g.len > m + kk {
                continue;
            }
            hits.clear();
            walk_until(g, query, k, None, Some(accept), Some(&mut until), &mut hits);
            found.extend(hits.iter().map(|&(i, d)| (d, g.tag(i), g.ids[i])));
        }
        found.sort_unstable();
        (found, until.bound)
    }

    /// Every (id, tag), for tests and diagnostics.
    pub fn tags(&self) -> impl Iterator<Item = (u32, &[u8])> {
        self.groups
            .iter()
            .flat_map(|g| (0..g.ids.len()).map(move |i| (g.ids[i], g.tag(i))))
    }
}

/// Walk one group with bound `k`, pushing (sorted position, distance). With `quota`, only hits at
/// distance exactly `k`, at most `quota`: the walk runs in tag order, so they are the first ones.
fn walk(g: &Group, query: &[u8], k: u8, quota: Option<usize>, out: &mut Vec<(usize, u8)>) {
    walk_until(g, query, k, quota, None, None, out);
}

/// Where a walk with a shrinking bound stands (see `TagIndex::within_where_until`).
struct Until {
    needed: usize,
    count: usize,
    bound: u8,
}

/// `walk`, keeping only the leaves whose package id `accept`s (the quota counts only those);
/// with `until`, the bound drops to 1 once enough accepted leaves at distance 1 are found (the
/// band stays that of `k`).
fn walk_until(
    g: &Group,
    query: &[u8],
    k: u8,
    quota: Option<usize>,
    accept: Option<&dyn Fn(u32) -> bool>,
    mut until: Option<&mut Until>,
    out: &mut Vec<(usize, u8)>,
) {
    if g.ids.is_empty() || quota == Some(0) || g.len == 0 || g.len > MAX_TAG_LEN {
        return;
    }
    let width = query.len() + 1;
    let cap = k.saturating_add(1);
    let mut rows = vec![cap; width * (g.len + 1)];
    for (j, cell) in rows
        .iter_mut()
        .take(width.min(usize::from(k) + 1))
        .enumerate()
    {
        *cell = j as u8;
    }
    let bound = until.as_deref().map_or(k, |u| u.bound);
    let mut w = Walk {
        g,
        query,
        band: k,
        k: bound,
        width,
        rows,
        path: [0; MAX_TAG_LEN + 1],
        mins: [0; MAX_TAG_LEN + 1],
        out,
        only_k: quota.is_some(),
        quota: quota.unwrap_or(usize::MAX),
        accept,
        until: until.as_deref_mut(),
    };
    w.node(0, 0);
    let bound = w.k;
    if let Some(u) = until {
        u.bound = bound;
    }
}

struct Walk<'a, 'o> {
    g: &'a Group,
    query: &'a [u8],
    /// The bound the rows were laid out for (their band and cap).
    band: u8,
    /// The bound hits and branches are held to (at most `band`; it may drop during a walk).
    k: u8,
    width: usize,
    rows: Vec<u8>,
    path: [u8; MAX_TAG_LEN + 1],
    /// Each depth's row bound: its least cell plus that cell's distance from the diagonal.
    mins: [u8; MAX_TAG_LEN + 1],
    out: &'o mut Vec<(usize, u8)>,
    /// Collect only hits at distance exactly k, at most `quota` of them.
    only_k: bool,
    quota: usize,
    /// Only leaves whose package id this accepts are hits.
    accept: Option<&'a dyn Fn(u32) -> bool>,
    until: Option<&'o mut Until>,
}

impl Walk<'_, '_> {
    /// The query position a tag prefix of length `i` is aligned with when the rest matches
    /// one to one (the diagonal that ends in the last cell); may lie outside the query.
    fn target(&self, i: usize) -> isize {
        i as isize + self.query.len() as isize - self.g.len as isize
    }

    /// Visit node `x` of level `depth`, whose DP row is already in `rows[depth]`.
    fn node(&mut self, depth: usize, x: usize) {
        let g = self.g;
        if depth == g.len {
            self.leaf(x); // leaves are the sorted tags themselves
            return;
        }
        let starts = &g.child_start[depth];
        let labels = &g.label[depth + 1];
        // With the error budget spent, only a next byte that continues a cell's diagonal (or
        // completes a transposition) can stay within k; skip the rows of all other children.
        let viable = (self.mins[depth] == self.k)
            .then(|| self.viable(depth))
            .flatten();
        let (first, end) = (starts[x] as usize, starts[x + 1] as usize);
        for (y, &c) in labels.iter().enumerate().take(end).skip(first) {
            if self.quota == 0 {
                return;
            }
            if viable.is_some_and(|v| v[usize::from(c >> 6)] & (1 << (c & 63)) == 0) {
                continue;
            }
            if self.row(depth + 1, c) {
                self.node(depth + 1, y);
            }
        }
    }

    /// Cost bound of cell `j` of row `i` holding `v`: the cell, plus one edit per step it is
    /// off the diagonal that ends in the last cell (each needs an insertion or a deletion).
    fn bound(&self, i: usize, j: usize, v: u8) -> u8 {
        let off = (j as isize - self.target(i)).unsigned_abs();
        v.saturating_add(off.min(255) as u8)
    }

    /// Bytes that can extend row `i` (whose bound is k) without exceeding k; None: any byte.
    fn viable(&self, i: usize) -> Option<[u64; 4]> {
        let (w, q, k) = (self.width, self.query, self.k);
        let row = &self.rows[i * w..(i + 1) * w];
        let mut set = [0u64; 4];
        let mut add = |c: u8| set[usize::from(c >> 6)] |= 1 << (c & 63);
        // Only the band |i - j| <= band holds cells <= band (the rest are capped above it).
        let kk = usize::from(self.band);
        let t = self.target(i);
        for j in i.saturating_sub(kk)..=q.len().min(i + kk) {
            let b = self.bound(i, j, row[j]);
            if b < k || (b == k && (j as isize) > t) {
                // a substitution, or an inserted byte that steps back toward the diagonal
                return None;
            }
            if b == k && j < q.len() {
                add(q[j]); // diagonal: D[i+1][j+1] = D[i][j] when the byte is q[j]
            }
        }
        if i >= 1 {
            // Transposition completing at i+1: D[i+1][j] = D[i-1][j-2] + 1 needs byte q[j-2]
            // and path[i] == q[j-1]; cell j-2 of row i-1 is in that row's band.
            let prev = &self.rows[(i - 1) * w..i * w];
            for j in (i - 1).saturating_sub(kk) + 2..=q.len().min(i + kk + 1) {
                if self.bound(i - 1, j - 2, prev[j - 2]) < k && self.path[i] == q[j - 1] {
                    add(q[j - 2]);
                }
            }
        }
        Some(set)
    }

    fn leaf(&mut self, i: usize) {
        let d = self.rows[self.g.len * self.width + self.query.len()];
        if d <= self.k
            && (!self.only_k || d == self.k)
            && self.accept.map_or(true, |f| f(self.g.ids[i]))
        {
            self.out.push((i, d));
            if self.only_k {
                self.quota -= 1;
            }
            if let Some(u) = self.until.as_deref_mut().filter(|_| d == 1) {
                u.count += 1;
                if u.count >= u.needed {
                    self.k = self.k.min(1);
                }
            }
        }
    }

    /// Fill row `i` (prefix of length i ending in `c`); true when some cell can still end
    /// within k (its value plus its distance from the final diagonal).
    fn row(&mut self, i: usize, c: u8) -> bool {
        self.path[i] = c;
        let (k, w, q) = (usize::from(self.band), self.width, self.query);
        let cap = self.band + 1;
        let lo = i.saturating_sub(k).max(1);
        let hi = (i + k).min(q.len());
        let t = self.target(i);
        let (before, current) = self.rows.split_at_mut(i * w);
        let prev = &before[(i - 1) * w..i * w];
        let prev2 = if i >= 2 {
            &before[(i - 2) * w..(i - 1) * w]
        } else {
            prev
        };
        let cur = &mut current[..w];
        cur[0] = i.min(usize::from(cap)) as u8;
        let off = |j: usize| (j as isize - t).unsigned_abs().min(255) as u8;
        let mut best = cur[0].saturating_add(off(0));
        for j in lo..=hi {
            let cost = u8::from(q[j - 1] != c);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && c == q[j - 2] && self.path[i - 1] == q[j - 1] {
                v = v.min(prev2[j - 2] + 1);
            }
            let v = v.min(cap);
            cur[j] = v;
            best = best.min(v.saturating_add(off(j)));
        }
        self.mins[i] = best;
        best <= self.k
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::osa;

    type Brute<'a> = Vec<(u8, &'a [u8], u32)>;

    /// The index over `words`, each tag's id its position.
    fn index_of(words: &[String]) -> TagIndex {
        TagIndex::build(
            words
                .iter()
                .enumerate()
                .map(|(i, w)| (i as u32, w.as_bytes())),
        )
    }

    /// A xorshift generator of indices below `n` (repeatable slips, no dependency).
    fn xorshift(mut seed: u64) -> impl FnMut(usize) -> usize {
        move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        }
    }

    /// Every tag within 3 of `q` by brute force, sorted as the walk reports them.
    fn brute_force<'a>(words: &'a [String], q: &[u8]) -> Brute<'a> {
        let mut all: Brute<'a> = words
            .iter()
            .enumerate()
            .filter_map(|(i, w)| Some((osa::within(w.as_bytes(), q, 3)?, w.as_bytes(), i as u32)))
            .collect();
        all.sort_unstable();
        all
    }

    /// `nearest` and `within_where` at bound `k` equal brute force; (all within k, the accepted).
    fn check_bound<'a>(
        index: &TagIndex,
        all: &Brute<'a>,
        q: &[u8],
        k: u8,
        accept: &dyn Fn(u32) -> bool,
    ) -> (Brute<'a>, Brute<'a>) {
        let brute: Brute<'a> = all.iter().copied().filter(|&(d, _, _)| d <= k).collect();
        let got: Vec<(u32, u8)> = index
            .nearest(q, k, None)
            .iter()
            .map(|h| (h.id, h.distance))
            .collect();
        let want: Vec<(u32, u8)> = brute.iter().map(|&(d, _, id)| (id, d)).collect();
        assert_eq!(got, want, "query {} k {k}", String::from_utf8_lossy(q));
        let accepted: Brute<'a> = brute
            .iter()
            .copied()
            .filter(|&(_, _, id)| accept(id))
            .collect();
        assert_eq!(index.within_where(q, k, accept), accepted);
        (brute, accepted)
    }

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
        assert_eq!(
            index.nearest(b"1A4000000000000000000100", 2, Some(1)),
            vec![hits[0]]
        );
        assert!(index.nearest(b"QQQQQ", 2, None).is_empty());
    }

    #[test]
    fn agrees_with_brute_force_on_a_small_set() {
        let words: Vec<String> = (0..400)
            .map(|i| format!("1A4{:05X}{}", i * 7, i % 3))
            .collect();
        let index = index_of(&words);
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

    /// Dense serials (every serial of a range under one prefix, the most neighbours a tag can
    /// have), tags of other lengths beside them, and slips of every kind: the walk, with and
    /// without an acceptance test, finds exactly what brute force finds.
    #[test]
    fn agrees_with_brute_force_on_dense_serials() {
        let mut words: Vec<String> = (0..1500)
            .map(|i| format!("1A4060300002C9B0000{:05X}", 0x1F000 + i))
            .collect();
        words.extend((0..100).map(|i| format!("1A4060300002C9B{:04X}", 0xF00 + i)));
        words.extend((0..100).map(|i| format!("1A4060300002C9B00001F{:04X}", i)));
        let index = index_of(&words);
        let mut next = xorshift(0x2545_F491_4F6C_DD1D_u64);
        let accept = |id: u32| id % 7 == 3 || id % 11 == 0;
        for round in 0..150 {
            let mut q = words[next(words.len())].clone().into_bytes();
            for _ in 0..1 + round % 3 {
                let p = next(q.len());
                match next(5) {
                    0 => q[p] = b"0123456789ABCDEFG"[next(17)],
                    1 => {
                        q.remove(p);
                    }
                    2 => q.insert(p, b"0123456789ABCDEF"[next(16)]),
                    3 if p + 1 < q.len() => q.swap(p, p + 1),
                    _ => q[p] = b'G',
                }
            }
            let all = brute_force(&words, &q);
            for k in 0..=3u8 {
                let (brute, want) = check_bound(&index, &all, &q, k, &accept);
                // With a shrinking bound: everything within the bound it ended at, and it only
                // shrank once 3 accepted tags at distance 1 were found.
                let (hits, bound) = index.within_where_until(&q, k, &accept, 3);
                let kept: Vec<_> = hits.into_iter().filter(|h| h.0 <= bound).collect();
                let within: Vec<_> = want.iter().copied().filter(|h| h.0 <= bound).collect();
                assert_eq!(kept, within);
                assert!(
                    bound == k || (bound == 1 && want.iter().filter(|h| h.0 == 1).count() >= 3)
                );
                let limited = index.nearest(&q, k, Some(3));
                assert_eq!(limited.len(), brute.len().min(3));
            }
        }
    }

    /// Every 133rd serial (an order's SKU tags in a dense range: a sparse fan-out near the
    /// leaves), tags one shorter and one longer, slips in the last characters and bytes outside
    /// [0-9A-Z]: the walk finds exactly what brute force finds.
    #[test]
    fn agrees_with_brute_force_on_sparse_serials() {
        let mut words: Vec<String> = (0..900)
            .map(|i| format!("1A4060300002C9B000{:06X}", 0x2_F000 + 133 * i))
            .collect();
        words.extend((0..60).map(|i| format!("1A4060300002C9B00{:06X}", 0x2_F000 + 77 * i)));
        words.extend((0..60).map(|i| format!("1A4060300002C9B000{:07X}", 0x2_F000 + 91 * i)));
        words.push("1A4060300002C9B0002F0-85".into());
        let index = index_of(&words);
        assert_eq!(index.groups.len(), 3); // lengths 23, 24 and 25
        let mut next = xorshift(0x9E37_79B9_7F4A_7C15_u64);
        let accept = |id: u32| id % 5 == 1;
        for round in 0..300 {
            let mut q = words[next(words.len())].clone().into_bytes();
            for _ in 0..1 + round % 3 {
                // mostly in the last six characters, where the serials fan out
                let p = if next(4) == 0 {
                    next(q.len())
                } else {
                    q.len() - 1 - next(6.min(q.len()))
                };
                match next(6) {
                    0 => q[p] = b"0123456789ABCDEFZ-"[next(18)],
                    1 => {
                        q.remove(p);
                    }
                    2 => q.insert(p, b"0123456789ABCDEF"[next(16)]),
                    3 if p + 1 < q.len() => q.swap(p, p + 1),
                    4 => q.push(b"0123456789ABCDEF"[next(16)]),
                    _ => q[p] = b'G',
                }
            }
            let all = brute_force(&words, &q);
            for k in 0..=3u8 {
                check_bound(&index, &all, &q, k, &accept);
            }
        }
    }
}
