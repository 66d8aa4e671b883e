//! The labeling queue: pages, labels, undo, skip, progress, roles, bad forms.

use axum::http::StatusCode;
use nines_data::Verdict;

use crate::common::App;

#[tokio::test]
async fn a_labeler_labels_undoes_and_skips() {
    let app = App::new().await;
    let ana = app.login("ana").await;
    let page = app.get("/label/injury", Some(&ana)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Labeling rules"), "rules on the page");
    assert!(page.body.contains("Non-living targets do not count"));
    assert!(page.body.contains("Implied injuries count"));
    assert!(page.body.contains("Unsure"));
    assert!(page.body.contains("Prompt number 0.") && page.body.contains("Completion 0:"));
    assert!(page.body.contains("you labeled 0 of 6"));
    for key in [
        "data-key=\"i\"",
        "data-key=\"s\"",
        "data-key=\"u\"",
        "data-key=\"z\"",
        "data-key=\"n\"",
    ] {
        assert!(page.body.contains(key), "{key}");
    }
    let first = app.shown_item("injury", &ana).await.unwrap();

    let ok = app
        .post(
            "/label/injury",
            Some(&ana),
            &[("item", &first), ("verdict", "injury")],
            true,
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    assert_eq!(ok.location(), "/label/injury");
    let stored = app.db.snippets(Some("injury")).await.unwrap();
    let label = &stored.iter().find(|s| s.id == first).unwrap().labels[0];
    assert_eq!(
        (label.labeler.as_str(), label.verdict),
        ("ana", Verdict::Injury)
    );
    let second = app.shown_item("injury", &ana).await.unwrap();
    assert_ne!(second, first);
    assert!(
        app.get("/label/injury", Some(&ana))
            .await
            .body
            .contains("you labeled 1 of 6")
    );

    // Undo takes the label back and shows that item again.
    let undo = app.post("/label/injury/undo", Some(&ana), &[], true).await;
    assert_eq!(undo.status, StatusCode::SEE_OTHER);
    assert_eq!(undo.location(), format!("/label/injury?item={first}"));
    assert!(
        app.db.snippets(Some("injury")).await.unwrap()[0]
            .labels
            .is_empty()
    );
    let again = app.get(undo.location(), Some(&ana)).await;
    assert!(again.body.contains(&format!("data-item=\"{first}\"")));
    // Nothing to undo: back to the queue.
    let none = app.post("/label/injury/undo", Some(&ana), &[], true).await;
    assert_eq!(none.location(), "/label/injury");

    // Skip puts the item after the others.
    let skip = app
        .post("/label/injury/skip", Some(&ana), &[("item", &first)], true)
        .await;
    assert_eq!(skip.status, StatusCode::SEE_OTHER);
    assert_ne!(app.shown_item("injury", &ana).await.unwrap(), first);
    let bad_skip = app
        .post("/label/injury/skip", Some(&ana), &[("item", "nope")], true)
        .await;
    assert_eq!(bad_skip.status, StatusCode::NOT_FOUND);

    // Relabeling replaces; labeling everything ends the queue.
    for _ in 0..6 {
        let id = app.shown_item("injury", &ana).await.unwrap();
        let a = app
            .post(
                "/label/injury",
                Some(&ana),
                &[("item", &id), ("verdict", "no_injury"), ("note", "calm")],
                true,
            )
            .await;
        assert_eq!(a.status, StatusCode::SEE_OTHER);
    }
    let done = app.get("/label/injury", Some(&ana)).await;
    assert!(done.body.contains("Nothing left to label"), "{}", done.body);
    assert!(done.body.contains("you labeled 6 of 6"));
    let n: usize = app
        .db
        .snippets(Some("injury"))
        .await
        .unwrap()
        .iter()
        .map(|s| s.labels.len())
        .sum();
    assert_eq!(n, 6);
}

#[tokio::test]
async fn several_labelers_per_item_until_the_wanted_count() {
    let app = App::new().await;
    let (ana, ben, cy) = (
        app.login("ana").await,
        app.login("ben").await,
        app.login("root").await,
    );
    let id = app.shown_item("injury", &ana).await.unwrap();
    assert_eq!(
        app.shown_item("injury", &ben).await.unwrap(),
        id,
        "both see the first item"
    );
    for who in [&ana, &ben] {
        let a = app
            .post(
                "/label/injury",
                Some(who),
                &[("item", &id), ("verdict", "unsure")],
                true,
            )
            .await;
        assert_eq!(a.status, StatusCode::SEE_OTHER);
    }
    // Two labels were wanted: a third person (the admin) is given the next item.
    assert_ne!(app.shown_item("injury", &cy).await.unwrap(), id);
    let page = app.get("/label/injury", Some(&ana)).await;
    assert!(
        page.body.contains("1 of 6 items have their 2 labels"),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn bad_forms_are_typed_errors_naming_the_field() {
    let app = App::new().await;
    let ana = app.login("ana").await;
    let id = app.shown_item("injury", &ana).await.unwrap();
    type Case<'a> = (&'a [(&'a str, &'a str)], StatusCode, &'a str);
    let cases: [Case; 5] = [
        (
            &[("verdict", "injury")],
            StatusCode::UNPROCESSABLE_ENTITY,
            "field `item`: is missing",
        ),
        (
            &[("item", &id)],
            StatusCode::UNPROCESSABLE_ENTITY,
            "field `verdict`: is missing",
        ),
        (
            &[("item", &id), ("verdict", "maybe")],
            StatusCode::UNPROCESSABLE_ENTITY,
            "field `verdict`: `maybe` is not",
        ),
        (
            &[("item", "nope"), ("verdict", "injury")],
            StatusCode::UNPROCESSABLE_ENTITY,
            "field `item`: no item `nope`",
        ),
        (
            &[("item", &id), ("verdict", "")],
            StatusCode::UNPROCESSABLE_ENTITY,
            "field `verdict`: is empty",
        ),
    ];
    for (fields, status, message) in cases {
        let a = app.post("/label/injury", Some(&ana), fields, true).await;
        assert_eq!(a.status, status, "{fields:?}");
        assert!(a.body.contains(message), "{fields:?}: {}", a.body);
    }
    let long_note = "n".repeat(2001);
    let a = app
        .post(
            "/label/injury",
            Some(&ana),
            &[("item", &id), ("verdict", "injury"), ("note", &long_note)],
            true,
        )
        .await;
    assert!(a.body.contains("field `note`"));
    // CSRF: missing, wrong, another session's.
    let ben = app.login("ben").await;
    for csrf in [None, Some("0".repeat(64)), Some(ben.csrf.clone())] {
        let mut fields = vec![("item", id.as_str()), ("verdict", "injury")];
        if let Some(c) = &csrf {
            fields.push(("csrf", c));
        }
        let a = app.post("/label/injury", Some(&ana), &fields, false).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{csrf:?}");
        assert!(a.body.contains("CSRF"));
        for uri in ["/label/injury/undo", "/label/injury/skip"] {
            assert_eq!(
                app.post(uri, Some(&ana), &fields, false).await.status,
                StatusCode::FORBIDDEN
            );
        }
    }
    assert!(
        app.db
            .snippets(Some("injury"))
            .await
            .unwrap()
            .iter()
            .all(|s| s.labels.is_empty())
    );
}

#[tokio::test]
async fn only_assigned_labelers_and_admins_label_and_nobody_sees_others_labels() {
    let app = App::new().await;
    let (ana, ben, cy, rita, red) = (
        app.login("ana").await,
        app.login("ben").await,
        app.login("cy").await,
        app.login("rita").await,
        app.login("red").await,
    );
    for who in [&cy, &rita, &red] {
        assert_eq!(
            app.get("/label/injury", Some(who)).await.status,
            StatusCode::FORBIDDEN
        );
        let id = "anything";
        let a = app
            .post(
                "/label/injury",
                Some(who),
                &[("item", id), ("verdict", "injury")],
                true,
            )
            .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN);
    }
    // The home page lists only what each may open.
    assert!(!app.get("/", Some(&cy)).await.body.contains("/label/injury"));
    assert!(
        app.get("/", Some(&ana))
            .await
            .body
            .contains("/label/injury")
    );
    assert!(
        !app.get("/", Some(&ana))
            .await
            .body
            .contains("/compare/pairs")
    );
    assert_eq!(
        app.get("/label/none", Some(&ana)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/label/pairs", Some(&ana)).await.status,
        StatusCode::NOT_FOUND
    );
    let root = app.login("root").await;
    assert_eq!(
        app.get("/label/pairs", Some(&root)).await.status,
        StatusCode::NOT_FOUND
    );

    // Ben labels; Ana, shown the same item, sees no trace of Ben's verdict.
    let id = app.shown_item("injury", &ben).await.unwrap();
    app.post(
        "/label/injury",
        Some(&ben),
        &[("item", &id), ("verdict", "injury")],
        true,
    )
    .await;
    let seen = app
        .get(&format!("/label/injury?item={id}"), Some(&ana))
        .await;
    assert_eq!(seen.status, StatusCode::OK);
    assert!(
        !seen.body.contains("your label") && !seen.body.contains("ben"),
        "{}",
        seen.body
    );
    // Ana cannot change Ben's label: her label is hers, and admin routes refuse her.
    app.post(
        "/label/injury",
        Some(&ana),
        &[("item", &id), ("verdict", "no_injury")],
        true,
    )
    .await;
    let change = app
        .post(
            "/admin/labels",
            Some(&ana),
            &[
                ("queue", "injury"),
                ("item", &id),
                ("labeler", "ben"),
                ("action", "delete"),
            ],
            true,
        )
        .await;
    assert_eq!(change.status, StatusCode::FORBIDDEN);
    let s = app
        .db
        .snippets(Some("injury"))
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.id == id)
        .unwrap();
    assert_eq!(s.label_by("ben").unwrap().verdict, Verdict::Injury);
    assert_eq!(s.label_by("ana").unwrap().verdict, Verdict::NoInjury);
}

#[tokio::test]
async fn labels_survive_reopening_the_database() {
    let app = App::new().await;
    let ana = app.login("ana").await;
    let id = app.shown_item("injury", &ana).await.unwrap();
    app.post(
        "/label/injury",
        Some(&ana),
        &[("item", &id), ("verdict", "injury")],
        true,
    )
    .await;
    app.db.close().await;
    let db = nines_web::db::Db::open(&app.url).await.unwrap();
    let s = db.snippets(Some("injury")).await.unwrap();
    assert_eq!(s.iter().find(|s| s.id == id).unwrap().labels.len(), 1);
}
