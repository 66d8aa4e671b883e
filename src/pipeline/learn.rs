//! The learning stages: the labeled dataset, the injury classifier and one active-learning
//! round.
//!
//! The dataset pairs every corpus sentence (as the completion) with the three sentences
//! before it (as the prompt) and labels it with the rule oracle. Its splits are those of the
//! corpus (by chapter). The training chapters are cut in two halves by a seeded hash: the
//! classifier trains on one, the other is the unlabeled pool of the active-learning round, so
//! the pool holds injuries the classifier has never seen.

use std::collections::BTreeSet;
use std::path::PathBuf;

use nines_active::acquisition::StrategyName;
use nines_active::{Acquisition, Pool, PoolItem, SelectorConfig, select};
use nines_attack::TrainingData;
use nines_classify::example::{Example, subsample_negatives};
use nines_classify::metrics::{Metrics, calibration};
use nines_classify::threshold::{ThresholdChoice, evaluate_threshold, select_for_fnr};
use nines_classify::{Classifier, ClassifierConfig, TrainConfig, TrainReport, Trainer};
use nines_data::complete::{CompletionConfig, ReferenceSampler, build_completions};
use nines_data::corpus::Corpus;
use nines_data::label::oracle::OracleLabeler;
use nines_data::label::{RunOptions, label_store};
use nines_data::prompt::{PromptConfig, build_prompts};
use nines_data::select::{LexiconScorer, SelectionConfig, Strategy, select as select_prompts};
use nines_data::split::{Split, chapter_half};
use nines_data::store::{Store, StoreOptions};
use nines_data::{Snippet, Verdict};
use nines_runtime::DeviceSpec;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use sha2::Digest;

use super::outputs::{
    ActiveOutput, ClassifierOutput, DatasetOutput, DatasetSplit, StrategyDraw, TestEvaluation,
};
use super::stages::bar;
use super::{Pipeline, PipelineConfig, PipelineError, Stage, fingerprint, read_json, write_json};

/// A training checkpoint folder keyed by the stage's settings: a crashed stage resumes from
/// it; a stage rerun with other settings starts afresh.
fn checkpoint_dir(p: &Pipeline, stage: Stage) -> PathBuf {
    p.run.path(&format!(
        "checkpoint-{}-{}",
        stage.name(),
        fingerprint(&p.inputs(stage))
    ))
}

/// Removes a finished stage's checkpoint folder (the saved classifier is what stays).
fn remove_checkpoint(dir: &std::path::Path) -> Result<(), PipelineError> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(PipelineError::io(dir, e)),
    }
}

/// The dataset store in the run folder.
pub(super) const DATASET: &str = "dataset.jsonl";
/// The first-round classifier folder.
pub(super) const CLASSIFIER: &str = "classifier";
/// The classifier after the active-learning round: the one the filter and PPO use.
pub(super) const CLASSIFIER_ACTIVE: &str = "classifier_active";
/// The classifier stage's output ([`ClassifierOutput`]).
const CLASSIFIER_EVAL: &str = "classifier_eval.json";
/// The active stage's output ([`ActiveOutput`]).
const ACTIVE_RECORD: &str = "active.json";

