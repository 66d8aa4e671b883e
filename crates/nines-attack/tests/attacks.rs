//! The attacks on a tiny classifier that learned one word: what they claim is checked
//! against the classifier and the oracle, and the budgets hold.

mod common;

use common::*;
use nines_attack::{
    AttackKind, Budget, ParaphraseAttack, ParaphraseConfig, ParaphraseStyle, PromptSearch,
    PromptSearchConfig, SubstitutionAttack, SubstitutionConfig, Victim,
};

fn verify(
    victim: &Victim<'_>,
    report: &nines_attack::AttackReport,
    oracle: &mut WordOracle,
    budget: Budget,
) {
    use nines_attack::Oracle;
    for o in &report.outcomes {
        assert!(
            o.spent.classifier_queries <= budget.classifier_queries,
            "{o:?}"
        );
        assert!(o.spent.oracle_queries <= budget.oracle_queries, "{o:?}");
    }
    for f in report.failures() {
        let s = victim
            .score(&[(f.prompt.as_str(), f.completion.as_str())])
            .unwrap()[0];
        assert!((s - f.score).abs() < 1e-4 && victim.accepts(s), "{f:?}");
        assert!(
            oracle
                .judge(&[(f.prompt.as_str(), f.completion.as_str())])
                .unwrap()[0],
            "{f:?}"
        );
        assert!(!victim.accepts(f.seed_score));
    }
    let q = report.spent.classifier_queries as f64;
    assert!(
        (report.per_1000_classifier_queries - 1000.0 * report.failures as f64 / q).abs() < 1e-9
    );
}

#[test]
fn substitution_finds_an_injury_word_the_classifier_never_saw() {
    let model = trained();
    let victim = Victim::new(&model).unwrap();
    // The oracle also calls `blew`, `climbed` and `carried` injuries; the classifier only knows `fell`.
    let mut oracle = WordOracle::new(&["fell", "blew", "climbed", "carried"]);
    let budget = Budget {
        classifier_queries: 400,
        oracle_queries: 40,
    };
    let config = SubstitutionConfig {
        beam_width: 2,
        candidates: 64,
        positions: 1,
        max_edits: 2,
        max_logprob_drop: None,
        min_word_chars: 2,
        protect_after: 100,
    };
    let mut attack = SubstitutionAttack::new(&victim, None, config, budget).unwrap();
    let seeds = seeds(4, 11);
    let report = attack.run(&seeds, &mut oracle).unwrap();
    assert_eq!(report.attack, AttackKind::Substitution);
    assert_eq!(report.usable_seeds, 4, "{report:?}");
    assert!(report.failures >= 3, "{report:?}");
    assert!(report.first_failure_seconds.is_some());
    for f in report.failures() {
        assert!(!f.edits.is_empty());
        let e = f.edits.last().unwrap();
        assert!(f.completion.contains(&e.to));
    }
    verify(&victim, &report, &mut oracle, budget);
}

#[test]
fn fluency_filter_with_a_generator_and_greedy_search_stay_in_budget() {
    let model = trained();
    let victim = Victim::new(&model).unwrap();
    let lm = generator();
    let mut oracle = WordOracle::new(&["fell", "blew", "climbed", "carried"]);
    let budget = Budget {
        classifier_queries: 60,
        oracle_queries: 5,
    };
    let config = SubstitutionConfig {
        beam_width: 1,
        candidates: 16,
        max_logprob_drop: Some(0.5),
        ..Default::default()
    };
    let mut attack = SubstitutionAttack::new(&victim, Some(&lm), config, budget).unwrap();
    let report = attack.run(&seeds(2, 12), &mut oracle).unwrap();
    assert!(report.spent.generator_calls > 0);
    verify(&victim, &report, &mut oracle, budget);
}

#[test]
fn paraphrases_the_classifier_accepts_are_failures_when_the_oracle_agrees() {
    let model = trained();
    let victim = Victim::new(&model).unwrap();
    let lm = generator();
    // Rewrites of the random generator never say `fell`; this oracle calls every pair an injury.
    let mut oracle = WordOracle::new(&[]);
    oracle.words.clear();
    struct Always(WordOracle);
    impl nines_attack::Oracle for Always {
        fn name(&self) -> &str {
            "always"
        }
        fn version(&self) -> String {
            String::new()
        }
        fn judge(&mut self, pairs: &[(&str, &str)]) -> nines_attack::Result<Vec<bool>> {
            self.0.judged += pairs.len() as u64;
            Ok(vec![true; pairs.len()])
        }
    }
    let mut always = Always(oracle);
    let budget = Budget {
        classifier_queries: 40,
        oracle_queries: 4,
    };
    // The tiny generator reads 64 tokens: a few-shot prompt without worked examples.
    {
        let config = ParaphraseConfig {
            style: ParaphraseStyle::FewShot,
            shots: 0,
            rewrites_per_call: 4,
            calls: 2,
            max_new_tokens: 12,
            ..Default::default()
        };
        let mut attack = ParaphraseAttack::new(&victim, &lm, config, budget).unwrap();
        let report = attack.run(&seeds(3, 13), &mut always).unwrap();
        assert_eq!(report.usable_seeds, 3);
        assert!(report.failures >= 1, "{report:?}");
        for f in report.failures() {
            assert!(victim.accepts(f.score));
            assert!(f.edits.is_empty());
        }
        for o in &report.outcomes {
            assert!(o.spent.classifier_queries <= budget.classifier_queries);
            assert!(o.spent.generator_calls <= 8);
        }
    }
}

#[test]
fn prompt_search_claims_only_verified_failures() {
    let model = trained();
    let victim = Victim::new(&model).unwrap();
    let mut oracle = WordOracle::new(&["fell"]);
    let pool: Vec<String> = synthetic(80, 21).into_iter().map(|e| e.prompt).collect();
    let budget = Budget {
        classifier_queries: 80,
        oracle_queries: 10,
    };
    let config = PromptSearchConfig {
        pool_prompts: 30,
        edit_best: 1,
        substitution: SubstitutionConfig {
            max_logprob_drop: None,
            max_edits: 2,
            candidates: 8,
            ..Default::default()
        },
        seed: 0,
    };
    let mut search = PromptSearch::new(&victim, None, pool, config, budget).unwrap();
    let report = search.run(&seeds(3, 14), &mut oracle).unwrap();
    assert_eq!(report.attack, AttackKind::PromptSearch);
    assert_eq!(report.seeds, 3);
    assert!(report.spent.classifier_queries > 3 * 30);
    verify(&victim, &report, &mut oracle, budget);
}
