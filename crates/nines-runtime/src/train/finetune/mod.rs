//! Causal-LM fine-tuning: next-token loss on packed sequences, AdamW with warm-up and decay,
//! gradient clipping and accumulation, top-`N`-layer freezing or LoRA adapters, validation
//! perplexity, metrics JSONL, and checkpoints that resume exactly.
//!
//! ```no_run
//! use nines_runtime::{LanguageModel, LoadOptions};
//! use nines_runtime::train::{Finetuner, FinetuneConfig, PackedTokens, RunOptions};
//! let cfg = FinetuneConfig { max_steps: 100, top_layers: Some(4), ..Default::default() };
//! let lm = LanguageModel::load_with_lora("models/smollm2", LoadOptions::default(), cfg.lora.clone())?;
//! let train = PackedTokens::pack(lm.tokenizer(), &["…training documents…"], cfg.seq_len)?;
//! let valid = PackedTokens::pack(lm.tokenizer(), &["…validation documents…"], cfg.seq_len)?;
//! let mut ft = Finetuner::new(lm, train, cfg)?;
//! let report = ft.run(Some(&valid), &RunOptions::new("runs/ft"))?;
//! println!("validation perplexity {:?} -> {:?}", report.initial_ppl, report.final_ppl);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Dropout is off during fine-tuning (the Llama-family checkpoints Nines uses have none, and
//! it keeps resumed runs exactly reproducible without saving LibTorch's generator state).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};
use tch::{Kind, Tensor};

use super::pack::{PackedTokens, hex};
use super::slot::{CheckpointFiles, CheckpointSlot};
use super::{
    AdamW, AdamWConfig, LrSchedule, ScheduleKind, freeze_all_but_top_layers, frozen_bottom_blocks,
};
use crate::checkpoint::{Expect, load_into};
use crate::error::RuntimeError;
use crate::lm::LanguageModel;
use crate::models::{Architecture, LoraConfig, ModelSpec};

mod records;
mod settings;
mod validation;

pub use records::*;
pub use settings::*;
pub use validation::evaluate;

/// Fine-tuning failures, each with what a caller needs to act on it.
#[derive(Debug, thiserror::Error)]
pub enum FinetuneError {
    /// Loading, tokenizing, an invalid setting, a too-small corpus (see
    /// [`PackedTokens::pack`]) or another runtime failure.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The loss or the gradient norm became NaN or infinite. Training stopped before the
    /// update; `last_good` is the newest checkpoint on disk (untouched), if any.
    #[error(
        "non-finite {what} ({value}) at step {step}; training stopped, last good checkpoint: {}",
        last_good.as_ref().map_or_else(|| "none".to_string(), |p| p.display().to_string())
    )]
    NonFinite {
        /// `loss` or `gradient norm`.
        what: &'static str,
        /// The value.
        value: f64,
        /// Optimizer step (0-based) being computed.
        step: usize,
        /// The newest intact checkpoint.
        last_good: Option<PathBuf>,
    },
    /// A checkpoint was written for another model, other data or other settings.
    #[error(
        "{path}: checkpoint is for another {field}: checkpoint has {found}, this run has {expected}"
    )]
    ResumeMismatch {
        /// The checkpoint folder.
        path: PathBuf,
        /// `model`, `data`, `settings` or `trainable parameters`.
        field: &'static str,
        /// This run's value.
        expected: String,
        /// The checkpoint's value.
        found: String,
    },
    /// Writing a checkpoint failed (e.g. disk full). The previous checkpoint is intact.
    #[error("{path}: saving checkpoint failed ({source}); the previous checkpoint is intact")]
    CheckpointSave {
        /// The file being written.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Result alias for fine-tuning.
pub type FinetuneResult<T> = std::result::Result<T, FinetuneError>;

fn io_err(path: &Path, e: std::io::Error) -> FinetuneError {
    FinetuneError::Runtime(RuntimeError::io(path, e))
}

/// The identity of a run, stored in each checkpoint and compared on resume.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Fingerprint {
    model: String,
    data: String,
    settings: String,
    trainable: String,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct CheckpointState {
    format: u32,
    step: usize,
    position: DataPosition,
    tokens_seen: u64,
    elapsed_s: f64,
    last_loss: Option<f64>,
    fingerprint: Fingerprint,
    settings: FinetuneConfig,
}

const TRAINABLE_FILE: &str = "trainable.safetensors";
const OPTIMIZER_FILE: &str = "optimizer.safetensors";
const STATE_FILE: &str = "state.json";
/// The checkpoint folder inside a run folder.
const CHECKPOINT_DIR: &str = "checkpoint";

/// A fine-tuning run over one model and one packed training set.
pub struct Finetuner {
    lm: LanguageModel,
    train: PackedTokens,
    cfg: FinetuneConfig,
    opt: AdamW,
    trainable: Vec<(String, Tensor)>,
    /// Bottom blocks (with the embeddings) that do not train: run without gradients.
    frozen_blocks: usize,
    step: usize,
    position: DataPosition,
    order: Vec<usize>,
    tokens_seen: u64,
    elapsed_s: f64,
    last_loss: Option<f64>,
    fingerprint: Fingerprint,
    last_checkpoint: Option<PathBuf>,
    /// The step the newest checkpoint written or resumed from holds.
    last_checkpoint_step: Option<usize>,
    write_fault_after: Option<usize>,
}

impl std::fmt::Debug for Finetuner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Finetuner")
            .field("model", &self.lm)
            .field("step", &self.step)
            .field("position", &self.position)
            .field("trainable", &self.trainable.len())
            .finish()
    }
}

