//! Comparison pairs and people's judgments of them.
//!
//! A pair is a prompt with the unfiltered policy's completion (the *baseline*) and the
//! filtered policy's (the *candidate*). Under the efficient protocol only pairs whose baseline
//! the classifier rejected need a person: an accepted baseline is itself a draw of the filtered
//! policy, so the pair is worth 1/2, and a refused prompt loses (worth 0). Such pairs are
//! imported for the estimate but never shown.

use nines_estimate::win_rate::{self, EfficientOptions, MissingJudgments, PairRecord, WinRate};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::labels::QueueKind;
use super::{Db, now_us};
use crate::error::{Result, WebError};

/// One line of a comparison import file (the fields of `nines compare`'s items, plus the
/// classifier's verdict on the baseline).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairItem {
    /// Stable id (the prompt's key).
    pub id: String,
    /// The prompt.
    pub prompt: String,
    /// The unfiltered policy's completion.
    pub baseline: String,
    /// The filtered policy's completion.
    pub candidate: String,
    /// Whether the classifier accepted the baseline (then nobody judges the pair). Default
    /// false: every pair is judged.
    #[serde(default)]
    pub unfiltered_accepted: bool,
    /// Whether the filtered policy refused the prompt (the pair loses, nobody judges it).
    #[serde(default)]
    pub filtered_refused: bool,
}

/// One person's verdict on one pair (the format of `nines compare`'s judgment files).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Judgment {
    /// The pair's id.
    pub id: String,
    /// The rater.
    pub rater: String,
    /// 1: candidate better, 0: baseline better, 0.5: tie.
    pub candidate_score: f64,
    /// Whether the candidate was shown on the left.
    pub candidate_left: bool,
}

/// A pair as a rater sees it: two completions in the rater's order, sides unnamed.
#[derive(Debug, Clone, PartialEq)]
pub struct ShownPair {
    /// The pair's id.
    pub id: String,
    /// The prompt.
    pub prompt: String,
    /// The completion on the left.
    pub left: String,
    /// The completion on the right.
    pub right: String,
}

/// Which side a rater picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// The left completion is better.
    Left,
    /// The right completion is better.
    Right,
    /// Equally good.
    Tie,
}

impl Choice {
    /// Parses `left`, `right` or `tie` ([`WebError::BadField`] naming `choice`).
    pub fn parse(value: &str) -> Result<Choice> {
        match value {
            "left" => Ok(Choice::Left),
            "right" => Ok(Choice::Right),
            "tie" => Ok(Choice::Tie),
            _ => Err(WebError::field(
                "choice",
                format!("`{value}` is not left, right or tie"),
            )),
        }
    }

    /// The candidate's score given which side it was on.
    pub fn candidate_score(self, candidate_left: bool) -> f64 {
        match (self, candidate_left) {
            (Choice::Tie, _) => 0.5,
            (Choice::Left, true) | (Choice::Right, false) => 1.0,
            _ => 0.0,
        }
    }
}

/// Whether the candidate goes on the left for this rater and pair: a fair coin seeded by the
/// rater and the pair (the same coin as `nines compare`), so a rater always sees a pair the
/// same way and cannot tell the sides apart.
pub fn candidate_left(id: &str, rater: &str) -> bool {
    let digest = Sha256::digest(format!("{rater}\u{0}{id}").as_bytes());
    digest[0] & 1 == 1
}

/// The running win rate of a comparison queue.
#[derive(Debug, Clone, PartialEq)]
pub struct WinRateReport {
    /// Pairs in the queue.
    pub pairs: usize,
    /// Pairs needing a judgment (baseline rejected, prompt answered).
    pub to_judge: usize,
    /// Of those, pairs judged by at least one rater.
    pub judged: usize,
    /// Judgments in all.
    pub judgments: usize,
    /// The efficient estimate (judged pairs as a random subsample of those to judge), or why
    /// there is none yet.
    pub efficient: std::result::Result<WinRate, String>,
}

