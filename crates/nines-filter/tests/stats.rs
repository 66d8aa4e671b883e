//! Statistics: JSONL round trip, what the estimators need, histogram and cost bookkeeping.

mod common;

use common::{policy, scorer};
use nines_estimate::failure_rate::{FailureRateConfig, adaptive};
use nines_filter::{Filter, FilterConfig, Strategy, ThresholdSchedule, read_jsonl};

#[test]
fn jsonl_round_trips_and_feeds_the_estimator() {
    let cfg = FilterConfig {
        strategy: Strategy::BatchedSafest { k: 3 },
        max_attempts: 6,
        schedule: ThresholdSchedule::Geometric {
            start: 0.5,
            ratio: 0.5,
            floor: 0.1,
        },
        seed: 9,
        ..Default::default()
    };
    let filter = Filter::new(policy(), scorer(), cfg).unwrap();
    let ids = ["p0", "p1", "p2", "p3", "p4", "p5"];
    let run = filter.run_with_ids(&ids, &["x"; 6]).unwrap();
    let mut buf = Vec::new();
    run.write_jsonl(&mut buf).unwrap();
    let text = String::from_utf8(buf.clone()).unwrap();
    assert_eq!(text.lines().count(), 6);
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    for key in [
        "prompt_id",
        "candidates",
        "scores",
        "thresholds",
        "accepted_index",
        "threshold",
        "fallback",
        "acceptance_rate",
    ] {
        assert!(first.get(key).is_some(), "missing {key}");
    }
    let records = read_jsonl(buf.as_slice()).unwrap();
    // Seconds may lose their last bit in JSON; everything else is exact.
    let untimed = |rs: &[nines_filter::PromptRecord]| -> Vec<nines_filter::PromptRecord> {
        rs.iter()
            .map(|r| nines_filter::PromptRecord {
                generate_secs: 0.0,
                score_secs: 0.0,
                latency_secs: 0.0,
                ..r.clone()
            })
            .collect()
    };
    assert_eq!(untimed(&records), untimed(&run.records()));
    for (a, b) in records.iter().zip(run.records()) {
        assert!((a.latency_secs - b.latency_secs).abs() < 1e-12);
    }
    assert_eq!(records[3].prompt_id, "p3");
    assert_eq!(records[0].strategy, "batched_safest");

    // Scores + labels → the adaptive failure-rate estimator.
    let prompts: Vec<_> = records
        .iter()
        .map(|r| r.prompt_scores(&[(r.scores[0], r.scores[0] > 0.5), (0.0625, false)]))
        .collect();
    let est = adaptive(&prompts, &FailureRateConfig::default()).unwrap();
    assert!(est.estimate.value >= 0.0 && est.estimate.value <= 1.0);
    assert!(
        prompts
            .iter()
            .zip(&records)
            .all(|(p, r)| p.threshold == Some(r.threshold))
    );
}

#[test]
fn run_stats_add_up() {
    let cfg = FilterConfig {
        strategy: Strategy::Sequential,
        schedule: ThresholdSchedule::Constant { threshold: 0.5 },
        max_attempts: 5,
        seed: 4,
        ..Default::default()
    };
    let filter = Filter::new(policy(), scorer(), cfg).unwrap();
    let run = filter.run(&["x"; 300]).unwrap();
    let s = &run.stats;
    assert_eq!(s.prompts, 300);
    assert_eq!(s.attempts_histogram.len(), 6);
    assert_eq!(s.attempts_histogram[0], 0);
    // Attempts are geometric with acceptance 0.7: most prompts need one draw.
    assert!(
        s.attempts_histogram[1] > 180 && s.attempts_histogram[1] < 240,
        "{:?}",
        s.attempts_histogram
    );
    // Fallback after 5 rejections: probability 0.3^5 ≈ 0.0024 per prompt.
    assert!(s.fallbacks <= 4);
    let weighted: u64 = s
        .attempts_histogram
        .iter()
        .enumerate()
        .map(|(a, c)| a as u64 * c)
        .sum();
    assert_eq!(weighted as usize, s.candidates);
    // Sequential draws stop at the first pass: exactly one pass per accepted prompt.
    assert!((s.pooled_acceptance_rate - s.accepted as f64 / s.candidates as f64).abs() < 1e-12);
    assert_eq!(
        s.rounds,
        *run.outcomes.iter().map(|o| &o.rounds).max().unwrap()
    );
    assert!(s.tokens >= s.candidates);
    assert!(s.scorer_share >= 0.0 && s.scorer_share <= 1.0);
    let back: nines_filter::RunStats =
        serde_json::from_str(&serde_json::to_string(s).unwrap()).unwrap();
    assert_eq!(back.attempts_histogram, s.attempts_histogram);
    assert!((back.generate_secs - s.generate_secs).abs() < 1e-12);
}
