//! The cost of one write to a full disk tile store, whose index holds 140 000 files (the default
//! 2 GB budget at ≈ 15 kB a tile): each write evicts the least recently used file. Printed for
//! BENCHMARKS.md (median and p99 of 2 000 writes), next to references measured in the same run:
//! the file-system work alone (the same create, write, rename and delete on the store's own tree of
//! 140 000 files, right after, without the store: what a write costs the file system, which on a
//! shared machine moves from run to run far more than the store's own work), and what the eviction
//! used to cost (collecting and sorting the whole index, on every write).
//!   cargo bench --bench disk_store [-- ENTRIES]
use std::{
    path::PathBuf,
    time::{Duration, Instant, SystemTime},
};

use geopf_gateway::cache::disk::{DiskStore, Stored};

const BODY: usize = 64;

fn percentile(mut micros: Vec<f64>, p: f64) -> f64 {
    micros.sort_by(f64::total_cmp);
    micros[((micros.len() as f64 * p) as usize).min(micros.len() - 1)]
}

fn main() {
    let entries: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(140_000);
    let dir = std::env::temp_dir().join(format!("geopf-disk-bench-{}", std::process::id()));
    let stored = Stored {
        content_type: "image/png".into(),
        etag: "\"0123456789abcdef\"".into(),
        fetched: SystemTime::now(),
        body: vec![7u8; BODY].into(),
    };
    // The size of one file, to set a budget of exactly `entries` files.
    let probe = DiskStore::open(dir.join("probe"), u64::MAX).expect("the store opens");
    probe.put("probe", &stored).expect("a write");
    let one = probe.size();
    let store = DiskStore::open(dir.join("store"), one * entries as u64).expect("the store opens");
    let t = Instant::now();
    for i in 0..entries {
        store.put(&format!("fill {i}"), &stored).expect("a write");
    }
    println!(
        "filled {} files in {:.1} s",
        store.len(),
        t.elapsed().as_secs_f64()
    );
    let writes = 2_000;
    let mut micros = Vec::with_capacity(writes);
    for i in 0..writes {
        let t = Instant::now();
        store.put(&format!("new {i}"), &stored).expect("a write");
        micros.push(t.elapsed().as_secs_f64() * 1e6);
    }
    assert_eq!(store.len(), entries, "every write evicted one file");
    println!(
        "disk store, full ({entries} files): a write (and its eviction) median {:.1} µs, p99 {:.1} µs",
        percentile(micros.clone(), 0.5),
        percentile(micros, 0.99)
    );

    // Reference 1: the same file-system work without the store, on its own files: a file written
    // and renamed where the store puts one, the oldest file deleted (the one it would evict).
    let mut micros = Vec::with_capacity(writes);
    let bytes = vec![7u8; one as usize];
    for i in 0..writes {
        let path = store.path_of(&format!("reference {i}"));
        let tmp = path.with_extension("tmp");
        let oldest = store.path_of(&format!("fill {}", writes + i));
        let t = Instant::now();
        std::fs::write(&tmp, &bytes).expect("a write");
        std::fs::rename(&tmp, &path).expect("a rename");
        std::fs::remove_file(&oldest).expect("the oldest file is there");
        micros.push(t.elapsed().as_secs_f64() * 1e6);
    }
    println!(
        "reference, the file-system calls alone on the same tree: median {:.1} µs, p99 {:.1} µs",
        percentile(micros.clone(), 0.5),
        percentile(micros, 0.99)
    );

    // Reference 2: the eviction this store replaced — the whole index collected and sorted.
    let index: Vec<(PathBuf, SystemTime, u64)> = (0..entries)
        .map(|i| {
            (
                dir.join(format!("{:064x}", i)),
                SystemTime::UNIX_EPOCH + Duration::from_secs(i as u64 * 7919 % 1_000_003),
                one,
            )
        })
        .collect();
    let mut micros = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let mut by_use = index.clone();
        by_use.sort_by_key(|(_, used, _)| *used);
        std::hint::black_box(&by_use);
        micros.push(t.elapsed().as_secs_f64() * 1e6);
    }
    println!(
        "reference, the former eviction (clone and sort of the {entries}-entry index): median {:.0} µs",
        percentile(micros, 0.5)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
