//! Hostile input: the regression corpus (`tests/corpus/<target>/`) and inputs generated from
//! the test fixtures by the mutations a careless or hostile user makes (extreme sizes,
//! non-finite constants, truncations, flipped bytes, broken JSON, torn store lines). Every
//! input must come back as accepted or as a typed error: no panic, no abort, no hang.
//!
//! The same entry points are the `cargo fuzz` targets (`fuzz/`, docs/robustness.md).

mod hostile;

use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hostile::{HfFile, Outcome, Target};
use rand::{Rng, SeedableRng};

/// Longer than any input needs in a debug build on a loaded 2-core machine.
const HANG: Duration = Duration::from_secs(60);

const CASE_THREAD: &str = "hostile-case";

/// Panics of case threads are collected and listed at the end; printing each one as it
/// happens would drown the list. Other threads' panics print as usual.
fn quiet_case_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().name() != Some(CASE_THREAD) {
                default(info);
            }
        }));
    });
}

/// Runs every input on its own thread; returns (accepted, refused) and fails listing every
/// input that panicked or hung.
fn check_all(target: Target, inputs: Vec<(String, Vec<u8>)>) -> (usize, usize) {
    assert!(!inputs.is_empty(), "{}: no inputs", target.name());
    nines::runtime::tch::set_num_threads(1);
    quiet_case_panics();
    let (mut accepted, mut refused, mut failures) = (0, 0, Vec::new());
    for (name, bytes) in inputs {
        let (tx, rx) = mpsc::channel();
        let started = Instant::now();
        let spawned = std::thread::Builder::new()
            .name(CASE_THREAD.into())
            .spawn(move || {
                let outcome = std::panic::catch_unwind(|| target.run(&bytes));
                let _ = tx.send(outcome.map_err(|p| {
                    p.downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default()
                }));
            });
        spawned.expect("spawn a case thread");
        match rx.recv_timeout(HANG) {
            Ok(Ok(Outcome::Accepted)) => {
                if std::env::var_os("NINES_SHOW_ACCEPTED").is_some() {
                    eprintln!("accepted: {name}");
                }
                accepted += 1
            }
            Ok(Ok(Outcome::Refused(_))) => refused += 1,
            Ok(Err(panic)) => {
                let first = panic.lines().next().unwrap_or_default();
                failures.push(format!(
                    "{name}: panicked: {}",
                    &first[..first.len().min(300)]
                ))
            }
            Err(_) => failures.push(format!(
                "{name}: no answer after {:?} (hang)",
                started.elapsed()
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{}: {} inputs failed:\n{}",
        target.name(),
        failures.len(),
        failures.join("\n")
    );
    eprintln!(
        "{}: {accepted} accepted, {refused} refused, none panicked or hung",
        target.name()
    );
    (accepted, refused)
}

fn corpus(target: Target) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(target.name());
    hostile::corpus(&dir)
        .into_iter()
        .map(|(name, bytes)| (format!("corpus/{}/{name}", target.name()), bytes))
        .collect()
}

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("crates/nines-runtime/tests/fixtures")
            .join(path),
    )
    .expect("read a fixture")
}

/// `n` prefixes of `bytes`, dense near the start (headers) and spread over the rest.
fn truncations(name: &str, bytes: &[u8], n: usize) -> Vec<(String, Vec<u8>)> {
    let mut cuts: Vec<usize> = (0..n / 2).map(|i| i * 7).collect();
    cuts.extend((0..n / 2).map(|i| bytes.len() * i / (n / 2)));
    cuts.retain(|&c| c < bytes.len());
    cuts.sort_unstable();
    cuts.dedup();
    cuts.into_iter()
        .map(|c| (format!("{name} cut at {c}"), bytes[..c].to_vec()))
        .collect()
}

/// `n` copies of `bytes` with 1 to 8 random bytes replaced (seeded).
fn flips(name: &str, bytes: &[u8], n: usize, seed: u64) -> Vec<(String, Vec<u8>)> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let mut b = bytes.to_vec();
            for _ in 0..rng.random_range(1..=8) {
                let at = rng.random_range(0..b.len());
                b[at] = rng.random();
            }
            (format!("{name} flip {i}"), b)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// GGUF

/// Where each field of a GGUF header lies, for in-place edits.
#[derive(Debug)]
enum GgufField {
    /// A count (tensor or metadata) or a string/array length: a little-endian u64.
    Count { what: String, at: usize },
    /// A scalar metadata value of GGUF type `ty`.
    Scalar { key: String, ty: u32, at: usize },
    /// An array's element type.
    ElementType { key: String, at: usize },
    /// A tensor's dimension count (u32), dimension (u64), type (u32) or offset (u64).
    Tensor {
        what: String,
        at: usize,
        width: usize,
    },
}

