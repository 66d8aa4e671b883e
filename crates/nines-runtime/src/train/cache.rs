//! Train once, reuse: a fine-tuned Hugging Face folder cached under a key that hashes the
//! model file, the training and validation texts and the settings.
//!
//! ```no_run
//! use nines_runtime::LoadOptions;
//! use nines_runtime::train::{FinetuneConfig, finetune_cached};
//! # let (train_docs, valid_docs): (Vec<String>, Vec<String>) = (vec![], vec![]);
//! let out = finetune_cached(
//!     "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf".as_ref(),
//!     LoadOptions::default(),
//!     &train_docs,
//!     &valid_docs,
//!     &FinetuneConfig::default(),
//!     "runs/cache".as_ref(),
//!     true,
//! )?;
//! // `out` is runs/cache/finetune-<hash>/ with config.json, model.safetensors, tokenizer.json.
//! # Ok::<(), nines_runtime::train::FinetuneError>(())
//! ```

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::export::export_hf;
use super::finetune::{
    FinetuneConfig, FinetuneError, FinetuneReport, FinetuneResult, Finetuner, RunOptions,
};
use super::pack::{PackedTokens, hex};
use crate::error::RuntimeError;
use crate::lm::{LanguageModel, LoadOptions};

/// Name of the report written beside the exported weights.
pub const REPORT_FILE: &str = "finetune_report.json";

/// The cache key (first 16 hex digits of a SHA-256) of fine-tuning `model` on `train_docs`
/// (validated on `valid_docs`) with `cfg`.
///
/// # Errors
/// The model file or folder cannot be read.
pub fn finetune_cache_key<S: AsRef<str>>(
    model: &Path,
    train_docs: &[S],
    valid_docs: &[S],
    cfg: &FinetuneConfig,
) -> FinetuneResult<String> {
    let mut h = Sha256::new();
    h.update(b"nines-finetune-v1\0");
    hash_model(&mut h, model)?;
    for (tag, docs) in [(b"train\0", train_docs), (b"valid\0", valid_docs)] {
        h.update(tag);
        h.update((docs.len() as u64).to_le_bytes());
        for d in docs {
            let d = d.as_ref().as_bytes();
            h.update((d.len() as u64).to_le_bytes());
            h.update(d);
        }
    }
    h.update(serde_json::to_vec(cfg).expect("settings serialize"));
    Ok(hex(&h.finalize())[..16].to_string())
}

fn hash_model(h: &mut Sha256, model: &Path) -> FinetuneResult<()> {
    let files: Vec<PathBuf> = if model.is_dir() {
        let mut v: Vec<PathBuf> = std::fs::read_dir(model)
            .map_err(|e| FinetuneError::Runtime(RuntimeError::io(model, e)))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_file()
                    && p.extension()
                        .is_some_and(|x| x == "json" || x == "safetensors" || x == "gguf")
            })
            .collect();
        v.sort();
        v
    } else {
        vec![model.to_path_buf()]
    };
    if files.is_empty() || !model.exists() {
        return Err(RuntimeError::MissingFile {
            path: model.to_path_buf(),
            what: "model to fine-tune",
        }
        .into());
    }
    let mut buf = vec![0u8; 1 << 20];
    for f in files {
        h.update(
            f.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        let mut file =
            std::fs::File::open(&f).map_err(|e| FinetuneError::Runtime(RuntimeError::io(&f, e)))?;
        loop {
            let n = file
                .read(&mut buf)
                .map_err(|e| FinetuneError::Runtime(RuntimeError::io(&f, e)))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
    }
    Ok(())
}

/// Fine-tunes `model` on `train_docs` with `cfg` once and returns the cached Hugging Face
/// folder `cache_root/finetune-<key>/` (key from [`finetune_cache_key`]); later calls with
/// the same inputs return it at once. An interrupted run resumes from its checkpoints in
/// `cache_root/finetune-<key>.run/`. Validation perplexity before and after goes to
/// `finetune_report.json` in the folder.
///
/// # Errors
/// Any [`FinetuneError`].
pub fn finetune_cached<S: AsRef<str>>(
    model: &Path,
    load: LoadOptions,
    train_docs: &[S],
    valid_docs: &[S],
    cfg: &FinetuneConfig,
    cache_root: &Path,
    progress: bool,
) -> FinetuneResult<PathBuf> {
    let key = finetune_cache_key(model, train_docs, valid_docs, cfg)?;
    let out = cache_root.join(format!("finetune-{key}"));
    if out.join(REPORT_FILE).is_file() && out.join("model.safetensors").is_file() {
        return Ok(out);
    }
    let run_dir = cache_root.join(format!("finetune-{key}.run"));
    let lm = LanguageModel::load_with_lora(model, load, cfg.lora.clone())?;
    let train = PackedTokens::pack(lm.tokenizer(), train_docs, cfg.seq_len)?;
    let valid = if valid_docs.is_empty() {
        None
    } else {
        Some(PackedTokens::pack(lm.tokenizer(), valid_docs, cfg.seq_len)?)
    };
    let mut ft = Finetuner::new(lm, train, cfg.clone())?;
    let mut opts = RunOptions::new(&run_dir);
    opts.progress = progress;
    let report = ft.run(valid.as_ref(), &opts)?;
    let report = with_initial(report, &run_dir);
    let mut lm = ft.into_model();
    export_hf(&mut lm, &out)?;
    let path = out.join(REPORT_FILE);
    std::fs::write(
        &path,
        serde_json::to_vec_pretty(&report).expect("report serializes"),
    )
    .map_err(|e| FinetuneError::Runtime(RuntimeError::io(&path, e)))?;
    let _ = std::fs::remove_dir_all(run_dir.join("checkpoint"));
    Ok(out)
}

/// After a resume the report lacks the step-0 validation; recover it from metrics.jsonl.
fn with_initial(mut report: FinetuneReport, run_dir: &Path) -> FinetuneReport {
    if report.initial_ppl.is_some() {
        return report;
    }
    let Ok(text) = std::fs::read_to_string(run_dir.join("metrics.jsonl")) else {
        return report;
    };
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if v.get("step").and_then(|s| s.as_u64()) == Some(0)
            && let Some(p) = v.get("val_ppl").and_then(|p| p.as_f64())
        {
            report.initial_ppl = Some(p);
            break;
        }
    }
    report
}
