#!/usr/bin/env bash
# Runs tests under every LibTorch CPU kernel set and thread count: results may differ in
# the last bits between AVX-512, AVX2 and plain kernels, and a test must hold under all of
# them (docs/design.md, "CPU kernels").
#
#   scripts/kernel_matrix.sh            the tests that train (what CI runs)
#   scripts/kernel_matrix.sh --all      the whole suite
#
# Environment: CAPABILITIES (default "default avx2 avx512"), THREADS (default "1 2").
# On a CPU without AVX-512, ATEN_CPU_CAPABILITY=avx512 falls back to the best the CPU has.
set -euo pipefail
cd "$(dirname "$0")/.."
capabilities=${CAPABILITIES:-default avx2 avx512}
threads=${THREADS:-1 2}
if [[ "${1:-}" == "--all" ]]; then
  args=(--workspace --lib --bins --tests --examples)
else
  # The crates whose tests run an optimizer (PPO, classifier training, active learning,
  # fine-tuning, LoRA, the checkpoint kill test, adversarial training), all their test binaries.
  args=(-p nines-distill -p nines-classify -p nines-active -p nines-runtime -p nines-attack --tests)
fi
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
failed=0
for cap in $capabilities; do
  for n in $threads; do
    echo "kernel matrix: ATEN_CPU_CAPABILITY=$cap OMP_NUM_THREADS=$n" >&2
    if ! ATEN_CPU_CAPABILITY=$cap OMP_NUM_THREADS=$n MKL_NUM_THREADS=$n cargo test --no-fail-fast "${args[@]}"; then
      echo "kernel matrix: FAILED with ATEN_CPU_CAPABILITY=$cap OMP_NUM_THREADS=$n" >&2
      failed=1
    fi
  done
done
exit $failed
