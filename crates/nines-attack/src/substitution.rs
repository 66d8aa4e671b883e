//! The token-substitution attack (HotFlip / GCG style): at the words that push the score up
//! most, try the replacement words that the embedding gradient says lower the classifier's
//! logit most, keep the best few texts (beam; width 1 is greedy), and stop when one is
//! accepted by the classifier while the oracle still says injury.
//!
//! First-order estimate: replacing the word whose first token is at row `i` (and whose other
//! tokens are rows `R`) by the single-token word `v` changes the logit by about
//! `(E_v − e_i)·g_i − Σ_{r∈R} e_r·g_r`, where `E` is the embedding table, `e` the pair's
//! embeddings and `g = ∂logit/∂e`. Candidates are whole-word vocabulary entries (no
//! continuation pieces), so the edited text re-tokenizes to them. The classifier then scores
//! the candidates for real; the generator's fluency filter drops those whose mean
//! log-probability per token falls too far below the original's.
//!
//! Oracle feedback prunes the search: when accepted texts are no longer injuries, the word
//! their last edit replaced carries the injury; after
//! [`SubstitutionConfig::protect_after`] such texts that word is kept for the rest of the seed.

use std::collections::HashSet;

use nines_classify::PairPart;
use nines_runtime::LanguageModel;
use tch::{Kind, Tensor};

use crate::config::{Budget, EditPart, SubstitutionConfig};
use crate::error::{AttackError, Result};
use crate::fluency::{Fluency, PROMPT_CONTEXT, fluent_enough};
use crate::oracle::Oracle;
use crate::outcome::{AttackKind, AttackReport, Edit, Failure, RunClock, Seed, SeedOutcome, Tally};
use crate::text::{match_case, replace_range, words};
use crate::victim::Victim;

/// The word a vocabulary entry stands for when it is a whole-word token of at least
/// `min_chars` ASCII letters: `word` for WordPiece (not `##…`), `Ġword` / `▁word` for
/// byte-level BPE and SentencePiece (`marked`: the vocabulary marks word starts).
///
/// ```
/// use nines_attack::substitution::word_token;
/// assert_eq!(word_token("struck", false, 2).as_deref(), Some("struck"));
/// assert_eq!(word_token("##ed", false, 2), None);
/// assert_eq!(word_token("Ġstruck", true, 2).as_deref(), Some("struck"));
/// assert_eq!(word_token("struck", true, 2), None); // mid-word piece in a marked vocabulary
/// assert_eq!(word_token("a", false, 2), None);
/// ```
pub fn word_token(entry: &str, marked: bool, min_chars: usize) -> Option<String> {
    let body = if marked {
        entry
            .strip_prefix('Ġ')
            .or_else(|| entry.strip_prefix('▁'))?
    } else {
        entry
    };
    (body.len() >= min_chars && body.bytes().all(|b| b.is_ascii_alphabetic()))
        .then(|| body.to_string())
}

/// One hypothesis of the beam.
#[derive(Debug, Clone)]
struct Hypothesis {
    prompt: String,
    completion: String,
    edits: Vec<Edit>,
    score: f32,
}

impl Hypothesis {
    fn edited(&self, part: EditPart) -> &str {
        match part {
            EditPart::Completion => &self.completion,
            EditPart::Prompt => &self.prompt,
        }
    }
}

/// Queries already spent on the current seed, against its budget.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SeedBudget {
    pub budget: Budget,
    pub victim_start: u64,
    pub oracle_used: u64,
    pub generator_start: u64,
}

impl SeedBudget {
    pub(crate) fn new(budget: Budget, victim: &Victim<'_>, generator_calls: u64) -> Self {
        SeedBudget {
            budget,
            victim_start: victim.queries(),
            oracle_used: 0,
            generator_start: generator_calls,
        }
    }

    pub(crate) fn classifier_left(&self, victim: &Victim<'_>) -> u64 {
        self.budget
            .classifier_queries
            .saturating_sub(victim.queries() - self.victim_start)
    }

    pub(crate) fn oracle_left(&self) -> u64 {
        self.budget.oracle_queries.saturating_sub(self.oracle_used)
    }

    pub(crate) fn tally(&self, victim: &Victim<'_>, generator_calls: u64) -> Tally {
        Tally {
            classifier_queries: victim.queries() - self.victim_start,
            oracle_queries: self.oracle_used,
            generator_calls: generator_calls - self.generator_start,
        }
    }
}

/// A pair found by a search: accepted and injurious.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub prompt: String,
    pub completion: String,
    pub score: f32,
    pub edits: Vec<Edit>,
}

/// The substitution attack, reusable across seeds.
pub struct SubstitutionAttack<'a> {
    victim: &'a Victim<'a>,
    fluency: Option<Fluency<'a>>,
    config: SubstitutionConfig,
    budget: Budget,
    words: Vec<Option<String>>,
    /// `(vocab,)`: 0 for usable replacement words, +∞ for the rest.
    penalty: Tensor,
}

