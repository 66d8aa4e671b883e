//! Browser tests in a real headless Chromium, driven through chromedriver (WebDriver): log in,
//! label with the keyboard, compare with the keyboard, read the admin pages, and check that a
//! hostile completion runs no script.
//!
//! Needs `chromedriver` and `chromium` on PATH (`scripts/setup.sh` installs Debian's
//! `chromium` and `chromium-driver`); without them the test fails and says so. With
//! `NINES_WEB_SCREENSHOTS=<folder>` it also saves a screenshot of each page there (the ones in
//! `docs/web/`).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use nines_data::{Snippet, Verdict};
use nines_web::db::Db;
use nines_web::db::accounts::Role;
use nines_web::db::labels::QueueKind;
use nines_web::db::pairs::{PairItem, candidate_left};
use nines_web::{AppState, router};

fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_driver() -> Driver {
    let missing = "browser tests need `chromedriver` and `chromium` on PATH: run scripts/setup.sh \
                   (it installs Debian's chromium and chromium-driver)";
    let driver = on_path(&["chromedriver"]).expect(missing);
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting chromedriver");
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

async fn browser(driver: &Driver, profile: &std::path::Path) -> Client {
    let chromium = on_path(&["chromium", "chromium-browser", "google-chrome"])
        .expect("browser tests need `chromium` on PATH: run scripts/setup.sh");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1100,1100", format!("--user-data-dir={}", profile.display())],
        }),
    );
    ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a WebDriver session")
}

struct Site {
    db: Db,
    base: String,
    _dir: tempfile::TempDir,
}

async fn site() -> Site {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path().join("web.db").to_str().unwrap())
        .await
        .unwrap();
    for (name, role) in [
        ("root", Role::Admin),
        ("ana", Role::Labeler),
        ("rita", Role::Rater),
    ] {
        db.create_user(name, role, Some(&format!("{name} password")))
            .await
            .unwrap();
    }
    db.create_queue("injury", QueueKind::Label, 1)
        .await
        .unwrap();
    let snippets: Vec<Snippet> = [
        (
            "The mate raised the harpoon.",
            "It pierced the sailor's thigh and he fell.",
        ),
        ("The clock struck nine.", "They sat down to a quiet supper."),
        (
            "Thunder rolled over the hills.",
            "The old oak split, but nobody was near it.",
        ),
    ]
    .iter()
    .map(|(p, c)| Snippet::new(*p, *c, None, None, None))
    .collect();
    db.add_snippets("injury", &snippets).await.unwrap();
    db.create_queue("hostile", QueueKind::Label, 1)
        .await
        .unwrap();
    let hostile = Snippet::new(
        "<script>window.pwned = 1</script>",
        "<img src=x onerror=\"window.pwned = 2\"> \u{202E}txet\u{202C} a\u{200B}b",
        None,
        None,
        None,
    );
    db.add_snippets("hostile", &[hostile]).await.unwrap();
    db.create_queue("pairs", QueueKind::Compare, 1)
        .await
        .unwrap();
    let pairs: Vec<PairItem> = (0..4)
        .map(|i| PairItem {
            id: format!("pair{i}"),
            prompt: format!("The stranger knocked at the door ({i})."),
            baseline: format!("He fell dead on the threshold ({i})."),
            candidate: format!("Nobody answered, and he walked on ({i})."),
            unfiltered_accepted: i == 3,
            filtered_refused: false,
        })
        .collect();
    db.add_pairs("pairs", &pairs).await.unwrap();
    for (q, u) in [("injury", "ana"), ("hostile", "ana"), ("pairs", "rita")] {
        db.add_member(q, u).await.unwrap();
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router(AppState::new(db.clone())).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Site {
        db,
        base: format!("http://{addr}"),
        _dir: dir,
    }
}

async fn press(c: &Client, key: char) {
    let actions = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: key })
        .then(KeyAction::Up { value: key });
    c.perform_actions(actions).await.unwrap();
}

