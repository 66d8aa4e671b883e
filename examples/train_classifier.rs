//! Train an injury classifier on a labeled snippet store, choose its threshold for a target
//! false-negative rate on validation, and report AUROC and safe-rejection rate on test.
//!
//! ```text
//! # Data: the books' next sentences, oracle-labeled (see docs/data.md).
//! cargo run --release --example build_dataset -- --generator reference --k 1 --labeler oracle
//! # MiniLM pair classifier (defaults), saved with tokenizer, temperature and threshold:
//! cargo run --release --example train_classifier -- --data runs/data/snippets.jsonl --out runs/classifier
//! # The generator as backbone (frozen, head only):
//! cargo run --release --example train_classifier -- --backbone models/smollm2 --kind causal --pooling last --lr 1e-3
//! # Hyperparameter search (grid over the default space), best trial saved:
//! cargo run --release --example train_classifier -- --search grid --epochs 2
//! # How accurate must labelers be? Train on labels flipped at 10%, test on clean ones:
//! cargo run --release --example train_classifier -- --label-noise symmetric:0.1 --noise-seed 1
//! ```

use std::collections::HashSet;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Parser;
use nines::classify::example::{Example, LabelSource, split_snippets};
use nines::classify::metrics::{Metrics, calibration};
use nines::classify::search::{SearchMode, SearchSpace, run_search};
use nines::classify::threshold::evaluate_threshold;
use nines::classify::{
    BackboneKind, Classifier, ClassifierConfig, HeadPooling, LossKind, TrainConfig, Trainer,
};
use nines::data::Verdict;
use nines::data::label::noise::{Noise, NoisyLabeler};
use nines::data::label::oracle::OracleLabeler;
use nines::data::store::{Store, StoreOptions};
use nines::runtime::DeviceSpec;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Train a (prompt, completion) → P(injury) classifier.
#[derive(Parser, Debug)]
struct Args {
    /// Labeled snippet store (nines-data JSONL); its records' splits give train/validation/test.
    #[arg(long, default_value = "runs/data/snippets.jsonl")]
    data: PathBuf,
    /// Which labels decide: `majority`, `any` (one injury label suffices) or `labeler:NAME`.
    #[arg(long, default_value = "majority")]
    labels: String,
    /// Backbone: a Hugging Face folder (encoder or causal LM) or a .gguf file (causal LM).
    #[arg(long, default_value = "models/minilm")]
    backbone: PathBuf,
    /// `encoder` or `causal`.
    #[arg(long, default_value = "encoder")]
    kind: String,
    /// `mean`, `cls` (encoder) or `last` (causal).
    #[arg(long, default_value = "mean")]
    pooling: String,
    /// Freeze the backbone and train the head only.
    #[arg(long)]
    freeze: bool,
    /// Output folder: the saved classifier, report.json, test.json.
    #[arg(long, default_value = "runs/classifier")]
    out: PathBuf,
    /// Checkpoint folder (resumes from it when it holds a checkpoint of this run).
    #[arg(long)]
    checkpoint_dir: Option<PathBuf>,
    /// Peak learning rate.
    #[arg(long, default_value_t = 5e-5)]
    lr: f64,
    /// Epochs.
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    /// Examples per micro-batch.
    #[arg(long, default_value_t = 16)]
    batch_size: usize,
    /// Micro-batches per optimizer step.
    #[arg(long, default_value_t = 1)]
    grad_accum: usize,
    /// Longest pair in tokens.
    #[arg(long, default_value_t = 128)]
    max_len: usize,
    /// Head dropout.
    #[arg(long, default_value_t = 0.1)]
    dropout: f64,
    /// Gradient clip norm (0: off).
    #[arg(long, default_value_t = 1.0)]
    clip: f64,
    /// `bce` or `focal`.
    #[arg(long, default_value = "bce")]
    loss: String,
    /// Positive-class weight.
    #[arg(long, default_value_t = 1.0)]
    pos_weight: f64,
    /// Positive oversampling factor (≥ 1).
    #[arg(long, default_value_t = 1.0)]
    oversample: f64,
    /// Early-stopping patience in evaluations (0: off).
    #[arg(long, default_value_t = 2)]
    patience: usize,
    /// Evaluate every N steps (0: each epoch).
    #[arg(long, default_value_t = 0)]
    eval_every: u64,
    /// Target false-negative rate for the threshold (validation).
    #[arg(long, default_value_t = 0.01)]
    target_fnr: f64,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// `auto`, `cpu`, `cuda`, `cuda:N`.
    #[arg(long, default_value = "auto")]
    device: String,
    /// LibTorch intra-op threads (0: LibTorch's default).
    #[arg(long, default_value_t = 0)]
    threads: i32,
    /// Keep at most this many training negatives, drawn uniformly with the seed (the positives
    /// are all kept). Cuts training time on large, imbalanced stores; validation and test are
    /// never subsampled.
    #[arg(long)]
    train_negatives: Option<usize>,
    /// Hyperparameter search instead of one run: `grid` or `random:N`.
    #[arg(long)]
    search: Option<String>,
    /// Flip the training and validation labels (never the test labels), as a less accurate
    /// labeler would: `symmetric:P` (either verdict with probability P) or `missed:P`
    /// (injuries reported as safe with probability P).
    #[arg(long)]
    label_noise: Option<String>,
    /// Seed of the flips (deterministic per pair).
    #[arg(long, default_value_t = 0)]
    noise_seed: u64,
}

