//! GGUF reading: metadata of every value type, dequantization of every supported type against
//! gguf-py's reference, a llama.cpp-layout tiny Llama against transformers' logits, and the
//! errors for truncated or unsupported files.

mod common;

use common::{assert_close, fixture, read_json, read_tensors};
use nines_runtime::checkpoint::gguf::{GgufFile, GgufValue};
use nines_runtime::{DType, DeviceSpec, LanguageModel, LoadOptions, RuntimeError};
use tch::Tensor;

fn cpu() -> LoadOptions {
    LoadOptions {
        device: DeviceSpec::Cpu,
        dtype: DType::F32,
    }
}

#[test]
fn dequantizes_every_supported_type_like_gguf_py() {
    let file = GgufFile::open(fixture("gguf/types.gguf")).expect("opens");
    assert_eq!(file.version(), 3);
    let expected = read_tensors("gguf/types_expected.safetensors");
    assert!(
        expected.len() >= 8,
        "fixture has {} tensors",
        expected.len()
    );
    for (name, want) in &expected {
        let (values, shape) = file.dequantize(name).expect("dequantizes");
        let got = Tensor::from_slice(&values).reshape(&shape);
        assert_close(name, &got, want, 0.0);
        // Any run of rows reads as the same rows of the whole.
        let rows = shape[0];
        for (start, count) in [(0, rows), (1, rows - 1), (rows / 2, 1), (rows, 0)] {
            let (part, part_shape) = file
                .dequantize_rows(name, start as u64, count as u64)
                .expect("dequantizes rows");
            let part = Tensor::from_slice(&part).reshape(&part_shape);
            assert_eq!(part.size(), got.narrow(0, start, count).size(), "{name}");
            if count > 0 {
                assert_close(name, &part, &got.narrow(0, start, count), 0.0);
            }
        }
        assert!(matches!(
            file.dequantize_rows(name, 1, rows as u64),
            Err(RuntimeError::InvalidInput(m)) if m.contains(name.as_str())
        ));
    }
}

#[test]
fn reads_metadata_of_every_value_type() {
    let file = GgufFile::open(fixture("gguf/types.gguf")).expect("opens");
    let meta = read_json("gguf/types_metadata.json");
    for (key, entry) in meta["keys"].as_object().expect("keys") {
        let got = file.get(key).unwrap_or_else(|| panic!("missing {key}"));
        let want = &entry["value"];
        match got {
            GgufValue::F32(v) => assert!(
                (f64::from(*v) - want.as_f64().unwrap()).abs() < 1e-7,
                "{key}"
            ),
            GgufValue::F64(v) => assert_eq!(*v, want.as_f64().unwrap(), "{key}"),
            GgufValue::Bool(v) => assert_eq!(*v, want.as_bool().unwrap(), "{key}"),
            GgufValue::String(v) => assert_eq!(v, want.as_str().unwrap(), "{key}"),
            GgufValue::Array(items) => {
                assert_eq!(items.len(), want.as_array().unwrap().len(), "{key}")
            }
            GgufValue::I8(_) | GgufValue::I16(_) | GgufValue::I32(_) | GgufValue::I64(_) => {
                let v = match *got {
                    GgufValue::I8(v) => i64::from(v),
                    GgufValue::I16(v) => i64::from(v),
                    GgufValue::I32(v) => i64::from(v),
                    GgufValue::I64(v) => v,
                    _ => unreachable!(),
                };
                assert_eq!(v, want.as_i64().unwrap(), "{key}");
            }
            other => assert_eq!(other.as_u64().unwrap(), want.as_u64().unwrap(), "{key}"),
        }
    }
}

#[test]
fn tiny_llama_gguf_matches_transformers() {
    let lm = LanguageModel::load(fixture("gguf/tiny_llama.gguf"), cpu()).expect("loads");
    let r = read_tensors("llama/reference.safetensors");
    let mask = r["attention_mask"].ne(0);
    let logits = tch::no_grad(|| {
        lm.model()
            .forward(&r["input_ids"], &r["position_ids"], Some(&mask), None)
    })
    .unwrap();
    let sel = mask.unsqueeze(-1).expand_as(&r["logits"]);
    assert_close(
        "gguf llama logits",
        &logits.masked_select(&sel),
        &r["logits"].masked_select(&sel),
        1e-4,
    );
    // The tokenizer built from GGUF metadata agrees with the tokenizer.json one.
    let reference = read_json("llama/tokenizer_reference.json");
    for probe in reference["probes"].as_array().expect("probes") {
        let want: Vec<u32> = probe["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(
            lm.tokenizer()
                .encode(probe["text"].as_str().unwrap())
                .unwrap(),
            want
        );
    }
}

