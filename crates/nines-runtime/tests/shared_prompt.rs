//! `SharedPromptBatch` (each prompt run once, its cache copied to its completions) gives the
//! hidden states and log-probabilities of `CompletionBatch` (one `prompt ++ completion` row
//! per item), for every causal architecture, with and without gradients, whole and split at
//! every block; and gradients agree.

mod common;

use common::{fixture, max_abs_diff};
use nines_runtime::{
    CompletionBatch, DType, DeviceSpec, LanguageModel, LoadOptions, SharedPromptBatch,
};

fn load(dir: &str) -> LanguageModel {
    let opts = LoadOptions {
        device: DeviceSpec::Cpu,
        dtype: DType::F32,
    };
    LanguageModel::load(fixture(dir), opts).unwrap()
}

const PROMPTS: [&[u32]; 3] = [&[5, 9, 11, 3], &[2, 4], &[13, 14, 15, 16, 17, 19]];
/// Completions in an order that interleaves prompts; prompt 1 has three, prompt 2 one.
const COMPLETIONS: [(usize, &[u32]); 6] = [
    (1, &[6, 10, 12, 1]),
    (0, &[7, 8]),
    (2, &[18]),
    (1, &[6]),
    (0, &[20, 21, 22]),
    (1, &[3, 3]),
];

fn batches() -> (SharedPromptBatch, CompletionBatch) {
    let shared = SharedPromptBatch::new(&PROMPTS, &COMPLETIONS, 0, tch::Device::Cpu).unwrap();
    let rows: Vec<(&[u32], &[u32])> = COMPLETIONS.iter().map(|&(p, c)| (PROMPTS[p], c)).collect();
    let plain = CompletionBatch::new(&rows, 0, tch::Device::Cpu).unwrap();
    (shared, plain)
}

fn check(dir: &str) {
    let lm = load(dir);
    let model = lm.model();
    let (shared, plain) = batches();
    assert_eq!(shared.mask.size(), plain.mask.size());
    let want = tch::no_grad(|| plain.hidden(model, false)).unwrap();
    let got = tch::no_grad(|| shared.hidden(model, false)).unwrap();
    // Padding rows differ (the plain batch reads padding tokens there); compare real ones.
    let m = plain.mask.unsqueeze(-1).to_kind(tch::Kind::Float);
    assert!(
        max_abs_diff(&(&want * &m), &(&got * &m)) < 1e-5,
        "{dir}: hidden states differ"
    );
    let lp_want = tch::no_grad(|| plain.logprobs(model, false)).unwrap();
    let lp_got = tch::no_grad(|| shared.logprobs(model, false)).unwrap();
    assert!(max_abs_diff(&lp_want, &lp_got) < 1e-4, "{dir}: logprobs");

    for split in 0..=model.spec().num_layers {
        let trunk = tch::no_grad(|| shared.trunk(model, split)).unwrap();
        let above = tch::no_grad(|| shared.hidden_above(model, &trunk, split, false)).unwrap();
        assert!(
            max_abs_diff(&(&got * &m), &(&above * &m)) < 1e-5,
            "{dir}: split at {split}"
        );
    }

    // Gradients of the summed log-probabilities agree parameter by parameter.
    let grads = |f: &dyn Fn() -> tch::Tensor| {
        let vars = lm.var_store().trainable_variables();
        for v in &vars {
            let mut g = v.grad();
            if g.defined() {
                let _ = g.zero_();
            }
        }
        f().sum(tch::Kind::Float).backward();
        vars.iter().map(|v| v.grad().copy()).collect::<Vec<_>>()
    };
    let g_plain = grads(&|| plain.logprobs(model, false).unwrap());
    let g_shared = grads(&|| shared.logprobs(model, false).unwrap());
    assert!(!g_plain.is_empty(), "{dir}: no trainable variables");
    for (a, b) in g_plain.iter().zip(&g_shared) {
        assert!(max_abs_diff(a, b) < 1e-4, "{dir}: gradients differ");
    }
}

#[test]
fn llama_shared_prompts_match_plain_rows() {
    check("llama");
}

#[test]
fn gpt2_shared_prompts_match_plain_rows() {
    check("gpt2");
}

#[test]
fn gpt_neo_shared_prompts_match_plain_rows() {
    check("gpt_neo");
}

#[test]
fn bad_batches_are_typed_errors() {
    let cpu = tch::Device::Cpu;
    assert!(SharedPromptBatch::new(&PROMPTS, &[], 0, cpu).is_err());
    assert!(SharedPromptBatch::new(&PROMPTS, &[(3, &[1])], 0, cpu).is_err());
    assert!(SharedPromptBatch::new(&PROMPTS, &[(0, &[])], 0, cpu).is_err());
    assert!(SharedPromptBatch::new(&[&[]], &[(0, &[1])], 0, cpu).is_err());
}

/// `LanguageModel::score_ids` shares a prompt repeated within a batch: the same
/// log-probabilities as scoring every item alone, for each architecture.
#[test]
fn scoring_repeated_prompts_matches_scoring_items_alone() {
    for dir in ["llama", "gpt2", "gpt_neo"] {
        let lm = load(dir);
        let items: Vec<(Vec<u32>, Vec<u32>)> = vec![
            (vec![5, 17, 42], vec![7, 99]),
            (vec![5, 17, 42], vec![3, 8, 11, 2]),
            (vec![9, 4], vec![1]),
            (vec![5, 17, 42], vec![64]),
            (vec![9, 4], vec![30, 31, 32]),
            (vec![2, 4, 6, 8], vec![10, 12]),
        ];
        let alone = lm.score_ids(&items, 1).unwrap();
        // The first batch shares prompts each time; the second of 4 and of 5 shares none.
        for batch in [4, 5, 6] {
            let together = lm.score_ids(&items, batch).unwrap();
            assert_eq!(together.len(), items.len());
            for (i, (a, b)) in alone.iter().zip(&together).enumerate() {
                assert_eq!(a.len(), items[i].1.len(), "{dir}: item {i}");
                assert_eq!(a.len(), b.len(), "{dir}: item {i}");
                for (x, y) in a.iter().zip(b) {
                    assert!((x - y).abs() < 1e-4, "{dir} item {i}: {x} vs {y}");
                }
            }
        }
    }
}