/// Flips the labels of `examples` with `noise` (per pair, by its text).
fn flip_labels(examples: &mut [Example], noise: Noise, seed: u64) -> Result<usize> {
    let flipper = NoisyLabeler::new(OracleLabeler::new(), noise, seed)?;
    let mut flipped = 0;
    for e in examples {
        let verdict = if e.label {
            Verdict::Injury
        } else {
            Verdict::NoInjury
        };
        let noisy = flipper.flip(&format!("{}\u{1f}{}", e.prompt, e.completion), verdict);
        if noisy != verdict {
            e.label = noisy == Verdict::Injury;
            flipped += 1;
        }
    }
    Ok(flipped)
}

/// Keeps every positive and a uniform sample of `keep` negatives, in the original order.
/// Returns how many negatives were left out.
fn subsample_negatives(train: &mut Vec<Example>, keep: usize, seed: u64) -> usize {
    let negatives: Vec<usize> = (0..train.len()).filter(|&i| !train[i].label).collect();
    if negatives.len() <= keep {
        return 0;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6e65_6761_7469_7665);
    let chosen: HashSet<usize> = rand::seq::index::sample(&mut rng, negatives.len(), keep)
        .into_iter()
        .map(|j| negatives[j])
        .collect();
    let before = train.len();
    let mut i = 0;
    train.retain(|e| {
        let keep_it = e.label || chosen.contains(&i);
        i += 1;
        keep_it
    });
    before - train.len()
}

