//! `cargo +nightly fuzz run hf_model`: see docs/robustness.md.
#![no_main]

#[path = "../../tests/hostile/mod.rs"]
mod hostile;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    hostile::init_fuzzing();
    let _ = hostile::Target::HfModel.run(data);
});
