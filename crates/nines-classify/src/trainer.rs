//! Fine-tuning a [`Classifier`]: AdamW with warm-up and linear decay, gradient accumulation
//! and global-norm clipping (pre-clip norms logged), class-imbalance handling (positive
//! weight, focal loss, oversampling), length-bucketed batches, early stopping on validation,
//! seeded reproducibility, checkpoints with exact resume, a progress bar; then temperature
//! scaling and a threshold for the target false-negative rate on validation.
//!
//! Exact resume: the batches of an epoch are a function of `(seed, epoch)`, dropout is seeded
//! from `(seed, step, micro-batch)`, and a checkpoint holds the trainable weights, AdamW's
//! moments and step, the position in the epoch, the best weights so far and the history.
//! A run resumed from the checkpoint of step `s` continues exactly as the uninterrupted run.

use std::path::Path;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use nines_runtime::checkpoint::{Expect, load_into};
use nines_runtime::train::{
    AdamW, AdamWConfig, CheckpointFiles, CheckpointSlot, LrSchedule, OptParam, ScheduleKind,
};
use serde::{Deserialize, Serialize};
use tch::Tensor;

use crate::backbone::BackboneInfo;
use crate::batching::{epoch_batches, epoch_len};
use crate::classifier::Classifier;
use crate::config::{StopMetric, TrainConfig};
use crate::error::{ClassifyError, Result, read_json};
use crate::example::Example;
use crate::loss::loss;
use crate::metrics::{Metrics, fit_temperature};
use crate::threshold::{ThresholdChoice, select_for_fnr};

/// One validation evaluation during training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalRecord {
    /// Optimizer steps done.
    pub step: u64,
    /// Epoch (0-based) the evaluation fell in.
    pub epoch: usize,
    /// Mean training loss since the previous evaluation.
    pub train_loss: f64,
    /// Learning rate of the last step.
    pub learning_rate: f64,
    /// Mean pre-clip global gradient norm since the previous evaluation.
    pub grad_norm_mean: f64,
    /// Largest pre-clip global gradient norm since the previous evaluation.
    pub grad_norm_max: f64,
    /// Validation figures (uncalibrated).
    pub valid: Metrics,
}

/// What a training run did and how good the result is on validation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainReport {
    /// Optimizer steps taken (in this and any interrupted earlier runs).
    pub steps: u64,
    /// Planned optimizer steps.
    pub total_steps: u64,
    /// Epochs started.
    pub epochs: usize,
    /// Whether early stopping ended the run.
    pub stopped_early: bool,
    /// Whether the run stopped at [`Trainer::interrupt_after`] (checkpoint written, no
    /// calibration or threshold).
    pub interrupted: bool,
    /// Step whose weights were kept (best validation metric).
    pub best_step: Option<u64>,
    /// Evaluations, in order.
    pub history: Vec<EvalRecord>,
    /// Largest pre-clip global gradient norm over the run.
    pub grad_norm_max: f64,
    /// Mean pre-clip global gradient norm over the run.
    pub grad_norm_mean: f64,
    /// Training examples per second (forward, backward and update; evaluation excluded).
    pub train_examples_per_s: f64,
    /// Fitted temperature (1 when calibration is off).
    pub temperature: f64,
    /// Validation figures of the kept weights, calibrated.
    pub valid: Option<Metrics>,
    /// The threshold chosen on validation for the target false-negative rate.
    pub threshold: Option<ThresholdChoice>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct State {
    format: u32,
    backbone: BackboneInfo,
    train_examples: usize,
    seed: u64,
    step: u64,
    epoch: usize,
    batch_in_epoch: usize,
    total_steps: u64,
    best: Option<(f64, u64)>,
    bad_evals: usize,
    stopped_early: bool,
    history: Vec<EvalRecord>,
    grad_norm_sum: f64,
    grad_norm_count: u64,
    grad_norm_max: f64,
    window_loss: f64,
    window_batches: u64,
    window_norm_sum: f64,
    window_norm_max: f64,
    window_norm_count: u64,
}

