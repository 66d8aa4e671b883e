//! Queues, the snippets in them, and people's injury labels.
//!
//! A snippet is stored once (as in the nines-data store, keyed by its id) and may sit in
//! several queues; each labeler gives it at most one label, whichever queue they saw it in.
//! A labeling queue wants `labels_per_item` labels from people on each snippet (labels of
//! non-people, such as imported oracle labels, are kept but do not count).

use std::fmt;
use std::str::FromStr;

use nines_data::record::{Label, Snippet, Verdict};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Db, now_us};
use crate::error::{Result, WebError};

/// What a queue holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueKind {
    /// Snippets to label for injury.
    Label,
    /// Pairs of completions to compare.
    Compare,
}

impl QueueKind {
    /// `label` or `compare`.
    pub fn as_str(self) -> &'static str {
        match self {
            QueueKind::Label => "label",
            QueueKind::Compare => "compare",
        }
    }
}

impl fmt::Display for QueueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for QueueKind {
    type Err = WebError;
    fn from_str(s: &str) -> Result<QueueKind> {
        match s.trim() {
            "label" => Ok(QueueKind::Label),
            "compare" => Ok(QueueKind::Compare),
            _ => Err(WebError::field(
                "kind",
                format!("`{s}` is not `label` or `compare`"),
            )),
        }
    }
}

/// A queue and its size.
#[derive(Debug, Clone, PartialEq)]
pub struct Queue {
    /// Its name (as in URLs).
    pub name: String,
    /// What it holds.
    pub kind: QueueKind,
    /// Labels (or judgments) wanted from people per item.
    pub labels_per_item: i64,
    /// Items (snippets or pairs) in it.
    pub items: i64,
}

/// One item of a labeling queue, as a labeler sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// The snippet's id.
    pub id: String,
    /// The prompt.
    pub prompt: String,
    /// The completion to judge.
    pub completion: String,
    /// Its inclusion probability, when it came from a selection.
    pub probability: Option<f64>,
    /// The viewer's own label on it, if any.
    pub mine: Option<Verdict>,
}

/// How far a labeler and the whole queue are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Items the viewer has labeled.
    pub mine: i64,
    /// Items in the queue.
    pub total: i64,
    /// Items with at least `labels_per_item` labels from people.
    pub complete: i64,
}

/// What an import added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportCounts {
    /// Items new to the queue.
    pub added: usize,
    /// Items already in it (unchanged).
    pub already: usize,
    /// Labels carried by the imported snippets and stored.
    pub labels: usize,
}

fn parse_json<T: serde::de::DeserializeOwned>(
    field: &str,
    text: Option<String>,
) -> Result<Option<T>> {
    text.map(|t| {
        serde_json::from_str(&t).map_err(|e| WebError::field(field, format!("stored JSON: {e}")))
    })
    .transpose()
}

fn to_json<T: serde::Serialize>(value: &Option<T>) -> Result<Option<String>> {
    value
        .as_ref()
        .map(|v| serde_json::to_string(v).map_err(|e| WebError::field("snippet", e.to_string())))
        .transpose()
}

fn verdict_of(row: &AnyRow, column: &str) -> Result<Verdict> {
    let v: String = row.try_get(column)?;
    Ok(Verdict::parse_at(&v, column)?)
}

impl Db {
    /// Creates a queue.
    ///
    /// # Errors
    /// A bad name or `labels_per_item` outside 1–20 ([`WebError::BadField`]); a name taken
    /// ([`WebError::Conflict`]).
    pub async fn create_queue(
        &self,
        name: &str,
        kind: QueueKind,
        labels_per_item: i64,
    ) -> Result<()> {
        super::accounts::check_name("queue", name)?;
        if !(1..=20).contains(&labels_per_item) {
            return Err(WebError::field("labels_per_item", "must be 1 to 20"));
        }
        let _w = self.write_guard().await;
        let done = sqlx::query(
            "INSERT INTO queues (name, kind, labels_per_item, created_us) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(kind.as_str())
        .bind(labels_per_item)
        .bind(now_us())
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(WebError::Conflict(format!("a queue `{name}` exists")));
        }
        Ok(())
    }

    fn queue_of(row: &AnyRow) -> Result<Queue> {
        Ok(Queue {
            name: row.try_get("name")?,
            kind: row.try_get::<String, _>("kind")?.parse()?,
            labels_per_item: row.try_get("labels_per_item")?,
            items: row.try_get("items")?,
        })
    }

