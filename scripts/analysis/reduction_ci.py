#!/usr/bin/env python3
"""Flagged-rate reduction (original / distilled) with a 95% interval, from one or more
`eval.json` reports of the same two policies (independent evaluations are pooled).

    python3 scripts/analysis/reduction_ci.py runs/distill-done14/eval.json \
        runs/distill-done14-n1024/eval.json

The interval is Katz's log risk-ratio interval, which treats the two policies' completions as
independent samples; both policies answer the same prompts, so with flags that depend on the
prompt it is conservative.
"""
import json
import math
import sys


def counts(report, policy):
    flagged = report[policy]["flagged"]
    n = flagged["n"]
    return round(flagged["value"] * n), n


def main(paths):
    if not paths:
        sys.exit(__doc__)
    totals = {"original": [0, 0], "distilled": [0, 0]}
    for path in paths:
        with open(path) as f:
            report = json.load(f)
        for policy, total in totals.items():
            k, n = counts(report, policy)
            total[0] += k
            total[1] += n
            print(f"{path}: {policy} {k}/{n} = {k / n:.4f}")
    (a, n1), (b, n2) = totals["original"], totals["distilled"]
    if a == 0 or b == 0:
        print(f"pooled: original {a}/{n1}, distilled {b}/{n2}: a policy with no flag has no finite ratio")
        return
    ratio = (a / n1) / (b / n2)
    se = math.sqrt(1 / a - 1 / n1 + 1 / b - 1 / n2)
    lo, hi = ratio * math.exp(-1.96 * se), ratio * math.exp(1.96 * se)
    print(f"pooled: original {a}/{n1} = {a / n1:.4f}, distilled {b}/{n2} = {b / n2:.4f}")
    print(f"reduction {ratio:.2f}x, 95% interval [{lo:.2f}, {hi:.2f}] (Katz)")


if __name__ == "__main__":
    main(sys.argv[1:])
