//! The one loader of named weights into live variables, used by every model load, resume and
//! restore in Nines: a checkpoint's safetensors file ([`load_into`]), tensors already in
//! memory ([`copy_named`]), or a model checkpoint served by a [`TensorSource`]
//! ([`load_var_store`](super::load_var_store)).
//!
//! Every copy checks the stored shape against the variable's and converts to the variable's
//! dtype and device; a missing tensor, a misshapen one, or (where the caller asks for an
//! exact match) a tensor nobody asked for is a typed error naming the tensor and the file.
//!
//! ```
//! use nines_runtime::checkpoint::{Expect, load_into};
//! use nines_runtime::tch::{Device, Kind, Tensor};
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("weights.safetensors");
//! Tensor::write_safetensors(&[("w", Tensor::ones([2, 3], (Kind::Float, Device::Cpu)))], &path)?;
//! let w = Tensor::zeros([2, 3], (Kind::Float, Device::Cpu));
//! let report = load_into(&[("w".to_string(), w.shallow_clone())], &path, Expect::AllVariables)?;
//! assert_eq!(report.loaded, 1);
//! assert_eq!(w.sum(Kind::Float).double_value(&[]), 6.0);
//! // A variable of another shape is refused, naming the tensor and both shapes.
//! let v = Tensor::zeros([3, 2], (Kind::Float, Device::Cpu));
//! let err = load_into(&[("w".to_string(), v)], &path, Expect::AllVariables).unwrap_err();
//! assert!(err.to_string().contains("`w` has shape [2, 3]"), "{err}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use tch::Tensor;

use super::TensorSource;
use super::hf::SafetensorsSource;
use crate::error::{Result, RuntimeError};

/// Which names must match between the variables and the stored tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Every variable must be stored; stored tensors no variable names are ignored (and
    /// listed in [`LoadReport::ignored`]).
    AllVariables,
    /// Every variable must be stored, and nothing else may be: a resume of exactly the
    /// parameters that were saved.
    Exactly,
    /// Every stored tensor must name a variable; variables the file lacks keep their values
    /// (and are listed in [`LoadReport::kept`]): a partial overwrite of a fresh model.
    StoredOnly,
}

/// What a load did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoadReport {
    /// Variables copied from the stored tensors.
    pub loaded: usize,
    /// Variables not stored, left as they were ([`Expect::StoredOnly`]), sorted.
    pub kept: Vec<String>,
    /// Stored tensors no variable asked for ([`Expect::AllVariables`]), sorted.
    pub ignored: Vec<String>,
}

/// Copies the tensors of the safetensors file `path` into the named variables `vars` (each a
/// shallow clone of a live variable), checking names as `expect` says and every shape.
///
/// # Errors
/// [`RuntimeError::MissingFile`] when there is no file; [`RuntimeError::Corrupt`] when it is
/// not a complete safetensors file (a truncated file included); [`RuntimeError::MissingTensor`],
/// [`RuntimeError::UnexpectedTensor`] and [`RuntimeError::ShapeMismatch`] naming the tensor.
pub fn load_into(vars: &[(String, Tensor)], path: &Path, expect: Expect) -> Result<LoadReport> {
    let source = SafetensorsSource::open_file(path)?;
    let names: Vec<String> = source.names().map(str::to_string).collect();
    load_from(vars, &source, &names, expect)
}

/// [`load_into`] from tensors already in memory (`values`, by name); `origin` names their
/// source in errors.
///
/// # Errors
/// As [`load_into`], for the names and shapes.
pub fn copy_named(
    vars: &[(String, Tensor)],
    values: &[(String, Tensor)],
    origin: &Path,
    expect: Expect,
) -> Result<LoadReport> {
    let source = InMemory {
        values: values.iter().map(|(n, t)| (n.as_str(), t)).collect(),
        origin,
    };
    let names: Vec<String> = values.iter().map(|(n, _)| n.clone()).collect();
    load_from(vars, &source, &names, expect)
}

