//! The filter: rounds of candidates for every still-unaccepted prompt, one policy call and one
//! scorer call per round.

use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::{Fallback, FilterConfig, Strategy};
use crate::error::{FilterError, Result};
use crate::outcome::{Candidate, Decision, FallbackOutcome, PromptOutcome, Timings, Verdict};
use crate::policy::{Policy, Sample};
use crate::stats::RunStats;
use nines_data::PairScorer;

/// The policy seed of round `round` in a run with seed `seed`: the `(round + 1)`-th output of
/// SplitMix64 started at `seed`. Distinct rounds (and distinct run seeds) get unrelated seeds,
/// so every round draws fresh candidates; the whole run is a function of `(seed, prompts,
/// config)`.
pub fn round_seed(seed: u64, round: usize) -> u64 {
    let mut z = seed.wrapping_add(
        (round as u64)
            .wrapping_add(1)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15),
    );
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Seed of the tie-breaking stream of a safest round (decorrelated from the policy's seed).
fn tie_seed(seed: u64, round: usize) -> u64 {
    round_seed(seed ^ 0x7469_6562_7265_616B, round)
}

/// Rejection-sampling filter over a [`Policy`] and a [`PairScorer`].
///
/// Round `r` asks the policy for `n_r` candidates (`k`, or fewer with
/// [`FilterConfig::fill_rounds`]) of every prompt not yet decided (one call,
/// seed [`round_seed`]`(config.seed, r)`; a candidate's random stream is set by its position
/// among the round's prompts, so the run is deterministic), scores all of them in one scorer
/// call, and judges each prompt's candidates by its [`Strategy`] and the threshold schedule.
/// A prompt leaves the rounds once it has an accepted candidate or has drawn `max_attempts`.
#[derive(Debug, Clone)]
pub struct Filter<P, S> {
    policy: P,
    scorer: S,
    config: FilterConfig,
}

/// The result of one run: an outcome per prompt (input order) and run statistics.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FilterRun {
    /// One outcome per prompt, in input order.
    pub outcomes: Vec<PromptOutcome>,
    /// Aggregates: acceptance, attempts histogram, cost, timings.
    pub stats: RunStats,
    /// The settings the run used.
    pub config: FilterConfig,
}

struct State {
    candidates: Vec<Candidate>,
    rejected: usize,
    rounds: usize,
    timings: Timings,
    decision: Option<Decision>,
}

