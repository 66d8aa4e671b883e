//! What int8 projections cost in accuracy: validation perplexity of a causal LM in f32 and
//! in int8 on the corpus's validation chapters, the share of positions where the two models'
//! most likely next tokens agree, and how well greedy continuations of validation passages
//! agree. `nines eval int8` prints it; docs/performance.md quotes it.

use std::path::PathBuf;

use nines_data::corpus::Corpus;
use nines_data::split::{SplitConfig, region_texts};
use nines_runtime::tch::{Kind, Tensor};
use nines_runtime::train::{PackedTokens, evaluate};
use nines_runtime::{DType, DeviceSpec, GenerateConfig, LanguageModel, LoadOptions};
use serde::{Deserialize, Serialize};

use crate::pipeline::PipelineError;

/// What to measure.
#[derive(Debug, Clone, PartialEq)]
pub struct Int8Request {
    /// The model: a Hugging Face folder or a .gguf file.
    pub model: PathBuf,
    /// The corpus folder; its validation chapters are measured.
    pub corpus: PathBuf,
    /// Tokens per validation sequence.
    pub seq_len: usize,
    /// Validation sequences, evenly spaced (0: all).
    pub sequences: usize,
    /// Sequences per forward pass.
    pub batch_size: usize,
    /// Validation passages to continue greedily.
    pub prompts: usize,
    /// New tokens per greedy continuation.
    pub new_tokens: usize,
}

/// Greedy continuations of int8 against f32.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GreedyAgreement {
    /// Passages continued.
    pub prompts: usize,
    /// New tokens per continuation.
    pub new_tokens: usize,
    /// Share of positions with the same token.
    pub token_agreement: f64,
    /// Share of tokens before the first difference.
    pub prefix_agreement: f64,
    /// Continuations identical throughout.
    pub identical_continuations: usize,
}

/// The measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Int8Accuracy {
    /// The model.
    pub model: PathBuf,
    /// Validation sequences measured.
    pub validation_sequences: usize,
    /// Tokens per sequence.
    pub seq_len: usize,
    /// Validation perplexity in f32.
    pub perplexity_f32: f64,
    /// Validation perplexity in int8.
    pub perplexity_int8: f64,
    /// `perplexity_int8 / perplexity_f32`.
    pub perplexity_ratio: f64,
    /// Share of next-token positions where the two models' most likely tokens agree.
    pub top1_agreement: f64,
    /// Greedy continuations.
    pub greedy: GreedyAgreement,
    /// LibTorch threads.
    pub threads: i32,
}

/// ~300 characters ending mid-region, on a character boundary, from the first `n` long
/// regions.
fn passages(valid: &[String], n: usize) -> Vec<String> {
    valid
        .iter()
        .filter(|t| t.len() > 2000)
        .take(n)
        .map(|t| {
            let mut end = t.len() / 2;
            while !t.is_char_boundary(end) {
                end += 1;
            }
            let mut start = end.saturating_sub(300);
            while !t.is_char_boundary(start) {
                start += 1;
            }
            t[start..end].to_string()
        })
        .collect()
}

/// Share of next-token positions where the two models' most likely tokens agree.
fn top1_agreement(
    a: &LanguageModel,
    b: &LanguageModel,
    data: &PackedTokens,
    take: usize,
    batch: usize,
) -> Result<f64, PipelineError> {
    let n = data.num_sequences();
    let take = if take == 0 { n } else { take.min(n) };
    let idx: Vec<usize> = (0..take).map(|i| i * n / take).collect();
    let _guard = nines_runtime::tch::no_grad_guard();
    let t = data.seq_len() as i64;
    let (mut same, mut total) = (0i64, 0i64);
    for chunk in idx.chunks(batch.max(1)) {
        let ids = data.batch(chunk, a.device());
        let pos = Tensor::arange(t, (Kind::Int64, a.device()))
            .unsqueeze(0)
            .expand([chunk.len() as i64, t], true);
        let top = |lm: &LanguageModel| {
            lm.model()
                .forward(&ids, &pos, None, None)
                .map(|l| l.argmax(-1, false))
        };
        same += top(a)?
            .eq_tensor(&top(b)?)
            .sum(Kind::Int64)
            .int64_value(&[]);
        total += chunk.len() as i64 * t;
    }
    Ok(same as f64 / total.max(1) as f64)
}

/// Loads the model in f32 and in int8 (CPU) and measures both.
pub fn measure(req: &Int8Request) -> Result<Int8Accuracy, PipelineError> {
    let load = |dtype| {
        LanguageModel::load(
            &req.model,
            LoadOptions {
                device: DeviceSpec::Cpu,
                dtype,
            },
        )
    };
    let f32 = load(DType::F32)?;
    let int8 = load(DType::Int8)?;
    let corpus = Corpus::load(&req.corpus)?;
    let [_, valid, _] = region_texts(&corpus, &SplitConfig::default());
    let data = PackedTokens::pack(f32.tokenizer(), &valid, req.seq_len)?;
    let ppl_f32 = evaluate(&f32, &data, req.sequences, req.batch_size)?;
    let ppl_int8 = evaluate(&int8, &data, req.sequences, req.batch_size)?;
    let top1 = top1_agreement(&int8, &f32, &data, req.sequences, req.batch_size)?;
    let prompts = passages(&valid, req.prompts);
    let cfg = GenerateConfig {
        max_new_tokens: req.new_tokens,
        min_new_tokens: req.new_tokens,
        temperature: 0.0,
        ..Default::default()
    };
    let (mut same_position, mut prefix, mut identical, mut total) = (0, 0, 0, 0);
    for p in &prompts {
        let a = &int8.generate(&[p.as_str()], &cfg)?[0].token_ids;
        let b = &f32.generate(&[p.as_str()], &cfg)?[0].token_ids;
        same_position += a.iter().zip(b).filter(|(x, y)| x == y).count();
        prefix += a.iter().zip(b).take_while(|(x, y)| x == y).count();
        identical += usize::from(a == b);
        total += b.len();
    }
    let n = data.num_sequences();
    Ok(Int8Accuracy {
        model: req.model.clone(),
        validation_sequences: if req.sequences == 0 {
            n
        } else {
            req.sequences.min(n)
        },
        seq_len: req.seq_len,
        perplexity_f32: ppl_f32.perplexity,
        perplexity_int8: ppl_int8.perplexity,
        perplexity_ratio: ppl_int8.perplexity / ppl_f32.perplexity,
        top1_agreement: top1,
        greedy: GreedyAgreement {
            prompts: prompts.len(),
            new_tokens: req.new_tokens,
            token_agreement: same_position as f64 / total.max(1) as f64,
            prefix_agreement: prefix as f64 / total.max(1) as f64,
            identical_continuations: identical,
        },
        threads: nines_runtime::tch::get_num_threads(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passages_end_mid_region_on_character_boundaries() {
        let long = "é".repeat(1500);
        let short = "x".repeat(100);
        let p = passages(&[short, long.clone(), long], 1);
        assert_eq!(p.len(), 1);
        assert!(p[0].chars().all(|c| c == 'é'));
        assert!(p[0].len() <= 302);
    }
}