/// Every corpus sentence as the completion of the three before it, oracle-labeled.
pub(super) fn dataset(p: &Pipeline) -> Result<DatasetOutput, PipelineError> {
    let path = p.run.path(DATASET);
    if path.exists() {
        // A crash may have left part of it: rebuild from scratch (it takes seconds).
        std::fs::remove_file(&path).map_err(|e| PipelineError::io(&path, e))?;
    }
    let corpus = Corpus::load(&p.config.data.corpus)?;
    let cfg = PromptConfig {
        stride: 1,
        ..PromptConfig::default()
    };
    let (all, _) = build_prompts(&corpus, &cfg)?;
    let with_next: Vec<_> = all
        .into_iter()
        .filter(|q| q.next_sentence.is_some())
        .collect();
    let chosen = select_prompts(
        &with_next,
        &LexiconScorer::default(),
        &SelectionConfig {
            target: with_next.len(),
            strategy: Strategy::Uniform,
            seed: p.config.seed,
            ..Default::default()
        },
    )?;
    let mut sampler = ReferenceSampler::new(&chosen);
    let pb = bar(chosen.len() as u64, "dataset");
    let out = build_completions(
        &chosen,
        &mut sampler,
        &CompletionConfig {
            k: 1,
            batch_size: 512,
            seed: p.config.seed,
            ..Default::default()
        },
        &mut |d, _| pb.set_position(d as u64),
    )?;
    pb.finish_and_clear();
    let mut store = Store::open(&path)?;
    store.append(out.snippets)?;
    let generated = generated_data(p, &with_next)?;
    store.append(generated)?;
    let mut oracle = OracleLabeler::new();
    label_store(
        &mut store,
        &mut oracle,
        &RunOptions::default(),
        &mut |_, _| {},
    )?;
    let mut splits = Vec::new();
    for split in [Split::Train, Split::Validation, Split::Test] {
        let (mut n, mut injuries, mut gen_n, mut gen_injuries) = (0, 0, 0, 0);
        for s in store.iter().filter(|s| split_of(s) == Some(split)) {
            let injury = usize::from(verdict(s) == Some(Verdict::Injury));
            if is_generated(s) {
                gen_n += 1;
                gen_injuries += injury;
            } else {
                n += 1;
                injuries += injury;
            }
        }
        splits.push(DatasetSplit {
            split,
            pairs: n,
            injuries,
            generated: gen_n,
            generated_injuries: gen_injuries,
        });
    }
    Ok(DatasetOutput {
        pairs: store.len(),
        splits,
    })
}

/// Whether a dataset pair was written by the generator (not the book's own next sentence).
fn is_generated(s: &Snippet) -> bool {
    s.generator
        .as_ref()
        .is_some_and(|g| g.model != "corpus-reference")
}

/// The generator's completions of injury-prone prompts of the classifier's training half and
/// of the validation chapters (`classifier.generated_prompts` and half as many,
/// `classifier.generated_per_prompt` each). They are cached beside the fine-tuned generator,
/// keyed by the generator, its settings and the prompts (which the oracle chose), so a rerun
/// with the same inputs samples nothing; their labels are the current oracle's.
fn generated_data(
    p: &Pipeline,
    windows: &[nines_data::prompt::Prompt],
) -> Result<Vec<Snippet>, PipelineError> {
    let k = &p.config.classifier;
    if k.generated_prompts == 0 {
        return Ok(Vec::new());
    }
    let seed = p.config.seed;
    let classifier_half = |q: &nines_data::prompt::Prompt| {
        chapter_half(&q.source.document, q.source.region, seed) == 0
    };
    let mut chosen = Vec::new();
    for (split, target) in [
        (Split::Train, k.generated_prompts),
        (Split::Validation, k.generated_prompts / 2),
    ] {
        let pool: Vec<nines_data::prompt::Prompt> = windows
            .iter()
            .filter(|q| q.source.split == split && (split != Split::Train || classifier_half(q)))
            .cloned()
            .collect();
        let prone = super::stages::injury_prone(&pool, p.config.data.injury_prone_lexicon_share);
        let prone: Vec<_> = pool.into_iter().filter(|q| prone.contains(&q.id)).collect();
        chosen.extend(select_prompts(
            &prone,
            &LexiconScorer::default(),
            &SelectionConfig {
                target,
                strategy: Strategy::Uniform,
                seed: seed ^ 0x6E4,
                ..Default::default()
            },
        )?);
    }
    let key = fingerprint(&serde_json::json!({
        "generator": super::finetune::generator_path(p),
        "dtype": p.config.generator.dtype,
        "sampling": super::stages::generate_config(p),
        "prompts": chosen.iter().map(|q| q.prompt.id.as_str()).collect::<Vec<_>>(),
        "per_prompt": k.generated_per_prompt,
    }));
    let cache = p
        .config
        .generator
        .finetune_cache
        .join(format!("generated-{key}.jsonl"));
    if let Ok(cached) = Store::open_read_only(&cache, StoreOptions::default())
        && !cached.is_empty()
    {
        return Ok(cached.iter().cloned().collect());
    }
    let lm = super::stages::sampling_generator(p)?;
    let mut sampler = crate::sampler::LmSampler::new(&lm, super::stages::generate_config(p));
    let pb = bar(chosen.len() as u64, "generated");
    let out = build_completions(
        &chosen,
        &mut sampler,
        &CompletionConfig {
            k: k.generated_per_prompt,
            batch_size: p.config.data.batch_size,
            seed: seed ^ 0x6E4,
            ..Default::default()
        },
        &mut |d, _| pb.set_position(d as u64),
    )?;
    pb.finish_and_clear();
    std::fs::create_dir_all(&p.config.generator.finetune_cache)
        .map_err(|e| PipelineError::io(&p.config.generator.finetune_cache, e))?;
    let partial = cache.with_extension("jsonl.partial");
    if partial.exists() {
        std::fs::remove_file(&partial).map_err(|e| PipelineError::io(&partial, e))?;
    }
    {
        let mut store = Store::open(&partial)?;
        store.append(out.snippets.clone())?;
    }
    std::fs::rename(&partial, &cache).map_err(|e| PipelineError::io(&cache, e))?;
    Ok(out.snippets)
}

