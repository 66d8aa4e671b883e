//! Random sampling: the baseline every strategy is measured against.

use serde::{Deserialize, Serialize};

use super::{Acquisition, check_threshold};
use crate::error::Result;
use crate::pool::Pool;

/// Every pair has utility 1, so every design samples uniformly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Random;

impl Acquisition for Random {
    fn name(&self) -> String {
        "random".into()
    }

    fn utility(&self, pool: &Pool, threshold: f64) -> Result<Vec<f64>> {
        check_threshold(threshold)?;
        Ok(vec![1.0; pool.len()])
    }
}
