#!/usr/bin/env python3
"""Peer benchmark: llama.cpp (through llama-cpp-python) generating with the SmolLM2-135M-Instruct GGUF.

The GGUF runs as it is (Q4_1), on the CPU with 2 threads. Settings match the Rust benchmark
(benches/generation.rs) and scripts/peers/hf_generate.py: sampling with top_p=0.95, temperature
1.0, top_k off; batch 1 x 64 new tokens (prompts[0]) and batch 16 x 32 new tokens (all 16 prompts,
decoded together as 16 sequences of one batch); end-of-generation tokens are banned so that every
run yields exactly that many tokens (min_new_tokens = max_new_tokens on the other sides). One
warm-up run per setting, then --runs timed runs (prompt processing included, tokenization not);
reports the MEDIAN new tokens/s (batch * new tokens / seconds) and the process's peak RSS, as one
JSON object on stdout (and in --out if given).

    .venv/bin/pip install llama-cpp-python     # builds llama.cpp from source (~50 min on 2 busy cores)
    .venv/bin/python scripts/peers/llamacpp_generate.py [--runs 5] [--threads 2] [--out runs/peer_llamacpp.json]

llama.cpp's CPU backend uses OpenMP: on a machine busy with other work, run with
OMP_WAIT_POLICY=PASSIVE (as for hf_generate.py), or its spinning barriers dominate.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import llama_cpp as L

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = ROOT / "models" / "smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf"
PROMPTS = Path(__file__).resolve().parent / "prompts.json"


@L.llama_log_callback
def _QUIET(level, text, user_data):  # noqa: N802 - llama.cpp's log lines are not part of the result
    pass


def tokenize(vocab, text: str) -> list[int]:
    data = text.encode("utf-8")
    buf = (L.llama_token * (len(data) + 8))()
    n = L.llama_tokenize(vocab, data, len(data), buf, len(buf), True, False)
    if n < 0:
        raise RuntimeError(f"tokenization needs {-n} tokens")
    return list(buf[:n])


def sampler(banned: list[int], n_vocab: int, seed: int):
    """top-p 0.95, temperature 1, seeded draw; `banned` tokens get -inf."""
    chain = L.llama_sampler_chain_init(L.llama_sampler_chain_default_params())
    biases = (L.llama_logit_bias * len(banned))()
    for i, t in enumerate(banned):
        biases[i].token = t
        biases[i].bias = float("-inf")
    L.llama_sampler_chain_add(chain, L.llama_sampler_init_logit_bias(n_vocab, len(banned), biases))
    L.llama_sampler_chain_add(chain, L.llama_sampler_init_top_p(0.95, 1))
    L.llama_sampler_chain_add(chain, L.llama_sampler_init_temp(1.0))
    L.llama_sampler_chain_add(chain, L.llama_sampler_init_dist(seed))
    return chain


def generate(ctx, batch, prompts: list[list[int]], new_tokens: int, samplers) -> list[list[int]]:
    """Prompt processing for every sequence, then `new_tokens` decoding steps of one token each."""
    L.llama_memory_clear(L.llama_get_memory(ctx), True)
    n = 0
    last = []
    for s, toks in enumerate(prompts):
        for p, t in enumerate(toks):
            batch.token[n] = t
            batch.pos[n] = p
            batch.n_seq_id[n] = 1
            batch.seq_id[n][0] = s
            batch.logits[n] = p == len(toks) - 1
            n += 1
        last.append(n - 1)
    batch.n_tokens = n
    if L.llama_decode(ctx, batch) != 0:
        raise RuntimeError("llama_decode failed on the prompts")
    out: list[list[int]] = [[] for _ in prompts]
    for step in range(new_tokens):
        for s, smpl in enumerate(samplers):
            tok = L.llama_sampler_sample(smpl, ctx, last[s])
            out[s].append(tok)
        if step == new_tokens - 1:
            break
        for s, toks in enumerate(prompts):
            batch.token[s] = out[s][-1]
            batch.pos[s] = len(toks) + step
            batch.n_seq_id[s] = 1
            batch.seq_id[s][0] = s
            batch.logits[s] = True
            last[s] = s
        batch.n_tokens = len(prompts)
        if L.llama_decode(ctx, batch) != 0:
            raise RuntimeError(f"llama_decode failed at step {step}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5, help="timed runs per setting (after 1 warm-up)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="GGUF file")
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    prompts = json.loads(PROMPTS.read_text())["prompts"]
    assert len(prompts) == 16

    L.llama_backend_init()
    L.llama_log_set(_QUIET, ctypes.c_void_p())
    mparams = L.llama_model_default_params()
    model = L.llama_model_load_from_file(str(args.model).encode(), mparams)
    if not model:
        raise SystemExit(f"cannot load {args.model}")
    vocab = L.llama_model_get_vocab(model)
    n_vocab = L.llama_vocab_n_tokens(vocab)
    banned = [t for t in range(n_vocab) if L.llama_vocab_is_eog(vocab, t)]
    encoded = [tokenize(vocab, p) for p in prompts]

    settings = [("batch1", encoded[:1], 64), ("batch16", encoded, 32)]
    longest = max(sum(len(p) for p in ps) for _, ps, _ in settings)
    cparams = L.llama_context_default_params()
    cparams.n_ctx = 16 * (max(len(p) for p in encoded) + 64) + 256
    cparams.n_batch = max(512, longest)
    cparams.n_ubatch = cparams.n_batch
    cparams.n_seq_max = 16
    cparams.kv_unified = True
    cparams.n_threads = args.threads
    cparams.n_threads_batch = args.threads
    ctx = L.llama_init_from_model(model, cparams)
    if not ctx:
        raise SystemExit("cannot create a llama.cpp context")
    batch = L.llama_batch_init(cparams.n_batch, 0, 16)

    result: dict = {
        "peer": "llama.cpp",
        "llama_cpp_python": L.__version__,
        "threads": args.threads,
        "model": str(args.model.relative_to(ROOT)) if args.model.is_relative_to(ROOT) else str(args.model),
        "dtype": "Q4_1 (as stored)",
        "sampling": {"top_p": 0.95, "temperature": 1.0, "top_k": 0},
        "runs": args.runs,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "loadavg_1m_at_start": round(os.getloadavg()[0], 2),
        "cpu_count": os.cpu_count(),
        "system_info": L.llama_print_system_info().decode(errors="replace"),
    }
    for label, batch_prompts, new_tokens in settings:
        times = []
        for i in range(args.runs + 1):
            samplers = [sampler(banned, n_vocab, args.seed + 1000 * i + s) for s in range(len(batch_prompts))]
            t0 = time.perf_counter()
            out = generate(ctx, batch, batch_prompts, new_tokens, samplers)
            dt = time.perf_counter() - t0
            for smpl in samplers:
                L.llama_sampler_free(smpl)
            assert all(len(o) == new_tokens for o in out)
            if i > 0:  # run 0 is the warm-up
                times.append(dt)
            print(f"{label} run {i}{' (warm-up)' if i == 0 else ''}: {dt:.2f}s "
                  f"{len(batch_prompts) * new_tokens / dt:.1f} tok/s", file=sys.stderr)
        med = statistics.median(times)
        result[f"{label}_tok_s"] = round(len(batch_prompts) * new_tokens / med, 2)
        result[f"{label}_new_tokens"] = new_tokens
        result[f"{label}_prompt_tokens"] = sum(len(p) for p in batch_prompts)
        result[f"{label}_seconds"] = [round(t, 3) for t in times]
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)

    L.llama_batch_free(batch)
    L.llama_free(ctx)
    L.llama_model_free(model)

    text = json.dumps(result)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