fn split_of(s: &Snippet) -> Option<Split> {
    s.source.as_ref().map(|src| src.split)
}

fn verdict(s: &Snippet) -> Option<Verdict> {
    s.label_by("oracle").map(|l| l.verdict)
}

/// Whether a training snippet's chapter belongs to the active-learning pool half.
fn in_pool_half(s: &Snippet, seed: u64) -> bool {
    s.source
        .as_ref()
        .is_some_and(|src| chapter_half(&src.document, src.region, seed) == 1)
}

fn example(s: &Snippet) -> Option<Example> {
    match verdict(s)? {
        Verdict::Injury => Some(Example {
            prompt: s.prompt.clone(),
            completion: s.completion.clone(),
            label: true,
        }),
        Verdict::NoInjury => Some(Example {
            prompt: s.prompt.clone(),
            completion: s.completion.clone(),
            label: false,
        }),
        Verdict::Unsure => None,
    }
}

/// The dataset cut into the classifier's splits and the pool half (unsure pairs left out).
struct Data {
    train: Vec<Example>,
    validation: Vec<Example>,
    test: Vec<Example>,
    pool: Vec<Example>,
    /// The generator's completions: kept whole (not subsampled) in training and validation.
    generated_train: Vec<Example>,
    generated_validation: Vec<Example>,
}

fn load_data(p: &Pipeline) -> Result<Data, PipelineError> {
    load_dataset(&p.run.path(DATASET), &p.config)
}

/// The labeled dataset at `path` split as the classifier stages use it under `config`.
fn load_dataset(path: &std::path::Path, config: &PipelineConfig) -> Result<Data, PipelineError> {
    let store = Store::open_read_only(path, StoreOptions::default())?;
    let mut d = Data {
        train: Vec::new(),
        validation: Vec::new(),
        test: Vec::new(),
        pool: Vec::new(),
        generated_train: Vec::new(),
        generated_validation: Vec::new(),
    };
    for s in store.iter() {
        let Some(e) = example(s) else { continue };
        if is_generated(s) {
            match split_of(s) {
                Some(Split::Train) => d.generated_train.push(e),
                Some(Split::Validation) => d.generated_validation.push(e),
                _ => {}
            }
            continue;
        }
        match split_of(s) {
            Some(Split::Train) if in_pool_half(s, config.seed) => d.pool.push(e),
            Some(Split::Train) => d.train.push(e),
            Some(Split::Validation) => d.validation.push(e),
            Some(Split::Test) => d.test.push(e),
            None => {}
        }
    }
    let keep = config.classifier.eval_negatives;
    if keep > 0 {
        d.validation =
            subsample_negatives(std::mem::take(&mut d.validation), keep, config.seed ^ 1);
        d.test = subsample_negatives(std::mem::take(&mut d.test), keep, config.seed ^ 2);
    }
    d.validation.extend(d.generated_validation.iter().cloned());
    Ok(d)
}

/// The generator's own completions of validation prompts, with their labels: where the
/// filter's threshold is chosen again (the distribution the filter sees).
pub(super) fn generated_validation(p: &Pipeline) -> Result<Vec<Example>, PipelineError> {
    Ok(load_data(p)?.generated_validation)
}