fn main() -> Result<()> {
    let a = Args::parse();
    nines::runtime::device::set_threads(a.threads)?;
    let source = match a.labels.as_str() {
        "majority" => LabelSource::Majority,
        "any" => LabelSource::AnyInjury,
        s => match s.strip_prefix("labeler:") {
            Some(name) => LabelSource::Labeler(name.to_string()),
            None => bail!("--labels: `{s}` is not majority, any or labeler:NAME"),
        },
    };
    let store = Store::open_read_only(&a.data, StoreOptions::default())
        .with_context(|| format!("opening {}", a.data.display()))?;
    let mut data = split_snippets(store.iter(), &source);
    if let Some(keep) = a.train_negatives {
        let dropped = subsample_negatives(&mut data.train, keep, a.seed);
        println!(
            "train: kept {keep} negatives drawn uniformly, {dropped} left out (--train-negatives)"
        );
    }
    if let Some(spec) = &a.label_noise {
        let noise = match spec.split_once(':').map(|(k, p)| (k, p.parse::<f64>())) {
            Some(("symmetric", Ok(p))) => Noise::Symmetric(p),
            Some(("missed", Ok(p))) => Noise::PerClass {
                injury_to_no_injury: p,
                no_injury_to_injury: 0.0,
            },
            _ => bail!("--label-noise: `{spec}` is not symmetric:P or missed:P"),
        };
        let train = flip_labels(&mut data.train, noise, a.noise_seed)?;
        let validation = flip_labels(&mut data.validation, noise, a.noise_seed ^ 1)?;
        println!(
            "label noise {spec}: {train} training and {validation} validation labels flipped; test labels kept"
        );
    }
    let r = data.report;
    println!(
        "data: {} snippets used ({} injuries), {} unsure and {} unlabeled left out; train {} / validation {} / test {}",
        r.used,
        r.positives,
        r.unsure,
        r.missing,
        data.train.len(),
        data.validation.len(),
        data.test.len()
    );
    let kind = match a.kind.as_str() {
        "encoder" => BackboneKind::Encoder,
        "causal" => BackboneKind::CausalLm,
        k => bail!("--kind: `{k}` is not encoder or causal"),
    };
    let pooling = match a.pooling.as_str() {
        "mean" => HeadPooling::Mean,
        "cls" => HeadPooling::Cls,
        "last" => HeadPooling::Last,
        p => bail!("--pooling: `{p}` is not mean, cls or last"),
    };
    let ccfg = ClassifierConfig {
        backbone: a.backbone.clone(),
        kind,
        pooling,
        max_len: a.max_len,
        head_dropout: a.dropout,
        train_backbone: !a.freeze,
        device: a.device.parse::<DeviceSpec>()?,
        seed: a.seed,
        ..Default::default()
    };
    let tcfg = TrainConfig {
        learning_rate: a.lr,
        epochs: a.epochs,
        batch_size: a.batch_size,
        grad_accum: a.grad_accum,
        clip_norm: (a.clip > 0.0).then_some(a.clip),
        loss: match a.loss.as_str() {
            "bce" => LossKind::Bce,
            "focal" => LossKind::Focal,
            l => bail!("--loss: `{l}` is not bce or focal"),
        },
        pos_weight: a.pos_weight,
        oversample_positives: a.oversample,
        patience: (a.patience > 0).then_some(a.patience),
        eval_every: (a.eval_every > 0).then_some(a.eval_every),
        target_fnr: a.target_fnr,
        seed: a.seed,
        checkpoint_dir: a.checkpoint_dir.clone(),
        ..Default::default()
    };
    std::fs::create_dir_all(&a.out)?;

    let model = if let Some(mode) = &a.search {
        let mode = match mode.as_str() {
            "grid" => SearchMode::Grid,
            m => match m.strip_prefix("random:").map(str::parse::<usize>) {
                Some(Ok(trials)) => SearchMode::Random {
                    trials,
                    seed: a.seed,
                },
                _ => bail!("--search: `{m}` is not grid or random:N"),
            },
        };
        let space = SearchSpace::default();
        let report = run_search(
            &ccfg,
            &tcfg,
            &space,
            mode,
            &data.train,
            &data.validation,
            &a.out.join("search"),
        )?;
        let best = &report.trials[report.best];
        println!(
            "search: {} trials, best #{} {:?}; table in {}",
            report.trials.len(),
            best.index,
            best.params,
            a.out.join("search/trials.md").display()
        );
        // Retrain the best combination to keep its weights.
        let p = &best.params;
        let mut m = Classifier::new(&ClassifierConfig {
            head_dropout: p.head_dropout,
            ..ccfg
        })?;
        let t = TrainConfig {
            learning_rate: p.learning_rate,
            clip_norm: p.clip_norm,
            loss: p.loss,
            pos_weight: p.pos_weight,
            checkpoint_dir: None,
            ..tcfg
        };
        let r = Trainer::new(&mut m, t)?.train(&data.train, &data.validation)?;
        std::fs::write(a.out.join("report.json"), serde_json::to_string_pretty(&r)?)?;
        m
    } else {
        let mut m = Classifier::new(&ccfg)?;
        let r = Trainer::new(&mut m, tcfg)?.train(&data.train, &data.validation)?;
        println!(
            "trained {} steps ({} epochs{}), {:.1} train examples/s, grad norm pre-clip max {:.2} mean {:.2}, temperature {:.3}",
            r.steps,
            r.epochs,
            if r.stopped_early {
                ", stopped early"
            } else {
                ""
            },
            r.train_examples_per_s,
            r.grad_norm_max,
            r.grad_norm_mean,
            r.temperature
        );
        std::fs::write(a.out.join("report.json"), serde_json::to_string_pretty(&r)?)?;
        m
    };
    let v = model.threshold_choice().context("no threshold chosen")?;
    println!(
        "validation: threshold {:.4} → FNR {:.4} ({} of {} injuries let through; 95% upper bound {:.4}), safe rejected {:.4}",
        v.threshold, v.fnr, v.missed, v.positives, v.fnr_upper, v.safe_rejection_rate
    );
    model.save(&a.out)?;

    if data.test.is_empty() {
        println!("no test split in the data; skipping the test figures");
        return Ok(());
    }
    let pairs: Vec<(&str, &str)> = data
        .test
        .iter()
        .map(|e| (e.prompt.as_str(), e.completion.as_str()))
        .collect();
    let labels: Vec<bool> = data.test.iter().map(|e| e.label).collect();
    let start = std::time::Instant::now();
    let scores = model.score(&pairs)?;
    let secs = start.elapsed().as_secs_f64();
    let m = Metrics::compute(&scores, &labels)?;
    let t = evaluate_threshold(&scores, &labels, v.threshold, 0.95)?;
    let cal = calibration(&scores, &labels, 10)?;
    println!(
        "test ({} pairs, {} injuries): AUROC {:.4}, AUPRC {:.4}, log-loss {:.4}, ECE {:.4}; at the validation threshold FNR {:.4} ({} missed, 95% UCB {:.4}), safe rejected {:.4}; {:.1} pairs/s scored",
        m.n,
        m.positives,
        m.auroc,
        m.auprc,
        m.log_loss,
        m.ece,
        t.fnr,
        t.missed,
        t.fnr_upper,
        t.safe_rejection_rate,
        pairs.len() as f64 / secs
    );
    let test = serde_json::json!({ "metrics": m, "threshold": t, "calibration": cal, "data": r });
    std::fs::write(
        a.out.join("test.json"),
        serde_json::to_string_pretty(&test)?,
    )?;
    println!("saved to {}", a.out.display());
    Ok(())
}
