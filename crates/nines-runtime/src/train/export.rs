//! Export a (fine-tuned) causal LM as a Hugging Face folder: `config.json`,
//! `model.safetensors` (f32, LoRA merged; GGUF-sourced weights dequantized) and
//! `tokenizer.json` (+ `tokenizer_config.json`), loadable by `transformers`
//! (`AutoModelForCausalLM.from_pretrained`) and by [`LanguageModel::load`].

use std::path::{Path, PathBuf};

use tch::Tensor;

use super::finetune::safetensors_bytes;
use crate::checkpoint::gguf::GgufFile;
use crate::error::{Result, RuntimeError};
use crate::lm::LanguageModel;
use crate::models::llama::LlamaConfig;
use crate::models::{Architecture, is_lora_parameter};

/// Writes `lm` to `out` in Hugging Face layout, merging LoRA adapters first. The folder is
/// assembled under a temporary name and renamed into place, so `out` is either the previous
/// export or the complete new one. Returns `out`.
///
/// # Errors
/// I/O failures; a source config that cannot be read; a model loaded int8
/// ([`RuntimeError::Quantized`]).
pub fn export_hf(lm: &mut LanguageModel, out: &Path) -> Result<PathBuf> {
    lm.ensure_trainable("export")?;
    lm.merge_lora();
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| RuntimeError::io(parent, e))?;
    let name = out
        .file_name()
        .map_or_else(|| "export".into(), |n| n.to_string_lossy().into_owned());
    let tmp = parent.join(format!(".{name}.tmp"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| RuntimeError::io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| RuntimeError::io(&tmp, e))?;

    let mut named: Vec<(String, Tensor)> = lm
        .var_store()
        .variables()
        .into_iter()
        .filter(|(n, _)| !is_lora_parameter(n))
        .collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    write_synced(&tmp.join("model.safetensors"), &safetensors_bytes(&named)?)?;

    let (config, hf_dir) = export_config(lm)?;
    write_synced(
        &tmp.join("config.json"),
        &serde_json::to_vec_pretty(&config).expect("config serializes"),
    )?;
    match hf_dir.as_deref().map(|d| d.join("tokenizer.json")) {
        Some(src) if src.is_file() => {
            for f in [
                "tokenizer.json",
                "tokenizer_config.json",
                "special_tokens_map.json",
                "generation_config.json",
            ] {
                let from = hf_dir.as_deref().unwrap().join(f);
                if from.is_file() {
                    std::fs::copy(&from, tmp.join(f)).map_err(|e| RuntimeError::io(&from, e))?;
                }
            }
        }
        _ => {
            let tok = lm.tokenizer();
            let path = tmp.join("tokenizer.json");
            tok.inner()
                .save(&path, false)
                .map_err(|e| RuntimeError::Tokenizer {
                    origin: path.display().to_string(),
                    message: e.to_string(),
                })?;
            let name_of = |id: Option<u32>| id.and_then(|i| tok.inner().id_to_token(i));
            let mut tc = serde_json::json!({
                "tokenizer_class": "PreTrainedTokenizerFast",
                "model_max_length": lm.model().spec().context_length,
                "clean_up_tokenization_spaces": false,
            });
            if let Some(b) = name_of(tok.bos_id()) {
                tc["bos_token"] = b.into();
            }
            if let Some(e) = name_of(tok.eos_ids().first().copied()) {
                tc["eos_token"] = e.clone().into();
                tc["pad_token"] = e.into();
            }
            write_synced(
                &tmp.join("tokenizer_config.json"),
                &serde_json::to_vec_pretty(&tc).expect("json"),
            )?;
        }
    }
    sync_dir(&tmp)?;
    let old = parent.join(format!(".{name}.old"));
    if out.exists() {
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(|e| RuntimeError::io(&old, e))?;
        }
        std::fs::rename(out, &old).map_err(|e| RuntimeError::io(out, e))?;
    }
    std::fs::rename(&tmp, out).map_err(|e| RuntimeError::io(out, e))?;
    sync_dir(parent)?;
    if old.exists() {
        let _ = std::fs::remove_dir_all(&old);
    }
    Ok(out.to_path_buf())
}

/// The Hugging Face config for `lm`, and its source folder when it came from one.
fn export_config(lm: &LanguageModel) -> Result<(serde_json::Value, Option<PathBuf>)> {
    let src = lm.source();
    if src.is_dir() && src.join("config.json").is_file() {
        let path = src.join("config.json");
        let mut v: serde_json::Value = crate::checkpoint::hf::read_json(&path)?;
        if let Some(o) = v.as_object_mut() {
            o.remove("torch_dtype");
            o.insert("dtype".into(), "float32".into());
        }
        return Ok((v, Some(src.to_path_buf())));
    }
    let gguf = if src.is_file() {
        src.to_path_buf()
    } else {
        std::fs::read_dir(src)
            .map_err(|e| RuntimeError::io(src, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|x| x == "gguf"))
            .ok_or_else(|| RuntimeError::MissingFile {
                path: src.to_path_buf(),
                what: "the model's .gguf file",
            })?
    };
    if lm.model().spec().architecture != Architecture::Llama {
        return Err(RuntimeError::InvalidInput(format!(
            "{}: only Llama GGUF models are supported",
            gguf.display()
        )));
    }
    let file = GgufFile::open(&gguf)?;
    let cfg = LlamaConfig::from_gguf(&file)?;
    let mut v = serde_json::to_value(&cfg).expect("config serializes");
    let o = v.as_object_mut().expect("object");
    o.retain(|_, x| !x.is_null());
    o.insert("model_type".into(), "llama".into());
    o.insert(
        "architectures".into(),
        serde_json::json!(["LlamaForCausalLM"]),
    );
    o.insert("dtype".into(), "float32".into());
    o.insert("attention_dropout".into(), 0.0.into());
    o.insert("initializer_range".into(), 0.02.into());
    o.insert("pretraining_tp".into(), 1.into());
    o.insert("use_cache".into(), true.into());
    let tok = lm.tokenizer();
    if let Some(b) = tok.bos_id() {
        o.insert("bos_token_id".into(), b.into());
    }
    match tok.eos_ids() {
        [] => {}
        [one] => {
            o.insert("eos_token_id".into(), (*one).into());
        }
        many => {
            o.insert("eos_token_id".into(), serde_json::json!(many));
        }
    }
    Ok((v, None))
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(path).map_err(|e| RuntimeError::io(path, e))?;
    f.write_all(bytes).map_err(|e| RuntimeError::io(path, e))?;
    f.sync_all().map_err(|e| RuntimeError::io(path, e))
}

fn sync_dir(path: &Path) -> Result<()> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| RuntimeError::io(path, e))
}
