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

/// A post-processor whose template names a special token the tokenizer does not define
/// loads in the tokenizers library and panics at the first encode: the runtime's load probes
/// it and returns a typed error naming the file.
#[test]
fn tokenizer_template_with_an_undefined_special_token() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["model.safetensors", "config.json"] {
        std::fs::copy(fixture("llama").join(f), dir.path().join(f)).unwrap();
    }
    let mut tok: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("llama/tokenizer.json")).unwrap())
            .unwrap();
    tok["post_processor"] = serde_json::json!({
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": "<nope>", "type_id": 0}},
                   {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [{"Sequence": {"id": "A", "type_id": 0}},
                 {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {}
    });
    std::fs::write(dir.path().join("tokenizer.json"), tok.to_string()).unwrap();
    let err = load_err(dir.path());
    assert!(matches!(err, RuntimeError::Tokenizer { .. }), "{err}");
    assert!(err.to_string().contains("tokenizer.json"), "{err}");
}

/// Sizes that would wrap, go negative or exhaust memory are refused before any work.
#[test]
fn generation_sizes_are_checked() {
    let lm = LanguageModel::load(fixture("llama"), cpu()).unwrap();
    let cfg = |f: fn(&mut GenerateConfig)| {
        let mut c = GenerateConfig {
            max_new_tokens: 4,
            seed: 1,
            ..Default::default()
        };
        f(&mut c);
        c
    };
    let err = lm
        .generate(&["The door"], &cfg(|c| c.max_new_tokens = usize::MAX))
        .unwrap_err();
    assert!(
        matches!(
            err,
            RuntimeError::InvalidSetting {
                field: "max_new_tokens",
                ..
            }
        ),
        "{err}"
    );
    let err = lm
        .generate(&["The door"], &cfg(|c| c.max_new_tokens = 1 << 20))
        .unwrap_err();
    assert!(matches!(err, RuntimeError::PromptTooLong { .. }), "{err}");
    // A top-k beyond the vocabulary, however large, keeps every token.
    let out = lm
        .generate(&["The door"], &cfg(|c| c.top_k = usize::MAX))
        .unwrap();
    assert_eq!(out.len(), 1);
    let err = lm
        .generate_n(&["The door"], 100_000_000, &cfg(|_| {}))
        .unwrap_err();
    assert!(
        matches!(err, RuntimeError::InvalidSetting { field: "n", .. }),
        "{err}"
    );
    for threads in [-4, 100_000] {
        let err = nines_runtime::device::set_threads(threads).unwrap_err();
        assert!(
            matches!(
                err,
                RuntimeError::InvalidSetting {
                    field: "threads",
                    ..
                }
            ),
            "{err}"
        );
    }
}

/// Sizes of 10^9 or 2^40 and non-finite or non-positive constants are refused when the
/// configuration is read, naming the field, before anything is allocated.
#[test]
fn huge_sizes_and_bad_constants_name_the_field() {
    let cases: [(&str, serde_json::Value, &str); 9] = [
        ("hidden_size", 1_000_000_000u64.into(), "hidden_size"),
        ("vocab_size", (1u64 << 40).into(), "vocab_size"),
        (
            "intermediate_size",
            1_000_000_000u64.into(),
            "intermediate_size",
        ),
        (
            "num_hidden_layers",
            (1u64 << 40).into(),
            "num_hidden_layers",
        ),
        (
            "max_position_embeddings",
            1_000_000_000u64.into(),
            "max_position_embeddings",
        ),
        ("rms_norm_eps", (-1.0).into(), "rms_norm_eps"),
        ("rms_norm_eps", 0.0.into(), "rms_norm_eps"),
        (
            "rope_parameters",
            serde_json::json!({"rope_theta": 0.0, "rope_type": "default"}),
            "rope_theta",
        ),
        (
            "rope_parameters",
            serde_json::json!({"rope_theta": -1.0, "rope_type": "default"}),
            "rope_theta",
        ),
    ];
    for (key, value, field) in cases {
        let dir = llama_copy(|c| c[key] = value.clone());
        match load_err(dir.path()) {
            RuntimeError::Config { field: f, .. } => assert_eq!(f, field, "{key} = {value}"),
            other => panic!("{key} = {value}: {other}"),
        }
    }
    // Within every limit but far beyond this machine's memory: said with the estimate.
    let dir = llama_copy(|c| {
        c["vocab_size"] = 10_000_000u64.into();
        c["hidden_size"] = 131_072u64.into();
        c["head_dim"] = 16u64.into();
    });
    let err = load_err(dir.path());
    assert!(
        matches!(err, RuntimeError::Config { .. }) && err.to_string().contains("GiB"),
        "{err}"
    );
}

/// A safetensors header that lists a tensor twice is a corrupt file, not a silent pick of
/// one of the two.
#[test]
fn safetensors_header_with_a_duplicate_key() {
    let dir = llama_copy(|_| {});
    let path = dir.path().join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&bytes[8..8 + len]).unwrap().trim_end();
    let header: serde_json::Map<String, serde_json::Value> = serde_json::from_str(header).unwrap();
    let (name, info) = header
        .iter()
        .find(|(k, _)| k.as_str() != "__metadata__")
        .unwrap();
    // The same entry again, spliced in as text (a JSON map cannot hold it twice).
    let text = serde_json::to_string(&header).unwrap();
    let dup = format!(
        "{{{}:{},{}",
        serde_json::to_string(name).unwrap(),
        info,
        &text[1..]
    );
    let mut padded = dup.into_bytes();
    while padded.len() < len {
        padded.push(b' ');
    }
    assert!(padded.len() <= len + 4096);
    let mut out = (padded.len() as u64).to_le_bytes().to_vec();
    out.extend(&padded);
    out.extend(&bytes[8 + len..]);
    std::fs::write(&path, out).unwrap();
    let err = load_err(dir.path());
    assert!(
        matches!(err, RuntimeError::Corrupt { .. }) && err.to_string().contains("listed twice"),
        "{err}"
    );
}

/// Special token ids are whole numbers inside the model's vocabulary; a negative or too large
/// one is an error naming the field, not a silent fallback or an index error mid-generation.
#[test]
fn special_token_ids_outside_the_vocabulary() {
    for (value, field) in [
        (serde_json::json!(-1), "eos_token_id"),
        (serde_json::json!(1.5), "eos_token_id"),
        (serde_json::json!([0, 320]), "eos_token_id"),
        (serde_json::json!(1u64 << 33), "eos_token_id"),
    ] {
        let dir = llama_copy(|c| c["eos_token_id"] = value.clone());
        match load_err(dir.path()) {
            RuntimeError::Config { field: f, .. } => assert_eq!(f, field, "{value}"),
            other => panic!("eos_token_id = {value}: {other}"),
        }
    }
    let dir = llama_copy(|c| c["eos_token_id"] = serde_json::Value::Null);
    LanguageModel::load(dir.path(), cpu())
        .expect("a null eos_token_id falls back to the tokenizer's");
}

/// Dropout probabilities outside [0, 1) are refused at load, not by LibTorch at the first
/// training step; `attention_types` that would expand to 10^12 layers are refused before
/// anything is expanded.
#[test]
fn dropout_and_layer_pattern_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["model.safetensors", "tokenizer.json"] {
        std::fs::copy(fixture("gpt_neo").join(f), dir.path().join(f)).unwrap();
    }
    let base: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("gpt_neo/config.json")).unwrap())
            .unwrap();
    let cases = [
        ("resid_dropout", serde_json::json!(1.5)),
        ("embed_dropout", serde_json::json!(-0.1)),
        (
            "attention_types",
            serde_json::json!([[["global"], 1_000_000_000_000u64]]),
        ),
    ];
    for (key, value) in cases {
        let mut cfg = base.clone();
        cfg[key] = value.clone();
        if key == "attention_types" {
            // The per-layer list, when present, wins over the pattern.
            cfg.as_object_mut().unwrap().remove("attention_layers");
        }
        std::fs::write(dir.path().join("config.json"), cfg.to_string()).unwrap();
        match load_err(dir.path()) {
            RuntimeError::Config { field, .. } => assert_eq!(field, key, "{value}"),
            other => panic!("{key} = {value}: {other}"),
        }
    }
}

