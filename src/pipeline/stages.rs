//! The stages' work. Each reads what earlier stages wrote in the run folder and writes its
//! own outputs there, returning summary figures.

use nines_data::complete::{CompletionConfig, build_completions};
use nines_data::corpus::Corpus;
use nines_data::label::oracle::OracleLabeler;
use nines_data::label::{RunOptions, label_store};
use nines_data::prompt::{Prompt, PromptConfig, build_prompts};
use nines_data::record::Stratum;
use nines_data::select::{
    LexiconScorer, PromptScorer, SelectedPrompt, SelectionConfig, Strategy, read_selected, select,
    select_stratified, write_selected,
};
use nines_data::split::Split;
use nines_data::store::Store;
use nines_runtime::{GenerateConfig, LanguageModel, LoadOptions};
use std::collections::HashSet;

use super::outputs::{CompletionsOutput, LabelsOutput, PromptsOutput};
use super::{Pipeline, PipelineError};
use crate::sampler::LmSampler;

pub(super) use crate::progress::bar;

fn prompts_file(split: Split) -> String {
    format!("prompts_{}.jsonl", split.as_str())
}

/// Corpus → prompts of the train and test splits. Training prompts (PPO rollouts)
/// oversample the injury lexicon (their inclusion probabilities are recorded). Test prompts
/// are every window of the test chapters that has a next sentence, in two strata
/// ([`injury_prone`]), each drawn uniformly: estimates are given for the injury-prone
/// stratum directly and for the uniform distribution over all test windows through the
/// recorded inclusion probabilities.
pub(super) fn prompts(p: &Pipeline) -> Result<PromptsOutput, PipelineError> {
    let c = &p.config;
    let corpus = Corpus::load(&c.data.corpus)?;
    let (all, stats) = build_prompts(&corpus, &PromptConfig::default())?;
    let scorer = LexiconScorer::default();
    let pool: Vec<_> = all
        .iter()
        .filter(|q| q.source.split == Split::Train)
        .cloned()
        .collect();
    let cfg = SelectionConfig {
        target: c.data.train_prompts,
        strategy: Strategy::Scored,
        seed: c.seed,
        ..Default::default()
    };
    let chosen = select(&pool, &scorer, &cfg)?;
    write_selected(p.run.path(&prompts_file(Split::Train)), &chosen)?;
    let (train_pool, train_selected) = (pool.len(), chosen.len());

    // Test windows: every sentence position of the test chapters.
    let (windows, _) = build_prompts(
        &corpus,
        &PromptConfig {
            stride: 1,
            ..PromptConfig::default()
        },
    )?;
    let pool: Vec<Prompt> = windows
        .into_iter()
        .filter(|q| q.source.split == Split::Test && q.next_sentence.is_some())
        .collect();
    let prone = injury_prone(&pool, c.data.injury_prone_lexicon_share);
    let chosen = select_stratified(
        &pool,
        |q| {
            if prone.contains(&q.id) {
                Stratum::InjuryProne
            } else {
                Stratum::Rest
            }
        },
        &[
            (Stratum::InjuryProne, c.data.injury_prone_test_prompts),
            (Stratum::Rest, c.data.test_prompts),
        ],
        c.seed.wrapping_add(1),
    )?;
    write_selected(p.run.path(&prompts_file(Split::Test)), &chosen)?;
    super::write_json(
        &p.run.path(super::estimates::STRATA),
        &super::estimates::TestStrata {
            windows: pool.len() as u64,
            injury_prone: prone.len() as u64,
        },
    )?;
    let in_stratum = |s: Stratum| {
        chosen
            .iter()
            .filter(|q| q.selection.stratum == Some(s))
            .count()
    };
    Ok(PromptsOutput {
        documents: stats.documents,
        prompts_in_corpus: all.len(),
        train_pool,
        train_selected,
        test_pool: pool.len(),
        test_injury_prone_pool: prone.len(),
        test_selected: chosen.len(),
        test_injury_prone: in_stratum(Stratum::InjuryProne),
        test_rest: in_stratum(Stratum::Rest),
    })
}

