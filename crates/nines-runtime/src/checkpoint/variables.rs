//! A loaded model's own variables as a [`TensorSource`], so that its present weights can be
//! quantized the way a checkpoint's are.

use std::collections::HashMap;
use std::path::PathBuf;

use tch::Tensor;
use tch::nn::VarStore;

use super::TensorSource;
use crate::error::Result;

/// The variables of a [`VarStore`] by name, read without copying (and without gradients).
pub(crate) struct VariablesSource {
    variables: HashMap<String, Tensor>,
    origin: PathBuf,
}

impl VariablesSource {
    /// The variables of `vars`; `origin` names where they were loaded from, for errors.
    pub(crate) fn new(vars: &VarStore, origin: impl Into<PathBuf>) -> Self {
        VariablesSource {
            variables: vars.variables(),
            origin: origin.into(),
        }
    }
}

impl TensorSource for VariablesSource {
    fn read(&self, name: &str) -> Result<Option<Tensor>> {
        Ok(self.variables.get(name).map(Tensor::detach))
    }

    fn origin(&self, _name: &str) -> PathBuf {
        self.origin.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn reads_variables_by_name_without_gradients() {
        let vs = VarStore::new(Device::Cpu);
        let w = vs.root().sub("a").ones("weight", &[2, 3]);
        let source = VariablesSource::new(&vs, "model.safetensors");
        let read = source.read("a.weight").unwrap().unwrap();
        assert_eq!(read.size(), [2, 3]);
        assert!(!read.requires_grad());
        assert!(read.equal(&w));
        assert!(source.read("b.weight").unwrap().is_none());
        assert_eq!(
            source.read_rows("a.weight", 1, 1).unwrap().unwrap().size(),
            [1, 3]
        );
        assert_eq!(
            source.origin("a.weight"),
            PathBuf::from("model.safetensors")
        );
    }
}
