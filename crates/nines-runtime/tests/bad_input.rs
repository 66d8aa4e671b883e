//! Bad input gives a typed error that names the file, tensor or field — never a panic.

mod common;

use std::path::Path;

use common::fixture;
use nines_runtime::{DType, DeviceSpec, GenerateConfig, LanguageModel, LoadOptions, RuntimeError};

fn cpu() -> LoadOptions {
    LoadOptions {
        device: DeviceSpec::Cpu,
        dtype: DType::F32,
    }
}

/// A scratch copy of the tiny Llama fixture whose config.json is edited by `edit`.
fn llama_copy(edit: impl FnOnce(&mut serde_json::Value)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in ["model.safetensors", "tokenizer.json"] {
        std::fs::copy(fixture("llama").join(f), dir.path().join(f)).unwrap();
    }
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("llama/config.json")).unwrap())
            .unwrap();
    edit(&mut cfg);
    std::fs::write(dir.path().join("config.json"), cfg.to_string()).unwrap();
    dir
}

fn load_err(path: &Path) -> RuntimeError {
    LanguageModel::load(path, cpu()).expect_err("load must fail")
}

#[test]
fn missing_model_path() {
    let err = load_err(Path::new("/nonexistent/model"));
    assert!(matches!(err, RuntimeError::MissingFile { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/model"));
}

#[test]
fn missing_weights_and_tokenizer() {
    let dir = llama_copy(|_| {});
    std::fs::remove_file(dir.path().join("tokenizer.json")).unwrap();
    let err = load_err(dir.path());
    assert!(
        matches!(err, RuntimeError::MissingFile { .. })
            && err.to_string().contains("tokenizer.json"),
        "{err}"
    );
    let dir = llama_copy(|_| {});
    std::fs::remove_file(dir.path().join("model.safetensors")).unwrap();
    let err = load_err(dir.path());
    assert!(
        matches!(err, RuntimeError::MissingFile { .. })
            && err.to_string().contains("model.safetensors"),
        "{err}"
    );
}

#[test]
fn corrupt_config_and_weights() {
    let dir = llama_copy(|_| {});
    std::fs::write(
        dir.path().join("config.json"),
        "{ \"model_type\": \"llama\", ",
    )
    .unwrap();
    let err = load_err(dir.path());
    assert!(
        matches!(err, RuntimeError::Json { .. }) && err.to_string().contains("config.json"),
        "{err}"
    );

    let dir = llama_copy(|_| {});
    std::fs::write(
        dir.path().join("model.safetensors"),
        b"\x10\x00\x00\x00\x00\x00\x00\x00{not json",
    )
    .unwrap();
    let err = load_err(dir.path());
    assert!(
        matches!(err, RuntimeError::Corrupt { .. })
            && err.to_string().contains("model.safetensors"),
        "{err}"
    );
}

#[test]
fn unknown_architecture() {
    let dir = llama_copy(|c| c["model_type"] = "mamba".into());
    let err = load_err(dir.path());
    assert!(
        matches!(err, RuntimeError::UnknownArchitecture { .. })
            && err.to_string().contains("mamba"),
        "{err}"
    );
}

#[test]
fn config_weight_shape_mismatch_names_the_tensor() {
    let dir = llama_copy(|c| c["intermediate_size"] = 99.into());
    let err = load_err(dir.path());
    match &err {
        RuntimeError::ShapeMismatch { tensor, .. } => assert!(tensor.contains("mlp"), "{err}"),
        other => panic!("expected a shape mismatch, got {other}"),
    }
    assert!(err.to_string().contains("model.safetensors"));
}

#[test]
fn missing_tensor_names_it() {
    let dir = llama_copy(|c| c["num_hidden_layers"] = 3.into());
    let err = load_err(dir.path());
    assert!(
        matches!(err, RuntimeError::MissingTensor { .. })
            && err.to_string().contains("model.layers.2."),
        "{err}"
    );
}

#[test]
fn invalid_config_values_name_the_field() {
    let dir = llama_copy(|c| c["num_key_value_heads"] = 3.into());
    let err = load_err(dir.path());
    assert!(
        matches!(err, RuntimeError::Config { .. })
            && err.to_string().contains("num_key_value_heads"),
        "{err}"
    );
}

#[test]
fn tokenizer_larger_than_vocabulary() {
    let dir = llama_copy(|c| c["vocab_size"] = 100.into());
    let err = load_err(dir.path());
    assert!(matches!(err, RuntimeError::VocabMismatch { .. }), "{err}");
    assert!(err.to_string().contains("tokenizer.json"), "{err}");
}

#[test]
fn bad_prompts_and_settings() {
    let lm = LanguageModel::load(fixture("llama"), cpu()).unwrap();
    let ok = GenerateConfig {
        max_new_tokens: 4,
        ..Default::default()
    };
    let err = lm.generate(&["   "], &ok).expect_err("empty prompt");
    assert!(matches!(err, RuntimeError::InvalidInput(_)), "{err}");
    let long = "the keeper ".repeat(200);
    let err = lm.generate(&[long.as_str()], &ok).expect_err("too long");
    assert!(
        matches!(err, RuntimeError::PromptTooLong { context: 64, .. }),
        "{err}"
    );
    for (cfg, field) in [
        (
            GenerateConfig {
                top_p: 0.0,
                ..ok.clone()
            },
            "top_p",
        ),
        (
            GenerateConfig {
                top_p: 1.5,
                ..ok.clone()
            },
            "top_p",
        ),
        (
            GenerateConfig {
                temperature: -1.0,
                ..ok.clone()
            },
            "temperature",
        ),
        (
            GenerateConfig {
                temperature: f64::NAN,
                ..ok.clone()
            },
            "temperature",
        ),
        (
            GenerateConfig {
                max_new_tokens: 0,
                ..ok.clone()
            },
            "max_new_tokens",
        ),
        (
            GenerateConfig {
                min_new_tokens: 9,
                ..ok.clone()
            },
            "min_new_tokens",
        ),
    ] {
        let err = lm
            .generate(&["The sea."], &cfg)
            .expect_err("invalid setting");
        assert!(
            matches!(err, RuntimeError::InvalidSetting { field: f, .. } if f == field),
            "{err}"
        );
    }
    let err = lm
        .generate_ids_n(&[vec![5000]], 1, &ok)
        .expect_err("id outside vocabulary");
    assert!(err.to_string().contains("5000"), "{err}");
    let err = lm
        .score_ids(&[(vec![1], vec![])], 2)
        .expect_err("empty completion");
    assert!(matches!(err, RuntimeError::InvalidInput(_)), "{err}");
    assert!(
        "cuda:7".parse::<DeviceSpec>().unwrap().resolve().is_err() || tch::Cuda::device_count() > 7
    );
}

#[test]
fn generation_on_tiny_model_behaves() {
    let lm = LanguageModel::load(fixture("gpt2"), cpu()).unwrap();
    let cfg = GenerateConfig {
        max_new_tokens: 6,
        min_new_tokens: 6,
        seed: 3,
        ..Default::default()
    };
    let out = lm
        .generate_n(
            &["The keeper", "A much longer prompt about the sea"],
            3,
            &cfg,
        )
        .unwrap();
    assert_eq!(out.len(), 2);
    for gens in &out {
        assert_eq!(gens.len(), 3);
        for g in gens {
            assert_eq!(g.token_ids.len(), 6);
            assert!(
                !g.token_ids.contains(&0),
                "EOS banned before min_new_tokens"
            );
        }
    }
    // Different seeds give different samples (with overwhelming probability for 18 draws).
    let other = lm
        .generate_n(
            &["The keeper", "A much longer prompt about the sea"],
            3,
            &GenerateConfig {
                seed: 4,
                ..cfg.clone()
            },
        )
        .unwrap();
    assert_ne!(out, other);
    let scored = lm.score(&[("The keeper", " watched")], 1).unwrap();
    assert!(!scored[0].is_empty() && scored[0].iter().all(|l| *l < 0.0));
}
