//! Crash-safe checkpoint folders: a [`CheckpointSlot`] is one folder that a trainer replaces
//! with a newer checkpoint again and again, such that a crash at any moment (a kill, a power
//! cut after the last `fsync`) leaves a complete checkpoint to resume from.
//!
//! Every trainer in Nines (fine-tuning, the classifier, PPO) writes its checkpoints through
//! this one routine, saying only what goes in: [`CheckpointFiles`] names each safetensors file
//! of tensors and each JSON state file, and [`CheckpointSlot::save_files`] writes them.
//!
//! 1. the new checkpoint is written into a staging folder `<slot>.new`;
//! 2. every file in it is `fsync`ed, then a manifest `COMPLETE` (each file's name and size)
//!    is written and `fsync`ed, then the staging folder itself;
//! 3. the current checkpoint `<slot>` is renamed to `<slot>.old`, the staging folder to
//!    `<slot>` (each rename made durable by an `fsync` of the parent folder);
//! 4. `<slot>.old` is deleted, its manifest first.
//!
//! A folder counts as a checkpoint only when its manifest is present and every file it lists
//! has the listed size, so a folder caught half-written or half-deleted is never mistaken for
//! one. [`CheckpointSlot::recover`] (called by every load and before every save) brings the
//! slot back from any interrupted state: it keeps the newest complete folder as `<slot>` and
//! removes the staging and previous folders it no longer needs. The previous checkpoint is
//! deleted only after the new one is in place.
//!
//! ```
//! use nines_runtime::tch::Tensor;
//! use nines_runtime::train::{CheckpointFiles, CheckpointSlot};
//! let dir = tempfile::tempdir()?;
//! let slot = CheckpointSlot::new(dir.path().join("checkpoint"));
//! assert_eq!(slot.recover()?, None);
//! for step in 1..=3 {
//!     let files = CheckpointFiles::new()
//!         .tensors("weights.safetensors", vec![("w".into(), Tensor::from_slice(&[step as f32]))])
//!         .json("state.json", &serde_json::json!({ "step": step }))?;
//!     slot.save_files(&files)?;
//! }
//! let ck = slot.recover()?.expect("a complete checkpoint");
//! assert_eq!(std::fs::read_to_string(ck.join("state.json"))?, "{\n  \"step\": 3\n}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tch::{Device, Tensor};

use crate::error::{Result, RuntimeError};

/// What one checkpoint holds, by file name: safetensors files of named tensors and JSON
/// files of trainer state. [`CheckpointSlot::save_files`] writes it crash-safely; the loader
/// ([`crate::checkpoint::load_into`]) reads the tensors back.
#[derive(Default)]
pub struct CheckpointFiles {
    files: Vec<(String, Content)>,
}

enum Content {
    Tensors(Vec<(String, Tensor)>),
    Bytes(Vec<u8>),
}

impl std::fmt::Debug for CheckpointFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.files.iter().map(|(n, _)| n))
            .finish()
    }
}

impl CheckpointFiles {
    /// No files yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the safetensors file `name` holding `tensors` (written as dense copies, in their
    /// own dtype).
    pub fn tensors(mut self, name: &str, tensors: Vec<(String, Tensor)>) -> Self {
        self.files
            .push((name.to_string(), Content::Tensors(tensors)));
        self
    }

    /// Adds the JSON file `name` holding `value`, pretty-printed.
    ///
    /// # Errors
    /// [`RuntimeError::Json`] when `value` does not serialize.
    pub fn json<T: Serialize + ?Sized>(mut self, name: &str, value: &T) -> Result<Self> {
        let bytes = serde_json::to_vec_pretty(value).map_err(|e| RuntimeError::Json {
            path: PathBuf::from(name),
            message: e.to_string(),
        })?;
        self.files.push((name.to_string(), Content::Bytes(bytes)));
        Ok(self)
    }

