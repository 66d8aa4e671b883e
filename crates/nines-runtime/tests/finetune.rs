//! Causal-LM fine-tuning on the tiny random-weight fixtures: every architecture trains,
//! runs resume bit for bit, exports load back (and match), and bad input or faults give
//! typed errors with the previous checkpoint intact.

mod common;

use std::path::{Path, PathBuf};

use nines_runtime::models::LoraConfig;
use nines_runtime::tch::{Kind, Tensor};
use nines_runtime::train::{
    FinetuneConfig, FinetuneError, Finetuner, PackedTokens, RunOptions, export_hf,
};
use nines_runtime::{DeviceSpec, LanguageModel, LoadOptions, RuntimeError};

use common::{fixture, max_abs_diff};

const TEXTS: [&str; 4] = [
    "Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse, I thought I would sail about a little and see the watery part of the world.",
    "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife.",
    "My father's family name being Pirrip, and my Christian name Philip, my infant tongue could make of both names nothing longer or more explicit than Pip.",
    "No one would have believed in the last years of the nineteenth century that this world was being watched keenly and closely by intelligences greater than man's.",
];

fn cpu() -> LoadOptions {
    LoadOptions {
        device: DeviceSpec::Cpu,
        ..Default::default()
    }
}

fn cfg(steps: usize) -> FinetuneConfig {
    FinetuneConfig {
        seq_len: 16,
        batch_size: 2,
        grad_accum: 2,
        max_steps: steps,
        lr: 3e-3,
        warmup_steps: 2,
        top_layers: None,
        ..Default::default()
    }
}

fn trainer(model: &Path, cfg: FinetuneConfig) -> Finetuner {
    let lm = LanguageModel::load_with_lora(model, cpu(), cfg.lora.clone()).unwrap();
    let data = PackedTokens::pack(lm.tokenizer(), &TEXTS, cfg.seq_len).unwrap();
    Finetuner::new(lm, data, cfg).unwrap()
}

fn quiet(dir: &Path) -> RunOptions {
    RunOptions {
        checkpoint_every: 2,
        eval_sequences: 0,
        ..RunOptions::new(dir)
    }
}

