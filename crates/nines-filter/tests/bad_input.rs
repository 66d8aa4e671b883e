//! Bad input gives typed errors, never a panic or a returned completion.

mod common;

use common::{DiscretePolicy, TableScorer, policy, scorer};
use nines_data::FnScorer;
use nines_filter::{
    Fallback, Filter, FilterConfig, FilterError, Policy, Result, Sample, Strategy,
    ThresholdSchedule,
};

fn field_of(cfg: FilterConfig) -> &'static str {
    match Filter::new(policy(), scorer(), cfg) {
        Err(FilterError::InvalidSetting { field, .. }) => field,
        other => panic!("expected InvalidSetting, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn bad_settings_are_named() {
    let base = FilterConfig::default;
    for t in [-0.1, 1.01, f64::NAN, f64::INFINITY] {
        let cfg = FilterConfig {
            schedule: ThresholdSchedule::Constant { threshold: t },
            ..base()
        };
        assert_eq!(field_of(cfg), "schedule.threshold", "threshold {t}");
    }
    let cfg = FilterConfig {
        schedule: ThresholdSchedule::Geometric {
            start: 2.0,
            ratio: 0.5,
            floor: 0.1,
        },
        ..base()
    };
    assert_eq!(field_of(cfg), "schedule.start");
    for strategy in [
        Strategy::BatchedFirstAccepted { k: 0 },
        Strategy::BatchedSafest { k: 0 },
    ] {
        assert_eq!(field_of(FilterConfig { strategy, ..base() }), "strategy.k");
    }
    assert_eq!(
        field_of(FilterConfig {
            max_attempts: 0,
            ..base()
        }),
        "max_attempts"
    );
    let cfg = FilterConfig {
        fallback: Fallback::SafeText("  ".into()),
        ..base()
    };
    assert_eq!(field_of(cfg), "fallback.text");
}

#[test]
fn nan_and_out_of_range_scores_are_errors() {
    for bad in [f32::NAN, f32::INFINITY, -0.5, 1.5] {
        let scorer = FnScorer::new(move |pairs: &[(&str, &str)]| {
            Ok::<_, std::io::Error>(
                (0..pairs.len())
                    .map(|i| if i == 2 { bad } else { 0.9 })
                    .collect(),
            )
        });
        let cfg = FilterConfig {
            strategy: Strategy::BatchedFirstAccepted { k: 3 },
            fill_rounds: false,
            ..Default::default()
        };
        let filter = Filter::new(policy(), scorer, cfg).unwrap();
        match filter.run(&["a", "b"]) {
            Err(FilterError::BadScore {
                prompt,
                candidate,
                value,
            }) => {
                assert_eq!((prompt, candidate), (0, 2));
                assert!(value.is_nan() == bad.is_nan() && (bad.is_nan() || value == bad));
            }
            other => panic!(
                "score {bad}: expected BadScore, got {:?}",
                other.map(|_| ())
            ),
        }
    }
}

#[test]
fn wrong_counts_and_component_errors_are_typed() {
    let short =
        FnScorer::new(|pairs: &[(&str, &str)]| Ok::<_, std::io::Error>(vec![0.1; pairs.len() - 1]));
    let filter = Filter::new(policy(), short, FilterConfig::default()).unwrap();
    assert!(matches!(
        filter.run(&["a"]),
        Err(FilterError::Count {
            component: "scorer",
            expected: 4,
            got: 3
        })
    ));

    let failing = FnScorer::new(|_: &[(&str, &str)]| {
        Err::<Vec<f32>, _>(std::io::Error::other("classifier weights missing"))
    });
    let filter = Filter::new(policy(), failing, FilterConfig::default()).unwrap();
    match filter.run(&["a"]) {
        Err(e @ FilterError::Scorer(_)) => assert!(e.to_string().contains("weights missing")),
        other => panic!("expected Scorer error, got {:?}", other.map(|_| ())),
    }

    struct Lossy;
    impl Policy for Lossy {
        fn sample(&self, prompts: &[&str], n: usize, _: u64) -> Result<Vec<Vec<Sample>>> {
            Ok(vec![
                vec![
                    Sample {
                        text: "x".into(),
                        tokens: 1
                    };
                    n
                ];
                prompts.len().saturating_sub(1)
            ])
        }
    }
    let filter = Filter::new(Lossy, scorer(), FilterConfig::default()).unwrap();
    assert!(matches!(
        filter.run(&["a", "b"]),
        Err(FilterError::Count {
            component: "policy",
            expected: 2,
            got: 1
        })
    ));

    let filter = Filter::new(policy(), scorer(), FilterConfig::default()).unwrap();
    assert!(matches!(
        filter.run_with_ids(&["x"], &["a", "b"]),
        Err(FilterError::IdMismatch { ids: 1, prompts: 2 })
    ));
}

#[test]
fn no_prompts_is_an_empty_run() {
    let filter = Filter::new(policy(), scorer(), FilterConfig::default()).unwrap();
    let run = filter.run(&[]).unwrap();
    assert!(run.outcomes.is_empty());
    assert_eq!(run.stats.rounds, 0);
}

#[test]
fn an_always_rejecting_scorer_falls_back_after_exactly_max_attempts() {
    let policy = DiscretePolicy::new(&[("He broke his arm.", 1.0)]);
    let scorer = TableScorer::new(&[("He broke his arm.", 0.99)]);
    for (strategy, rounds) in [
        (Strategy::Sequential, 7),
        (Strategy::BatchedFirstAccepted { k: 3 }, 3),
        (Strategy::BatchedSafest { k: 5 }, 2),
    ] {
        let cfg = FilterConfig {
            strategy,
            max_attempts: 7,
            fallback: Fallback::SafeText("The day passed quietly.".into()),
            ..Default::default()
        };
        let filter = Filter::new(&policy, &scorer, cfg).unwrap();
        let o = filter.generate("The ladder wobbled.").unwrap();
        assert_eq!(o.attempts(), 7, "{strategy:?}");
        assert_eq!(o.rounds, rounds, "{strategy:?}");
        assert_eq!(o.rejections(), 7);
        assert_eq!(o.completion(), None);
        assert_eq!(o.text(), Some("The day passed quietly."));
    }
}
