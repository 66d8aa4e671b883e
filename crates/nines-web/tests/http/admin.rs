//! Admin pages: users, queues, members, import, export, labels seen and changed, agreement.

use axum::http::StatusCode;
use nines_data::label::aggregate::agreement;
use nines_data::{Snippet, Verdict};

use crate::common::App;

#[tokio::test]
async fn only_admins_reach_admin_routes() {
    let app = App::new().await;
    for name in ["ana", "rita", "red"] {
        let who = app.login(name).await;
        for uri in [
            "/admin",
            "/admin/queues/injury",
            "/admin/queues/injury/export",
            "/admin/queues/pairs",
        ] {
            assert_eq!(
                app.get(uri, Some(&who)).await.status,
                StatusCode::FORBIDDEN,
                "{name} {uri}"
            );
        }
        let id = app.db.snippets(Some("injury")).await.unwrap()[0].id.clone();
        assert_eq!(
            app.get(&format!("/admin/queues/injury/items/{id}"), Some(&who))
                .await
                .status,
            StatusCode::FORBIDDEN
        );
        for (uri, fields) in [
            ("/admin/users", vec![("name", "x1"), ("role", "admin")]),
            (
                "/admin/queues",
                vec![("name", "q1"), ("kind", "label"), ("labels_per_item", "2")],
            ),
            ("/admin/members", vec![("queue", "injury"), ("user", name)]),
            ("/admin/queues/injury/import", vec![("jsonl", "")]),
        ] {
            assert_eq!(
                app.post(uri, Some(&who), &fields, true).await.status,
                StatusCode::FORBIDDEN,
                "{name} {uri}"
            );
        }
    }
    assert!(app.db.user("x1").await.unwrap().is_none());
}