#[test]
fn truncated_gguf_is_a_corrupt_error() {
    let err = LanguageModel::load(fixture("gguf/truncated.gguf"), cpu()).expect_err("must fail");
    assert!(matches!(err, RuntimeError::Corrupt { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("truncated.gguf") && msg.contains("truncated"),
        "{msg}"
    );
}

#[test]
fn bad_magic_and_unsupported_type_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.gguf");
    std::fs::write(&path, b"NOPE\x03\x00\x00\x00").unwrap();
    let err = GgufFile::open(&path).expect_err("bad magic");
    assert!(
        matches!(err, RuntimeError::Corrupt { .. }) && err.to_string().contains("magic"),
        "{err}"
    );

    // Rewrite the Q8_0 tensor's type to Q5_K (13): reading it must name the tensor and type.
    let mut bytes = std::fs::read(fixture("gguf/types.gguf")).unwrap();
    let file = GgufFile::open(fixture("gguf/types.gguf")).unwrap();
    let q8 = file
        .tensors()
        .iter()
        .find(|t| t.ggml_type == 8)
        .expect("a Q8_0 tensor")
        .name
        .clone();
    let needle = q8.as_bytes();
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("name in header")
        + needle.len();
    // name, n_dims (u32), 2 dims (u64 each), then the type (u32)
    let ty_at = at + 4 + 16;
    assert_eq!(
        u32::from_le_bytes(bytes[ty_at..ty_at + 4].try_into().unwrap()),
        8
    );
    bytes[ty_at..ty_at + 4].copy_from_slice(&13u32.to_le_bytes());
    let path = dir.path().join("q5k.gguf");
    std::fs::write(&path, &bytes).unwrap();
    let file = GgufFile::open(&path).expect("header still parses");
    let err = file.dequantize(&q8).expect_err("unsupported");
    assert!(
        matches!(err, RuntimeError::UnsupportedQuantization { .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains(&q8) && err.to_string().contains("Q5_K"),
        "{err}"
    );
}

/// A minimal GGUF v3 file: no metadata, F32 tensors `(name, elements, data offset)`, data
/// padded with zeros to cover every tensor.
fn gguf_with_tensors(tensors: &[(&str, u64, u64)]) -> Vec<u8> {
    let mut b = b"GGUF".to_vec();
    b.extend(3u32.to_le_bytes());
    b.extend((tensors.len() as u64).to_le_bytes());
    b.extend(0u64.to_le_bytes());
    for &(name, elements, offset) in tensors {
        b.extend((name.len() as u64).to_le_bytes());
        b.extend(name.as_bytes());
        b.extend(1u32.to_le_bytes());
        b.extend(elements.to_le_bytes());
        b.extend(0u32.to_le_bytes()); // F32
        b.extend(offset.to_le_bytes());
    }
    while !b.len().is_multiple_of(32) {
        b.push(0);
    }
    let end = tensors.iter().map(|t| t.2 + 4 * t.1).max().unwrap_or(0);
    b.extend(std::iter::repeat_n(0u8, end as usize));
    b
}

#[test]
fn duplicate_overlapping_and_misaligned_tensors_are_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let open = |bytes: Vec<u8>| {
        let path = dir.path().join("t.gguf");
        std::fs::write(&path, bytes).unwrap();
        GgufFile::open(&path)
    };
    assert!(open(gguf_with_tensors(&[("a", 8, 0), ("b", 8, 32)])).is_ok());
    for (tensors, says) in [
        (&[("a", 8, 0), ("a", 8, 32)][..], "listed twice"),
        (&[("a", 16, 0), ("b", 8, 32)][..], "overlap"),
        (&[("a", 8, 0), ("b", 8, 36)][..], "alignment"),
    ] {
        let err = open(gguf_with_tensors(tensors)).unwrap_err();
        assert!(
            matches!(err, RuntimeError::Corrupt { .. }) && err.to_string().contains(says),
            "{tensors:?}: {err}"
        );
    }
}
