//! Near-miss search: every tag within optimal-string-alignment distance k of a query.
//!
//! The tags are kept sorted in one byte arena with their trie in level order. The search walks
//! the trie depth first with one OSA dynamic-programming column per depth, held as bit vectors
//! (one bit per query byte, so one column is a dozen word operations), and drops a subtree as
//! soon as the column's cell on the final diagonal, plus its distance from the query, exceeds k.
//! Real tag orders share long prefixes (program, facility, order) with sequential serials, so
//! the walk is a thin trunk with a bounded fan-out at the serial end; where the budget is
//! spent, only the few children whose byte the query holds near the diagonal are looked up.

// WORD: the longest query the bit-parallel walk takes (one bit per query byte in a u64).
use crate::scan::osa::{self, WORD};
use std::cell::RefCell;

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
    /// marked[d]: bit x is set when node x of level d holds a marked tag (`build_marked`;
    /// level len: the tags); empty when built without marks, and then every node counts.
    marked: Vec<Vec<u64>>,
    /// Bit c is set when some tag holds byte c (from the labels: every byte of a tag is the
    /// label of a node on its path): a query byte no tag holds costs an edit in every
    /// alignment (see `Walk::bound`).
    held: [u64; 4],
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
                let c = self.bytes[i * len + d - 1];
                self.label[d].push(c);
                self.held[usize::from(c >> 6)] |= 1 << (c & 63); // every byte is some label
                counts[d] += 1;
            }
        }
        for d in 0..len {
            self.child_start[d].push(counts[d + 1]);
        }
    }

    /// Whether the group's tags have a trie (its length is one the walk takes).
    fn walkable(&self) -> bool {
        self.len > 0 && self.len <= MAX_TAG_LEN
    }

    /// Mark the nodes holding a tag whose id `marked` names.
    fn mark(&mut self, marked: &dyn Fn(u32) -> bool) {
        let len = self.len;
        let mut levels: Vec<Vec<u64>> = vec![Vec::new(); len + 1];
        let mut bits = vec![0u64; self.ids.len().div_ceil(64)];
        for (i, &id) in self.ids.iter().enumerate() {
            if marked(id) {
                bits[i / 64] |= 1 << (i % 64);
            }
        }
        levels[len] = bits;
        for d in (0..len).rev() {
            let below = &levels[d + 1];
            let runs = self.child_start[d].windows(2);
            let mut bits = vec![0u64; runs.len().div_ceil(64)];
            for (x, run) in runs.enumerate() {
                if any_bit(below, run[0] as usize, run[1] as usize) {
                    bits[x / 64] |= 1 << (x % 64);
                }
            }
            levels[d] = bits;
        }
        self.marked = levels;
    }

    /// Whether node x of level d may hold a marked tag.
    fn is_marked(&self, d: usize, x: usize) -> bool {
        self.marked.is_empty() || self.marked[d][x / 64] >> (x % 64) & 1 == 1
    }

    fn tag(&self, i: usize) -> &[u8] {
        &self.bytes[i * self.len..(i + 1) * self.len]
    }
}