impl Db {
    /// Adds pairs to a comparison queue, in order; pairs already there are left as they are.
    /// Returns (added, already there).
    pub async fn add_pairs(&self, queue: &str, pairs: &[PairItem]) -> Result<(usize, usize)> {
        let q = self.queue(queue).await?;
        if q.kind != QueueKind::Compare {
            return Err(WebError::Conflict(format!("`{queue}` is a labeling queue")));
        }
        for p in pairs {
            if p.id.is_empty() {
                return Err(WebError::field("id", "empty pair id"));
            }
        }
        let _w = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query("SELECT COALESCE(MAX(position), 0) AS p FROM pairs WHERE queue = $1")
            .bind(queue)
            .fetch_one(&mut *tx)
            .await?;
        let mut position: i64 = row.try_get("p")?;
        let (mut added, mut already) = (0, 0);
        for p in pairs {
            position += 1;
            let done = sqlx::query(
                "INSERT INTO pairs (queue, id, position, prompt, baseline, candidate, \
                 unfiltered_accepted, filtered_refused) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (queue, id) DO NOTHING",
            )
            .bind(queue)
            .bind(&p.id)
            .bind(position)
            .bind(&p.prompt)
            .bind(&p.baseline)
            .bind(&p.candidate)
            .bind(i64::from(p.unfiltered_accepted))
            .bind(i64::from(p.filtered_refused))
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                added += 1;
            } else {
                already += 1;
            }
        }
        tx.commit().await?;
        Ok((added, already))
    }

    /// The next pair `rater` should judge in `queue`, sides in the rater's order; skipped
    /// pairs come last.
    pub async fn next_pair(&self, queue: &str, rater: &str) -> Result<Option<ShownPair>> {
        // As for labels: pairs not skipped first, in order, then the skipped ones.
        for skipped in ["NOT EXISTS", "EXISTS"] {
            let sql = format!(
                "SELECT p.id, p.prompt, p.baseline, p.candidate FROM pairs p \
                 WHERE p.queue = $1 AND p.unfiltered_accepted = 0 AND p.filtered_refused = 0 \
                 AND NOT EXISTS (SELECT 1 FROM judgments j WHERE j.queue = $1 \
                                 AND j.pair_id = p.id AND j.rater = $2) \
                 AND {skipped} (SELECT 1 FROM skips k WHERE k.queue = $1 AND k.item_id = p.id \
                                AND k.user_name = $2) \
                 ORDER BY p.position LIMIT 1"
            );
            let row = sqlx::query(&sql)
                .bind(queue)
                .bind(rater)
                .fetch_optional(&self.pool)
                .await?;
            if let Some(r) = row {
                let id: String = r.try_get("id")?;
                let (baseline, candidate): (String, String) =
                    (r.try_get("baseline")?, r.try_get("candidate")?);
                let (left, right) = if candidate_left(&id, rater) {
                    (candidate, baseline)
                } else {
                    (baseline, candidate)
                };
                return Ok(Some(ShownPair {
                    prompt: r.try_get("prompt")?,
                    id,
                    left,
                    right,
                }));
            }
        }
        Ok(None)
    }

    /// Stores `rater`'s choice on pair `id` (replacing an earlier one), durably.
    pub async fn put_judgment(
        &self,
        queue: &str,
        id: &str,
        rater: &str,
        choice: Choice,
    ) -> Result<Judgment> {
        let left = candidate_left(id, rater);
        let score = choice.candidate_score(left);
        let _w = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        let pair = sqlx::query(
            "SELECT unfiltered_accepted, filtered_refused FROM pairs WHERE queue = $1 AND id = $2",
        )
        .bind(queue)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| WebError::field("pair", format!("no pair `{id}` in queue `{queue}`")))?;
        let (accepted, refused): (i64, i64) = (
            pair.try_get("unfiltered_accepted")?,
            pair.try_get("filtered_refused")?,
        );
        if accepted != 0 || refused != 0 {
            return Err(WebError::field(
                "pair",
                format!("pair `{id}` needs no judgment"),
            ));
        }
        sqlx::query(
            "INSERT INTO judgments (queue, pair_id, rater, candidate_score, candidate_left, time, seq) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (queue, pair_id, rater) DO UPDATE SET \
             candidate_score = excluded.candidate_score, candidate_left = excluded.candidate_left, \
             time = excluded.time, seq = excluded.seq",
        )
        .bind(queue)
        .bind(id)
        .bind(rater)
        .bind(score)
        .bind(i64::from(left))
        .bind(nines_data::record::now_rfc3339())
        .bind(now_us())
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM skips WHERE queue = $1 AND item_id = $2 AND user_name = $3")
            .bind(queue)
            .bind(id)
            .bind(rater)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Judgment {
            id: id.to_string(),
            rater: rater.to_string(),
            candidate_score: score,
            candidate_left: left,
        })
    }

    /// `rater`'s judgments in `queue` (every rater's when `None`), in the order given.
    pub async fn judgments(&self, queue: &str, rater: Option<&str>) -> Result<Vec<Judgment>> {
        let rows = sqlx::query(
            "SELECT pair_id, rater, candidate_score, candidate_left FROM judgments \
             WHERE queue = $1 AND ($2 = '' OR rater = $2) ORDER BY seq, pair_id, rater",
        )
        .bind(queue)
        .bind(rater.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Judgment {
                    id: r.try_get("pair_id")?,
                    rater: r.try_get("rater")?,
                    candidate_score: r.try_get("candidate_score")?,
                    candidate_left: r.try_get::<i64, _>("candidate_left")? != 0,
                })
            })
            .collect()
    }

    /// Whether pair `id` is in `queue`.
    pub async fn has_pair(&self, queue: &str, id: &str) -> Result<bool> {
        let row = sqlx::query("SELECT 1 FROM pairs WHERE queue = $1 AND id = $2")
            .bind(queue)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Pairs to judge in `queue` and how many of them `rater` has judged.
    pub async fn pair_progress(&self, queue: &str, rater: &str) -> Result<(i64, i64)> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM pairs WHERE queue = $1 AND unfiltered_accepted = 0 \
             AND filtered_refused = 0) AS total, \
             (SELECT COUNT(*) FROM judgments WHERE queue = $1 AND rater = $2) AS mine",
        )
        .bind(queue)
        .bind(rater)
        .fetch_one(&self.pool)
        .await?;
        Ok((row.try_get("total")?, row.try_get("mine")?))
    }

    /// The running win rate of the candidate over the baseline in `queue`, by the efficient
    /// estimator at 95%: accepted pairs count 1/2, refused ones 0, and a judged pair the mean
    /// of its raters' scores; pairs not judged yet are treated as outside a random subsample.
    pub async fn win_rate(&self, queue: &str) -> Result<WinRateReport> {
        let rows = sqlx::query(
            "SELECT p.id, p.unfiltered_accepted, p.filtered_refused, \
             (SELECT AVG(j.candidate_score) FROM judgments j WHERE j.queue = p.queue AND j.pair_id = p.id) AS mean, \
             (SELECT COUNT(*) FROM judgments j WHERE j.queue = p.queue AND j.pair_id = p.id) AS n \
             FROM pairs p WHERE p.queue = $1 ORDER BY p.position",
        )
        .bind(queue)
        .fetch_all(&self.pool)
        .await?;
        let mut records = Vec::with_capacity(rows.len());
        let (mut to_judge, mut judged, mut judgments) = (0, 0, 0);
        for r in &rows {
            let accepted = r.try_get::<i64, _>("unfiltered_accepted")? != 0;
            let refused = r.try_get::<i64, _>("filtered_refused")? != 0;
            let n: i64 = r.try_get("n")?;
            let mean: Option<f64> = if n > 0 { r.try_get("mean")? } else { None };
            records.push(if refused {
                PairRecord::refused(accepted)
            } else if accepted {
                PairRecord::accepted()
            } else {
                to_judge += 1;
                if mean.is_some() {
                    judged += 1;
                    judgments += n as usize;
                }
                PairRecord::rejected(mean)
            });
        }
        let options = EfficientOptions {
            missing: MissingJudgments::RandomSubsample,
            ..EfficientOptions::at_level(0.95)
        };
        let efficient = if judged == 0 && to_judge > 0 {
            Err("no pair judged yet".to_string())
        } else {
            win_rate::efficient_with(&records, &options).map_err(|e| e.to_string())
        };
        Ok(WinRateReport {
            pairs: rows.len(),
            to_judge,
            judged,
            judgments,
            efficient,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_score_the_candidate_whichever_side_it_is_on() {
        assert_eq!(Choice::Left.candidate_score(true), 1.0);
        assert_eq!(Choice::Left.candidate_score(false), 0.0);
        assert_eq!(Choice::Right.candidate_score(false), 1.0);
        assert_eq!(Choice::Right.candidate_score(true), 0.0);
        assert_eq!(Choice::Tie.candidate_score(true), 0.5);
        assert!(Choice::parse("middle").is_err());
    }

    #[test]
    fn the_side_coin_is_fair_and_differs_between_raters() {
        let left = (0..1000)
            .filter(|i| candidate_left(&format!("p{i}"), "ana"))
            .count();
        assert!((430..570).contains(&left), "{left}");
        let differ = (0..200)
            .filter(|i| {
                candidate_left(&format!("p{i}"), "ana") != candidate_left(&format!("p{i}"), "ben")
            })
            .count();
        assert!((60..140).contains(&differ), "{differ}");
    }
}
