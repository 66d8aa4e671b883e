//! Pairwise comparison: blind sides per rater, ties, the running win rate.

use axum::http::StatusCode;
use nines_web::db::pairs::candidate_left;

use crate::common::App;

fn shown(body: &str) -> (String, String, String) {
    let at = body.find("data-pair=\"").expect("a pair") + 11;
    let id = body[at..at + body[at..].find('"').unwrap()].to_string();
    let left_at = body.find("<h2>Left</h2>").unwrap();
    let right_at = body.find("<h2>Right</h2>").unwrap();
    let side = |from: usize| {
        let s = &body[from..];
        let b = s.find("BASELINE-");
        let c = s.find("CANDIDATE-");
        match (b, c) {
            (Some(b), Some(c)) if b < c => "baseline",
            (Some(_), None) => "baseline",
            _ => "candidate",
        }
        .to_string()
    };
    (id, side(left_at), side(right_at))
}

#[tokio::test]
async fn raters_see_both_sides_blind_in_their_own_order_and_may_tie() {
    let app = App::new().await;
    let rita = app.login("rita").await;
    let page = app.get("/compare/pairs", Some(&rita)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains("you compared 0 of 4 pairs"),
        "accepted baselines are not shown"
    );
    assert!(
        !page.body.to_lowercase().contains("filtered"),
        "the page never names the sides"
    );
    for key in [
        "data-key=\"1\"",
        "data-key=\"2\"",
        "data-key=\"t\"",
        "data-key=\"n\"",
    ] {
        assert!(page.body.contains(key), "{key}");
    }
    let mut scores = Vec::new();
    for (k, choice) in ["left", "right", "tie", "left"].into_iter().enumerate() {
        let page = app.get("/compare/pairs", Some(&rita)).await;
        let (id, left, right) = shown(&page.body);
        assert_ne!(left, right);
        assert_eq!(left == "candidate", candidate_left(&id, "rita"), "{id}");
        let a = app
            .post(
                "/compare/pairs",
                Some(&rita),
                &[("pair", &id), ("choice", choice)],
                true,
            )
            .await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
        let expected = match choice {
            "tie" => 0.5,
            "left" if left == "candidate" => 1.0,
            "right" if right == "candidate" => 1.0,
            _ => 0.0,
        };
        scores.push(expected);
        let stored = app.db.judgments("pairs", Some("rita")).await.unwrap();
        assert_eq!(stored.len(), k + 1);
        assert_eq!(stored[k].candidate_score, expected);
        assert_eq!(stored[k].candidate_left, left == "candidate");
    }
    assert!(
        app.get("/compare/pairs", Some(&rita))
            .await
            .body
            .contains("Nothing left to compare")
    );

    // Sides are drawn per rater: over many pairs, two raters disagree on some.
    let differ = (0..40)
        .filter(|i| {
            candidate_left(&format!("p{i}"), "rita") != candidate_left(&format!("p{i}"), "ana")
        })
        .count();
    assert!(differ > 5 && differ < 35, "{differ}");

    let root = app.login("root").await;
    let admin = app.get("/admin/queues/pairs", Some(&root)).await;
    assert_eq!(admin.status, StatusCode::OK);
    let report = app.db.win_rate("pairs").await.unwrap();
    let w = report.efficient.unwrap();
    // 6 pairs: 2 accepted (1/2 each), 4 judged.
    let expected = (0.5 * 2.0 + scores.iter().sum::<f64>()) / 6.0;
    assert!(
        (w.estimate.value - expected).abs() < 1e-12,
        "{} vs {expected}",
        w.estimate.value
    );
    assert!(
        admin.body.contains(&format!("{:.3}", w.estimate.value)),
        "{}",
        admin.body
    );
    assert!(admin.body.contains("95% interval"));
    let export = app.get("/admin/queues/pairs/export", Some(&root)).await;
    assert_eq!(export.body.lines().count(), 4);
    assert!(export.body.contains("\"candidate_score\""));
}

#[tokio::test]
async fn comparison_forms_roles_and_skips_are_checked() {
    let app = App::new().await;
    let (rita, ana, red) = (
        app.login("rita").await,
        app.login("ana").await,
        app.login("red").await,
    );
    let page = app.get("/compare/pairs", Some(&rita)).await;
    let (id, _, _) = shown(&page.body);
    for (fields, message) in [
        (vec![("choice", "left")], "field `pair`: is missing"),
        (vec![("pair", id.as_str())], "field `choice`: is missing"),
        (
            vec![("pair", id.as_str()), ("choice", "both")],
            "field `choice`: `both` is not",
        ),
        (
            vec![("pair", "p2"), ("choice", "left")],
            "needs no judgment",
        ),
        (
            vec![("pair", "zz"), ("choice", "left")],
            "field `pair`: no pair `zz`",
        ),
    ] {
        let a = app.post("/compare/pairs", Some(&rita), &fields, true).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{fields:?}");
        assert!(a.body.contains(message), "{fields:?}: {}", a.body);
    }
    let no_csrf = app
        .post(
            "/compare/pairs",
            Some(&rita),
            &[("pair", &id), ("choice", "left")],
            false,
        )
        .await;
    assert_eq!(no_csrf.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.post("/compare/pairs/skip", Some(&rita), &[("pair", &id)], false)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    for who in [&ana, &red] {
        assert_eq!(
            app.get("/compare/pairs", Some(who)).await.status,
            StatusCode::FORBIDDEN
        );
        let a = app
            .post(
                "/compare/pairs",
                Some(who),
                &[("pair", &id), ("choice", "left")],
                true,
            )
            .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN);
    }
    assert_eq!(
        app.get("/compare/injury", Some(&rita)).await.status,
        StatusCode::NOT_FOUND
    );
    let bad_skip = app
        .post("/compare/pairs/skip", Some(&rita), &[("pair", "zz")], true)
        .await;
    assert!(
        bad_skip.body.contains("field `pair`: no pair `zz`"),
        "{}",
        bad_skip.body
    );
    let skip = app
        .post("/compare/pairs/skip", Some(&rita), &[("pair", &id)], true)
        .await;
    assert_eq!(skip.status, StatusCode::SEE_OTHER);
    let (next, _, _) = shown(&app.get("/compare/pairs", Some(&rita)).await.body);
    assert_ne!(next, id);
    assert!(app.db.judgments("pairs", None).await.unwrap().is_empty());
}
