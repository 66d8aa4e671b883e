//! The two safe policies compared with the unfiltered generator on the test prompts: the
//! rejection-sampling filter and the PPO-distilled generator.

use std::time::Instant;

use nines_classify::Classifier;
use nines_data::label::oracle::OracleLabeler;
use nines_data::label::{RunOptions, label_store};
use nines_data::record::{Generator, SamplingSettings};
use nines_data::select::SelectedPrompt;
use nines_data::split::Split;
use nines_data::store::Store;
use nines_data::{Snippet, Verdict};
use nines_distill::{PpoConfig, PpoTrainer, Shaping, TrainScope, load_models};
use nines_filter::{
    Decision, Fallback, Filter, FilterConfig, RunStats, RuntimePolicy, ThresholdSchedule,
};
use nines_runtime::train::export_hf;
use nines_runtime::{DType, DeviceSpec, LanguageModel, LoadOptions};

use super::learn::{CLASSIFIER_ACTIVE, choose_filter_threshold, filter_threshold};
use super::outputs::{DistillOutput, FilterOutput};
use super::stages::{bar, generate_config, sampling_generator, selected};
use super::{Pipeline, PipelineError, write_json};

/// Accepted completions of the filter (store).
pub(super) const FILTERED: &str = "filtered.jsonl";
/// Accepted completions of the filter's further runs (store): more draws of the filtered
/// policy for its injury rate; the judge compares the first run's.
pub(super) const FILTERED_MORE: &str = "filtered_more.jsonl";
/// Completions of the distilled generator (store).
pub(super) const DISTILLED: &str = "distilled.jsonl";

/// The classifier the filter and PPO use (after the active-learning round).
pub(super) fn load_classifier(p: &Pipeline) -> Result<Classifier, PipelineError> {
    Ok(Classifier::load(
        p.run.path(CLASSIFIER_ACTIVE),
        DeviceSpec::Auto,
    )?)
}

fn settings(p: &Pipeline, policy: &str) -> SamplingSettings {
    let g = &p.config.generator;
    let mut extra = std::collections::BTreeMap::new();
    extra.insert("policy".to_string(), serde_json::Value::from(policy));
    extra.insert("dtype".to_string(), g.dtype.to_string().into());
    SamplingSettings {
        temperature: g.temperature,
        top_p: g.top_p,
        top_k: None,
        max_new_tokens: g.max_new_tokens as u32,
        extra,
    }
}

fn snippet(q: &SelectedPrompt, completion: &str, generator: Generator) -> Snippet {
    Snippet::new(
        q.prompt.text.clone(),
        completion,
        Some(q.prompt.source.clone()),
        Some(generator),
        Some(q.selection.clone()),
    )
}

/// Writes `snippets` to a fresh store at `name` and labels them with the oracle.
fn store_labeled(p: &Pipeline, name: &str, snippets: Vec<Snippet>) -> Result<Store, PipelineError> {
    let path = p.run.path(name);
    if path.exists() {
        std::fs::remove_file(&path).map_err(|e| PipelineError::io(&path, e))?;
    }
    let mut store = Store::open(&path)?;
    store.append(snippets)?;
    label_store(
        &mut store,
        &mut OracleLabeler::new(),
        &RunOptions::default(),
        &mut |_, _| {},
    )?;
    Ok(store)
}

fn injuries(store: &Store) -> usize {
    store
        .iter()
        .filter(|s| {
            s.label_by("oracle")
                .is_some_and(|l| l.verdict == Verdict::Injury)
        })
        .count()
}

