//! Bad input gives typed errors.

mod common;

use common::*;
use nines_attack::saliency::saliency;
use nines_attack::{
    AttackError, Budget, ParaphraseConfig, SaliencyMethod, Seed, SubstitutionAttack,
    SubstitutionConfig, Victim,
};
use nines_classify::Classifier;

#[test]
fn a_classifier_without_threshold_is_refused() {
    let fresh = Classifier::new(&tiny_bert()).unwrap();
    assert!(matches!(Victim::new(&fresh), Err(AttackError::NoThreshold)));
}

#[test]
fn empty_and_over_long_texts_are_refused() {
    let model = trained();
    let victim = Victim::new(&model).unwrap();
    let m = SaliencyMethod::GradientXInput;
    assert!(
        matches!(saliency(&victim, "", "he fell.", m), Err(AttackError::EmptyText { what }) if what.contains("prompt"))
    );
    assert!(
        matches!(saliency(&victim, "the key.", "  \n", m), Err(AttackError::EmptyText { what }) if what.contains("completion"))
    );
    let long = "the keeper looked back at the gate ".repeat(20);
    match saliency(&victim, &long, "he fell.", m) {
        Err(AttackError::TooLong { tokens, max, .. }) => assert!(tokens > max && max == 48),
        other => panic!("{other:?}"),
    }
    let mut attack = SubstitutionAttack::new(
        &victim,
        None,
        SubstitutionConfig {
            max_logprob_drop: None,
            ..Default::default()
        },
        Budget::default(),
    )
    .unwrap();
    let err = attack
        .run(
            &[Seed::new("x", "the key.", "")],
            &mut WordOracle::new(&["fell"]),
        )
        .unwrap_err();
    assert!(matches!(err, AttackError::EmptyText { .. }), "{err}");
}

#[test]
fn zero_budgets_and_bad_settings_are_refused() {
    let model = trained();
    let victim = Victim::new(&model).unwrap();
    let cfg = || SubstitutionConfig {
        max_logprob_drop: None,
        ..Default::default()
    };
    for budget in [
        Budget {
            classifier_queries: 0,
            oracle_queries: 5,
        },
        Budget {
            classifier_queries: 5,
            oracle_queries: 0,
        },
    ] {
        let err = SubstitutionAttack::new(&victim, None, cfg(), budget).unwrap_err();
        assert!(matches!(err, AttackError::ZeroBudget { .. }), "{err}");
    }
    let err = SubstitutionAttack::new(
        &victim,
        None,
        SubstitutionConfig::default(),
        Budget::default(),
    )
    .unwrap_err();
    assert!(
        matches!(err, AttackError::Config { ref field, .. } if field == "substitution.max_logprob_drop"),
        "{err}"
    );
    let err = SubstitutionAttack::new(
        &victim,
        None,
        SubstitutionConfig {
            beam_width: 0,
            ..cfg()
        },
        Budget::default(),
    )
    .unwrap_err();
    assert!(
        matches!(err, AttackError::Config { ref field, .. } if field == "substitution.beam_width"),
        "{err}"
    );
    assert!(
        ParaphraseConfig {
            calls: 0,
            ..Default::default()
        }
        .validate()
        .is_err()
    );
    assert!(matches!(
        saliency(
            &victim,
            "a",
            "b",
            SaliencyMethod::IntegratedGradients { steps: 0 }
        ),
        Err(AttackError::Config { .. })
    ));
}