impl std::fmt::Debug for SubstitutionAttack<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubstitutionAttack")
            .field("config", &self.config)
            .field("budget", &self.budget)
            .finish()
    }
}

impl<'a> SubstitutionAttack<'a> {
    /// An attack on `victim`; `generator` is needed when the fluency filter is on.
    ///
    /// # Errors
    /// [`AttackError::ZeroBudget`], [`AttackError::Config`] (an invalid config, or a
    /// fluency filter without a generator).
    pub fn new(
        victim: &'a Victim<'a>,
        generator: Option<&'a LanguageModel>,
        config: SubstitutionConfig,
        budget: Budget,
    ) -> Result<Self> {
        config.validate()?;
        budget.validate()?;
        let fluency = match (config.max_logprob_drop, generator) {
            (Some(_), None) => {
                return Err(AttackError::config(
                    "substitution.max_logprob_drop",
                    "the fluency filter needs a generator",
                ));
            }
            (Some(_), Some(lm)) => Some(Fluency::new(lm, 8)),
            (None, _) => None,
        };
        let vocab = victim.vocabulary();
        let rows = victim.embedding_table()?.size()[0] as usize;
        let marked = vocab
            .iter()
            .any(|s| s.starts_with('Ġ') || s.starts_with('▁'));
        let words: Vec<Option<String>> = (0..rows)
            .map(|i| {
                vocab
                    .get(i)
                    .and_then(|s| word_token(s, marked, config.min_word_chars))
            })
            .collect();
        if words.iter().all(Option::is_none) {
            return Err(AttackError::data(
                "vocabulary",
                "the classifier's tokenizer has no whole-word tokens to substitute",
            ));
        }
        let pen: Vec<f32> = words
            .iter()
            .map(|w| if w.is_some() { 0.0 } else { f32::INFINITY })
            .collect();
        Ok(SubstitutionAttack {
            victim,
            fluency,
            config,
            budget,
            words,
            penalty: Tensor::from_slice(&pen),
        })
    }

    /// The budget per seed.
    pub fn budget(&self) -> Budget {
        self.budget
    }

    pub(crate) fn generator_calls(&self) -> u64 {
        self.fluency.as_ref().map_or(0, Fluency::calls)
    }

    /// Attacks every seed's completion; failures at most one per seed.
    pub fn run(&mut self, seeds: &[Seed], oracle: &mut dyn Oracle) -> Result<AttackReport> {
        AttackReport::over_seeds(AttackKind::Substitution, seeds, |s, clock| {
            self.attack_seed(s, oracle, clock)
        })
    }

    /// Attacks one seed's completion.
    ///
    /// # Errors
    /// [`AttackError::EmptyText`] or [`AttackError::TooLong`] for the seed; model failures.
    pub fn attack_seed(
        &mut self,
        seed: &Seed,
        oracle: &mut dyn Oracle,
        clock: &RunClock,
    ) -> Result<SeedOutcome> {
        let start = clock.seconds();
        let mut b = SeedBudget::new(self.budget, self.victim, self.generator_calls());
        let (usable, seed_score) = check_seed(self.victim, oracle, seed, &mut b)?;
        let found = if usable {
            self.search(
                &seed.prompt,
                &seed.completion,
                seed_score,
                EditPart::Completion,
                oracle,
                &mut b,
            )?
        } else {
            None
        };
        let spent = b.tally(self.victim, self.generator_calls());
        Ok(SeedOutcome {
            seed_id: seed.id.clone(),
            seed_score,
            usable,
            failure: found.map(|f| Failure {
                attack: AttackKind::Substitution,
                seed_id: seed.id.clone(),
                prompt: f.prompt,
                completion: f.completion,
                score: f.score,
                threshold: self.victim.threshold(),
                seed_score,
                edits: f.edits,
                oracle: oracle.name().to_string(),
                classifier_queries: spent.classifier_queries,
                oracle_queries: spent.oracle_queries,
                seconds: clock.seconds(),
            }),
            spent,
            seconds: clock.seconds() - start,
        })
    }

