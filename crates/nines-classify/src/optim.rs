//! AdamW with decoupled weight decay over named tensors, whose state (first and second
//! moments, step count) saves and loads by name for exact resume; the learning-rate schedule
//! (linear warm-up, then linear decay to zero); global-norm gradient clipping.

use std::collections::HashMap;
use std::path::Path;

use nines_runtime::train::{AdamWConfig, adamw_update};
use tch::Tensor;

use crate::error::{ClassifyError, Result};

/// One parameter under optimization.
struct Param {
    name: String,
    var: Tensor,
    m: Tensor,
    v: Tensor,
    decay: bool,
    lr_scale: f64,
}

/// AdamW (Loshchilov & Hutter): `p ← p − lr·(m̂ / (√v̂ + ε) + λ·p)`.
pub(crate) struct AdamW {
    params: Vec<Param>,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    /// Optimizer steps taken.
    pub(crate) step: u64,
}

/// Biases and normalization weights take no weight decay.
fn decays(name: &str) -> bool {
    !(name.ends_with(".bias")
        || name.contains("LayerNorm")
        || name.contains("layer_norm")
        || name.contains("norm."))
}

impl AdamW {
    /// `params`: `(name, variable, learning-rate multiplier)`.
    pub(crate) fn new(
        params: Vec<(String, Tensor, f64)>,
        beta1: f64,
        beta2: f64,
        eps: f64,
        weight_decay: f64,
    ) -> Self {
        let params = params
            .into_iter()
            .map(|(name, var, lr_scale)| Param {
                decay: decays(&name),
                m: var.zeros_like(),
                v: var.zeros_like(),
                name,
                var,
                lr_scale,
            })
            .collect();
        AdamW {
            params,
            beta1,
            beta2,
            eps,
            weight_decay,
            step: 0,
        }
    }

    /// Sets all gradients to zero.
    pub(crate) fn zero_grad(&mut self) {
        for p in &mut self.params {
            let mut g = p.var.grad();
            if g.defined() {
                let _ = g.detach_().zero_();
            }
        }
    }

    /// Global L2 norm of the gradients.
    pub(crate) fn grad_norm(&self) -> f64 {
        let _guard = tch::no_grad_guard();
        let mut total = 0f64;
        for p in &self.params {
            let g = p.var.grad();
            if g.defined() {
                total += g.norm().double_value(&[]).powi(2);
            }
        }
        total.sqrt()
    }

    /// Scales gradients so their global norm is at most `max_norm`, given the current `norm`.
    pub(crate) fn clip(&mut self, norm: f64, max_norm: f64) {
        if norm > max_norm && norm.is_finite() {
            let _guard = tch::no_grad_guard();
            let scale = max_norm / (norm + 1e-6);
            for p in &self.params {
                let mut g = p.var.grad();
                if g.defined() {
                    let _ = g.g_mul_scalar_(scale);
                }
            }
        }
    }

    /// One update at learning rate `lr`.
    pub(crate) fn step(&mut self, lr: f64) {
        self.step += 1;
        let cfg = AdamWConfig {
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            weight_decay: self.weight_decay,
        };
        for p in &mut self.params {
            let g = p.var.grad();
            if !g.defined() {
                continue;
            }
            adamw_update(
                &mut p.var,
                (&mut p.m, &mut p.v),
                &g,
                p.decay,
                lr * p.lr_scale,
                self.step as i64,
                &cfg,
            );
        }
    }

    /// The moments by name (`m.<param>`, `v.<param>`).
    pub(crate) fn state(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::with_capacity(2 * self.params.len());
        for p in &self.params {
            out.push((format!("m.{}", p.name), p.m.shallow_clone()));
            out.push((format!("v.{}", p.name), p.v.shallow_clone()));
        }
        out
    }

    /// Restores moments saved by [`state`](Self::state); `path` names the file in errors.
    pub(crate) fn load_state(
        &mut self,
        values: &HashMap<String, Tensor>,
        step: u64,
        path: &Path,
    ) -> Result<()> {
        let _guard = tch::no_grad_guard();
        for p in &mut self.params {
            for (prefix, dst) in [("m", &mut p.m), ("v", &mut p.v)] {
                let name = format!("{prefix}.{}", p.name);
                let src = values.get(&name).ok_or_else(|| ClassifyError::Checkpoint {
                    path: path.to_path_buf(),
                    tensor: name.clone(),
                    message: "missing".into(),
                })?;
                if src.size() != dst.size() {
                    return Err(ClassifyError::Checkpoint {
                        path: path.to_path_buf(),
                        tensor: name,
                        message: format!("shape {:?}, the model has {:?}", src.size(), dst.size()),
                    });
                }
                dst.f_copy_(&src.to_device(dst.device()).to_kind(dst.kind()))?;
            }
        }
        self.step = step;
        Ok(())
    }
}

/// Learning rate at optimizer step `step` (0-based) of `total`: linear warm-up over
/// `warmup` steps from `peak / warmup` to `peak`, then linear decay to 0 at `total`.
pub(crate) fn schedule(step: u64, total: u64, warmup: u64, peak: f64) -> f64 {
    if step < warmup {
        return peak * (step + 1) as f64 / warmup as f64;
    }
    let rest = total.saturating_sub(warmup).max(1);
    peak * (total.saturating_sub(step) as f64 / rest as f64).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_warms_up_then_decays() {
        assert!((schedule(0, 100, 10, 1.0) - 0.1).abs() < 1e-12);
        assert!((schedule(9, 100, 10, 1.0) - 1.0).abs() < 1e-12);
        assert!((schedule(10, 100, 10, 1.0) - 1.0).abs() < 1e-12);
        assert!((schedule(55, 100, 10, 1.0) - 0.5).abs() < 1e-12);
        assert!(schedule(99, 100, 10, 1.0) > 0.0);
        assert_eq!(schedule(0, 10, 0, 2.0), 2.0);
    }

    #[test]
    fn adamw_matches_the_closed_form_first_step() {
        // After one step from zero moments, Adam moves each coordinate by lr·sign(g) (up to ε).
        let x = Tensor::from_slice(&[1.0f32, -2.0, 3.0]).set_requires_grad(true);
        let mut opt = AdamW::new(
            vec![("x".into(), x.shallow_clone(), 1.0)],
            0.9,
            0.999,
            1e-8,
            0.0,
        );
        let loss = (&x * Tensor::from_slice(&[1.0f32, -1.0, 0.5])).sum(tch::Kind::Float);
        loss.backward();
        opt.step(0.1);
        let v: Vec<f32> = Vec::try_from(&x.detach()).unwrap();
        for (a, b) in v.iter().zip([0.9f32, -1.9, 2.9]) {
            assert!((a - b).abs() < 1e-5, "{v:?}");
        }
    }

    #[test]
    fn clipping_bounds_the_global_norm() {
        let x = Tensor::from_slice(&[0.0f32, 0.0]).set_requires_grad(true);
        let mut opt = AdamW::new(
            vec![("x".into(), x.shallow_clone(), 1.0)],
            0.9,
            0.999,
            1e-8,
            0.0,
        );
        (&x * Tensor::from_slice(&[3.0f32, 4.0]))
            .sum(tch::Kind::Float)
            .backward();
        let n = opt.grad_norm();
        assert!((n - 5.0).abs() < 1e-6);
        opt.clip(n, 1.0);
        assert!((opt.grad_norm() - 1.0).abs() < 1e-4);
    }
}
