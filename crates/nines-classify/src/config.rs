//! Configuration: the classifier's shape ([`ClassifierConfig`]) and how it is trained
//! ([`TrainConfig`]). Both have `Default`, serde and one `validate`.

use std::path::PathBuf;

use nines_runtime::DeviceSpec;
use serde::{Deserialize, Serialize};

use crate::error::{ClassifyError, Result};

/// What network reads the `(prompt, completion)` pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackboneKind {
    /// A BERT-family encoder over `[CLS] prompt [SEP] completion [SEP]` (MiniLM by default).
    #[default]
    Encoder,
    /// A causal language model (e.g. the generator itself) over `prompt ++ completion`.
    CausalLm,
}

/// How the backbone's token states `(batch, seq, hidden)` become one vector per pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeadPooling {
    /// Mask-weighted mean over real tokens (encoder: all of them; causal LM: the completion's).
    #[default]
    Mean,
    /// The first token's state (`[CLS]`); encoders only.
    Cls,
    /// The last real token's state, which has seen the whole pair; causal LMs only.
    Last,
}

/// The classifier: backbone, pooling and head.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClassifierConfig {
    /// Backbone checkpoint: a Hugging Face folder (encoders, causal LMs) or a `.gguf` file
    /// (causal LMs). Default `models/minilm`.
    pub backbone: PathBuf,
    /// Encoder or causal LM. Default encoder.
    pub kind: BackboneKind,
    /// Pooling of token states. Default mean.
    pub pooling: HeadPooling,
    /// Longest pair in tokens; longer pairs lose prompt tokens (causal LM: from the start;
    /// encoder: from the end, keeping the final separator). Default 128.
    pub max_len: usize,
    /// Dropout probability on the pooled vector before the head (training only). Default 0.1.
    /// The backbone's own dropout is the one in its `config.json`.
    pub head_dropout: f64,
    /// Whether the backbone is fine-tuned (true) or frozen, training only the head. Default true.
    pub train_backbone: bool,
    /// Device. Default auto (CUDA when present).
    pub device: DeviceSpec,
    /// Pairs per forward pass when scoring. Default 32.
    pub score_batch_size: usize,
    /// Seed of the head's initial weights. Default 0.
    pub seed: u64,
}

impl Default for ClassifierConfig {
    fn default() -> Self {
        ClassifierConfig {
            backbone: PathBuf::from("models/minilm"),
            kind: BackboneKind::Encoder,
            pooling: HeadPooling::Mean,
            max_len: 128,
            head_dropout: 0.1,
            train_backbone: true,
            device: DeviceSpec::Auto,
            score_batch_size: 32,
            seed: 0,
        }
    }
}

impl ClassifierConfig {
    /// Checks every field; errors name the field.
    pub fn validate(&self) -> Result<()> {
        if self.max_len < 4 {
            return Err(ClassifyError::config(
                "classifier.max_len",
                format!("{} is below 4 tokens", self.max_len),
            ));
        }
        probability("classifier.head_dropout", self.head_dropout, true)?;
        if self.head_dropout >= 1.0 {
            return Err(ClassifyError::config(
                "classifier.head_dropout",
                "must be below 1",
            ));
        }
        if self.score_batch_size == 0 {
            return Err(ClassifyError::config(
                "classifier.score_batch_size",
                "must be at least 1",
            ));
        }
        match (self.kind, self.pooling) {
            (BackboneKind::Encoder, HeadPooling::Last) => Err(ClassifyError::config(
                "classifier.pooling",
                "`last` is for causal LMs; encoders take `mean` or `cls`",
            )),
            (BackboneKind::CausalLm, HeadPooling::Cls) => Err(ClassifyError::config(
                "classifier.pooling",
                "`cls` is for encoders; causal LMs take `mean` or `last`",
            )),
            _ => Ok(()),
        }
    }
}