    /// Beam search over word substitutions in `part` of the pair.
    pub(crate) fn search(
        &mut self,
        prompt: &str,
        completion: &str,
        score: f32,
        part: EditPart,
        oracle: &mut dyn Oracle,
        b: &mut SeedBudget,
    ) -> Result<Option<Found>> {
        let original_fluency = match (&mut self.fluency, part) {
            (Some(f), EditPart::Completion) => {
                Some(f.mean_logprob(&[(fluency_context(prompt), completion)])?[0])
            }
            (Some(f), EditPart::Prompt) => Some(f.mean_logprob(&[(PROMPT_CONTEXT, prompt)])?[0]),
            (None, _) => None,
        };
        let mut beam = vec![Hypothesis {
            prompt: prompt.to_string(),
            completion: completion.to_string(),
            edits: Vec::new(),
            score,
        }];
        let mut seen: HashSet<String> = HashSet::new();
        // Words whose replacement made `protect_after` accepted texts that the oracle no
        // longer calls injuries: the injury rests on them, so they are not edited again.
        let mut protected: HashSet<usize> = HashSet::new();
        let mut misses: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
        seen.insert(beam[0].edited(part).to_string());
        for _step in 0..self.config.max_edits {
            let mut children = Vec::new();
            beam.retain(|h| !h.edits.iter().any(|e| protected.contains(&e.word)));
            for h in &beam {
                if b.classifier_left(self.victim) < 2 {
                    break;
                }
                children.extend(self.expand(h, part, &mut seen, &protected)?);
            }
            let left = b.classifier_left(self.victim) as usize;
            children.truncate(left);
            if children.is_empty() {
                return Ok(None);
            }
            let pairs: Vec<(&str, &str)> = children
                .iter()
                .map(|c| (c.prompt.as_str(), c.completion.as_str()))
                .collect();
            let scores = self.victim.score(&pairs)?;
            for (c, s) in children.iter_mut().zip(scores) {
                c.score = s;
            }
            children.sort_by(|x, y| x.score.total_cmp(&y.score));
            // In score order, in chunks: fluency (when on), then the oracle for accepted
            // texts, until the next beam is full.
            let mut next = Vec::new();
            let chunk = 2 * self.config.beam_width;
            while !children.is_empty() && next.len() < self.config.beam_width {
                let take = children.len().min(chunk);
                let batch: Vec<Hypothesis> = children
                    .drain(..take)
                    .filter(|c| !c.edits.iter().any(|e| protected.contains(&e.word)))
                    .collect();
                for c in self.fluent(batch, part, original_fluency)? {
                    if c.edits.iter().any(|e| protected.contains(&e.word)) {
                        continue;
                    }
                    if self.victim.accepts(c.score) {
                        if b.oracle_left() == 0 {
                            return Ok(None);
                        }
                        b.oracle_used += 1;
                        if oracle.judge(&[(c.prompt.as_str(), c.completion.as_str())])?[0] {
                            return Ok(Some(Found {
                                prompt: c.prompt,
                                completion: c.completion,
                                score: c.score,
                                edits: c.edits,
                            }));
                        }
                        // Accepted but no longer an injury: the last edit removed it; drop
                        // the branch and keep that word.
                        if let Some(e) = c.edits.last() {
                            let n = misses.entry(e.word).or_insert(0);
                            *n += 1;
                            if *n >= self.config.protect_after {
                                protected.insert(e.word);
                            }
                        }
                        continue;
                    }
                    if next.len() < self.config.beam_width {
                        next.push(c);
                    }
                }
            }
            if next.is_empty() {
                return Ok(None);
            }
            beam = next;
        }
        Ok(None)
    }

    /// The hypotheses whose edited text passes the fluency filter (all when it is off).
    fn fluent(
        &mut self,
        batch: Vec<Hypothesis>,
        part: EditPart,
        original: Option<f32>,
    ) -> Result<Vec<Hypothesis>> {
        let (Some(f), Some(orig), Some(max_drop)) =
            (&mut self.fluency, original, self.config.max_logprob_drop)
        else {
            return Ok(batch);
        };
        let items: Vec<(&str, &str)> = batch
            .iter()
            .map(|c| match part {
                EditPart::Completion => (fluency_context(&c.prompt), c.completion.as_str()),
                EditPart::Prompt => (PROMPT_CONTEXT, c.prompt.as_str()),
            })
            .collect();
        let flu = f.mean_logprob(&items)?;
        Ok(batch
            .into_iter()
            .zip(flu)
            .filter(|(_, x)| fluent_enough(orig, *x, max_drop))
            .map(|(c, _)| c)
            .collect())
    }

