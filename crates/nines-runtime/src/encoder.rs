//! A BERT-family text encoder with its tokenizer: sentence embeddings and text-pair batches.

use std::path::{Path, PathBuf};

use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use crate::checkpoint::hf::{SafetensorsSource, read_json};
use crate::checkpoint::load_var_store;
use crate::device::DType;
use crate::error::{Result, RuntimeError};
use crate::lm::LoadOptions;
use crate::models::bert::{BertConfig, BertModel, POOLER_VARS, mean_pool};
use crate::tokenizer::Tokenizer;

/// How token states become one vector per text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pooling {
    /// Mask-weighted mean of the last hidden states (sentence-transformers' default).
    #[default]
    Mean,
    /// The `[CLS]` token's last hidden state.
    Cls,
}

/// A tokenized, padded batch for the encoder. All tensors `(batch, seq)` `i64`.
#[derive(Debug)]
pub struct EncodedBatch {
    /// Token ids (padding id where `attention_mask` is 0).
    pub input_ids: Tensor,
    /// Segment ids: 0 for the first text, 1 for the second of a pair.
    pub token_type_ids: Tensor,
    /// 1 for real tokens, 0 for padding.
    pub attention_mask: Tensor,
}

/// A BERT encoder and its tokenizer.
///
/// ```no_run
/// use nines_runtime::{Encoder, LoadOptions, Pooling};
/// let enc = Encoder::load("models/minilm", LoadOptions::default())?;
/// let emb = enc.embed(&["A quiet morning.", "He fell off the horse."], Pooling::Mean)?;
/// assert_eq!(emb.size(), vec![2, 384]);
/// # Ok::<(), nines_runtime::RuntimeError>(())
/// ```
pub struct Encoder {
    model: BertModel,
    tokenizer: Tokenizer,
    vars: VarStore,
    source: PathBuf,
    max_len: usize,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("source", &self.source)
            .field("config", self.model.config())
            .finish()
    }
}

impl Encoder {
    /// Loads a Hugging Face BERT folder (`config.json`, safetensors, `tokenizer.json`).
    pub fn load(dir: impl AsRef<Path>, options: LoadOptions) -> Result<Self> {
        Ok(Self::load_with(dir, options, |_| ())?.0)
    }

    /// Like [`load`](Self::load), letting `extend` declare more parameters under the same
    /// store root (e.g. a classification head `classifier.weight`) before weights are read.
    /// Those parameters are read from the checkpoint when it has them and keep their initial
    /// values otherwise. Returns the encoder and what `extend` built.
    pub fn load_with<T>(
        dir: impl AsRef<Path>,
        options: LoadOptions,
        extend: impl FnOnce(&tch::nn::Path) -> T,
    ) -> Result<(Self, T)> {
        let _loading = crate::allocator::loading();
        let dir = dir.as_ref();
        let config_path = dir.join("config.json");
        if !config_path.is_file() {
            return Err(RuntimeError::MissingFile {
                path: config_path,
                what: "encoder config.json",
            });
        }
        #[derive(serde::Deserialize)]
        struct Head {
            model_type: Option<String>,
        }
        let head: Head = read_json(&config_path)?;
        let model_type = head.model_type.unwrap_or_default();
        if !matches!(model_type.as_str(), "bert" | "") {
            return Err(RuntimeError::UnknownArchitecture {
                path: config_path,
                architecture: model_type,
                supported: "bert",
            });
        }
        let cfg: BertConfig = read_json(&config_path)?;
        cfg.validate(&config_path)?;
        if options.dtype.is_quantized() {
            return Err(RuntimeError::InvalidSetting {
                field: "dtype",
                message: format!(
                    "{}: encoders load in f32 or bf16; int8 serves causal-LM generation",
                    dir.display()
                ),
            });
        }
        let tokenizer = Tokenizer::from_file(&dir.join("tokenizer.json"))?;
        if let Some(max) = tokenizer.max_token_id()
            && max as usize >= cfg.vocab_size
        {
            return Err(RuntimeError::VocabMismatch {
                origin: tokenizer.origin().to_string(),
                tokenizer_vocab: max as usize + 1,
                model_vocab: cfg.vocab_size,
            });
        }
        let mut vars = VarStore::new(options.device.resolve()?);
        let model = BertModel::new(&vars.root(), &cfg)?;
        let before: Vec<String> = vars.variables().into_keys().collect();
        let extra = extend(&vars.root());
        let added: Vec<String> = vars
            .variables()
            .into_keys()
            .filter(|k| !before.contains(k))
            .collect();
        let optional = |name: &str| POOLER_VARS.contains(&name) || added.iter().any(|a| a == name);
        let source = SafetensorsSource::open_dir(dir)?;
        load_var_store(&vars, &source, &optional)?;
        if options.dtype != DType::F32 {
            vars.set_kind(options.dtype.kind());
        }
        let max_len = cfg.max_position_embeddings;
        Ok((
            Encoder {
                model,
                tokenizer,
                vars,
                source: dir.to_path_buf(),
                max_len,
            },
            extra,
        ))
    }

