//! Crash safety of the store: a writer process is killed with SIGKILL while it appends, then
//! the store is reopened. Every batch the writer reported as committed must be there, intact;
//! records of the batch in flight may be there, but only whole; a torn last line is cut off,
//! and the store takes new appends.
//!
//! This binary plays both parts: with `NINES_CRASH_WRITER=<store path>` set it is the writer,
//! otherwise it runs the test (it has no libtest harness; see Cargo.toml).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use nines_data::record::Snippet;
use nines_data::store::{Store, StoreOptions};

const WRITER_ENV: &str = "NINES_CRASH_WRITER";
const BATCH: usize = 16;

/// The deterministic record `i` of batch `b` (large, so that writes take a while).
fn record(b: usize, i: usize) -> Snippet {
    let filler = format!("batch {b} record {i} ").repeat(8_000);
    Snippet::new(format!("prompt {b}/{i}"), filler, None, None, None)
}

fn writer(path: &str) -> Result<(), Box<dyn std::error::Error>> {
    let mut store = Store::open(path)?;
    let stdout = std::io::stdout();
    for b in 0.. {
        store.append((0..BATCH).map(|i| record(b, i)))?;
        use std::io::Write;
        let mut out = stdout.lock();
        writeln!(out, "committed {b}")?;
        out.flush()?;
    }
    Ok(())
}

/// One crash: returns (last committed batch, torn tail bytes found on reopen).
fn crash_once(run: usize) -> Result<(usize, u64), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = dir.path().join("store.jsonl");
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = Command::new(exe)
        .env(WRITER_ENV, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| e.to_string())?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let mut committed = None;
    // Let a few batches commit, then kill at a moment that varies from run to run.
    while committed.unwrap_or(0) < 2 + run % 3 {
        let line = lines
            .next()
            .ok_or("writer exited early")?
            .map_err(|e| e.to_string())?;
        committed = line
            .strip_prefix("committed ")
            .and_then(|n| n.parse::<usize>().ok());
    }
    if run.is_multiple_of(2) {
        // Kill as soon as the next batch starts reaching the file: most likely mid-write.
        let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let committed_size = size(&path);
        let start = std::time::Instant::now();
        while size(&path) == committed_size && start.elapsed() < Duration::from_secs(20) {
            std::hint::spin_loop();
        }
    } else {
        // Kill at a moment that varies from run to run.
        std::thread::sleep(Duration::from_micros(((run * 7919) % 3000) as u64));
    }
    child.kill().map_err(|e| e.to_string())?; // SIGKILL on Unix
    for line in lines.map_while(Result::ok) {
        if let Some(n) = line.strip_prefix("committed ").and_then(|n| n.parse().ok()) {
            committed = Some(n);
        }
    }
    child.wait().map_err(|e| e.to_string())?;
    let last = committed.ok_or("nothing committed")?;

    let mut store = Store::open(&path).map_err(|e| format!("reopen after crash: {e}"))?;
    let torn = store.open_report().torn_tail_bytes;
    for b in 0..=last {
        for i in 0..BATCH {
            let want = record(b, i);
            match store.get(&want.id) {
                Some(got) if *got == want => {}
                Some(_) => return Err(format!("run {run}: record {b}/{i} corrupted")),
                None => return Err(format!("run {run}: committed record {b}/{i} lost")),
            }
        }
    }
    // Anything beyond the committed batches is a whole record of the batch in flight.
    let extra = store.len() - (last + 1) * BATCH;
    if extra > BATCH {
        return Err(format!(
            "run {run}: {extra} records beyond the committed batches"
        ));
    }
    for s in store.iter().skip((last + 1) * BATCH) {
        let i: usize = s
            .prompt
            .rsplit('/')
            .next()
            .and_then(|x| x.parse().ok())
            .ok_or_else(|| format!("run {run}: unexpected record {}", s.id))?;
        if *s != record(last + 1, i) {
            return Err(format!("run {run}: in-flight record {i} is not whole"));
        }
    }
    // The repaired store takes appends and reads back strictly.
    store
        .append(vec![Snippet::new("after", "the crash", None, None, None)])
        .map_err(|e| e.to_string())?;
    drop(store);
    let again = Store::open_read_only(&path, StoreOptions::default()).map_err(|e| e.to_string())?;
    if again.len() != (last + 1) * BATCH + extra + 1 || again.open_report().torn_tail_bytes != 0 {
        return Err(format!("run {run}: store not clean after repair"));
    }
    Ok((last, torn))
}

fn main() {
    if let Ok(path) = std::env::var(WRITER_ENV) {
        if let Err(e) = writer(&path) {
            eprintln!("writer: {e}");
            std::process::exit(1);
        }
        return;
    }
    let runs = 6;
    let mut torn_runs = 0;
    let mut failures = Vec::new();
    for run in 0..runs {
        match crash_once(run) {
            Ok((_, torn)) => torn_runs += usize::from(torn > 0),
            Err(e) => failures.push(e),
        }
    }
    if !failures.is_empty() {
        eprintln!("crash safety FAILED:\n{}", failures.join("\n"));
        std::process::exit(1);
    }
    println!(
        "crash safety: {runs} writers killed mid-append, no committed record lost ({torn_runs} left a torn line, cut on reopen)"
    );
}
