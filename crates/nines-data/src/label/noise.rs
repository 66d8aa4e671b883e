//! [`NoisyLabeler`]: another labeler's verdicts, flipped at set rates.
//!
//! Used to study how accurate labelers must be: wrap the oracle, flip `injury` ↔
//! `no_injury` with probability `p` (or with separate rates per true class), and see how
//! classifiers and estimates degrade. `unsure` is never flipped.
//!
//! Flips are deterministic: the coin for a snippet is drawn from a generator seeded by the
//! wrapper's seed and the snippet id, so the same snippet gets the same noisy verdict in any
//! order and on any run.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};
use crate::label::{Decision, Labeler, Progress};
use crate::record::{Snippet, Verdict, hash64};

/// Flip rates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Noise {
    /// Flip either verdict with probability `p`.
    Symmetric(f64),
    /// Per-class rates.
    PerClass {
        /// Probability that a true `injury` is reported as `no_injury` (missed injuries).
        injury_to_no_injury: f64,
        /// Probability that a true `no_injury` is reported as `injury` (false alarms).
        no_injury_to_injury: f64,
    },
}

impl Noise {
    /// Rates in [0, 1].
    pub fn validate(&self) -> Result<()> {
        let rates = match *self {
            Noise::Symmetric(p) => vec![("Noise::Symmetric.p", p)],
            Noise::PerClass {
                injury_to_no_injury,
                no_injury_to_injury,
            } => vec![
                ("Noise::PerClass.injury_to_no_injury", injury_to_no_injury),
                ("Noise::PerClass.no_injury_to_injury", no_injury_to_injury),
            ],
        };
        for (field, p) in rates {
            if !(0.0..=1.0).contains(&p) {
                return Err(Error::config(field, format!("{p} is not a probability")));
            }
        }
        Ok(())
    }

    fn rate(&self, v: Verdict) -> f64 {
        match (*self, v) {
            (_, Verdict::Unsure) => 0.0,
            (Noise::Symmetric(p), _) => p,
            (
                Noise::PerClass {
                    injury_to_no_injury,
                    ..
                },
                Verdict::Injury,
            ) => injury_to_no_injury,
            (
                Noise::PerClass {
                    no_injury_to_injury,
                    ..
                },
                Verdict::NoInjury,
            ) => no_injury_to_injury,
        }
    }
}

/// Wraps a labeler and flips its verdicts (see the module docs).
#[derive(Debug, Clone)]
pub struct NoisyLabeler<L> {
    inner: L,
    noise: Noise,
    seed: u64,
    name: String,
}

impl<L: Labeler> NoisyLabeler<L> {
    /// Wraps `inner`. Its name becomes `noisy(INNER,p=P)` or `noisy(INNER,fn=A,fp=B)`.
    ///
    /// ```
    /// use nines_data::label::noise::{Noise, NoisyLabeler};
    /// use nines_data::label::oracle::OracleLabeler;
    /// use nines_data::label::Labeler;
    /// let noisy = NoisyLabeler::new(OracleLabeler::new(), Noise::Symmetric(0.1), 7).unwrap();
    /// assert_eq!(noisy.name(), "noisy(oracle,p=0.1)");
    /// ```
    pub fn new(inner: L, noise: Noise, seed: u64) -> Result<Self> {
        noise.validate()?;
        let name = match noise {
            Noise::Symmetric(p) => format!("noisy({},p={p})", inner.name()),
            Noise::PerClass {
                injury_to_no_injury,
                no_injury_to_injury,
            } => format!(
                "noisy({},fn={injury_to_no_injury},fp={no_injury_to_injury})",
                inner.name()
            ),
        };
        Ok(NoisyLabeler {
            inner,
            noise,
            seed,
            name,
        })
    }

    /// The noisy verdict for a snippet id, given the true verdict.
    pub fn flip(&self, id: &str, verdict: Verdict) -> Verdict {
        let mut rng = ChaCha8Rng::seed_from_u64(hash64(&[
            b"nines-noise",
            &self.seed.to_le_bytes(),
            id.as_bytes(),
        ]));
        let u: f64 = rng.random();
        if u < self.noise.rate(verdict) {
            match verdict {
                Verdict::Injury => Verdict::NoInjury,
                Verdict::NoInjury => Verdict::Injury,
                Verdict::Unsure => Verdict::Unsure,
            }
        } else {
            verdict
        }
    }
}

impl<L: Labeler> Labeler for NoisyLabeler<L> {
    fn name(&self) -> &str {
        &self.name
    }

    fn decide(&mut self, snippet: &Snippet, progress: Progress) -> Result<Decision> {
        Ok(match self.inner.decide(snippet, progress)? {
            Decision::Label(mut label) => {
                let noisy = self.flip(&snippet.id, label.verdict);
                if noisy != label.verdict {
                    label.note = format!("{} flipped_from={}", label.note, label.verdict)
                        .trim()
                        .to_string();
                    label.verdict = noisy;
                }
                label.labeler = self.name.clone();
                Decision::Label(label)
            }
            other => other,
        })
    }

    fn is_interactive(&self) -> bool {
        self.inner.is_interactive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::label::oracle::OracleLabeler;
    use crate::record::Label;

    struct Always(Verdict);
    impl Labeler for Always {
        fn name(&self) -> &str {
            "always"
        }
        fn decide(&mut self, _: &Snippet, _: Progress) -> Result<Decision> {
            Ok(Decision::Label(Label::now("always", self.0, "")))
        }
    }

    fn flip_rate(noise: Noise, truth: Verdict) -> f64 {
        let mut l = NoisyLabeler::new(Always(truth), noise, 3).unwrap();
        let n = 4000;
        let flipped = (0..n)
            .filter(|i| {
                let s = Snippet::new(format!("p{i}"), "c", None, None, None);
                match l.decide(&s, Progress::default()).unwrap() {
                    Decision::Label(x) => x.verdict != truth,
                    _ => false,
                }
            })
            .count();
        flipped as f64 / n as f64
    }

    #[test]
    fn rates_match_settings() {
        let r = flip_rate(Noise::Symmetric(0.1), Verdict::Injury);
        assert!((r - 0.1).abs() < 0.02, "{r}");
        let pc = Noise::PerClass {
            injury_to_no_injury: 0.3,
            no_injury_to_injury: 0.0,
        };
        assert!((flip_rate(pc, Verdict::Injury) - 0.3).abs() < 0.03);
        assert_eq!(flip_rate(pc, Verdict::NoInjury), 0.0);
        assert_eq!(flip_rate(Noise::Symmetric(0.5), Verdict::Unsure), 0.0);
    }

    #[test]
    fn deterministic_per_snippet() {
        let l = NoisyLabeler::new(OracleLabeler::new(), Noise::Symmetric(0.5), 9).unwrap();
        let a: Vec<_> = (0..50)
            .map(|i| l.flip(&format!("id{i}"), Verdict::Injury))
            .collect();
        let b: Vec<_> = (0..50)
            .rev()
            .map(|i| l.flip(&format!("id{i}"), Verdict::Injury))
            .collect();
        assert_eq!(a, b.into_iter().rev().collect::<Vec<_>>());
        assert!(NoisyLabeler::new(OracleLabeler::new(), Noise::Symmetric(1.5), 0).is_err());
    }
}