fn gguf_fields(b: &[u8]) -> Vec<GgufField> {
    let u32_at = |p: usize| u32::from_le_bytes(b[p..p + 4].try_into().unwrap());
    let u64_at = |p: usize| u64::from_le_bytes(b[p..p + 8].try_into().unwrap()) as usize;
    let mut fields = vec![
        GgufField::Count {
            what: "tensor count".into(),
            at: 8,
        },
        GgufField::Count {
            what: "metadata count".into(),
            at: 16,
        },
    ];
    let (n_tensors, n_kv) = (u64_at(8), u64_at(16));
    let mut p = 24;
    let string = |p: &mut usize| {
        let len = u64_at(*p);
        let s = String::from_utf8_lossy(&b[*p + 8..*p + 8 + len]).into_owned();
        *p += 8 + len;
        s
    };
    fn width(ty: u32) -> usize {
        match ty {
            0 | 1 | 7 => 1,
            2 | 3 => 2,
            4..=6 => 4,
            10..=12 => 8,
            _ => panic!("no fixed width for type {ty}"),
        }
    }
    for _ in 0..n_kv {
        let key_at = p;
        let key = string(&mut p);
        fields.push(GgufField::Count {
            what: format!("length of key `{key}`"),
            at: key_at,
        });
        let ty = u32_at(p);
        p += 4;
        match ty {
            8 => {
                fields.push(GgufField::Count {
                    what: format!("length of `{key}`"),
                    at: p,
                });
                string(&mut p);
            }
            9 => {
                let elem = u32_at(p);
                fields.push(GgufField::ElementType {
                    key: key.clone(),
                    at: p,
                });
                let n = u64_at(p + 4);
                fields.push(GgufField::Count {
                    what: format!("element count of `{key}`"),
                    at: p + 4,
                });
                p += 12;
                for i in 0..n {
                    if elem == 8 {
                        if i < 3 {
                            fields.push(GgufField::Count {
                                what: format!("length of `{key}`[{i}]"),
                                at: p,
                            });
                        }
                        string(&mut p);
                    } else {
                        p += width(elem);
                    }
                }
            }
            _ => {
                fields.push(GgufField::Scalar { key, ty, at: p });
                p += width(ty);
            }
        }
    }
    for t in 0..n_tensors {
        let name = string(&mut p);
        let n_dims = u32_at(p) as usize;
        let detail = t < 3;
        if detail {
            fields.push(GgufField::Tensor {
                what: format!("`{name}` dimension count"),
                at: p,
                width: 4,
            });
        }
        p += 4;
        for d in 0..n_dims {
            if detail {
                fields.push(GgufField::Tensor {
                    what: format!("`{name}` dimension {d}"),
                    at: p,
                    width: 8,
                });
            }
            p += 8;
        }
        fields.push(GgufField::Tensor {
            what: format!("`{name}` type"),
            at: p,
            width: 4,
        });
        fields.push(GgufField::Tensor {
            what: format!("`{name}` offset"),
            at: p + 4,
            width: 8,
        });
        p += 12;
    }
    fields
}

