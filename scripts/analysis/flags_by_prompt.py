#!/usr/bin/env python3
"""Where a distilled policy's remaining flags are: its most-flagged held-out prompts against
the rest, for each `eval_samples.jsonl` (one line per completion, as `distill` writes it).

    python3 scripts/analysis/flags_by_prompt.py --top 3 \
        runs/distill-done14-n1024/eval_samples.jsonl runs/distill-done15/eval_samples.jsonl

The `--top` prompts are chosen once, by the distilled policy's flags pooled over all files
(the files must evaluate the same held-out prompts), then each file is split into those
prompts and the others, for both policies, with the flagged rate and the reduction on each
part.
"""
import argparse
import collections
import json


def read(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--top", type=int, default=3, help="most-flagged prompts to set apart")
    args = ap.parse_args()
    runs = [(path, read(path)) for path in args.files]
    pooled = collections.Counter()
    texts = {}
    for _, records in runs:
        for r in records:
            texts[r["prompt_index"]] = r["prompt"]
            if r["policy"] == "distilled" and r["flagged"]:
                pooled[r["prompt_index"]] += 1
    top = [i for i, _ in pooled.most_common(args.top)]
    for i in top:
        print(f"prompt {i}: {texts[i][-90:]!r}")
    for path, records in runs:
        print(path)
        rates = {}
        for policy in ("original", "distilled"):
            rs = [r for r in records if r["policy"] == policy]
            inside = [r["flagged"] for r in rs if r["prompt_index"] in top]
            outside = [r["flagged"] for r in rs if r["prompt_index"] not in top]
            rates[policy] = (sum(outside) / max(len(outside), 1), sum(inside), len(inside))
            print(
                f"  {policy:9} top {args.top}: {sum(inside)}/{len(inside)}"
                f"   other prompts: {sum(outside)}/{len(outside)} = {rates[policy][0]:.4f}"
            )
        o, d = rates["original"][0], rates["distilled"][0]
        print(f"  reduction on the other prompts: {o / d:.1f}x" if d > 0 else "  no flag left")


if __name__ == "__main__":
    main()
