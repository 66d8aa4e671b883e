//! The key/value cache of incremental decoding. The caller owns it and passes it to every
//! forward call, so one model can serve many independent generations.

use tch::Tensor;

/// Keys and values of every layer for the tokens seen so far.
///
/// Layer `i` holds `(keys, values)`, each `(batch, kv_heads, seq, head_dim)`. A cache made
/// [`with_capacity`](Self::with_capacity) writes new tokens into buffers allocated once
/// (growing them geometrically if they fill up) and hands out views of the filled part, instead
/// of copying the whole cache at every step.
#[derive(Debug, Default)]
pub struct KvCache {
    layers: Vec<Option<Layer>>,
    /// Tokens to allocate room for at the first append (0: grow by concatenation).
    capacity: i64,
}

#[derive(Debug)]
struct Layer {
    /// `(batch, kv_heads, room, head_dim)` buffers; the first `len` positions are filled.
    keys: Tensor,
    values: Tensor,
    len: i64,
}

impl Layer {
    fn filled(&self) -> (Tensor, Tensor) {
        if self.len == self.keys.size()[2] {
            (self.keys.shallow_clone(), self.values.shallow_clone())
        } else {
            (
                self.keys.narrow(2, 0, self.len),
                self.values.narrow(2, 0, self.len),
            )
        }
    }
}

/// A buffer like `x` with room for `room` positions along dim 2, holding `x` at the start.
fn with_room(x: &Tensor, room: i64) -> Tensor {
    let mut size = x.size();
    let len = size[2];
    size[2] = room;
    let buf = Tensor::empty(size.as_slice(), (x.kind(), x.device()));
    buf.narrow(2, 0, len).copy_(x);
    buf
}

impl KvCache {
    /// An empty cache for a model with `layers` layers.
    pub fn new(layers: usize) -> Self {
        KvCache {
            layers: (0..layers).map(|_| None).collect(),
            capacity: 0,
        }
    }

    /// An empty cache that allocates room for `tokens` positions per layer at the first append
    /// (e.g. prompt length plus new tokens), so that decoding appends without copying.
    pub fn with_capacity(layers: usize, tokens: usize) -> Self {
        KvCache {
            capacity: tokens as i64,
            ..Self::new(layers)
        }
    }

    /// Tokens cached so far (0 when empty).
    pub fn seq_len(&self) -> i64 {
        self.layers.iter().flatten().next().map_or(0, |l| l.len)
    }

    /// Appends this step's keys and values for `layer` and returns all keys and values so far.
    ///
    /// `k`, `v`: `(batch, kv_heads, new_tokens, head_dim)`.
    pub fn append(&mut self, layer: usize, k: Tensor, v: Tensor) -> (Tensor, Tensor) {
        if layer >= self.layers.len() {
            self.layers.resize_with(layer + 1, || None);
        }
        let t = k.size()[2];
        // Writing into a buffer in place would tie the buffer into the autograd graph.
        let grow_in_place = self.capacity > 0 && !(k.requires_grad() || v.requires_grad());
        let slot = &mut self.layers[layer];
        let next = match slot.take() {
            None if grow_in_place => Layer {
                keys: with_room(&k, self.capacity.max(t)),
                values: with_room(&v, self.capacity.max(t)),
                len: t,
            },
            None => Layer {
                keys: k,
                values: v,
                len: t,
            },
            Some(mut l) if grow_in_place => {
                let room = l.keys.size()[2];
                if l.len + t > room {
                    let (pk, pv) = l.filled();
                    let room = (l.len + t).max(room * 2);
                    l.keys = with_room(&pk, room);
                    l.values = with_room(&pv, room);
                }
                l.keys.narrow(2, l.len, t).copy_(&k);
                l.values.narrow(2, l.len, t).copy_(&v);
                l.len += t;
                l
            }
            Some(l) => {
                let (pk, pv) = l.filled();
                Layer {
                    keys: Tensor::cat(&[pk, k], 2),
                    values: Tensor::cat(&[pv, v], 2),
                    len: l.len + t,
                }
            }
        };
        let out = next.filled();
        *slot = Some(next);
        out
    }

    /// Keeps only the batch rows in `rows` (a 1-D `i64` index tensor), e.g. to drop finished
    /// sequences from a batch.
    pub fn select_rows(&mut self, rows: &Tensor) {
        for l in self.layers.iter_mut().flatten() {
            l.keys = l.keys.index_select(0, rows);
            l.values = l.values.index_select(0, rows);
        }
    }

    /// Repeats every batch row `n` times (row `i` becomes rows `i*n .. i*n+n`), e.g. to sample
    /// several completions from one encoded prompt.
    pub fn repeat_rows(&mut self, n: i64) {
        for l in self.layers.iter_mut().flatten() {
            l.keys = l.keys.repeat_interleave_self_int(n, 0, None);
            l.values = l.values.repeat_interleave_self_int(n, 0, None);
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

    #[test]
    fn preallocated_cache_matches_concatenation() {
        let opts = (tch::Kind::Float, tch::Device::Cpu);
        let mut grown = KvCache::with_capacity(1, 3);
        let mut plain = KvCache::new(1);
        let steps = [
            Tensor::randn([2, 1, 2, 4], opts),
            Tensor::randn([2, 1, 1, 4], opts),
            Tensor::randn([2, 1, 1, 4], opts),
            Tensor::randn([2, 1, 3, 4], opts),
        ];
        for (i, x) in steps.iter().enumerate() {
            if i == 2 {
                let rows = Tensor::from_slice(&[1i64, 1, 0]);
                grown.select_rows(&rows);
                plain.select_rows(&rows);
            }
            let x = if i >= 2 {
                x.repeat([2, 1, 1, 1]).narrow(0, 0, 3)
            } else {
                x.shallow_clone()
            };
            let (gk, gv) = grown.append(0, x.shallow_clone(), &x * 2.0);
            let (pk, pv) = plain.append(0, x.shallow_clone(), &x * 2.0);
            assert_eq!(gk.size(), pk.size());
            assert!(gk.equal(&pk) && gv.equal(&pv));
            assert_eq!(grown.seq_len(), plain.seq_len());
        }
        assert_eq!(grown.seq_len(), 7);
    }
}
