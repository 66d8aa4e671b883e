//! Tokenizers: a Hugging Face `tokenizer.json`, or one built from a GGUF file's metadata.

use std::path::Path;

use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::BPE;
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, SplitDelimiterBehavior};

use crate::checkpoint::gguf::{GgufFile, GgufValue};
use crate::error::{Result, RuntimeError};

/// The regular expression llama.cpp and Hugging Face use for Llama-3-style byte-level BPE.
const LLAMA3_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// A text tokenizer with the model's special-token ids.
#[derive(Clone)]
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    origin: String,
    bos_id: Option<u32>,
    eos_ids: Vec<u32>,
    pad_id: Option<u32>,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("origin", &self.origin)
            .field("vocab", &self.vocab_size())
            .field("bos_id", &self.bos_id)
            .field("eos_ids", &self.eos_ids)
            .finish()
    }
}

impl Tokenizer {
    /// Loads a `tokenizer.json`. Padding and truncation baked into the file are turned off:
    /// batching is the runtime's job.
    pub fn from_file(path: &Path) -> Result<Self> {
        if !path.is_file() {
            return Err(RuntimeError::MissingFile {
                path: path.to_path_buf(),
                what: "tokenizer.json",
            });
        }
        let origin = path.display().to_string();
        // The tokenizers library panics on some malformed files (a truncated one, for
        // example) instead of returning its error.
        let mut inner = match panic_free(|| tokenizers::Tokenizer::from_file(path)) {
            Ok(Ok(t)) => t,
            Ok(Err(e)) => {
                return Err(RuntimeError::Tokenizer {
                    origin,
                    message: e.to_string(),
                });
            }
            Err(why) => {
                return Err(RuntimeError::Tokenizer {
                    origin,
                    message: format!("not a valid tokenizer.json ({why})"),
                });
            }
        };
        inner.with_padding(None);
        inner
            .with_truncation(None)
            .map_err(|e| RuntimeError::Tokenizer {
                origin: origin.clone(),
                message: e.to_string(),
            })?;
        let find = |names: &[&str]| names.iter().find_map(|n| inner.token_to_id(n));
        let bos_id = find(&["<s>", "<|endoftext|>", "<|begin_of_text|>", "[CLS]"]);
        let eos_ids = find(&[
            "</s>",
            "<|endoftext|>",
            "<|end_of_text|>",
            "<|im_end|>",
            "[SEP]",
        ])
        .into_iter()
        .collect();
        let pad_id = find(&["<pad>", "[PAD]", "<|endoftext|>"]);
        Tokenizer {
            inner,
            origin,
            bos_id,
            eos_ids,
            pad_id,
        }
        .probed()
    }

