//! Load and faults: 50 clients post labels to a server process on 127.0.0.1; the process is
//! killed with SIGKILL mid-load and restarted on the same database. Every label the server
//! acknowledged must be stored, with its verdict, exactly once, and nothing else may be.

#[path = "support/database.rs"]
mod database;
#[path = "support/load.rs"]
mod load;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use load::{Server, prepare, run_clients, stored, verdict_for};

const CLIENTS: usize = 50;
const ITEMS: usize = 2000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_acknowledged_label_is_lost_or_duplicated_across_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let db = database::test_database(dir.path(), "load.db").await;
    let (accounts, items) = prepare(&db, CLIENTS, ITEMS).await;
    let bin = Path::new(env!("CARGO_BIN_EXE_nines-web"));
    // Clients start at spread-out items so that they write to different rows.
    let start: Vec<usize> = (0..CLIENTS).map(|k| k * ITEMS / CLIENTS).collect();

    // Phase 1: load, and SIGKILL while the clients are still posting.
    let mut server = Server::start(bin, &db);
    let addr = server.addr;
    let clients = {
        let (accounts, items, start) = (accounts.clone(), items.clone(), start.clone());
        tokio::spawn(async move {
            run_clients(addr, &accounts, &items, &start, Duration::from_secs(60)).await
        })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill_9();
    let first = clients.await.unwrap();
    assert!(
        first.acked.len() >= CLIENTS,
        "load ran before the kill: {} acknowledged",
        first.acked.len()
    );
    assert!(
        !first.in_flight.is_empty(),
        "the kill hit requests in flight"
    );
    assert_eq!(first.refused, 0);

    // Phase 2: restart; every client resends the label it had in flight, then loads on.
    let server = Server::start(bin, &db);
    let client = load::http_client();
    let mut acked: BTreeSet<(String, String)> = first.acked.clone();
    for (name, item) in &first.in_flight {
        let who = accounts.iter().find(|a| &a.name == name).unwrap();
        let ok = load::post_label(&client, server.addr, who, item, verdict_for(name, item))
            .await
            .unwrap();
        assert!(ok, "the resent label is acknowledged");
        acked.insert((name.clone(), item.clone()));
    }
    let resume: Vec<usize> = accounts
        .iter()
        .enumerate()
        .map(|(k, a)| start[k] + acked.iter().filter(|(n, _)| n == &a.name).count())
        .collect();
    let second = run_clients(
        server.addr,
        &accounts,
        &items,
        &resume,
        Duration::from_millis(700),
    )
    .await;
    assert!(second.in_flight.is_empty() && second.refused == 0);
    acked.extend(second.acked);
    drop(server);

    // Every acknowledged label is stored with its verdict, once; nothing else is stored.
    let rows = stored(&db).await;
    let keys: Vec<(String, String)> = rows
        .iter()
        .map(|(n, i, _)| (n.clone(), i.clone()))
        .collect();
    let unique: BTreeSet<_> = keys.iter().cloned().collect();
    assert_eq!(unique.len(), keys.len(), "no duplicate labels");
    assert_eq!(
        unique, acked,
        "stored labels are exactly the acknowledged ones"
    );
    for (name, item, verdict) in &rows {
        assert_eq!(*verdict, verdict_for(name, item), "{name} {item}");
    }
    eprintln!(
        "fault test: {} labels acknowledged, {} in flight at the kill, all stored",
        acked.len(),
        first.in_flight.len()
    );
}