/// The threshold the filter, PPO and the flagged rates use (`filter_threshold.json`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FilterThreshold {
    /// Reject when P(injury) > `threshold`.
    pub threshold: f64,
    /// The classifier's own threshold, chosen on every validation pair.
    pub classifier_threshold: f64,
    /// With `filter.generated_target_fnr`: the threshold chosen on the generator's own
    /// validation completions and what it does there.
    pub generated: Option<ThresholdChoice>,
}

const FILTER_THRESHOLD: &str = "filter_threshold.json";

/// Chooses the filter's threshold and writes it to the run folder: the classifier's own, or,
/// with `filter.generated_target_fnr`, the stricter of it and one chosen on the generator's
/// validation completions for that false-negative rate.
pub(super) fn choose_filter_threshold(
    p: &Pipeline,
    classifier: &Classifier,
) -> Result<FilterThreshold, PipelineError> {
    let own = classifier
        .threshold()
        .ok_or_else(|| PipelineError::NoThreshold(p.run.path(CLASSIFIER_ACTIVE)))?;
    let mut chosen = FilterThreshold {
        threshold: own,
        classifier_threshold: own,
        generated: None,
    };
    if let Some(target) = p.config.filter.generated_target_fnr {
        let examples = generated_validation(p)?;
        if examples.iter().any(|e| e.label) {
            let scores = classifier.score(&pairs(&examples))?;
            let labels: Vec<bool> = examples.iter().map(|e| e.label).collect();
            let choice = select_for_fnr(&scores, &labels, target, 0.95)?;
            chosen.threshold = own.min(choice.threshold);
            chosen.generated = Some(choice);
        }
    }
    write_json(&p.run.path(FILTER_THRESHOLD), &chosen)?;
    Ok(chosen)
}

/// The threshold [`choose_filter_threshold`] wrote.
pub(super) fn filter_threshold(p: &Pipeline) -> Result<FilterThreshold, PipelineError> {
    read_json(&p.run.path(FILTER_THRESHOLD))
}

fn pairs(examples: &[Example]) -> Vec<(&str, &str)> {
    examples
        .iter()
        .map(|e| (e.prompt.as_str(), e.completion.as_str()))
        .collect()
}

/// ROC curve points `(false-positive rate, true-positive rate)`, one per distinct score.
pub(super) fn roc_points(scores: &[f32], labels: &[bool]) -> Vec<(f64, f64)> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let pos = labels.iter().filter(|&&l| l).count().max(1) as f64;
    let neg = labels.iter().filter(|&&l| !l).count().max(1) as f64;
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut out = vec![(0.0, 0.0)];
    for (i, &j) in order.iter().enumerate() {
        if labels[j] {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        let last_of_tie = order
            .get(i + 1)
            .is_none_or(|&next| scores[next] != scores[j]);
        if last_of_tie {
            out.push((fp / neg, tp / pos));
        }
    }
    out
}

/// Test-split figures of a classifier: metrics, its threshold there, reliability bins, ROC.
fn evaluate_on_test(
    model: &Classifier,
    saved: &std::path::Path,
    test: &[Example],
) -> Result<TestEvaluation, PipelineError> {
    let labels: Vec<bool> = test.iter().map(|e| e.label).collect();
    let scores = model.score(&pairs(test))?;
    let threshold = model
        .threshold()
        .ok_or_else(|| PipelineError::NoThreshold(saved.to_path_buf()))?;
    let metrics = Metrics::compute(&scores, &labels)?;
    let at_threshold = evaluate_threshold(&scores, &labels, threshold, 0.95)?;
    let cal = calibration(&scores, &labels, 10)?;
    Ok(TestEvaluation {
        metrics,
        threshold: at_threshold,
        calibration: cal,
        roc: roc_points(&scores, &labels),
    })
}

fn classifier_config(p: &Pipeline) -> ClassifierConfig {
    ClassifierConfig {
        seed: p.config.seed,
        ..p.config.classifier.model.clone()
    }
}

/// The stage's training settings with the run's seed and a checkpoint folder in the run.
fn train_config(p: &Pipeline, checkpoint: PathBuf) -> TrainConfig {
    TrainConfig {
        seed: p.config.seed,
        checkpoint_dir: Some(checkpoint),
        ..p.config.classifier.train.clone()
    }
}

