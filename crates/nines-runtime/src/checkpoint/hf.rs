//! Hugging Face checkpoint folders: `config.json`, `model.safetensors` or a sharded
//! `model.safetensors.index.json`, and `tokenizer.json`.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use tch::{Kind, Tensor};

use super::{TensorSource, tensor_from_bytes};
use crate::error::{Result, RuntimeError};

/// Reads a JSON file into a serde type, with the path and line in errors.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| RuntimeError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| RuntimeError::Json {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// The safetensors files of one checkpoint, memory-mapped.
pub struct SafetensorsSource {
    root: PathBuf,
    files: Vec<(PathBuf, Mmap)>,
    /// Tensor name → index into `files`.
    index: HashMap<String, usize>,
}

impl std::fmt::Debug for SafetensorsSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SafetensorsSource")
            .field("root", &self.root)
            .field("tensors", &self.index.len())
            .finish()
    }
}

#[derive(serde::Deserialize)]
struct ShardIndex {
    weight_map: HashMap<String, String>,
}

impl SafetensorsSource {
    /// Opens `model.safetensors`, or the shards listed in `model.safetensors.index.json`, in `dir`.
    ///
    /// # Errors
    /// A missing weight file, an index that names a missing shard, or a corrupt safetensors header.
    pub fn open_dir(dir: &Path) -> Result<Self> {
        let single = dir.join("model.safetensors");
        let index_path = dir.join("model.safetensors.index.json");
        let shard_names: Vec<String> = if single.is_file() {
            vec!["model.safetensors".to_string()]
        } else if index_path.is_file() {
            let index: ShardIndex = read_json(&index_path)?;
            let mut names: Vec<String> = index.weight_map.into_values().collect();
            names.sort();
            names.dedup();
            names
        } else {
            return Err(RuntimeError::MissingFile {
                path: single,
                what: "model weights (model.safetensors or model.safetensors.index.json)",
            });
        };
        let mut files = Vec::new();
        let mut index = HashMap::new();
        for shard in shard_names {
            let path = dir.join(&shard);
            if !path.is_file() {
                return Err(RuntimeError::MissingFile {
                    path,
                    what: "weight shard named in model.safetensors.index.json",
                });
            }
            let (mmap, names) = map_file(&path)?;
            for name in names {
                index.insert(name, files.len());
            }
            files.push((path, mmap));
        }
        Ok(SafetensorsSource {
            root: dir.to_path_buf(),
            files,
            index,
        })
    }

    /// Opens one safetensors file (a trainer's checkpoint file, say).
    ///
    /// # Errors
    /// [`RuntimeError::MissingFile`] when it is not there; [`RuntimeError::Corrupt`] when its
    /// header is malformed or the file is shorter than the header says (a truncated write).
    pub fn open_file(path: &Path) -> Result<Self> {
        if !path.is_file() {
            return Err(RuntimeError::MissingFile {
                path: path.to_path_buf(),
                what: "safetensors weights file",
            });
        }
        let (mmap, names) = map_file(path)?;
        let index = names.into_iter().map(|n| (n, 0)).collect();
        Ok(SafetensorsSource {
            root: path.to_path_buf(),
            files: vec![(path.to_path_buf(), mmap)],
            index,
        })
    }

    /// Names of all stored tensors.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.index.keys().map(String::as_str)
    }
}

impl SafetensorsSource {
    /// The file holding `name` and its stored view, or `None` when no file holds it.
    fn view(&self, name: &str) -> Result<Option<(&PathBuf, TensorView<'_>)>> {
        let Some(&i) = self.index.get(name) else {
            return Ok(None);
        };
        let (path, mmap) = &self.files[i];
        let st = SafeTensors::deserialize(mmap)
            .map_err(|e| RuntimeError::corrupt(path, format!("safetensors header: {e}")))?;
        let view = st
            .tensor(name)
            .map_err(|e| RuntimeError::corrupt(path, format!("tensor `{name}`: {e}")))?;
        Ok(Some((path, view)))
    }

