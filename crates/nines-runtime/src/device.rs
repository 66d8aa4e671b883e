//! Device and dtype selection.

use std::fmt;
use std::str::FromStr;

use crate::error::{Result, RuntimeError};

/// Where a model runs. `Auto` picks the first CUDA device when one is present, else the CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum DeviceSpec {
    /// CUDA device 0 when available, else CPU.
    #[default]
    Auto,
    /// The CPU.
    Cpu,
    /// A CUDA device by ordinal.
    Cuda(usize),
}

impl DeviceSpec {
    /// Resolves the spec to a LibTorch device; a CUDA device that is not present is an error.
    ///
    /// Before asking LibTorch about CUDA, `Auto` and `Cuda` load LibTorch's CUDA backend
    /// (see [`load_cuda_backend`]), so a binary linked against the CPU LibTorch can use a GPU
    /// when the CUDA build's libraries are on the library path.
    pub fn resolve(self) -> Result<tch::Device> {
        match self {
            DeviceSpec::Auto => {
                load_cuda_backend();
                Ok(tch::Device::cuda_if_available())
            }
            DeviceSpec::Cpu => Ok(tch::Device::Cpu),
            DeviceSpec::Cuda(i) => {
                let loaded = load_cuda_backend();
                if tch::Cuda::is_available() && (i as i64) < tch::Cuda::device_count() {
                    Ok(tch::Device::Cuda(i))
                } else if !loaded && !tch::Cuda::is_available() {
                    Err(RuntimeError::DeviceUnavailable(format!(
                        "cuda:{i} (LibTorch's CUDA backend `{CUDA_BACKEND}` could not be loaded: \
                         put the CUDA LibTorch's lib folder on LD_LIBRARY_PATH)"
                    )))
                } else {
                    Err(RuntimeError::DeviceUnavailable(format!("cuda:{i}")))
                }
            }
        }
    }
}

/// The shared library that registers LibTorch's CUDA backend.
const CUDA_BACKEND: &str = "libtorch_cuda.so";

/// Loads LibTorch's CUDA backend (`libtorch_cuda.so`) once, with `RTLD_NOW | RTLD_GLOBAL`, and
/// keeps it loaded; returns whether it is loaded. Binaries linked against the CPU LibTorch do
/// not depend on it, and LibTorch only sees CUDA when the library registered itself before
/// the first CUDA query, so call this before `tch::Cuda::is_available` (`DeviceSpec::resolve`
/// does). It looks on the library path (`LD_LIBRARY_PATH`, the runpath), then in
/// `$LIBTORCH/lib`. A library that is missing or fails to load is not an error: LibTorch
/// then just has no CUDA.
pub fn load_cuda_backend() -> bool {
    static LOADED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *LOADED.get_or_init(open_cuda_backend)
}

#[cfg(unix)]
fn open_cuda_backend() -> bool {
    use libloading::os::unix::{Library, RTLD_GLOBAL, RTLD_NOW};
    // A library already in the process (linked in, LD_PRELOADed) is found by its soname and
    // only gains a reference.
    let mut candidates = vec![std::path::PathBuf::from(CUDA_BACKEND)];
    if let Some(root) = std::env::var_os("LIBTORCH") {
        candidates.push(std::path::Path::new(&root).join("lib").join(CUDA_BACKEND));
    }
    for path in candidates {
        // SAFETY: loading runs the library's static initializers, which register LibTorch's
        // CUDA hooks; the handle is leaked so the library is never unloaded.
        if let Ok(lib) = unsafe { Library::open(Some(&path), RTLD_NOW | RTLD_GLOBAL) } {
            std::mem::forget(lib);
            return true;
        }
    }
    false
}

#[cfg(not(unix))]
fn open_cuda_backend() -> bool {
    false
}

impl FromStr for DeviceSpec {
    type Err = RuntimeError;

