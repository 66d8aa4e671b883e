//! The C allocator's setting for processes that load models.
//!
//! LibTorch allocates tensors with the C library's `malloc`. glibc's `malloc` serves large
//! blocks (at least 128 KiB) by `mmap`, giving them back to the system when freed, but each
//! time such a block is freed it raises that threshold to the block's size (up to 32 MiB).
//! From then on, large temporaries such as a model load's per-tensor buffers are carved from
//! the heap, whose freed holes between live weights it does not give back. Loading
//! SmolLM2-135M with int8 projections and generating peaked at 639 MB of resident memory
//! that way, and at 407 MB with the threshold held at its default (docs/performance.md,
//! "int8 generation").
//!
//! [`fix_mmap_threshold`] holds it: model loads call it, and a program can call it first.

use std::sync::Once;

/// glibc's default mmap threshold (bytes).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: i32 = 128 * 1024;

/// Holds glibc's mmap threshold at its default of 128 KiB, turning off its dynamic raising,
/// so that freed large blocks go back to the system. Does nothing on other C libraries; runs
/// once per process. [`LanguageModel::load`](crate::lm::LanguageModel::load) and
/// [`Encoder::load`](crate::encoder::Encoder::load) call it.
///
/// ```
/// nines_runtime::allocator::fix_mmap_threshold();
/// ```
pub fn fix_mmap_threshold() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: `mallopt` changes a tuning parameter of the allocator; it is safe to call at
        // any time, from any thread.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        }
    });
}