    /// The tensor `name`, or `None` when no file holds it; `rows` narrows it to rows
    /// `start..start + count` of the first dimension.
    fn tensor(&self, name: &str, rows: Option<(i64, i64)>) -> Result<Option<Tensor>> {
        let Some((path, view)) = self.view(name)? else {
            return Ok(None);
        };
        let kind = match view.dtype() {
            Dtype::F32 => Kind::Float,
            Dtype::F16 => Kind::Half,
            Dtype::BF16 => Kind::BFloat16,
            Dtype::F64 => Kind::Double,
            Dtype::I64 => Kind::Int64,
            other => {
                return Err(RuntimeError::UnsupportedDtype {
                    path: path.clone(),
                    tensor: name.to_string(),
                    dtype: format!("{other:?}"),
                });
            }
        };
        let mut shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        let data = view.data();
        let Some((start, count)) = rows else {
            return tensor_from_bytes(data, &shape, kind).map(Some);
        };
        let total = shape.first().copied().unwrap_or(0);
        if start < 0 || count < 0 || start + count > total {
            return Err(RuntimeError::InvalidInput(format!(
                "rows {start}..{} of `{name}` ({total} rows) in {}",
                start + count,
                path.display()
            )));
        }
        let row_bytes = data.len().checked_div(total as usize).unwrap_or(0);
        shape[0] = count;
        let (from, to) = (
            start as usize * row_bytes,
            (start + count) as usize * row_bytes,
        );
        tensor_from_bytes(&data[from..to], &shape, kind).map(Some)
    }
}

impl TensorSource for SafetensorsSource {
    fn read(&self, name: &str) -> Result<Option<Tensor>> {
        self.tensor(name, None)
    }

    fn shape(&self, name: &str) -> Result<Option<Vec<i64>>> {
        Ok(self
            .view(name)?
            .map(|(_, view)| view.shape().iter().map(|&d| d as i64).collect()))
    }

    fn read_rows(&self, name: &str, start: i64, count: i64) -> Result<Option<Tensor>> {
        self.tensor(name, Some((start, count)))
    }

    fn origin(&self, name: &str) -> PathBuf {
        match self.index.get(name) {
            Some(&i) => self.files[i].0.clone(),
            None if self.files.len() == 1 => self.files[0].0.clone(),
            None => self.root.clone(),
        }
    }
}

/// Maps a safetensors file and lists its tensors, checking the header.
fn map_file(path: &Path) -> Result<(Mmap, Vec<String>)> {
    let file = File::open(path).map_err(|e| RuntimeError::io(path, e))?;
    // SAFETY: read-only map of a checkpoint file.
    let mmap = unsafe { Mmap::map(&file) }.map_err(|e| RuntimeError::io(path, e))?;
    check_unique_keys(path, &mmap)?;
    let names = SafeTensors::deserialize(&mmap)
        .map_err(|e| RuntimeError::corrupt(path, format!("safetensors header: {e}")))?
        .names()
        .into_iter()
        .map(str::to_string)
        .collect::<Vec<_>>();
    Ok((mmap, names))
}

/// A safetensors header names each tensor once: a JSON parser keeps the last of two equal
/// keys, so a header listing a tensor twice would load one of them silently.
fn check_unique_keys(path: &Path, bytes: &[u8]) -> Result<()> {
    struct UniqueKeys(Option<String>);
    impl<'de> serde::Deserialize<'de> for UniqueKeys {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
            struct Visit;
            impl<'de> serde::de::Visitor<'de> for Visit {
                type Value = UniqueKeys;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> std::result::Result<UniqueKeys, A::Error> {
                    let mut seen = std::collections::HashSet::new();
                    let mut duplicate = None;
                    while let Some(key) = map.next_key::<String>()? {
                        map.next_value::<serde::de::IgnoredAny>()?;
                        if !seen.insert(key.clone()) && duplicate.is_none() {
                            duplicate = Some(key);
                        }
                    }
                    Ok(UniqueKeys(duplicate))
                }
            }
            d.deserialize_map(Visit)
        }
    }
    // Malformed headers are left to the safetensors parser, which names what is wrong.
    let Some(len) = bytes
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
    else {
        return Ok(());
    };
    let Some(header) = usize::try_from(len)
        .ok()
        .and_then(|n| n.checked_add(8))
        .and_then(|end| bytes.get(8..end))
    else {
        return Ok(());
    };
    if let Ok(UniqueKeys(Some(name))) = serde_json::from_slice::<UniqueKeys>(header) {
        return Err(RuntimeError::corrupt(
            path,
            format!("safetensors header: tensor `{name}` is listed twice"),
        ));
    }
    Ok(())
}