    /// The queue called `name` ([`WebError::NotFound`] if none).
    pub async fn queue(&self, name: &str) -> Result<Queue> {
        let row = sqlx::query(
            "SELECT q.name, q.kind, q.labels_per_item, \
             (SELECT COUNT(*) FROM queue_items i WHERE i.queue = q.name) + \
             (SELECT COUNT(*) FROM pairs p WHERE p.queue = q.name) AS items \
             FROM queues q WHERE q.name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| WebError::NotFound(format!("queue `{name}`")))?;
        Self::queue_of(&row)
    }

    /// The kind of queue `name` ([`WebError::NotFound`] if none), without counting its items.
    pub async fn queue_kind(&self, name: &str) -> Result<QueueKind> {
        let row = sqlx::query("SELECT kind FROM queues WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| WebError::NotFound(format!("queue `{name}`")))?;
        row.try_get::<String, _>("kind")?.parse()
    }

    /// Every queue (`member: None`) or the queues `member` is assigned to, by name.
    pub async fn queues(&self, member: Option<&str>) -> Result<Vec<Queue>> {
        let rows = sqlx::query(
            "SELECT q.name, q.kind, q.labels_per_item, \
             (SELECT COUNT(*) FROM queue_items i WHERE i.queue = q.name) + \
             (SELECT COUNT(*) FROM pairs p WHERE p.queue = q.name) AS items \
             FROM queues q WHERE $1 = '' OR EXISTS \
             (SELECT 1 FROM queue_members m WHERE m.queue = q.name AND m.user_name = $1) \
             ORDER BY q.name",
        )
        .bind(member.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Self::queue_of).collect()
    }

    /// Adds snippets to a labeling queue, in order, with the labels they carry (kept when the
    /// labeler has none on that snippet yet). A snippet id already stored with other content
    /// is a [`WebError::Conflict`]; nothing is added then.
    pub async fn add_snippets(&self, queue: &str, snippets: &[Snippet]) -> Result<ImportCounts> {
        let q = self.queue(queue).await?;
        if q.kind != QueueKind::Label {
            return Err(WebError::Conflict(format!(
                "`{queue}` is a comparison queue"
            )));
        }
        for s in snippets {
            s.validate()?;
        }
        let mut counts = ImportCounts::default();
        let _w = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        let row =
            sqlx::query("SELECT COALESCE(MAX(position), 0) AS p FROM queue_items WHERE queue = $1")
                .bind(queue)
                .fetch_one(&mut *tx)
                .await?;
        let mut position: i64 = row.try_get("p")?;
        let now = now_us();
        for s in snippets {
            let existing = sqlx::query("SELECT prompt, completion FROM snippets WHERE id = $1")
                .bind(&s.id)
                .fetch_optional(&mut *tx)
                .await?;
            match existing {
                Some(r) => {
                    let (p, c): (String, String) = (r.try_get("prompt")?, r.try_get("completion")?);
                    if p != s.prompt || c != s.completion {
                        return Err(WebError::Conflict(format!(
                            "snippet `{}` is stored with another prompt or completion",
                            s.id
                        )));
                    }
                }
                None => {
                    // A missing probability is written as a literal NULL: sqlx's `Any`
                    // driver sends a NULL float with the wrong width, which PostgreSQL refuses
                    // once the statement is cached with a real one.
                    let probability = s.selection.as_ref().map(|x| x.probability);
                    let sql = if probability.is_some() {
                        "INSERT INTO snippets (id, prompt, completion, source, generator, \
                         selection, created_us, probability) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                    } else {
                        "INSERT INTO snippets (id, prompt, completion, source, generator, \
                         selection, created_us, probability) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)"
                    };
                    let mut insert = sqlx::query(sql)
                        .bind(&s.id)
                        .bind(&s.prompt)
                        .bind(&s.completion)
                        .bind(to_json(&s.source)?)
                        .bind(to_json(&s.generator)?)
                        .bind(to_json(&s.selection)?)
                        .bind(now);
                    if let Some(p) = probability {
                        insert = insert.bind(p);
                    }
                    insert.execute(&mut *tx).await?;
                }
            }
            position += 1;
            let added = sqlx::query(
                "INSERT INTO queue_items (queue, snippet_id, position) VALUES ($1, $2, $3) \
                 ON CONFLICT (queue, snippet_id) DO NOTHING",
            )
            .bind(queue)
            .bind(&s.id)
            .bind(position)
            .execute(&mut *tx)
            .await?;
            if added.rows_affected() == 1 {
                counts.added += 1;
            } else {
                counts.already += 1;
            }
            for l in &s.labels {
                let done = sqlx::query(
                    "INSERT INTO labels (snippet_id, labeler, verdict, note, time, version, seq) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (snippet_id, labeler) DO NOTHING",
                )
                .bind(&s.id)
                .bind(&l.labeler)
                .bind(l.verdict.as_str())
                .bind(&l.note)
                .bind(&l.time)
                .bind(&l.version)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                counts.labels += done.rows_affected() as usize;
            }
        }
        tx.commit().await?;
        Ok(counts)
    }

    /// The next snippet of `queue` for `user`: not labeled by them, still short of labels,
    /// earliest first; snippets they skipped come last.
    pub async fn next_item(&self, queue: &Queue, user: &str) -> Result<Option<Item>> {
        // Two passes, so that the common case walks the queue in order and stops at the
        // first match: items the user has not skipped, then the skipped ones.
        for skipped in ["NOT EXISTS", "EXISTS"] {
            let sql = format!(
                "SELECT s.id, s.prompt, s.completion, s.probability FROM queue_items q \
                 JOIN snippets s ON s.id = q.snippet_id \
                 WHERE q.queue = $1 \
                 AND NOT EXISTS (SELECT 1 FROM labels l WHERE l.snippet_id = q.snippet_id \
                                 AND l.labeler = $2) \
                 AND (SELECT COUNT(*) FROM labels l JOIN users u ON u.name = l.labeler \
                      WHERE l.snippet_id = q.snippet_id) < $3 \
                 AND {skipped} (SELECT 1 FROM skips k WHERE k.queue = $1 \
                                AND k.item_id = q.snippet_id AND k.user_name = $2) \
                 ORDER BY q.position LIMIT 1"
            );
            let row = sqlx::query(&sql)
                .bind(&queue.name)
                .bind(user)
                .bind(queue.labels_per_item)
                .fetch_optional(&self.pool)
                .await?;
            if let Some(r) = row {
                return Ok(Some(Item {
                    id: r.try_get("id")?,
                    prompt: r.try_get("prompt")?,
                    completion: r.try_get("completion")?,
                    probability: r.try_get("probability")?,
                    mine: None,
                }));
            }
        }
        Ok(None)
    }

    /// Snippet `id` of `queue`, with `user`'s label on it ([`WebError::NotFound`] if it is not
    /// in the queue).
    pub async fn item(&self, queue: &str, id: &str, user: &str) -> Result<Item> {
        let row = sqlx::query(
            "SELECT s.id, s.prompt, s.completion, s.probability, \
             (SELECT l.verdict FROM labels l WHERE l.snippet_id = s.id AND l.labeler = $3) AS mine \
             FROM queue_items q JOIN snippets s ON s.id = q.snippet_id \
             WHERE q.queue = $1 AND q.snippet_id = $2",
        )
        .bind(queue)
        .bind(id)
        .bind(user)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| WebError::NotFound(format!("item `{id}` in queue `{queue}`")))?;
        let mine: Option<String> = row.try_get("mine")?;
        Ok(Item {
            id: row.try_get("id")?,
            prompt: row.try_get("prompt")?,
            completion: row.try_get("completion")?,
            probability: row.try_get("probability")?,
            mine: mine.map(|m| Verdict::parse_at(&m, "mine")).transpose()?,
        })
    }

    /// `user`'s progress in a labeling queue.
    pub async fn progress(&self, queue: &Queue, user: &str) -> Result<Progress> {
        let row = sqlx::query(
            "SELECT \
             (SELECT COUNT(*) FROM queue_items q JOIN labels l ON l.snippet_id = q.snippet_id \
              WHERE q.queue = $1 AND l.labeler = $2) AS mine, \
             (SELECT COUNT(*) FROM queue_items q WHERE q.queue = $1 AND \
              (SELECT COUNT(*) FROM labels l JOIN users u ON u.name = l.labeler \
               WHERE l.snippet_id = q.snippet_id) >= $3) AS complete",
        )
        .bind(&queue.name)
        .bind(user)
        .bind(queue.labels_per_item)
        .fetch_one(&self.pool)
        .await?;
        Ok(Progress {
            mine: row.try_get("mine")?,
            total: queue.items,
            complete: row.try_get("complete")?,
        })
    }

    /// Stores (or replaces) `labeler`'s verdict on snippet `id` of `queue`, durably: when this
    /// returns, the label is committed (with the other labels written at the same moment, in
    /// one transaction, so many labels share one `fsync`). Clears a skip of the item.
    pub async fn put_label(
        &self,
        queue: &str,
        id: &str,
        labeler: &str,
        verdict: Verdict,
        note: &str,
    ) -> Result<()> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let stopped = || WebError::Io {
            what: "storing a label".into(),
            source: std::io::Error::other("the label writer has stopped"),
        };
        self.labels
            .send(super::batch::LabelWrite {
                queue: queue.to_string(),
                id: id.to_string(),
                label: Label::now(labeler, verdict, note),
                reply,
            })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Removes `labeler`'s label on snippet `id`; whether there was one.
    pub async fn delete_label(&self, id: &str, labeler: &str) -> Result<bool> {
        let _w = self.write_guard().await;
        let done = sqlx::query("DELETE FROM labels WHERE snippet_id = $1 AND labeler = $2")
            .bind(id)
            .bind(labeler)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Takes back `user`'s latest label in `queue`; the snippet's id, if there was one.
    pub async fn undo_label(&self, queue: &str, user: &str) -> Result<Option<String>> {
        let _w = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "SELECT l.snippet_id FROM labels l JOIN queue_items q ON q.snippet_id = l.snippet_id \
             WHERE q.queue = $1 AND l.labeler = $2 ORDER BY l.seq DESC LIMIT 1",
        )
        .bind(queue)
        .bind(user)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let id: String = row.try_get("snippet_id")?;
        sqlx::query("DELETE FROM labels WHERE snippet_id = $1 AND labeler = $2")
            .bind(&id)
            .bind(user)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    /// Records that `user` skipped item `id` of `queue` (it comes back after the others).
    pub async fn skip(&self, queue: &str, id: &str, user: &str) -> Result<()> {
        let _w = self.write_guard().await;
        sqlx::query(
            "INSERT INTO skips (queue, item_id, user_name, seq) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (queue, item_id, user_name) DO UPDATE SET seq = excluded.seq",
        )
        .bind(queue)
        .bind(id)
        .bind(user)
        .bind(now_us())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The snippets of `queue` (every labeling queue when `None`), in queue order, with all
    /// their labels: nines-data records, content as imported.
    pub async fn snippets(&self, queue: Option<&str>) -> Result<Vec<Snippet>> {
        let rows = sqlx::query(
            "SELECT s.id, s.prompt, s.completion, s.source, s.generator, s.selection, \
             MIN(q.queue) AS queue, MIN(q.position) AS position FROM snippets s \
             JOIN queue_items q ON q.snippet_id = s.id WHERE $1 = '' OR q.queue = $1 \
             GROUP BY s.id, s.prompt, s.completion, s.source, s.generator, s.selection \
             ORDER BY MIN(q.queue), MIN(q.position)",
        )
        .bind(queue.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        let mut index = std::collections::HashMap::new();
        for r in &rows {
            let s = Snippet {
                id: r.try_get("id")?,
                prompt: r.try_get("prompt")?,
                completion: r.try_get("completion")?,
                source: parse_json("source", r.try_get("source")?)?,
                generator: parse_json("generator", r.try_get("generator")?)?,
                selection: parse_json("selection", r.try_get("selection")?)?,
                labels: Vec::new(),
            };
            index.insert(s.id.clone(), out.len());
            out.push(s);
        }
        let labels = sqlx::query(
            "SELECT l.snippet_id, l.labeler, l.verdict, l.note, l.time, l.version FROM labels l \
             WHERE EXISTS (SELECT 1 FROM queue_items q WHERE q.snippet_id = l.snippet_id \
             AND ($1 = '' OR q.queue = $1)) ORDER BY l.snippet_id, l.labeler",
        )
        .bind(queue.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        for r in &labels {
            let id: String = r.try_get("snippet_id")?;
            if let Some(&i) = index.get(&id) {
                out[i].labels.push(Label {
                    labeler: r.try_get("labeler")?,
                    verdict: verdict_of(r, "verdict")?,
                    note: r.try_get("note")?,
                    time: r.try_get("time")?,
                    version: r.try_get("version")?,
                });
            }
        }
        Ok(out)
    }
}
