//! Untrusted bytes fed to the loaders, one entry point per input kind.
//!
//! Shared by the regression corpus test (`tests/hostile_input.rs`, run by `make test`) and the
//! `cargo fuzz` targets (`fuzz/fuzz_targets/`), which include this file by path. An entry point
//! returns what the loader said; a panic, an abort or a hang inside one is the bug being
//! hunted, and a broken promise about stored data (a complete line lost) panics here on
//! purpose so that both harnesses report it.

#![allow(dead_code)]

use std::path::Path;

use nines::data::store::{Store, StoreOptions, quarantine_path};
use nines::pipeline::PipelineConfig;
use nines::runtime::{
    DType, DeviceSpec, Encoder, GenerateConfig, LanguageModel, LoadOptions, Pooling, Tokenizer,
};

/// The tiny random-weight Llama of the runtime's tests: the files a model input replaces
/// one of.
const LLAMA_CONFIG: &[u8] =
    include_bytes!("../../crates/nines-runtime/tests/fixtures/llama/config.json");
const LLAMA_WEIGHTS: &[u8] =
    include_bytes!("../../crates/nines-runtime/tests/fixtures/llama/model.safetensors");
const LLAMA_TOKENIZER: &[u8] =
    include_bytes!("../../crates/nines-runtime/tests/fixtures/llama/tokenizer.json");
const LLAMA_GENERATION: &[u8] =
    include_bytes!("../../crates/nines-runtime/tests/fixtures/llama/generation_config.json");
const BERT_CONFIG: &[u8] =
    include_bytes!("../../crates/nines-runtime/tests/fixtures/bert/config.json");
const BERT_WEIGHTS: &[u8] =
    include_bytes!("../../crates/nines-runtime/tests/fixtures/bert/model.safetensors");
const BERT_TOKENIZER: &[u8] =
    include_bytes!("../../crates/nines-runtime/tests/fixtures/bert/tokenizer.json");

/// The kinds of untrusted input, one fuzz target each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A GGUF model file: header, metadata, tensor table, data, embedded tokenizer.
    Gguf,
    /// A Hugging Face model folder with one file replaced (see [`hf_model`]).
    HfModel,
    /// A `tokenizer.json`.
    Tokenizer,
    /// A JSONL snippet store.
    Store,
    /// A pipeline TOML configuration.
    PipelineConfig,
}

impl Target {
    /// Every target.
    pub const ALL: [Target; 5] = [
        Target::Gguf,
        Target::HfModel,
        Target::Tokenizer,
        Target::Store,
        Target::PipelineConfig,
    ];

    /// The folder name of its corpus and the name of its fuzz target.
    pub fn name(self) -> &'static str {
        match self {
            Target::Gguf => "gguf",
            Target::HfModel => "hf_model",
            Target::Tokenizer => "tokenizer",
            Target::Store => "store",
            Target::PipelineConfig => "pipeline_config",
        }
    }

    /// Feeds `bytes` to the loader of this kind.
    pub fn run(self, bytes: &[u8]) -> Outcome {
        match self {
            Target::Gguf => gguf(bytes),
            Target::HfModel => hf_model(bytes),
            Target::Tokenizer => tokenizer(bytes),
            Target::Store => store(bytes),
            Target::PipelineConfig => pipeline_config(bytes),
        }
    }
}

/// What a loader did with an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted (and, for models, generated a few tokens).
    Accepted,
    /// Refused with a typed error; its message.
    Refused(String),
}

impl<E: std::fmt::Display> From<Result<(), E>> for Outcome {
    fn from(r: Result<(), E>) -> Self {
        match r {
            Ok(()) => Outcome::Accepted,
            Err(e) => Outcome::Refused(e.to_string()),
        }
    }
}

fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().expect("a scratch folder")
}

fn cpu() -> LoadOptions {
    LoadOptions {
        device: DeviceSpec::Cpu,
        dtype: DType::F32,
    }
}

