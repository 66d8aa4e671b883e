//! `nines train-classifier`: train an injury classifier on a labeled snippet store, choose its
//! threshold for a target false-negative rate on validation, and measure it on test.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use nines_classify::example::{LabelSource, flip_labels, split_snippets, subsample_negatives};
use nines_classify::metrics::{Metrics, calibration};
use nines_classify::search::{SearchMode, SearchSpace, run_search};
use nines_classify::threshold::evaluate_threshold;
use nines_classify::{
    BackboneKind, Classifier, ClassifierConfig, HeadPooling, LossKind, TrainConfig, Trainer,
};
use nines_data::label::noise::Noise;
use nines_data::store::{Store, StoreOptions};
use nines_runtime::DeviceSpec;

/// Network reading the pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// A BERT-family encoder.
    Encoder,
    /// A causal LM (its last hidden states).
    Causal,
}

/// Pooling of the backbone's token states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Pooling {
    /// Mean over tokens (encoders).
    Mean,
    /// The first token (encoders).
    Cls,
    /// The last token (causal LMs).
    Last,
}

/// Training loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Loss {
    /// Binary cross-entropy.
    Bce,
    /// Focal loss.
    Focal,
}

/// Flags of `nines train-classifier`.
#[derive(Args, Debug)]
pub struct TrainClassifierArgs {
    /// Labeled snippet store (JSONL); its records' splits give train/validation/test.
    #[arg(long)]
    pub data: PathBuf,
    /// Which labels decide: `majority`, `any` (one injury label suffices) or `labeler:NAME`.
    #[arg(long, default_value = "majority", value_parser = parse_labels)]
    pub labels: LabelSource,
    /// Backbone: a Hugging Face folder (encoder or causal LM) or a .gguf file (causal LM).
    #[arg(long, default_value = "models/minilm")]
    pub backbone: PathBuf,
    /// Network reading the pair.
    #[arg(long, value_enum, default_value = "encoder")]
    pub kind: Kind,
    /// Pooling of the token states.
    #[arg(long, value_enum, default_value = "mean")]
    pub pooling: Pooling,
    /// Freeze the backbone and train the head only.
    #[arg(long)]
    pub freeze: bool,
    /// Output folder: the saved classifier, report.json, test.json.
    #[arg(long, default_value = "runs/classifier")]
    pub out: PathBuf,
    /// Checkpoint folder (resumes from it when it holds a checkpoint of this run).
    #[arg(long)]
    pub checkpoint_dir: Option<PathBuf>,
    /// Peak learning rate.
    #[arg(long, default_value_t = 5e-5)]
    pub lr: f64,
    /// Epochs.
    #[arg(long, default_value_t = 3)]
    pub epochs: usize,
    /// Examples per micro-batch.
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
    /// Micro-batches per optimizer step.
    #[arg(long, default_value_t = 1)]
    pub grad_accum: usize,
    /// Longest pair in tokens.
    #[arg(long, default_value_t = 128)]
    pub max_len: usize,
    /// Head dropout.
    #[arg(long, default_value_t = 0.1)]
    pub dropout: f64,
    /// Gradient clip norm (0: off).
    #[arg(long, default_value_t = 1.0)]
    pub clip: f64,
    /// Training loss.
    #[arg(long, value_enum, default_value = "bce")]
    pub loss: Loss,
    /// Positive-class weight.
    #[arg(long, default_value_t = 1.0)]
    pub pos_weight: f64,
    /// Positive oversampling factor (≥ 1).
    #[arg(long, default_value_t = 1.0)]
    pub oversample: f64,
    /// Early-stopping patience in evaluations (0: off).
    #[arg(long, default_value_t = 2)]
    pub patience: usize,
    /// Evaluate every N steps (0: each epoch).
    #[arg(long, default_value_t = 0)]
    pub eval_every: u64,
    /// Target false-negative rate for the threshold (validation).
    #[arg(long, default_value_t = 0.01)]
    pub target_fnr: f64,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: DeviceSpec,
    /// LibTorch threads (0: LibTorch's default).
    #[arg(long, default_value_t = 0)]
    pub threads: i32,
    /// Keep at most this many training negatives, drawn uniformly with the seed (every
    /// positive is kept); validation and test are never subsampled.
    #[arg(long)]
    pub train_negatives: Option<usize>,
    /// Hyperparameter search instead of one run: `grid` or `random:N`.
    #[arg(long, value_parser = parse_search)]
    pub search: Option<SearchMode>,
    /// Flip the training and validation labels (never the test labels), as a less accurate
    /// labeler would: `symmetric:P` (either verdict with probability P) or `missed:P`
    /// (injuries reported as safe with probability P).
    #[arg(long, value_parser = parse_noise)]
    pub label_noise: Option<Noise>,
    /// Seed of the flips (deterministic per pair).
    #[arg(long, default_value_t = 0)]
    pub noise_seed: u64,
}