impl Finetuner {
    /// Freezes what the settings leave frozen and builds the optimizer.
    ///
    /// # Errors
    /// Invalid settings; a model loaded int8 ([`RuntimeError::Quantized`]); LoRA settings
    /// that differ from the model's adapters; a training set packed with another sequence
    /// length; autocast requested without CUDA.
    pub fn new(
        lm: LanguageModel,
        train: PackedTokens,
        cfg: FinetuneConfig,
    ) -> FinetuneResult<Self> {
        cfg.validate()?;
        lm.ensure_trainable("fine-tuning")?;
        if lm.lora() != cfg.lora.as_ref() {
            return Err(RuntimeError::InvalidSetting {
                field: "lora",
                message: format!(
                    "the model was loaded with adapters {:?} but the settings ask for {:?}: \
                     load it with LanguageModel::load_with_lora and the same LoraConfig",
                    lm.lora(),
                    cfg.lora
                ),
            }
            .into());
        }
        if train.seq_len() != cfg.seq_len {
            return Err(RuntimeError::InvalidSetting {
                field: "seq_len",
                message: format!(
                    "training data was packed into {}-token sequences, settings say {}",
                    train.seq_len(),
                    cfg.seq_len
                ),
            }
            .into());
        }
        let spec = lm.model().spec().clone();
        if cfg.seq_len > spec.context_length {
            return Err(RuntimeError::InvalidSetting {
                field: "seq_len",
                message: format!(
                    "{} exceeds the model's context length {}",
                    cfg.seq_len, spec.context_length
                ),
            }
            .into());
        }
        if cfg.autocast && !lm.device().is_cuda() {
            return Err(RuntimeError::InvalidSetting {
                field: "autocast",
                message: "LibTorch autocast is only reachable through tch on CUDA; \
                          train on CPU in f32 (or load the model in bf16)"
                    .into(),
            }
            .into());
        }
        let vs = lm.var_store();
        let mut keep: Vec<&str> = vec![];
        if cfg.lora.is_some() {
            keep.push("lora_");
        }
        match (cfg.top_layers, cfg.lora.is_some()) {
            (Some(top), _) => {
                keep.extend(final_norm_names(spec.architecture));
                freeze_all_but_top_layers(vs, spec.num_layers, top, &keep);
            }
            (None, true) => {
                freeze_all_but_top_layers(vs, spec.num_layers, 0, &keep);
            }
            (None, false) => {
                for (_, v) in vs.variables() {
                    let _ = v.set_requires_grad(true);
                }
            }
        }
        let mut trainable: Vec<(String, Tensor)> = vs
            .variables()
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .collect();
        trainable.sort_by(|a, b| a.0.cmp(&b.0));
        let frozen_blocks = frozen_bottom_blocks(vs, spec.num_layers);
        let opt = AdamW::new(vs, cfg.adamw);
        let fingerprint = Fingerprint {
            model: model_identity(&lm, &spec),
            data: format!(
                "{} sequences of {} tokens, sha256 {}",
                train.num_sequences(),
                train.seq_len(),
                train.fingerprint()
            ),
            settings: settings_identity(&cfg),
            trainable: {
                let mut h = Sha256::new();
                for (n, t) in &trainable {
                    h.update(n.as_bytes());
                    h.update(format!("{:?}", t.size()).as_bytes());
                }
                format!("{} tensors, sha256 {}", trainable.len(), hex(&h.finalize()))
            },
        };
        let mut ft = Finetuner {
            lm,
            train,
            cfg,
            opt,
            trainable,
            frozen_blocks,
            step: 0,
            position: DataPosition::default(),
            order: Vec::new(),
            tokens_seen: 0,
            elapsed_s: 0.0,
            last_loss: None,
            fingerprint,
            last_checkpoint: None,
            last_checkpoint_step: None,
            write_fault_after: None,
        };
        ft.order = ft.epoch_order(0);
        Ok(ft)
    }