/// Rejection sampling on the test prompts: batched first-accepted (the output distribution
/// of sequential sampling) at the classifier's threshold, constant, so that the filtered
/// policy is exactly the unfiltered one conditioned on acceptance (the efficient win-rate
/// estimator relies on it). A prompt whose `max_attempts` candidates are all rejected gets
/// the typed fallback (refuse).
pub(super) fn filter(p: &Pipeline) -> Result<FilterOutput, PipelineError> {
    let f = &p.config.filter;
    let lm = sampling_generator(p)?;
    let classifier = load_classifier(p)?;
    let threshold = filter_threshold(p)?.threshold;
    let prompts = selected(p, Split::Test)?;
    let policy = RuntimePolicy::with_config(&lm, generate_config(p))?;
    let scorer = &classifier;
    let config = FilterConfig {
        strategy: f.strategy,
        max_attempts: f.max_attempts,
        schedule: ThresholdSchedule::Constant { threshold },
        fallback: Fallback::Refuse,
        fill_rounds: true,
        seed: p.config.seed ^ 0xF17E,
    };
    let filter = Filter::new(&policy, &scorer, config.clone())?;
    let pb = bar(prompts.len() as u64, "filter");
    let start = Instant::now();
    let (mut outcomes, mut rounds, mut gen_secs, mut score_secs) = (Vec::new(), 0, 0.0, 0.0);
    let stats_path = p.run.path("filter_stats.jsonl");
    let mut stats_file =
        std::fs::File::create(&stats_path).map_err(|e| PipelineError::io(&stats_path, e))?;
    for chunk in prompts.chunks(p.config.data.batch_size) {
        let ids: Vec<&str> = chunk.iter().map(|q| q.prompt.id.as_str()).collect();
        let texts: Vec<&str> = chunk.iter().map(|q| q.prompt.text.as_str()).collect();
        let run = filter.run_with_ids(&ids, &texts)?;
        run.write_jsonl(&mut stats_file)?;
        rounds += run.stats.rounds;
        gen_secs += run.stats.generate_secs;
        score_secs += run.stats.score_secs;
        outcomes.extend(run.outcomes);
        pb.set_position(outcomes.len() as u64);
    }
    pb.finish_and_clear();
    let stats = RunStats::from_outcomes(
        &outcomes,
        rounds,
        gen_secs,
        score_secs,
        start.elapsed().as_secs_f64(),
        f.max_attempts,
    );
    let generator = Generator {
        model: format!("{} + filter", lm.model_id()),
        settings: settings(p, "filtered"),
        seed: p.config.seed ^ 0xF17E,
    };
    // The returned completion of each prompt (the one judged), then further independent runs
    // of the filter, each prompt's returned completion of each: all are draws of the filtered
    // policy (the unfiltered policy conditioned on acceptance), `completions_per_prompt` in
    // all per prompt except where a run refused.
    let snippets: Vec<Snippet> = prompts
        .iter()
        .zip(&outcomes)
        .filter_map(|(q, o)| match &o.decision {
            Decision::Accepted { text, .. } => Some(snippet(q, text, generator.clone())),
            Decision::Fallback(_) => None,
        })
        .collect();
    let mut more: Vec<Snippet> = Vec::new();
    let mut extra_refusals = 0usize;
    for draw in 1..p.config.data.completions_per_prompt {
        let again = Filter::new(
            &policy,
            &scorer,
            FilterConfig {
                seed: config.seed ^ ((draw as u64) << 20),
                ..config.clone()
            },
        )?;
        for chunk in prompts.chunks(p.config.data.batch_size) {
            let ids: Vec<&str> = chunk.iter().map(|q| q.prompt.id.as_str()).collect();
            let texts: Vec<&str> = chunk.iter().map(|q| q.prompt.text.as_str()).collect();
            let run = again.run_with_ids(&ids, &texts)?;
            for (q, o) in chunk.iter().zip(&run.outcomes) {
                match &o.decision {
                    Decision::Accepted { text, .. } => {
                        more.push(snippet(q, text, generator.clone()))
                    }
                    Decision::Fallback(_) => extra_refusals += 1,
                }
            }
        }
    }
    let store = store_labeled(p, FILTERED, snippets)?;
    let more = store_labeled(p, FILTERED_MORE, more)?;
    let out = FilterOutput {
        threshold,
        stats,
        accepted: store.len(),
        accepted_in_further_runs: more.len(),
        refused_in_further_runs: extra_refusals,
        oracle_injuries: injuries(&store) + injuries(&more),
    };
    write_json(&p.run.path("filter.json"), &out)?;
    Ok(out)
}

/// Removes the PPO folders of earlier settings (each holds a full copy of the generator's
/// weights); the current one stays.
fn remove_other_distill_folders(
    p: &Pipeline,
    current: &std::path::Path,
) -> Result<(), PipelineError> {
    let root = p.run.root();
    for entry in std::fs::read_dir(root).map_err(|e| PipelineError::io(root, e))? {
        let path = entry.map_err(|e| PipelineError::io(root, e))?.path();
        let stale = path.is_dir()
            && path != current
            && path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("distill-"));
        if stale {
            std::fs::remove_dir_all(&path).map_err(|e| PipelineError::io(&path, e))?;
        }
    }
    Ok(())
}

/// `reward` with its rejection threshold (where it has one) set to the filter's.
fn at_threshold(reward: Shaping, filter: f64) -> Shaping {
    match reward {
        Shaping::Threshold { safe, flagged, .. } => Shaping::Threshold {
            threshold: filter,
            safe,
            flagged,
        },
        Shaping::LogSafeThreshold { floor, penalty, .. } => Shaping::LogSafeThreshold {
            floor,
            threshold: filter,
            penalty,
        },
        Shaping::LogitMargin { clip, cap, .. } => Shaping::LogitMargin {
            threshold: filter,
            clip,
            cap,
        },
        other => other,
    }
}