/// Whether any bit from `lo` up to (not including) `hi` is set, a word at a time.
fn any_bit(words: &[u64], lo: usize, hi: usize) -> bool {
    let mut at = lo;
    while at < hi {
        let (word, shift) = (at / 64, at % 64);
        let n = (64 - shift).min(hi - at); // bits of this word in range
        let mask = if n == 64 {
            u64::MAX
        } else {
            ((1u64 << n) - 1) << shift
        };
        if words[word] & mask != 0 {
            return true;
        }
        at += n;
    }
    false
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
    /// `build`, with the tags whose id `marked` names marked: a walk with classes
    /// (`within_where_ranked`) keeps class-1 hits to those, and can then hold the subtrees
    /// without a marked tag to a lower bound.
    pub fn build_marked<'a>(
        tags: impl Iterator<Item = (u32, &'a [u8])>,
        marked: &dyn Fn(u32) -> bool,
    ) -> Self {
        let mut index = Self::build(tags);
        for g in index.groups.iter_mut().filter(|g| g.walkable()) {
            g.mark(marked);
        }
        index
    }

    /// Build from `(id, tag)` pairs (tags at most MAX_TAG_LEN bytes). Tags are distinct (the
    /// inventory refuses a duplicate Label): of two pairs with one tag, the lower id is kept,
    /// since the trie's leaves are the distinct tags.
    pub fn build<'a>(tags: impl Iterator<Item = (u32, &'a [u8])>) -> Self {
        let mut pairs: Vec<(u32, &[u8])> = tags.collect();
        pairs.sort_unstable_by(|a, b| (a.1.len(), a.1, a.0).cmp(&(b.1.len(), b.1, b.0)));
        pairs.dedup_by(|later, first| later.1 == first.1);
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
        for g in groups.iter_mut().filter(|g| g.walkable()) {
            g.build_trie();
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
                + g.marked.iter().map(|v| 8 * v.capacity()).sum::<usize>()
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
        self.walk_ranked(query, k, &|id| u8::from(accept(id)), enough, usize::MAX)
    }

    /// `within_where_until` for a caller that ranks hits by (distance, class, tag) and keeps
    /// its first `enough_at_k`, where `classify` gives a leaf's class (0: not a hit, 1 the first
    /// class, 2 a later one; class 1 only for tags `build_marked` marked, or for every hit). Once that
    /// many hits are found that rank before any still to come at distance k (below k, or of
    /// class 1: the walk goes in tag order), the walk goes on at k - 1; once that many are found
    /// at all, it holds the subtrees without a marked tag (only class 2 below) to k - 1. Only
    /// where one tag length can hold hits, since tag order holds within a length. Every hit
    /// found is returned (those found before the bound fell included).
    pub fn within_where_ranked<'s>(
        &'s self,
        query: &[u8],
        k: u8,
        classify: &dyn Fn(u32) -> u8,
        enough: usize,
        enough_at_k: usize,
    ) -> Hits<'s> {
        let lengths = self.candidate_groups(query, k).count();
        let at_k = if lengths == 1 && k > 1 {
            enough_at_k.max(1)
        } else {
            usize::MAX
        };
        self.walk_ranked(query, k, classify, enough, at_k).0
    }

    fn walk_ranked<'s>(
        &'s self,
        query: &[u8],
        k: u8,
        classify: &dyn Fn(u32) -> u8,
        enough: usize,
        enough_at_k: usize,
    ) -> (Hits<'s>, u8) {
        let mut found: Vec<(u8, &[u8], u32)> = Vec::new();
        let mut hits = Vec::new();
        let m = query.len();
        let mut until = Until {
            needed: enough,
            count: 0,
            needed_at_k: enough_at_k,
            count_at_k: 0,
            count_all: 0,
            bound: k,
        };
        for g in &self.groups {
            let kk = usize::from(until.bound);
            if g.len + kk < m || g.len > m + kk {
                continue;
            }
            hits.clear();
            walk_until(
                g,
                query,
                k,
                None,
                Some(classify),
                Some(&mut until),
                &mut hits,
            );
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

/// Where a walk with a shrinking bound stands (see `TagIndex::within_where_until` and
/// `within_where_ranked`).
struct Until {
    /// Accepted hits at distance 1 after which the bound is 1.
    needed: usize,
    count: usize,
    /// Hits ranked before any later one at distance k (see `within_where_ranked`) after which
    /// the bound is k - 1; hits of any class after which unmarked subtrees are held to k - 1.
    needed_at_k: usize,
    count_at_k: usize,
    count_all: usize,
    bound: u8,
}

/// `walk`, keeping only the leaves whose package id `accept` puts in a class (non-zero; the
/// quota counts only those); with `until`, the bound drops to 1 once enough of them at
/// distance 1 are found.
fn walk_until(
    g: &Group,
    query: &[u8],
    k: u8,
    quota: Option<usize>,
    accept: Option<&dyn Fn(u32) -> u8>,
    until: Option<&mut Until>,
    out: &mut Vec<(usize, u8)>,
) {
    if g.ids.is_empty() || quota == Some(0) || !g.walkable() {
        return;
    }
    TABLES.with(|cell| match cell.try_borrow_mut() {
        Ok(mut t) => walk_in(&mut t, g, query, k, quota, accept, until, out),
        Err(_) => walk_in(
            &mut Box::new(Tables::new()),
            g,
            query,
            k,
            quota,
            accept,
            until,
            out,
        ),
    });
}

/// A walk's tables: the query's byte positions, a DP column per depth and the rows near each
/// depth's diagonal. Kept per thread between walks (5 KB to zero for every walk otherwise,
/// more than a walk that ends at the first byte costs).
struct Tables {
    pm: osa::Positions,
    states: [State; MAX_TAG_LEN + 1],
    near: [u64; MAX_TAG_LEN + 1],
    /// unheld[r]: the query bytes from row r on that no tag of the group holds.
    unheld: [u8; WORD + 1],
}

impl Tables {
    const fn new() -> Self {
        Tables {
            pm: osa::Positions::new(),
            states: [State::EMPTY; MAX_TAG_LEN + 1],
            near: [0; MAX_TAG_LEN + 1],
            unheld: [0; WORD + 1],
        }
    }
}

thread_local! {
    static TABLES: RefCell<Tables> = const { RefCell::new(Tables::new()) };
}

#[allow(clippy::too_many_arguments)]
fn walk_in(
    tables: &mut Tables,
    g: &Group,
    query: &[u8],
    k: u8,
    quota: Option<usize>,
    accept: Option<&dyn Fn(u32) -> u8>,
    mut until: Option<&mut Until>,
    out: &mut Vec<(usize, u8)>,
) {
    let bound = until.as_deref().map_or(k, |u| u.bound);
    let mut w = Walk {
        g,
        query,
        k: bound,
        t: tables,
        out,
        only_k: quota.is_some(),
        quota: quota.unwrap_or(usize::MAX),
        accept,
        until: until.as_deref_mut(),
        k_rest: bound,
        unheld_rows: 0,
        unheld_last: -1,
    };
    if query.len() > WORD {
        // Longer than one machine word: tag by tag, in tag order as the trie would go (a scan
        // this long is garbage or a tag of 63+ characters, which METRC does not issue).
        for i in 0..g.ids.len() {
            if w.quota == 0 {
                break;
            }
            if let Some(d) = osa::within(g.tag(i), query, w.k) {
                w.hit(i, d);
            }
        }
    } else {
        w.t.pm.load(query);
        // Column 0: D[j] = j; the diagonal row starts at n - m rows above the query's end.
        let t0 = query.len() as i64 - g.len as i64;
        w.t.states[0] = State {
            vp: low_bits(query.len()),
            dc: t0.clamp(0, query.len() as i64),
            ..State::EMPTY
        };
        for depth in 0..g.len {
            w.t.near[depth] = w.near_rows(depth);
        }
        if w.load_unheld() {
            w.node::<true>(0, 0);
        } else {
            w.node::<false>(0, 0); // the common case, compiled without the unheld bound
        }
    }
    let bound = w.k;
    if let Some(u) = until {
        u.bound = bound;
    }
}

/// The bits below `n` (n <= 64).
fn low_bits(n: usize) -> u64 {
    if n >= WORD {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// One DP column of the OSA matrix (query down, the trie path across) in Hyyro's bit-vector
/// form: bit b of `vp` / `vn` says D[b+1] - D[b] is +1 / -1 in this column; `d0` (the
/// diagonal-zero vector) and `pm` (the query positions of this column's byte) feed the next
/// column's transpositions; `dc` is D at the row of the final diagonal (clamped into the query),
/// kept up to date from the deltas so that no column needs a population count.
#[derive(Debug, Clone, Copy, Default)]
struct State {
    vp: u64,
    vn: u64,
    d0: u64,
    pm: u64,
    dc: i64,
}

/// Bit `b` of `x` as 0 or 1 (0 when b is outside the word).
fn bit(x: u64, b: i64) -> i64 {
    if (0..64).contains(&b) {
        ((x >> b) & 1) as i64
    } else {
        0
    }
}

impl State {
    const EMPTY: State = State {
        vp: 0,
        vn: 0,
        d0: 0,
        pm: 0,
        dc: 0,
    };

    /// The column after this one (the `i`-th, diagonal row `t`) for a byte found at the query
    /// positions `pm`, of a query of `m` bytes (Hyyro 2003, "A bit-vector algorithm for
    /// computing Levenshtein and Damerau edit distances", with the top row D[0][i] = i of a
    /// global distance).
    fn step(&self, pm: u64, mask: u64, i: usize, t: i64, m: i64) -> State {
        let (vp, vn) = (self.vp, self.vn);
        let tr = ((!self.d0 & pm) << 1) & self.pm;
        let d0 = ((((pm & vp).wrapping_add(vp)) ^ vp) | pm | vn | tr) & mask;
        let hp = vn | !(d0 | vp);
        let hn = vp & d0;
        // D at the next column's diagonal row t + 1: down the diagonal from row t (a vertical
        // then a horizontal delta), along row 0 (D = i + 1) or along the last row.
        let dc = if t < 0 {
            i as i64 + 1
        } else if t < m {
            self.dc + bit(vp, t) - bit(vn, t) + bit(hp, t) - bit(hn, t)
        } else {
            self.dc + bit(hp, m - 1) - bit(hn, m - 1)
        };
        let hp = (hp << 1) | 1;
        let hn = hn << 1;
        State {
            vp: (hn | !(d0 | hp)) & mask,
            vn: hp & d0 & mask,
            d0,
            pm,
            dc,
        }
    }
}

struct Walk<'a, 'o> {
    g: &'a Group,
    query: &'a [u8],
    /// The bound hits and branches are held to (it may drop during a walk).
    k: u8,
    /// `pm.of(c)`: the query positions holding byte c; `states`: the DP column of each depth
    /// of the current path; `near`: per depth, `near_rows` at the walk's first bound (the
    /// bound only falls, which narrows the rows: the first window stays a superset, and a
    /// byte in it is merely computed).
    t: &'o mut Tables,
    out: &'o mut Vec<(usize, u8)>,
    /// Collect only hits at distance exactly k, at most `quota` of them.
    only_k: bool,
    quota: usize,
    /// Only leaves whose package id this puts in a class (non-zero) are hits.
    accept: Option<&'a dyn Fn(u32) -> u8>,
    /// The bound of subtrees without a marked tag (at most `k`).
    k_rest: u8,
    until: Option<&'o mut Until>,
    /// Rows either side of the diagonal `bound` reads for the query's unheld bytes (k - 1).
    unheld_rows: i64,
    /// The row of the query's last unheld byte: below it (plus `unheld_rows`) the count is 0.
    unheld_last: i64,
}

impl Walk<'_, '_> {
    /// The query row the tag prefix of length `i` is aligned with when the rest matches one
    /// to one (the diagonal that ends in the last cell); may lie outside the query.
    fn target(&self, i: usize) -> i64 {
        i as i64 + self.query.len() as i64 - self.g.len as i64
    }

    /// Least final distance any tag below a node of depth `i` can reach. Down a column D
    /// changes by at most one per row, so D[j] + |j - t| is least at the diagonal's row t:
    /// that one cell (clamped into the query, plus the rows it is off) is the bound. It never
    /// falls along a DP path, a transposition included, so a subtree whose bound exceeds k
    /// holds no hit.
    ///
    /// A query byte no tag holds (a non-hex character in a hex serial) can be neither matched
    /// nor transposed: each one left in the query from row r costs an edit, and so do the
    /// |r - t| rows the tag is off the diagonal there. So a path through row r of this column
    /// ends at D[r] + max(unheld[r], |r - t|) or more; a transposition over the column holds to
    /// it too (it swaps two held bytes, so its row r - 1 has the same unheld count). Rows k or
    /// more off the diagonal give more than k (D[r] >= |r - i|, and the lengths differ by less
    /// than k): only the rows nearer are read, and the bound is their least.
    #[inline(always)]
    fn bound<const UNHELD: bool>(&self, i: usize, s: &State) -> i64 {
        let t = self.target(i);
        let m = self.query.len() as i64;
        if !UNHELD || !(0..=m).contains(&t) || !self.unheld_ahead(t) {
            return s.dc + (t - t.clamp(0, m)).abs();
        }
        self.bound_unheld(t, s)
    }

    /// Whether a row `bound` reads at diagonal row t (or, since t only grows with depth, at
    /// any row deeper) counts unheld bytes.
    fn unheld_ahead(&self, t: i64) -> bool {
        t - self.unheld_rows <= self.unheld_last
    }

    /// `bound` for a query with unheld bytes, the diagonal row t inside the query (out of the
    /// hot loop: most scans hold none).
    #[inline(never)]
    fn bound_unheld(&self, t: i64, s: &State) -> i64 {
        let m = self.query.len() as i64;
        let unheld = |r: i64| i64::from(self.t.unheld[r as usize]);
        let mut least = s.dc + unheld(t);
        let (mut up, mut down) = (s.dc, s.dc); // D[t - j], D[t + j]
        for j in 1..=self.unheld_rows {
            if t - j >= 0 {
                up += bit(s.vn, t - j) - bit(s.vp, t - j);
                least = least.min(up + unheld(t - j).max(j));
            }
            if t + j <= m {
                down += bit(s.vp, t + j - 1) - bit(s.vn, t + j - 1);
                least = least.min(down + unheld(t + j).max(j));
            }
        }
        least
    }

    /// `unheld` for this query and group, and the rows `bound` reads; whether the walk counts
    /// them (the query holds some, and differs in length from the tags by less than k).
    fn load_unheld(&mut self) -> bool {
        let (m, k) = (self.query.len(), i64::from(self.k));
        let mut count = 0u8;
        self.t.unheld[m] = 0;
        for r in (0..m).rev() {
            let c = self.query[r];
            let unheld = self.g.held[usize::from(c >> 6)] >> (c & 63) & 1 == 0;
            if unheld && count == 0 {
                self.unheld_last = r as i64;
            }
            count += u8::from(unheld);
            self.t.unheld[r] = count;
        }
        let off = (m as i64 - self.g.len as i64).abs();
        self.unheld_rows = (k - 1).max(0);
        count > 0 && off < k
    }

    /// The query rows near the diagonal of the column after depth `depth` (where a byte can
    /// change a cell within k of it, a transposition's included), as a bit mask.
    fn near_rows(&self, depth: usize) -> u64 {
        let (t, k, m) = (
            self.target(depth),
            i64::from(self.k),
            self.query.len() as i64,
        );
        let (lo, hi) = ((t + 1 - k - 2).max(0), (t + 1 + k - 1).min(m - 1));
        if lo > hi {
            return 0;
        }
        low_bits((hi + 1) as usize) & !low_bits(lo as usize)
    }

    /// Where a byte matching nothing ends the path (the `other` column is beyond the bound):
    /// the query rows a child's byte must match to stay within k, as a mask, when the next
    /// column's diagonal row t + 1 lies inside the query (else None).
    ///
    /// Whatever the byte, the next column's cells down to row t + 1 are those of a byte
    /// matching nothing, except below a match: a match with query byte b gives cell b + 1 the
    /// value D[b] of this column, and the diagonal cell t + 1 then at best D[b] + (t - b); a
    /// transposition that uses query byte b - 1 gives cell b + 1 at least D[b] as well. So
    /// only the rows b <= t with D[b] + (t - b) <= k can keep the child alive (directly, or
    /// one row up by a transposition). From the column's deltas, D[b] + (t - b) - D[t] sums
    /// 1 - (D[r + 1] - D[r]) over the rows r from b to t - 1: 0 where D rises, 2 where it falls.
    fn live_rows(&self, here: &State, t: i64) -> Option<u64> {
        let m = self.query.len() as i64;
        if !(0..m).contains(&t) {
            return None;
        }
        let budget = i64::from(self.k) - here.dc; // here.dc is D[t]: t lies inside the query
        let mut rows = 1u64 << t;
        let (mut b, mut spent) = (t, 0);
        while b > 0 {
            b -= 1;
            spent += 1 - bit(here.vp, b) + bit(here.vn, b);
            if spent > budget {
                break;
            }
            rows |= 1 << b;
        }
        Some(rows | rows >> 1)
    }

    /// Visit node `x` of level `depth`, whose column is `states[depth]`.
    /// With UNHELD, the query holds bytes no tag holds, and `bound` counts them until the
    /// walk is past them (then the children are walked without).
    fn node<const UNHELD: bool>(&mut self, depth: usize, x: usize) {
        let g = self.g;
        if depth == g.len {
            let d = self.t.states[depth].dc; // the diagonal row is the last: D[m][n]
            if d <= i64::from(self.k) {
                self.hit(x, d as u8);
            }
            return;
        }
        let (first, end) = (
            g.child_start[depth][x] as usize,
            g.child_start[depth][x + 1] as usize,
        );
        let g_labels = &g.label[depth + 1];
        let m = self.query.len() as i64;
        let mask = low_bits(self.query.len());
        let here = self.t.states[depth];
        let t = self.target(depth);
        let next = depth + 1;
        // A byte that matches no query row near the next column's diagonal gives the column of
        // a byte matching nothing, wherever else it matches: the cells it changes lie more
        // than k off the diagonal, and D plus the offset never falls along a path, so no hit
        // and no pruning depends on them. That column is computed once for all such children.
        let k = i64::from(self.k);
        let near = self.t.near[depth];
        let other = here.step(0, mask, depth, t, m);
        let labels = &g_labels[first..end];
        let other_alive = self.bound::<UNHELD>(next, &other) <= k;
        if !other_alive && labels.len() <= 64 {
            // Only a byte near the diagonal can keep the path within k, and of those only one
            // matching a row `live_rows` names. Gather those children without a branch per
            // child (which one is near is a coin toss to the predictor).
            let live = self.live_rows(&here, t).unwrap_or(near);
            let mut near_children = [0u8; 64];
            let mut n = 0;
            for (y, &c) in labels.iter().enumerate() {
                near_children[n] = y as u8;
                n += usize::from(self.t.pm.of(c) & live != 0);
            }
            for &y in &near_children[..n] {
                if self.quota == 0 {
                    return;
                }
                let y = usize::from(y);
                let s = here.step(self.t.pm.of(labels[y]), mask, depth, t, m);
                if self.bound::<UNHELD>(next, &s) <= self.child_bound(next, first + y) {
                    self.t.states[next] = s;
                    self.descend::<UNHELD>(next, first + y);
                }
            }
            return;
        }
        for (y, &c) in labels.iter().enumerate() {
            if self.quota == 0 {
                return;
            }
            let pm = self.t.pm.of(c);
            let s = if pm & near != 0 {
                let s = here.step(pm, mask, depth, t, m);
                if self.bound::<UNHELD>(next, &s) > self.child_bound(next, first + y) {
                    continue;
                }
                s
            } else if self.bound::<UNHELD>(next, &other) <= self.child_bound(next, first + y) {
                other // (the bound may have dropped since)
            } else {
                continue;
            };
            self.t.states[next] = s;
            self.descend::<UNHELD>(next, first + y);
        }
    }

    /// Visit a child: without the unheld bound once the rows it reads count none.
    #[inline(always)]
    fn descend<const UNHELD: bool>(&mut self, depth: usize, x: usize) {
        if UNHELD && self.unheld_ahead(self.target(depth + 1)) {
            self.node::<true>(depth, x);
        } else {
            self.node::<false>(depth, x);
        }
    }

    fn hit(&mut self, i: usize, d: u8) {
        if d > self.k || (self.only_k && d != self.k) {
            return;
        }
        let class = self.accept.map_or(1, |f| f(self.g.ids[i]));
        if class == 0 {
            return;
        }
        self.out.push((i, d));
        if self.only_k {
            self.quota -= 1;
        }
        if let Some(u) = self.until.as_deref_mut() {
            u.count += usize::from(d == 1);
            u.count_at_k += usize::from(d < u.bound || class == 1);
            u.count_all += 1;
            if u.count >= u.needed {
                self.k = self.k.min(1);
            }
            if u.count_at_k >= u.needed_at_k && u.bound > 1 && self.k == u.bound {
                self.k -= 1;
            }
            if u.count_all >= u.needed_at_k && u.bound > 1 {
                self.k_rest = u.bound - 1;
            }
            self.k_rest = self.k_rest.min(self.k);
        }
    }

    /// The bound a walk into node `y` of level `depth` is held to: `k_rest` below it when it
    /// holds no marked tag.
    fn child_bound(&self, depth: usize, y: usize) -> i64 {
        if self.k_rest < self.k && !self.g.is_marked(depth, y) {
            i64::from(self.k_rest)
        } else {
            i64::from(self.k)
        }
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

    /// The index over `words` (ids their positions) without marks, and with class 1 marked.
    fn plain_and_marked(words: &[String], class: &dyn Fn(u32) -> u8) -> (TagIndex, TagIndex) {
        let tags = || {
            words
                .iter()
                .enumerate()
                .map(|(i, w)| (i as u32, w.as_bytes()))
        };
        let marked = TagIndex::build_marked(tags(), &|id| class(id) == 1);
        (TagIndex::build(tags()), marked)
    }

    /// Every index's class-ranked walk keeps brute force's first `n` by (distance, class, tag).
    fn check_ranked(
        indexes: &[&TagIndex],
        all: &Brute<'_>,
        q: &[u8],
        k: u8,
        n: usize,
        class: &dyn Fn(u32) -> u8,
    ) {
        let mut want: Vec<(u8, u8, &[u8])> = all
            .iter()
            .filter(|&&(d, _, id)| d <= k && class(id) != 0)
            .map(|&(d, w, id)| (d, class(id), w))
            .collect();
        want.sort_unstable();
        want.truncate(n);
        for index in indexes {
            let mut got: Vec<(u8, u8, &[u8])> = index
                .within_where_ranked(q, k, class, n, n)
                .into_iter()
                .map(|(d, w, id)| (d, class(id), w))
                .collect();
            got.sort_unstable();
            got.truncate(n);
            let q = String::from_utf8_lossy(q);
            assert_eq!(got, want, "query {q} k {k} n {n}");
        }
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

    /// Short words over three letters (swaps, repeats and shifted alignments everywhere, so the
    /// walk's pruning meets every shape of column) and random queries: brute force's answers.
    #[test]
    fn agrees_with_brute_force_over_a_small_alphabet() {
        let mut next = xorshift(0x9E37_79B9_7F4A_7C15_u64);
        let mut words: Vec<String> = (0..600)
            .map(|_| {
                let len = 3 + next(6);
                (0..len).map(|_| char::from(b"abc"[next(3)])).collect()
            })
            .collect();
        words.sort();
        words.dedup();
        let index = index_of(&words);
        for _ in 0..400 {
            let len = next(11);
            let q: Vec<u8> = (0..len).map(|_| b"abcd"[next(4)]).collect();
            for k in 0..=3u8 {
                let mut want: Vec<(u8, &[u8], u32)> = words
                    .iter()
                    .enumerate()
                    .filter_map(|(i, w)| {
                        Some((osa::within(w.as_bytes(), &q, k)?, w.as_bytes(), i as u32))
                    })
                    .collect();
                want.sort_unstable();
                let got: Vec<(u32, u8)> = index
                    .nearest(&q, k, None)
                    .iter()
                    .map(|h| (h.id, h.distance))
                    .collect();
                let want: Vec<(u32, u8)> = want.iter().map(|&(d, _, id)| (id, d)).collect();
                assert_eq!(got, want, "query {} k {k}", String::from_utf8_lossy(&q));
            }
        }
    }

    /// Tags of 62-64 characters and queries of 62-67 (past one machine word, where the walk
    /// compares tag by tag): the same answers as brute force, a quota included.
    #[test]
    fn agrees_with_brute_force_past_one_word() {
        let prefix = "1A4060300002C9B".repeat(4);
        let words: Vec<String> = (0..90)
            .map(|i| format!("{}{:04X}", &prefix[..58 + i % 3], i * 3))
            .collect();
        let index = index_of(&words);
        let accept = |id: u32| id % 2 == 0;
        for (i, w) in words.iter().enumerate().step_by(11) {
            for extra in ["", "A", "AB", "ABC"] {
                let q = format!("{w}{extra}").into_bytes();
                let all = brute_force(&words, &q);
                for k in 0..=2u8 {
                    let (brute, _) = check_bound(&index, &all, &q, k, &accept);
                    let limited = index.nearest(&q, k, Some(2));
                    assert_eq!(limited.len(), brute.len().min(2), "tag {i} + {extra} k {k}");
                }
            }
        }
    }

    /// `within_where_ranked` with classes (0: not a hit), over an index without marks and one
    /// with the class-1 tags marked: whatever it leaves out once its bounds fall, its hits
    /// ranked by (distance, class, tag) begin with brute force's first `n`, for dense serials
    /// of one length (where the k - 1 rules apply) and with another length beside them.
    #[test]
    fn ranked_walk_keeps_the_first_by_distance_class_and_tag() {
        let dense: Vec<String> = (0..1500)
            .map(|i| format!("1A4060300002C9B0000{:05X}", 0x1F000 + i))
            .collect();
        let mut mixed = dense.clone();
        mixed.extend((0..100).map(|i| format!("1A4060300002C9B00001F{:04X}", i)));
        // Class 1 in runs of serials (whole subtrees unmarked) and scattered.
        let class = |id: u32| match (id / 64 % 3, id % 7) {
            (_, 0) => 0,
            (0, _) | (_, 4) => 1,
            _ => 2,
        };
        let mut next = xorshift(0x2545_F491_4F6C_DD1D_u64);
        for words in [&dense, &mixed] {
            let (plain, marked) = plain_and_marked(words, &class);
            for round in 0..150 {
                let mut q = words[next(words.len())].clone().into_bytes();
                for _ in 0..1 + round % 3 {
                    let p = q.len() - 1 - next(6);
                    match next(4) {
                        0 => q[p] = b"0123456789ABCDEFG"[next(17)],
                        1 => {
                            q.remove(p);
                        }
                        2 => q.insert(p, b"0123456789ABCDEF"[next(16)]),
                        _ => q.swap(p, p - 1),
                    }
                }
                let all = brute_force(words, &q);
                for k in 1..=3u8 {
                    for n in [1, 3, 5, 8] {
                        check_ranked(&[&plain, &marked], &all, &q, k, n, &class);
                    }
                }
            }
        }
    }

    #[test]
    fn any_bit_tests_a_range_across_words() {
        let words = [1u64 << 63, 0, 1 << 5];
        let brute = |lo: usize, hi: usize| (lo..hi).any(|y| words[y / 64] >> (y % 64) & 1 == 1);
        for lo in 0..=192 {
            for hi in lo..=192 {
                assert_eq!(any_bit(&words, lo, hi), brute(lo, hi), "{lo}..{hi}");
            }
        }
    }

    /// A tag given twice is indexed once, with the lower id; the ids of the tags sorted after
    /// it stay theirs (the trie's leaves are the distinct tags).
    #[test]
    fn a_tag_given_twice_keeps_the_lower_id() {
        let tags: [(u32, &[u8]); 4] = [(7, b"AB12"), (3, b"AB12"), (5, b"AB13"), (9, b"AB14")];
        let index = TagIndex::build(tags.into_iter());
        assert_eq!(index.len(), 3);
        let got: Vec<(u32, u8)> = index
            .nearest(b"AB13", 1, None)
            .iter()
            .map(|h| (h.id, h.distance))
            .collect();
        assert_eq!(got, vec![(5, 0), (3, 1), (9, 1)]);
    }

    /// Queries holding bytes no tag holds (a hand-keyed O for 0, a G in a hex serial, a lower
    /// case letter), anywhere and next to other slips, and one or two bytes longer or shorter
    /// than the tags: the walk, which counts an edit for each such byte ahead of it, finds
    /// exactly what brute force finds, ranked and unranked.
    #[test]
    fn bytes_no_tag_holds_cost_an_edit_each_and_nothing_more() {
        let mut words: Vec<String> = (0..1200)
            .map(|i| format!("1A4060300002C9B0000{:05X}", 0x1F000 + i * 3))
            .collect();
        words.extend((0..60).map(|i| format!("1A4060300002C9B00002F{:03X}", i)));
        words.extend((0..60).map(|i| format!("1A4060300002C9B0000{:07X}", 0x1F000 + i)));
        let class = |id: u32| match id % 5 {
            0 => 0,
            1 => 1,
            _ => 2,
        };
        let (plain, marked) = plain_and_marked(&words, &class);
        let mut next = xorshift(0x5851_F42D_4C95_7F2D_u64);
        for round in 0..400 {
            let mut q = words[next(words.len())].clone().into_bytes();
            let p = next(q.len());
            q[p] = b"GOZoi!"[next(6)];
            for _ in 0..round % 3 {
                let p = next(q.len() - 1);
                match next(5) {
                    0 => q[p] = b"0123456789ABCDEFGO"[next(18)],
                    1 => {
                        q.remove(p);
                    }
                    2 => q.insert(p, b"0123456789ABCDEFO"[next(17)]),
                    3 => q.swap(p, p + 1),
                    _ => q[p] = b'O',
                }
            }
            let all = brute_force(&words, &q);
            for k in 0..=3u8 {
                let got: Vec<(u32, u8)> = plain
                    .nearest(&q, k, None)
                    .iter()
                    .map(|h| (h.id, h.distance))
                    .collect();
                let want: Vec<(u32, u8)> = all
                    .iter()
                    .filter(|h| h.0 <= k)
                    .map(|&(d, _, id)| (id, d))
                    .collect();
                assert_eq!(got, want, "query {} k {k}", String::from_utf8_lossy(&q));
                for n in [1, 3, 5] {
                    check_ranked(&[&plain, &marked], &all, &q, k, n, &class);
                }
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
