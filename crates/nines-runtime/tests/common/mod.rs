//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;

use tch::{Kind, Tensor};

/// `tests/fixtures/<rel>`.
pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// The repository's `models/<rel>` (laid out by `make setup`).
pub fn model_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../models")
        .join(rel)
}

/// All tensors of a safetensors file, by name.
pub fn read_tensors(rel: &str) -> HashMap<String, Tensor> {
    Tensor::read_safetensors(fixture(rel))
        .expect("fixture readable")
        .into_iter()
        .collect()
}

/// Largest absolute difference between two float tensors.
pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size(), "shapes differ");
    (a.to_kind(Kind::Double) - b.to_kind(Kind::Double))
        .abs()
        .max()
        .double_value(&[])
}

/// Fails unless `a` and `b` agree within `tol` everywhere.
pub fn assert_close(what: &str, a: &Tensor, b: &Tensor, tol: f64) {
    let d = max_abs_diff(a, b);
    assert!(d <= tol, "{what}: max |diff| {d:e} > {tol:e}");
}

/// Reads a JSON fixture.
pub fn read_json(rel: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(rel)).expect("fixture readable"))
        .expect("valid JSON")
}
