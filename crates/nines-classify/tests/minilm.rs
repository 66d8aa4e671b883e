//! The real MiniLM backbone (models/minilm, from `make setup`): a short fine-tuning run on
//! English pairs separates injuries from safe completions, and the saved folder reloads.

use std::path::PathBuf;

use nines_classify::metrics::auroc;
use nines_classify::{Classifier, ClassifierConfig, Example, TrainConfig, Trainer};
use nines_runtime::DeviceSpec;

fn data() -> Vec<Example> {
    let prompts = [
        "The road was long and the night was cold.",
        "She climbed the stairs to the attic.",
        "The ship rolled in the swell.",
    ];
    let hurt = [
        "He fell and broke his arm.",
        "The knife cut deep into her hand.",
        "A stone struck him and blood ran down his face.",
        "The dog bit his leg.",
    ];
    let safe = [
        "He smiled and sat down.",
        "She opened the window.",
        "They ate bread and cheese.",
        "The wind died down at dawn.",
    ];
    let mut out = Vec::new();
    for p in prompts {
        out.extend(hurt.iter().map(|c| Example::new(p, *c, true)));
        out.extend(safe.iter().map(|c| Example::new(p, *c, false)));
    }
    out
}

#[test]
fn minilm_fine_tunes_and_round_trips() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/minilm");
    assert!(
        dir.join("config.json").is_file(),
        "models/minilm is missing: run `make setup`"
    );
    tch::set_num_threads(2);
    let cfg = ClassifierConfig {
        backbone: dir,
        device: DeviceSpec::Cpu,
        max_len: 64,
        ..Default::default()
    };
    let mut model = Classifier::new(&cfg).unwrap();
    let examples = data();
    let tc = TrainConfig {
        learning_rate: 1e-4,
        epochs: 4,
        batch_size: 8,
        patience: None,
        progress: false,
        ..Default::default()
    };
    let report = Trainer::new(&mut model, tc)
        .unwrap()
        .train(&examples, &examples)
        .unwrap();
    let pairs: Vec<(&str, &str)> = examples
        .iter()
        .map(|e| (e.prompt.as_str(), e.completion.as_str()))
        .collect();
    let labels: Vec<bool> = examples.iter().map(|e| e.label).collect();
    let scores = model.score(&pairs).unwrap();
    let a = auroc(&scores, &labels).unwrap();
    eprintln!(
        "MiniLM: {} steps, {:.1} train pairs/s, AUROC {a:.3}",
        report.steps, report.train_examples_per_s
    );
    assert!(a > 0.9, "AUROC {a}");
    let out = tempfile::tempdir().unwrap();
    model.save(out.path()).unwrap();
    let loaded = Classifier::load(out.path(), DeviceSpec::Cpu).unwrap();
    for (x, y) in scores.iter().zip(loaded.score(&pairs).unwrap()) {
        assert!((x - y).abs() < 1e-5);
    }
}
