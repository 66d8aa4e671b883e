//! The evaluation's per-completion records agree with its summary.

mod common;

use common::*;
use nines_distill::{EvalConfig, evaluate};
use nines_runtime::LanguageModel;

#[test]
fn records_match_the_summary() {
    let a = LanguageModel::load(fixture("llama"), cpu()).unwrap();
    let b = LanguageModel::load(fixture("llama"), cpu()).unwrap();
    let prompts: Vec<String> = prompts().into_iter().take(3).collect();
    let cfg = EvalConfig {
        samples_per_prompt: 4,
        generation: toy_config().generation,
        threshold: 0.5,
        ..Default::default()
    };
    let labeler = |_: &str, c: &str| is_bad(c);
    let report = evaluate(&a, &b, &toy_reward(), Some(&labeler), None, &prompts, &cfg).unwrap();
    assert_eq!(report.records.len(), 2 * 3 * 4);
    for (policy, summary) in [
        ("original", &report.original),
        ("distilled", &report.distilled),
    ] {
        let rows: Vec<_> = report
            .records
            .iter()
            .filter(|r| r.policy == policy)
            .collect();
        assert_eq!(rows.len(), 12);
        let flagged = rows.iter().filter(|r| r.flagged).count() as f64 / 12.0;
        assert!((flagged - summary.flagged.value).abs() < 1e-12);
        for r in rows {
            assert_eq!(r.prompt, prompts[r.prompt_index]);
            assert_eq!(r.flagged, f64::from(r.p_injury) > 0.5);
            assert_eq!(r.labeled, Some(is_bad(&r.completion)));
            assert!(r.tokens > 0);
        }
    }
}
