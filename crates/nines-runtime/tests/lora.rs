//! LoRA adapters: zero at start, trainable alone, and merged without changing the function.

mod common;

use common::{fixture, max_abs_diff, read_tensors};
use nines_runtime::models::{LoraConfig, is_lora_parameter};
use nines_runtime::train::freeze_all_but_top_layers;
use nines_runtime::{DType, DeviceSpec, LanguageModel, LoadOptions};
use tch::Tensor;

fn logits(lm: &LanguageModel) -> Tensor {
    let r = read_tensors("llama/reference.safetensors");
    let ids = r["input_ids"].get(0).unsqueeze(0);
    let pos = r["position_ids"].get(0).unsqueeze(0);
    tch::no_grad(|| lm.model().forward(&ids, &pos, None, None)).unwrap()
}

fn check(dir: &str, targets: &[&str]) {
    let opts = LoadOptions {
        device: DeviceSpec::Cpu,
        dtype: DType::F32,
    };
    let base = LanguageModel::load(fixture(dir), opts).unwrap();
    let cfg = LoraConfig {
        rank: 4,
        alpha: 8.0,
        targets: targets.iter().map(|s| s.to_string()).collect(),
    };
    let mut lm = LanguageModel::load_with_lora(fixture(dir), opts, Some(cfg)).unwrap();
    let adapters: Vec<String> = lm
        .var_store()
        .variables()
        .into_keys()
        .filter(|n| is_lora_parameter(n))
        .collect();
    assert_eq!(adapters.len(), 2 * 2 * targets.len(), "{dir}: {adapters:?}");
    assert!(
        max_abs_diff(&logits(&base), &logits(&lm)) < 1e-6,
        "{dir}: zero adapters change nothing"
    );

    // Only adapters train.
    let trainable = freeze_all_but_top_layers(lm.var_store(), 2, 0, &["lora_"]);
    let adapter_elems: i64 = lm
        .var_store()
        .variables()
        .iter()
        .filter(|(n, _)| is_lora_parameter(n))
        .map(|(_, t)| t.numel() as i64)
        .sum();
    assert_eq!(trainable, adapter_elems);

    // Give the B matrices values, then merging keeps the function and zeroes the adapters.
    tch::manual_seed(0);
    tch::no_grad(|| {
        for (name, t) in lm.var_store().variables() {
            if name.ends_with("lora_B.weight") {
                t.shallow_clone()
                    .copy_(&(Tensor::randn(t.size(), (tch::Kind::Float, tch::Device::Cpu)) * 0.5));
            }
        }
    });
    let adapted = logits(&lm);
    assert!(
        max_abs_diff(&adapted, &logits(&base)) > 1e-3,
        "{dir}: trained adapters matter"
    );
    assert_eq!(lm.merge_lora(), 2 * targets.len());
    assert!(
        max_abs_diff(&adapted, &logits(&lm)) < 1e-4,
        "{dir}: merged = adapted"
    );
}

#[test]
fn llama_lora_merges_exactly() {
    check("llama", &["q_proj", "v_proj"]);
}

#[test]
fn gpt2_conv1d_lora_merges_exactly() {
    check("gpt2", &["c_attn"]);
}

#[test]
fn invalid_lora_settings_are_rejected() {
    let opts = LoadOptions {
        device: DeviceSpec::Cpu,
        dtype: DType::F32,
    };
    let err = LanguageModel::load_with_lora(
        fixture("llama"),
        opts,
        Some(LoraConfig {
            rank: 0,
            ..Default::default()
        }),
    )
    .unwrap_err();
    assert!(err.to_string().contains("lora.rank"), "{err}");
}