    /// The file names, in the order they are written.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.files.iter().map(|(n, _)| n.as_str())
    }

    /// Writes every file into the folder `dir`, calling `before` with each file's path just
    /// before writing it (a trainer's hook for injected faults in tests; `|_| Ok(())`
    /// otherwise).
    ///
    /// # Errors
    /// `before`'s error, or [`RuntimeError::Io`] naming the file that could not be written.
    pub fn write_into<E, F>(&self, dir: &Path, mut before: F) -> std::result::Result<(), E>
    where
        E: From<RuntimeError>,
        F: FnMut(&Path) -> std::result::Result<(), E>,
    {
        for (name, content) in &self.files {
            let path = dir.join(name);
            before(&path)?;
            match content {
                Content::Tensors(tensors) => {
                    let dense: Vec<(&str, Tensor)> = tensors
                        .iter()
                        .map(|(n, t)| (n.as_str(), t.detach().to_device(Device::Cpu).contiguous()))
                        .collect();
                    Tensor::write_safetensors(&dense, &path)
                        .map_err(|e| RuntimeError::io(&path, std::io::Error::other(e)))?;
                }
                Content::Bytes(bytes) => {
                    std::fs::File::create(&path)
                        .and_then(|mut f| f.write_all(bytes))
                        .map_err(|e| RuntimeError::io(&path, e))?;
                }
            }
        }
        Ok(())
    }
}

/// The manifest that marks a checkpoint folder complete.
pub const MANIFEST_FILE: &str = "COMPLETE";

/// One listed file of a complete checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ManifestEntry {
    /// Path relative to the checkpoint folder, `/`-separated.
    name: String,
    /// Size in bytes.
    bytes: u64,
}

/// The content of [`MANIFEST_FILE`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Manifest {
    format: u32,
    files: Vec<ManifestEntry>,
}

/// One checkpoint folder, replaced atomically by each save. See the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointSlot {
    path: PathBuf,
}

impl CheckpointSlot {
    /// The slot whose checkpoint lives in folder `path` (its staging and previous folders are
    /// `path` with `.new` and `.old` appended).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        CheckpointSlot { path: path.into() }
    }

    /// The checkpoint folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sibling(&self, suffix: &str) -> PathBuf {
        let mut name = self
            .path
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_default();
        name.push(suffix);
        self.path.with_file_name(name)
    }

    /// Where a save writes the next checkpoint before it is swapped in.
    pub fn staging_path(&self) -> PathBuf {
        self.sibling(".new")
    }

    /// Where the current checkpoint waits while the next one is swapped in.
    pub fn previous_path(&self) -> PathBuf {
        self.sibling(".old")
    }

    fn parent(&self) -> PathBuf {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    /// Brings the slot back from any interrupted save and returns the complete checkpoint
    /// folder ([`path`](Self::path)), or `None` when there is none yet.
    ///
    /// # Errors
    /// [`RuntimeError::IncompleteCheckpoint`] when the checkpoint folder exists but is not a
    /// complete checkpoint (it was not written by this routine, or was altered since): it is
    /// left as it is. I/O errors while repairing.
    pub fn recover(&self) -> Result<Option<PathBuf>> {
        let current = self.path.clone();
        let staging = self.staging_path();
        let previous = self.previous_path();
        if current.exists() {
            if let Err(why) = verify(&current) {
                return Err(RuntimeError::IncompleteCheckpoint {
                    path: current,
                    message: why,
                });
            }
            // The swap finished (or no save was under way): what is left is not needed.
            remove_checkpoint(&staging)?;
            remove_checkpoint(&previous)?;
            return Ok(Some(current));
        }
        // No current checkpoint: a save was interrupted between its two renames, or the
        // first save never finished.
        if staging.exists() && verify(&staging).is_ok() {
            rename_durably(&staging, &current, &self.parent())?;
            remove_checkpoint(&previous)?;
            return Ok(Some(current));
        }
        if previous.exists() && verify(&previous).is_ok() {
            remove_checkpoint(&staging)?;
            rename_durably(&previous, &current, &self.parent())?;
            return Ok(Some(current));
        }
        remove_checkpoint(&staging)?;
        remove_checkpoint(&previous)?;
        Ok(None)
    }

    /// Writes a new checkpoint: `fill` writes its files into the (empty) staging folder it is
    /// given; then they are made durable, marked complete and swapped in for the current
    /// checkpoint, which is removed only afterwards. Returns the checkpoint folder.
    ///
    /// On any error (from `fill` or from the routine) the staging folder is removed and the
    /// current checkpoint is left as it was.
    ///
    /// # Errors
    /// `fill`'s error, or [`RuntimeError::Io`] / [`RuntimeError::IncompleteCheckpoint`] (as
    /// from [`recover`](Self::recover)) converted into `E`.
    pub fn save<E, F>(&self, fill: F) -> std::result::Result<PathBuf, E>
    where
        E: From<RuntimeError>,
        F: FnOnce(&Path) -> std::result::Result<(), E>,
    {
        let parent = self.parent();
        std::fs::create_dir_all(&parent).map_err(|e| RuntimeError::io(&parent, e))?;
        self.recover()?;
        let staging = self.staging_path();
        std::fs::create_dir_all(&staging).map_err(|e| RuntimeError::io(&staging, e))?;
        let written = fill(&staging).and_then(|()| seal(&staging).map_err(E::from));
        if let Err(e) = written {
            let _ = remove_checkpoint(&staging);
            return Err(e);
        }
        let previous = self.previous_path();
        if self.path.exists() {
            rename_durably(&self.path, &previous, &parent)?;
        }
        rename_durably(&staging, &self.path, &parent)?;
        remove_checkpoint(&previous)?;
        Ok(self.path.clone())
    }
}