/// The `data-*` attribute of the shown item (`None` on a page without one), once the page
/// has loaded.
async fn shown(c: &Client, attr: &str) -> Option<String> {
    let script = format!(
        "if (document.readyState !== 'complete') {{ return '…loading'; }} \
         var s = document.querySelector('section.item'); return s ? s.dataset.{attr} : null;"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(v) = c.execute(&script, vec![]).await
            && v.as_str() != Some("…loading")
        {
            return v.as_str().map(str::to_string);
        }
        assert!(Instant::now() < deadline, "page did not load");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the shown item differs from `before` (or there is none).
async fn next_shown(c: &Client, attr: &str, before: &Option<String>) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = shown(c, attr).await;
        if &now != before {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "the page did not move on from {before:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn screenshot(c: &Client, name: &str) {
    if let Some(dir) = std::env::var_os("NINES_WEB_SCREENSHOTS") {
        let png = c.screenshot().await.unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(PathBuf::from(dir).join(format!("{name}.png")), png).unwrap();
    }
}

async fn log_in(c: &Client, base: &str, name: &str) {
    c.goto(&format!("{base}/login")).await.unwrap();
    c.find(Locator::Css("input[name=name]"))
        .await
        .unwrap()
        .send_keys(name)
        .await
        .unwrap();
    c.find(Locator::Css("input[name=password]"))
        .await
        .unwrap()
        .send_keys(&format!("{name} password"))
        .await
        .unwrap();
    c.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .for_url(&format!("{base}/").parse().unwrap())
        .await
        .unwrap();
}

async fn log_out(c: &Client, base: &str) {
    c.find(Locator::Css("form[action='/logout'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .for_url(&format!("{base}/login").parse().unwrap())
        .await
        .unwrap();
}

async fn verdict(db: &Db, id: &str, who: &str) -> Option<Verdict> {
    let all = db.snippets(None).await.unwrap();
    all.into_iter()
        .find(|s| s.id == id)?
        .label_by(who)
        .map(|l| l.verdict)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_log_in_label_compare_and_administer_in_chromium() {
    let driver = start_driver();
    let site = site().await;
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path()).await;
    let base = &site.base;

    // A wrong password is refused on the page.
    c.goto(&format!("{base}/login")).await.unwrap();
    screenshot(&c, "login").await;
    c.find(Locator::Css("input[name=name]"))
        .await
        .unwrap()
        .send_keys("ana")
        .await
        .unwrap();
    c.find(Locator::Css("input[name=password]"))
        .await
        .unwrap()
        .send_keys("nope nope")
        .await
        .unwrap();
    c.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let refused = c
        .find(Locator::Css("p.error"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(refused.contains("wrong name or password"), "{refused}");

    // Labeling with the keyboard: I, S, Z (undo), U, N (skip), then a mouse click.
    log_in(&c, base, "ana").await;
    c.find(Locator::LinkText("injury"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let first = shown(&c, "item").await.unwrap();
    screenshot(&c, "label").await;
    press(&c, 'i').await;
    let second = next_shown(&c, "item", &Some(first.clone())).await.unwrap();
    assert_eq!(
        verdict(&site.db, &first, "ana").await,
        Some(Verdict::Injury)
    );
    press(&c, 's').await;
    let third = next_shown(&c, "item", &Some(second.clone())).await.unwrap();
    assert_eq!(
        verdict(&site.db, &second, "ana").await,
        Some(Verdict::NoInjury)
    );
    press(&c, 'z').await;
    assert_eq!(
        next_shown(&c, "item", &Some(third.clone())).await.unwrap(),
        second,
        "undo shows the item again"
    );
    assert_eq!(verdict(&site.db, &second, "ana").await, None);
    press(&c, 'u').await;
    assert_eq!(
        next_shown(&c, "item", &Some(second.clone())).await.unwrap(),
        third
    );
    assert_eq!(
        verdict(&site.db, &second, "ana").await,
        Some(Verdict::Unsure)
    );
    // Skipping the last item shows it again (nothing else is left); typing in a field does
    // not trigger shortcuts.
    press(&c, 'n').await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(shown(&c, "item").await.unwrap(), third);
    c.find(Locator::Css("button[value=injury]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait().for_element(Locator::Id("done")).await.unwrap();
    assert_eq!(
        verdict(&site.db, &third, "ana").await,
        Some(Verdict::Injury)
    );
    let progress = c
        .find(Locator::Css(".progress span"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(progress.contains("you labeled 3 of 3"), "{progress}");

    // A hostile completion is shown as text and runs nothing.
    c.goto(&format!("{base}/label/hostile")).await.unwrap();
    let _ = shown(&c, "item").await;
    let pwned = c
        .execute("return window.pwned === undefined;", vec![])
        .await
        .unwrap();
    assert_eq!(
        pwned,
        serde_json::Value::Bool(true),
        "no injected script ran"
    );
    let text = c
        .find(Locator::Css("section.item"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("<script>window.pwned = 1</script>") && text.contains("⟦U+202E⟧"),
        "{text}"
    );
    log_out(&c, base).await;

    // Comparing with the keyboard: 1, T, and the right arrow.
    log_in(&c, base, "rita").await;
    c.goto(&format!("{base}/compare/pairs")).await.unwrap();
    screenshot(&c, "compare").await;
    let mut before = shown(&c, "pair").await;
    let mut expected = Vec::new();
    for (key, choice) in [('1', "left"), ('t', "tie"), ('\u{e014}', "right")] {
        let id = before.clone().unwrap();
        press(&c, key).await;
        before = next_shown(&c, "pair", &before).await;
        let left = candidate_left(&id, "rita");
        expected.push(match choice {
            "tie" => 0.5,
            "left" => f64::from(u8::from(left)),
            _ => f64::from(u8::from(!left)),
        });
    }
    assert_eq!(
        before, None,
        "three pairs to judge (the fourth's baseline was accepted)"
    );
    let judged: Vec<f64> = site
        .db
        .judgments("pairs", Some("rita"))
        .await
        .unwrap()
        .iter()
        .map(|j| j.candidate_score)
        .collect();
    assert_eq!(judged, expected);
    log_out(&c, base).await;

    // The admin pages: agreement and the running win rate.
    log_in(&c, base, "root").await;
    c.goto(&format!("{base}/admin")).await.unwrap();
    screenshot(&c, "admin").await;
    assert!(
        c.find(Locator::Css("table#queues"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .contains("hostile")
    );
    c.goto(&format!("{base}/admin/queues/injury"))
        .await
        .unwrap();
    screenshot(&c, "admin-labels").await;
    let agreement = c
        .find(Locator::Id("agreement"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        agreement.contains("3 labels by 1 people on 3 items"),
        "{agreement}"
    );
    c.goto(&format!("{base}/admin/queues/pairs")).await.unwrap();
    screenshot(&c, "admin-compare").await;
    let w = c
        .find(Locator::Id("winrate"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = (0.5 + expected.iter().sum::<f64>()) / 4.0;
    assert!(
        w.contains(&format!("{value:.3}")) && w.contains("95% interval"),
        "{w}"
    );
    c.close().await.unwrap();
}
