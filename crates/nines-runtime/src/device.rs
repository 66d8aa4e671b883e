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
    pub fn resolve(self) -> Result<tch::Device> {
        match self {
            DeviceSpec::Auto => Ok(tch::Device::cuda_if_available()),
            DeviceSpec::Cpu => Ok(tch::Device::Cpu),
            DeviceSpec::Cuda(i) => {
                if tch::Cuda::is_available() && (i as i64) < tch::Cuda::device_count() {
                    Ok(tch::Device::Cuda(i))
                } else {
                    Err(RuntimeError::DeviceUnavailable(format!("cuda:{i}")))
                }
            }
        }
    }
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

/// Floating-point type of a model's weights and activations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum DType {
    /// 32-bit floats (the reference precision; parity tests use it).
    #[default]
    F32,
    /// bfloat16: half the memory, faster on hardware that supports it.
    Bf16,
}

impl DType {
    /// The LibTorch kind.
    pub fn kind(self) -> tch::Kind {
        match self {
            DType::F32 => tch::Kind::Float,
            DType::Bf16 => tch::Kind::BFloat16,
        }
    }
}

impl FromStr for DType {
    type Err = RuntimeError;

    /// Parses `f32`/`float32` or `bf16`/`bfloat16`.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "f32" | "float32" | "float" => Ok(DType::F32),
            "bf16" | "bfloat16" => Ok(DType::Bf16),
            _ => Err(RuntimeError::InvalidSetting {
                field: "dtype",
                message: format!("`{s}` is not one of f32, bf16"),
            }),
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DType::F32 => write!(f, "f32"),
            DType::Bf16 => write!(f, "bf16"),
        }
    }
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
        assert!("f8".parse::<DType>().is_err());
    }
}
