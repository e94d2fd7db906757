//! Times `RowBuilder` over an NDJSON file of replica package bodies (one per line): the parse
//! and the index build of a first start, without SQLite or Python. For profiling the core's
//! share of `bench/bench_replica_inventory.py`:
//!
//!     cargo run --profile profiling --example parse_rows -- bodies.ndjson
#![allow(clippy::print_stdout)]

use _core::scan::inventory::from_rows::RowBuilder;
use std::time::Instant;

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: parse_rows BODIES.ndjson");
    let data = std::fs::read(&path).expect("read the bodies");
    let rows: Vec<&[u8]> = data
        .split(|&c| c == b'\n')
        .filter(|r| !r.is_empty())
        .collect();
    for round in 0..3 {
        let t = Instant::now();
        let mut builder = RowBuilder::new();
        let added = rows.iter().filter(|body| builder.add("-", body)).count();
        let parsed = t.elapsed();
        let (inventory, skipped) = builder.finish().expect("an index");
        println!(
            "round {round}: {added} rows parsed in {:.3} s, indexed in {:.3} s; {} packages, {} skipped",
            parsed.as_secs_f64(),
            (t.elapsed() - parsed).as_secs_f64(),
            inventory.len(),
            skipped.len()
        );
    }
}
