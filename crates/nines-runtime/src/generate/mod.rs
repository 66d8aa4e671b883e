//! Batched text generation with a KV cache.
//!
//! Prompts of different lengths are left-padded; padding is masked out of attention and
//! position ids count real tokens only, so a prompt's continuation does not depend on what
//! else is in the batch (up to floating-point rounding). Sequences leave the batch as soon as
//! they finish. Each sequence draws its tokens from its own seeded random stream.

mod sampler;
mod stop;

pub use stop::{first_sentence_end, stop_string_end};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::{Kind, Tensor};

use crate::error::{Result, RuntimeError};
use crate::kv_cache::KvCache;
use crate::lm::LanguageModel;

/// Sampling and stopping settings.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GenerateConfig {
    /// Most new tokens per sequence. Default 64.
    pub max_new_tokens: usize,
    /// Fewest new tokens: EOS is banned and stop rules are not checked before. Default 0.
    pub min_new_tokens: usize,
    /// Softmax temperature; 0 means greedy decoding. Default 1.0.
    pub temperature: f64,
    /// Keep only the `top_k` most likely tokens; 0 disables. Default 0.
    pub top_k: usize,
    /// Keep the smallest set of most likely tokens whose probability reaches `top_p`; 1.0
    /// disables. Default 1.0.
    pub top_p: f64,
    /// Stop at the end of the first sentence (see [`first_sentence_end`]). Default false.
    pub stop_at_sentence_end: bool,
    /// Stop after any of these strings (kept in the output). Default none.
    pub stop_strings: Vec<String>,
    /// Stop at an end-of-sequence token. Default true.
    pub stop_at_eos: bool,
    /// Seed: sample `j` of prompt `i` draws from ChaCha8 stream `(i << 32) | j` of this seed.
    /// Default 0.
    pub seed: u64,
}

impl Default for GenerateConfig {
    fn default() -> Self {
        GenerateConfig {
            max_new_tokens: 64,
            min_new_tokens: 0,
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
            stop_at_sentence_end: false,
            stop_strings: Vec::new(),
            stop_at_eos: true,
            seed: 0,
        }
    }
}

impl GenerateConfig {
    /// Checks every setting.
    ///
    /// # Errors
    /// [`RuntimeError::InvalidSetting`] naming the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |field, message: String| Err(RuntimeError::InvalidSetting { field, message });
        if self.max_new_tokens == 0 {
            return bad("max_new_tokens", "must be at least 1".into());
        }
        if self.max_new_tokens > MAX_NEW_TOKENS {
            return bad(
                "max_new_tokens",
                format!(
                    "{} is above the maximum of {MAX_NEW_TOKENS}",
                    self.max_new_tokens
                ),
            );
        }
        if self.min_new_tokens > self.max_new_tokens {
            return bad(
                "min_new_tokens",
                format!(
                    "{} exceeds max_new_tokens {}",
                    self.min_new_tokens, self.max_new_tokens
                ),
            );
        }
        if !self.temperature.is_finite() || self.temperature < 0.0 {
            return bad(
                "temperature",
                format!("{} is not a finite number ≥ 0", self.temperature),
            );
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return bad("top_p", format!("{} is not in (0, 1]", self.top_p));
        }
        Ok(())
    }
}

/// Most new tokens one generation may ask for.
pub const MAX_NEW_TOKENS: usize = 1 << 20;
/// Most completions sampled per prompt in one call.
pub const MAX_SAMPLES_PER_PROMPT: usize = 1 << 16;

