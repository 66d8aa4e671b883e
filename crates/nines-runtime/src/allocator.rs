//! The C allocator's settings while models load and while they run.
//!
//! LibTorch allocates tensors with the C library's `malloc`. glibc's `malloc` serves large
//! blocks (from 128 KiB) by `mmap`, giving them back to the system when freed, but each time
//! such a block is freed it raises that threshold to the block's size (up to 32 MiB). During
//! a model load that is the wrong way round: the per-tensor temporaries are then carved from
//! the heap between the weights being kept, and the freed holes are not given back. Loading
//! SmolLM2-135M with int8 projections and generating peaked at 630 MB of resident memory that
//! way, and at 408 MB with the threshold held at 128 KiB during the load. Held there for
//! generation as well, every step's logits and sampling buffers would be fresh zeroed pages
//! from the kernel: batch-16 int8 generation ran at half the speed.
//!
//! So a load holds glibc's thresholds at their defaults ([`loading`]), and when the last load
//! ends they are set to where glibc's own rule ends up after large blocks have been freed
//! (mmap from 32 MiB, heap trimmed above 64 MiB) and the heap's free pages are given back.
//! Elsewhere than glibc nothing changes.

use std::sync::Mutex;

/// A count of loads in progress.
struct LoadCount(Mutex<usize>);

impl LoadCount {
    /// Counts a load in; true for the first of a run of overlapping loads.
    fn enter(&self) -> bool {
        let mut loads = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *loads += 1;
        *loads == 1
    }

    /// Counts a load out; true when it was the last in progress.
    fn leave(&self) -> bool {
        let mut loads = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *loads = loads.saturating_sub(1);
        *loads == 0
    }
}

/// Loads in progress in this process.
static LOADS: LoadCount = LoadCount(Mutex::new(0));

/// Marks a model load in progress; dropping it ends the load.
#[must_use = "the load ends when the guard is dropped"]
pub(crate) struct Loading(());

/// Starts a model load: large blocks are allocated by `mmap` and given back when freed until
/// the returned guard (and every other load's) is dropped.
pub(crate) fn loading() -> Loading {
    if LOADS.enter() {
        set_thresholds(128 * 1024, 128 * 1024);
    }
    Loading(())
}

impl Drop for Loading {
    fn drop(&mut self) {
        if LOADS.leave() {
            set_thresholds(32 * 1024 * 1024, 64 * 1024 * 1024);
            trim();
        }
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set_thresholds(mmap: i32, trim: i32) {
    // SAFETY: `mallopt` changes tuning parameters of the allocator; it may be called at any
    // time, from any thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, mmap);
        libc::mallopt(libc::M_TRIM_THRESHOLD, trim);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_thresholds(_mmap: i32, _trim: i32) {}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    // SAFETY: gives free heap pages back to the system; no allocation is touched.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_loads_start_with_the_first_and_end_with_the_last() {
        // A count of its own: other tests load models concurrently through `LOADS`.
        let count = LoadCount(Mutex::new(0));
        assert!(count.enter());
        assert!(!count.enter());
        assert!(!count.leave());
        assert!(count.leave());
        assert!(count.enter());
        assert!(count.leave());
    }
}
