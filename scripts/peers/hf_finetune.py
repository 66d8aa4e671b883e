#!/usr/bin/env python3
"""Peer benchmark: causal-LM fine-tuning step throughput with HF transformers (CPU, float32).

Same work as the Rust benchmark (`cargo bench --bench finetune`, `nines_runtime::train::Finetuner`):
SmolLM2-135M-Instruct (the GGUF in models/smollm2, dequantized to f32 by transformers; or an HF
folder), packed sequences of --seq-len tokens from the corpus text (documents separated by EOS),
batch --batch, all parameters frozen except the top --top-layers blocks and the final norm,
next-token cross-entropy, global gradient-norm clipping to 1.0, torch.optim.AdamW (lr 2e-4,
weight decay 0.01, default foreach implementation), dropout off (model.eval()).
--warmup untimed steps, then --steps timed steps; reports the MEDIAN training tokens/s
(batch * seq_len / step seconds) as one JSON object on stdout (and in --out if given).

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python scripts/peers/hf_finetune.py --threads 2 \
        --seq-len 256 --batch 4 --top-layers 6 --steps 8 --out runs/peer_hf_finetune.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = ROOT / "models" / "smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf"
CORPUS = ROOT / "data" / "corpus" / "moby_dick.txt"


def load(path: Path):
    if path.suffix == ".gguf":
        tok = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    else:
        tok = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    return tok, model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--text", type=Path, default=CORPUS, help="text to pack")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--top-layers", type=int, default=6, help="-1 = train everything")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    tok, model = load(args.model)
    model.eval()  # dropout off, as in the Rust trainer
    layers = model.model.layers
    n = len(layers)
    for name, p in model.named_parameters():
        if args.top_layers < 0:
            p.requires_grad_(True)
            continue
        train = name.startswith("model.norm.")
        if name.startswith("model.layers."):
            train = int(name.split(".")[2]) >= n - args.top_layers
        p.requires_grad_(train)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=2e-4, weight_decay=0.01)

    text = args.text.read_text(encoding="utf-8")
    ids = tok(text[:400_000], add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    per = args.seq_len * args.batch
    need = per * (args.warmup + args.steps)
    while len(ids) < need:
        ids = ids + ids
    data = torch.tensor(ids[:need], dtype=torch.long).view(-1, args.batch, args.seq_len)

    times = []
    losses = []
    for i in range(args.warmup + args.steps):
        batch = data[i]
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=False)
        out = model(input_ids=batch, labels=batch)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        dt = time.perf_counter() - t0
        losses.append(out.loss.item())
        if i >= args.warmup:
            times.append(dt)
        print(f"step {i}: {dt:.2f} s, loss {losses[-1]:.3f}", file=sys.stderr)

    med = statistics.median(times)
    result = {
        "peer": "hf_transformers",
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "model": str(args.model),
        "threads": args.threads,
        "seq_len": args.seq_len,
        "batch": args.batch,
        "top_layers": args.top_layers,
        "trainable_parameters": sum(p.numel() for p in params),
        "steps_timed": args.steps,
        "median_step_s": med,
        "tokens_per_s": per / med,
        "step_s": times,
        "losses": losses,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "load_average_1m": os.getloadavg()[0],
    }
    s = json.dumps(result, indent=2)
    print(s)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(s + "\n")


if __name__ == "__main__":
    main()