/// Refuses a batch whose key/value cache alone would not fit in the memory this machine has
/// available (`MemAvailable` in `/proc/meminfo`; not checked where that is unknown), with the
/// estimate: rows × (longest prompt + new tokens) × layers × 2 × hidden width × 4 bytes, an
/// upper bound for grouped-query attention.
fn check_cache_memory(
    lm: &LanguageModel,
    prompts: &[Vec<u32>],
    n: usize,
    cfg: &GenerateConfig,
) -> Result<()> {
    let Some(available) = crate::device::available_memory() else {
        return Ok(());
    };
    let spec = lm.model().spec();
    let longest = prompts.iter().map(Vec::len).max().unwrap_or(0);
    let bytes = (prompts.len() as u128)
        * (n as u128)
        * ((longest + cfg.max_new_tokens) as u128)
        * (spec.num_layers as u128)
        * 2
        * (spec.hidden_size as u128)
        * 4;
    if bytes > u128::from(available) {
        return Err(RuntimeError::InvalidSetting {
            field: "n",
            message: format!(
                "{} prompts × {n} samples × {} positions need about {:.1} GiB of key/value cache; {:.1} GiB of memory is available",
                prompts.len(),
                longest + cfg.max_new_tokens,
                bytes as f64 / (1u64 << 30) as f64,
                available as f64 / (1u64 << 30) as f64
            ),
        });
    }
    Ok(())
}

/// Why a sequence stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// An end-of-sequence token was sampled (it is the last of `token_ids`).
    Eos,
    /// The first sentence ended.
    SentenceEnd,
    /// A stop string appeared.
    StopString,
    /// `max_new_tokens` were generated.
    MaxTokens,
}

/// One generated continuation.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Generation {
    /// The prompt's token ids.
    pub prompt_ids: Vec<u32>,
    /// New token ids, after truncation at the stop point.
    pub token_ids: Vec<u32>,
    /// Log-probability of each new token under the model (temperature 1, untruncated).
    pub logprobs: Vec<f32>,
    /// Decoded new text (special tokens skipped).
    pub text: String,
    /// Why generation stopped.
    pub finish_reason: FinishReason,
}

struct Row {
    prompt: usize,
    rng: ChaCha8Rng,
    tokens: Vec<u32>,
    logprobs: Vec<f32>,
    finish: Option<FinishReason>,
}

impl LanguageModel {
    /// Continues each prompt once. See [`generate_n`](Self::generate_n).
    pub fn generate(&self, prompts: &[&str], cfg: &GenerateConfig) -> Result<Vec<Generation>> {
        Ok(self
            .generate_n(prompts, 1, cfg)?
            .into_iter()
            .flatten()
            .collect())
    }