fn gguf_mutations() -> Vec<(String, Vec<u8>)> {
    let base = fixture("gguf/tiny_llama.gguf");
    let mut out = vec![("tiny_llama.gguf".to_string(), base.clone())];
    let edit = |at: usize, value: &[u8]| {
        let mut b = base.clone();
        b[at..at + value.len()].copy_from_slice(value);
        b
    };
    let ints: [u64; 7] = [0, 1, 3, 1_000_000, 1_000_000_000, 1 << 40, u64::MAX];
    for field in gguf_fields(&base) {
        match field {
            GgufField::Count { what, at } => {
                for v in ints {
                    out.push((format!("{what} = {v}"), edit(at, &v.to_le_bytes())));
                }
            }
            GgufField::ElementType { key, at } => {
                for v in [0u32, 8, 9, 13, u32::MAX] {
                    out.push((
                        format!("element type of `{key}` = {v}"),
                        edit(at, &v.to_le_bytes()),
                    ));
                }
            }
            GgufField::Tensor { what, at, width } => {
                for v in ints {
                    let bytes = v.to_le_bytes();
                    out.push((format!("{what} = {v}"), edit(at, &bytes[..width])));
                }
            }
            GgufField::Scalar { key, ty, at } => {
                let values: Vec<(String, Vec<u8>)> = match ty {
                    0 | 1 | 7 => [0u8, 1, 2, 255].map(|v| (v.to_string(), vec![v])).to_vec(),
                    2 | 3 => [0u16, 1, u16::MAX]
                        .map(|v| (v.to_string(), v.to_le_bytes().to_vec()))
                        .to_vec(),
                    4 | 5 => [0u32, 1, 1_000_000_000, u32::MAX, 319, 320]
                        .map(|v| (v.to_string(), v.to_le_bytes().to_vec()))
                        .to_vec(),
                    6 => [0.0f32, -1.0, f32::NAN, f32::INFINITY, 1e30]
                        .map(|v| (v.to_string(), v.to_le_bytes().to_vec()))
                        .to_vec(),
                    10 | 11 => ints
                        .map(|v| (v.to_string(), v.to_le_bytes().to_vec()))
                        .to_vec(),
                    12 => [0.0f64, -1.0, f64::NAN, f64::NEG_INFINITY]
                        .map(|v| (v.to_string(), v.to_le_bytes().to_vec()))
                        .to_vec(),
                    _ => Vec::new(),
                };
                for (shown, v) in values {
                    out.push((format!("`{key}` = {shown}"), edit(at, &v)));
                }
            }
        }
    }
    out.extend(truncations("tiny_llama.gguf", &base, 60));
    out.extend(flips("tiny_llama.gguf", &base, 40, 19));
    out
}

#[test]
fn gguf_files() {
    let mut inputs = corpus(Target::Gguf);
    inputs.extend(gguf_mutations());
    let n = inputs.len();
    let (accepted, refused) = check_all(Target::Gguf, inputs);
    assert!(n > 400, "{n} inputs");
    assert!(
        accepted > 0 && refused > n / 2,
        "{accepted} accepted, {refused} refused"
    );
}

// ---------------------------------------------------------------------------------------------
// Hugging Face folders

/// Every top-level key of a JSON object set to each hostile value, and removed.
fn json_mutations(name: &str, file: HfFile, bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let base: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(bytes).unwrap();
    let values = [
        serde_json::json!(0),
        serde_json::json!(-1),
        serde_json::json!(1.5),
        serde_json::json!(1_000_000_000u64),
        serde_json::json!(1u64 << 40),
        serde_json::json!(u64::MAX),
        serde_json::json!(1e300),
        serde_json::json!("x"),
        serde_json::Value::Null,
        serde_json::json!([]),
        serde_json::json!({"rope_theta": -1.0, "rope_type": "yarn"}),
    ];
    let mut out = Vec::new();
    for key in base.keys() {
        for v in &values {
            let mut m = base.clone();
            m.insert(key.clone(), v.clone());
            out.push((
                format!("{name}: {key} = {v}"),
                file.input(serde_json::to_string(&m).unwrap().as_bytes()),
            ));
        }
        let mut m = base.clone();
        m.remove(key);
        out.push((
            format!("{name}: without {key}"),
            file.input(serde_json::to_string(&m).unwrap().as_bytes()),
        ));
    }
    out.extend(
        truncations(name, bytes, 16)
            .into_iter()
            .map(|(n, b)| (n, file.input(&b))),
    );
    out
}

/// Edits of a safetensors file's header: its length, its JSON, each tensor's entry.
fn safetensors_mutations(name: &str, file: HfFile, bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&bytes[8..8 + len]).unwrap();
    let data = &bytes[8 + len..];
    let with_header = |h: &serde_json::Map<String, serde_json::Value>| {
        let text = serde_json::to_vec(h).unwrap();
        let mut out = (text.len() as u64).to_le_bytes().to_vec();
        out.extend(text);
        out.extend(data);
        out
    };
    let mut out = Vec::new();
    for v in [
        0u64,
        2,
        (len - 1) as u64,
        (len + 1) as u64,
        1 << 40,
        u64::MAX,
    ] {
        let mut b = bytes.to_vec();
        b[..8].copy_from_slice(&v.to_le_bytes());
        out.push((format!("{name}: header length {v}"), file.input(&b)));
    }
    let edits: [(&str, serde_json::Value); 8] = [
        ("dtype", serde_json::json!("F64")),
        ("dtype", serde_json::json!("Q4")),
        ("shape", serde_json::json!([])),
        ("shape", serde_json::json!([1u64 << 40, 1u64 << 40])),
        ("shape", serde_json::json!([-1])),
        ("data_offsets", serde_json::json!([0, u64::MAX])),
        ("data_offsets", serde_json::json!([8, 4])),
        ("data_offsets", serde_json::json!([0, 1])),
    ];
    for tensor in header.keys().filter(|k| *k != "__metadata__").take(4) {
        for (field, value) in &edits {
            let mut h = header.clone();
            h[tensor][*field] = value.clone();
            out.push((
                format!("{name}: {tensor}.{field} = {value}"),
                file.input(&with_header(&h)),
            ));
        }
        let mut h = header.clone();
        h.remove(tensor);
        out.push((
            format!("{name}: without {tensor}"),
            file.input(&with_header(&h)),
        ));
    }
    out.extend(
        truncations(name, bytes, 20)
            .into_iter()
            .map(|(n, b)| (n, file.input(&b))),
    );
    out
}