fn weights(lm: &LanguageModel) -> Vec<(String, Vec<f32>)> {
    let mut v: Vec<(String, Vec<f32>)> = lm
        .var_store()
        .variables()
        .into_iter()
        .map(|(n, t)| (n, Vec::<f32>::try_from(t.flatten(0, -1)).unwrap()))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn logits(lm: &LanguageModel, text: &str) -> Tensor {
    let ids: Vec<i64> = lm
        .tokenizer()
        .encode_with(text, false)
        .unwrap()
        .into_iter()
        .map(i64::from)
        .collect();
    let t = ids.len() as i64;
    let ids = Tensor::from_slice(&ids).view([1, t]);
    let pos = Tensor::arange(t, (Kind::Int64, nines_runtime::tch::Device::Cpu)).view([1, t]);
    let _g = nines_runtime::tch::no_grad_guard();
    lm.model().forward(&ids, &pos, None, None).unwrap()
}

#[test]
fn packing_marks_document_boundaries_with_eos() {
    let lm = LanguageModel::load(fixture("gpt2"), cpu()).unwrap();
    let eos = i64::from(lm.tokenizer().eos_ids()[0]);
    let p = PackedTokens::pack(lm.tokenizer(), &TEXTS, 8).unwrap();
    let all: Vec<i64> = (0..p.num_sequences())
        .flat_map(|i| p.sequence(i).to_vec())
        .collect();
    assert!(all.iter().filter(|&&t| t == eos).count() >= TEXTS.len() - 1);
    assert_eq!(p.num_documents(), TEXTS.len());
    assert_eq!(all.len(), p.num_sequences() * 8);
}

#[test]
fn empty_or_tiny_corpus_is_a_typed_error() {
    let lm = LanguageModel::load(fixture("llama"), cpu()).unwrap();
    let empty: [&str; 0] = [];
    for docs in [&empty[..], &["", "   "][..], &["Hi."][..]] {
        let err = PackedTokens::pack(lm.tokenizer(), docs, 64).unwrap_err();
        assert!(matches!(err, RuntimeError::InvalidInput(_)), "{err}");
        assert!(err.to_string().contains("fewer than one sequence"), "{err}");
    }
}

#[test]
fn every_architecture_learns_the_training_text() {
    for arch in ["llama", "gpt2", "gpt_neo"] {
        let mut ft = trainer(&fixture(arch), cfg(12));
        let data = PackedTokens::pack(ft.model().tokenizer(), &TEXTS, 16).unwrap();
        let before = ft.evaluate(&data, 0).unwrap();
        for _ in 0..12 {
            let m = ft.train_step().unwrap();
            assert!(m.loss.is_finite() && m.grad_norm.is_finite() && m.tokens_per_s > 0.0);
        }
        let after = ft.evaluate(&data, 0).unwrap();
        assert!(
            after.perplexity < 0.8 * before.perplexity,
            "{arch}: perplexity {} -> {}",
            before.perplexity,
            after.perplexity
        );
    }
}

#[test]
fn top_layers_and_lora_train_only_what_they_should() {
    let mut top = cfg(3);
    top.top_layers = Some(1);
    let mut ft = trainer(&fixture("llama"), top);
    let before = weights(ft.model());
    for _ in 0..3 {
        ft.train_step().unwrap();
    }
    let after = weights(ft.model());
    for ((name, a), (_, b)) in before.iter().zip(&after) {
        let changed = a != b;
        let should = name.starts_with("model.layers.1.") || name.starts_with("model.norm.");
        assert_eq!(changed, should, "{name}");
    }

    let mut lora = cfg(3);
    lora.lora = Some(LoraConfig {
        rank: 4,
        alpha: 8.0,
        targets: vec!["q_proj".into(), "v_proj".into(), "down_proj".into()],
    });
    let mut ft = trainer(&fixture("llama"), lora);
    let before = weights(ft.model());
    for _ in 0..3 {
        ft.train_step().unwrap();
    }
    for ((name, a), (_, b)) in before.iter().zip(&weights(ft.model())) {
        let is_lora = name.contains("lora_");
        if !is_lora {
            assert_eq!(a, b, "{name} is frozen");
        }
        if name.contains("lora_B") {
            assert_ne!(a, b, "{name} trains");
        }
    }
}

#[test]
fn lora_merges_exports_and_loads_back_with_the_same_logits() {
    for arch in ["llama", "gpt2"] {
        let targets = if arch == "gpt2" {
            vec!["c_attn".to_string(), "c_fc".to_string()]
        } else {
            vec!["q_proj".to_string(), "up_proj".to_string()]
        };
        let mut c = cfg(4);
        c.lora = Some(LoraConfig {
            rank: 4,
            alpha: 8.0,
            targets,
        });
        c.lr = 1e-2;
        let mut ft = trainer(&fixture(arch), c);
        for _ in 0..4 {
            ft.train_step().unwrap();
        }
        let mut lm = ft.into_model();
        let text = "Call me Ishmael, said the whale.";
        let adapted = logits(&lm, text);
        let base = logits(&LanguageModel::load(fixture(arch), cpu()).unwrap(), text);
        assert!(
            max_abs_diff(&adapted, &base) > 1e-4,
            "{arch}: adapters changed nothing"
        );
        let dir = tempfile::tempdir().unwrap();
        let out = export_hf(&mut lm, &dir.path().join("hf")).unwrap();
        for f in ["config.json", "model.safetensors", "tokenizer.json"] {
            assert!(out.join(f).is_file(), "{arch}: {f}");
        }
        let back = LanguageModel::load(&out, cpu()).unwrap();
        let d = max_abs_diff(&logits(&back, text), &adapted);
        assert!(d < 1e-4, "{arch}: exported logits differ by {d}");
        let stored = Tensor::read_safetensors(out.join("model.safetensors")).unwrap();
        assert!(stored.iter().all(|(n, _)| !n.contains("lora_")));
    }
}

#[test]
fn gguf_exports_dequantized_and_loads_back() {
    let src = fixture("gguf/tiny_llama.gguf");
    let mut lm = LanguageModel::load(&src, cpu()).unwrap();
    let text = "The ship rolled.";
    let want = logits(&lm, text);
    let dir = tempfile::tempdir().unwrap();
    let out = export_hf(&mut lm, &dir.path().join("hf")).unwrap();
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["model_type"], "llama");
    let back = LanguageModel::load(&out, cpu()).unwrap();
    assert!(max_abs_diff(&logits(&back, text), &want) < 1e-5);
    assert_eq!(
        back.tokenizer().encode_with(text, false).unwrap(),
        lm.tokenizer().encode_with(text, false).unwrap()
    );
    // Exporting again over an existing folder replaces it.
    export_hf(&mut lm, &out).unwrap();
    assert!(LanguageModel::load(&out, cpu()).is_ok());
}