/// A few tokens from a loaded model, and its tokenizer both ways: what a user does next.
fn exercise(lm: &LanguageModel) -> nines::runtime::Result<()> {
    let cfg = GenerateConfig {
        max_new_tokens: 3,
        seed: 1,
        ..GenerateConfig::default()
    };
    lm.generate(&["The ship rolled", "\u{0}é字"], &cfg)?;
    let ids = lm.tokenizer().encode("He fell, 42 feet!")?;
    lm.tokenizer().decode(&ids, true)?;
    Ok(())
}

/// A GGUF file: loaded as a language model, then used.
pub fn gguf(bytes: &[u8]) -> Outcome {
    let dir = scratch();
    let path = dir.path().join("model.gguf");
    std::fs::write(&path, bytes).expect("write the input");
    LanguageModel::load(&path, cpu())
        .and_then(|lm| exercise(&lm))
        .into()
}

/// The file of a Hugging Face folder that a [`hf_model`] input replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HfFile {
    /// `config.json` of the tiny Llama.
    Config,
    /// `model.safetensors` of the tiny Llama.
    Weights,
    /// `generation_config.json` of the tiny Llama.
    GenerationConfig,
    /// `config.json` of the tiny BERT encoder.
    EncoderConfig,
    /// `model.safetensors` of the tiny BERT encoder.
    EncoderWeights,
}