/// Trains `model` on `train` (validation: `d.validation`), saves it as `dest` in the run folder,
/// removes the training checkpoint (`config.checkpoint_dir`) and measures it on `d.test`.
fn train_save_evaluate(
    p: &Pipeline,
    model: &mut Classifier,
    config: TrainConfig,
    train: &[Example],
    d: &Data,
    dest: &str,
) -> Result<(TrainReport, TestEvaluation), PipelineError> {
    let ckpt = config.checkpoint_dir.clone();
    let report = Trainer::new(model, config).and_then(|t| t.train(train, &d.validation))?;
    model.save(p.run.path(dest))?;
    if let Some(dir) = ckpt {
        remove_checkpoint(&dir)?;
    }
    let test = evaluate_on_test(model, &p.run.path(dest), &d.test)?;
    Ok((report, test))
}

/// Raised whenever the classifier or active-learning stage's code changes what it trains, so
/// that cached results of the earlier code are not reused.
const TRAINING_REVISION: u32 = 2;

/// SHA-256 of what the classifier learns from in the dataset: every pair's id (a hash of its
/// text and provenance) with its labels' labeler, verdict and version — not the labels'
/// times, which differ from run to run for the same content.
fn dataset_content_hash(p: &Pipeline) -> Result<String, PipelineError> {
    let store = Store::open_read_only(p.run.path(DATASET), StoreOptions::default())?;
    let mut h = sha2::Sha256::new();
    for s in store.iter() {
        h.update(s.id.as_bytes());
        for l in &s.labels {
            h.update([0u8]);
            h.update(l.labeler.as_bytes());
            h.update([0u8]);
            h.update(
                serde_json::to_string(&l.verdict)
                    .unwrap_or_default()
                    .as_bytes(),
            );
            h.update([0u8]);
            h.update(l.version.as_deref().unwrap_or("").as_bytes());
        }
        h.update([b'\n']);
    }
    Ok(format!("{:x}", h.finalize()))
}

/// Runs `train` (a stage that writes `outputs` into the run folder) unless a run with the same
/// inputs — the stage's settings and the dataset's content — already did: the outputs are then
/// copied from `<finetune_cache>/<stage>-<key>/`, where every finished run leaves them. A
/// fresh run folder with a warm cache so skips classifier training.
fn cached_training<T: serde::Serialize + serde::de::DeserializeOwned>(
    p: &Pipeline,
    stage: Stage,
    outputs: &[&str],
    train: impl FnOnce() -> Result<T, PipelineError>,
) -> Result<T, PipelineError> {
    let key = fingerprint(&serde_json::json!({
        "inputs": p.inputs(stage),
        "dataset": dataset_content_hash(p)?,
        "revision": TRAINING_REVISION,
    }));
    let cache = p
        .config
        .generator
        .finetune_cache
        .join(format!("{}-{key}", stage.name()));
    let summary_file = cache.join("summary.json");
    if let Ok(summary) = read_json::<T>(&summary_file) {
        for name in outputs {
            copy_tree(&cache.join(name), &p.run.path(name))?;
        }
        return Ok(summary);
    }
    let summary = train()?;
    let partial = cache.with_extension("partial");
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(|e| PipelineError::io(&partial, e))?;
    }
    for name in outputs {
        copy_tree(&p.run.path(name), &partial.join(name))?;
    }
    write_json(&partial.join("summary.json"), &summary)?;
    if cache.exists() {
        std::fs::remove_dir_all(&cache).map_err(|e| PipelineError::io(&cache, e))?;
    }
    std::fs::rename(&partial, &cache).map_err(|e| PipelineError::io(&cache, e))?;
    Ok(summary)
}

/// Copies a file, or a folder and everything in it, replacing what is at `to`.
fn copy_tree(from: &std::path::Path, to: &std::path::Path) -> Result<(), PipelineError> {
    if from.is_dir() {
        if to.exists() {
            std::fs::remove_dir_all(to).map_err(|e| PipelineError::io(to, e))?;
        }
        std::fs::create_dir_all(to).map_err(|e| PipelineError::io(to, e))?;
        for entry in std::fs::read_dir(from).map_err(|e| PipelineError::io(from, e))? {
            let entry = entry.map_err(|e| PipelineError::io(from, e))?;
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
        Ok(())
    } else {
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(|e| PipelineError::io(parent, e))?;
        }
        std::fs::copy(from, to)
            .map(|_| ())
            .map_err(|e| PipelineError::io(from, e))
    }
}

