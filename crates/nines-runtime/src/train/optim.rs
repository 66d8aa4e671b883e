//! AdamW (decoupled weight decay), the one optimizer of every trainer in Nines: over the
//! trainable variables of a [`VarStore`] ([`AdamW::new`]) or over named tensors with their own
//! weight-decay flag and learning-rate multiplier ([`AdamW::with_params`]), with state that
//! saves to and restores from a safetensors file exactly, so a resumed run continues bit for
//! bit.

use std::path::Path;

use tch::nn::VarStore;
use tch::{Kind, Tensor};

use crate::checkpoint::{Expect, load_into};
use crate::error::{Result, RuntimeError};

/// AdamW hyperparameters (the learning rate comes per step, from a schedule).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdamWConfig {
    /// First-moment decay. Default 0.9.
    pub beta1: f64,
    /// Second-moment decay. Default 0.999.
    pub beta2: f64,
    /// Denominator epsilon. Default 1e-8.
    pub eps: f64,
    /// Decoupled weight decay, applied to matrices only (not to biases, norms or other 1-D
    /// parameters). Default 0.01.
    pub weight_decay: f64,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
        }
    }
}

/// One AdamW update of a parameter `value` from its f32 gradient `g` and moments `(m, v)`,
/// at learning rate `lr` and 1-based `step` (for the bias corrections), with decoupled
/// weight decay when `decay`. Everything happens in place with one temporary (the
/// denominator): the moments of a large embedding are tens of MB, and every temporary is a
/// fresh allocation. With `lr = 0` only the moments move.
fn adamw_update(
    value: &mut Tensor,
    (m, v): (&mut Tensor, &mut Tensor),
    g: &Tensor,
    decay: bool,
    lr: f64,
    step: i64,
    cfg: &AdamWConfig,
) {
    let _guard = tch::no_grad_guard();
    let (b1, b2) = (cfg.beta1, cfg.beta2);
    if decay && cfg.weight_decay > 0.0 {
        let _ = value.g_mul_scalar_(1.0 - lr * cfg.weight_decay);
    }
    // m ← β₁ m + (1 − β₁) g; v ← β₂ v + (1 − β₂) g².
    let _ = m.lerp_(g, 1.0 - b1);
    let _ = v
        .g_mul_scalar_(b2 / (1.0 - b2))
        .addcmul_(g, g)
        .g_mul_scalar_(1.0 - b2);
    if lr == 0.0 {
        return;
    }
    // θ ← θ − lr · (m / bias₁) / (√v / √bias₂ + ε), as θ + m / (denom · (−bias₁ / lr)).
    let bias1 = 1.0 - b1.powi(step as i32);
    let bias2 = 1.0 - b2.powi(step as i32);
    let mut denom = v.sqrt();
    let _ = denom
        .g_div_scalar_(bias2.sqrt())
        .g_add_scalar_(cfg.eps)
        .g_mul_scalar_(-bias1 / lr);
    if value.kind() == Kind::Float {
        let _ = value.addcdiv_(m, &denom);
    } else {
        let _ = value.g_add_(&(&*m / &denom).to_kind(value.kind()));
    }
}

/// One tensor for [`AdamW::with_params`] to update.
#[derive(Debug)]
pub struct OptParam {
    /// Its name, under which its moments are saved (`m.<name>`, `v.<name>`).
    pub name: String,
    /// The variable (a shallow clone of it).
    pub value: Tensor,
    /// Whether decoupled weight decay applies to it.
    pub decay: bool,
    /// Multiplier of the step's learning rate for this tensor (1 for most).
    pub lr_scale: f64,
}

struct Param {
    name: String,
    value: Tensor,
    m: Tensor,
    v: Tensor,
    decay: bool,
    lr_scale: f64,
}

/// AdamW over the variables of a store that require gradients at construction time
/// (freeze first, then build the optimizer), or over a given list of tensors.
pub struct AdamW {
    cfg: AdamWConfig,
    params: Vec<Param>,
    step: i64,
}

impl std::fmt::Debug for AdamW {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdamW")
            .field("cfg", &self.cfg)
            .field("params", &self.params.len())
            .field("step", &self.step)
            .finish()
    }
}

impl AdamW {
    /// An optimizer over the store's variables that require gradients, in name order.
    /// Weight decay applies to matrices other than embeddings (`embed`, `wte`, `wpe`).
    pub fn new(vs: &VarStore, cfg: AdamWConfig) -> Self {
        let mut vars: Vec<(String, Tensor)> = vs
            .variables()
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let params = vars
            .into_iter()
            .map(|(name, value)| OptParam {
                decay: value.dim() >= 2
                    && !name.contains("embed")
                    && !name.contains("wte")
                    && !name.contains("wpe"),
                name,
                value,
                lr_scale: 1.0,
            })
            .collect();
        Self::with_params(params, cfg)
    }

