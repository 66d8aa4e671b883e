//! Label throughput and latency: N clients (default 50) post labels as fast as they are
//! answered to the server binary on 127.0.0.1, over SQLite (WAL, synchronous FULL), for a
//! fixed time (default 10 s); prints p50 and p99 latency and labels per second, for 1 client
//! and for N.
//!
//! `cargo bench -p nines-web --bench labels` (`NINES_WEB_BENCH_CLIENTS`,
//! `NINES_WEB_BENCH_SECONDS` change the defaults).

#[path = "../tests/support/load.rs"]
mod load;

use std::path::Path;
use std::time::{Duration, Instant};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; a test run of benches (`cargo test --benches`) does not.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let clients = env_or("NINES_WEB_BENCH_CLIENTS", 50) as usize;
    let seconds = env_or("NINES_WEB_BENCH_SECONDS", 10);
    for n in [1, clients] {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("bench.db").display().to_string();
        let items = 20_000;
        let (accounts, ids) = load::prepare(&db, n, items).await;
        let server = load::Server::start(Path::new(env!("CARGO_BIN_EXE_nines-web")), &db);
        let start: Vec<usize> = (0..n).map(|k| k * items / n).collect();
        let t = Instant::now();
        let mut out = load::run_clients(
            server.addr,
            &accounts,
            &ids,
            &start,
            Duration::from_secs(seconds),
        )
        .await;
        let elapsed = t.elapsed().as_secs_f64();
        drop(server);
        let labels = out.acked.len();
        let p50 = load::quantile(&mut out.latencies, 0.5);
        let p99 = load::quantile(&mut out.latencies, 0.99);
        println!(
            "web/labels/sqlite/{n}-clients: {labels} labels in {elapsed:.1} s = {:.0} labels/s; latency p50 {:.2} ms, p99 {:.2} ms",
            labels as f64 / elapsed,
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        );
    }
}