/// The training loss.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    /// Binary cross-entropy (with [`TrainConfig::pos_weight`] on positives).
    #[default]
    Bce,
    /// Focal loss `−(1−p_t)^γ log p_t` (with the same positive weight), γ = [`TrainConfig::focal_gamma`].
    Focal,
}

/// What early stopping watches on the validation set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopMetric {
    /// Area under the precision-recall curve (higher is better).
    #[default]
    Auprc,
    /// Area under the ROC curve (higher is better).
    Auroc,
    /// Log-loss (lower is better).
    LogLoss,
}

/// How the classifier is trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Peak learning rate of AdamW. Default 5e-5.
    pub learning_rate: f64,
    /// Learning-rate multiplier for the freshly initialized head. Default 20.
    pub head_lr_multiplier: f64,
    /// Decoupled weight decay (not applied to biases and LayerNorm weights). Default 0.01.
    pub weight_decay: f64,
    /// AdamW β₁. Default 0.9.
    pub beta1: f64,
    /// AdamW β₂. Default 0.999.
    pub beta2: f64,
    /// AdamW ε. Default 1e-8.
    pub eps: f64,
    /// Passes over the training data. Default 3.
    pub epochs: usize,
    /// Stop after this many optimizer steps (None: run all epochs). Default None.
    pub max_steps: Option<u64>,
    /// Examples per micro-batch. Default 16.
    pub batch_size: usize,
    /// Micro-batches per optimizer step (effective batch = batch_size × this). Default 1.
    pub grad_accum: usize,
    /// Fraction of the optimizer steps spent warming the learning rate up linearly from 0;
    /// it then decays linearly to 0. Default 0.1.
    pub warmup_fraction: f64,
    /// Clip gradients to this global L2 norm (None: no clipping). Default 1.0.
    pub clip_norm: Option<f64>,
    /// Loss. Default BCE.
    pub loss: LossKind,
    /// Weight of positive examples in the loss (1 = unweighted). Default 1.
    pub pos_weight: f64,
    /// Focal loss γ. Default 2.
    pub focal_gamma: f64,
    /// Each epoch shows each positive this many times on average (1 = no oversampling;
    /// fractional parts are drawn at random). Default 1.
    pub oversample_positives: f64,
    /// Batches are formed from windows of this many batches' worth of shuffled examples,
    /// sorted by length, so each batch pads little. 1 turns bucketing off. Default 50.
    pub bucket_batches: usize,
    /// Evaluate on validation every this many optimizer steps (None: at the end of each epoch).
    pub eval_every: Option<u64>,
    /// Stop after this many evaluations without improvement (None: never stop early). Default 2.
    pub patience: Option<usize>,
    /// Metric for early stopping and for choosing the best weights. Default AUPRC.
    pub stop_metric: StopMetric,
    /// Seed of shuffling, oversampling and dropout. Default 0.
    pub seed: u64,
    /// Folder for checkpoints (exact resume after a crash); None: no checkpoints.
    pub checkpoint_dir: Option<PathBuf>,
    /// Write a checkpoint every this many optimizer steps (and at every evaluation). Default 200.
    pub checkpoint_every: u64,
    /// Fit a temperature on validation after training. Default true.
    pub calibrate: bool,
    /// False-negative rate the threshold is chosen for on validation. Default 0.01.
    pub target_fnr: f64,
    /// One-sided confidence of the Clopper-Pearson upper bound on that rate. Default 0.95.
    pub fnr_confidence: f64,
    /// Show a progress bar with loss and throughput. Default true.
    pub progress: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            learning_rate: 5e-5,
            head_lr_multiplier: 20.0,
            weight_decay: 0.01,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            epochs: 3,
            max_steps: None,
            batch_size: 16,
            grad_accum: 1,
            warmup_fraction: 0.1,
            clip_norm: Some(1.0),
            loss: LossKind::Bce,
            pos_weight: 1.0,
            focal_gamma: 2.0,
            oversample_positives: 1.0,
            bucket_batches: 50,
            eval_every: None,
            patience: Some(2),
            stop_metric: StopMetric::Auprc,
            seed: 0,
            checkpoint_dir: None,
            checkpoint_every: 200,
            calibrate: true,
            target_fnr: 0.01,
            fnr_confidence: 0.95,
            progress: true,
        }
    }
}

