//! Admin pages: users and invites, queues and their members, imports and exports, every
//! label (seen and changed), agreement between labelers, and the running win rate.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use nines_data::label::aggregate::agreement;

use super::label::verdict_field;
use super::layout::{Page, csrf_field, page, segment, untrusted};
use crate::auth::CurrentUser;
use crate::db::accounts::Role;
use crate::db::labels::QueueKind;
use crate::error::{Result, WebError};
use crate::form::Form;
use crate::server::AppState;
use crate::transfer;

/// Items listed on a queue's admin page.
const LISTED_ITEMS: usize = 500;

fn admin_page(me: &CurrentUser, title: &str, body: Markup) -> Page {
    page(title, Some((me.user(), me.csrf())), body)
}

fn kappa(k: Option<f64>) -> String {
    k.map_or_else(|| "undefined".to_string(), |k| format!("{k:.3}"))
}

/// `GET /admin`: users, queues and the forms to add them.
pub async fn overview(State(state): State<AppState>, me: CurrentUser) -> Result<Response> {
    me.require_admin()?;
    let users = state.db.users().await?;
    let queues = state.db.queues(None).await?;
    let csrf = me.csrf();
    let body = html! {
        h2 { "Queues" }
        table id="queues" {
            tr { th { "name" } th { "kind" } th { "items" } th { "wanted per item" } }
            @for q in &queues {
                tr {
                    td { a href={ "/admin/queues/" (q.name) } { (q.name) } }
                    td { (q.kind) } td { (q.items) } td { (q.labels_per_item) }
                }
            }
        }
        h3 { "New queue" }
        form method="post" action="/admin/queues" {
            (csrf_field(csrf))
            label { "Name " input type="text" name="name" required; } " "
            label { "Kind " select name="kind" { option value="label" { "label" } option value="compare" { "compare" } } } " "
            label { "Labels per item " input type="number" name="labels_per_item" value="2" min="1" max="20"; } " "
            button type="submit" { "Create" }
        }
        h3 { "Assign a queue" }
        form method="post" action="/admin/members" {
            (csrf_field(csrf))
            label { "Queue " input type="text" name="queue" required; } " "
            label { "User " input type="text" name="user" required; } " "
            button type="submit" { "Assign" }
        }
        h2 { "Users" }
        table id="users" {
            tr { th { "name" } th { "role" } th { "password set" } }
            @for (u, has_password) in &users {
                tr { td { (u.name) } td { (u.role) } td { @if *has_password { "yes" } @else { "invited" } } }
            }
        }
        h3 { "New user" }
        form method="post" action="/admin/users" {
            (csrf_field(csrf))
            label { "Name " input type="text" name="name" required; } " "
            label { "Role " select name="role" { @for r in Role::ALL { option value=(r.as_str()) { (r) } } } } " "
            label { "Password (empty: an invite link) " input type="password" name="password" autocomplete="new-password"; } " "
            button type="submit" { "Create" }
        }
    };
    Ok(admin_page(&me, "Admin", body).into_response())
}

/// `POST /admin/users`: `name`, `role`, optional `password`; without one, shows the invite
/// link (once).
pub async fn create_user(
    State(state): State<AppState>,
    me: CurrentUser,
    form: Form,
) -> Result<Response> {
    me.check_csrf(&form)?;
    me.require_admin()?;
    let name = form.required("name")?.trim();
    let role: Role = form.required("role")?.parse()?;
    let password = form.get("password").filter(|p| !p.is_empty());
    match state.db.create_user(name, role, password).await? {
        Some(token) => {
            let body = html! {
                p.notice { "User " b { (name) } " (" (role) ") created. Send them this link (shown only now):" }
                p { code id="invite" { "/invite/" (token) } }
                p { a href="/admin" { "Back to admin" } }
            };
            Ok(admin_page(&me, "Invitation", body).into_response())
        }
        None => Ok(Redirect::to("/admin").into_response()),
    }
}

/// `POST /admin/queues`: `name`, `kind`, `labels_per_item`.
pub async fn create_queue(
    State(state): State<AppState>,
    me: CurrentUser,
    form: Form,
) -> Result<Response> {
    me.check_csrf(&form)?;
    me.require_admin()?;
    let name = form.required("name")?.trim();
    let kind: QueueKind = form.required("kind")?.parse()?;
    let per_item = form.int("labels_per_item", 1..=20)?;
    state.db.create_queue(name, kind, per_item).await?;
    Ok(Redirect::to(&format!("/admin/queues/{name}")).into_response())
}

/// `POST /admin/members`: assigns `queue` to `user`.
pub async fn add_member(
    State(state): State<AppState>,
    me: CurrentUser,
    form: Form,
) -> Result<Response> {
    me.check_csrf(&form)?;
    me.require_admin()?;
    let queue = form.required("queue")?.trim();
    let user = form.required("user")?.trim();
    if state.db.queues(None).await?.iter().all(|q| q.name != queue) {
        return Err(WebError::field("queue", format!("no queue `{queue}`")));
    }
    state.db.add_member(queue, user).await?;
    Ok(Redirect::to(&format!("/admin/queues/{queue}")).into_response())
}

