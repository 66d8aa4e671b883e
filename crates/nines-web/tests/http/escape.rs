//! Untrusted text is escaped everywhere it is shown: script tags, entities, quotes in ids,
//! right-to-left overrides, zero-width characters, 100 KB texts.

use axum::http::StatusCode;
use nines_data::Snippet;
use nines_web::db::pairs::PairItem;

use crate::common::App;

const HOSTILE: &str = "<script>alert('x')</script> <img src=x onerror=alert(1)> &amp; &lt;b&gt; \
    \"quoted\" 'single' \u{202E}txet desrever\u{202C} zero\u{200B}width\u{200D}joiner \u{FEFF}bom \
    مرحبا שלום";

fn assert_safe(body: &str) {
    assert!(!body.contains("<script>alert"), "raw script tag");
    assert!(!body.contains("<img src=x"), "raw img tag");
    assert!(!body.contains("onerror=alert(1)>"), "raw attribute");
    assert!(
        body.contains("&lt;script&gt;alert("),
        "escaped script tag shown"
    );
    assert!(
        body.contains("&amp;amp;") && body.contains("&amp;lt;b&amp;gt;"),
        "entities shown literally"
    );
    for c in ['\u{202E}', '\u{202C}', '\u{200B}', '\u{200D}', '\u{FEFF}'] {
        assert!(
            !body.contains(c),
            "invisible U+{:04X} passed through",
            c as u32
        );
    }
    assert!(body.contains("⟦U+202E⟧") && body.contains("⟦U+200B⟧") && body.contains("⟦U+FEFF⟧"));
    assert!(
        body.contains("مرحبا שלום"),
        "visible right-to-left text kept"
    );
    assert!(body.contains("dir=\"auto\""));
}

#[tokio::test]
async fn hostile_text_is_escaped_on_every_page() {
    let app = App::new().await;
    let mut s = Snippet::new(
        HOSTILE,
        format!("{HOSTILE} {}", "long ".repeat(20_000)),
        None,
        None,
        None,
    );
    s.id = "\"><script>alert('id')</script>".into();
    app.db
        .create_queue("hostile", nines_web::db::labels::QueueKind::Label, 1)
        .await
        .unwrap();
    app.db
        .add_snippets("hostile", std::slice::from_ref(&s))
        .await
        .unwrap();
    app.db.add_member("hostile", "ana").await.unwrap();
    app.db
        .add_pairs(
            "pairs",
            &[PairItem {
                id: "\"><b>pair</b>".into(),
                prompt: HOSTILE.into(),
                baseline: HOSTILE.into(),
                candidate: "x".repeat(100_000),
                unfiltered_accepted: false,
                filtered_refused: false,
            }],
        )
        .await
        .unwrap();

    let ana = app.login("ana").await;
    let page = app.get("/label/hostile", Some(&ana)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_safe(&page.body);
    assert!(!page.body.contains("<script>alert('id')"));
    assert!(
        page.body.contains("&quot;&gt;&lt;script&gt;alert('id')"),
        "the id is escaped in attributes"
    );
    assert!(
        page.body.contains(&"long ".repeat(20_000)),
        "the 100 KB completion is shown whole"
    );
    // The hostile id labels like any other.
    let a = app
        .post(
            "/label/hostile",
            Some(&ana),
            &[("item", &s.id), ("verdict", "injury")],
            true,
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);

    let root = app.login("root").await;
    let queue = app.get("/admin/queues/hostile", Some(&root)).await;
    assert!(!queue.body.contains("<script>alert('id')"));
    assert!(
        queue.body.contains("%22%3E%3Cscript%3E"),
        "the item link is percent-encoded"
    );
    let item = app
        .get(
            "/admin/queues/hostile/items/%22%3E%3Cscript%3Ealert('id')%3C%2Fscript%3E",
            Some(&root),
        )
        .await;
    assert_eq!(item.status, StatusCode::OK, "{}", item.body);
    assert_safe(&item.body);

    let rita = app.login("rita").await;
    // The hostile pair is last in the queue: skip the others.
    for _ in 0..10 {
        let page = app.get("/compare/pairs", Some(&rita)).await;
        if page.body.contains("&lt;b&gt;pair&lt;/b&gt;") {
            assert_safe(&page.body);
            assert!(!page.body.contains("<b>pair</b>"));
            assert!(page.body.contains(&"x".repeat(100_000)));
            return;
        }
        let at = page.body.find("data-pair=\"").unwrap() + 11;
        let id = page.body[at..at + page.body[at..].find('"').unwrap()].to_string();
        app.post(
            "/compare/pairs",
            Some(&rita),
            &[("pair", &id), ("choice", "tie")],
            true,
        )
        .await;
    }
    panic!("the hostile pair was never shown");
}

#[tokio::test]
async fn names_shown_on_pages_are_escaped_too() {
    let app = App::new().await;
    let root = app.login("root").await;
    // Names are restricted, so markup cannot even be stored as one.
    let a = app
        .post(
            "/admin/users",
            Some(&root),
            &[("name", "<b>x</b>"), ("role", "rater")],
            true,
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!a.body.contains("<b>x</b>"));
    let q = app
        .post(
            "/admin/queues",
            Some(&root),
            &[
                ("name", "<i>q</i>"),
                ("kind", "label"),
                ("labels_per_item", "1"),
            ],
            true,
        )
        .await;
    assert!(!q.body.contains("<i>q</i>"));
}
