//! Token packing for causal-LM training: documents are tokenized, each followed by an EOS
//! token (the document boundary), concatenated, and cut into fixed-length sequences.
//!
//! The runtime does not know where documents come from: the caller passes texts (for Nines,
//! the regions of the corpus's training split, from `nines-data`), so splitting — and keeping
//! validation passages out of training — stays the data layer's job.
//!
//! ```no_run
//! use nines_runtime::{LanguageModel, LoadOptions};
//! use nines_runtime::train::PackedTokens;
//! let lm = LanguageModel::load("tests/fixtures/llama", LoadOptions::default())?;
//! let packed = PackedTokens::pack(lm.tokenizer(), &["Call me Ishmael.", "It was the best of times."], 8)?;
//! println!("{} sequences of {} tokens", packed.num_sequences(), packed.seq_len());
//! # Ok::<(), nines_runtime::RuntimeError>(())
//! ```

use sha2::{Digest, Sha256};
use tch::Tensor;

use crate::error::{Result, RuntimeError};
use crate::tokenizer::Tokenizer;

/// Documents packed into back-to-back sequences of `seq_len` tokens (a trailing remainder
/// shorter than one sequence is dropped). A sequence may span a document boundary; the EOS
/// token between documents marks it, as in standard causal-LM pre-training.
#[derive(Debug, Clone)]
pub struct PackedTokens {
    tokens: Vec<i64>,
    seq_len: usize,
    documents: usize,
    total_tokens: usize,
}

impl PackedTokens {
    /// Tokenizes `documents` (without BOS/other special tokens), appends the tokenizer's first
    /// EOS id after each, and packs into sequences of `seq_len` tokens.
    ///
    /// # Errors
    /// [`RuntimeError::InvalidSetting`] when `seq_len < 2` or the tokenizer has no EOS id;
    /// [`RuntimeError::InvalidInput`] when the documents hold fewer tokens than one sequence
    /// (an empty or tiny corpus); tokenizer errors.
    pub fn pack<S: AsRef<str>>(
        tokenizer: &Tokenizer,
        documents: &[S],
        seq_len: usize,
    ) -> Result<Self> {
        let eos = *tokenizer
            .eos_ids()
            .first()
            .ok_or_else(|| RuntimeError::InvalidSetting {
                field: "tokenizer.eos",
                message: format!(
                    "{} has no end-of-sequence token to mark document boundaries",
                    tokenizer.origin()
                ),
            })?;
        let mut ids = Vec::new();
        let mut count = 0;
        for d in documents {
            let text = d.as_ref();
            if text.trim().is_empty() {
                continue;
            }
            ids.extend(tokenizer.encode_with(text, false)?);
            ids.push(eos);
            count += 1;
        }
        Self::from_ids(ids.into_iter().map(i64::from).collect(), seq_len, count)
    }

    /// Packs an already tokenized stream (document boundaries already marked).
    ///
    /// # Errors
    /// As [`pack`](Self::pack).
    pub fn from_ids(mut tokens: Vec<i64>, seq_len: usize, documents: usize) -> Result<Self> {
        if seq_len < 2 {
            return Err(RuntimeError::InvalidSetting {
                field: "seq_len",
                message: format!("{seq_len}: a training sequence needs at least 2 tokens"),
            });
        }
        let total_tokens = tokens.len();
        if total_tokens < seq_len {
            return Err(RuntimeError::InvalidInput(format!(
                "the training text has {total_tokens} tokens ({documents} non-empty documents), \
                 fewer than one sequence of {seq_len}: give more text or a shorter --seq-len"
            )));
        }
        tokens.truncate(total_tokens / seq_len * seq_len);
        Ok(PackedTokens {
            tokens,
            seq_len,
            documents,
            total_tokens,
        })
    }

    /// Tokens per sequence.
    pub fn seq_len(&self) -> usize {
        self.seq_len
    }

    /// Number of full sequences.
    pub fn num_sequences(&self) -> usize {
        self.tokens.len() / self.seq_len
    }

    /// Non-empty documents packed.
    pub fn num_documents(&self) -> usize {
        self.documents
    }

    /// Tokens before the remainder was dropped (documents plus EOS markers).
    pub fn total_tokens(&self) -> usize {
        self.total_tokens
    }

    /// Tokens of sequence `i`.
    pub fn sequence(&self, i: usize) -> &[i64] {
        &self.tokens[i * self.seq_len..(i + 1) * self.seq_len]
    }

    /// `(indices.len(), seq_len)` int64 tensor of the given sequences.
    pub fn batch(&self, indices: &[usize], device: tch::Device) -> Tensor {
        let mut flat = Vec::with_capacity(indices.len() * self.seq_len);
        for &i in indices {
            flat.extend_from_slice(self.sequence(i));
        }
        Tensor::from_slice(&flat)
            .view([indices.len() as i64, self.seq_len as i64])
            .to_device(device)
    }

    /// SHA-256 (hex) of the packed stream and the sequence length: identifies the training
    /// data in checkpoints, so a run cannot resume on other data.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        h.update((self.seq_len as u64).to_le_bytes());
        for t in &self.tokens {
            h.update(t.to_le_bytes());
        }
        hex(&h.finalize())
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_and_drops_remainder() {
        let p = PackedTokens::from_ids((0..10).collect(), 4, 1).unwrap();
        assert_eq!(p.num_sequences(), 2);
        assert_eq!(p.sequence(1), &[4, 5, 6, 7]);
        assert_eq!(p.total_tokens(), 10);
        assert!(PackedTokens::from_ids((0..3).collect(), 4, 1).is_err());
        assert!(PackedTokens::from_ids((0..3).collect(), 1, 1).is_err());
    }
}