    /// The best single-word substitutions of `h` by the first-order estimate; one gradient.
    fn expand(
        &self,
        h: &Hypothesis,
        part: EditPart,
        seen: &mut HashSet<String>,
        protected: &HashSet<usize>,
    ) -> Result<Vec<Hypothesis>> {
        let tokens = self
            .victim
            .tokenize(&h.prompt, &h.completion, "candidate")?;
        let g = self.victim.gradient(&tokens)?;
        let gx: Vec<f32> = Vec::<f32>::try_from(
            &(&g.gradient * &g.embeddings)
                .sum_dim_intlist(-1, false, None)
                .to_kind(Kind::Float),
        )?;
        let text = h.edited(part);
        let spans = words(text);
        let want = match part {
            EditPart::Completion => PairPart::Completion,
            EditPart::Prompt => PairPart::Prompt,
        };
        let edited: HashSet<usize> = h.edits.iter().map(|e| e.word).collect();
        // Token rows of each word.
        let mut rows: Vec<Vec<usize>> = vec![Vec::new(); spans.len()];
        for (i, t) in tokens.tokens.iter().enumerate() {
            if t.part != want {
                continue;
            }
            if let Some(w) = spans
                .iter()
                .position(|r| t.start < r.end && t.end > r.start)
            {
                rows[w].push(i);
            }
        }
        let mut positions: Vec<(usize, f32)> = rows
            .iter()
            .enumerate()
            .filter(|(w, r)| !r.is_empty() && !edited.contains(w) && !protected.contains(w))
            .map(|(w, r)| (w, r.iter().map(|&i| gx[i]).sum::<f32>()))
            .collect();
        positions.sort_by(|a, b| b.1.total_cmp(&a.1));
        positions.truncate(self.config.positions);
        let table = self.victim.embedding_table()?;
        let mut pool: Vec<(f32, usize, i64)> = Vec::new();
        for &(w, _) in &positions {
            let r = &rows[w];
            let first = r[0];
            let rest: f32 = r[1..].iter().map(|&i| gx[i]).sum();
            let gi = g.gradient.get(first as i64);
            let est = table.mv(&gi) - f64::from(gx[first] + rest) + &self.penalty;
            let current = tokens.tokens[first].id;
            let k = (self.config.candidates + 1).min(est.size()[0] as usize) as i64;
            let (vals, ids) = est.topk(k, 0, false, true);
            let vals: Vec<f32> = Vec::<f32>::try_from(&vals)?;
            let ids: Vec<i64> = Vec::<i64>::try_from(&ids)?;
            for (v, id) in vals.into_iter().zip(ids) {
                if v.is_finite() && !(r.len() == 1 && id == current) {
                    pool.push((v, w, id));
                }
            }
        }
        // Round-robin over positions (each position's candidates best first), so that one
        // word cannot take every candidate slot.
        pool.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.total_cmp(&b.0)));
        let mut rank = vec![0usize; pool.len()];
        for i in 1..pool.len() {
            if pool[i].1 == pool[i - 1].1 {
                rank[i] = rank[i - 1] + 1;
            }
        }
        let mut order: Vec<usize> = (0..pool.len()).collect();
        order.sort_by(|&i, &j| rank[i].cmp(&rank[j]).then(pool[i].0.total_cmp(&pool[j].0)));
        let pool: Vec<(f32, usize, i64)> = order.into_iter().map(|i| pool[i]).collect();
        let mut out = Vec::new();
        for (_, w, id) in pool {
            if out.len() >= self.config.candidates {
                break;
            }
            let Some(word) = self.words.get(id as usize).and_then(Option::as_ref) else {
                continue;
            };
            let old = &text[spans[w].clone()];
            if old.eq_ignore_ascii_case(word) {
                continue;
            }
            let new_word = match_case(word, old);
            let new_text = replace_range(text, spans[w].clone(), &new_word);
            if !seen.insert(new_text.clone()) {
                continue;
            }
            let mut edits = h.edits.clone();
            edits.push(Edit {
                word: w,
                from: old.to_string(),
                to: new_word,
            });
            let (prompt, completion) = match part {
                EditPart::Completion => (h.prompt.clone(), new_text),
                EditPart::Prompt => (new_text, h.completion.clone()),
            };
            out.push(Hypothesis {
                prompt,
                completion,
                edits,
                score: f32::NAN,
            });
        }
        Ok(out)
    }
}

/// The generator context for a completion's fluency: the prompt's last 300 bytes (whole
/// characters), which keeps scoring cheap.
pub(crate) fn fluency_context(prompt: &str) -> &str {
    let mut start = prompt.len().saturating_sub(300);
    while !prompt.is_char_boundary(start) {
        start += 1;
    }
    let ctx = &prompt[start..];
    if ctx.trim().is_empty() {
        PROMPT_CONTEXT
    } else {
        ctx
    }
}

/// Scores a seed (one classifier query) and, when the classifier flags it, asks the oracle
/// (one oracle query): usable seeds are flagged injuries.
pub(crate) fn check_seed(
    victim: &Victim<'_>,
    oracle: &mut dyn Oracle,
    seed: &Seed,
    b: &mut SeedBudget,
) -> Result<(bool, f32)> {
    victim.tokenize(&seed.prompt, &seed.completion, &format!("seed {}", seed.id))?;
    let score = victim.score(&[(seed.prompt.as_str(), seed.completion.as_str())])?[0];
    if victim.accepts(score) {
        return Ok((false, score));
    }
    b.oracle_used += 1;
    let injury = oracle.judge(&[(seed.prompt.as_str(), seed.completion.as_str())])?[0];
    Ok((injury, score))
}
