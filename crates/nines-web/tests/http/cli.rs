//! The server's flags: start-up work (admin, import) and the exports that run instead of
//! serving.

use clap::Parser;
use nines_data::{Snippet, Store, Verdict};
use nines_web::ServeArgs;
use nines_web::db::Db;
use nines_web::db::pairs::Choice;
use nines_web::server::prepare;

#[derive(Parser, Debug)]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
}

fn parse(args: &[&str]) -> Result<ServeArgs, clap::Error> {
    Cli::try_parse_from(std::iter::once("nines-web").chain(args.iter().copied())).map(|c| c.serve)
}

#[test]
fn defaults_and_bad_flags() {
    let d = parse(&[]).unwrap();
    assert_eq!(d.db, "nines-web.db");
    assert_eq!(d.bind.to_string(), "127.0.0.1:8080");
    assert_eq!(d.labels_per_item, 2);
    assert!(parse(&["--labels-per-item", "0"]).is_err());
    assert!(parse(&["--kind", "poll"]).is_err());
    assert!(parse(&["--bind", "localhost"]).is_err());
    assert!(
        parse(&["--import", "x.jsonl"]).is_err(),
        "--import needs --queue"
    );
    assert!(
        parse(&["--export-judgments", "j.jsonl"]).is_err(),
        "--export-judgments needs --queue"
    );
}

#[tokio::test]
async fn flags_create_the_admin_import_and_export() {
    let dir = tempfile::tempdir().unwrap();
    let db_url = crate::database::test_database(dir.path(), "web.db").await;
    let items = dir.path().join("items.jsonl");
    let snippets = crate::common::snippets(3);
    let text: String = snippets
        .iter()
        .map(|s| serde_json::to_string(s).unwrap() + "\n")
        .collect();
    std::fs::write(&items, text).unwrap();
    let pairs = dir.path().join("pairs.jsonl");
    let text: String = crate::common::pairs(3)
        .iter()
        .map(|p| serde_json::to_string(p).unwrap() + "\n")
        .collect();
    std::fs::write(&pairs, text).unwrap();

    let db = Db::open(&db_url).await.unwrap();
    // The password comes from a variable every test process has (setting one would race
    // with the other tests).
    let password = std::env::var("PATH").unwrap();
    assert!(password.len() >= 8);
    let args = parse(&[
        "--db",
        &db_url,
        "--create-admin",
        "boss",
        "--admin-password-env",
        "PATH",
        "--import",
        items.to_str().unwrap(),
        "--queue",
        "first",
        "--labels-per-item",
        "3",
    ])
    .unwrap();
    assert!(prepare(&db, &args).await.unwrap(), "no export: serve");
    db.verify_login("boss", &password).await.unwrap();
    let q = db.queue("first").await.unwrap();
    assert_eq!((q.items, q.labels_per_item), (3, 3));
    // Again: the admin exists, nothing is added.
    assert!(prepare(&db, &args).await.unwrap());
    assert_eq!(db.queue("first").await.unwrap().items, 3);
    // Without the password variable, an invite is made instead.
    let invited = parse(&[
        "--create-admin",
        "boss2",
        "--admin-password-env",
        "NINES_TEST_UNSET_VARIABLE",
    ])
    .unwrap();
    prepare(&db, &invited).await.unwrap();
    assert!(db.verify_login("boss2", "").await.is_err());

    let compare = parse(&[
        "--import",
        pairs.to_str().unwrap(),
        "--queue",
        "duel",
        "--kind",
        "compare",
    ])
    .unwrap();
    prepare(&db, &compare).await.unwrap();
    db.put_label("first", &snippets[1].id, "boss", Verdict::Injury, "")
        .await
        .unwrap();
    db.put_judgment("duel", "p0", "boss", Choice::Tie)
        .await
        .unwrap();

    let store = dir.path().join("store.jsonl");
    let export = parse(&["--export-store", store.to_str().unwrap()]).unwrap();
    assert!(
        !prepare(&db, &export).await.unwrap(),
        "an export does not serve"
    );
    let read = Store::open_read_only(&store, Default::default()).unwrap();
    assert_eq!(read.len(), 3);
    let labeled: &Snippet = read.get(&snippets[1].id).unwrap();
    assert_eq!(labeled.label_by("boss").unwrap().verdict, Verdict::Injury);

    let judgments = dir.path().join("judgments.jsonl");
    let export = parse(&[
        "--export-judgments",
        judgments.to_str().unwrap(),
        "--queue",
        "duel",
    ])
    .unwrap();
    assert!(!prepare(&db, &export).await.unwrap());
    let text = std::fs::read_to_string(&judgments).unwrap();
    let j: nines_web::db::pairs::Judgment =
        serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(
        (j.id.as_str(), j.rater.as_str(), j.candidate_score),
        ("p0", "boss", 0.5)
    );

    let missing = parse(&["--import", "/nonexistent/file.jsonl", "--queue", "first"]).unwrap();
    assert!(prepare(&db, &missing).await.is_err());
}
