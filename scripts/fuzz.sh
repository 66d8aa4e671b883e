#!/usr/bin/env bash
# Fuzz the loaders of untrusted input with cargo-fuzz (libFuzzer), one target after another.
#
#   scripts/fuzz.sh [MINUTES] [TARGET...]    default: 10 minutes each, every target
#
# Targets: gguf hf_model tokenizer store pipeline_config (fuzz/fuzz_targets/). Seeds come from
# the regression corpus (tests/corpus/<target>/) and the test fixtures; what the fuzzer finds
# interesting accumulates in fuzz/corpus/<target>/ (not committed), a crashing input lands in
# fuzz/artifacts/<target>/ and belongs in tests/corpus/<target>/ once fixed. Needs the nightly
# toolchain and `cargo install cargo-fuzz`.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-10}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(gguf hf_model tokenizer store pipeline_config)
root=$(pwd)
export LIBTORCH=${LIBTORCH:-$root/third_party/libtorch}
# cargo-fuzz sets its own RUSTFLAGS, which drop the run path of .cargo/config.toml.
export LD_LIBRARY_PATH=$LIBTORCH/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# LibTorch is not built with the sanitizer; libFuzzer's own checks (panics, aborts, timeouts,
# memory limit) are what the targets need.
sanitizer=${NINES_FUZZ_SANITIZER:-none}
# Seeds: the regression corpus, plus the test fixtures in each target's input format.
seeds() {
    local dir=fuzz/seeds/$1
    rm -rf "$dir" && mkdir -p "$dir"
    local fx=crates/nines-runtime/tests/fixtures
    case $1 in
        gguf) cp $fx/gguf/*.gguf "$dir/" ;;
        hf_model)
            for f in config.json model.safetensors generation_config.json; do
                { printf '%s\n' "$f"; cat "$fx/llama/$f"; } > "$dir/llama-$f"
            done
            for f in config.json model.safetensors; do
                { printf 'encoder/%s\n' "$f"; cat "$fx/bert/$f"; } > "$dir/bert-$f"
            done ;;
        tokenizer) for m in llama bert gpt2; do cp "$fx/$m/tokenizer.json" "$dir/$m.json"; done ;;
        store) ;;
        pipeline_config) ;;
        *) echo "unknown target $1" >&2; exit 2 ;;
    esac
    echo "tests/corpus/$1 $dir"
}
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t"
    # shellcheck disable=SC2046
    cargo +nightly fuzz run -s "$sanitizer" "$t" "fuzz/corpus/$t" $(seeds "$t") -- \
        -max_total_time=$((minutes * 60)) -timeout=20 -rss_limit_mb=4096 -max_len=1048576 \
        -print_final_stats=1 2>&1 | tee "fuzz/$t.log" | grep -E "^(#[0-9]+.*(pulse|DONE)|stat::|==|SUMMARY|Done)" || true
done
