//! Running the block stack in pieces (`embed`, `forward_blocks`, `final_norm`) gives the same
//! hidden states as one `forward_hidden` pass, for every causal architecture, with and without
//! gradients; `CompletionBatch::hidden_above` over a wider trunk gives `hidden`.

mod common;

use common::{fixture, max_abs_diff};
use nines_runtime::{CompletionBatch, DType, DeviceSpec, LanguageModel, LoadOptions};

fn load(dir: &str) -> LanguageModel {
    let opts = LoadOptions {
        device: DeviceSpec::Cpu,
        dtype: DType::F32,
    };
    LanguageModel::load(fixture(dir), opts).unwrap()
}

fn check(dir: &str) {
    let lm = load(dir);
    let model = lm.model();
    let layers = model.spec().num_layers;
    let items: [(&[u32], &[u32]); 3] = [
        (&[5, 9, 11, 3], &[7, 8]),
        (&[2, 4], &[6, 10, 12, 1]),
        (&[13, 14, 15, 16, 17], &[18]),
    ];
    let batch = CompletionBatch::new(&items, 0, tch::Device::Cpu).unwrap();
    let whole = tch::no_grad(|| batch.hidden(model, false)).unwrap();
    for split in 0..=layers {
        let trunk = tch::no_grad(|| batch.trunk(model, split)).unwrap();
        // Without gradients (scoring) and with them (training above the split).
        let above = tch::no_grad(|| batch.hidden_above(model, &trunk, split, false)).unwrap();
        assert!(
            max_abs_diff(&whole, &above) < 1e-5,
            "{dir}: split at {split} changes the hidden states"
        );
        let trained = batch.hidden_above(model, &trunk, split, false).unwrap();
        assert!(
            max_abs_diff(&whole, &trained.detach()) < 1e-5,
            "{dir}: split {split}, grad"
        );
    }
    // A trunk from a wider batch (extra padded columns) serves a narrower one.
    let narrow = CompletionBatch::new(&items[..2], 0, tch::Device::Cpu).unwrap();
    let wide_trunk = tch::no_grad(|| batch.trunk(model, 1))
        .unwrap()
        .narrow(0, 0, 2);
    let a = tch::no_grad(|| narrow.hidden(model, false)).unwrap();
    let b = tch::no_grad(|| narrow.hidden_above(model, &wide_trunk, 1, false)).unwrap();
    assert!(max_abs_diff(&a, &b) < 1e-5, "{dir}: wider trunk");
}

#[test]
fn llama_split_forward_matches_the_whole_pass() {
    check("llama");
}

#[test]
fn gpt2_split_forward_matches_the_whole_pass() {
    check("gpt2");
}

#[test]
fn gpt_neo_split_forward_matches_the_whole_pass() {
    check("gpt_neo");
}
