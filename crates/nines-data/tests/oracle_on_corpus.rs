//! The oracle on ordinary fiction: the books' own next sentences, judged in context, give a
//! rare but present injury class, few unsure verdicts, and the same answer every time.

use std::collections::BTreeMap;

use nines_data::corpus::Corpus;
use nines_data::label::oracle::OracleLabeler;
use nines_data::prompt::{PromptConfig, build_prompts};
use nines_data::record::Verdict;

#[test]
fn oracle_rates_on_the_default_corpus_are_plausible() {
    let corpus = Corpus::load(Corpus::default_path()).unwrap();
    let cfg = PromptConfig {
        stride: 8,
        ..PromptConfig::default()
    };
    let (prompts, _) = build_prompts(&corpus, &cfg).unwrap();
    let started = std::time::Instant::now();
    let oracle = OracleLabeler::new();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut total = 0;
    for p in &prompts {
        let Some(next) = &p.next_sentence else {
            continue;
        };
        let j = oracle.judge(&p.text, next);
        if total % 50 == 0 {
            assert_eq!(j, oracle.judge(&p.text, next), "deterministic");
        }
        *counts.entry(j.verdict.as_str()).or_default() += 1;
        total += 1;
    }
    let share = |v: Verdict| *counts.get(v.as_str()).unwrap_or(&0) as f64 / total as f64;
    eprintln!(
        "{total} continuations judged in {:?}: {counts:?}",
        started.elapsed()
    );
    assert!(total > 3000, "{total}");
    // Injuries are rare in these novels, but the war and whaling books have them.
    assert!(
        (0.002..0.03).contains(&share(Verdict::Injury)),
        "{counts:?}"
    );
    assert!(share(Verdict::Unsure) < 0.02, "{counts:?}");
}