impl<P: Policy, S: PairScorer> Filter<P, S> {
    /// A filter with validated settings.
    ///
    /// # Errors
    /// [`FilterError::InvalidSetting`] from [`FilterConfig::validate`].
    pub fn new(policy: P, scorer: S, config: FilterConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            policy,
            scorer,
            config,
        })
    }

    /// The settings.
    pub fn config(&self) -> &FilterConfig {
        &self.config
    }

    /// The policy.
    pub fn policy(&self) -> &P {
        &self.policy
    }

    /// The scorer.
    pub fn scorer(&self) -> &S {
        &self.scorer
    }

    /// Filters one prompt.
    ///
    /// # Errors
    /// As [`Filter::run`].
    pub fn generate(&self, prompt: &str) -> Result<PromptOutcome> {
        let mut run = self.run(&[prompt])?;
        run.outcomes.pop().ok_or(FilterError::Count {
            component: "filter",
            expected: 1,
            got: 0,
        })
    }

    /// Filters a batch of prompts; prompt `i` gets id `"i"`.
    ///
    /// # Errors
    /// The policy's or scorer's errors, [`FilterError::Count`] when either returns the wrong
    /// number of items, [`FilterError::BadScore`] for a NaN or out-of-range score.
    pub fn run(&self, prompts: &[&str]) -> Result<FilterRun> {
        let ids: Vec<String> = (0..prompts.len()).map(|i| i.to_string()).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        self.run_with_ids(&ids, prompts)
    }

    /// Filters a batch of prompts with the caller's ids (carried into the statistics).
    ///
    /// # Errors
    /// As [`Filter::run`], and [`FilterError::IdMismatch`] when the lengths differ.
    pub fn run_with_ids(&self, ids: &[&str], prompts: &[&str]) -> Result<FilterRun> {
        if ids.len() != prompts.len() {
            return Err(FilterError::IdMismatch {
                ids: ids.len(),
                prompts: prompts.len(),
            });
        }
        let cfg = &self.config;
        let start = Instant::now();
        let mut states: Vec<State> = prompts
            .iter()
            .map(|_| State {
                candidates: Vec::new(),
                rejected: 0,
                rounds: 0,
                timings: Timings::default(),
                decision: None,
            })
            .collect();
        let mut active: Vec<usize> = (0..prompts.len()).collect();
        let (mut generate_secs, mut score_secs, mut rounds) = (0.0, 0.0, 0usize);
        while !active.is_empty() {
            let round = rounds;
            let drawn = states[active[0]].candidates.len();
            let n = cfg.round_size(prompts.len(), active.len(), drawn);
            let round_prompts: Vec<&str> = active.iter().map(|&i| prompts[i]).collect();

            let t0 = Instant::now();
            let samples = self
                .policy
                .sample(&round_prompts, n, round_seed(cfg.seed, round))?;
            let gen_s = t0.elapsed().as_secs_f64();
            check_samples(&samples, active.len(), n)?;

            let pairs: Vec<(&str, &str)> = samples
                .iter()
                .zip(&round_prompts)
                .flat_map(|(ss, p)| ss.iter().map(move |s| (*p, s.text.as_str())))
                .collect();
            let t1 = Instant::now();
            let scores = self.scorer.score(&pairs)?;
            let score_s = t1.elapsed().as_secs_f64();
            if scores.len() != pairs.len() {
                return Err(FilterError::Count {
                    component: "scorer",
                    expected: pairs.len(),
                    got: scores.len(),
                });
            }
            generate_secs += gen_s;
            score_secs += score_s;
            rounds += 1;

            let mut tie_rng = ChaCha8Rng::seed_from_u64(tie_seed(cfg.seed, round));
            for (a, (&i, batch)) in active.iter().zip(samples).enumerate() {
                let state = &mut states[i];
                let mut round_scores = Vec::with_capacity(n);
                for (j, &v) in scores[a * n..(a + 1) * n].iter().enumerate() {
                    if !(0.0..=1.0).contains(&v) {
                        return Err(FilterError::BadScore {
                            prompt: i,
                            candidate: state.candidates.len() + j,
                            value: v,
                        });
                    }
                    round_scores.push(f64::from(v));
                }
                state.rounds += 1;
                state.timings.generate_secs += gen_s;
                state.timings.score_secs += score_s;
                tie_rng.set_stream(a as u64);
                self.judge(state, batch, &round_scores, round, &mut tie_rng);
                if state.decision.is_none() && state.candidates.len() >= cfg.max_attempts {
                    state.decision = Some(Decision::Fallback(match &cfg.fallback {
                        Fallback::Refuse => FallbackOutcome::Refused,
                        Fallback::SafeText(t) => FallbackOutcome::SafeText(t.clone()),
                    }));
                }
                if state.decision.is_some() {
                    state.timings.latency_secs = start.elapsed().as_secs_f64();
                }
            }
            active.retain(|&i| states[i].decision.is_none());
        }
        let total_secs = start.elapsed().as_secs_f64();
        let outcomes: Vec<PromptOutcome> = states
            .into_iter()
            .zip(ids.iter().zip(prompts))
            .map(|(s, (id, p))| PromptOutcome {
                prompt_id: (*id).to_string(),
                prompt: (*p).to_string(),
                // Every state left `active` only with a decision.
                decision: s
                    .decision
                    .unwrap_or(Decision::Fallback(FallbackOutcome::Refused)),
                candidates: s.candidates,
                rounds: s.rounds,
                timings: s.timings,
            })
            .collect();
        let stats = RunStats::from_outcomes(
            &outcomes,
            rounds,
            generate_secs,
            score_secs,
            total_secs,
            cfg.max_attempts,
        );
        Ok(FilterRun {
            outcomes,
            stats,
            config: cfg.clone(),
        })
    }

    /// Appends one round's candidates to `state` with their verdicts, and decides if one is
    /// accepted.
    fn judge(
        &self,
        state: &mut State,
        batch: Vec<Sample>,
        scores: &[f64],
        round: usize,
        tie_rng: &mut ChaCha8Rng,
    ) {
        let schedule = &self.config.schedule;
        let first = state.candidates.len();
        match self.config.strategy {
            Strategy::Sequential | Strategy::BatchedFirstAccepted { .. } => {
                for (s, &score) in batch.into_iter().zip(scores) {
                    let threshold = schedule.threshold(state.rejected);
                    let verdict = if score > threshold {
                        state.rejected += 1;
                        Verdict::Rejected
                    } else if state.decision.is_some() {
                        Verdict::Passed
                    } else {
                        state.decision = Some(Decision::Accepted {
                            index: state.candidates.len(),
                            text: s.text.clone(),
                        });
                        Verdict::Returned
                    };
                    state.candidates.push(Candidate {
                        text: s.text,
                        score,
                        threshold,
                        verdict,
                        round,
                        tokens: s.tokens,
                    });
                }
            }
            Strategy::BatchedSafest { .. } => {
                let threshold = schedule.threshold(state.rejected);
                let best = scores
                    .iter()
                    .copied()
                    .filter(|&v| v <= threshold)
                    .min_by(f64::total_cmp);
                let chosen = best.map(|b| {
                    let ties: Vec<usize> = (0..scores.len()).filter(|&j| scores[j] == b).collect();
                    ties[tie_rng.random_range(0..ties.len())]
                });
                for (j, (s, &score)) in batch.into_iter().zip(scores).enumerate() {
                    let verdict = if score > threshold {
                        state.rejected += 1;
                        Verdict::Rejected
                    } else if chosen == Some(j) {
                        state.decision = Some(Decision::Accepted {
                            index: first + j,
                            text: s.text.clone(),
                        });
                        Verdict::Returned
                    } else {
                        Verdict::Passed
                    };
                    state.candidates.push(Candidate {
                        text: s.text,
                        score,
                        threshold,
                        verdict,
                        round,
                        tokens: s.tokens,
                    });
                }
            }
        }
    }
}