    /// The network.
    pub fn model(&self) -> &BertModel {
        &self.model
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// The parameters.
    pub fn var_store(&self) -> &VarStore {
        &self.vars
    }

    /// The parameters, mutably.
    pub fn var_store_mut(&mut self) -> &mut VarStore {
        &mut self.vars
    }

    /// The device.
    pub fn device(&self) -> Device {
        self.vars.device()
    }

    /// Where the encoder was loaded from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// Tokenizes single texts or pairs (`second` = `Some`) into a padded batch; sequences
    /// longer than `max_len` (capped at the model's position table) keep their first tokens
    /// and their final separator.
    pub fn encode_batch(
        &self,
        first: &[&str],
        second: Option<&[&str]>,
        max_len: usize,
    ) -> Result<EncodedBatch> {
        if first.is_empty() {
            return Err(RuntimeError::InvalidInput("empty batch".into()));
        }
        if let Some(s) = second
            && s.len() != first.len()
        {
            return Err(RuntimeError::InvalidInput(format!(
                "{} first texts but {} second texts",
                first.len(),
                s.len()
            )));
        }
        let max_len = max_len.min(self.max_len).max(2);
        let mut rows = Vec::with_capacity(first.len());
        for (i, a) in first.iter().enumerate() {
            let (mut ids, mut types) = match second {
                Some(s) => self.tokenizer.encode_pair(a, s[i])?,
                None => {
                    let ids = self.tokenizer.encode(a)?;
                    let n = ids.len();
                    (ids, vec![0; n])
                }
            };
            if ids.len() > max_len {
                truncate_pair(&mut ids, &mut types, max_len);
            }
            rows.push((ids, types));
        }
        let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
        let pad = i64::from(self.tokenizer.pad_id());
        let (mut ids, mut types, mut mask) = (Vec::new(), Vec::new(), Vec::new());
        for (r_ids, r_types) in &rows {
            let gap = width - r_ids.len();
            ids.extend(
                r_ids
                    .iter()
                    .map(|&t| i64::from(t))
                    .chain(std::iter::repeat_n(pad, gap)),
            );
            types.extend(
                r_types
                    .iter()
                    .map(|&t| i64::from(t))
                    .chain(std::iter::repeat_n(0, gap)),
            );
            mask.extend(std::iter::repeat_n(1i64, r_ids.len()).chain(std::iter::repeat_n(0, gap)));
        }
        let shape = [rows.len() as i64, width as i64];
        let d = self.device();
        Ok(EncodedBatch {
            input_ids: Tensor::from_slice(&ids).view(shape).to_device(d),
            token_type_ids: Tensor::from_slice(&types).view(shape).to_device(d),
            attention_mask: Tensor::from_slice(&mask).view(shape).to_device(d),
        })
    }

    /// Last hidden states `(batch, seq, hidden)` of an encoded batch.
    ///
    /// # Errors
    /// As [`crate::models::bert::BertModel::forward`].
    pub fn forward(&self, batch: &EncodedBatch, train: bool) -> Result<Tensor> {
        self.model.forward(
            &batch.input_ids,
            &batch.token_type_ids,
            &batch.attention_mask,
            train,
        )
    }

    /// Pools hidden states `(batch, seq, hidden)` of `batch` into `(batch, hidden)`.
    ///
    /// # Errors
    /// [`RuntimeError::InvalidInput`] when `hidden` is not `(batch, seq, hidden)` for this
    /// batch.
    pub fn pool(&self, hidden: &Tensor, batch: &EncodedBatch, pooling: Pooling) -> Result<Tensor> {
        let shape = hidden.size();
        if shape.len() != 3 || shape[..2] != batch.attention_mask.size()[..] {
            return Err(RuntimeError::InvalidInput(format!(
                "hidden states of shape {shape:?} for a batch of shape {:?}",
                batch.attention_mask.size()
            )));
        }
        Ok(match pooling {
            Pooling::Mean => mean_pool(hidden, &batch.attention_mask),
            Pooling::Cls => hidden.select(1, 0),
        })
    }

    /// Embeddings `(texts, hidden)` of single texts, without gradients, as f32 on the CPU.
    pub fn embed(&self, texts: &[&str], pooling: Pooling) -> Result<Tensor> {
        let _guard = tch::no_grad_guard();
        let batch = self.encode_batch(texts, None, self.max_len)?;
        let hidden = self.forward(&batch, false)?;
        Ok(self
            .pool(&hidden, &batch, pooling)?
            .to_kind(Kind::Float)
            .to_device(Device::Cpu))
    }
}

/// Shortens an encoded sequence to `max_len` tokens. A pair `[CLS] a [SEP] b [SEP]` loses
/// tokens from the *start* of `a` first (for a (prompt, completion) pair that keeps the
/// completion whole and the prompt's end, which it continues), then from the end of `b`; a
/// single text loses tokens from its end. The first and last tokens (`[CLS]`, `[SEP]`) stay.
fn truncate_pair(ids: &mut Vec<u32>, types: &mut Vec<u32>, max_len: usize) {
    let excess = ids.len().saturating_sub(max_len);
    if excess == 0 {
        return;
    }
    // Tokens of the first segment between [CLS] and its [SEP].
    let first_len = types.iter().take_while(|&&t| t == 0).count();
    let is_pair = first_len < types.len();
    if is_pair {
        let first_content = first_len.saturating_sub(2);
        let cut = excess.min(first_content);
        ids.drain(1..1 + cut);
        types.drain(1..1 + cut);
    }
    if ids.len() > max_len {
        let last = *ids.last().unwrap_or(&0);
        let last_type = *types.last().unwrap_or(&0);
        ids.truncate(max_len - 1);
        types.truncate(max_len - 1);
        ids.push(last);
        types.push(last_type);
    }
}

#[cfg(test)]
mod tests {
    use super::truncate_pair;