/// PPO against the classifier on the training prompts, then `completions_per_prompt` per test
/// prompt from the distilled generator, with its per-completion KL to the original generator
/// (both sampled and scored in the generator's dtype).
pub(super) fn distill(p: &Pipeline) -> Result<DistillOutput, PipelineError> {
    let classifier = load_classifier(p)?;
    let threshold = choose_filter_threshold(p, &classifier)?.threshold;
    let reward = classifier;
    let config = PpoConfig {
        reward: at_threshold(p.config.distill.ppo.reward, threshold),
        flag_threshold: threshold,
        seed: p.config.seed,
        // The frozen bottom runs in the generator's dtype: int8 for an int8 generator
        // (with a frozen bottom to run).
        int8_frozen_blocks: p.config.generator.dtype == DType::Int8
            && matches!(p.config.distill.ppo.scope, TrainScope::TopLayers { .. }),
        generation: nines_runtime::GenerateConfig {
            seed: p.config.seed,
            ..generate_config(p)
        },
        ..p.config.distill.ppo.clone()
    };
    config.validate()?;
    let options = LoadOptions::default();
    let model = super::finetune::generator_path(p);
    let (policy, reference) = load_models(&model, options, &config)?;
    let train: Vec<String> = selected(p, Split::Train)?
        .into_iter()
        .map(|q| q.prompt.text)
        .collect();
    // PPO checkpoints (resumed after a crash) live in a folder keyed by the settings.
    let run_dir = p.run.path(&format!(
        "distill-{}",
        super::fingerprint(&p.inputs(super::Stage::Distill))
    ));
    let mut trainer = PpoTrainer::new(policy, reference, &reward, config.clone())?;
    // A step that leaves the KL bound rolls back to the last checkpoint within it.
    let outcome = trainer.train_within_kl(&train, &run_dir, true, None)?;
    let metrics = outcome.metrics;
    // The distilled generator as a model folder, loaded again in the generator's dtype for
    // sampling (int8 by default, as the other policies are sampled).
    let mut trained = trainer.into_policy();
    let exported = export_hf(&mut trained, &run_dir.join("model"))?;
    drop(trained);
    remove_other_distill_folders(p, &run_dir)?;

    // `completions_per_prompt` completions per test prompt, and their KL to the original: log π(x) − log π₀(x).
    let prompts = selected(p, Split::Test)?;
    let cfg = nines_runtime::GenerateConfig {
        seed: p.config.seed ^ 0xD157,
        ..generate_config(p)
    };
    let sampling = LoadOptions {
        dtype: p.config.generator.dtype,
        ..options
    };
    let policy = LanguageModel::load(&exported, sampling)?;
    let original = sampling_generator(p)?;
    let mut snippets = Vec::new();
    let mut kls = Vec::new();
    let generator = Generator {
        model: format!("{} + ppo", policy.model_id()),
        settings: settings(p, "distilled"),
        seed: cfg.seed,
    };
    // `completions_per_prompt` samples of each prompt, the prompts of a batch repeated.
    let repeated: Vec<&SelectedPrompt> = prompts
        .iter()
        .flat_map(|q| std::iter::repeat_n(q, p.config.data.completions_per_prompt))
        .collect();
    let pb = bar(repeated.len() as u64, "distilled");
    for (b, chunk) in repeated.chunks(p.config.data.batch_size).enumerate() {
        let texts: Vec<&str> = chunk.iter().map(|q| q.prompt.text.as_str()).collect();
        let cfg = nines_runtime::GenerateConfig {
            seed: cfg.seed.wrapping_add(b as u64),
            ..cfg.clone()
        };
        let outs = policy.generate(&texts, &cfg)?;
        let items: Vec<(&str, &str)> = texts
            .iter()
            .zip(&outs)
            .map(|(q, g)| (*q, g.text.as_str()))
            .collect();
        let lp_policy = policy.score(&items, p.config.data.batch_size)?;
        let lp_original = original.score(&items, p.config.data.batch_size)?;
        for ((q, g), (a, b)) in chunk
            .iter()
            .zip(&outs)
            .zip(lp_policy.iter().zip(&lp_original))
        {
            let kl: f32 = a.iter().sum::<f32>() - b.iter().sum::<f32>();
            kls.push(f64::from(kl));
            snippets.push(snippet(q, &g.text, generator.clone()));
        }
        pb.inc(chunk.len() as u64);
    }
    pb.finish_and_clear();
    let kept: Vec<Snippet> = snippets
        .into_iter()
        .filter(|s| !s.completion.trim().is_empty())
        .collect();
    let store = store_labeled(p, DISTILLED, kept)?;
    let kl = nines_estimate::interval::mean(&kls, 0.95)?;
    let out = DistillOutput {
        steps: metrics.len(),
        kl_stop: outcome.kl_stop,
        kl_to_original: kl,
        completions: store.len(),
        oracle_injuries: injuries(&store),
        metrics,
    };
    write_json(&p.run.path("distill.json"), &out)?;
    Ok(out)
}
