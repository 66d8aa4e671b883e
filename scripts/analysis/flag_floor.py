#!/usr/bin/env python3
"""How concentrated the flags are, and the least KL any policy needs to cut them.

Reads the per-completion records that `nines distill` writes (`RUN/eval_samples.jsonl`)
and, for the original policy's completions:

* the per-prompt flagged fraction q_i (how many prompts are flagged on every sample, on none);
* the KL floor of a target flagged rate F: the least mean KL(pi || pi_0) per completion over
  all policies pi whose mean flagged rate is F. By the data-processing inequality a policy
  that flags prompt i with probability f_i has KL >= kl(f_i || q_i) (Bernoulli KL), reached by
  the filter-tilted policy pi ∝ pi_0 exp(-lam * flagged); minimizing sum_i kl(f_i || q_i)
  subject to mean f_i = F gives one lam for all prompts. q_i is estimated from a few samples
  per prompt with Jeffreys smoothing ((k + 1/2) / (n + 1)), so a prompt flagged on all n
  samples is not treated as impossible to fix.

Usage: scripts/analysis/flag_floor.py runs/analysis-done6/eval_samples.jsonl
"""

import collections
import json
import math
import sys


def bern_kl(f, q):
    out = 0.0
    if f > 0:
        out += f * math.log(f / q)
    if f < 1:
        out += (1 - f) * math.log((1 - f) / (1 - q))
    return out


def tilted(q, lam):
    """Flag probability of pi ∝ pi_0 exp(-lam * flagged) on a prompt flagged with prob. q."""
    w = q * math.exp(-lam)
    return w / (w + 1 - q)


def floor(qs, target):
    lo, hi = 0.0, 60.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if sum(tilted(q, mid) for q in qs) / len(qs) > target:
            lo = mid
        else:
            hi = mid
    fs = [tilted(q, hi) for q in qs]
    return sum(bern_kl(f, q) for f, q in zip(fs, qs)) / len(qs)


def main():
    path = sys.argv[1]
    by_policy = collections.defaultdict(lambda: collections.defaultdict(list))
    for line in open(path):
        r = json.loads(line)
        by_policy[r["policy"]][r["prompt_index"]].append(r)
    for policy, prompts in by_policy.items():
        n = sum(len(v) for v in prompts.values())
        flagged = sum(r["flagged"] for v in prompts.values() for r in v)
        tokens = sum(r["tokens"] for v in prompts.values() for r in v) / n
        print(f"{policy}: {len(prompts)} prompts, {n} completions, flagged {flagged / n:.3f}, "
              f"{tokens:.1f} tokens")
        fracs = sorted(sum(r["flagged"] for r in v) / len(v) for v in prompts.values())
        buckets = collections.Counter(
            "none" if f == 0 else "all" if f == 1 else "<=1/4" if f <= 0.25 else
            "<=1/2" if f <= 0.5 else ">1/2" for f in fracs)
        print("  prompts by flagged fraction:", dict(buckets))
        top = fracs[-len(fracs) // 10:]
        share = sum(top) / max(sum(fracs), 1e-12)
        print(f"  the 10% most-flagged prompts hold {share:.0%} of the flags")
    orig = by_policy["original"]
    qs = []
    for v in orig.values():
        k = sum(r["flagged"] for r in v)
        qs.append((k + 0.5) / (len(v) + 1))
    base = sum(qs) / len(qs)
    print(f"original (smoothed) flagged rate {base:.3f}")
    for factor in (1.5, 2, 3, 5, 10):
        print(f"  {factor:>4}x (flagged {base / factor:.4f}): KL floor "
              f"{floor(qs, base / factor):.3f} nats/completion")


if __name__ == "__main__":
    main()
