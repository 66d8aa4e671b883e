//! The stages' work. Each reads what earlier stages wrote in the run folder and writes its
//! own outputs there, returning summary figures.

use indicatif::{ProgressBar, ProgressStyle};
use nines_data::complete::{CompletionConfig, build_completions};
use nines_data::corpus::Corpus;
use nines_data::label::oracle::OracleLabeler;
use nines_data::label::{RunOptions, label_store};
use nines_data::prompt::{PromptConfig, build_prompts};
use nines_data::select::{
    LexiconScorer, SelectedPrompt, SelectionConfig, Strategy, read_selected, select, write_selected,
};
use nines_data::split::Split;
use nines_data::store::Store;
use nines_estimate::cluster::ClusterCount;
use nines_estimate::interval::ProportionInterval;
use nines_runtime::{GenerateConfig, LanguageModel, LoadOptions};

use super::{Pipeline, PipelineError};
use crate::sampler::LmSampler;

/// Prompt splits the pipeline samples: PPO rollouts (train) and the policy comparison (test).
const SPLITS: [Split; 2] = [Split::Train, Split::Test];

pub(super) fn bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template(
            "{prefix:>12} [{bar:30}] {pos}/{len} {elapsed_precise} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    pb.set_prefix(what.to_string());
    pb
}

fn prompts_file(split: Split) -> String {
    format!("prompts_{}.jsonl", split.as_str())
}