/// `GET /admin/queues/{queue}`: members, import, export, and agreement (labeling) or the
/// running win rate (comparison).
pub async fn queue(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(name): Path<String>,
) -> Result<Response> {
    me.require_admin()?;
    let q = state.db.queue(&name).await?;
    let members = state.db.members(&name).await?;
    let csrf = me.csrf();
    let details = match q.kind {
        QueueKind::Label => label_details(&state, &name).await?,
        QueueKind::Compare => compare_details(&state, &name).await?,
    };
    let body = html! {
        p { (q.kind) " queue · " (q.items) " items · " (q.labels_per_item) " wanted per item · members: "
            @if members.is_empty() { "none" } @else { (members.join(", ")) } }
        (details)
        h2 { "Import" }
        p { @match q.kind {
            QueueKind::Label => "Store records, one JSON object a line (their selection and inclusion probability are kept).",
            QueueKind::Compare => "Pairs, one JSON object a line: id, prompt, baseline, candidate, optional unfiltered_accepted and filtered_refused.",
        } }
        form method="post" action={ "/admin/queues/" (name) "/import" } {
            (csrf_field(csrf))
            textarea name="jsonl" required {}
            button type="submit" { "Import" }
        }
        h2 { "Export" }
        p { a id="export" href={ "/admin/queues/" (name) "/export" } { @match q.kind {
            QueueKind::Label => "snippets with labels (store JSONL)",
            QueueKind::Compare => "judgments (JSONL)",
        } } }
    };
    Ok(admin_page(&me, &format!("Queue: {name}"), body).into_response())
}

async fn label_details(state: &AppState, name: &str) -> Result<Markup> {
    let snippets = state.db.snippets(Some(name)).await?;
    let people: std::collections::BTreeSet<String> = {
        let users: std::collections::HashSet<String> = state
            .db
            .users()
            .await?
            .into_iter()
            .map(|(u, _)| u.name)
            .collect();
        snippets
            .iter()
            .flat_map(|s| s.labels.iter().map(|l| l.labeler.clone()))
            .filter(|l| users.contains(l))
            .collect()
    };
    let names: Vec<&str> = people.iter().map(String::as_str).collect();
    let a = agreement(&snippets, &names);
    let labels: usize = snippets.iter().map(|s| s.labels.len()).sum();
    Ok(html! {
        h2 { "Agreement" }
        p id="agreement" { (labels) " labels by " (names.len()) " people on " (snippets.len()) " items. "
            "Items labeled by all of them: " (a.common_items)
            "; unanimous: " (format!("{:.1}%", 100.0 * a.unanimous))
            "; Fleiss' kappa: " (kappa(a.fleiss)) "." }
        @if !a.pairwise.is_empty() {
            table id="cohen" {
                tr { th { "labeler" } th { "labeler" } th { "shared items" } th { "Cohen's kappa" } }
                @for ((x, y), (n, k)) in &a.pairwise {
                    tr { td { (x) } td { (y) } td { (n) } td { (kappa(*k)) } }
                }
            }
        }
        h2 { "Items" }
        table id="items" {
            tr { th { "item" } th { "inclusion probability" } th { "labels" } }
            @for s in snippets.iter().take(LISTED_ITEMS) {
                tr {
                    td { a href={ "/admin/queues/" (name) "/items/" (segment(&s.id)) } { (s.id) } }
                    td { @if let Some(sel) = &s.selection { (format!("{:.4}", sel.probability)) } }
                    td { @for l in &s.labels { (l.labeler) ": " (l.verdict) " " } }
                }
            }
        }
        @if snippets.len() > LISTED_ITEMS { p { "… and " (snippets.len() - LISTED_ITEMS) " more (export to see all)." } }
    })
}

async fn compare_details(state: &AppState, name: &str) -> Result<Markup> {
    let report = state.db.win_rate(name).await?;
    let judgments = state.db.judgments(name, None).await?;
    let mut per_rater = std::collections::BTreeMap::<String, usize>::new();
    for j in &judgments {
        *per_rater.entry(j.rater.clone()).or_default() += 1;
    }
    Ok(html! {
        h2 { "Win rate of the candidate (filtered) over the baseline" }
        p { (report.pairs) " pairs; " (report.to_judge) " need a person (baseline rejected); "
            (report.judged) " judged, " (report.judgments) " judgments." }
        @match &report.efficient {
            Ok(w) => p id="winrate" {
                "Efficient estimate: " b { (format!("{:.3}", w.estimate.value)) }
                " (95% interval " (format!("{:.3}–{:.3}", w.estimate.ci.0, w.estimate.ci.1)) ", "
                (w.comparisons) " comparisons used, " (w.comparisons_saved) " saved by the accepted pairs)."
            },
            Err(e) => p id="winrate" { "No estimate yet: " (e) },
        }
        table id="raters" {
            tr { th { "rater" } th { "judgments" } }
            @for (r, n) in &per_rater { tr { td { (r) } td { (n) } } }
        }
    })
}