impl CheckpointSlot {
    /// Writes `files` as the new checkpoint through [`save`](Self::save). Returns the
    /// checkpoint folder.
    ///
    /// # Errors
    /// As [`save`](Self::save); [`RuntimeError::Io`] naming a file that could not be written.
    pub fn save_files(&self, files: &CheckpointFiles) -> Result<PathBuf> {
        self.save(|staging| files.write_into(staging, |_| Ok::<(), RuntimeError>(())))
    }
}

/// Files of `dir` (recursively), as `/`-separated relative names, sorted; the manifest is
/// left out.
fn files_of(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let mut stack = vec![(String::new(), dir.to_path_buf())];
    while let Some((prefix, folder)) = stack.pop() {
        let entries = std::fs::read_dir(&folder).map_err(|e| RuntimeError::io(&folder, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| RuntimeError::io(&folder, e))?;
            let path = entry.path();
            let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
            let kind = entry.file_type().map_err(|e| RuntimeError::io(&path, e))?;
            if kind.is_dir() {
                stack.push((format!("{name}/"), path));
            } else if name != MANIFEST_FILE {
                out.push((name, path));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Writes one safetensors file crash-safely: into `<path>.partial`, synced, then renamed over
/// `path` (the rename made durable by a sync of the folder), so `path` always holds either the
/// previous file or the complete new one. Creates the parent folder.
///
/// # Errors
/// [`RuntimeError::Io`] naming the file, or LibTorch's error writing the tensors.
pub fn write_tensors_durably(path: &Path, tensors: &[(String, Tensor)]) -> Result<()> {
    let parent = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => dir.to_path_buf(),
        None => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| RuntimeError::io(&parent, e))?;
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    Tensor::write_safetensors(tensors, &partial)?;
    fsync(&partial)?;
    rename_durably(&partial, path, &parent)
}

fn fsync(path: &Path) -> Result<()> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| RuntimeError::io(path, e))
}

/// Makes every file of `dir` durable, then writes and syncs the manifest and the folder.
fn seal(dir: &Path) -> Result<()> {
    let mut files = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    for (name, path) in files_of(dir)? {
        fsync(&path)?;
        let bytes = std::fs::metadata(&path)
            .map_err(|e| RuntimeError::io(&path, e))?
            .len();
        if let Some(folder) = path.parent()
            && !folders.iter().any(|f| f == folder)
        {
            folders.push(folder.to_path_buf());
        }
        files.push(ManifestEntry { name, bytes });
    }
    for folder in folders.iter().skip(1) {
        fsync(folder)?;
    }
    let manifest = Manifest { format: 1, files };
    let path = dir.join(MANIFEST_FILE);
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| RuntimeError::Json {
        path: path.clone(),
        message: e.to_string(),
    })?;
    std::fs::write(&path, json).map_err(|e| RuntimeError::io(&path, e))?;
    fsync(&path)?;
    fsync(dir)
}