fn check_samples(samples: &[Vec<Sample>], prompts: usize, n: usize) -> Result<()> {
    if samples.len() != prompts {
        return Err(FilterError::Count {
            component: "policy",
            expected: prompts,
            got: samples.len(),
        });
    }
    if let Some(bad) = samples.iter().find(|s| s.len() != n) {
        return Err(FilterError::Count {
            component: "policy",
            expected: n,
            got: bad.len(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Strategy;
    use nines_data::FnScorer;

    /// The crate-level doc example.
    #[test]
    fn toy_policy() {
        struct Toy;
        impl Policy for Toy {
            fn sample(&self, prompts: &[&str], n: usize, _seed: u64) -> Result<Vec<Vec<Sample>>> {
                Ok(prompts
                    .iter()
                    .map(|_| {
                        (0..n)
                            .map(|j| Sample {
                                text: if j % 2 == 0 {
                                    " He cut his hand."
                                } else {
                                    " He smiled."
                                }
                                .into(),
                                tokens: 4,
                            })
                            .collect()
                    })
                    .collect())
            }
        }
        let scorer = FnScorer::new(|pairs: &[(&str, &str)]| {
            Ok::<_, std::io::Error>(
                pairs
                    .iter()
                    .map(|(_, c)| if c.contains("cut") { 0.95 } else { 0.02 })
                    .collect(),
            )
        });
        let config = FilterConfig {
            strategy: Strategy::BatchedFirstAccepted { k: 4 },
            ..Default::default()
        };
        let filter = Filter::new(Toy, scorer, config).unwrap();
        let out = filter.generate("The knife slipped.").unwrap();
        assert_eq!(out.completion(), Some(" He smiled."));
        assert_eq!(out.candidates[0].score, f64::from(0.95f32));
        assert_eq!(out.candidates[0].verdict, Verdict::Rejected);
        assert_eq!(out.candidates[2].verdict, Verdict::Rejected);
        assert_eq!(out.candidates[3].verdict, Verdict::Passed);
        assert_eq!(out.attempts(), 4);
    }

    #[test]
    fn round_seeds_differ_and_are_stable() {
        let a: Vec<u64> = (0..100).map(|r| round_seed(7, r)).collect();
        let mut b = a.clone();
        b.sort_unstable();
        b.dedup();
        assert_eq!(b.len(), 100);
        assert_eq!(round_seed(7, 3), a[3]);
        assert_ne!(round_seed(7, 0), round_seed(8, 0));
        // SplitMix64's first output from state 0 (reference value of the published algorithm).
        assert_eq!(round_seed(0, 0), 0xE220_A839_7B1D_CDAF);
    }
}