impl HfFile {
    /// Every replaceable file, with the first line naming it in an input.
    pub const ALL: [(HfFile, &'static str); 5] = [
        (HfFile::Config, "config.json"),
        (HfFile::Weights, "model.safetensors"),
        (HfFile::GenerationConfig, "generation_config.json"),
        (HfFile::EncoderConfig, "encoder/config.json"),
        (HfFile::EncoderWeights, "encoder/model.safetensors"),
    ];

    /// An input replacing this file with `content`.
    pub fn input(self, content: &[u8]) -> Vec<u8> {
        let name = Self::ALL.iter().find(|(f, _)| *f == self).unwrap().1;
        let mut out = format!("{name}\n").into_bytes();
        out.extend_from_slice(content);
        out
    }
}

/// A Hugging Face folder, the tiny test model's files but one: the input's first line names
/// the file it replaces (`config.json`, `model.safetensors`, `generation_config.json`,
/// `encoder/config.json`, `encoder/model.safetensors`; anything else is read as
/// `config.json`), the rest is its content.
pub fn hf_model(bytes: &[u8]) -> Outcome {
    let split = bytes
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(bytes.len());
    let (name, content) = (&bytes[..split], bytes.get(split + 1..).unwrap_or(&[]));
    let file = HfFile::ALL
        .iter()
        .find(|(_, n)| n.as_bytes() == name)
        .map_or(HfFile::Config, |(f, _)| *f);
    let dir = scratch();
    let write = |name: &str, default: &[u8], replaced: bool| {
        let data = if replaced { content } else { default };
        std::fs::write(dir.path().join(name), data).expect("write the input");
    };
    match file {
        HfFile::Config | HfFile::Weights | HfFile::GenerationConfig => {
            write("config.json", LLAMA_CONFIG, file == HfFile::Config);
            write("model.safetensors", LLAMA_WEIGHTS, file == HfFile::Weights);
            write(
                "generation_config.json",
                LLAMA_GENERATION,
                file == HfFile::GenerationConfig,
            );
            write("tokenizer.json", LLAMA_TOKENIZER, false);
            LanguageModel::load(dir.path(), cpu())
                .and_then(|lm| exercise(&lm))
                .into()
        }
        HfFile::EncoderConfig | HfFile::EncoderWeights => {
            write("config.json", BERT_CONFIG, file == HfFile::EncoderConfig);
            write(
                "model.safetensors",
                BERT_WEIGHTS,
                file == HfFile::EncoderWeights,
            );
            write("tokenizer.json", BERT_TOKENIZER, false);
            Encoder::load(dir.path(), cpu())
                .and_then(|e| {
                    e.embed(&["The ship rolled.", ""], Pooling::Mean)
                        .map(|_| ())
                })
                .into()
        }
    }
}

/// A `tokenizer.json`: loaded, then used both ways on text alone and on a pair.
pub fn tokenizer(bytes: &[u8]) -> Outcome {
    let dir = scratch();
    let path = dir.path().join("tokenizer.json");
    std::fs::write(&path, bytes).expect("write the input");
    let used = Tokenizer::from_file(&path).and_then(|t| {
        for text in ["The ship rolled. He fell, 42 feet!", "", "\u{0}\u{fffd}é字"] {
            let ids = t.encode(text)?;
            t.decode(&ids, false)?;
            t.decode(&ids, true)?;
        }
        t.encode_pair("A prompt", "a completion")?;
        Ok(())
    });
    used.into()
}

/// A snippet store: opened read-only (strict and lenient), then for writing (strict, then
/// lenient); the outcome is the strict open's. Panics if opening for writing loses a byte: what it cuts from the file must be
/// exactly what it adds to the quarantine file.
pub fn store(bytes: &[u8]) -> Outcome {
    let dir = scratch();
    let path = dir.path().join("store.jsonl");
    std::fs::write(&path, bytes).expect("write the input");
    let strict = StoreOptions { lenient: false };
    let lenient = StoreOptions { lenient: true };
    let _ = Store::open_read_only(&path, strict);
    let _ = Store::open_read_only(&path, lenient);
    let mut strict_outcome = None;
    for options in [strict, lenient] {
        let before = std::fs::read(&path).expect("read the store");
        let quarantine = quarantine_path(&path);
        let kept_aside = std::fs::read(&quarantine).unwrap_or_default();
        let opened = Store::open_with(&path, options);
        let after = std::fs::read(&path).expect("read the store");
        let kept_aside_now = std::fs::read(&quarantine).unwrap_or_default();
        let added = &kept_aside_now[kept_aside.len()..];
        assert_eq!(
            &kept_aside_now[..kept_aside.len()],
            &kept_aside[..],
            "the quarantine file was rewritten"
        );
        // What was cut is set aside whole (the quarantine file separates entries with a
        // newline); a complete last record may get the newline it lacked.
        let cut = before.get(after.len()..).unwrap_or_default();
        let set_aside_whole = before.starts_with(&after)
            && (added == cut || (added.len() == cut.len() + 1 && added.starts_with(cut)))
            && (added.is_empty() || !cut.is_empty());
        let terminated = added.is_empty()
            && after.len() == before.len() + 1
            && after.starts_with(&before)
            && after.ends_with(b"\n");
        assert!(
            set_aside_whole || terminated,
            "opening the store for writing lost data: {} bytes before, {} after, {} set aside",
            before.len(),
            after.len(),
            added.len()
        );
        let outcome = match opened {
            Ok(_) => Outcome::Accepted,
            Err(e) => {
                assert_eq!(after, before, "a refused open changed the file");
                Outcome::Refused(e.to_string())
            }
        };
        strict_outcome.get_or_insert(outcome);
    }
    strict_outcome.expect("opened strictly")
}

/// A pipeline configuration: parsed and validated (not run).
pub fn pipeline_config(bytes: &[u8]) -> Outcome {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => return Outcome::Refused(e.to_string()),
    };
    PipelineConfig::from_toml_str(text, "fuzz.toml")
        .map(|_| ())
        .into()
}

/// Reads every file of a corpus folder, sorted by name.
pub fn corpus(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.path().is_file())
                .map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    (name, std::fs::read(e.path()).expect("read a corpus file"))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// One-time set-up of a fuzzing process: one LibTorch thread (the fuzzer runs one input at a
/// time, and small models gain nothing from more), and a panic hook that lets panics raised
/// inside the tokenizers library unwind.
///
/// libFuzzer's hook aborts on every panic, so a panic that Nines catches on purpose would
/// count as a crash. The tokenizers library panics on some malformed files instead of
/// returning its error, and `nines_runtime::Tokenizer` catches exactly those and returns
/// `RuntimeError::Tokenizer`; any other panic still aborts and is reported.
pub fn init_fuzzing() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        nines::runtime::tch::set_num_threads(1);
        let fuzzer_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_tokenizers = info
                .location()
                .is_some_and(|l| l.file().contains("/tokenizers-"));
            if !in_tokenizers {
                fuzzer_hook(info);
            }
        }));
    });
}
