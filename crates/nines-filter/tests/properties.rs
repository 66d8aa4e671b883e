//! Property tests: nothing above its threshold is ever returned, the fallback happens exactly
//! when every attempt fails, and the bookkeeping adds up, for random policies, scores and
//! settings.

mod common;

use common::{DiscretePolicy, TableScorer};
use nines_filter::{
    Decision, Fallback, FallbackOutcome, Filter, FilterConfig, Strategy as Pick, ThresholdSchedule,
    Verdict,
};
use proptest::prelude::*;

fn strategy() -> impl Strategy<Value = Pick> {
    prop_oneof![
        Just(Pick::Sequential),
        (1usize..6).prop_map(|k| Pick::BatchedFirstAccepted { k }),
        (1usize..6).prop_map(|k| Pick::BatchedSafest { k }),
    ]
}

fn schedule() -> impl Strategy<Value = ThresholdSchedule> {
    prop_oneof![
        (0.0f64..=1.0).prop_map(|threshold| ThresholdSchedule::Constant { threshold }),
        (0.0f64..=1.0, 0.0f64..0.3, 0.0f64..=1.0).prop_map(|(start, step, f)| {
            ThresholdSchedule::Linear {
                start,
                step,
                floor: f * start,
            }
        }),
        (0.0f64..=1.0, 0.05f64..=1.0, 0.0f64..=1.0).prop_map(|(start, ratio, f)| {
            ThresholdSchedule::Geometric {
                start,
                ratio,
                floor: f * start,
            }
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn never_returns_a_rejected_completion(
        scores in prop::collection::vec(0.0f32..=1.0, 1..7),
        weights in prop::collection::vec(0.05f64..1.0, 7),
        strategy in strategy(),
        schedule in schedule(),
        max_attempts in 1usize..14,
        safe in any::<bool>(),
        seed in any::<u64>(),
        prompts in 1usize..5,
        fill_rounds in any::<bool>(),
    ) {
        let texts: Vec<String> = (0..scores.len()).map(|i| format!("c{i}")).collect();
        let total: f64 = weights[..scores.len()].iter().sum();
        let outcomes: Vec<(&str, f64)> =
            texts.iter().zip(&weights).map(|(t, w)| (t.as_str(), w / total)).collect();
        let table: Vec<(&str, f32)> = texts.iter().map(String::as_str).zip(scores.iter().copied()).collect();
        let fallback = if safe { Fallback::SafeText("They went home.".into()) } else { Fallback::Refuse };
        let cfg = FilterConfig { strategy, schedule, max_attempts, fallback: fallback.clone(), fill_rounds, seed };
        let filter = Filter::new(DiscretePolicy::new(&outcomes), TableScorer::new(&table), cfg).unwrap();
        let prompt_list = vec!["She climbed the ladder."; prompts];
        let run = filter.run(&prompt_list).unwrap();
        prop_assert_eq!(run.outcomes.len(), prompts);

        for o in &run.outcomes {
            let passes = o.candidates.iter().filter(|c| c.accepted()).count();
            prop_assert!(o.attempts() >= 1 && o.attempts() <= max_attempts);
            for c in &o.candidates {
                prop_assert!(c.threshold <= schedule.start() && c.threshold >= 0.0);
                prop_assert_eq!(c.verdict == Verdict::Rejected, c.score > c.threshold);
            }
            // Thresholds never loosen along the sampling order.
            prop_assert!(o.candidates.windows(2).all(|w| w[1].threshold <= w[0].threshold));
            match &o.decision {
                Decision::Accepted { index, text } => {
                    let c = &o.candidates[*index];
                    prop_assert!(c.score <= c.threshold, "returned score {} > threshold {}", c.score, c.threshold);
                    prop_assert_eq!(c.verdict, Verdict::Returned);
                    prop_assert_eq!(&c.text, text);
                    prop_assert_eq!(o.candidates.iter().filter(|c| c.verdict == Verdict::Returned).count(), 1);
                    // It is decided in its own round: no later round was drawn.
                    prop_assert!(o.candidates.iter().all(|x| x.round <= c.round));
                    match strategy {
                        Pick::BatchedSafest { .. } => {
                            // The lowest score among its round's accepted candidates.
                            let best = o.candidates.iter()
                                .filter(|x| x.round == c.round && x.accepted())
                                .map(|x| x.score).fold(f64::INFINITY, f64::min);
                            prop_assert_eq!(c.score, best);
                        }
                        _ => {
                            // The first candidate that passed; each was judged against t(rejections before it).
                            prop_assert_eq!(o.candidates.iter().position(|x| x.accepted()), Some(*index));
                            for (n, x) in o.candidates[..=*index].iter().enumerate() {
                                prop_assert_eq!(x.threshold, schedule.threshold(n));
                            }
                        }
                    }
                }
                Decision::Fallback(f) => {
                    // Exactly when every attempt failed.
                    prop_assert_eq!(passes, 0);
                    prop_assert_eq!(o.attempts(), max_attempts);
                    let expected = match &fallback {
                        Fallback::Refuse => FallbackOutcome::Refused,
                        Fallback::SafeText(t) => FallbackOutcome::SafeText(t.clone()),
                    };
                    prop_assert_eq!(f, &expected);
                    prop_assert!(o.completion().is_none());
                }
            }
            if passes > 0 {
                prop_assert!(!o.is_fallback());
            }
        }

        let s = &run.stats;
        prop_assert_eq!(s.accepted + s.fallbacks, prompts);
        prop_assert_eq!(s.attempts_histogram.iter().sum::<u64>(), prompts as u64);
        prop_assert_eq!(s.candidates, run.outcomes.iter().map(|o| o.attempts()).sum::<usize>());
        for (r, o) in run.records().iter().zip(&run.outcomes) {
            prop_assert_eq!(r.scores.len(), o.attempts());
            prop_assert_eq!(r.thresholds.len(), o.attempts());
            prop_assert_eq!(r.fallback, o.accepted().is_none());
            if let Some(i) = r.accepted_index {
                prop_assert!(r.scores[i] <= r.threshold);
            }
        }
    }
}
