//! Group commit of labels: label writes queue for one writer task, which commits all the
//! writes waiting when it gets the database in one transaction (one `fsync` for many labels),
//! then answers each. A label is acknowledged only after the transaction holding it committed.
//! A write the batch cannot take (an item not in its queue) gets its own error and leaves the
//! others alone; if the batch fails as a whole, each write is retried alone, so each answer is
//! that write's own.

use std::sync::Arc;

use nines_data::record::Label;
use sqlx::{Any, AnyPool, Transaction};
use tokio::sync::{Mutex, mpsc, oneshot};

use super::now_us;
use crate::error::{Result, WebError};

/// Most labels committed in one transaction.
const MAX_BATCH: usize = 512;

/// One label to store, and where to send the outcome.
#[derive(Debug)]
pub(crate) struct LabelWrite {
    /// The queue the item was labeled in.
    pub queue: String,
    /// The snippet's id.
    pub id: String,
    /// The label (its labeler is the person).
    pub label: Label,
    /// Receives the outcome once the label is committed (or refused).
    pub reply: oneshot::Sender<Result<()>>,
}

/// Starts the writer task; writes sent to the answer are committed in batches.
pub(crate) fn spawn(pool: AnyPool, lock: Option<Arc<Mutex<()>>>) -> mpsc::Sender<LabelWrite> {
    let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
    tokio::spawn(run(pool, lock, rx));
    tx
}

async fn run(pool: AnyPool, lock: Option<Arc<Mutex<()>>>, mut rx: mpsc::Receiver<LabelWrite>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(w) => batch.push(w),
                Err(_) => break,
            }
        }
        let _guard = match &lock {
            Some(l) => Some(l.lock().await),
            None => None,
        };
        match commit(&pool, &batch).await {
            Ok(outcomes) => {
                for (w, outcome) in batch.drain(..).zip(outcomes) {
                    let _ = w.reply.send(outcome);
                }
            }
            Err(_) => {
                for w in batch.drain(..) {
                    let outcome = commit(&pool, std::slice::from_ref(&w)).await;
                    let _ = w.reply.send(outcome.and_then(|mut o| o.remove(0)));
                }
            }
        }
    }
}

/// Writes `batch` in one transaction: the outcome of each write, or the error that failed the
/// transaction.
async fn commit(pool: &AnyPool, batch: &[LabelWrite]) -> Result<Vec<Result<()>>> {
    let mut tx = pool.begin().await?;
    let mut outcomes = Vec::with_capacity(batch.len());
    for w in batch {
        outcomes.push(write(&mut tx, w).await?);
    }
    tx.commit().await?;
    Ok(outcomes)
}

/// One write inside the batch's transaction: `Err` fails the transaction, `Ok(Err)` refuses
/// only this write (nothing of it was written).
async fn write(tx: &mut Transaction<'static, Any>, w: &LabelWrite) -> Result<Result<()>> {
    let inside = sqlx::query("SELECT 1 FROM queue_items WHERE queue = $1 AND snippet_id = $2")
        .bind(&w.queue)
        .bind(&w.id)
        .fetch_optional(&mut **tx)
        .await?;
    if inside.is_none() {
        return Ok(Err(WebError::field(
            "item",
            format!("no item `{}` in queue `{}`", w.id, w.queue),
        )));
    }
    sqlx::query(
        "INSERT INTO labels (snippet_id, labeler, verdict, note, time, version, seq) \
         VALUES ($1, $2, $3, $4, $5, NULL, $6) ON CONFLICT (snippet_id, labeler) DO UPDATE SET \
         verdict = excluded.verdict, note = excluded.note, time = excluded.time, \
         version = NULL, seq = excluded.seq",
    )
    .bind(&w.id)
    .bind(&w.label.labeler)
    .bind(w.label.verdict.as_str())
    .bind(&w.label.note)
    .bind(&w.label.time)
    .bind(now_us())
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM skips WHERE queue = $1 AND item_id = $2 AND user_name = $3")
        .bind(&w.queue)
        .bind(&w.id)
        .bind(&w.label.labeler)
        .execute(&mut **tx)
        .await?;
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use nines_data::{Snippet, Verdict};

    use crate::db::Db;
    use crate::db::labels::QueueKind;
    use crate::error::WebError;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_are_all_answered_and_a_refused_one_leaves_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path().join("b.db").to_str().unwrap())
            .await
            .unwrap();
        db.create_queue("q", QueueKind::Label, 20).await.unwrap();
        let snippets: Vec<Snippet> = (0..40)
            .map(|i| Snippet::new(format!("p{i}"), format!("c{i}"), None, None, None))
            .collect();
        db.add_snippets("q", &snippets).await.unwrap();
        let tasks: Vec<_> = (0..200)
            .map(|k| {
                let db = db.clone();
                let id = if k == 77 {
                    "nope".to_string()
                } else {
                    snippets[k % 40].id.clone()
                };
                tokio::spawn(async move {
                    db.put_label("q", &id, &format!("u{}", k / 40), Verdict::ALL[k % 3], "")
                        .await
                })
            })
            .collect();
        let mut refused = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(()) => {}
                Err(WebError::BadField { field, .. }) if field == "item" => refused += 1,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(refused, 1);
        let stored: usize = db
            .snippets(Some("q"))
            .await
            .unwrap()
            .iter()
            .map(|s| s.labels.len())
            .sum();
        assert_eq!(stored, 199);
        for s in db.snippets(Some("q")).await.unwrap() {
            for l in &s.labels {
                let u: usize = l.labeler[1..].parse().unwrap();
                let k = snippets.iter().position(|x| x.id == s.id).unwrap() + 40 * u;
                assert_eq!(l.verdict, Verdict::ALL[k % 3]);
            }
        }
    }
}
