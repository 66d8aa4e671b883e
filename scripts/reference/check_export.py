#!/usr/bin/env python3
"""Check a Hugging Face export written by nines-runtime (`export_hf`, e.g. by
`nines finetune`) with HF transformers.

Loads RUN/hf with AutoModelForCausalLM and AutoTokenizer (no trust_remote_code), then
  1. the tokenizer: tokenizing the parity passage gives the ids the Rust runtime used;
  2. the logits: transformers' logits on those ids vs the Rust runtime's (RUN/parity.safetensors,
     written by the example from the in-memory fine-tuned model before export);
  3. optionally (--source GGUF): with --untrained exports, transformers' own GGUF loader gives
     the same logits as the export (dequantization and Q/K un-permutation agree).
Prints one JSON object; exits 1 when the largest absolute logit difference exceeds --tol.

    .venv/bin/python scripts/reference/check_export.py runs/finetune [--tol 1e-4]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
import transformers
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

TEXT = (
    "The sea was calm that morning, and the captain walked the deck alone, "
    "thinking of the letter he had burned."
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="run folder with hf/ and parity.safetensors")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--source", type=Path, help="GGUF the export came from (untrained exports only)")
    args = ap.parse_args()

    torch.set_num_threads(2)
    hf_dir = args.run / "hf"
    tok = AutoTokenizer.from_pretrained(hf_dir)
    model = AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32).eval()
    ref = load_file(str(args.run / "parity.safetensors"))
    ids = ref["input_ids"].long()
    hf_ids = tok(TEXT, add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        logits = model(input_ids=ids).logits
    diff = (logits - ref["logits"]).abs().max().item()
    result = {
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "export": str(hf_dir),
        "model_class": type(model).__name__,
        "tokens": ids.shape[1],
        "tokenizer_ids_match": hf_ids.tolist() == ids.tolist(),
        "max_abs_logit_diff": diff,
        "argmax_agree": (logits.argmax(-1) == ref["logits"].argmax(-1)).float().mean().item(),
        "tol": args.tol,
    }
    if args.source is not None:
        src = AutoModelForCausalLM.from_pretrained(
            args.source.parent, gguf_file=args.source.name, dtype=torch.float32
        ).eval()
        with torch.no_grad():
            result["gguf_vs_export_max_abs_diff"] = (src(input_ids=ids).logits - logits).abs().max().item()
    ok = diff <= args.tol and result["tokenizer_ids_match"]
    result["ok"] = ok
    print(json.dumps(result, indent=2))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
