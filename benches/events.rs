//! Event parsing throughput and memory on a large event log (a benchmark, not a test:
//! it asserts nothing about speed). Run: `cargo bench --bench events`.
//!
//! The log is 100,000 events made from the lines of a real recorded `up`
//! (fixtures/cli/up-update.events.jsonl), renumbered so sequences stay contiguous.
//! Measured: parsing lines from memory, and the whole path through a named pipe with
//! the live reader, each as events per second and MB per second; and the process's
//! peak resident memory (VmHWM) after each phase.

use std::io::Write;
use std::time::Instant;

use futures_util::StreamExt;
use pulumi_auto::events::{EventLog, parse_event_line};

const N: usize = 100_000;

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn make_log() -> Vec<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/cli/up-update.events.jsonl"
    );
    let text = std::fs::read_to_string(path).expect("recorded fixture");
    let templates: Vec<serde_json::Value> = text
        .lines()
        .filter(|l| !l.contains("cancelEvent"))
        .map(|l| serde_json::from_str(l).expect("fixture line"))
        .collect();
    (0..N)
        .map(|i| {
            let mut v = templates[i % templates.len()].clone();
            v["sequence"] = serde_json::json!(i);
            serde_json::to_string(&v).expect("serialise") + "\n"
        })
        .collect()
}

fn main() {
    let lines = make_log();
    let bytes: usize = lines.iter().map(String::len).sum();
    let mb = bytes as f64 / 1e6;
    println!(
        "event log: {N} events, {mb:.1} MB (avg {} bytes/event)",
        bytes / N
    );
    println!(
        "peak RSS after building the log: {} MiB",
        peak_rss_kib() / 1024
    );

    // 1. Parsing from memory, best of 5.
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let mut n = 0usize;
        for l in &lines {
            if parse_event_line(l).is_ok() {
                n += 1;
            }
        }
        assert_eq!(n, N);
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "parse_event_line: {:.0} events/s, {:.0} MB/s (best of 5: {:.3} s)",
        N as f64 / best,
        mb / best,
        best
    );

    // 2. Through a named pipe with the live reader (writer thread like pulumi).
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let lines = std::sync::Arc::new(lines);
    let mut best = f64::MAX;
    for _ in 0..3 {
        let lines = lines.clone();
        let secs = rt.block_on(async move {
            let dir = tempfile::tempdir().expect("tempdir");
            let (log, mut stream) = EventLog::create(dir.path()).expect("fifo");
            let path = log.path().to_path_buf();
            let t = Instant::now();
            let writer = std::thread::spawn(move || {
                let f = std::fs::OpenOptions::new()
                    .append(true)
                    .open(path)
                    .expect("open");
                let mut w = std::io::BufWriter::with_capacity(64 * 1024, f);
                for l in lines.iter() {
                    w.write_all(l.as_bytes()).expect("write");
                }
                w.flush().expect("flush");
            });
            let mut n = 0usize;
            while n < N {
                match stream.next().await {
                    Some(Ok(_)) => n += 1,
                    Some(Err(e)) => panic!("{e}"),
                    None => break,
                }
            }
            assert_eq!(n, N);
            let secs = t.elapsed().as_secs_f64();
            writer.join().expect("writer");
            log.process_exited();
            secs
        });
        best = best.min(secs);
    }
    println!(
        "named pipe + reader + stream: {:.0} events/s, {:.0} MB/s (best of 3: {:.3} s)",
        N as f64 / best,
        mb / best,
        best
    );
    println!(
        "peak RSS at the end: {} MiB (includes the 100k-line log held in memory)",
        peak_rss_kib() / 1024
    );
}