/// Copies `stored` into the variable `var` after checking its shape; `origin` and `name`
/// name it in errors.
pub(crate) fn copy_checked(
    var: &Tensor,
    stored: &Tensor,
    name: &str,
    origin: PathBuf,
) -> Result<()> {
    if stored.size() != var.size() {
        return Err(RuntimeError::ShapeMismatch {
            path: origin,
            tensor: name.to_string(),
            expected: var.size(),
            found: stored.size(),
        });
    }
    let _guard = tch::no_grad_guard();
    var.shallow_clone()
        .f_copy_(&stored.f_to_kind(var.kind())?.f_to_device(var.device())?)?;
    Ok(())
}

fn load_from(
    vars: &[(String, Tensor)],
    source: &dyn TensorSource,
    stored_names: &[String],
    expect: Expect,
) -> Result<LoadReport> {
    let wanted: BTreeSet<&str> = vars.iter().map(|(n, _)| n.as_str()).collect();
    let mut extra: Vec<String> = stored_names
        .iter()
        .filter(|n| !wanted.contains(n.as_str()))
        .cloned()
        .collect();
    extra.sort();
    if expect != Expect::AllVariables
        && let Some(name) = extra.first()
    {
        return Err(RuntimeError::UnexpectedTensor {
            path: source.origin(name),
            tensor: name.clone(),
        });
    }
    let mut sorted: Vec<&(String, Tensor)> = vars.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut report = LoadReport::default();
    for (name, var) in sorted {
        let Some(stored) = source.read(name)? else {
            if expect == Expect::StoredOnly {
                report.kept.push(name.clone());
                continue;
            }
            return Err(RuntimeError::MissingTensor {
                path: source.origin(name),
                tensor: name.clone(),
            });
        };
        copy_checked(var, &stored, name, source.origin(name))?;
        report.loaded += 1;
    }
    if expect == Expect::AllVariables {
        report.ignored = extra;
    }
    Ok(report)
}

/// Named tensors in memory as a [`TensorSource`].
struct InMemory<'a> {
    values: HashMap<&'a str, &'a Tensor>,
    origin: &'a Path,
}