    /// Samples `n` continuations of each prompt; the prompt is encoded once and its KV cache
    /// shared by its `n` samples. Returns `n` generations per prompt, in prompt order.
    ///
    /// # Errors
    /// Invalid settings, an empty prompt, a prompt too long for the context window.
    pub fn generate_n(
        &self,
        prompts: &[&str],
        n: usize,
        cfg: &GenerateConfig,
    ) -> Result<Vec<Vec<Generation>>> {
        let ids = prompts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                if p.trim().is_empty() {
                    return Err(RuntimeError::InvalidInput(format!("prompt {i} is empty")));
                }
                self.tokenizer().encode(p)
            })
            .collect::<Result<Vec<_>>>()?;
        self.generate_ids_n(&ids, n, cfg)
    }

    /// [`generate_n`](Self::generate_n) from token ids.
    pub fn generate_ids_n(
        &self,
        prompts: &[Vec<u32>],
        n: usize,
        cfg: &GenerateConfig,
    ) -> Result<Vec<Vec<Generation>>> {
        cfg.validate()?;
        if n == 0 || n > MAX_SAMPLES_PER_PROMPT {
            return Err(RuntimeError::InvalidSetting {
                field: "n",
                message: format!("{n} is not in 1..={MAX_SAMPLES_PER_PROMPT}"),
            });
        }
        if prompts.is_empty() {
            return Ok(Vec::new());
        }
        let spec = self.model().spec();
        let vocab = spec.vocab_size as u32;
        for (i, p) in prompts.iter().enumerate() {
            if p.is_empty() {
                return Err(RuntimeError::InvalidInput(format!(
                    "prompt {i} has no tokens"
                )));
            }
            if let Some(&bad) = p.iter().find(|&&t| t >= vocab) {
                return Err(RuntimeError::InvalidInput(format!(
                    "prompt {i} has token id {bad} outside the vocabulary of {vocab}"
                )));
            }
            if p.len().saturating_add(cfg.max_new_tokens) > spec.context_length {
                return Err(RuntimeError::PromptTooLong {
                    index: i,
                    tokens: p.len(),
                    new_tokens: cfg.max_new_tokens,
                    context: spec.context_length,
                });
            }
        }
        check_cache_memory(self, prompts, n, cfg)?;
        let _guard = tch::no_grad_guard();
        let device = self.device();
        let pad = i64::from(self.tokenizer().pad_id());
        let width = prompts.iter().map(Vec::len).max().unwrap_or(0);
        let padded = prompts.iter().any(|p| p.len() != width);
        let mut ids = Vec::with_capacity(prompts.len() * width);
        let mut valid = Vec::with_capacity(prompts.len() * width);
        for p in prompts {
            let gap = width - p.len();
            ids.extend(std::iter::repeat_n(pad, gap).chain(p.iter().map(|&t| i64::from(t))));
            valid.extend(std::iter::repeat_n(false, gap).chain(std::iter::repeat_n(true, p.len())));
        }
        let b = prompts.len() as i64;
        let input = Tensor::from_slice(&ids)
            .view([b, width as i64])
            .to_device(device);
        let valid = Tensor::from_slice(&valid)
            .view([b, width as i64])
            .to_device(device);
        let positions = (valid.cumsum(1, Kind::Int64) - 1).clamp_min(0);
        let mut key_valid = padded.then_some(valid);
        // Room for every token this call can produce: decoding appends without copying.
        let mut cache = KvCache::with_capacity(spec.num_layers, width + cfg.max_new_tokens);
        let hidden = self.model().forward_hidden(
            &input,
            &positions,
            key_valid.as_ref(),
            Some(&mut cache),
            false,
        )?;
        let mut logits = self
            .model()
            .logits(&hidden.narrow(1, width as i64 - 1, 1))?
            .squeeze_dim(1);
        let mut next_pos =
            Tensor::from_slice(&prompts.iter().map(|p| p.len() as i64).collect::<Vec<_>>())
                .to_device(device);
        if n > 1 {
            let n = n as i64;
            cache.repeat_rows(n);
            logits = logits.repeat_interleave_self_int(n, 0, None);
            next_pos = next_pos.repeat_interleave_self_int(n, 0, None);
            key_valid = key_valid.map(|k| k.repeat_interleave_self_int(n, 0, None));
        }
        let mut rows: Vec<Row> = (0..prompts.len())
            .flat_map(|i| (0..n).map(move |j| (i, ((i as u64) << 32) | j as u64)))
            .map(|(prompt, stream)| {
                let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
                rng.set_stream(stream);
                Row {
                    prompt,
                    rng,
                    tokens: Vec::new(),
                    logprobs: Vec::new(),
                    finish: None,
                }
            })
            .collect();
        // `active[k]` is the row that batch position k holds.
        let mut active: Vec<usize> = (0..rows.len()).collect();
        let eos = self.tokenizer().eos_ids().to_vec();
        for step in 0..cfg.max_new_tokens {
            let banned: &[u32] = if step < cfg.min_new_tokens { &eos } else { &[] };
            // `active` is sorted, so the filter yields the generators in batch order.
            let mut rngs: Vec<&mut ChaCha8Rng> = rows
                .iter_mut()
                .enumerate()
                .filter(|(k, _)| active.binary_search(k).is_ok())
                .map(|(_, row)| &mut row.rng)
                .collect();
            let (tokens, logprobs) = sampler::sample(&logits, cfg, &mut rngs, banned);
            for (k, &r) in active.iter().enumerate() {
                let row = &mut rows[r];
                row.tokens.push(tokens[k]);
                row.logprobs.push(logprobs[k]);
                row.finish = self.finish_check(row, cfg, &eos)?;
            }
            let keep: Vec<i64> = (0..active.len() as i64)
                .filter(|&k| rows[active[k as usize]].finish.is_none())
                .collect();
            if keep.is_empty() {
                break;
            }
            let mut next: Vec<i64> = active
                .iter()
                .map(|&r| i64::from(*rows[r].tokens.last().unwrap_or(&0)))
                .collect();
            if keep.len() != active.len() {
                let idx = Tensor::from_slice(&keep).to_device(device);
                cache.select_rows(&idx);
                next_pos = next_pos.index_select(0, &idx);
                key_valid = key_valid.map(|k| k.index_select(0, &idx));
                active = keep.iter().map(|&k| active[k as usize]).collect();
                next = keep.iter().map(|&k| next[k as usize]).collect();
            }
            let a = active.len() as i64;
            let input = Tensor::from_slice(&next).view([a, 1]).to_device(device);
            key_valid =
                key_valid.map(|k| Tensor::cat(&[k, Tensor::ones([a, 1], (Kind::Bool, device))], 1));
            let hidden = self.model().forward_hidden(
                &input,
                &next_pos.view([a, 1]),
                key_valid.as_ref(),
                Some(&mut cache),
                false,
            )?;
            logits = self.model().logits(&hidden)?.squeeze_dim(1);
            next_pos = next_pos + 1;
        }
        let mut out: Vec<Vec<Generation>> =
            (0..prompts.len()).map(|_| Vec::with_capacity(n)).collect();
        for row in rows {
            let text = self.tokenizer().decode(&row.tokens, true)?;
            out[row.prompt].push(Generation {
                prompt_ids: prompts[row.prompt].clone(),
                token_ids: row.tokens,
                logprobs: row.logprobs,
                text,
                finish_reason: row.finish.unwrap_or(FinishReason::MaxTokens),
            });
        }
        Ok(out)
    }

    /// Decides whether `row` is finished after its latest token, truncating it at the stop
    /// point when a sentence end or stop string was found.
    fn finish_check(
        &self,
        row: &mut Row,
        cfg: &GenerateConfig,
        eos: &[u32],
    ) -> Result<Option<FinishReason>> {
        let generated = row.tokens.len();
        if generated < cfg.min_new_tokens {
            return Ok(None);
        }
        let last = *row.tokens.last().unwrap_or(&u32::MAX);
        if cfg.stop_at_eos && eos.contains(&last) {
            return Ok(Some(FinishReason::Eos));
        }
        if cfg.stop_at_sentence_end || !cfg.stop_strings.is_empty() {
            let text = self.tokenizer().decode(&row.tokens, true)?;
            let stop =
                stop_string_end(&text, &cfg.stop_strings).map(|e| (e, FinishReason::StopString));
            let sentence = cfg
                .stop_at_sentence_end
                .then(|| first_sentence_end(&text))
                .flatten()
                .map(|e| (e, FinishReason::SentenceEnd));
            let cut = match (stop, sentence) {
                (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
                (a, b) => a.or(b),
            };
            if let Some((end, reason)) = cut {
                let keep = self.tokens_covering(&row.tokens, end)?;
                row.tokens.truncate(keep);
                row.logprobs.truncate(keep);
                return Ok(Some(reason));
            }
        }
        Ok((generated >= cfg.max_new_tokens).then_some(FinishReason::MaxTokens))
    }

    /// The fewest leading tokens whose decoded text is at least `bytes` long.
    fn tokens_covering(&self, tokens: &[u32], bytes: usize) -> Result<usize> {
        for k in 1..=tokens.len() {
            if self.tokenizer().decode(&tokens[..k], true)?.len() >= bytes {
                return Ok(k);
            }
        }
        Ok(tokens.len())
    }
}
