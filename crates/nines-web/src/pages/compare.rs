//! Pairwise comparison: a prompt and two completions, blind (which is the filtered one is
//! never shown, and the sides are drawn per rater), ties allowed. Keys: <kbd>1</kbd> or
//! <kbd>←</kbd> left, <kbd>2</kbd> or <kbd>→</kbd> right, <kbd>T</kbd> tie, <kbd>N</kbd> skip.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use super::layout::{csrf_field, page, progress_bar, untrusted};
use crate::auth::CurrentUser;
use crate::db::accounts::Role;
use crate::db::labels::QueueKind;
use crate::db::pairs::Choice;
use crate::error::{Result, WebError};
use crate::form::Form;
use crate::server::AppState;

async fn comparison_queue(state: &AppState, me: &CurrentUser, queue: &str) -> Result<()> {
    me.require(&[Role::Rater, Role::Admin])?;
    if state.db.queue_kind(queue).await? != QueueKind::Compare {
        return Err(WebError::NotFound(format!("comparison queue `{queue}`")));
    }
    if me.user().role != Role::Admin && !state.db.is_member(queue, &me.user().name).await? {
        return Err(WebError::Forbidden(format!(
            "queue `{queue}` is not assigned to you"
        )));
    }
    Ok(())
}

/// `GET /compare/{queue}`: the next pair for this rater.
pub async fn show(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(queue): Path<String>,
) -> Result<Response> {
    comparison_queue(&state, &me, &queue).await?;
    let name = &me.user().name;
    let pair = state.db.next_pair(&queue, name).await?;
    let (total, mine) = state.db.pair_progress(&queue, name).await?;
    let action = format!("/compare/{queue}");
    let body = html! {
        (progress_bar(mine, total, &format!("you compared {mine} of {total} pairs")))
        p { "Which continuation of the prompt is better writing? Judge quality only: fluency, "
            "coherence with the prompt, interest. The two are in no particular order." }
        @if let Some(p) = &pair {
            section.item data-pair=(p.id) {
                h2 { "Prompt" }
                (untrusted(&p.prompt))
                div.pair {
                    div { h2 { "Left" } div.completion { (untrusted(&p.left)) } }
                    div { h2 { "Right" } div.completion { (untrusted(&p.right)) } }
                }
            }
            form.actions method="post" action=(action) {
                (csrf_field(me.csrf()))
                input type="hidden" name="pair" value=(p.id);
                button type="submit" name="choice" value="left" data-key="1" { "Left is better " kbd { "1" } }
                button type="submit" name="choice" value="tie" data-key="t" { "Tie " kbd { "T" } }
                button type="submit" name="choice" value="right" data-key="2" { "Right is better " kbd { "2" } }
            }
            form.actions method="post" action={ (action) "/skip" } {
                (csrf_field(me.csrf()))
                input type="hidden" name="pair" value=(p.id);
                button type="submit" data-key="n" { "Skip " kbd { "N" } }
            }
        } @else {
            p.notice id="done" { "Nothing left to compare in this queue. Thank you!" }
        }
    };
    Ok(page(
        &format!("Compare: {queue}"),
        Some((me.user(), me.csrf())),
        body,
    )
    .into_response())
}

/// `POST /compare/{queue}`: stores the choice (`pair`, `choice` = left / right / tie).
pub async fn submit(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(queue): Path<String>,
    form: Form,
) -> Result<Response> {
    me.check_csrf(&form)?;
    comparison_queue(&state, &me, &queue).await?;
    let pair = form.required("pair")?;
    let choice = Choice::parse(form.required("choice")?)?;
    state
        .db
        .put_judgment(&queue, pair, &me.user().name, choice)
        .await?;
    Ok(Redirect::to(&format!("/compare/{queue}")).into_response())
}

/// `POST /compare/{queue}/skip`: puts `pair` after the others for this rater.
pub async fn skip(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(queue): Path<String>,
    form: Form,
) -> Result<Response> {
    me.check_csrf(&form)?;
    comparison_queue(&state, &me, &queue).await?;
    let pair = form.required("pair")?;
    if !state.db.has_pair(&queue, pair).await? {
        return Err(WebError::field(
            "pair",
            format!("no pair `{pair}` in queue `{queue}`"),
        ));
    }
    state.db.skip(&queue, pair, &me.user().name).await?;
    Ok(Redirect::to(&format!("/compare/{queue}")).into_response())
}
