//! Settings of the end-to-end run: every default overridable from a TOML file and flags.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Everything the pipeline needs to know; `nines-pipeline.toml` files use these keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineConfig {
    /// Run folder; stages cache their outputs here. Default `runs/default`.
    pub run_dir: PathBuf,
    /// Corpus, prompts and labels.
    pub data: DataConfig,
    /// The generator and its sampling settings.
    pub generator: GeneratorConfig,
    /// Random seed for every stage (each derives its own). Default 7.
    pub seed: u64,
    /// LibTorch intra-op threads (0: LibTorch's default). Default 2.
    pub threads: i32,
}

/// Corpus, prompt selection and completion settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// Corpus file or folder. Default `data/corpus`.
    pub corpus: PathBuf,
    /// Expected number of training prompts (oversampled by the injury lexicon). Default 500.
    pub train_prompts: usize,
    /// Expected number of validation prompts (oversampled likewise). Default 250.
    pub validation_prompts: usize,
    /// Expected number of test prompts (uniform: estimates are for the uniform prompt
    /// distribution). Default 120.
    pub test_prompts: usize,
    /// Completions per prompt. Default 2.
    pub completions_per_prompt: usize,
    /// Prompts per generation batch. Default 16.
    pub batch_size: usize,
}

/// Generator settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GeneratorConfig {
    /// A Hugging Face folder or GGUF file. Default: the shipped SmolLM2.
    pub model: PathBuf,
    /// Nucleus mass. Default 0.95.
    pub top_p: f64,
    /// Temperature. Default 1.0.
    pub temperature: f64,
    /// Most new tokens per completion (completions stop at the first sentence end). Default 40.
    pub max_new_tokens: usize,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            run_dir: PathBuf::from("runs/default"),
            data: DataConfig::default(),
            generator: GeneratorConfig::default(),
            seed: 7,
            threads: 2,
        }
    }
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            corpus: PathBuf::from("data/corpus"),
            train_prompts: 500,
            validation_prompts: 250,
            test_prompts: 120,
            completions_per_prompt: 2,
            batch_size: 16,
        }
    }
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig {
            model: PathBuf::from("models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),
            top_p: 0.95,
            temperature: 1.0,
            max_new_tokens: 40,
        }
    }
}

/// A configuration problem, naming the key.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: `{key}`: {message}")]
pub struct ConfigError {
    /// The file, or `flags`.
    pub origin: String,
    /// The offending key, dotted (`data.train_prompts`).
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl PipelineConfig {
    /// Reads a TOML file; unknown keys and wrong types are errors naming the key.
    pub fn from_toml_file(path: &Path) -> Result<Self, ConfigError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            origin: origin.clone(),
            key: "-".into(),
            message: e.to_string(),
        })?;
        Self::from_toml_str(&text, &origin)
    }

    /// Parses TOML text; `origin` names it in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let de = toml::de::Deserializer::parse(text).map_err(|e| ConfigError {
            origin: origin.into(),
            key: "-".into(),
            message: e.to_string(),
        })?;
        let cfg: PipelineConfig =
            serde_path_to_error::deserialize(de).map_err(|e| ConfigError {
                origin: origin.into(),
                key: e.path().to_string(),
                message: e.inner().message().to_string(),
            })?;
        cfg.validate(origin)?;
        Ok(cfg)
    }

    /// Checks ranges; the error names the key.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let bad = |key: &str, message: String| {
            Err(ConfigError {
                origin: origin.into(),
                key: key.into(),
                message,
            })
        };
        let d = &self.data;
        if d.train_prompts == 0 || d.validation_prompts == 0 || d.test_prompts == 0 {
            return bad(
                "data.*_prompts",
                "every split needs at least one prompt".into(),
            );
        }
        if d.completions_per_prompt == 0 {
            return bad("data.completions_per_prompt", "must be at least 1".into());
        }
        if d.batch_size == 0 {
            return bad("data.batch_size", "must be at least 1".into());
        }
        let g = &self.generator;
        if !(g.top_p > 0.0 && g.top_p <= 1.0) {
            return bad("generator.top_p", format!("{} is not in (0, 1]", g.top_p));
        }
        if !(g.temperature.is_finite() && g.temperature >= 0.0) {
            return bad(
                "generator.temperature",
                format!("{} is not ≥ 0", g.temperature),
            );
        }
        if g.max_new_tokens == 0 {
            return bad("generator.max_new_tokens", "must be at least 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_overrides_and_errors_name_the_key() {
        let cfg = PipelineConfig::from_toml_str("seed = 3\n[data]\ntrain_prompts = 10\n", "t.toml")
            .unwrap();
        assert_eq!(cfg.seed, 3);
        assert_eq!(cfg.data.train_prompts, 10);
        assert_eq!(cfg.data.test_prompts, DataConfig::default().test_prompts);
        let err = PipelineConfig::from_toml_str("[data]\ntrain_prompts = \"many\"\n", "t.toml")
            .unwrap_err();
        assert_eq!(err.key, "data.train_prompts");
        let err =
            PipelineConfig::from_toml_str("[generator]\ntop_pp = 0.9\n", "t.toml").unwrap_err();
        assert!(err.key.starts_with("generator"), "{err}");
        let err =
            PipelineConfig::from_toml_str("[generator]\ntop_p = 1.5\n", "t.toml").unwrap_err();
        assert_eq!(err.key, "generator.top_p");
        assert!(err.to_string().contains("t.toml"));
    }
}
