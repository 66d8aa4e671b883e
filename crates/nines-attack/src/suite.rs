//! Several attacks over the same seeds: the unit the measures and the adversarial loop run.

use nines_runtime::LanguageModel;
use serde::{Deserialize, Serialize};

use crate::config::{Budget, ParaphraseConfig, PromptSearchConfig, SubstitutionConfig};
use crate::error::{AttackError, Result};
use crate::oracle::Oracle;
use crate::outcome::{AttackKind, AttackReport, Seed};
use crate::paraphrase::ParaphraseAttack;
use crate::prompt_search::PromptSearch;
use crate::substitution::SubstitutionAttack;
use crate::victim::Victim;

/// Which attacks to run, with what budget and settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AttackSuite {
    /// The attacks, run in this order. Default all three.
    pub attacks: Vec<AttackKind>,
    /// Budget per seed and attack.
    pub budget: Budget,
    /// Substitution settings.
    pub substitution: SubstitutionConfig,
    /// Paraphrase settings.
    pub paraphrase: ParaphraseConfig,
    /// Prompt-search settings.
    pub prompt_search: PromptSearchConfig,
}

impl Default for AttackSuite {
    fn default() -> Self {
        AttackSuite {
            attacks: AttackKind::ALL.to_vec(),
            budget: Budget::default(),
            substitution: SubstitutionConfig::default(),
            paraphrase: ParaphraseConfig::default(),
            prompt_search: PromptSearchConfig::default(),
        }
    }
}

impl AttackSuite {
    /// Checks every part that will run.
    pub fn validate(&self) -> Result<()> {
        if self.attacks.is_empty() {
            return Err(AttackError::config("suite.attacks", "no attack chosen"));
        }
        self.budget.validate()?;
        for a in &self.attacks {
            match a {
                AttackKind::Substitution => self.substitution.validate()?,
                AttackKind::Paraphrase => self.paraphrase.validate()?,
                AttackKind::PromptSearch => self.prompt_search.validate()?,
            }
        }
        Ok(())
    }

    /// Whether some attack needs the generator (paraphrases, or a fluency filter).
    pub fn needs_generator(&self) -> bool {
        self.attacks.iter().any(|a| match a {
            AttackKind::Substitution => self.substitution.max_logprob_drop.is_some(),
            AttackKind::Paraphrase => true,
            AttackKind::PromptSearch => self.prompt_search.substitution.max_logprob_drop.is_some(),
        })
    }
}

/// Runs each attack of `suite` on every seed; `pool` holds the prompt search's candidate
/// prompts.
///
/// # Errors
/// [`AttackError::Config`] when the generator is needed and missing, or the pool is empty
/// for a prompt search; the attacks' own errors.
pub fn run_suite(
    victim: &Victim<'_>,
    generator: Option<&LanguageModel>,
    oracle: &mut dyn Oracle,
    seeds: &[Seed],
    pool: &[String],
    suite: &AttackSuite,
) -> Result<Vec<AttackReport>> {
    suite.validate()?;
    if suite.needs_generator() && generator.is_none() {
        return Err(AttackError::config(
            "suite.attacks",
            "paraphrases and the fluency filter need a generator",
        ));
    }
    let mut out = Vec::new();
    for &a in &suite.attacks {
        let report = match a {
            AttackKind::Substitution => SubstitutionAttack::new(
                victim,
                generator,
                suite.substitution.clone(),
                suite.budget,
            )?
            .run(seeds, oracle)?,
            AttackKind::Paraphrase => {
                let lm = generator.ok_or_else(|| AttackError::config("generator", "missing"))?;
                ParaphraseAttack::new(victim, lm, suite.paraphrase.clone(), suite.budget)?
                    .run(seeds, oracle)?
            }
            AttackKind::PromptSearch => PromptSearch::new(
                victim,
                generator,
                pool.to_vec(),
                suite.prompt_search.clone(),
                suite.budget,
            )?
            .run(seeds, oracle)?,
        };
        out.push(report);
    }
    Ok(out)
}
