//! Load generation over real sockets, shared by the fault test and the load bench: a server
//! process over a prepared database, and clients that post labels as fast as they are
//! answered, each remembering exactly which labels the server acknowledged.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use nines_data::{Snippet, Verdict};
use nines_web::db::Db;
use nines_web::db::accounts::Role;
use nines_web::db::labels::QueueKind;
use tokio::sync::Mutex;

/// The queue the load goes to.
pub const QUEUE: &str = "load";

/// One client's identity.
#[derive(Debug, Clone)]
pub struct Account {
    pub name: String,
    pub cookie: String,
    pub csrf: String,
}

/// Creates `clients` labelers with sessions and a queue of `items` snippets wanting a label
/// from every one of them. Returns the accounts and the item ids in queue order.
pub async fn prepare(db_url: &str, clients: usize, items: usize) -> (Vec<Account>, Vec<String>) {
    let db = Db::open(db_url).await.unwrap();
    db.create_queue(QUEUE, QueueKind::Label, 20).await.unwrap();
    let snippets: Vec<Snippet> = (0..items)
        .map(|i| {
            Snippet::new(
                format!("Load prompt {i}."),
                format!("Load completion {i}."),
                None,
                None,
                None,
            )
        })
        .collect();
    db.add_snippets(QUEUE, &snippets).await.unwrap();
    let mut accounts = Vec::new();
    for k in 0..clients {
        let name = format!("loader{k:03}");
        db.create_user(&name, Role::Labeler, None).await.unwrap();
        db.add_member(QUEUE, &name).await.unwrap();
        let (token, csrf) = db.create_session(&name, 24 * 3600).await.unwrap();
        accounts.push(Account {
            name,
            cookie: format!("nines_session={token}"),
            csrf,
        });
    }
    db.close().await;
    (accounts, snippets.into_iter().map(|s| s.id).collect())
}

/// The verdict client `name` gives item `id`: fixed, so a stored label can be checked.
pub fn verdict_for(name: &str, id: &str) -> Verdict {
    let h = nines_data::record::hash64(&[name.as_bytes(), id.as_bytes()]);
    Verdict::ALL[(h % 3) as usize]
}

/// A server process (the crate's binary) and its address.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Server {
    /// Starts the binary at `bin` on `db`, on a free port of 127.0.0.1.
    pub fn start(bin: &Path, db: &str) -> Server {
        let mut child = Command::new(bin)
            .args(["--db", db, "--bind", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting the server binary");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("the server printed its address")
                .unwrap();
            if let Some(a) = line.strip_prefix("nines-web listening on http://") {
                break a.trim().parse().unwrap();
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server { child, addr }
    }

    /// SIGKILL: the process dies at once, mid-write or not.
    pub fn kill_9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

pub fn http_client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// Posts one label; `Ok(true)` when the server acknowledged it (303 to the queue).
pub async fn post_label(
    client: &HttpClient,
    addr: SocketAddr,
    who: &Account,
    item: &str,
    verdict: Verdict,
) -> Result<bool, String> {
    let body = serde_urlencoded::to_string([
        ("item", item),
        ("verdict", verdict.as_str()),
        ("csrf", &who.csrf),
    ])
    .unwrap();
    let request = hyper::Request::post(format!("http://{addr}/label/{QUEUE}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", &who.cookie)
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let response = client.request(request).await.map_err(|e| e.to_string())?;
    let status = response.status();
    let _ = response.into_body().collect().await;
    Ok(status == hyper::StatusCode::SEE_OTHER)
}

/// What the clients saw.
#[derive(Debug, Default)]
pub struct Outcome {
    /// (client, item) pairs acknowledged.
    pub acked: BTreeSet<(String, String)>,
    /// Labels sent but not acknowledged (the connection failed): (client, item).
    pub in_flight: Vec<(String, String)>,
    /// Latency of each acknowledged request.
    pub latencies: Vec<Duration>,
    /// Requests answered with an error status.
    pub refused: usize,
}

/// Runs every account as a client for `duration` (or until its requests fail), each labeling
/// the items in order from position `start[k]`, wrapping around at the end, at most once
/// each. A client stops at its first failed request.
pub async fn run_clients(
    addr: SocketAddr,
    accounts: &[Account],
    items: &[String],
    start: &[usize],
    duration: Duration,
) -> Outcome {
    let outcome = Arc::new(Mutex::new(Outcome::default()));
    let deadline = Instant::now() + duration;
    let mut tasks = Vec::new();
    for (k, who) in accounts.iter().enumerate() {
        let (who, items, outcome) = (who.clone(), items.to_vec(), outcome.clone());
        let mut next = start[k];
        let end = start[k] + items.len();
        tasks.push(tokio::spawn(async move {
            let client = http_client();
            let mut mine = Outcome::default();
            while Instant::now() < deadline && next < end {
                let item = &items[next % items.len()];
                let t = Instant::now();
                match post_label(&client, addr, &who, item, verdict_for(&who.name, item)).await {
                    Ok(true) => {
                        mine.latencies.push(t.elapsed());
                        mine.acked.insert((who.name.clone(), item.clone()));
                        next += 1;
                    }
                    Ok(false) => {
                        mine.refused += 1;
                        break;
                    }
                    Err(_) => {
                        mine.in_flight.push((who.name.clone(), item.clone()));
                        break;
                    }
                }
            }
            let mut all = outcome.lock().await;
            all.acked.extend(mine.acked);
            all.in_flight.extend(mine.in_flight);
            all.latencies.extend(mine.latencies);
            all.refused += mine.refused;
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    Arc::try_unwrap(outcome).unwrap().into_inner()
}

/// Every (labeler, item) → verdict stored in the queue.
pub async fn stored(db_url: &str) -> Vec<(String, String, Verdict)> {
    let db = Db::open(db_url).await.unwrap();
    let mut out = Vec::new();
    for s in db.snippets(Some(QUEUE)).await.unwrap() {
        for l in s.labels {
            out.push((l.labeler, s.id.clone(), l.verdict));
        }
    }
    db.close().await;
    out
}

/// The q-quantile of latencies.
pub fn quantile(latencies: &mut [Duration], q: f64) -> Duration {
    latencies.sort();
    if latencies.is_empty() {
        return Duration::ZERO;
    }
    let i = ((latencies.len() - 1) as f64 * q).round() as usize;
    latencies[i]
}
