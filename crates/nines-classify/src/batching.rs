//! The order of examples in one epoch: oversampled positives, a seeded shuffle, and
//! length-bucketed batches (each batch holds examples of similar length, so dynamic padding
//! wastes little), themselves shuffled.
//!
//! Everything is a function of `(seed, epoch)`, so a resumed run sees exactly the batches the
//! interrupted one would have.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::example::Example;

/// Batches (lists of indices into `examples`) for `epoch`.
///
/// Each positive appears `⌊oversample⌋` times plus once more for a seeded random subset of
/// `round(frac(oversample) · positives)` of them. Examples are shuffled, cut into windows of
/// `bucket_batches · batch_size`, sorted by length inside each window, cut into batches, and
/// the batches shuffled.
pub fn epoch_batches(
    examples: &[Example],
    batch_size: usize,
    bucket_batches: usize,
    oversample: f64,
    seed: u64,
    epoch: usize,
) -> Vec<Vec<usize>> {
    let mut rng =
        ChaCha8Rng::seed_from_u64(seed ^ (epoch as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let batch_size = batch_size.max(1);
    let whole = oversample.floor().max(1.0) as usize;
    let mut order: Vec<usize> = Vec::with_capacity(examples.len());
    let mut positives = Vec::new();
    for (i, e) in examples.iter().enumerate() {
        if e.label {
            positives.push(i);
            order.extend(std::iter::repeat_n(i, whole));
        } else {
            order.push(i);
        }
    }
    let extra = ((oversample - oversample.floor()) * positives.len() as f64).round() as usize;
    if extra > 0 {
        positives.shuffle(&mut rng);
        order.extend(positives.iter().take(extra));
    }
    order.shuffle(&mut rng);
    let window = (bucket_batches.max(1) * batch_size).max(1);
    let mut batches = Vec::with_capacity(order.len().div_ceil(batch_size));
    for w in order.chunks_mut(window) {
        if bucket_batches > 1 {
            w.sort_by_key(|&i| examples[i].prompt.len() + examples[i].completion.len());
        }
        batches.extend(w.chunks(batch_size).map(<[usize]>::to_vec));
    }
    batches.shuffle(&mut rng);
    batches
}

/// Examples per epoch after oversampling (the same for every epoch).
pub fn epoch_len(examples: &[Example], oversample: f64) -> usize {
    let pos = examples.iter().filter(|e| e.label).count();
    let whole = oversample.floor().max(1.0) as usize;
    let extra = ((oversample - oversample.floor()) * pos as f64).round() as usize;
    examples.len() - pos + pos * whole + extra
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize) -> Vec<Example> {
        (0..n)
            .map(|i| Example::new("p".repeat(i % 17 + 1), "c".repeat(i % 5), i % 4 == 0))
            .collect()
    }

    #[test]
    fn batches_cover_the_epoch_and_are_reproducible() {
        let d = data(103);
        let a = epoch_batches(&d, 8, 4, 2.5, 7, 0);
        let b = epoch_batches(&d, 8, 4, 2.5, 7, 0);
        let c = epoch_batches(&d, 8, 4, 2.5, 7, 1);
        assert_eq!(a, b);
        assert_ne!(a, c);
        let n: usize = a.iter().map(Vec::len).sum();
        assert_eq!(n, epoch_len(&d, 2.5));
        let pos = a.iter().flatten().filter(|&&i| d[i].label).count();
        assert_eq!(pos, 26 * 2 + 13);
        assert!(a.iter().all(|b| !b.is_empty() && b.len() <= 8));
    }

    #[test]
    fn bucketing_reduces_padding() {
        let d = data(400);
        let pad = |bs: &Vec<Vec<usize>>| -> usize {
            bs.iter()
                .map(|b| {
                    let l: Vec<usize> = b
                        .iter()
                        .map(|&i| d[i].prompt.len() + d[i].completion.len())
                        .collect();
                    l.iter().map(|x| l.iter().max().unwrap() - x).sum::<usize>()
                })
                .sum()
        };
        let bucketed = epoch_batches(&d, 16, 10, 1.0, 3, 0);
        let plain = epoch_batches(&d, 16, 1, 1.0, 3, 0);
        assert!(
            pad(&bucketed) * 3 < pad(&plain),
            "{} vs {}",
            pad(&bucketed),
            pad(&plain)
        );
    }
}