    /// Builds a byte-level BPE tokenizer from `tokenizer.ggml.*` metadata (model `gpt2`).
    ///
    /// # Errors
    /// [`RuntimeError::Tokenizer`] for another tokenizer model, an unknown pre-tokenizer, or
    /// malformed token/merge arrays; [`RuntimeError::Config`] for missing keys.
    pub fn from_gguf(file: &GgufFile) -> Result<Self> {
        let origin = file.path().display().to_string();
        let err = |message: String| RuntimeError::Tokenizer {
            origin: origin.clone(),
            message,
        };
        let model = file.require_str("tokenizer.ggml.model")?;
        if model != "gpt2" {
            return Err(err(format!(
                "tokenizer.ggml.model `{model}` is not supported (supported: gpt2 byte-level BPE)"
            )));
        }
        let strings = |key: &str| -> Result<Vec<String>> {
            let arr = file
                .get(key)
                .and_then(GgufValue::as_array)
                .ok_or_else(|| RuntimeError::config(file.path(), key, "missing or not an array"))?;
            arr.iter()
                .enumerate()
                .map(|(i, v)| {
                    v.as_str().map(str::to_string).ok_or_else(|| {
                        RuntimeError::config(
                            file.path(),
                            key,
                            format!("element {i} is not a string"),
                        )
                    })
                })
                .collect()
        };
        let tokens = strings("tokenizer.ggml.tokens")?;
        let merges = strings("tokenizer.ggml.merges")?;
        let token_types: Vec<u64> = file
            .get("tokenizer.ggml.token_type")
            .and_then(GgufValue::as_array)
            .map(|a| a.iter().map(|v| v.as_u64().unwrap_or(1)).collect())
            .unwrap_or_default();
        let vocab: tokenizers::models::bpe::Vocab = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        let merges = merges
            .iter()
            .enumerate()
            .map(|(i, m)| {
                m.split_once(' ')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .ok_or_else(|| err(format!("merge {i} `{m}` is not two tokens")))
            })
            .collect::<Result<Vec<_>>>()?;
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, merges)
            .build()
            .map_err(|e| err(e.to_string()))?;
        let mut inner = tokenizers::Tokenizer::new(bpe);
        let pre = file
            .get("tokenizer.ggml.pre")
            .and_then(GgufValue::as_str)
            .unwrap_or("default");
        let byte_level = ByteLevel::new(false, true, true);
        let pre_tokenizer: PreTokenizerWrapper = match pre {
            "default" | "gpt2" | "gpt-2" => byte_level.into(),
            "smollm" | "starcoder" | "refact" => {
                Sequence::new(vec![Digits::new(true).into(), byte_level.into()]).into()
            }
            "llama3" | "llama-bpe" | "llama-v3" => {
                let split = Split::new(
                    SplitPattern::Regex(LLAMA3_PATTERN.to_string()),
                    SplitDelimiterBehavior::Isolated,
                    false,
                )
                .map_err(|e| err(e.to_string()))?;
                Sequence::new(vec![
                    split.into(),
                    ByteLevel::new(false, true, false).into(),
                ])
                .into()
            }
            other => {
                return Err(err(format!(
                    "tokenizer.ggml.pre `{other}` is not supported (supported: default, gpt2, smollm, starcoder, llama3)"
                )));
            }
        };
        inner.with_pre_tokenizer(Some(pre_tokenizer));
        inner.with_decoder(Some(ByteLevelDecoder::default()));
        // Control tokens (type 3) are special: never split, skipped when decoding on request.
        let specials: Vec<AddedToken> = tokens
            .iter()
            .zip(token_types.iter().chain(std::iter::repeat(&1)))
            .filter(|(_, ty)| **ty == 3)
            .map(|(t, _)| AddedToken::from(t.clone(), true))
            .collect();
        inner.add_special_tokens(&specials);
        let id = |key: &str| -> Result<Option<u32>> {
            match file.get(key) {
                None => Ok(None),
                Some(v) => v
                    .as_u64()
                    .and_then(|id| u32::try_from(id).ok())
                    .map(Some)
                    .ok_or_else(|| {
                        RuntimeError::config(file.path(), key, format!("{v:?} is not a token id"))
                    }),
            }
        };
        let bos_id = id("tokenizer.ggml.bos_token_id")?;
        let eos_ids: Vec<u32> = id("tokenizer.ggml.eos_token_id")?.into_iter().collect();
        let pad_id = id("tokenizer.ggml.padding_token_id")?;
        let add_bos = file
            .get("tokenizer.ggml.add_bos_token")
            .and_then(GgufValue::as_bool)
            .unwrap_or(false);
        if add_bos {
            let bos = bos_id.ok_or_else(|| {
                RuntimeError::config(
                    file.path(),
                    "tokenizer.ggml.bos_token_id",
                    "add_bos_token is set but no BOS id",
                )
            })?;
            let bos_token = tokens
                .get(bos as usize)
                .ok_or_else(|| err(format!("BOS id {bos} is outside the vocabulary")))?;
            let template = TemplateProcessing::builder()
                .try_single(format!("{bos_token} $A"))
                .and_then(|b| b.try_pair(format!("{bos_token} $A $B")))
                .map_err(|e| err(e.to_string()))?
                .special_tokens(vec![(bos_token.clone(), bos)])
                .build()
                .map_err(|e| err(e.to_string()))?;
            inner.with_post_processor(Some(template));
        }
        Tokenizer {
            inner,
            origin,
            bos_id,
            eos_ids,
            pad_id,
        }
        .probed()
    }

    /// Encodes a probe text, alone and as a pair, with special tokens, so that a tokenizer
    /// that loads but cannot encode (a post-processor naming an undefined special token, a
    /// template with pieces it does not have) fails here with a typed error instead of
    /// panicking inside the tokenizers library at the first real encode.
    fn probed(self) -> Result<Self> {
        const PROBE: &str = "The ship rolled. He fell, 42 feet!";
        let outcome = panic_free(|| {
            let ids = self.inner.encode(PROBE, true)?.get_ids().to_vec();
            self.inner.encode((PROBE, PROBE), true)?;
            self.inner.decode(&ids, false)?;
            self.inner.decode(&ids, true).map(|_| ())
        });
        match outcome {
            Ok(Ok(())) => Ok(self),
            Ok(Err(e)) => Err(self.err(format!("cannot encode and decode a probe text: {e}"))),
            Err(why) => Err(self.err(format!(
                "cannot encode and decode a probe text ({why}): is its post-processor's template consistent with its special tokens?"
            ))),
        }
    }

    /// Where the tokenizer came from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Number of tokens, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Largest token id + 1 (may exceed `vocab_size` when ids have gaps).
    pub fn max_token_id(&self) -> Option<u32> {
        self.inner.get_vocab(true).values().copied().max()
    }

    /// Beginning-of-sequence id, when the tokenizer has one.
    pub fn bos_id(&self) -> Option<u32> {
        self.bos_id
    }

    /// End-of-sequence ids (generation stops at any of them).
    pub fn eos_ids(&self) -> &[u32] {
        &self.eos_ids
    }

    /// Replaces the end-of-sequence ids (e.g. from a model's `config.json`).
    pub fn set_eos_ids(&mut self, ids: Vec<u32>) {
        self.eos_ids = ids;
    }

    /// A padding id: the tokenizer's own, else the first EOS id, else 0.
    pub fn pad_id(&self) -> u32 {
        self.pad_id.or(self.eos_ids.first().copied()).unwrap_or(0)
    }

    /// Token ids of `text`, with the special tokens the tokenizer's post-processor adds.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        self.encode_with(text, true)
    }

    /// Token ids of `text`, with or without special tokens.
    pub fn encode_with(&self, text: &str, add_special_tokens: bool) -> Result<Vec<u32>> {
        let enc = self
            .inner
            .encode(text, add_special_tokens)
            .map_err(|e| self.err(e))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Ids and token-type ids of a text pair (e.g. `[CLS] a [SEP] b [SEP]` for BERT).
    pub fn encode_pair(&self, first: &str, second: &str) -> Result<(Vec<u32>, Vec<u32>)> {
        let enc = self
            .inner
            .encode((first, second), true)
            .map_err(|e| self.err(e))?;
        Ok((enc.get_ids().to_vec(), enc.get_type_ids().to_vec()))
    }

    /// Text of `ids`.
    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String> {
        self.inner
            .decode(ids, skip_special_tokens)
            .map_err(|e| self.err(e))
    }

    /// The wrapped `tokenizers` tokenizer.
    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }

    fn err(&self, e: impl std::fmt::Display) -> RuntimeError {
        RuntimeError::Tokenizer {
            origin: self.origin.clone(),
            message: e.to_string(),
        }
    }
}

/// Runs `f`, turning a panic inside the tokenizers library into its message.
fn panic_free<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|panic| {
        panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("a panic in the tokenizers library")
            .to_string()
    })
}