    /// The model being trained.
    pub fn model(&self) -> &LanguageModel {
        &self.lm
    }

    /// Ends the run and returns the model (LoRA adapters not merged).
    pub fn into_model(self) -> LanguageModel {
        self.lm
    }

    /// The settings.
    pub fn config(&self) -> &FinetuneConfig {
        &self.cfg
    }

    /// Optimizer steps completed.
    pub fn steps_done(&self) -> usize {
        self.step
    }

    /// Where the data order stands.
    pub fn position(&self) -> DataPosition {
        self.position
    }

    /// Parameters (elements) being trained.
    pub fn trainable_parameters(&self) -> i64 {
        self.opt.num_parameters()
    }

    /// The newest checkpoint written or resumed from.
    pub fn last_checkpoint(&self) -> Option<&Path> {
        self.last_checkpoint.as_deref()
    }

    /// Test hook: make checkpoint writing fail with "no space left on device" once `files`
    /// more files have been written (0 = the first file fails).
    #[doc(hidden)]
    pub fn inject_write_fault(&mut self, files: Option<usize>) {
        self.write_fault_after = files;
    }

    fn epoch_order(&self, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.train.num_sequences()).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(self.cfg.seed);
        rng.set_stream(epoch);
        order.shuffle(&mut rng);
        order
    }

    fn next_batch(&mut self) -> Vec<usize> {
        let mut out = Vec::with_capacity(self.cfg.batch_size);
        while out.len() < self.cfg.batch_size {
            if self.position.cursor >= self.order.len() {
                self.position.epoch += 1;
                self.position.cursor = 0;
                self.order = self.epoch_order(self.position.epoch);
            }
            out.push(self.order[self.position.cursor]);
            self.position.cursor += 1;
        }
        out
    }

    /// Mean next-token loss of a `(batch, seq)` id tensor.
    fn loss(&self, ids: &Tensor, train: bool) -> crate::Result<Tensor> {
        let (b, t) = ids.size2().expect("(batch, seq) ids");
        let device = ids.device();
        let positions = Tensor::arange(t, (Kind::Int64, device))
            .unsqueeze(0)
            .expand([b, t], true);
        let model = self.lm.model();
        let (inputs, positions) = (ids.narrow(1, 0, t - 1), positions.narrow(1, 0, t - 1));
        let forward = || {
            // The frozen bottom runs without recording (and, for Llama, on the fused
            // inference projections); gradients start at the first trained block.
            let k = self.frozen_blocks;
            let x = tch::no_grad(|| {
                let x = model.embed(&inputs, &positions, false)?;
                model.forward_blocks(x, &positions, None, None, 0..k, false)
            })?;
            let x = model.forward_blocks(
                x,
                &positions,
                None,
                None,
                k..model.spec().num_layers,
                false,
            )?;
            model.logits(&model.final_norm(&x)?)
        };
        let logits = if self.cfg.autocast && train {
            tch::autocast(true, forward)?
        } else {
            forward()?
        };
        let vocab = logits.size()[2];
        Ok(logits
            .to_kind(Kind::Float)
            .view([-1, vocab])
            .cross_entropy_loss::<Tensor>(
                &ids.narrow(1, 1, t - 1).reshape([-1]),
                None,
                tch::Reduction::Mean,
                -100,
                0.0,
            ))
    }

    /// One optimizer step: `grad_accum` micro-batches, clipping, AdamW with the scheduled
    /// learning rate.
    ///
    /// # Errors
    /// [`FinetuneError::NonFinite`] when the loss or gradient norm is NaN/infinite (no update
    /// is applied, the data position is rewound).
    pub fn train_step(&mut self) -> FinetuneResult<StepMetrics> {
        let start = Instant::now();
        let saved_position = self.position;
        let saved_order_epoch = self.position.epoch;
        let device = self.lm.device();
        let lr = self.cfg.schedule().lr_at(self.step);
        self.opt.zero_grad();
        let mut loss_sum = 0.0;
        for _ in 0..self.cfg.grad_accum {
            let idx = self.next_batch();
            let ids = self.train.batch(&idx, device);
            let loss = self.loss(&ids, true)?;
            let value = loss.double_value(&[]);
            if !value.is_finite() {
                self.rewind(saved_position, saved_order_epoch);
                self.opt.zero_grad();
                return Err(FinetuneError::NonFinite {
                    what: "loss",
                    value,
                    step: self.step,
                    last_good: self.last_checkpoint.clone(),
                });
            }
            loss_sum += value;
            (loss / self.cfg.grad_accum as f64).backward();
        }
        let grad_norm = if self.cfg.max_grad_norm > 0.0 {
            self.opt.clip_grad_norm(self.cfg.max_grad_norm)
        } else {
            self.opt.grad_norm()
        };
        if !grad_norm.is_finite() {
            self.rewind(saved_position, saved_order_epoch);
            self.opt.zero_grad();
            return Err(FinetuneError::NonFinite {
                what: "gradient norm",
                value: grad_norm,
                step: self.step,
                last_good: self.last_checkpoint.clone(),
            });
        }
        self.opt.step(lr);
        self.step += 1;
        let tokens = self.cfg.tokens_per_step() as u64;
        self.tokens_seen += tokens;
        let secs = start.elapsed().as_secs_f64();
        self.elapsed_s += secs;
        let loss = loss_sum / self.cfg.grad_accum as f64;
        self.last_loss = Some(loss);
        Ok(StepMetrics {
            step: self.step,
            loss,
            lr,
            grad_norm,
            tokens_per_s: tokens as f64 / secs.max(1e-9),
            tokens_seen: self.tokens_seen,
            elapsed_s: self.elapsed_s,
            epoch: self.position.epoch,
        })
    }

    fn rewind(&mut self, position: DataPosition, _epoch: u64) {
        if position.epoch != self.position.epoch {
            self.order = self.epoch_order(position.epoch);
        }
        self.position = position;
    }

    /// Validation loss and perplexity on (at most `max_sequences`, evenly spaced, 0 = all)
    /// sequences of `data`, in batches of the training batch size.
    pub fn evaluate(
        &self,
        data: &PackedTokens,
        max_sequences: usize,
    ) -> FinetuneResult<Evaluation> {
        evaluate(&self.lm, data, max_sequences, self.cfg.batch_size)
    }

    /// Saves a checkpoint in `dir/checkpoint/` through the crash-safe [`CheckpointSlot`]
    /// (written to a staging folder, every file synced, marked complete, swapped in; the
    /// previous checkpoint is removed only then). Returns the checkpoint folder.
    ///
    /// # Errors
    /// [`FinetuneError::CheckpointSave`] on any write failure; the previous checkpoint is left
    /// as it was and the partial folder is removed.
    pub fn save_checkpoint(&mut self, dir: &Path) -> FinetuneResult<PathBuf> {
        let slot = CheckpointSlot::new(dir.join(CHECKPOINT_DIR));
        let saved = slot
            .save(|staging| self.write_checkpoint_files(staging))
            .map_err(|e| match e {
                FinetuneError::Runtime(RuntimeError::Io { path, source }) => {
                    save_err(&path, source)
                }
                other => other,
            })?;
        self.last_checkpoint = Some(saved.clone());
        self.last_checkpoint_step = Some(self.step);
        Ok(saved)
    }

    fn write_checkpoint_files(&mut self, tmp: &Path) -> FinetuneResult<()> {
        // Trainable weights as f32 (exact for f32, bf16 and f16 values).
        let trainable = self
            .trainable
            .iter()
            .map(|(n, t)| (n.clone(), t.detach().to_kind(Kind::Float)))
            .collect();
        let state = CheckpointState {
            format: 1,
            step: self.step,
            position: self.position,
            tokens_seen: self.tokens_seen,
            elapsed_s: self.elapsed_s,
            last_loss: self.last_loss,
            fingerprint: self.fingerprint.clone(),
            settings: self.cfg.clone(),
        };
        let files = CheckpointFiles::new()
            .tensors(TRAINABLE_FILE, trainable)
            .tensors(OPTIMIZER_FILE, self.opt.state_tensors())
            .json(STATE_FILE, &state)?;
        files.write_into(tmp, |path| self.check_fault(path))
    }

    fn check_fault(&mut self, path: &Path) -> FinetuneResult<()> {
        if let Some(n) = self.write_fault_after.as_mut() {
            if *n == 0 {
                return Err(save_err(
                    path,
                    std::io::Error::new(
                        std::io::ErrorKind::StorageFull,
                        "No space left on device (injected)",
                    ),
                ));
            }
            *n -= 1;
        }
        Ok(())
    }

    /// Restores weights, optimizer state, data position and counters from `checkpoint` (a
    /// checkpoint folder, or a run folder whose `checkpoint/` holds one; an interrupted save
    /// there is recovered first).
    ///
    /// # Errors
    /// [`FinetuneError::ResumeMismatch`] when the checkpoint belongs to another model, data,
    /// settings or set of trainable parameters; missing or corrupt files.
    pub fn resume_from(&mut self, checkpoint: &Path) -> FinetuneResult<()> {
        let dir = resolve_checkpoint(checkpoint)?.ok_or_else(|| {
            FinetuneError::Runtime(RuntimeError::MissingFile {
                path: checkpoint.join(CHECKPOINT_DIR),
                what: "fine-tuning checkpoint",
            })
        })?;
        let state_path = dir.join(STATE_FILE);
        let state: CheckpointState = crate::checkpoint::hf::read_json(&state_path)?;
        let mine = &self.fingerprint;
        let theirs = &state.fingerprint;
        for (field, a, b) in [
            ("model", &mine.model, &theirs.model),
            ("data", &mine.data, &theirs.data),
            ("settings", &mine.settings, &theirs.settings),
            ("trainable parameters", &mine.trainable, &theirs.trainable),
        ] {
            if a != b {
                return Err(FinetuneError::ResumeMismatch {
                    path: dir.clone(),
                    field,
                    expected: a.clone(),
                    found: b.clone(),
                });
            }
        }
        load_into(
            &self.trainable,
            &dir.join(TRAINABLE_FILE),
            Expect::AllVariables,
        )?;
        self.opt.load(&dir.join(OPTIMIZER_FILE))?;
        self.step = state.step;
        self.position = state.position;
        self.order = self.epoch_order(state.position.epoch);
        self.tokens_seen = state.tokens_seen;
        self.elapsed_s = state.elapsed_s;
        self.last_loss = state.last_loss;
        self.last_checkpoint = Some(dir);
        self.last_checkpoint_step = Some(state.step);
        Ok(())
    }

    /// Trains to `max_steps` (or the time budget), validating, logging metrics to
    /// `dir/metrics.jsonl` and checkpointing as `opts` says; resumes from the run folder's
    /// newest checkpoint when `opts.resume` and one exists.
    ///
    /// # Errors
    /// Any [`FinetuneError`]; on a non-finite loss the newest checkpoint stays as it was.
    pub fn run(
        &mut self,
        valid: Option<&PackedTokens>,
        opts: &RunOptions,
    ) -> FinetuneResult<FinetuneReport> {
        std::fs::create_dir_all(&opts.dir).map_err(|e| io_err(&opts.dir, e))?;
        if opts.resume && resolve_checkpoint(&opts.dir)?.is_some() {
            self.resume_from(&opts.dir)?;
        }
        let metrics_path = opts.dir.join("metrics.jsonl");
        let mut metrics = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&metrics_path)
            .map_err(|e| io_err(&metrics_path, e))?;
        let mut log = |v: serde_json::Value| -> FinetuneResult<()> {
            writeln!(metrics, "{v}").map_err(|e| io_err(&metrics_path, e))
        };
        let eval = |ft: &Self| -> FinetuneResult<Option<Evaluation>> {
            valid
                .map(|v| ft.evaluate(v, opts.eval_sequences))
                .transpose()
        };
        let initial = if self.step == 0 { eval(self)? } else { None };
        if let Some(e) = &initial {
            log(
                serde_json::json!({"step": 0, "val_loss": e.loss, "val_ppl": e.perplexity, "val_tokens": e.tokens}),
            )?;
        }
        let bar = opts.progress.then(|| {
            let bar = indicatif::ProgressBar::new(self.cfg.max_steps as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{elapsed_precise} [{bar:30}] {pos}/{len} steps (eta {eta}) {msg}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar.set_position(self.step as u64);
            bar
        });
        let start = Instant::now();
        let tokens_at_start = self.tokens_seen;
        let budget = opts.max_minutes.map(|m| m * 60.0);
        let mut stopped = "max_steps".to_string();
        let mut last = None;
        let mut final_loss = self.last_loss;
        while self.step < self.cfg.max_steps {
            if let Some(b) = budget {
                // Stop when another step would likely overrun the budget.
                let spent = start.elapsed().as_secs_f64();
                let per_step = if self.tokens_seen > tokens_at_start {
                    spent
                        / ((self.tokens_seen - tokens_at_start) as f64
                            / self.cfg.tokens_per_step() as f64)
                } else {
                    0.0
                };
                if spent + per_step > b {
                    stopped = "time budget".into();
                    break;
                }
            }
            let m = self.train_step()?;
            final_loss = Some(m.loss);
            log(serde_json::to_value(&m).expect("metrics serialize"))?;
            if let Some(bar) = &bar {
                bar.set_position(m.step as u64);
                bar.set_message(format!(
                    "loss {:.3} lr {:.2e} |g| {:.2} {:.0} tok/s",
                    m.loss, m.lr, m.grad_norm, m.tokens_per_s
                ));
            }
            let done = self.step >= self.cfg.max_steps;
            if opts.eval_every > 0
                && self.step.is_multiple_of(opts.eval_every)
                && !done
                && let Some(e) = eval(self)?
            {
                log(
                    serde_json::json!({"step": self.step, "val_loss": e.loss, "val_ppl": e.perplexity, "val_tokens": e.tokens}),
                )?;
                if let Some(bar) = &bar {
                    bar.println(format!(
                        "step {}: validation perplexity {:.3}",
                        self.step, e.perplexity
                    ));
                }
            }
            if opts.checkpoint_every > 0 && self.step.is_multiple_of(opts.checkpoint_every) && !done
            {
                self.save_checkpoint(&opts.dir)?;
            }
        }
        if let Some(bar) = &bar {
            bar.finish();
        }
        if self.last_checkpoint_step != Some(self.step) {
            self.save_checkpoint(&opts.dir)?;
        }
        if let Some(e) = eval(self)? {
            log(
                serde_json::json!({"step": self.step, "val_loss": e.loss, "val_ppl": e.perplexity, "val_tokens": e.tokens}),
            )?;
            last = Some(e);
        }
        let secs = start.elapsed().as_secs_f64();
        Ok(FinetuneReport {
            steps: self.step,
            tokens_seen: self.tokens_seen,
            elapsed_s: self.elapsed_s,
            tokens_per_s: (self.tokens_seen - tokens_at_start) as f64 / secs.max(1e-9),
            initial_ppl: initial.map(|e| e.perplexity),
            final_ppl: last.map(|e| e.perplexity),
            initial,
            last,
            final_loss,
            stopped,
            checkpoint: self.last_checkpoint.clone(),
            trainable_parameters: self.trainable_parameters(),
        })
    }
}

