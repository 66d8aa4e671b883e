//! Checkpoints with exact resume: the trainable parameters (value head included), the
//! optimizer state and the trainer's counters, written through the runtime's crash-safe
//! [`CheckpointSlot`]: a crash at any moment leaves a complete checkpoint to resume from.

use std::path::{Path, PathBuf};

use nines_runtime::checkpoint::{Expect, load_into};
use nines_runtime::train::{AdamW, CheckpointFiles, CheckpointSlot};
use nines_runtime::{LanguageModel, RuntimeError};
use tch::Tensor;
use tch::nn::VarStore;

use crate::config::PpoConfig;
use crate::error::{DistillError, Result};
use crate::replay::ReplayQueue;

/// Trainable parameters, in a checkpoint folder.
pub const TRAINABLE_FILE: &str = "trainable.safetensors";
/// Optimizer moments and step count, in a checkpoint folder.
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";
/// [`TrainerState`] as JSON, in a checkpoint folder.
pub const STATE_FILE: &str = "state.json";

/// The trainer's counters and what the checkpoint was written for.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainerState {
    /// PPO steps completed.
    pub step: usize,
    /// KL coefficient β after those steps.
    pub kl_coef: f64,
    /// The policy's model identifier (file or folder name).
    pub model_id: String,
    /// The policy's vocabulary size.
    pub vocab_size: usize,
    /// The configuration the run used when the checkpoint was written.
    pub config: PpoConfig,
    /// Training prompts waiting for replay (empty without replay).
    #[serde(default)]
    pub replay: ReplayQueue,
    /// Fresh (not replayed) training prompts drawn so far. `None` in checkpoints written
    /// before replay existed, where it is `step × prompts_per_step`.
    #[serde(default)]
    pub fresh_drawn: Option<usize>,
}

fn trainable(vs: &VarStore) -> Vec<(String, Tensor)> {
    let mut v: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .filter(|(_, t)| t.requires_grad())
        // After the first no-grad forward the runtime stores projections fused and
        // transposed, and the variables become strided views: save dense copies.
        .map(|(n, t)| (n, t.contiguous()))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Writes a checkpoint folder `dir` through [`CheckpointSlot`]: the previous checkpoint is
/// replaced only once the new one is complete and durable.
///
/// # Errors
/// [`DistillError::Io`] or LibTorch errors when writing fails.
pub fn save(dir: &Path, lm: &LanguageModel, optimizer: &AdamW, state: &TrainerState) -> Result<()> {
    let files = CheckpointFiles::new()
        .tensors(TRAINABLE_FILE, trainable(lm.var_store()))
        .tensors(OPTIMIZER_FILE, optimizer.state_tensors())
        .json(STATE_FILE, state)?;
    CheckpointSlot::new(dir).save_files(&files)?;
    Ok(())
}

/// The checkpoint in folder `dir`, after bringing it back from any interrupted save; `None`
/// when there is none.
///
/// # Errors
/// [`DistillError::Runtime`] with [`nines_runtime::RuntimeError::IncompleteCheckpoint`] when
/// `dir` holds something that is not a complete checkpoint; I/O errors while repairing.
pub fn recover(dir: &Path) -> Result<Option<PathBuf>> {
    Ok(CheckpointSlot::new(dir).recover()?)
}

/// Reads a checkpoint's [`TrainerState`].
///
/// # Errors
/// [`DistillError::Checkpoint`] when the file is missing or not a state.
pub fn read_state(dir: &Path) -> Result<TrainerState> {
    let path = dir.join(STATE_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| DistillError::Checkpoint {
        path: path.clone(),
        message: format!("cannot read the trainer state: {e}"),
    })?;
    serde_json::from_str(&text).map_err(|e| DistillError::Checkpoint {
        path,
        message: format!("not a trainer state: {e}"),
    })
}

/// Restores a checkpoint into a policy (whose trainable set must match) and its optimizer,
/// after bringing the folder back from any interrupted save ([`recover`]).
///
/// # Errors
/// [`DistillError::Checkpoint`] when the checkpoint was written for another model or
/// another set of trainable parameters.
pub fn load(dir: &Path, lm: &LanguageModel, optimizer: &mut AdamW) -> Result<TrainerState> {
    recover(dir)?;
    let state = read_state(dir)?;
    let vocab = lm.model().spec().vocab_size;
    if state.vocab_size != vocab {
        return Err(DistillError::Checkpoint {
            path: dir.to_path_buf(),
            message: format!(
                "written for a model with vocabulary {} ({}); this policy has {vocab} ({})",
                state.vocab_size,
                state.model_id,
                lm.model_id()
            ),
        });
    }
    copy_into(&dir.join(TRAINABLE_FILE), lm.var_store(), true)?;
    optimizer.load(&dir.join(OPTIMIZER_FILE))?;
    Ok(state)
}

/// Copies the tensors of a safetensors file into the same-named variables of `vs`, through
/// the runtime's one loader. With `exact`, the file must hold exactly the store's trainable
/// variables; otherwise any subset of its variables. Returns the number of tensors copied.
fn copy_into(path: &Path, vs: &VarStore, exact: bool) -> Result<usize> {
    let (vars, expect) = if exact {
        (trainable(vs), Expect::Exactly)
    } else {
        (vs.variables().into_iter().collect(), Expect::StoredOnly)
    };
    let fail = |message: String| DistillError::Checkpoint {
        path: path.to_path_buf(),
        message,
    };
    match load_into(&vars, path, expect) {
        Ok(report) => Ok(report.loaded),
        Err(RuntimeError::MissingTensor { tensor, .. }) => Err(fail(format!(
            "has no `{tensor}`: written with another set of trainable parameters"
        ))),
        Err(RuntimeError::UnexpectedTensor { tensor, .. }) => {
            Err(fail(if vs.variables().contains_key(&tensor) {
                format!("holds `{tensor}`, which is frozen in this run (another training scope?)")
            } else {
                format!("holds `{tensor}`, which this model does not have")
            }))
        }
        Err(e @ RuntimeError::ShapeMismatch { .. }) => Err(fail(e.to_string())),
        Err(e) => Err(fail(format!("cannot read: {e}"))),
    }
}

/// Writes every parameter of a (trained) policy except the value head, so the distilled
/// generator can be rebuilt from its original checkpoint with [`load_policy_weights`].
///
/// # Errors
/// [`DistillError::Runtime`] naming the file when writing fails. The file is replaced
/// crash-safely: a crash leaves the previous file or the complete new one.
pub fn save_policy_weights(lm: &LanguageModel, path: &Path) -> Result<()> {
    let mut v: Vec<(String, Tensor)> = lm
        .var_store()
        .variables()
        .into_iter()
        .filter(|(n, _)| !n.starts_with(crate::policy::VALUE_HEAD))
        .map(|(n, t)| (n, t.contiguous()))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(nines_runtime::train::write_tensors_durably(path, &v)?)
}

/// Overwrites a freshly loaded model's parameters with weights written by
/// [`save_policy_weights`]. Returns the number of tensors copied.
///
/// # Errors
/// [`DistillError::Checkpoint`] for a tensor the model lacks or a shape mismatch.
pub fn load_policy_weights(lm: &LanguageModel, path: &Path) -> Result<usize> {
    copy_into(path, lm.var_store(), false)
}

/// The checkpoint folder of a run folder.
pub fn checkpoint_dir(run_dir: &Path) -> PathBuf {
    run_dir.join("checkpoint")
}
