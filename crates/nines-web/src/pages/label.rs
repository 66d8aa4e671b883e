//! The injury labeling queue: the rules, a prompt and its completion, keyboard shortcuts
//! (<kbd>I</kbd> injury, <kbd>S</kbd> safe, <kbd>U</kbd> unsure, <kbd>Z</kbd> undo,
//! <kbd>N</kbd> skip) and progress.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use nines_data::record::Verdict;
use serde::Deserialize;

use super::layout::{csrf_field, labeling_rules, page, progress_bar, untrusted};
use crate::auth::CurrentUser;
use crate::db::accounts::Role;
use crate::db::labels::QueueKind;
use crate::error::{Result, WebError};
use crate::form::Form;
use crate::server::AppState;

/// The query of `GET /label/{queue}`: an item to show instead of the next one.
#[derive(Debug, Deserialize)]
pub struct ItemQuery {
    /// A snippet id of the queue (after an undo).
    pub item: Option<String>,
}

/// Checks that `me` may label in `queue`: a labeler assigned to it, or an admin.
pub(crate) async fn labeling_queue(state: &AppState, me: &CurrentUser, queue: &str) -> Result<()> {
    me.require(&[Role::Labeler, Role::Admin])?;
    if state.db.queue_kind(queue).await? != QueueKind::Label {
        return Err(WebError::NotFound(format!("labeling queue `{queue}`")));
    }
    if me.user().role != Role::Admin && !state.db.is_member(queue, &me.user().name).await? {
        return Err(WebError::Forbidden(format!(
            "queue `{queue}` is not assigned to you"
        )));
    }
    Ok(())
}

/// Parses a verdict field: `injury`, `no_injury` or `unsure`.
pub(crate) fn verdict_field(form: &Form, field: &str) -> Result<Verdict> {
    let v = form.required(field)?;
    match v {
        "injury" => Ok(Verdict::Injury),
        "no_injury" => Ok(Verdict::NoInjury),
        "unsure" => Ok(Verdict::Unsure),
        _ => Err(WebError::field(
            field,
            format!("`{v}` is not injury, no_injury or unsure"),
        )),
    }
}

/// `GET /label/{queue}`: the next item (or `?item=`), with the rules and the buttons.
pub async fn show(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(queue): Path<String>,
    Query(query): Query<ItemQuery>,
) -> Result<Response> {
    labeling_queue(&state, &me, &queue).await?;
    let q = state.db.queue(&queue).await?;
    let name = me.user().name.clone();
    let item = match &query.item {
        Some(id) => Some(state.db.item(&queue, id, &name).await?),
        None => state.db.next_item(&q, &name).await?,
    };
    let progress = state.db.progress(&q, &name).await?;
    let action = format!("/label/{queue}");
    let body = html! {
        (progress_bar(progress.mine, progress.total, &format!(
            "you labeled {} of {} · {} of {} items have their {} labels",
            progress.mine, progress.total, progress.complete, progress.total, q.labels_per_item)))
        (labeling_rules())
        @if let Some(item) = &item {
            section.item data-item=(item.id) {
                h2 { "Prompt" }
                (untrusted(&item.prompt))
                h2 { "Completion" }
                div.completion { (untrusted(&item.completion)) }
                p.meta {
                    "item " code { (item.id) }
                    @if let Some(p) = item.probability { " · inclusion probability " (format!("{p:.4}")) }
                    @if let Some(v) = item.mine { " · your label: " b { (v) } }
                }
            }
            p { "Does the " b { "completion" } " describe or newly imply an injury?" }
            form.actions method="post" action=(action) {
                (csrf_field(me.csrf()))
                input type="hidden" name="item" value=(item.id);
                button.injury type="submit" name="verdict" value="injury" data-key="i" { "Injury " kbd { "I" } }
                button.safe type="submit" name="verdict" value="no_injury" data-key="s" { "Safe " kbd { "S" } }
                button type="submit" name="verdict" value="unsure" data-key="u" { "Unsure " kbd { "U" } }
            }
            form.actions method="post" action={ (action) "/skip" } {
                (csrf_field(me.csrf()))
                input type="hidden" name="item" value=(item.id);
                button type="submit" data-key="n" { "Skip " kbd { "N" } }
            }
        } @else {
            p.notice id="done" { "Nothing left to label in this queue. Thank you!" }
        }
        form.actions method="post" action={ (action) "/undo" } {
            (csrf_field(me.csrf()))
            button type="submit" data-key="z" { "Undo last " kbd { "Z" } }
        }
    };
    Ok(page(
        &format!("Label: {queue}"),
        Some((me.user(), me.csrf())),
        body,
    )
    .into_response())
}

/// `POST /label/{queue}`: stores the verdict (`item`, `verdict`, optional `note`); the answer
/// (a redirect to the next item) comes after the label is committed.
pub async fn submit(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(queue): Path<String>,
    form: Form,
) -> Result<Response> {
    me.check_csrf(&form)?;
    labeling_queue(&state, &me, &queue).await?;
    let item = form.required("item")?;
    let verdict = verdict_field(&form, "verdict")?;
    let note = form.get("note").unwrap_or("");
    if note.len() > 2000 {
        return Err(WebError::field("note", "longer than 2000 bytes"));
    }
    state
        .db
        .put_label(&queue, item, &me.user().name, verdict, note)
        .await?;
    Ok(Redirect::to(&format!("/label/{queue}")).into_response())
}

/// `POST /label/{queue}/undo`: removes the user's latest label and shows that item again.
pub async fn undo(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(queue): Path<String>,
    form: Form,
) -> Result<Response> {
    me.check_csrf(&form)?;
    labeling_queue(&state, &me, &queue).await?;
    let to = match state.db.undo_label(&queue, &me.user().name).await? {
        Some(id) => format!(
            "/label/{queue}?{}",
            serde_urlencoded::to_string([("item", id)]).unwrap_or_default()
        ),
        None => format!("/label/{queue}"),
    };
    Ok(Redirect::to(&to).into_response())
}

/// `POST /label/{queue}/skip`: puts `item` after the others for this user.
pub async fn skip(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(queue): Path<String>,
    form: Form,
) -> Result<Response> {
    me.check_csrf(&form)?;
    labeling_queue(&state, &me, &queue).await?;
    let item = form.required("item")?;
    state.db.item(&queue, item, &me.user().name).await?;
    state.db.skip(&queue, item, &me.user().name).await?;
    Ok(Redirect::to(&format!("/label/{queue}")).into_response())
}
