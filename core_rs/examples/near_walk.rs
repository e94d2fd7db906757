//! Times the near-miss trie walk alone on the tag set of `bench/bench_near_miss.py`'s dense
//! shape at 1 M tags: the index of one order's SKU-line tags (two SKUs of 400, every 400th
//! serial each, and one SKU's batch, in one index as the station builds it), queried with the bench's worst-case scans (a slip in the
//! serial of a tag no line takes). For profiling the walk without Python:
//!
//!     cargo run --profile profiling --example near_walk [-- ROUNDS]
#![allow(clippy::print_stdout)]

use _core::scan::tag_index::TagIndex;
use std::time::Instant;

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .map_or(20, |r| r.parse().expect("ROUNDS: a number"));
    let base = 0x0E70_0000_u64;
    let tags: Vec<String> = (0..1_000_000_u64)
        .map(|i| format!("1A4060300002C9B{:09X}", base + i))
        .collect();
    let sku = |i: usize| i * 7 % 400;
    let (a, b, c) = (17, 233, 101);
    let picked = |i: usize| sku(i) == a || sku(i) == b;
    let batch = |i: usize| sku(i) == c && i % 3 == 1;
    // One index of every SKU line's packages, the batch line's marked, as the station walks them.
    let index = TagIndex::build_marked(
        (0..tags.len())
            .filter(|&i| picked(i) || batch(i))
            .map(|i| (i as u32, tags[i].as_bytes())),
        &|id| batch(id as usize),
    );
    let mut seed = 0x2545_F491_4F6C_DD1D_u64;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let mut queries: Vec<Vec<u8>> = Vec::new();
    while queries.len() < 300 {
        let i = next(tags.len());
        if picked(i) || batch(i) {
            continue;
        }
        let mut q = tags[i].as_bytes().to_vec();
        let at = q.len() - 4 + next(4);
        if next(2) == 0 {
            q.remove(at);
        } else {
            q[at] = b'G';
        }
        queries.push(q);
    }
    // A leaf's class: the line with a batch ranks first (as the station's lines do).
    let class = |id: u32| if batch(id as usize) { 1 } else { 2 };
    let mut found = 0;
    let mut times: Vec<u128> = Vec::new();
    for _ in 0..rounds {
        for q in &queries {
            let t = Instant::now();
            found += index.within_where_ranked(q, 2, &class, 5, 5).len();
            times.push(t.elapsed().as_nanos());
        }
    }
    times.sort_unstable();
    // Integer nanoseconds, printed in microseconds (the crate keeps float arithmetic out).
    let at = |per_mille: usize| times[(times.len() * per_mille / 1000).min(times.len() - 1)];
    let us = |ns: u128| format!("{}.{}", ns / 1000, ns % 1000 / 100);
    println!(
        "{} walks: p50 {} us, p99 {} us, hits per walk {}/{}",
        times.len(),
        us(at(500)),
        us(at(990)),
        found,
        times.len()
    );
}