#[tokio::test]
async fn admins_create_users_queues_and_assignments() {
    let app = App::new().await;
    let root = app.login("root").await;
    let page = app.get("/admin", Some(&root)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("injury") && page.body.contains("rita"));

    let invite = app
        .post(
            "/admin/users",
            Some(&root),
            &[("name", "dora"), ("role", "labeler"), ("password", "")],
            true,
        )
        .await;
    assert_eq!(invite.status, StatusCode::OK);
    assert!(invite.body.contains("/invite/"), "{}", invite.body);
    let direct = app
        .post(
            "/admin/users",
            Some(&root),
            &[
                ("name", "eve"),
                ("role", "rater"),
                ("password", "eve's long password"),
            ],
            true,
        )
        .await;
    assert_eq!(direct.status, StatusCode::SEE_OTHER);
    app.db
        .verify_login("eve", "eve's long password")
        .await
        .unwrap();
    for (fields, status, message) in [
        (
            vec![("name", "eve"), ("role", "rater")],
            StatusCode::CONFLICT,
            "taken",
        ),
        (
            vec![("name", "f g"), ("role", "rater")],
            StatusCode::UNPROCESSABLE_ENTITY,
            "field `name`",
        ),
        (
            vec![("name", "fay"), ("role", "boss")],
            StatusCode::UNPROCESSABLE_ENTITY,
            "field `role`",
        ),
        (
            vec![("name", "fay"), ("role", "rater"), ("password", "short")],
            StatusCode::UNPROCESSABLE_ENTITY,
            "field `password`",
        ),
        (
            vec![("role", "rater")],
            StatusCode::UNPROCESSABLE_ENTITY,
            "field `name`: is missing",
        ),
    ] {
        let a = app.post("/admin/users", Some(&root), &fields, true).await;
        assert_eq!(a.status, status, "{fields:?}");
        assert!(a.body.contains(message), "{fields:?}: {}", a.body);
    }
    assert_eq!(
        app.post(
            "/admin/users",
            Some(&root),
            &[("name", "gil"), ("role", "rater")],
            false
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );

    let q = app
        .post(
            "/admin/queues",
            Some(&root),
            &[
                ("name", "round2"),
                ("kind", "label"),
                ("labels_per_item", "3"),
            ],
            true,
        )
        .await;
    assert_eq!(q.status, StatusCode::SEE_OTHER);
    assert_eq!(q.location(), "/admin/queues/round2");
    for (fields, status, message) in [
        (
            vec![
                ("name", "round2"),
                ("kind", "label"),
                ("labels_per_item", "3"),
            ],
            StatusCode::CONFLICT,
            "exists",
        ),
        (
            vec![("name", "r3"), ("kind", "poll"), ("labels_per_item", "3")],
            StatusCode::UNPROCESSABLE_ENTITY,
            "field `kind`",
        ),
        (
            vec![("name", "r3"), ("kind", "label"), ("labels_per_item", "0")],
            StatusCode::UNPROCESSABLE_ENTITY,
            "field `labels_per_item`",
        ),
        (
            vec![
                ("name", "r3"),
                ("kind", "label"),
                ("labels_per_item", "two"),
            ],
            StatusCode::UNPROCESSABLE_ENTITY,
            "field `labels_per_item`",
        ),
        (
            vec![("name", "r/3"), ("kind", "label"), ("labels_per_item", "2")],
            StatusCode::UNPROCESSABLE_ENTITY,
            "field `queue`",
        ),
    ] {
        let a = app.post("/admin/queues", Some(&root), &fields, true).await;
        assert_eq!(a.status, status, "{fields:?}");
        assert!(a.body.contains(message), "{fields:?}: {}", a.body);
    }
    let m = app
        .post(
            "/admin/members",
            Some(&root),
            &[("queue", "round2"), ("user", "cy")],
            true,
        )
        .await;
    assert_eq!(m.status, StatusCode::SEE_OTHER);
    assert!(app.db.is_member("round2", "cy").await.unwrap());
    let bad_user = app
        .post(
            "/admin/members",
            Some(&root),
            &[("queue", "round2"), ("user", "zed")],
            true,
        )
        .await;
    assert!(bad_user.body.contains("field `user`"), "{}", bad_user.body);
    let bad_queue = app
        .post(
            "/admin/members",
            Some(&root),
            &[("queue", "nope"), ("user", "cy")],
            true,
        )
        .await;
    assert!(
        bad_queue.body.contains("field `queue`"),
        "{}",
        bad_queue.body
    );
    assert!(
        app.get("/admin/queues/round2", Some(&root))
            .await
            .body
            .contains("members: cy")
    );
    assert_eq!(
        app.get("/admin/queues/nope", Some(&root)).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn import_keeps_inclusion_probabilities_and_export_round_trips_to_the_store() {
    let app = App::new().await;
    let root = app.login("root").await;
    app.post(
        "/admin/queues",
        Some(&root),
        &[
            ("name", "active"),
            ("kind", "label"),
            ("labels_per_item", "1"),
        ],
        true,
    )
    .await;
    let mut s = Snippet::new(
        "He drew the bow.",
        "The arrow struck him.",
        None,
        None,
        Some(nines_data::record::Selection {
            strategy: "boundary-systematic".into(),
            probability: 0.125,
            score: Some(0.5),
            population: 400,
            stratum: None,
        }),
    );
    s.labels
        .push(nines_data::Label::now("oracle", Verdict::Injury, "weapon"));
    let jsonl = format!(
        "{}\n\n{}\n",
        serde_json::to_string(&s).unwrap(),
        serde_json::to_string(&crate::common::snippets(1)[0]).unwrap()
    );
    let a = app
        .post(
            "/admin/queues/active/import",
            Some(&root),
            &[("jsonl", &jsonl)],
            true,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(
        a.body
            .contains("2 items added, 0 already there, 1 labels stored"),
        "{}",
        a.body
    );
    let again = app
        .post(
            "/admin/queues/active/import",
            Some(&root),
            &[("jsonl", &jsonl)],
            true,
        )
        .await;
    assert!(
        again
            .body
            .contains("0 items added, 2 already there, 0 labels stored"),
        "{}",
        again.body
    );
    let bad = app
        .post(
            "/admin/queues/active/import",
            Some(&root),
            &[("jsonl", "{\"id\":\"x\"}\n")],
            true,
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("field `jsonl`: line 1"), "{}", bad.body);
    let wrong_kind = app
        .post(
            "/admin/queues/pairs/import",
            Some(&root),
            &[("jsonl", &jsonl)],
            true,
        )
        .await;
    assert_eq!(wrong_kind.status, StatusCode::UNPROCESSABLE_ENTITY);
    let mut clash = s.clone();
    clash.completion = "Something else.".into();
    let clash = app
        .post(
            "/admin/queues/active/import",
            Some(&root),
            &[("jsonl", &serde_json::to_string(&clash).unwrap())],
            true,
        )
        .await;
    assert_eq!(clash.status, StatusCode::CONFLICT);

    let page = app.get("/admin/queues/active", Some(&root)).await;
    assert!(page.body.contains("0.1250"), "inclusion probability shown");
    // A labeler labels, the admin exports; the store reads the same records back.
    app.db.add_member("active", "ana").await.unwrap();
    let ana = app.login("ana").await;
    app.post(
        "/label/active",
        Some(&ana),
        &[("item", &s.id), ("verdict", "no_injury")],
        true,
    )
    .await;
    let export = app.get("/admin/queues/active/export", Some(&root)).await;
    assert_eq!(export.status, StatusCode::OK);
    assert!(
        export.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/x-ndjson")
    );
    let back: Vec<Snippet> = export
        .body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(back.len(), 2);
    assert_eq!(
        back[0].content_hash(),
        s.content_hash(),
        "content (and so the id) unchanged"
    );
    assert_eq!(back[0].selection.as_ref().unwrap().probability, 0.125);
    assert_eq!(back[0].label_by("ana").unwrap().verdict, Verdict::NoInjury);
    assert_eq!(back[0].label_by("oracle").unwrap().note, "weapon");

    let store_path = app._dir.path().join("out/store.jsonl");
    std::fs::create_dir_all(store_path.parent().unwrap()).unwrap();
    let r = nines_web::transfer::export_store(&app.db, Some("active"), &store_path)
        .await
        .unwrap();
    assert_eq!(r.added, 2);
    let r2 = nines_web::transfer::export_store(&app.db, Some("active"), &store_path)
        .await
        .unwrap();
    assert_eq!(
        (r2.added, r2.updated),
        (0, 0),
        "exporting again changes nothing"
    );
    // A label changed here reaches the store on the next export.
    app.post(
        "/label/active",
        Some(&ana),
        &[("item", &s.id), ("verdict", "injury")],
        true,
    )
    .await;
    let r3 = nines_web::transfer::export_store(&app.db, Some("active"), &store_path)
        .await
        .unwrap();
    assert_eq!(r3.updated, 1);
    let store = nines_data::Store::open_read_only(&store_path, Default::default()).unwrap();
    assert_eq!(
        store.get(&s.id).unwrap().label_by("ana").unwrap().verdict,
        Verdict::Injury
    );
    assert_eq!(
        store
            .get(&s.id)
            .unwrap()
            .selection
            .as_ref()
            .unwrap()
            .population,
        400
    );
}

#[tokio::test]
async fn admins_see_agreement_and_change_any_label() {
    let app = App::new().await;
    let (root, ana, ben) = (
        app.login("root").await,
        app.login("ana").await,
        app.login("ben").await,
    );
    let ids: Vec<String> = app
        .db
        .snippets(Some("injury"))
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    let verdicts = [
        ("injury", "injury"),
        ("no_injury", "no_injury"),
        ("injury", "no_injury"),
        ("unsure", "unsure"),
        ("no_injury", "no_injury"),
        ("injury", "injury"),
    ];
    for (id, (a, b)) in ids.iter().zip(verdicts) {
        app.post(
            "/label/injury",
            Some(&ana),
            &[("item", id), ("verdict", a)],
            true,
        )
        .await;
        app.post(
            "/label/injury",
            Some(&ben),
            &[("item", id), ("verdict", b)],
            true,
        )
        .await;
    }
    let snippets = app.db.snippets(Some("injury")).await.unwrap();
    let expected = agreement(&snippets, &["ana", "ben"]);
    let page = app.get("/admin/queues/injury", Some(&root)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains(&format!("Fleiss' kappa: {:.3}", expected.fleiss.unwrap())),
        "{}",
        page.body
    );
    let cohen = expected.pairwise[&("ana".to_string(), "ben".to_string())]
        .1
        .unwrap();
    assert!(page.body.contains(&format!("{cohen:.3}")));
    assert!(page.body.contains("unanimous: 83.3%"));

    let item = app
        .get(
            &format!("/admin/queues/injury/items/{}", ids[2]),
            Some(&root),
        )
        .await;
    assert_eq!(item.status, StatusCode::OK);
    assert!(item.body.contains("ana") && item.body.contains("ben"));
    let set = app
        .post(
            "/admin/labels",
            Some(&root),
            &[
                ("queue", "injury"),
                ("item", &ids[2]),
                ("labeler", "ben"),
                ("action", "set"),
                ("verdict", "injury"),
            ],
            true,
        )
        .await;
    assert_eq!(set.status, StatusCode::SEE_OTHER, "{}", set.body);
    let del = app
        .post(
            "/admin/labels",
            Some(&root),
            &[
                ("queue", "injury"),
                ("item", &ids[3]),
                ("labeler", "ana"),
                ("action", "delete"),
            ],
            true,
        )
        .await;
    assert_eq!(del.status, StatusCode::SEE_OTHER);
    let after = app.db.snippets(Some("injury")).await.unwrap();
    assert_eq!(after[2].label_by("ben").unwrap().verdict, Verdict::Injury);
    assert!(after[3].label_by("ana").is_none());
    for (fields, message) in [
        (
            vec![
                ("queue", "injury"),
                ("item", ids[3].as_str()),
                ("labeler", "ana"),
                ("action", "delete"),
            ],
            "has no label",
        ),
        (
            vec![
                ("queue", "injury"),
                ("item", ids[3].as_str()),
                ("labeler", "ana"),
                ("action", "burn"),
            ],
            "field `action`",
        ),
        (
            vec![
                ("queue", "injury"),
                ("item", ids[3].as_str()),
                ("labeler", "ana"),
                ("action", "set"),
            ],
            "field `verdict`: is missing",
        ),
        (
            vec![
                ("queue", "injury"),
                ("item", "nope"),
                ("labeler", "ana"),
                ("action", "set"),
                ("verdict", "injury"),
            ],
            "field `item`",
        ),
    ] {
        let a = app.post("/admin/labels", Some(&root), &fields, true).await;
        assert!(a.status.is_client_error(), "{fields:?}");
        assert!(a.body.contains(message), "{fields:?}: {}", a.body);
    }
    assert_eq!(
        app.post(
            "/admin/labels",
            Some(&root),
            &[
                ("queue", "injury"),
                ("item", &ids[0]),
                ("labeler", "ana"),
                ("action", "delete")
            ],
            false
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get("/admin/queues/injury/items/nope", Some(&root))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}
