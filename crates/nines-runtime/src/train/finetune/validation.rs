//! Validation loss and perplexity of a model on packed token sequences.

use super::*;

/// Validation loss and perplexity of `lm` on at most `max_sequences` (evenly spaced; 0 =
/// all) sequences of `data`, `batch_size` at a time, without gradients.
pub fn evaluate(
    lm: &LanguageModel,
    data: &PackedTokens,
    max_sequences: usize,
    batch_size: usize,
) -> FinetuneResult<Evaluation> {
    let n = data.num_sequences();
    let take = if max_sequences == 0 {
        n
    } else {
        max_sequences.min(n)
    };
    let idx: Vec<usize> = (0..take).map(|i| i * n / take).collect();
    let _guard = tch::no_grad_guard();
    let model = lm.model();
    let device = lm.device();
    let t = data.seq_len() as i64;
    let mut nll = 0.0;
    let mut tokens = 0usize;
    for chunk in idx.chunks(batch_size.max(1)) {
        let ids = data.batch(chunk, device);
        let b = chunk.len() as i64;
        let positions = Tensor::arange(t - 1, (Kind::Int64, device))
            .unsqueeze(0)
            .expand([b, t - 1], true);
        let hidden =
            model.forward_hidden(&ids.narrow(1, 0, t - 1), &positions, None, None, false)?;
        let logits = model.logits(&hidden)?.to_kind(Kind::Float);
        let vocab = logits.size()[2];
        let loss = logits.view([-1, vocab]).cross_entropy_loss::<Tensor>(
            &ids.narrow(1, 1, t - 1).reshape([-1]),
            None,
            tch::Reduction::Sum,
            -100,
            0.0,
        );
        nll += loss.double_value(&[]);
        tokens += (b * (t - 1)) as usize;
    }
    let loss = nll / tokens.max(1) as f64;
    Ok(Evaluation {
        loss,
        perplexity: loss.exp(),
        tokens,
    })
}