impl TensorSource for InMemory<'_> {
    fn read(&self, name: &str) -> Result<Option<Tensor>> {
        Ok(self.values.get(name).map(|t| t.shallow_clone()))
    }

    fn origin(&self, _name: &str) -> PathBuf {
        self.origin.to_path_buf()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    fn zeros(shape: &[i64]) -> Tensor {
        Tensor::zeros(shape, (Kind::Float, Device::Cpu))
    }

    fn named(entries: &[(&str, &Tensor)]) -> Vec<(String, Tensor)> {
        entries
            .iter()
            .map(|(n, t)| (n.to_string(), t.shallow_clone()))
            .collect()
    }

    fn write(dir: &Path, entries: &[(&str, Tensor)]) -> PathBuf {
        let path = dir.join("w.safetensors");
        Tensor::write_safetensors(entries, &path).unwrap();
        path
    }

    #[test]
    fn safetensors_rows_and_shapes_are_read_without_the_whole_tensor() {
        let dir = tempfile::tempdir().unwrap();
        let w = Tensor::arange(24, (Kind::Float, Device::Cpu)).reshape([6, 4]);
        let path = write(dir.path(), &[("w", w.shallow_clone())]);
        let source = SafetensorsSource::open_file(&path).unwrap();
        assert_eq!(source.shape("w").unwrap(), Some(vec![6, 4]));
        assert_eq!(source.shape("x").unwrap(), None);
        let rows = source.read_rows("w", 2, 3).unwrap().unwrap();
        assert!(rows.equal(&w.narrow(0, 2, 3)));
        assert!(source.read_rows("w", 6, 0).unwrap().unwrap().size() == [0, 4]);
        assert!(matches!(
            source.read_rows("w", 5, 2),
            Err(RuntimeError::InvalidInput(m)) if m.contains("`w`")
        ));
        assert!(source.read_rows("x", 0, 1).unwrap().is_none());
    }

    #[test]
    fn names_are_checked_as_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            &[
                ("a", Tensor::ones([2], (Kind::Float, Device::Cpu))),
                ("b", Tensor::ones([3], (Kind::Float, Device::Cpu))),
            ],
        );
        let (a, c) = (zeros(&[2]), zeros(&[1]));
        // Every variable stored, extras ignored.
        let r = load_into(&named(&[("a", &a)]), &path, Expect::AllVariables).unwrap();
        assert_eq!((r.loaded, r.ignored.clone()), (1, vec!["b".to_string()]));
        assert_eq!(a.sum(Kind::Float).double_value(&[]), 2.0);
        // Exactly: the extra `b` is an error naming it.
        match load_into(&named(&[("a", &a)]), &path, Expect::Exactly) {
            Err(RuntimeError::UnexpectedTensor { tensor, path: p }) => {
                assert_eq!((tensor.as_str(), p), ("b", path.clone()))
            }
            other => panic!("{other:?}"),
        }
        // A variable the file lacks.
        let b = zeros(&[3]);
        match load_into(
            &named(&[("a", &a), ("b", &b), ("c", &c)]),
            &path,
            Expect::AllVariables,
        ) {
            Err(RuntimeError::MissingTensor { tensor, .. }) => assert_eq!(tensor, "c"),
            other => panic!("{other:?}"),
        }
        // ...is kept when only the stored tensors are asked for.
        let r = load_into(
            &named(&[("a", &a), ("b", &b), ("c", &c)]),
            &path,
            Expect::StoredOnly,
        )
        .unwrap();
        assert_eq!((r.loaded, r.kept), (2, vec!["c".to_string()]));
        // Stored tensors must all be variables then.
        assert!(matches!(
            load_into(&named(&[("a", &a)]), &path, Expect::StoredOnly),
            Err(RuntimeError::UnexpectedTensor { .. })
        ));
    }

    #[test]
    fn shapes_dtypes_and_files_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            &[("w", Tensor::ones([2, 3], (Kind::Double, Device::Cpu)))],
        );
        // The stored f64 is converted to the variable's f32.
        let w = zeros(&[2, 3]);
        load_into(&named(&[("w", &w)]), &path, Expect::Exactly).unwrap();
        assert_eq!(w.kind(), Kind::Float);
        assert_eq!(w.sum(Kind::Float).double_value(&[]), 6.0);
        match load_into(&named(&[("w", &zeros(&[3, 2]))]), &path, Expect::Exactly) {
            Err(RuntimeError::ShapeMismatch {
                tensor,
                expected,
                found,
                ..
            }) => {
                assert_eq!(
                    (tensor.as_str(), expected, found),
                    ("w", vec![3, 2], vec![2, 3])
                )
            }
            other => panic!("{other:?}"),
        }
        // A truncated file is a corrupt checkpoint naming the file; a missing one is missing.
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 5]).unwrap();
        match load_into(&named(&[("w", &w)]), &path, Expect::Exactly) {
            Err(e @ RuntimeError::Corrupt { .. }) => {
                assert!(e.to_string().contains("w.safetensors"), "{e}")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            load_into(
                &named(&[("w", &w)]),
                &dir.path().join("none.safetensors"),
                Expect::Exactly
            ),
            Err(RuntimeError::MissingFile { .. })
        ));
    }

    #[test]
    fn copies_from_memory() {
        let src = vec![("x".to_string(), Tensor::from_slice(&[1.0f32, 2.0]))];
        let x = zeros(&[2]);
        let r = copy_named(
            &named(&[("x", &x)]),
            &src,
            Path::new("<memory>"),
            Expect::Exactly,
        )
        .unwrap();
        assert_eq!(r.loaded, 1);
        assert_eq!(Vec::<f32>::try_from(&x).unwrap(), vec![1.0, 2.0]);
    }
}