fn parse_labels(s: &str) -> Result<LabelSource, String> {
    match s {
        "majority" => Ok(LabelSource::Majority),
        "any" => Ok(LabelSource::AnyInjury),
        _ => s
            .strip_prefix("labeler:")
            .filter(|n| !n.is_empty())
            .map(|n| LabelSource::Labeler(n.to_string()))
            .ok_or_else(|| format!("`{s}` is not majority, any or labeler:NAME")),
    }
}

fn parse_search(s: &str) -> Result<SearchMode, String> {
    match s {
        "grid" => Ok(SearchMode::Grid),
        _ => match s.strip_prefix("random:").map(str::parse::<usize>) {
            Some(Ok(trials)) if trials > 0 => Ok(SearchMode::Random { trials, seed: 0 }),
            _ => Err(format!("`{s}` is not grid or random:N (N ≥ 1)")),
        },
    }
}

fn parse_noise(s: &str) -> Result<Noise, String> {
    let bad = || format!("`{s}` is not symmetric:P or missed:P with P in [0, 1]");
    let (kind, p) = s.split_once(':').ok_or_else(bad)?;
    let p: f64 = p.parse().map_err(|_| bad())?;
    if !(0.0..=1.0).contains(&p) {
        return Err(bad());
    }
    match kind {
        "symmetric" => Ok(Noise::Symmetric(p)),
        "missed" => Ok(Noise::PerClass {
            injury_to_no_injury: p,
            no_injury_to_injury: 0.0,
        }),
        _ => Err(bad()),
    }
}