fn final_norm_names(arch: Architecture) -> &'static [&'static str] {
    match arch {
        Architecture::Llama => &["model.norm."],
        Architecture::Gpt2 | Architecture::GptNeo => &["transformer.ln_f."],
    }
}

fn model_identity(lm: &LanguageModel, spec: &ModelSpec) -> String {
    format!(
        "{} ({:?}, vocab {}, hidden {}, {} layers)",
        lm.model_id(),
        spec.architecture,
        spec.vocab_size,
        spec.hidden_size,
        spec.num_layers
    )
}

fn settings_identity(cfg: &FinetuneConfig) -> String {
    // Everything that changes the trajectory of a run.
    serde_json::to_string(cfg).expect("settings serialize")
}

fn save_err(path: &Path, source: std::io::Error) -> FinetuneError {
    FinetuneError::CheckpointSave {
        path: path.to_path_buf(),
        source,
    }
}

/// The checkpoint folder `path` designates: itself when it holds `state.json`, else the
/// run folder's `checkpoint/` slot, brought back from any interrupted save; `None` when there
/// is none.
fn resolve_checkpoint(path: &Path) -> FinetuneResult<Option<PathBuf>> {
    if path.join(STATE_FILE).is_file() {
        return Ok(Some(path.to_path_buf()));
    }
    Ok(CheckpointSlot::new(path.join(CHECKPOINT_DIR)).recover()?)
}