    #[test]
    fn pairs_lose_the_start_of_the_first_text_then_the_end_of_the_second() {
        // [CLS] a1 a2 a3 [SEP] b1 b2 [SEP]
        let ids = vec![101, 1, 2, 3, 102, 11, 12, 102];
        let types = vec![0, 0, 0, 0, 0, 1, 1, 1];
        let (mut i, mut t) = (ids.clone(), types.clone());
        truncate_pair(&mut i, &mut t, 6);
        assert_eq!(i, [101, 3, 102, 11, 12, 102]);
        assert_eq!(t, [0, 0, 0, 1, 1, 1]);
        let (mut i, mut t) = (ids.clone(), types.clone());
        truncate_pair(&mut i, &mut t, 4);
        assert_eq!(i, [101, 102, 11, 102]);
        assert_eq!(t, [0, 0, 1, 1]);
        let (mut i, mut t) = (ids, types);
        truncate_pair(&mut i, &mut t, 8);
        assert_eq!(i.len(), 8);
    }

    #[test]
    fn single_texts_lose_their_end() {
        let mut i = vec![101, 1, 2, 3, 102];
        let mut t = vec![0; 5];
        truncate_pair(&mut i, &mut t, 3);
        assert_eq!(i, [101, 1, 102]);
        assert_eq!(t, [0, 0, 0]);
    }
}
