//! Learning-rate schedules, the one schedule of every trainer in Nines: linear warm-up, then
//! constant, linear or cosine decay.

/// Shape of the decay after warm-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleKind {
    /// Stay at the peak.
    Constant,
    /// Linear decay to `min_lr_ratio × peak` at `total_steps`.
    #[default]
    Linear,
    /// Half-cosine decay to `min_lr_ratio × peak` at `total_steps`.
    Cosine,
}

/// A learning-rate schedule over optimizer steps.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LrSchedule {
    /// Learning rate at the end of warm-up.
    pub peak_lr: f64,
    /// Steps of linear warm-up from 0.
    pub warmup_steps: usize,
    /// Total optimizer steps (decay ends here).
    pub total_steps: usize,
    /// Decay shape.
    pub kind: ScheduleKind,
    /// Final learning rate as a fraction of the peak.
    pub min_lr_ratio: f64,
}

impl LrSchedule {
    /// Learning rate for optimizer step `step` (0-based): `peak × (step + 1) / warmup` during
    /// warm-up, then the decay. Linear decay is computed from the steps left,
    /// `floor + (1 − floor) × (total − step) / (total − warmup)`, so that with no floor it is
    /// exactly `peak × (total − step) / (total − warmup)`.
    pub fn lr_at(&self, step: usize) -> f64 {
        if step < self.warmup_steps {
            return self.peak_lr * (step + 1) as f64 / self.warmup_steps as f64;
        }
        let span = self.total_steps.saturating_sub(self.warmup_steps).max(1) as f64;
        let progress = ((step - self.warmup_steps) as f64 / span).min(1.0);
        let left = self.total_steps.saturating_sub(step) as f64 / span;
        let floor = self.min_lr_ratio.clamp(0.0, 1.0);
        let factor = match self.kind {
            ScheduleKind::Constant => 1.0,
            ScheduleKind::Linear => floor + (1.0 - floor) * left,
            ScheduleKind::Cosine => {
                floor + (1.0 - floor) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
            }
        };
        self.peak_lr * factor
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_then_decay() {
        let s = LrSchedule {
            peak_lr: 1.0,
            warmup_steps: 4,
            total_steps: 14,
            kind: ScheduleKind::Linear,
            min_lr_ratio: 0.0,
        };
        assert_eq!(s.lr_at(0), 0.25);
        assert_eq!(s.lr_at(3), 1.0);
        assert_eq!(s.lr_at(4), 1.0);
        assert!((s.lr_at(9) - 0.5).abs() < 1e-12);
        assert_eq!(s.lr_at(14), 0.0);
        assert_eq!(s.lr_at(100), 0.0);
        let c = LrSchedule {
            kind: ScheduleKind::Cosine,
            min_lr_ratio: 0.1,
            ..s
        };
        assert!((c.lr_at(9) - 0.55).abs() < 1e-12);
        assert!((c.lr_at(14) - 0.1).abs() < 1e-12);
        let floored = LrSchedule {
            min_lr_ratio: 0.2,
            ..s
        };
        assert!((floored.lr_at(9) - 0.6).abs() < 1e-12);
        assert!((floored.lr_at(100) - 0.2).abs() < 1e-12);
    }

    /// Linear decay to zero is `peak × steps left / decay steps`, bit for bit (the classifier's
    /// training runs are pinned to it).
    #[test]
    fn linear_decay_is_the_share_of_steps_left() {
        let s = |warmup, total| LrSchedule {
            peak_lr: 3e-5,
            warmup_steps: warmup,
            total_steps: total,
            kind: ScheduleKind::Linear,
            min_lr_ratio: 0.0,
        };
        for (warmup, total) in [(10usize, 100usize), (0, 10), (7, 93), (1, 1)] {
            for step in 0..total + 3 {
                let expected = if step < warmup {
                    3e-5 * (step + 1) as f64 / warmup as f64
                } else {
                    let rest = total.saturating_sub(warmup).max(1);
                    3e-5 * (total.saturating_sub(step) as f64 / rest as f64)
                };
                assert_eq!(
                    s(warmup, total).lr_at(step),
                    expected,
                    "{warmup} {total} {step}"
                );
            }
        }
        assert_eq!(s(0, 10).lr_at(0), 3e-5);
    }
}