/// Trains the MiniLM pair classifier on the training half, chooses its threshold for the
/// target false-negative rate on validation, and measures it on test (cached across runs:
/// [`cached_training`]).
pub(super) fn classifier(p: &Pipeline) -> Result<ClassifierOutput, PipelineError> {
    cached_training(p, Stage::Classifier, &[CLASSIFIER, CLASSIFIER_EVAL], || {
        train_classifier(p)
    })
}

/// The classifier stage's training pairs: the book's training pairs with negatives
/// subsampled (`classifier.train_negatives`), plus the generator's completions.
fn classifier_train_pairs(config: &PipelineConfig, d: &mut Data) -> Vec<Example> {
    let mut train = subsample_negatives(
        std::mem::take(&mut d.train),
        config.classifier.train_negatives,
        config.seed,
    );
    train.extend(d.generated_train.iter().cloned());
    train
}

/// The pairs the classifier stage of the run in `config.run_dir` trained on, chose its
/// threshold on and tested on, read from the run's labeled dataset (its `dataset` stage must
/// have run); nothing in the run folder is written. What adversarial training retrains on,
/// so that before and after differ only by it.
///
/// # Errors
/// [`PipelineError`] when the dataset cannot be read.
pub fn classifier_data(config: &PipelineConfig) -> Result<TrainingData, PipelineError> {
    let mut d = load_dataset(&config.run_dir.join(DATASET), config)?;
    let train = classifier_train_pairs(config, &mut d);
    Ok(TrainingData {
        train,
        validation: d.validation,
        test: d.test,
    })
}

fn train_classifier(p: &Pipeline) -> Result<ClassifierOutput, PipelineError> {
    let mut d = load_data(p)?;
    let train = classifier_train_pairs(&p.config, &mut d);
    let mut model = Classifier::new(&classifier_config(p))?;
    let config = train_config(p, checkpoint_dir(p, Stage::Classifier));
    let (report, test) = train_save_evaluate(p, &mut model, config, &train, &d, CLASSIFIER)?;
    let eval = ClassifierOutput {
        train_examples: train.len(),
        train_positives: train.iter().filter(|e| e.label).count(),
        generated_train_examples: d.generated_train.len(),
        generated_train_positives: d.generated_train.iter().filter(|e| e.label).count(),
        generated_validation_examples: d.generated_validation.len(),
        train_report: report,
        test,
    };
    write_json(&p.run.path(CLASSIFIER_EVAL), &eval)?;
    Ok(eval)
}

/// One round: score a uniform draw from the pool half; draw `budget` labels with the boundary
/// band and, for comparison, at random (both with recorded inclusion probabilities); label the
/// boundary draw with the oracle; retrain on it plus a replay of the first round's data
/// (cached across runs: [`cached_training`]).
pub(super) fn active(p: &Pipeline) -> Result<ActiveOutput, PipelineError> {
    cached_training(
        p,
        Stage::Active,
        &[CLASSIFIER_ACTIVE, ACTIVE_RECORD],
        || active_round(p),
    )
}