#[test]
fn resumed_run_continues_bit_for_bit() {
    let mut c = cfg(6);
    c.top_layers = Some(1);
    let dir = tempfile::tempdir().unwrap();

    let mut straight = trainer(&fixture("gpt_neo"), c.clone());
    for _ in 0..6 {
        straight.train_step().unwrap();
    }

    let mut first = trainer(&fixture("gpt_neo"), c.clone());
    for _ in 0..3 {
        first.train_step().unwrap();
    }
    let ck = first.save_checkpoint(dir.path()).unwrap();
    let position = first.position();
    drop(first);
    let mut second = trainer(&fixture("gpt_neo"), c);
    second.resume_from(dir.path()).unwrap();
    assert_eq!(second.steps_done(), 3);
    assert_eq!(second.position(), position);
    assert_eq!(second.last_checkpoint(), Some(ck.as_path()));
    for _ in 0..3 {
        second.train_step().unwrap();
    }
    assert_eq!(weights(straight.model()), weights(second.model()));
}

#[test]
fn run_logs_metrics_checkpoints_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let lm = LanguageModel::load(fixture("llama"), cpu()).unwrap();
    let valid = PackedTokens::pack(lm.tokenizer(), &TEXTS[2..], 16).unwrap();
    let mut c = cfg(4);
    c.top_layers = Some(1);
    let mut ft = trainer(&fixture("llama"), c.clone());
    let mut opts = quiet(dir.path());
    opts.eval_every = 2;
    let report = ft.run(Some(&valid), &opts).unwrap();
    assert_eq!(report.steps, 4);
    assert!(report.initial_ppl.is_some() && report.final_ppl.is_some());
    let metrics = std::fs::read_to_string(dir.path().join("metrics.jsonl")).unwrap();
    let rows: Vec<serde_json::Value> = metrics
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let steps: Vec<&serde_json::Value> = rows.iter().filter(|r| r.get("loss").is_some()).collect();
    assert_eq!(steps.len(), 4);
    for key in ["loss", "lr", "grad_norm", "tokens_per_s"] {
        assert!(steps.iter().all(|r| r[key].is_number()), "{key}");
    }
    assert_eq!(
        rows.iter().filter(|r| r.get("val_ppl").is_some()).count(),
        3
    );
    assert_eq!(checkpoint_step(dir.path()), 4);
    // A longer run over the same folder with other settings refuses to resume.
    let mut longer = c.clone();
    longer.max_steps = 6;
    let mut ft = trainer(&fixture("llama"), longer);
    let err = ft.run(Some(&valid), &opts).unwrap_err();
    assert!(
        matches!(
            err,
            FinetuneError::ResumeMismatch {
                field: "settings",
                ..
            }
        ),
        "{err}"
    );
    // The same settings resume at step 4 and have nothing left to do.
    let mut ft = trainer(&fixture("llama"), c);
    let report = ft.run(Some(&valid), &opts).unwrap();
    assert_eq!(report.steps, 4);
    assert!(report.initial_ppl.is_none());
}