/// The model's forward pass returns typed errors for inputs LibTorch would refuse: an id
/// outside the vocabulary, positions or a key mask of the wrong shape, hidden states of the
/// wrong width, for every causal architecture.
#[test]
fn forward_pass_refuses_bad_tensors() {
    use nines_runtime::tch::{Kind, Tensor};
    for dir in ["llama", "gpt2", "gpt_neo"] {
        let lm = LanguageModel::load(fixture(dir), cpu()).unwrap();
        let model = lm.model();
        let vocab = model.spec().vocab_size as i64;
        let ids = Tensor::from_slice(&[1i64, 2, 3]).view([1, 3]);
        let pos = Tensor::from_slice(&[0i64, 1, 2]).view([1, 3]);
        assert!(model.forward(&ids, &pos, None, None).is_ok(), "{dir}");
        let oov = Tensor::from_slice(&[1i64, vocab + 5, 3]).view([1, 3]);
        match model.forward(&oov, &pos, None, None) {
            Err(RuntimeError::TorchOp { op, .. }) => assert_eq!(op, "embedding lookup", "{dir}"),
            other => panic!("{dir}: {other:?}"),
        }
        let short = Tensor::from_slice(&[0i64, 1]).view([1, 2]);
        assert!(
            matches!(
                model.forward(&ids, &short, None, None),
                Err(RuntimeError::InvalidInput(_))
            ),
            "{dir}"
        );
        let mask = Tensor::ones([1, 2], (Kind::Bool, nines_runtime::tch::Device::Cpu));
        assert!(
            matches!(
                model.forward(&ids, &pos, Some(&mask), None),
                Err(RuntimeError::InvalidInput(_))
            ),
            "{dir}"
        );
        let wide = Tensor::zeros(
            [1, 3, model.spec().hidden_size as i64 + 1],
            (Kind::Float, nines_runtime::tch::Device::Cpu),
        );
        assert!(
            matches!(model.logits(&wide), Err(RuntimeError::InvalidInput(_))),
            "{dir}"
        );
        assert!(
            matches!(model.final_norm(&wide), Err(RuntimeError::InvalidInput(_))),
            "{dir}"
        );
        // The stack in pieces: a residual stream of the wrong width, blocks past the stack.
        let layers = model.spec().num_layers;
        assert!(
            matches!(
                model.forward_blocks(wide.shallow_clone(), &pos, None, None, 0..1, false),
                Err(RuntimeError::InvalidInput(_))
            ),
            "{dir}"
        );
        let x = model.embed(&ids, &pos, false).unwrap();
        assert!(
            matches!(
                model.forward_blocks(x.shallow_clone(), &pos, None, None, 0..layers + 1, false),
                Err(RuntimeError::InvalidInput(_))
            ),
            "{dir}"
        );
        let x = model
            .forward_blocks(x, &pos, None, None, 0..layers, false)
            .unwrap();
        assert!(model.final_norm(&x).is_ok(), "{dir}");
    }
}
