//! The adversarial loop on the tiny classifier: found failures come back as training
//! examples with their provenance, and the same attack on held-out seeds succeeds less.

mod common;

use common::*;
use nines_attack::{
    AdversarialConfig, AttackKind, AttackSuite, Budget, HeldOut, SubstitutionConfig, Victim,
    adversarial_training, compare, measure,
};

#[test]
fn adversarial_training_lowers_attack_success_on_held_out_seeds() {
    let mut model = trained();
    let mut oracle = WordOracle::new(&["fell", "blew", "climbed", "carried"]);
    let suite = AttackSuite {
        attacks: vec![AttackKind::Substitution],
        budget: Budget {
            classifier_queries: 200,
            oracle_queries: 20,
        },
        substitution: SubstitutionConfig {
            beam_width: 2,
            candidates: 32,
            positions: 1,
            max_edits: 2,
            max_logprob_drop: None,
            min_word_chars: 2,
            protect_after: 100,
        },
        ..AttackSuite::default()
    };
    let test = synthetic(90, 3);
    let held_seeds = seeds(6, 31);
    let pool: Vec<String> = Vec::new();
    let held = HeldOut {
        test: &test,
        target_fnr: 0.05,
        seeds: &held_seeds,
        pool: &pool,
    };
    let before = {
        let victim = Victim::new(&model).unwrap();
        measure(&victim, None, &mut oracle, held, &suite).unwrap()
    };
    assert!(before.attacks[0].failures >= 3, "{:?}", before.attacks[0]);

    let config = AdversarialConfig {
        rounds: 2,
        suite: suite.clone(),
        seeds_per_round: 8,
        repeat: 3,
        train: nines_classify::TrainConfig {
            epochs: 1,
            target_fnr: 0.05,
            ..fast_train()
        },
    };
    let train_seeds = seeds(16, 41);
    let report = adversarial_training(
        &mut model,
        None,
        &mut oracle,
        &synthetic(240, 1),
        &synthetic(90, 2),
        &train_seeds,
        &pool,
        &config,
    )
    .unwrap();
    assert_eq!(report.rounds.len(), 2);
    assert!(!report.examples.is_empty());
    for e in &report.examples {
        assert!(e.example.label);
        assert_eq!(e.provenance.attack, AttackKind::Substitution);
        assert!((1..=2).contains(&e.provenance.round));
        assert_eq!(e.provenance.labeler, "words");
        assert!(train_seeds.iter().any(|s| s.id == e.provenance.seed_id));
    }
    assert_eq!(report.rounds[1].adversarial_examples, report.examples.len());
    assert!(report.rounds.iter().all(|r| r.threshold.is_some()));

    let after = {
        let victim = Victim::new(&model).unwrap();
        measure(&victim, None, &mut oracle, held, &suite).unwrap()
    };
    let c = compare(before, after);
    assert!(c.per_1000.1 < c.per_1000.0, "{:?}", c.attacks);
    assert!(
        c.after.in_distribution.auroc > 0.9,
        "{:?}",
        c.after.in_distribution
    );
    let md = nines_attack::measure::comparison_markdown(&c);
    eprintln!("{md}");
    assert!(md.contains("| substitution |"));
}

fn corpus_pairs(
    examples: Vec<nines_classify::Example>,
    tag: &str,
) -> Vec<nines_attack::data::CorpusPair> {
    examples
        .into_iter()
        .enumerate()
        .map(|(i, example)| nines_attack::data::CorpusPair {
            id: format!("{tag}-{i}"),
            example,
        })
        .collect()
}

#[test]
fn the_study_measures_before_and_after_on_seeds_training_never_saw() {
    use nines_attack::data::CorpusData;
    use nines_attack::{StudyConfig, StudyData, run_study};
    let mut model = trained();
    let mut oracle = WordOracle::new(&["fell", "blew", "climbed", "carried"]);
    let corpus = CorpusData {
        train: corpus_pairs(synthetic(240, 1), "train"),
        validation: corpus_pairs(synthetic(90, 2), "valid"),
        test: corpus_pairs(synthetic(90, 3), "test"),
    };
    let dev = corpus_pairs(synthetic(60, 51), "dev");
    let dev_test = corpus_pairs(synthetic(60, 52), "dev-test");
    let config = StudyConfig {
        suite: AttackSuite {
            attacks: vec![AttackKind::Substitution],
            budget: Budget {
                classifier_queries: 150,
                oracle_queries: 20,
            },
            substitution: SubstitutionConfig {
                positions: 1,
                candidates: 48,
                max_edits: 2,
                max_logprob_drop: None,
                protect_after: 100,
                ..SubstitutionConfig::default()
            },
            ..AttackSuite::default()
        },
        rounds: 1,
        train_seeds: 4,
        held_out_seeds: 4,
        train_pairs: 120,
        train_positive_share: 0.3,
        valid_pairs: 60,
        test_pairs: 60,
        repeat: 2,
        learning_rate: 2e-3,
        oversample_positives: 1.0,
        seed: 0,
    };
    let data = StudyData {
        corpus: &corpus,
        own: None,
        dev: &dev,
        dev_test: &dev_test,
    };
    let r = run_study(&mut model, None, &mut oracle, data, &config).unwrap();
    assert_eq!(
        (r.train_pick.oracle_agrees, r.held_out_pick.oracle_agrees),
        (4, 4)
    );
    let held: Vec<&str> = r.comparison.before.attacks[0]
        .outcomes
        .iter()
        .map(|o| o.seed_id.as_str())
        .collect();
    assert!(
        held.iter().all(|id| id.starts_with("dev-test-")),
        "{held:?}"
    );
    assert!(
        r.examples
            .iter()
            .all(|e| e.provenance.seed_id.starts_with("dev-")
                && !e.provenance.seed_id.starts_with("dev-test"))
    );
    assert_eq!(r.rounds.len(), 1);
    assert_eq!(r.comparison.before.in_distribution.pairs, 60);
    assert_eq!(r.dev_test.0.pairs, 60);
    assert!(r.comparison.per_1000.0 > 0.0, "{:?}", r.comparison.attacks);

    // With the classifier's own data, retraining, threshold and test figures use it.
    let own = nines_attack::study::TrainingData {
        train: synthetic(100, 4),
        validation: synthetic(70, 5),
        test: synthetic(50, 6),
    };
    let mut again = trained();
    let data = StudyData {
        own: Some(&own),
        ..data
    };
    let r = run_study(&mut again, None, &mut oracle, data, &config).unwrap();
    assert_eq!(r.comparison.before.in_distribution.pairs, 50);
    assert_eq!(r.comparison.after.in_distribution.pairs, 50);
    assert!(r.rounds[0].threshold.is_some());
    // Validation without injuries cannot place a threshold: a typed error, before any attack.
    let safe_only = nines_attack::study::TrainingData {
        validation: own
            .validation
            .iter()
            .filter(|e| !e.label)
            .cloned()
            .collect(),
        ..own.clone()
    };
    let data = StudyData {
        own: Some(&safe_only),
        ..data
    };
    let err = run_study(&mut again, None, &mut oracle, data, &config).unwrap_err();
    assert!(
        matches!(err, nines_attack::AttackError::Data { .. })
            && err.to_string().contains("validation"),
        "{err}"
    );
}