    /// Parses `auto`, `cpu`, `cuda` or `cuda:N`.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(DeviceSpec::Auto),
            "cpu" => Ok(DeviceSpec::Cpu),
            "cuda" | "gpu" => Ok(DeviceSpec::Cuda(0)),
            other => match other.strip_prefix("cuda:").map(str::parse::<usize>) {
                Some(Ok(i)) => Ok(DeviceSpec::Cuda(i)),
                _ => Err(RuntimeError::InvalidSetting {
                    field: "device",
                    message: format!("`{s}` is not one of auto, cpu, cuda, cuda:N"),
                }),
            },
        }
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceSpec::Auto => write!(f, "auto"),
            DeviceSpec::Cpu => write!(f, "cpu"),
            DeviceSpec::Cuda(i) => write!(f, "cuda:{i}"),
        }
    }
}

/// Numeric format of a model's weights (and activations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum DType {
    /// 32-bit floats (the reference precision; parity tests use it).
    #[default]
    F32,
    /// bfloat16: half the memory, faster on hardware that supports it.
    Bf16,
    /// Int8 projections (attention, MLP, output; per-channel weight scales, activations
    /// quantized per call) with f32 activations, embeddings and normalizations: a quarter of
    /// the projections' memory and several times faster generation on the CPU
    /// ([`crate::int8`]). CPU only; for generation and scoring, not training.
    Int8,
}

impl DType {
    /// The LibTorch kind of activations and of the parameters kept as variables (for
    /// [`DType::Int8`], f32: only projections are int8).
    pub fn kind(self) -> tch::Kind {
        match self {
            DType::F32 | DType::Int8 => tch::Kind::Float,
            DType::Bf16 => tch::Kind::BFloat16,
        }
    }

    /// Whether the projections are quantized (the model can generate and score, not train).
    pub fn is_quantized(self) -> bool {
        self == DType::Int8
    }
}

impl FromStr for DType {
    type Err = RuntimeError;

    /// Parses `f32`/`float32`, `bf16`/`bfloat16` or `int8`/`i8`.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "f32" | "float32" | "float" => Ok(DType::F32),
            "bf16" | "bfloat16" => Ok(DType::Bf16),
            "int8" | "i8" => Ok(DType::Int8),
            _ => Err(RuntimeError::InvalidSetting {
                field: "dtype",
                message: format!("`{s}` is not one of f32, bf16, int8"),
            }),
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DType::F32 => write!(f, "f32"),
            DType::Bf16 => write!(f, "bf16"),
            DType::Int8 => write!(f, "int8"),
        }
    }
}

/// Sets LibTorch's intra-op threads: 0 keeps LibTorch's default; otherwise at most 4 per
/// core of this machine, since more only oversubscribe it (tens of thousands never return:
/// OpenMP tries to start them all).
///
/// # Errors
/// [`RuntimeError::InvalidSetting`] (`threads`) for a negative count or one above the limit.
pub fn set_threads(threads: i32) -> Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let most = max_threads();
    if threads < 0 || threads as usize > most {
        return Err(RuntimeError::InvalidSetting {
            field: "threads",
            message: format!(
                "{threads} is not in 0..={most} (0: LibTorch's default; at most 4 per core, {cores} here)"
            ),
        });
    }
    if threads > 0 {
        tch::set_num_threads(threads);
    }
    Ok(())
}

/// The most intra-op threads [`set_threads`] accepts: 4 per core of this machine.
pub fn max_threads() -> usize {
    4 * std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `MemAvailable` from `/proc/meminfo`, in bytes; `None` where that is unknown.
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_devices_and_dtypes() {
        assert_eq!("cpu".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cpu);
        assert_eq!("cuda:1".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cuda(1));
        assert!("tpu".parse::<DeviceSpec>().is_err());
        assert_eq!("bf16".parse::<DType>().unwrap(), DType::Bf16);
        assert_eq!("int8".parse::<DType>().unwrap(), DType::Int8);
        assert_eq!(DType::Int8.to_string(), "int8");
        assert!(DType::Int8.is_quantized() && !DType::F32.is_quantized());
        assert!("f8".parse::<DType>().is_err());
    }
}