fn probability(field: &str, v: f64, allow_zero: bool) -> Result<()> {
    if !v.is_finite() || !(0.0..=1.0).contains(&v) || (!allow_zero && v == 0.0) {
        return Err(ClassifyError::config(
            field,
            format!(
                "{v} is not a probability{}",
                if allow_zero { "" } else { " above 0" }
            ),
        ));
    }
    Ok(())
}

fn positive(field: &str, v: f64) -> Result<()> {
    if !v.is_finite() || v <= 0.0 {
        return Err(ClassifyError::config(
            field,
            format!("{v} must be a positive finite number"),
        ));
    }
    Ok(())
}

impl TrainConfig {
    /// Checks every field; errors name the field.
    pub fn validate(&self) -> Result<()> {
        positive("train.learning_rate", self.learning_rate)?;
        positive("train.head_lr_multiplier", self.head_lr_multiplier)?;
        if !self.weight_decay.is_finite() || self.weight_decay < 0.0 {
            return Err(ClassifyError::config(
                "train.weight_decay",
                format!("{} must be ≥ 0", self.weight_decay),
            ));
        }
        for (f, b) in [("train.beta1", self.beta1), ("train.beta2", self.beta2)] {
            if !(0.0..1.0).contains(&b) {
                return Err(ClassifyError::config(f, format!("{b} must be in [0, 1)")));
            }
        }
        positive("train.eps", self.eps)?;
        if self.epochs == 0 {
            return Err(ClassifyError::config("train.epochs", "must be at least 1"));
        }
        if self.max_steps == Some(0) {
            return Err(ClassifyError::config(
                "train.max_steps",
                "must be at least 1 when set",
            ));
        }
        if self.batch_size == 0 {
            return Err(ClassifyError::config(
                "train.batch_size",
                "must be at least 1",
            ));
        }
        if self.grad_accum == 0 {
            return Err(ClassifyError::config(
                "train.grad_accum",
                "must be at least 1",
            ));
        }
        probability("train.warmup_fraction", self.warmup_fraction, true)?;
        if let Some(c) = self.clip_norm {
            positive("train.clip_norm", c)?;
        }
        positive("train.pos_weight", self.pos_weight)?;
        if !self.focal_gamma.is_finite() || self.focal_gamma < 0.0 {
            return Err(ClassifyError::config(
                "train.focal_gamma",
                format!("{} must be ≥ 0", self.focal_gamma),
            ));
        }
        if !self.oversample_positives.is_finite() || self.oversample_positives < 1.0 {
            return Err(ClassifyError::config(
                "train.oversample_positives",
                format!("{} must be ≥ 1", self.oversample_positives),
            ));
        }
        if self.bucket_batches == 0 {
            return Err(ClassifyError::config(
                "train.bucket_batches",
                "must be at least 1",
            ));
        }
        if self.eval_every == Some(0) {
            return Err(ClassifyError::config(
                "train.eval_every",
                "must be at least 1 when set",
            ));
        }
        if self.patience == Some(0) {
            return Err(ClassifyError::config(
                "train.patience",
                "must be at least 1 when set",
            ));
        }
        if self.checkpoint_every == 0 {
            return Err(ClassifyError::config(
                "train.checkpoint_every",
                "must be at least 1",
            ));
        }
        probability("train.target_fnr", self.target_fnr, true)?;
        probability("train.fnr_confidence", self.fnr_confidence, false)?;
        if self.fnr_confidence >= 1.0 || self.fnr_confidence <= 0.5 {
            return Err(ClassifyError::config(
                "train.fnr_confidence",
                format!("{} must be in (0.5, 1)", self.fnr_confidence),
            ));
        }
        Ok(())
    }
}