/// Trains a [`Classifier`] in place.
///
/// ```no_run
/// use nines_classify::{Classifier, ClassifierConfig, Example, TrainConfig, Trainer};
/// let mut model = Classifier::new(&ClassifierConfig::default())?;
/// let train = vec![Example::new("He ran.", "He broke his leg.", true), Example::new("He ran.", "He won.", false)];
/// let valid = train.clone();
/// let report = Trainer::new(&mut model, TrainConfig { epochs: 1, ..Default::default() })?.train(&train, &valid)?;
/// println!("threshold {:?}", report.threshold.map(|t| t.threshold));
/// model.save("runs/classifier")?;
/// # Ok::<(), nines_classify::ClassifyError>(())
/// ```
pub struct Trainer<'a> {
    model: &'a mut Classifier,
    config: TrainConfig,
    interrupt_after: Option<u64>,
}

fn data_check(examples: &[Example], what: &str) -> Result<()> {
    if examples.is_empty() {
        return Err(ClassifyError::data(
            what,
            "no examples (unsure and unlabeled snippets are left out)",
        ));
    }
    let pos = examples.iter().filter(|e| e.label).count();
    if pos == 0 || pos == examples.len() {
        return Err(ClassifyError::data(
            what,
            format!(
                "a single class: {pos} injuries among {} examples; both are needed",
                examples.len()
            ),
        ));
    }
    Ok(())
}

impl<'a> Trainer<'a> {
    /// A trainer for `model`; the configuration is validated here.
    pub fn new(model: &'a mut Classifier, config: TrainConfig) -> Result<Self> {
        config.validate()?;
        Ok(Trainer {
            model,
            config,
            interrupt_after: None,
        })
    }

    /// Stops, as if the process were killed, right after writing the checkpoint of optimizer
    /// step `step` (needs a checkpoint folder). For crash-recovery tests and time-boxed runs;
    /// a later `train` with the same configuration resumes there.
    pub fn interrupt_after(mut self, step: u64) -> Self {
        self.interrupt_after = Some(step);
        self
    }

    fn metric(&self, m: &Metrics) -> f64 {
        match self.config.stop_metric {
            StopMetric::Auprc => m.auprc,
            StopMetric::Auroc => m.auroc,
            StopMetric::LogLoss => -m.log_loss,
        }
    }

    fn evaluate(&self, valid: &[Example], temperature: f64) -> Result<Metrics> {
        let pairs: Vec<(&str, &str)> = valid
            .iter()
            .map(|e| (e.prompt.as_str(), e.completion.as_str()))
            .collect();
        let labels: Vec<bool> = valid.iter().map(|e| e.label).collect();
        let probs: Vec<f32> = self
            .model
            .logits(&pairs)?
            .into_iter()
            .map(|z| crate::classifier::sigmoid(z / temperature as f32))
            .collect();
        Metrics::compute(&probs, &labels)
    }