#[test]
fn resuming_a_checkpoint_of_another_model_or_data_fails() {
    let dir = tempfile::tempdir().unwrap();
    let mut ft = trainer(&fixture("gpt2"), cfg(2));
    ft.train_step().unwrap();
    ft.save_checkpoint(dir.path()).unwrap();

    let mut other = trainer(&fixture("gpt_neo"), cfg(2));
    let err = other.resume_from(dir.path()).unwrap_err();
    assert!(
        matches!(err, FinetuneError::ResumeMismatch { field: "model", .. }),
        "{err}"
    );

    let lm = LanguageModel::load(fixture("gpt2"), cpu()).unwrap();
    let data = PackedTokens::pack(lm.tokenizer(), &TEXTS[1..], 16).unwrap();
    let mut other = Finetuner::new(lm, data, cfg(2)).unwrap();
    let err = other.resume_from(dir.path()).unwrap_err();
    assert!(
        matches!(err, FinetuneError::ResumeMismatch { field: "data", .. }),
        "{err}"
    );

    let mut c = cfg(2);
    c.top_layers = Some(1);
    let mut other = trainer(&fixture("gpt2"), c);
    let err = other.resume_from(dir.path()).unwrap_err();
    assert!(matches!(err, FinetuneError::ResumeMismatch { .. }), "{err}");

    let missing = dir.path().join("nowhere");
    let err = trainer(&fixture("gpt2"), cfg(2))
        .resume_from(&missing)
        .unwrap_err();
    assert!(
        matches!(
            err,
            FinetuneError::Runtime(RuntimeError::MissingFile { .. })
        ),
        "{err}"
    );
}

#[test]
fn nan_loss_stops_and_keeps_the_last_good_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg(10);
    c.top_layers = Some(1);
    let mut ft = trainer(&fixture("llama"), c);
    ft.train_step().unwrap();
    ft.train_step().unwrap();
    let good = ft.save_checkpoint(dir.path()).unwrap();
    let good_bytes = std::fs::read(good.join("trainable.safetensors")).unwrap();
    // Poison a frozen layer: the loss becomes NaN.
    let vars = ft.model().var_store().variables();
    let _g = nines_runtime::tch::no_grad_guard();
    let _ = vars["model.layers.0.mlp.up_proj.weight"]
        .shallow_clone()
        .fill_(f64::NAN);
    drop(_g);
    let err = ft.run(None, &quiet(dir.path())).unwrap_err();
    // `run` resumed from the good checkpoint (which does not hold frozen layers) and hit NaN.
    match &err {
        FinetuneError::NonFinite {
            what, last_good, ..
        } => {
            assert_eq!(*what, "loss");
            assert_eq!(last_good.as_deref(), Some(good.as_path()));
        }
        other => panic!("expected NonFinite, got {other}"),
    }
    assert_eq!(checkpoint_step(dir.path()), 2);
    assert_eq!(
        std::fs::read(good.join("trainable.safetensors")).unwrap(),
        good_bytes
    );
}

#[test]
fn disk_full_while_saving_leaves_the_previous_checkpoint_intact() {
    let dir = tempfile::tempdir().unwrap();
    let c = cfg(8);
    let mut ft = trainer(&fixture("gpt2"), c.clone());
    ft.train_step().unwrap();
    let good: PathBuf = ft.save_checkpoint(dir.path()).unwrap();
    ft.train_step().unwrap();
    for after in 0..3 {
        ft.inject_write_fault(Some(after));
        let err = ft.save_checkpoint(dir.path()).unwrap_err();
        match &err {
            FinetuneError::CheckpointSave { source, .. } => {
                assert_eq!(source.kind(), std::io::ErrorKind::StorageFull)
            }
            other => panic!("expected CheckpointSave, got {other}"),
        }
        assert_eq!(checkpoint_step(dir.path()), 1);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(leftovers, ["checkpoint"]);
    }
    ft.inject_write_fault(None);
    let mut fresh = trainer(&fixture("gpt2"), c);
    fresh.resume_from(dir.path()).unwrap();
    assert_eq!(fresh.steps_done(), 1);
    assert_eq!(fresh.last_checkpoint(), Some(good.as_path()));
}