/// The injury-prone stratum of `pool` (prompt ids): windows after which the book's own next
/// sentence is an injury by the rule oracle, and the `lexicon_share` of windows with the
/// highest injury-lexicon score. Both are known before any completion is drawn, so the
/// stratum is a fixed part of the population and its inclusion probabilities are exact.
pub(super) fn injury_prone(pool: &[Prompt], lexicon_share: f64) -> HashSet<String> {
    let oracle = OracleLabeler::new();
    let mut prone: HashSet<String> = pool
        .iter()
        .filter(|q| {
            q.next_sentence.as_deref().is_some_and(|next| {
                oracle.judge(&q.text, next).verdict == nines_data::Verdict::Injury
            })
        })
        .map(|q| q.id.clone())
        .collect();
    let scorer = LexiconScorer::default();
    let mut scored: Vec<(f64, &Prompt)> = pool.iter().map(|q| (scorer.score(&q.text), q)).collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.id.cmp(&b.1.id)));
    let top = (lexicon_share * pool.len() as f64).round() as usize;
    prone.extend(
        scored
            .into_iter()
            .take(top)
            .filter(|(score, _)| *score > 0.0)
            .map(|(_, q)| q.id.clone()),
    );
    prone
}

/// The selected prompts of one split.
pub(super) fn selected(p: &Pipeline, split: Split) -> Result<Vec<SelectedPrompt>, PipelineError> {
    Ok(read_selected(p.run.path(&prompts_file(split)))?)
}

/// The generation settings of the unfiltered policy.
pub(super) fn generate_config(p: &Pipeline) -> GenerateConfig {
    let g = &p.config.generator;
    GenerateConfig {
        max_new_tokens: g.max_new_tokens,
        temperature: g.temperature,
        top_p: g.top_p,
        stop_at_sentence_end: true,
        seed: p.config.seed,
        ..Default::default()
    }
}

/// Loads the generator.
pub(super) fn generator(p: &Pipeline) -> Result<LanguageModel, PipelineError> {
    Ok(LanguageModel::load(
        super::finetune::generator_path(p),
        LoadOptions::default(),
    )?)
}

/// Loads the generator for sampling only, with the configured weights (`generator.dtype`).
pub(super) fn sampling_generator(p: &Pipeline) -> Result<LanguageModel, PipelineError> {
    Ok(LanguageModel::load(
        super::finetune::generator_path(p),
        LoadOptions {
            dtype: p.config.generator.dtype,
            ..LoadOptions::default()
        },
    )?)
}