    /// Trains on `train`, evaluating on `valid` (both need both classes), restores the best
    /// weights, fits the temperature and chooses the threshold on `valid`.
    ///
    /// # Errors
    /// [`ClassifyError::Data`] for empty or single-class data; [`ClassifyError::NonFiniteLoss`]
    /// when the loss or gradient norm is NaN or infinite (weights are left as after the last
    /// good step, checkpoints untouched); [`ClassifyError::BackboneMismatch`] when the
    /// checkpoint folder holds a checkpoint of another backbone.
    pub fn train(self, train: &[Example], valid: &[Example]) -> Result<TrainReport> {
        data_check(train, "train")?;
        data_check(valid, "validation")?;
        let cfg = self.config.clone();
        if self.interrupt_after.is_some() && cfg.checkpoint_dir.is_none() {
            return Err(ClassifyError::config(
                "train.checkpoint_dir",
                "interrupt_after needs a checkpoint folder",
            ));
        }
        let per_epoch_batches = epoch_len(train, cfg.oversample_positives).div_ceil(cfg.batch_size);
        let steps_per_epoch = per_epoch_batches.div_ceil(cfg.grad_accum) as u64;
        let total_steps =
            (steps_per_epoch * cfg.epochs as u64).min(cfg.max_steps.unwrap_or(u64::MAX));
        let warmup = (cfg.warmup_fraction * total_steps as f64).ceil() as u64;
        let schedule = LrSchedule {
            peak_lr: cfg.learning_rate,
            warmup_steps: warmup as usize,
            total_steps: total_steps as usize,
            kind: ScheduleKind::Linear,
            min_lr_ratio: 0.0,
        };
        let params: Vec<OptParam> = self
            .model
            .named_parameters(true)
            .into_iter()
            .map(|(name, value)| OptParam {
                decay: decays(&name),
                lr_scale: if name.starts_with("head.") {
                    cfg.head_lr_multiplier
                } else {
                    1.0
                },
                name,
                value,
            })
            .collect();
        let mut opt = AdamW::with_params(
            params,
            AdamWConfig {
                beta1: cfg.beta1,
                beta2: cfg.beta2,
                eps: cfg.eps,
                weight_decay: cfg.weight_decay,
            },
        );
        let mut state = State {
            format: 1,
            backbone: self.model.backbone_info().clone(),
            train_examples: train.len(),
            seed: cfg.seed,
            step: 0,
            epoch: 0,
            batch_in_epoch: 0,
            total_steps,
            best: None,
            bad_evals: 0,
            stopped_early: false,
            history: Vec::new(),
            grad_norm_sum: 0.0,
            grad_norm_count: 0,
            grad_norm_max: 0.0,
            window_loss: 0.0,
            window_batches: 0,
            window_norm_sum: 0.0,
            window_norm_max: 0.0,
            window_norm_count: 0,
        };
        let mut best_weights: Option<Vec<(String, Tensor)>> = None;
        if let Some(dir) = &cfg.checkpoint_dir
            && let Some((s, best)) = self.resume(dir, &mut opt, &state)?
        {
            state = s;
            best_weights = best;
        }

        let pb = if cfg.progress {
            ProgressBar::new(total_steps)
        } else {
            ProgressBar::hidden()
        };
        pb.set_style(
            ProgressStyle::with_template("train [{bar:30}] {pos}/{len} steps {msg} ({eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        pb.set_position(state.step);
        let mut train_time = 0f64;
        let mut train_seen = 0usize;
        let mut last_lr = 0.0;
        let mut ema_loss: Option<f64> = None;

        'epochs: while state.epoch < cfg.epochs && state.step < total_steps && !state.stopped_early
        {
            let batches = epoch_batches(
                train,
                cfg.batch_size,
                cfg.bucket_batches,
                cfg.oversample_positives,
                cfg.seed,
                state.epoch,
            );
            while state.batch_in_epoch < batches.len() {
                if state.step >= total_steps {
                    break 'epochs;
                }
                let start = Instant::now();
                let group_end = (state.batch_in_epoch + cfg.grad_accum).min(batches.len());
                let group = &batches[state.batch_in_epoch..group_end];
                let n_micro = group.len() as f64;
                let mut step_loss = 0.0;
                let mut seen = 0;
                for (j, idx) in group.iter().enumerate() {
                    tch::manual_seed(dropout_seed(cfg.seed, state.step, j));
                    let pairs: Vec<(&str, &str)> = idx
                        .iter()
                        .map(|&i| (train[i].prompt.as_str(), train[i].completion.as_str()))
                        .collect();
                    let targets: Vec<f32> = idx
                        .iter()
                        .map(|&i| f32::from(u8::from(train[i].label)))
                        .collect();
                    let logits = self.model.forward(&pairs, true)?;
                    let targets = Tensor::from_slice(&targets).to_device(logits.device());
                    let l = loss(&logits, &targets, cfg.loss, cfg.pos_weight, cfg.focal_gamma);
                    let value = l.double_value(&[]);
                    if !value.is_finite() {
                        opt.zero_grad();
                        return Err(self.non_finite(value, &state));
                    }
                    (l / n_micro).backward();
                    step_loss += value / n_micro;
                    seen += idx.len();
                }
                let norm = opt.grad_norm();
                if !norm.is_finite() {
                    opt.zero_grad();
                    return Err(self.non_finite(norm, &state));
                }
                if let Some(c) = cfg.clip_norm {
                    opt.clip_to(norm, c);
                }
                last_lr = schedule.lr_at(state.step as usize);
                opt.step(last_lr);
                opt.zero_grad();
                state.step += 1;
                state.batch_in_epoch = group_end;
                state.grad_norm_sum += norm;
                state.grad_norm_count += 1;
                state.grad_norm_max = state.grad_norm_max.max(norm);
                state.window_norm_sum += norm;
                state.window_norm_count += 1;
                state.window_norm_max = state.window_norm_max.max(norm);
                state.window_loss += step_loss;
                state.window_batches += 1;
                train_time += start.elapsed().as_secs_f64();
                train_seen += seen;
                let ema = ema_loss.map_or(step_loss, |e| 0.9 * e + 0.1 * step_loss);
                ema_loss = Some(ema);
                pb.set_position(state.step);
                pb.set_message(format!(
                    "loss {ema:.4} {:.1} ex/s |g| {norm:.2}",
                    train_seen as f64 / train_time.max(1e-9)
                ));

                let eval_now = cfg.eval_every.is_some_and(|e| state.step.is_multiple_of(e));
                if eval_now {
                    self.eval_step(valid, &mut state, &mut best_weights, last_lr)?;
                }
                let interrupt = self.interrupt_after == Some(state.step);
                if let Some(dir) = &cfg.checkpoint_dir
                    && (eval_now || interrupt || state.step.is_multiple_of(cfg.checkpoint_every))
                {
                    self.save_checkpoint(dir, &opt, &state, best_weights.as_deref())?;
                }
                if interrupt {
                    pb.abandon();
                    return Ok(self.report(
                        &state,
                        total_steps,
                        train_seen,
                        train_time,
                        true,
                        None,
                        None,
                    ));
                }
                if state.stopped_early {
                    break 'epochs;
                }
            }
            if cfg.eval_every.is_none() {
                self.eval_step(valid, &mut state, &mut best_weights, last_lr)?;
            }
            state.epoch += 1;
            state.batch_in_epoch = 0;
            if let Some(dir) = &cfg.checkpoint_dir {
                self.save_checkpoint(dir, &opt, &state, best_weights.as_deref())?;
            }
        }
        // A run cut by max_steps mid-epoch still gets its final evaluation.
        if state.history.last().map(|h| h.step) != Some(state.step) && state.step > 0 {
            self.eval_step(valid, &mut state, &mut best_weights, last_lr)?;
        }
        pb.finish_and_clear();
        if let Some(best) = &best_weights {
            self.model
                .copy_parameters(best, Path::new("<best weights in memory>"), true)?;
        }

        let pairs: Vec<(&str, &str)> = valid
            .iter()
            .map(|e| (e.prompt.as_str(), e.completion.as_str()))
            .collect();
        let labels: Vec<bool> = valid.iter().map(|e| e.label).collect();
        let logits = self.model.logits(&pairs)?;
        let temperature = if cfg.calibrate {
            fit_temperature(&logits, &labels)?
        } else {
            1.0
        };
        self.model.set_temperature(temperature)?;
        let probs: Vec<f32> = logits
            .iter()
            .map(|&z| crate::classifier::sigmoid(z / temperature as f32))
            .collect();
        let choice = select_for_fnr(&probs, &labels, cfg.target_fnr, cfg.fnr_confidence)?;
        self.model.set_threshold(choice.clone());
        let valid_metrics = Metrics::compute(&probs, &labels)?;
        Ok(self.report(
            &state,
            total_steps,
            train_seen,
            train_time,
            false,
            Some(valid_metrics),
            Some(choice),
        ))
    }

    #[allow(clippy::too_many_arguments)]
    fn report(
        &self,
        state: &State,
        total_steps: u64,
        seen: usize,
        time: f64,
        interrupted: bool,
        valid: Option<Metrics>,
        threshold: Option<ThresholdChoice>,
    ) -> TrainReport {
        TrainReport {
            steps: state.step,
            total_steps,
            epochs: state.epoch.min(self.config.epochs - 1) + 1,
            stopped_early: state.stopped_early,
            interrupted,
            best_step: state.best.map(|b| b.1),
            history: state.history.clone(),
            grad_norm_max: state.grad_norm_max,
            grad_norm_mean: state.grad_norm_sum / state.grad_norm_count.max(1) as f64,
            train_examples_per_s: if time > 0.0 { seen as f64 / time } else { 0.0 },
            temperature: self.model.temperature(),
            valid,
            threshold,
        }
    }

    fn non_finite(&self, value: f64, state: &State) -> ClassifyError {
        let checkpoint = self
            .config
            .checkpoint_dir
            .as_ref()
            .map(|d| d.join(CHECKPOINT))
            .filter(|p| p.is_dir())
            .map_or_else(|| "none".to_string(), |p| p.display().to_string());
        ClassifyError::NonFiniteLoss {
            loss: value,
            step: state.step,
            epoch: state.epoch,
            checkpoint,
        }
    }

    fn eval_step(
        &self,
        valid: &[Example],
        state: &mut State,
        best: &mut Option<Vec<(String, Tensor)>>,
        lr: f64,
    ) -> Result<()> {
        let m = self.evaluate(valid, 1.0)?;
        let value = self.metric(&m);
        state.history.push(EvalRecord {
            step: state.step,
            epoch: state.epoch,
            train_loss: state.window_loss / state.window_batches.max(1) as f64,
            learning_rate: lr,
            grad_norm_mean: state.window_norm_sum / state.window_norm_count.max(1) as f64,
            grad_norm_max: state.window_norm_max,
            valid: m,
        });
        state.window_loss = 0.0;
        state.window_batches = 0;
        state.window_norm_sum = 0.0;
        state.window_norm_max = 0.0;
        state.window_norm_count = 0;
        if state.best.is_none_or(|(b, _)| value > b) {
            state.best = Some((value, state.step));
            state.bad_evals = 0;
            let _guard = tch::no_grad_guard();
            *best = Some(
                self.model
                    .named_parameters(true)
                    .into_iter()
                    .map(|(k, v)| (k, v.detach().copy()))
                    .collect(),
            );
        } else {
            state.bad_evals += 1;
            if self.config.patience.is_some_and(|p| state.bad_evals >= p) {
                state.stopped_early = true;
            }
        }
        Ok(())
    }

    fn save_checkpoint(
        &self,
        dir: &Path,
        opt: &AdamW,
        state: &State,
        best: Option<&[(String, Tensor)]>,
    ) -> Result<()> {
        let mut files = CheckpointFiles::new()
            .tensors("weights.safetensors", self.model.named_parameters(true))
            .tensors("optim.safetensors", opt.state_tensors());
        if let Some(b) = best {
            let copy = b.iter().map(|(n, t)| (n.clone(), t.shallow_clone()));
            files = files.tensors("best.safetensors", copy.collect());
        }
        let files = files.json("state.json", state)?;
        CheckpointSlot::new(dir.join(CHECKPOINT)).save_files(&files)?;
        Ok(())
    }

    /// Loads the checkpoint in `dir` if there is one.
    #[allow(clippy::type_complexity)]
    fn resume(
        &self,
        dir: &Path,
        opt: &mut AdamW,
        fresh: &State,
    ) -> Result<Option<(State, Option<Vec<(String, Tensor)>>)>> {
        let Some(ck) = CheckpointSlot::new(dir.join(CHECKPOINT)).recover()? else {
            return Ok(None);
        };
        let state_path = ck.join("state.json");
        let state: State = read_json(&state_path)?;
        if state.backbone != fresh.backbone {
            return Err(ClassifyError::BackboneMismatch {
                path: state_path,
                expected: fresh.backbone.to_string(),
                found: state.backbone.to_string(),
            });
        }
        if state.train_examples != fresh.train_examples
            || state.seed != fresh.seed
            || state.total_steps != fresh.total_steps
        {
            return Err(ClassifyError::Json {
                path: state_path,
                message: format!(
                    "checkpoint is of another run: {} training examples, seed {}, {} planned steps (this run: {}, {}, {})",
                    state.train_examples,
                    state.seed,
                    state.total_steps,
                    fresh.train_examples,
                    fresh.seed,
                    fresh.total_steps
                ),
            });
        }
        let wpath = ck.join("weights.safetensors");
        self.model.restore_parameters(&wpath, true)?;
        let opath = ck.join("optim.safetensors");
        opt.load(&opath)?;
        if opt.steps_taken() != state.step as i64 {
            return Err(ClassifyError::Json {
                path: state_path,
                message: format!(
                    "step {} disagrees with the optimizer state's {} in {}",
                    state.step,
                    opt.steps_taken(),
                    opath.display()
                ),
            });
        }
        let bpath = ck.join("best.safetensors");
        let best = if bpath.is_file() {
            // Fresh tensors shaped like the trainable parameters, filled by the checked loader.
            let _guard = tch::no_grad_guard();
            let v: Vec<(String, Tensor)> = self
                .model
                .named_parameters(true)
                .into_iter()
                .map(|(n, t)| (n, t.detach().copy()))
                .collect();
            load_into(&v, &bpath, Expect::Exactly)?;
            Some(v)
        } else {
            None
        };
        Ok(Some((state, best)))
    }
}

/// Biases and normalization weights take no weight decay.
fn decays(name: &str) -> bool {
    !(name.ends_with(".bias")
        || name.contains("LayerNorm")
        || name.contains("layer_norm")
        || name.contains("norm."))
}

/// Name of the checkpoint folder inside [`TrainConfig::checkpoint_dir`].
pub const CHECKPOINT: &str = "checkpoint";

fn dropout_seed(seed: u64, step: u64, micro: usize) -> i64 {
    let h = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ step.wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
        ^ (micro as u64).wrapping_mul(0x1656_67B1_9E37_79F9);
    (h >> 1) as i64
}