#[test]
fn bad_settings_are_typed_errors() {
    let lm = LanguageModel::load(fixture("llama"), cpu()).unwrap();
    let data = PackedTokens::pack(lm.tokenizer(), &TEXTS, 16).unwrap();
    let mut c = cfg(2);
    c.autocast = true;
    let err = Finetuner::new(lm, data.clone(), c).unwrap_err();
    assert!(
        matches!(
            err,
            FinetuneError::Runtime(RuntimeError::InvalidSetting {
                field: "autocast",
                ..
            })
        ),
        "{err}"
    );
    let lm = LanguageModel::load(fixture("llama"), cpu()).unwrap();
    let mut c = cfg(2);
    c.lora = Some(LoraConfig::default());
    let err = Finetuner::new(lm, data.clone(), c).unwrap_err();
    assert!(
        matches!(
            err,
            FinetuneError::Runtime(RuntimeError::InvalidSetting { field: "lora", .. })
        ),
        "{err}"
    );
    let lm = LanguageModel::load(fixture("llama"), cpu()).unwrap();
    let mut c = cfg(2);
    c.seq_len = 32;
    let err = Finetuner::new(lm, data.clone(), c).unwrap_err();
    assert!(err.to_string().contains("seq_len"), "{err}");
    let lm = LanguageModel::load(fixture("llama"), cpu()).unwrap();
    let big = PackedTokens::pack(lm.tokenizer(), &TEXTS, 128).unwrap();
    let mut c = cfg(2);
    c.seq_len = 128;
    let err = Finetuner::new(lm, big, c).unwrap_err();
    assert!(err.to_string().contains("context length"), "{err}");
}

#[test]
fn cached_finetune_trains_once_and_reuses_the_export() {
    use nines_runtime::train::{REPORT_FILE, finetune_cache_key, finetune_cached};
    let dir = tempfile::tempdir().unwrap();
    let model = fixture("llama");
    let mut c = cfg(3);
    c.top_layers = Some(1);
    let train = TEXTS[..3].to_vec();
    let valid = TEXTS[3..].to_vec();
    let out = finetune_cached(&model, cpu(), &train, &valid, &c, dir.path(), false).unwrap();
    let key = finetune_cache_key(&model, &train, &valid, &c).unwrap();
    assert_eq!(out, dir.path().join(format!("finetune-{key}")));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join(REPORT_FILE)).unwrap()).unwrap();
    assert_eq!(report["steps"], 3);
    assert!(report["initial_ppl"].is_number() && report["final_ppl"].is_number());
    let stamp = std::fs::metadata(out.join("model.safetensors"))
        .unwrap()
        .modified()
        .unwrap();
    let again = finetune_cached(&model, cpu(), &train, &valid, &c, dir.path(), false).unwrap();
    assert_eq!(again, out);
    assert_eq!(
        std::fs::metadata(out.join("model.safetensors"))
            .unwrap()
            .modified()
            .unwrap(),
        stamp,
        "trained again"
    );
    assert!(LanguageModel::load(&out, cpu()).is_ok());
    let mut other = c.clone();
    other.lr *= 2.0;
    assert_ne!(
        finetune_cache_key(&model, &train, &valid, &other).unwrap(),
        key
    );
    let empty: Vec<&str> = vec![];
    let err = finetune_cached(&model, cpu(), &empty, &valid, &c, dir.path(), false).unwrap_err();
    assert!(
        matches!(err, FinetuneError::Runtime(RuntimeError::InvalidInput(_))),
        "{err}"
    );
}

/// The step of the run folder's checkpoint, from its state file.
fn checkpoint_step(run_dir: &std::path::Path) -> u64 {
    let text = std::fs::read_to_string(run_dir.join("checkpoint/state.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["step"].as_u64().unwrap()
}
