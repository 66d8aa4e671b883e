//! Prompt search: for a fixed injurious completion, find a prompt under which the
//! classifier accepts it — first among prompts from a pool (the corpus), then by word
//! substitutions in the lowest-scoring of them.

use rand::SeedableRng;
use rand::seq::IndexedRandom;

use crate::config::{Budget, EditPart, PromptSearchConfig};
use crate::error::{AttackError, Result};
use crate::oracle::Oracle;
use crate::outcome::{AttackKind, AttackReport, Failure, RunClock, Seed, SeedOutcome};
use crate::paraphrase::fxhash;
use crate::substitution::{SeedBudget, SubstitutionAttack, check_seed};
use crate::victim::Victim;

/// The prompt search, reusable across seeds.
pub struct PromptSearch<'a> {
    victim: &'a Victim<'a>,
    substitution: SubstitutionAttack<'a>,
    config: PromptSearchConfig,
    budget: Budget,
    pool: Vec<String>,
}

impl std::fmt::Debug for PromptSearch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromptSearch")
            .field("config", &self.config)
            .field("pool", &self.pool.len())
            .finish()
    }
}

impl<'a> PromptSearch<'a> {
    /// A search over `pool` (candidate prompts); `generator` for the substitution step's
    /// fluency filter.
    ///
    /// # Errors
    /// [`AttackError::Data`] for an empty pool; invalid config or budget.
    pub fn new(
        victim: &'a Victim<'a>,
        generator: Option<&'a nines_runtime::LanguageModel>,
        pool: Vec<String>,
        config: PromptSearchConfig,
        budget: Budget,
    ) -> Result<Self> {
        config.validate()?;
        budget.validate()?;
        let pool: Vec<String> = pool.into_iter().filter(|p| !p.trim().is_empty()).collect();
        if pool.is_empty() {
            return Err(AttackError::data("prompt pool", "no non-empty prompts"));
        }
        let substitution =
            SubstitutionAttack::new(victim, generator, config.substitution.clone(), budget)?;
        Ok(PromptSearch {
            victim,
            substitution,
            config,
            budget,
            pool,
        })
    }

    /// Searches a prompt for every seed's completion.
    pub fn run(&mut self, seeds: &[Seed], oracle: &mut dyn Oracle) -> Result<AttackReport> {
        AttackReport::over_seeds(AttackKind::PromptSearch, seeds, |s, clock| {
            self.attack_seed(s, oracle, clock)
        })
    }

    /// Searches a prompt for one seed's completion (the seed's own prompt only decides
    /// whether the seed is usable).
    pub fn attack_seed(
        &mut self,
        seed: &Seed,
        oracle: &mut dyn Oracle,
        clock: &RunClock,
    ) -> Result<SeedOutcome> {
        let start = clock.seconds();
        let mut b = SeedBudget::new(
            self.budget,
            self.victim,
            self.substitution.generator_calls(),
        );
        let (usable, seed_score) = check_seed(self.victim, oracle, seed, &mut b)?;
        let mut found = None;
        if usable {
            found = self.search(seed, oracle, &mut b)?;
        }
        let spent = b.tally(self.victim, self.substitution.generator_calls());
        Ok(SeedOutcome {
            seed_id: seed.id.clone(),
            seed_score,
            usable,
            failure: found.map(|(prompt, score, edits)| Failure {
                attack: AttackKind::PromptSearch,
                seed_id: seed.id.clone(),
                prompt,
                completion: seed.completion.clone(),
                score,
                threshold: self.victim.threshold(),
                seed_score,
                edits,
                oracle: oracle.name().to_string(),
                classifier_queries: spent.classifier_queries,
                oracle_queries: spent.oracle_queries,
                seconds: clock.seconds(),
            }),
            spent,
            seconds: clock.seconds() - start,
        })
    }

    #[allow(clippy::type_complexity)]
    fn search(
        &mut self,
        seed: &Seed,
        oracle: &mut dyn Oracle,
        b: &mut SeedBudget,
    ) -> Result<Option<(String, f32, Vec<crate::outcome::Edit>)>> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(self.config.seed ^ fxhash(&seed.id));
        let n = self.config.pool_prompts.min(self.pool.len());
        let left = b.classifier_left(self.victim) as usize;
        let drawn: Vec<&String> = self
            .pool
            .choose_multiple(&mut rng, n)
            .filter(|p| {
                p.as_str() != seed.prompt
                    && self
                        .victim
                        .tokenize(p, &seed.completion, "candidate")
                        .is_ok()
            })
            .take(left)
            .collect();
        if drawn.is_empty() {
            return Ok(None);
        }
        let pairs: Vec<(&str, &str)> = drawn
            .iter()
            .map(|p| (p.as_str(), seed.completion.as_str()))
            .collect();
        let scores = self.victim.score(&pairs)?;
        let mut ranked: Vec<(f32, &String)> = scores.into_iter().zip(drawn).collect();
        ranked.sort_by(|x, y| x.0.total_cmp(&y.0));
        for &(s, p) in ranked.iter().filter(|(s, _)| self.victim.accepts(*s)) {
            if b.oracle_left() == 0 {
                return Ok(None);
            }
            b.oracle_used += 1;
            if oracle.judge(&[(p.as_str(), seed.completion.as_str())])?[0] {
                return Ok(Some((p.clone(), s, Vec::new())));
            }
        }
        let best: Vec<(f32, String)> = ranked
            .iter()
            .filter(|(s, _)| !self.victim.accepts(*s))
            .take(self.config.edit_best)
            .map(|(s, p)| (*s, (*p).clone()))
            .collect();
        for (s, p) in best {
            if b.classifier_left(self.victim) < 2 || b.oracle_left() == 0 {
                break;
            }
            if let Some(f) =
                self.substitution
                    .search(&p, &seed.completion, s, EditPart::Prompt, oracle, b)?
            {
                return Ok(Some((f.prompt, f.score, f.edits)));
            }
        }
        Ok(None)
    }
}