/// `Ok` when `dir` holds a manifest whose every file is present with its size; else why not.
fn verify(dir: &Path) -> std::result::Result<(), String> {
    let path = dir.join(MANIFEST_FILE);
    let text = std::fs::read(&path).map_err(|e| {
        format!("no readable {MANIFEST_FILE} manifest ({e}): the checkpoint was not completed")
    })?;
    let manifest: Manifest = serde_json::from_slice(&text)
        .map_err(|e| format!("{MANIFEST_FILE} is not a checkpoint manifest: {e}"))?;
    for entry in &manifest.files {
        let file = dir.join(&entry.name);
        let bytes = std::fs::metadata(&file)
            .map_err(|e| format!("`{}` listed in {MANIFEST_FILE}: {e}", entry.name))?
            .len();
        if bytes != entry.bytes {
            return Err(format!(
                "`{}` has {bytes} bytes; {MANIFEST_FILE} lists {}",
                entry.name, entry.bytes
            ));
        }
    }
    Ok(())
}

fn rename_durably(from: &Path, to: &Path, parent: &Path) -> Result<()> {
    std::fs::rename(from, to).map_err(|e| RuntimeError::io(to, e))?;
    fsync(parent)
}

/// Deletes a checkpoint folder of this routine's (staging or previous), manifest first so
/// that a deletion cut short never leaves a folder that looks complete.
fn remove_checkpoint(dir: &Path) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    let manifest = dir.join(MANIFEST_FILE);
    if manifest.exists() {
        std::fs::remove_file(&manifest).map_err(|e| RuntimeError::io(&manifest, e))?;
        fsync(dir)?;
    }
    std::fs::remove_dir_all(dir).map_err(|e| RuntimeError::io(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(staging: &Path, step: u32) -> Result<()> {
        std::fs::create_dir_all(staging.join("sub")).map_err(|e| RuntimeError::io(staging, e))?;
        std::fs::write(staging.join("state"), step.to_string())
            .map_err(|e| RuntimeError::io(staging, e))?;
        std::fs::write(
            staging.join("sub/weights"),
            vec![step as u8; 100 + step as usize],
        )
        .map_err(|e| RuntimeError::io(staging, e))
    }

    fn step_of(dir: &Path) -> u32 {
        std::fs::read_to_string(dir.join("state"))
            .unwrap()
            .parse()
            .unwrap()
    }

    #[test]
    fn saves_replace_and_leave_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let slot = CheckpointSlot::new(dir.path().join("ck"));
        for step in 1..=3 {
            slot.save(|s| write(s, step)).unwrap();
        }
        assert_eq!(step_of(&slot.recover().unwrap().unwrap()), 3);
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["ck"]);
    }

    #[test]
    fn a_failing_fill_keeps_the_previous_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let slot = CheckpointSlot::new(dir.path().join("ck"));
        slot.save(|s| write(s, 1)).unwrap();
        let err = slot
            .save(|s| {
                write(s, 2)?;
                Err(RuntimeError::io(s, std::io::Error::other("disk full")))
            })
            .unwrap_err();
        assert!(err.to_string().contains("disk full"), "{err}");
        assert!(!slot.staging_path().exists());
        assert_eq!(step_of(&slot.recover().unwrap().unwrap()), 1);
    }

    /// Tensors and JSON go in and come back; a save cut short leaves a staging folder that is
    /// ignored and removed; a checkpoint file cut short afterwards is a typed error naming it.
    #[test]
    fn files_round_trip_and_torn_saves_are_never_read() {
        use crate::checkpoint::{Expect, load_into};
        let dir = tempfile::tempdir().unwrap();
        let slot = CheckpointSlot::new(dir.path().join("ck"));
        let files = |x: f32| {
            CheckpointFiles::new()
                .tensors(
                    "w.safetensors",
                    vec![("w".into(), Tensor::from_slice(&[x, x]))],
                )
                .json("state.json", &serde_json::json!({ "x": x }))
                .unwrap()
        };
        let ck = slot.save_files(&files(1.0)).unwrap();
        // A later save killed while writing its tensors: the staging folder holds a partial
        // file and no manifest.
        std::fs::create_dir_all(slot.staging_path()).unwrap();
        std::fs::write(slot.staging_path().join("w.safetensors"), b"\x10\0\0").unwrap();
        assert_eq!(slot.recover().unwrap(), Some(ck.clone()));
        assert!(
            !slot.staging_path().exists(),
            "the torn staging folder is removed"
        );
        let w = Tensor::from_slice(&[0f32, 0.0]);
        load_into(
            &[("w".into(), w.shallow_clone())],
            &ck.join("w.safetensors"),
            Expect::Exactly,
        )
        .unwrap();
        assert_eq!(Vec::<f32>::try_from(&w).unwrap(), vec![1.0, 1.0]);
        let state: serde_json::Value =
            serde_json::from_slice(&std::fs::read(ck.join("state.json")).unwrap()).unwrap();
        assert_eq!(state["x"], 1.0);
        // A file of the checkpoint truncated behind the routine's back.
        let bytes = std::fs::read(ck.join("w.safetensors")).unwrap();
        std::fs::write(ck.join("w.safetensors"), &bytes[..bytes.len() - 4]).unwrap();
        match slot.recover() {
            Err(e @ RuntimeError::IncompleteCheckpoint { .. }) => {
                assert!(e.to_string().contains("w.safetensors"), "{e}")
            }
            other => panic!("{other:?}"),
        }
        match load_into(
            &[("w".into(), w)],
            &ck.join("w.safetensors"),
            Expect::Exactly,
        ) {
            Err(e @ RuntimeError::Corrupt { .. }) => {
                assert!(e.to_string().contains("w.safetensors"), "{e}")
            }
            other => panic!("{other:?}"),
        }
    }

    /// Every state a save can be interrupted in, rebuilt by hand, recovers to the newest
    /// complete checkpoint.
    #[test]
    fn recovers_from_each_interrupted_state() {
        let dir = tempfile::tempdir().unwrap();
        let slot = CheckpointSlot::new(dir.path().join("ck"));
        let complete = |path: &Path, step: u32| {
            let _ = std::fs::remove_dir_all(path);
            std::fs::create_dir_all(path).unwrap();
            write(path, step).unwrap();
            seal(path).unwrap();
        };
        let partial = |path: &Path, step: u32| {
            let _ = std::fs::remove_dir_all(path);
            std::fs::create_dir_all(path).unwrap();
            write(path, step).unwrap();
        };
        let clear = || {
            for p in [
                slot.path().to_path_buf(),
                slot.staging_path(),
                slot.previous_path(),
            ] {
                let _ = std::fs::remove_dir_all(p);
            }
        };
        // Staging half-written, current intact.
        clear();
        complete(slot.path(), 1);
        partial(&slot.staging_path(), 2);
        assert_eq!(step_of(&slot.recover().unwrap().unwrap()), 1);
        assert!(!slot.staging_path().exists());
        // Between the two renames: the new one is complete, the old one aside.
        clear();
        complete(&slot.previous_path(), 1);
        complete(&slot.staging_path(), 2);
        assert_eq!(step_of(&slot.recover().unwrap().unwrap()), 2);
        assert!(!slot.previous_path().exists());
        // After the swap, before the old one is gone (or while it is being deleted).
        clear();
        complete(slot.path(), 2);
        partial(&slot.previous_path(), 1);
        assert_eq!(step_of(&slot.recover().unwrap().unwrap()), 2);
        assert!(!slot.previous_path().exists());
        // A first save cut short: nothing to resume, nothing left behind.
        clear();
        partial(&slot.staging_path(), 1);
        assert_eq!(slot.recover().unwrap(), None);
        assert!(!slot.staging_path().exists());
        // Only the previous one complete (the staging one lost): it comes back.
        clear();
        complete(&slot.previous_path(), 1);
        partial(&slot.staging_path(), 2);
        assert_eq!(step_of(&slot.recover().unwrap().unwrap()), 1);
        // A truncated file makes a folder incomplete; a foreign folder is an error, kept.
        clear();
        complete(slot.path(), 1);
        std::fs::write(slot.path().join("sub/weights"), b"short").unwrap();
        let err = slot.recover().unwrap_err();
        assert!(
            matches!(err, RuntimeError::IncompleteCheckpoint { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("sub/weights"), "{err}");
        assert!(slot.path().join("state").exists());
    }
}
