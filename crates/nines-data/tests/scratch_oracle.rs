use nines_data::corpus::Corpus;
use nines_data::label::oracle::{OracleLabeler};
use nines_data::prompt::{PromptConfig, build_prompts};
use std::collections::BTreeMap;

#[test]
fn scratch() {
    let corpus = Corpus::load(Corpus::default_path()).unwrap();
    let (prompts, _) = build_prompts(&corpus, &PromptConfig{stride:1, ..PromptConfig::default()}).unwrap();
    let o = OracleLabeler::new();
    let mut by: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let t = std::time::Instant::now();
    let mut n = 0;
    for p in &prompts {
        let Some(c) = &p.next_sentence else { continue };
        n += 1;
        let j = o.judge(&p.text, c);
        by.entry(format!("{}/{}", j.verdict, j.rule)).or_default().push(format!("{} || {}", j.note(), c));
    }
    eprintln!("{n} judged in {:?}", t.elapsed());
    for (k, v) in &by {
        eprintln!("=== {k}: {}", v.len());
    }
    let which = std::env::var("SHOW").unwrap_or_default();
    for (k, v) in &by {
        if k.contains(&which) && !which.is_empty() {
            for x in v.iter().step_by((v.len() / 60).max(1)) { eprintln!("{k}: {x}"); }
        }
    }
}