    /// An optimizer over the given tensors, in the given order; each says whether weight
    /// decay applies and scales the learning rate (a classifier's fresh head can learn faster
    /// than its pretrained backbone). Names must be unique: they key the saved state.
    pub fn with_params(params: Vec<OptParam>, cfg: AdamWConfig) -> Self {
        let params = params
            .into_iter()
            .map(|p| Param {
                m: p.value.zeros_like().to_kind(Kind::Float),
                v: p.value.zeros_like().to_kind(Kind::Float),
                name: p.name,
                value: p.value,
                decay: p.decay,
                lr_scale: p.lr_scale,
            })
            .collect();
        AdamW {
            cfg,
            params,
            step: 0,
        }
    }

    /// Optimizer steps taken so far.
    pub fn steps_taken(&self) -> i64 {
        self.step
    }

    /// Number of parameters (elements) the optimizer updates.
    pub fn num_parameters(&self) -> i64 {
        self.params.iter().map(|p| p.value.numel() as i64).sum()
    }

    /// Clears the gradients.
    pub fn zero_grad(&mut self) {
        for p in &mut self.params {
            let mut g = p.value.grad();
            if g.defined() {
                let _ = g.detach_().zero_();
            }
        }
    }

    /// Global L2 norm of all gradients.
    pub fn grad_norm(&self) -> f64 {
        let _guard = tch::no_grad_guard();
        let sq: f64 = self
            .params
            .iter()
            .map(|p| p.value.grad())
            .filter(Tensor::defined)
            .map(|g| g.norm().double_value(&[]).powi(2))
            .sum();
        sq.sqrt()
    }

    /// Scales gradients so their global norm is at most `max_norm`; returns the norm before
    /// clipping (log it: its max against its mean tells whether clipping bites).
    pub fn clip_grad_norm(&mut self, max_norm: f64) -> f64 {
        let norm = self.grad_norm();
        self.clip_to(norm, max_norm);
        norm
    }

    /// [`clip_grad_norm`](Self::clip_grad_norm) for a caller that already has the global norm
    /// ([`grad_norm`](Self::grad_norm)), say to check it before clipping: the gradients are
    /// scaled by `max_norm / (norm + 1e-6)` when `norm` exceeds `max_norm`.
    pub fn clip_to(&mut self, norm: f64, max_norm: f64) {
        if norm.is_finite() && norm > max_norm && max_norm > 0.0 {
            let _guard = tch::no_grad_guard();
            let scale = max_norm / (norm + 1e-6);
            for p in &mut self.params {
                let mut g = p.value.grad();
                if g.defined() {
                    let _ = g.g_mul_scalar_(scale);
                }
            }
        }
    }

    /// One AdamW update with learning rate `lr`. Parameters without a gradient are skipped.
    pub fn step(&mut self, lr: f64) {
        self.step += 1;
        for p in &mut self.params {
            let g = p.value.grad();
            if !g.defined() {
                continue;
            }
            adamw_update(
                &mut p.value,
                (&mut p.m, &mut p.v),
                &g.to_kind(Kind::Float),
                p.decay,
                lr * p.lr_scale,
                self.step,
                &self.cfg,
            );
        }
    }

    /// The state as named tensors: the step count `__step__` and the moments `m.<name>`,
    /// `v.<name>` (what a checkpoint's optimizer file holds; see
    /// [`CheckpointFiles`](super::CheckpointFiles)).
    pub fn state_tensors(&self) -> Vec<(String, Tensor)> {
        let mut named: Vec<(String, Tensor)> = Vec::with_capacity(2 * self.params.len() + 1);
        named.push(("__step__".into(), Tensor::from_slice(&[self.step])));
        for p in &self.params {
            named.push((format!("m.{}", p.name), p.m.shallow_clone()));
            named.push((format!("v.{}", p.name), p.v.shallow_clone()));
        }
        named
    }

    /// Writes [`state_tensors`](Self::state_tensors) to a safetensors file.
    pub fn save(&self, path: &Path) -> Result<()> {
        Tensor::write_safetensors(&self.state_tensors(), path).map_err(RuntimeError::from)
    }