/// Runs `nines train-classifier`.
pub fn run(a: TrainClassifierArgs) -> Result<(), Box<dyn std::error::Error>> {
    nines_runtime::device::set_threads(a.threads)?;
    let store = Store::open_read_only(&a.data, StoreOptions::default())?;
    let mut data = split_snippets(store.iter(), &a.labels);
    if let Some(keep) = a.train_negatives {
        let before = data.train.len();
        data.train = subsample_negatives(std::mem::take(&mut data.train), keep, a.seed);
        println!(
            "train: kept at most {keep} negatives drawn uniformly, {} left out",
            before - data.train.len()
        );
    }
    if let Some(noise) = a.label_noise {
        let train = flip_labels(&mut data.train, noise, a.noise_seed)?;
        let validation = flip_labels(&mut data.validation, noise, a.noise_seed ^ 1)?;
        println!(
            "label noise {noise:?}: {train} training and {validation} validation labels flipped; test labels kept"
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
    let ccfg = ClassifierConfig {
        backbone: a.backbone.clone(),
        kind: match a.kind {
            Kind::Encoder => BackboneKind::Encoder,
            Kind::Causal => BackboneKind::CausalLm,
        },
        pooling: match a.pooling {
            Pooling::Mean => HeadPooling::Mean,
            Pooling::Cls => HeadPooling::Cls,
            Pooling::Last => HeadPooling::Last,
        },
        max_len: a.max_len,
        head_dropout: a.dropout,
        train_backbone: !a.freeze,
        device: a.device,
        seed: a.seed,
        ..Default::default()
    };
    let tcfg = TrainConfig {
        learning_rate: a.lr,
        epochs: a.epochs,
        batch_size: a.batch_size,
        grad_accum: a.grad_accum,
        clip_norm: (a.clip > 0.0).then_some(a.clip),
        loss: match a.loss {
            Loss::Bce => LossKind::Bce,
            Loss::Focal => LossKind::Focal,
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
    std::fs::create_dir_all(&a.out).map_err(|e| format!("{}: {e}", a.out.display()))?;
    let model = match a.search {
        Some(mode) => {
            let mode = match mode {
                SearchMode::Random { trials, .. } => SearchMode::Random {
                    trials,
                    seed: a.seed,
                },
                m => m,
            };
            let report = run_search(
                &ccfg,
                &tcfg,
                &SearchSpace::default(),
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
        }
        None => {
            let mut m = Classifier::new(&ccfg)?;
            let r = Trainer::new(&mut m, tcfg)?.train(&data.train, &data.validation)?;
            println!(
                "trained {} steps ({} epochs{}), {:.1} train examples/s, temperature {:.3}",
                r.steps,
                r.epochs,
                if r.stopped_early {
                    ", stopped early"
                } else {
                    ""
                },
                r.train_examples_per_s,
                r.temperature
            );
            std::fs::write(a.out.join("report.json"), serde_json::to_string_pretty(&r)?)?;
            m
        }
    };
    let v = model.threshold_choice().ok_or("no threshold chosen")?;
    println!(
        "validation: threshold {:.4} → FNR {:.4} ({} of {} injuries let through; 95% upper bound {:.4}), safe rejected {:.4}",
        v.threshold, v.fnr, v.missed, v.positives, v.fnr_upper, v.safe_rejection_rate
    );
    model.save(&a.out)?;
    if data.test.is_empty() {
        println!("no test split in the data; no test figures");
        return Ok(());
    }
    let pairs: Vec<(&str, &str)> = data
        .test
        .iter()
        .map(|e| (e.prompt.as_str(), e.completion.as_str()))
        .collect();
    let labels: Vec<bool> = data.test.iter().map(|e| e.label).collect();
    let scores = model.score(&pairs)?;
    let m = Metrics::compute(&scores, &labels)?;
    let t = evaluate_threshold(&scores, &labels, v.threshold, 0.95)?;
    let cal = calibration(&scores, &labels, 10)?;
    println!(
        "test ({} pairs, {} injuries): AUROC {:.4}, AUPRC {:.4}, log-loss {:.4}, ECE {:.4}; at the validation threshold FNR {:.4} ({} missed, 95% upper bound {:.4}), safe rejected {:.4}",
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
    );
    let test = serde_json::json!({ "metrics": m, "threshold": t, "calibration": cal, "data": r });
    std::fs::write(
        a.out.join("test.json"),
        serde_json::to_string_pretty(&test)?,
    )?;
    println!("saved to {}", a.out.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<TrainClassifierArgs, clap::Error> {
        crate::parse_flags(args)
    }

    #[test]
    fn typed_flags_parse_and_bad_ones_are_refused() {
        let a = parse(&[
            "--data",
            "d.jsonl",
            "--labels",
            "labeler:oracle",
            "--search",
            "random:5",
            "--label-noise",
            "missed:0.2",
            "--kind",
            "causal",
            "--pooling",
            "last",
        ])
        .unwrap();
        assert_eq!(a.labels, LabelSource::Labeler("oracle".into()));
        assert_eq!(a.search, Some(SearchMode::Random { trials: 5, seed: 0 }));
        assert_eq!(
            a.label_noise,
            Some(Noise::PerClass {
                injury_to_no_injury: 0.2,
                no_injury_to_injury: 0.0
            })
        );
        assert_eq!((a.kind, a.pooling), (Kind::Causal, Pooling::Last));
        for bad in [
            &["--data", "d", "--labels", "labeler:"][..],
            &["--data", "d", "--search", "random:0"],
            &["--data", "d", "--label-noise", "symmetric:1.5"],
            &["--data", "d", "--label-noise", "flipped:0.1"],
            &["--data", "d", "--loss", "hinge"],
            &["--labels", "any"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_missing_store_is_named() {
        let a = parse(&["--data", "no/such/store.jsonl"]).unwrap();
        let err = run(a).unwrap_err().to_string();
        assert!(err.contains("no/such/store.jsonl"), "{err}");
    }
}