fn active_round(p: &Pipeline) -> Result<ActiveOutput, PipelineError> {
    let a = &p.config.active;
    let mut d = load_data(p)?;
    let mut pool_examples = std::mem::take(&mut d.pool);
    let mut rng = ChaCha8Rng::seed_from_u64(p.config.seed ^ 0xAC71);
    pool_examples.shuffle(&mut rng);
    pool_examples.truncate(a.pool_size);
    let mut model = Classifier::load(p.run.path(CLASSIFIER), DeviceSpec::Auto)?;
    let threshold = model
        .threshold()
        .ok_or_else(|| PipelineError::NoThreshold(p.run.path(CLASSIFIER)))?;
    let scores = model.score(&pairs(&pool_examples))?;
    let items: Vec<PoolItem> = pool_examples
        .iter()
        .zip(&scores)
        .map(|(e, &s)| PoolItem::new(e.prompt.clone(), e.completion.clone(), f64::from(s)))
        .collect();
    let pool = Pool::new(items)?;
    let misses: Vec<usize> = (0..pool_examples.len())
        .filter(|&i| pool_examples[i].label && f64::from(scores[i]) <= threshold)
        .collect();
    let cfg = SelectorConfig {
        budget: a.budget,
        seed: p.config.seed,
        ..Default::default()
    };
    let mut strategies = Vec::new();
    let mut boundary_picks = Vec::new();
    for name in [StrategyName::Boundary, StrategyName::Random] {
        let acq: Box<dyn Acquisition> = name.build();
        let batch = select(&pool, acq.as_ref(), threshold, &cfg)?;
        // Exact expectations under the design: E[labels] = Σ π, E[misses found] = Σ_misses π.
        let expected_labels: f64 = batch.probabilities.iter().sum();
        let expected_misses: f64 = misses.iter().map(|&i| batch.probabilities[i]).sum();
        let found = batch
            .picks
            .iter()
            .filter(|pk| misses.contains(&pk.index))
            .count();
        strategies.push(StrategyDraw {
            strategy: name,
            labels: batch.picks.len(),
            misses_found: found,
            expected_labels,
            expected_misses,
            misses_per_100_labels: 100.0 * expected_misses / expected_labels,
        });
        if name == StrategyName::Boundary {
            boundary_picks = batch.picks.iter().map(|pk| pk.index).collect();
        }
    }
    let ratio = strategies[0].misses_per_100_labels
        / strategies[1].misses_per_100_labels.max(f64::MIN_POSITIVE);

    // Retrain: the oracle's labels of the boundary draw, plus a replay of round one's data.
    // In index order: a hash set's order changes from run to run, and so would the training.
    let picked: BTreeSet<usize> = boundary_picks.iter().copied().collect();
    let mut retrain: Vec<Example> = picked.iter().map(|&i| pool_examples[i].clone()).collect();
    let mut round_one = subsample_negatives(
        std::mem::take(&mut d.train),
        p.config.classifier.train_negatives,
        p.config.seed,
    );
    round_one.extend(d.generated_train.iter().cloned());
    let (pos, mut neg): (Vec<_>, Vec<_>) = round_one.into_iter().partition(|e| e.label);
    neg.shuffle(&mut rng);
    neg.truncate(a.replay.saturating_sub(pos.len()));
    retrain.extend(pos);
    retrain.extend(neg);
    let before: ClassifierOutput = read_json(&p.run.path(CLASSIFIER_EVAL))?;
    let config = TrainConfig {
        epochs: 1,
        warmup_fraction: 0.0,
        ..train_config(p, checkpoint_dir(p, Stage::Active))
    };
    let (report, test) =
        train_save_evaluate(p, &mut model, config, &retrain, &d, CLASSIFIER_ACTIVE)?;
    let out = ActiveOutput {
        pool: pool_examples.len(),
        pool_injuries: pool_examples.iter().filter(|e| e.label).count(),
        threshold,
        misses_in_pool: misses.len(),
        strategies,
        boundary_vs_random: ratio,
        retrain_examples: retrain.len(),
        new_labels: picked.len(),
        new_injuries: picked.iter().filter(|&&i| pool_examples[i].label).count(),
        train_report: report,
        before: before.test,
        after: test,
    };
    write_json(&p.run.path(ACTIVE_RECORD), &out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roc_runs_from_origin_to_one_and_merges_ties() {
        let scores = [0.9, 0.8, 0.8, 0.1];
        let labels = [true, false, true, false];
        let roc = roc_points(&scores, &labels);
        assert_eq!(roc, vec![(0.0, 0.0), (0.0, 0.5), (0.5, 1.0), (1.0, 1.0)]);
    }

    #[test]
    fn subsampling_keeps_every_positive() {
        let ex = |label| Example {
            prompt: "p".into(),
            completion: "c".into(),
            label,
        };
        let data: Vec<Example> = (0..100).map(|i| ex(i % 10 == 0)).collect();
        let kept = subsample_negatives(data, 20, 3);
        assert_eq!(kept.iter().filter(|e| e.label).count(), 10);
        assert_eq!(kept.iter().filter(|e| !e.label).count(), 20);
    }
}