    /// Restores state written by [`save`](Self::save) for the same parameters (through the
    /// one checked loader, [`load_into`]).
    ///
    /// # Errors
    /// [`RuntimeError::MissingTensor`] or [`RuntimeError::ShapeMismatch`] when the file was
    /// written for other parameters; [`RuntimeError::Corrupt`] for a truncated file.
    pub fn load(&mut self, path: &Path) -> Result<()> {
        let step = Tensor::from_slice(&[0i64]);
        let mut targets: Vec<(String, Tensor)> = Vec::with_capacity(2 * self.params.len() + 1);
        targets.push(("__step__".into(), step.shallow_clone()));
        for p in &self.params {
            targets.push((format!("m.{}", p.name), p.m.shallow_clone()));
            targets.push((format!("v.{}", p.name), p.v.shallow_clone()));
        }
        load_into(&targets, path, Expect::AllVariables)?;
        self.step = step.int64_value(&[0]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, nn};

    fn quadratic(seed: i64) -> (VarStore, Tensor) {
        tch::manual_seed(seed);
        let vs = VarStore::new(Device::Cpu);
        let w = vs.root().var(
            "w",
            &[4, 3],
            nn::Init::Randn {
                mean: 0.0,
                stdev: 1.0,
            },
        );
        (vs, w)
    }

    fn train(opt: &mut AdamW, w: &Tensor, steps: usize) {
        for _ in 0..steps {
            opt.zero_grad();
            ((w - 2.0).square().sum(Kind::Float)).backward();
            opt.clip_grad_norm(5.0);
            opt.step(0.05);
        }
    }

    #[test]
    fn converges_and_resumes_exactly() {
        let (vs, w) = quadratic(1);
        let mut opt = AdamW::new(
            &vs,
            AdamWConfig {
                weight_decay: 0.0,
                ..Default::default()
            },
        );
        train(&mut opt, &w, 300);
        assert!((&w - 2.0).abs().max().double_value(&[]) < 0.05);

        // 10 steps straight vs 5 steps, save, restore into a fresh optimizer, 5 more.
        let (vs_a, wa) = quadratic(2);
        let mut a = AdamW::new(&vs_a, AdamWConfig::default());
        train(&mut a, &wa, 10);
        let (vs_b, wb) = quadratic(2);
        let mut b = AdamW::new(&vs_b, AdamWConfig::default());
        train(&mut b, &wb, 5);
        let dir = tempfile::tempdir().unwrap();
        b.save(&dir.path().join("opt.safetensors")).unwrap();
        let mut c = AdamW::new(&vs_b, AdamWConfig::default());
        c.load(&dir.path().join("opt.safetensors")).unwrap();
        assert_eq!(c.steps_taken(), 5);
        train(&mut c, &wb, 5);
        assert_eq!(
            Vec::<f32>::try_from(wa.flatten(0, -1)).unwrap(),
            Vec::<f32>::try_from(wb.flatten(0, -1)).unwrap()
        );
    }

    #[test]
    fn matches_the_closed_form_first_step() {
        // After one step from zero moments, Adam moves each coordinate by lr·sign(g) (up to
        // ε); a learning-rate multiplier of 2 doubles the move.
        for (scale, moved) in [(1.0, [0.9f32, -1.9, 2.9]), (2.0, [0.8, -1.8, 2.8])] {
            let x = Tensor::from_slice(&[1.0f32, -2.0, 3.0]).set_requires_grad(true);
            let mut opt = AdamW::with_params(
                vec![OptParam {
                    name: "x".into(),
                    value: x.shallow_clone(),
                    decay: true,
                    lr_scale: scale,
                }],
                AdamWConfig {
                    weight_decay: 0.0,
                    ..Default::default()
                },
            );
            let loss = (&x * Tensor::from_slice(&[1.0f32, -1.0, 0.5])).sum(Kind::Float);
            loss.backward();
            opt.step(0.1);
            let v: Vec<f32> = Vec::try_from(&x.detach()).unwrap();
            for (a, b) in v.iter().zip(moved) {
                assert!((a - b).abs() < 1e-5, "{v:?}");
            }
        }
    }

    #[test]
    fn weight_decay_follows_each_parameter_flag() {
        // With a zero gradient only the decay moves a parameter: θ ← θ(1 − lr·λ).
        let a = Tensor::from_slice(&[1.0f32]).set_requires_grad(true);
        let b = Tensor::from_slice(&[1.0f32]).set_requires_grad(true);
        let param = |name: &str, value: &Tensor, decay| OptParam {
            name: name.into(),
            value: value.shallow_clone(),
            decay,
            lr_scale: 1.0,
        };
        let mut opt = AdamW::with_params(
            vec![param("a", &a, true), param("b", &b, false)],
            AdamWConfig {
                weight_decay: 0.5,
                ..Default::default()
            },
        );
        ((&a + &b) * 0.0).sum(Kind::Float).backward();
        opt.step(0.1);
        assert!((a.double_value(&[0]) - 0.95).abs() < 1e-6);
        assert_eq!(b.double_value(&[0]), 1.0);
    }

    #[test]
    fn clipping_reports_the_pre_clip_norm() {
        let vs = VarStore::new(Device::Cpu);
        let w = vs.root().var("w", &[2], nn::Init::Const(0.0));
        let mut opt = AdamW::new(&vs, AdamWConfig::default());
        opt.zero_grad();
        ((&w * Tensor::from_slice(&[3.0f32, 4.0])).sum(Kind::Float)).backward();
        assert!((opt.clip_grad_norm(1.0) - 5.0).abs() < 1e-6);
        assert!((opt.grad_norm() - 1.0).abs() < 1e-5);
    }

    #[test]
    fn loading_state_for_other_parameters_fails() {
        let (vs, _) = quadratic(3);
        let opt = AdamW::new(&vs, AdamWConfig::default());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("opt.safetensors");
        opt.save(&path).unwrap();
        let other = VarStore::new(Device::Cpu);
        let _ = other.root().var("w", &[2, 2], nn::Init::Const(0.0));
        let mut o = AdamW::new(&other, AdamWConfig::default());
        assert!(matches!(
            o.load(&path),
            Err(RuntimeError::ShapeMismatch { .. })
        ));
    }
}