/// `POST /admin/queues/{queue}/import`: the `jsonl` field's records or pairs.
pub async fn import(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(name): Path<String>,
    form: Form,
) -> Result<Response> {
    me.check_csrf(&form)?;
    me.require_admin()?;
    let q = state.db.queue(&name).await?;
    let text = form.required("jsonl")?;
    let message = match q.kind {
        QueueKind::Label => {
            let c = state
                .db
                .add_snippets(&name, &transfer::parse_snippets("jsonl", text)?)
                .await?;
            format!(
                "{} items added, {} already there, {} labels stored.",
                c.added, c.already, c.labels
            )
        }
        QueueKind::Compare => {
            let (added, already) = state
                .db
                .add_pairs(&name, &transfer::parse_pairs("jsonl", text)?)
                .await?;
            format!("{added} pairs added, {already} already there.")
        }
    };
    let body = html! {
        p.notice id="imported" { (message) }
        p { a href={ "/admin/queues/" (name) } { "Back to the queue" } }
    };
    Ok(admin_page(&me, "Imported", body).into_response())
}

/// `GET /admin/queues/{queue}/export`: JSONL download (store records or judgments).
pub async fn export(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(name): Path<String>,
) -> Result<Response> {
    me.require_admin()?;
    let q = state.db.queue(&name).await?;
    let text = match q.kind {
        QueueKind::Label => transfer::snippets_jsonl(&state.db.snippets(Some(&name)).await?),
        QueueKind::Compare => transfer::judgments_jsonl(&state.db.judgments(&name, None).await?),
    };
    let file = format!("attachment; filename=\"{name}.jsonl\"");
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/x-ndjson; charset=utf-8".to_string(),
            ),
            (header::CONTENT_DISPOSITION, file),
        ],
        text,
    )
        .into_response())
}

/// `GET /admin/queues/{queue}/items/{id}`: one item with every label, each changeable.
pub async fn item(
    State(state): State<AppState>,
    me: CurrentUser,
    Path((name, id)): Path<(String, String)>,
) -> Result<Response> {
    me.require_admin()?;
    let snippet = state
        .db
        .snippets(Some(&name))
        .await?
        .into_iter()
        .find(|s| s.id == id)
        .ok_or_else(|| WebError::NotFound(format!("item `{id}` in queue `{name}`")))?;
    let csrf = me.csrf();
    let verdicts = ["injury", "no_injury", "unsure"];
    let body = html! {
        h2 { "Prompt" } (untrusted(&snippet.prompt))
        h2 { "Completion" } div.completion { (untrusted(&snippet.completion)) }
        h2 { "Labels" }
        table id="labels" {
            tr { th { "labeler" } th { "verdict" } th { "time" } th { "change" } }
            @for l in &snippet.labels {
                tr {
                    td { (l.labeler) } td { (l.verdict) } td { (l.time) }
                    td {
                        form.inline method="post" action="/admin/labels" {
                            (csrf_field(csrf))
                            input type="hidden" name="queue" value=(name);
                            input type="hidden" name="item" value=(snippet.id);
                            input type="hidden" name="labeler" value=(l.labeler);
                            select name="verdict" { @for v in verdicts { option value=(v) selected[v == l.verdict.as_str()] { (v) } } }
                            button type="submit" name="action" value="set" { "Set" }
                            button type="submit" name="action" value="delete" { "Delete" }
                        }
                    }
                }
            }
        }
    };
    Ok(admin_page(&me, &format!("Item {id}"), body).into_response())
}

/// `POST /admin/labels`: sets (`action=set`, `verdict`) or deletes (`action=delete`)
/// `labeler`'s label on `item` of `queue`.
pub async fn change_label(
    State(state): State<AppState>,
    me: CurrentUser,
    form: Form,
) -> Result<Response> {
    me.check_csrf(&form)?;
    me.require_admin()?;
    let queue = form.required("queue")?;
    let item = form.required("item")?;
    let labeler = form.required("labeler")?;
    match form.required("action")? {
        "set" => {
            let verdict = verdict_field(&form, "verdict")?;
            state
                .db
                .put_label(
                    queue,
                    item,
                    labeler,
                    verdict,
                    &format!("set by {}", me.user().name),
                )
                .await?;
        }
        "delete" => {
            state.db.item(queue, item, labeler).await?;
            if !state.db.delete_label(item, labeler).await? {
                return Err(WebError::field(
                    "labeler",
                    format!("`{labeler}` has no label on `{item}`"),
                ));
            }
        }
        other => {
            return Err(WebError::field(
                "action",
                format!("`{other}` is not set or delete"),
            ));
        }
    }
    let to = format!("/admin/queues/{queue}/items/{}", segment(item));
    Ok(Redirect::to(&to).into_response())
}