/// Corpus → prompts of the train and test splits. Training prompts (PPO rollouts)
/// oversample the injury lexicon (their inclusion probabilities are recorded); test prompts
/// are uniform, so the test-split estimates describe the uniform prompt distribution
/// directly.
pub(super) fn prompts(p: &Pipeline) -> Result<serde_json::Value, PipelineError> {
    let c = &p.config;
    let corpus = Corpus::load(&c.data.corpus)?;
    let (all, stats) = build_prompts(&corpus, &PromptConfig::default())?;
    let scorer = LexiconScorer::default();
    let mut summary =
        serde_json::json!({ "documents": stats.documents, "prompts_in_corpus": all.len() });
    for (i, split) in SPLITS.into_iter().enumerate() {
        let pool: Vec<_> = all
            .iter()
            .filter(|q| q.source.split == split)
            .cloned()
            .collect();
        let (target, strategy) = match split {
            Split::Train => (c.data.train_prompts, Strategy::Scored),
            _ => (c.data.test_prompts, Strategy::Uniform),
        };
        let cfg = SelectionConfig {
            target,
            strategy,
            seed: c.seed.wrapping_add(i as u64),
            ..Default::default()
        };
        let chosen = select(&pool, &scorer, &cfg)?;
        write_selected(p.run.path(&prompts_file(split)), &chosen)?;
        summary[split.as_str()] =
            serde_json::json!({ "pool": pool.len(), "selected": chosen.len() });
    }
    Ok(summary)
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

/// The unfiltered policy: one-sentence completions of every test prompt, appended to
/// `snippets.jsonl` chunk by chunk: after a crash the prompts already completed are skipped.
pub(super) fn completions(p: &Pipeline) -> Result<serde_json::Value, PipelineError> {
    let c = &p.config;
    let lm = generator(p)?;
    let mut sampler = LmSampler::new(&lm, generate_config(p));
    // Completions left by a crashed run of this stage are kept (their prompts are skipped);
    // completions of another generator or other settings are stale and go.
    let path = p.run.path("snippets.jsonl");
    let info = nines_data::complete::CompletionSampler::generator_info(&sampler);
    let stale = Store::open_read_only(&path, Default::default())
        .map(|old| {
            old.iter().any(|s| {
                s.generator
                    .as_ref()
                    .is_none_or(|g| g.model != info.model || g.settings != info.settings)
            })
        })
        .unwrap_or(false);
    if stale {
        std::fs::remove_file(&path).map_err(|e| PipelineError::io(&path, e))?;
    }
    let mut store = Store::open(&path)?;
    let mut summary = serde_json::json!({});
    for (i, split) in [Split::Test].into_iter().enumerate() {
        let prompts = selected(p, split)?;
        let done: std::collections::HashSet<String> = store
            .iter()
            .filter_map(|s| s.source.as_ref())
            .map(|s| format!("{}:{}", s.document, s.start))
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
        let (mut written, mut tokens_cut) = (0, 0);
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
        summary[split.as_str()] =
            serde_json::json!({ "snippets": written, "cut_to_one_sentence": tokens_cut });
    }
    summary["total_snippets"] = store.len().into();
    Ok(summary)
}

/// Labels every snippet with the rule oracle (the documented stand-in for people).
pub(super) fn labels(p: &Pipeline) -> Result<serde_json::Value, PipelineError> {
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
    let mut summary = serde_json::json!({ "labeled": report.labeled, "skipped": report.skipped });
    for split in [Split::Test] {
        let (mut n, mut injuries) = (0, 0);
        for s in store
            .iter()
            .filter(|s| s.source.as_ref().is_some_and(|src| src.split == split))
        {
            if let Some(l) = s.label_by("oracle") {
                n += 1;
                injuries += usize::from(l.verdict == nines_data::Verdict::Injury);
            }
        }
        summary[split.as_str()] = serde_json::json!({ "labeled": n, "injury": injuries });
    }
    Ok(summary)
}

/// Injury rate of one split's completions under `labeler`, with a 95% Wilson interval at the
/// cluster-robust effective sample size (completions of one prompt are correlated: the
/// variance is estimated from per-prompt totals, `n_eff = p̂(1−p̂)/Var̂(p̂)`).
pub(super) fn injury_rate(
    store: &Store,
    split: Split,
    labeler: &str,
) -> Result<nines_estimate::Estimate, PipelineError> {
    let mut per_prompt: std::collections::BTreeMap<String, ClusterCount> =
        std::collections::BTreeMap::new();
    for s in store
        .iter()
        .filter(|s| s.source.as_ref().is_some_and(|src| src.split == split))
    {
        let Some(label) = s.label_by(labeler) else {
            continue;
        };
        if label.verdict == nines_data::Verdict::Unsure {
            continue;
        }
        let key = s
            .source
            .as_ref()
            .map(|src| format!("{}:{}", src.document, src.start))
            .unwrap_or_default();
        let e = per_prompt.entry(key).or_default();
        e.events += u64::from(label.verdict == nines_data::Verdict::Injury);
        e.trials += 1;
    }
    clustered_proportion(&per_prompt.into_values().collect::<Vec<_>>())
}

/// Share of events over all completions with per-prompt `(events, trials)`: a Wilson
/// interval at the cluster-robust effective sample size ([`nines_estimate::cluster::proportion`]).
pub(super) fn clustered_proportion(
    prompts: &[ClusterCount],
) -> Result<nines_estimate::Estimate, PipelineError> {
    if prompts.iter().all(|c| c.trials == 0) {
        return Err(PipelineError::Other(
            "no labeled completions to estimate a rate from".into(),
        ));
    }
    let prompts: Vec<ClusterCount> = prompts.iter().copied().filter(|c| c.trials > 0).collect();
    Ok(nines_estimate::cluster::proportion(
        &prompts,
        ProportionInterval::Wilson,
        0.95,
    )?)
}

/// One-sided 95% Clopper-Pearson upper bound of a rate at its effective sample size
/// (`p̂(1−p̂)/SE²`, at most the completions counted; all of them when no event was seen).
pub(super) fn upper_bound(e: &nines_estimate::Estimate) -> Result<f64, PipelineError> {
    let n = e.n as f64;
    let n_eff = if e.std_error > 0.0 {
        (e.value * (1.0 - e.value) / e.std_error.powi(2)).min(n)
    } else {
        n
    };
    Ok(nines_estimate::interval::clopper_pearson_upper(
        e.value, n_eff, 0.95,
    )?)
}