/// Serializes named tensors as f32 (exact for f32, bf16 and f16 values) to safetensors
/// bytes with `{"format": "pt"}` metadata, as Hugging Face writes them.
pub(crate) fn safetensors_bytes(named: &[(String, Tensor)]) -> crate::Result<Vec<u8>> {
    let mut owned: Vec<(String, Vec<usize>, safetensors::Dtype, Vec<u8>)> = Vec::new();
    for (name, t) in named {
        let t = t.detach().to_device(tch::Device::Cpu).contiguous();
        let v: Vec<f32> =
            Vec::try_from(t.to_kind(Kind::Float).flatten(0, -1)).map_err(RuntimeError::from)?;
        let dtype = safetensors::Dtype::F32;
        let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        let shape = t.size().iter().map(|&d| d as usize).collect();
        owned.push((name.clone(), shape, dtype, bytes));
    }
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = owned
        .iter()
        .map(|(n, shape, dtype, bytes)| {
            safetensors::tensor::TensorView::new(*dtype, shape.clone(), bytes)
                .map(|v| (n.clone(), v))
                .map_err(|e| RuntimeError::InvalidInput(format!("tensor `{n}`: {e}")))
        })
        .collect::<crate::Result<_>>()?;
    let mut meta = std::collections::HashMap::new();
    meta.insert("format".to_string(), "pt".to_string());
    safetensors::serialize(views, Some(meta))
        .map_err(|e| RuntimeError::InvalidInput(format!("safetensors serialization: {e}")))
}
