//! `cargo +nightly fuzz run tokenizer`: see docs/robustness.md.
#![no_main]

#[path = "../../tests/hostile/mod.rs"]
mod hostile;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    hostile::init_fuzzing();
    let _ = hostile::Target::Tokenizer.run(data);
});
