//! The key/value cache of incremental decoding. The caller owns it and passes it to every
//! forward call, so one model can serve many independent generations.

use tch::Tensor;

/// Keys and values of every layer for the tokens seen so far.
///
/// Layer `i` holds `(keys, values)`, each `(batch, kv_heads, seq, head_dim)`.
#[derive(Debug, Default)]
pub struct KvCache {
    layers: Vec<Option<(Tensor, Tensor)>>,
}

impl KvCache {
    /// An empty cache for a model with `layers` layers.
    pub fn new(layers: usize) -> Self {
        KvCache {
            layers: (0..layers).map(|_| None).collect(),
        }
    }

    /// Tokens cached so far (0 when empty).
    pub fn seq_len(&self) -> i64 {
        self.layers
            .iter()
            .flatten()
            .next()
            .map_or(0, |(k, _)| k.size()[2])
    }

    /// Appends this step's keys and values for `layer` and returns all keys and values so far.
    ///
    /// `k`, `v`: `(batch, kv_heads, new_tokens, head_dim)`.
    pub fn append(&mut self, layer: usize, k: Tensor, v: Tensor) -> (Tensor, Tensor) {
        if layer >= self.layers.len() {
            self.layers.resize_with(layer + 1, || None);
        }
        let slot = &mut self.layers[layer];
        let (k, v) = match slot.take() {
            None => (k, v),
            Some((pk, pv)) => (Tensor::cat(&[pk, k], 2), Tensor::cat(&[pv, v], 2)),
        };
        *slot = Some((k.shallow_clone(), v.shallow_clone()));
        (k, v)
    }

    /// Keeps only the batch rows in `rows` (a 1-D `i64` index tensor), e.g. to drop finished
    /// sequences from a batch.
    pub fn select_rows(&mut self, rows: &Tensor) {
        for (k, v) in self.layers.iter_mut().flatten() {
            *k = k.index_select(0, rows);
            *v = v.index_select(0, rows);
        }
    }

    /// Repeats every batch row `n` times (row `i` becomes rows `i*n .. i*n+n`), e.g. to sample
    /// several completions from one encoded prompt.
    pub fn repeat_rows(&mut self, n: i64) {
        for (k, v) in self.layers.iter_mut().flatten() {
            *k = k.repeat_interleave_self_int(n, 0, None);
            *v = v.repeat_interleave_self_int(n, 0, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_selects_and_repeats() {
        let mut cache = KvCache::new(2);
        assert_eq!(cache.seq_len(), 0);
        let t = |n: i64| Tensor::ones([2, 1, n, 4], (tch::Kind::Float, tch::Device::Cpu));
        let (k, _) = cache.append(0, t(3), t(3));
        assert_eq!(k.size(), vec![2, 1, 3, 4]);
        let (k, v) = cache.append(0, t(1), t(1) * 2.0);
        assert_eq!(k.size(), vec![2, 1, 4, 4]);
        assert_eq!(v.double_value(&[0, 0, 3, 0]), 2.0);
        assert_eq!(cache.seq_len(), 4);
        cache.select_rows(&Tensor::from_slice(&[1i64]));
        cache.repeat_rows(3);
        let (k, _) = cache.append(
            0,
            Tensor::zeros([3, 1, 1, 4], (tch::Kind::Float, tch::Device::Cpu)),
            t(1).narrow(0, 0, 1).repeat([3, 1, 1, 1]),
        );
        assert_eq!(k.size(), vec![3, 1, 5, 4]);
    }
}
