//! Many-rejections signal: accepted completions of prompts that usually get rejected.

use serde::{Deserialize, Serialize};

use super::{Acquisition, check_threshold, checked};
use crate::error::Result;
use crate::pool::Pool;

/// Values an accepted completion by the share of its prompt's *other* completions that the
/// classifier rejects; rejected completions and prompts with one completion are worth zero.
///
/// A prompt whose continuations keep describing injuries is likely to have led to one more
/// that the classifier let through: when the filter accepts the single survivor of many
/// rejections, that survivor deserves a second look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ManyRejections;

impl Acquisition for ManyRejections {
    fn name(&self) -> String {
        "many_rejections".into()
    }

    fn utility(&self, pool: &Pool, threshold: f64) -> Result<Vec<f64>> {
        check_threshold(threshold)?;
        let items = pool.items();
        let mut u = vec![0.0; items.len()];
        for group in pool.prompt_groups() {
            if group.len() < 2 {
                continue;
            }
            let rejected = group
                .iter()
                .filter(|&&i| items[i].score > threshold)
                .count();
            for &i in &group {
                if items[i].score <= threshold {
                    u[i] = rejected as f64 / (group.len() - 1) as f64;
                }
            }
        }
        checked(
            self.name(),
            u,
            "no accepted completion shares its prompt with a rejected one",
        )
    }
}