/// The unfiltered policy: one-sentence completions of every test prompt, appended to
/// `snippets.jsonl` chunk by chunk: after a crash the prompts already completed are skipped.
pub(super) fn completions(p: &Pipeline) -> Result<CompletionsOutput, PipelineError> {
    let c = &p.config;
    let lm = sampling_generator(p)?;
    let mut sampler = LmSampler::new(&lm, generate_config(p));
    // Completions left by a crashed run of this stage are kept (their prompts are skipped);
    // completions of another generator, other settings, other prompts or another count per
    // prompt are stale and go.
    let path = p.run.path("snippets.jsonl");
    let info = nines_data::complete::CompletionSampler::generator_info(&sampler);
    let prompts = selected(p, Split::Test)?;
    let wanted: HashSet<String> = prompts
        .iter()
        .map(|q| q.prompt.source.prompt_key())
        .collect();
    let stale = Store::open_read_only(&path, Default::default())
        .map(|old| {
            let mut per_prompt: std::collections::HashMap<String, usize> = Default::default();
            let foreign = old.iter().any(|s| {
                if let Some(src) = &s.source {
                    *per_prompt.entry(src.prompt_key()).or_default() += 1;
                }
                s.generator
                    .as_ref()
                    .is_none_or(|g| g.model != info.model || g.settings != info.settings)
                    || s.source
                        .as_ref()
                        .is_none_or(|src| !wanted.contains(&src.prompt_key()))
            });
            foreign
                || per_prompt
                    .values()
                    .any(|&n| n != c.data.completions_per_prompt)
        })
        .unwrap_or(false);
    if stale {
        std::fs::remove_file(&path).map_err(|e| PipelineError::io(&path, e))?;
    }
    let mut store = Store::open(&path)?;
    let (mut written, mut tokens_cut) = (0, 0);
    for (i, split) in [Split::Test].into_iter().enumerate() {
        let prompts = prompts.clone();
        let done: std::collections::HashSet<String> = store
            .iter()
            .filter_map(|s| s.source.as_ref())
            .map(|s| s.prompt_key())
            .collect();
        let todo: Vec<SelectedPrompt> = prompts
            .into_iter()
            .filter(|q| {
                !done.contains(&format!(
                    "{}:{}",
                    q.prompt.source.document, q.prompt.source.start
                ))
            })
            .collect();
        let pb = bar(todo.len() as u64, split.as_str());
        for (chunk_index, chunk) in todo.chunks(4 * c.data.batch_size).enumerate() {
            let cfg = CompletionConfig {
                k: c.data.completions_per_prompt,
                batch_size: c.data.batch_size,
                seed: nines_data::record::hash64(&[
                    &c.seed.to_le_bytes(),
                    &(i as u64).to_le_bytes(),
                    &(chunk_index as u64).to_le_bytes(),
                ]),
                ..Default::default()
            };
            let base = pb.position();
            let out = build_completions(chunk, &mut sampler, &cfg, &mut |d, _| {
                pb.set_position(base + d as u64)
            })?;
            tokens_cut += out.truncated;
            written += out.snippets.len();
            store.append(out.snippets)?;
        }
        pb.finish_and_clear();
    }
    Ok(CompletionsOutput {
        written,
        cut_to_one_sentence: tokens_cut,
        total: store.len(),
    })
}

/// Labels every snippet with the rule oracle (the documented stand-in for people).
pub(super) fn labels(p: &Pipeline) -> Result<LabelsOutput, PipelineError> {
    let mut store = Store::open(p.run.path("snippets.jsonl"))?;
    let mut oracle = OracleLabeler::new();
    let pb = bar(store.len() as u64, "labels");
    let report = label_store(
        &mut store,
        &mut oracle,
        &RunOptions::default(),
        &mut |d, _| pb.set_position(d as u64),
    )?;
    pb.finish_and_clear();
    let (mut n, mut injuries) = (0, 0);
    for s in store.iter().filter(|s| {
        s.source
            .as_ref()
            .is_some_and(|src| src.split == Split::Test)
    }) {
        if let Some(l) = s.label_by("oracle") {
            n += 1;
            injuries += usize::from(l.verdict == nines_data::Verdict::Injury);
        }
    }
    Ok(LabelsOutput {
        labeled: report.labeled,
        skipped: report.skipped,
        test_labeled: n,
        test_injuries: injuries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use nines_data::record::Source;

    fn window(i: u64, text: &str, next: &str) -> Prompt {
        Prompt {
            id: format!("book:{i}"),
            text: text.into(),
            source: Source {
                document: "book".into(),
                start: i,
                end: i + 1,
                region: 0,
                split: Split::Test,
            },
            next_sentence: Some(next.into()),
        }
    }

    /// The stratum holds the windows the book continues with an injury, and the top share by
    /// lexicon score among windows that score at all.
    #[test]
    fn injury_prone_windows_are_book_injuries_and_top_lexicon_scores() {
        let mut pool = vec![
            window(
                0,
                "They sat down to tea in the garden.",
                "The sailor stabbed him in the chest.",
            ),
            window(
                1,
                "He drew his sword; blood ran and the battle raged.",
                "It rained.",
            ),
        ];
        pool.extend(
            (2..40).map(|i| window(i, "The weather was fine that day.", "They walked on.")),
        );
        let prone = injury_prone(&pool, 0.05);
        assert!(prone.contains("book:0"), "{prone:?}");
        assert!(prone.contains("book:1"), "{prone:?}");
        assert_eq!(prone.len(), 2, "{prone:?}");
        // Without the lexicon share only the book's own injury remains.
        assert_eq!(injury_prone(&pool, 0.0).len(), 1);
    }
}
