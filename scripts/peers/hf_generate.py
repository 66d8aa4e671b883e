#!/usr/bin/env python3
"""Peer benchmark: HF transformers generate() with SmolLM2-135M-Instruct (GGUF, dequantized to f32) on CPU.

Settings (match the Rust benchmark): float32, sampling with top_p=0.95, temperature 1.0, top_k disabled;
batch 1 x 64 new tokens (prompts[0]) and batch 16 x 32 new tokens (all 16 prompts, left padding);
min_new_tokens = max_new_tokens so every run yields exactly that many tokens. One warm-up run per
setting, then --runs timed runs; reports the MEDIAN new tokens/s (batch * new tokens / seconds) and
the process's peak RSS, as one JSON object on stdout (and in --out if given).

    .venv/bin/python scripts/peers/hf_generate.py [--runs 5] [--threads 2] [--out runs/peer_hf.json]

On a machine shared with other CPU-heavy work, run with OMP_WAIT_POLICY=PASSIVE: with the default
(spinning) OpenMP barriers, 2 intra-op threads on 2 busy cores were ~15x slower than 1 thread.
The JSON records OMP_WAIT_POLICY and the 1-minute load average at the start.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = ROOT / "models" / "smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf"
PROMPTS = Path(__file__).resolve().parent / "prompts.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5, help="timed runs per setting (after 1 warm-up)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="GGUF file")
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    prompts = json.loads(PROMPTS.read_text())["prompts"]
    assert len(prompts) == 16

    tok = AutoTokenizer.from_pretrained(args.model.parent, gguf_file=args.model.name)
    tok.padding_side = "left"
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    model = AutoModelForCausalLM.from_pretrained(
        args.model.parent, gguf_file=args.model.name, dtype=torch.float32
    ).eval()
    attn = model.config._attn_implementation

    settings = [("batch1", prompts[:1], 64), ("batch16", prompts, 32)]
    result: dict = {
        "peer": "hf-transformers",
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "threads": args.threads,
        "model": str(args.model.relative_to(ROOT)) if args.model.is_relative_to(ROOT) else str(args.model),
        "dtype": "float32",
        "attn_implementation": attn,
        "sampling": {"top_p": 0.95, "temperature": 1.0, "top_k": 0},
        "runs": args.runs,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "loadavg_1m_at_start": round(os.getloadavg()[0], 2),
        "cpu_count": os.cpu_count(),
    }
    for label, batch_prompts, new_tokens in settings:
        enc = tok(batch_prompts, return_tensors="pt", padding=True)
        gen_kwargs = dict(
            input_ids=enc.input_ids,
            attention_mask=enc.attention_mask,
            do_sample=True,
            top_p=0.95,
            top_k=0,
            temperature=1.0,
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            pad_token_id=pad_id,
            use_cache=True,
        )
        times = []
        for i in range(args.runs + 1):
            t0 = time.perf_counter()
            with torch.inference_mode():
                out = model.generate(**gen_kwargs)
            dt = time.perf_counter() - t0
            assert out.shape[1] - enc.input_ids.shape[1] == new_tokens, out.shape
            if i > 0:  # run 0 is the warm-up
                times.append(dt)
            print(f"{label} run {i}{' (warm-up)' if i == 0 else ''}: {dt:.2f}s "
                  f"{len(batch_prompts) * new_tokens / dt:.1f} tok/s", file=sys.stderr)
        med = statistics.median(times)
        result[f"{label}_tok_s"] = round(len(batch_prompts) * new_tokens / med, 2)
        result[f"{label}_new_tokens"] = new_tokens
        result[f"{label}_prompt_tokens"] = int(enc.attention_mask.sum())
        result[f"{label}_seconds"] = [round(t, 3) for t in times]
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)

    text = json.dumps(result)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