#[test]
fn hugging_face_folders() {
    let mut inputs = corpus(Target::HfModel);
    inputs.push((
        "llama as is".into(),
        HfFile::Config.input(&fixture("llama/config.json")),
    ));
    inputs.extend(json_mutations(
        "llama config",
        HfFile::Config,
        &fixture("llama/config.json"),
    ));
    inputs.extend(json_mutations(
        "generation config",
        HfFile::GenerationConfig,
        &fixture("llama/generation_config.json"),
    ));
    inputs.extend(json_mutations(
        "bert config",
        HfFile::EncoderConfig,
        &fixture("bert/config.json"),
    ));
    inputs.extend(safetensors_mutations(
        "llama weights",
        HfFile::Weights,
        &fixture("llama/model.safetensors"),
    ));
    inputs.extend(safetensors_mutations(
        "bert weights",
        HfFile::EncoderWeights,
        &fixture("bert/model.safetensors"),
    ));
    let n = inputs.len();
    let (accepted, refused) = check_all(Target::HfModel, inputs);
    assert!(n > 500, "{n} inputs");
    assert!(
        accepted > 0 && refused > n / 4,
        "{accepted} accepted, {refused} refused"
    );
}

// ---------------------------------------------------------------------------------------------
// Tokenizers

#[test]
fn tokenizer_files() {
    let base = fixture("llama/tokenizer.json");
    let json: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&base).unwrap();
    let mut inputs = corpus(Target::Tokenizer);
    inputs.push(("llama tokenizer".into(), base.clone()));
    let template = |single: serde_json::Value| {
        serde_json::json!({
            "type": "TemplateProcessing",
            "single": single,
            "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {}
        })
    };
    let edits: Vec<(&str, serde_json::Value)> = vec![
        ("model", serde_json::json!({"type": "Unknown"})),
        (
            "model",
            serde_json::json!({"type": "BPE", "vocab": {}, "merges": []}),
        ),
        (
            "model",
            serde_json::json!({"type": "WordPiece", "vocab": {"a": 4294967295u64}}),
        ),
        ("model", serde_json::Value::Null),
        (
            "normalizer",
            serde_json::json!({"type": "Replace", "pattern": {"Regex": "("}, "content": ""}),
        ),
        (
            "pre_tokenizer",
            serde_json::json!({"type": "Split", "pattern": {"Regex": "(?<"}, "behavior": "Isolated", "invert": false}),
        ),
        (
            "post_processor",
            template(
                serde_json::json!([{"SpecialToken": {"id": "<undefined>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}]),
            ),
        ),
        ("post_processor", template(serde_json::json!([]))),
        (
            "post_processor",
            serde_json::json!({"type": "BertProcessing", "sep": ["[SEP]", 4294967295u64], "cls": ["[CLS]", 7]}),
        ),
        (
            "added_tokens",
            serde_json::json!([{"id": 4294967295u64, "content": "<big>", "special": true, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false}]),
        ),
        (
            "added_tokens",
            serde_json::json!([{"id": 0, "content": "", "special": true, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false}]),
        ),
        (
            "decoder",
            serde_json::json!({"type": "Replace", "pattern": {"String": ""}, "content": "x"}),
        ),
        (
            "truncation",
            serde_json::json!({"max_length": 0, "stride": 5, "strategy": "LongestFirst", "direction": "Right"}),
        ),
        (
            "padding",
            serde_json::json!({"strategy": {"Fixed": 1u64 << 40}, "direction": "Right", "pad_to_multiple_of": 0, "pad_id": 0, "pad_type_id": 0, "pad_token": "<pad>"}),
        ),
    ];
    for (key, value) in edits {
        let mut m = json.clone();
        m.insert(key.into(), value.clone());
        inputs.push((format!("{key} = {value}"), serde_json::to_vec(&m).unwrap()));
    }
    for key in json.keys() {
        let mut m = json.clone();
        m.remove(key);
        inputs.push((format!("without {key}"), serde_json::to_vec(&m).unwrap()));
    }
    inputs.extend(truncations("llama tokenizer", &base, 30));
    inputs.extend(flips("llama tokenizer", &base, 30, 23));
    let n = inputs.len();
    let (accepted, refused) = check_all(Target::Tokenizer, inputs);
    assert!(
        accepted > 0 && refused > n / 3,
        "{accepted} accepted, {refused} refused"
    );
}

// ---------------------------------------------------------------------------------------------
// Stores

#[test]
fn store_files() {
    let record = |i: usize| {
        let s = nines::data::Snippet::new(
            format!("Prompt {i}."),
            format!(" Completion {i}."),
            None,
            None,
            None,
        );
        serde_json::to_string(&s).unwrap()
    };
    let good: String = (0..3).map(|i| record(i) + "\n").collect();
    let big_torn = format!("{good}{{\"id\":\"{}", "x".repeat(5 << 20));
    let cases: Vec<(&str, String)> = vec![
        ("empty", String::new()),
        ("three records", good.clone()),
        ("no final newline", good.trim_end().to_string()),
        ("torn last line", format!("{good}{{\"id\":\"ab")),
        (
            "complete line of the wrong schema last",
            format!("{good}{{\"name\":1}}\n"),
        ),
        (
            "complete line of the wrong schema first",
            format!("{{\"name\":1}}\n{good}"),
        ),
        ("torn 5 MB last line", big_torn),
        ("byte-order mark", format!("\u{feff}{good}")),
        ("byte-order mark only", "\u{feff}".into()),
        ("CRLF", good.replace('\n', "\r\n")),
        ("blank lines", format!("\n\n{good}\n\n")),
        ("NUL bytes", format!("{good}\0\0\0\n")),
        ("a JSON array", "[1,2,3]\n".into()),
        (
            "deep nesting",
            format!("{}{}\n", "[".repeat(100_000), "]".repeat(100_000)),
        ),
        (
            "the same id, other text",
            format!("{good}{}\n", record(0).replace("Prompt 0", "Other")),
        ),
        ("huge number", format!("{good}{{\"id\":1e999999}}\n")),
    ];
    let mut inputs: Vec<(String, Vec<u8>)> = corpus(Target::Store);
    for (name, text) in cases {
        inputs.push((name.to_string(), text.into_bytes()));
    }
    inputs.push((
        "invalid UTF-8".into(),
        [good.as_bytes(), b"\xff\xfe\n"].concat(),
    ));
    inputs.extend(truncations("three records", good.as_bytes(), 40));
    inputs.extend(flips("three records", good.as_bytes(), 60, 29));
    let (accepted, refused) = check_all(Target::Store, inputs);
    assert!(
        accepted > 0 && refused > 0,
        "{accepted} accepted, {refused} refused"
    );
}

// ---------------------------------------------------------------------------------------------
// Pipeline configurations

#[test]
fn pipeline_configs() {
    let base = toml::Table::try_from(nines::pipeline::PipelineConfig::default()).unwrap();
    let values = [
        toml::Value::Integer(-4),
        toml::Value::Integer(0),
        toml::Value::Integer(1_000_000_000_000_000),
        toml::Value::Integer(i64::MAX),
        toml::Value::Float(f64::NAN),
        toml::Value::Float(f64::INFINITY),
        toml::Value::Float(-1.0),
        toml::Value::Float(1e308),
        toml::Value::String(String::new()),
        toml::Value::Boolean(true),
    ];
    let mut inputs = corpus(Target::PipelineConfig);
    inputs.push((
        "default".into(),
        toml::to_string(&base).unwrap().into_bytes(),
    ));
    let mut leaves = Vec::new();
    for (key, value) in &base {
        match value {
            toml::Value::Table(t) => leaves.extend(t.keys().map(|k| vec![key.clone(), k.clone()])),
            _ => leaves.push(vec![key.clone()]),
        }
    }
    for path in &leaves {
        for v in &values {
            let mut t = base.clone();
            let slot = match path.as_slice() {
                [k] => t.get_mut(k),
                [s, k] => t.get_mut(s).and_then(|s| s.get_mut(k)),
                _ => None,
            }
            .unwrap();
            *slot = v.clone();
            inputs.push((
                format!("{} = {v}", path.join(".")),
                toml::to_string(&t).unwrap().into_bytes(),
            ));
        }
    }
    let n = inputs.len();
    let (accepted, refused) = check_all(Target::PipelineConfig, inputs);
    assert!(n > 200, "{n} inputs");
    assert!(
        accepted > 0 && refused > n / 2,
        "{accepted} accepted, {refused} refused"
    );
}
