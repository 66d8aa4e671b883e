"""Cross-fitted choice of the boundary-sampling exponent on a scored pool.

Boundary sampling labels accepted pairs (score <= threshold) with probability proportional to
score**a. On a whole pool, a larger `a` can look better, but `a` chosen after seeing the
pool's labels is not evidence. This script splits the pool at random into two halves, picks
the `a` that finds the most misses per label on one half (as if those labels came from an
earlier round), scores that choice on the other half, and repeats over many splits.

The factor is exact, not simulated: expected misses per label under pi ∝ score**a over the
accepted pairs, divided by the pool's misses per pair (random labeling).

    python3 scripts/analysis/boundary_exponent_crossfit.py runs/active/pool_half.jsonl

Input: a pool written by `active_learning score` (JSONL rows with `score` and `verdict`, and
the `.meta.json` beside it with the `threshold`). Standard library only.
"""

import json
import random
import statistics
import sys

EXPONENTS = [1, 2, 3, 4, 6, 8]


def factor(pairs, threshold, a):
    """Misses per label of pi ∝ score**a over accepted pairs, relative to random; None without misses."""
    accepted = [(s, y) for s, y in pairs if s <= threshold]
    misses = sum(y for _, y in accepted)
    if misses == 0:
        return None
    weight = sum(s**a for s, _ in accepted)
    hit = sum(s**a for s, y in accepted if y)
    return (hit / weight) / (misses / len(pairs))


def main():
    path = sys.argv[1]
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 400
    threshold = json.load(open(path + ".meta.json"))["threshold"]
    pairs = []
    for line in open(path):
        row = json.loads(line)
        pairs.append((row["score"], row["verdict"] == "injury"))
    whole = {a: factor(pairs, threshold, a) for a in EXPONENTS}
    print("whole pool (chosen after seeing it):", {a: round(f, 2) for a, f in whole.items() if f})
    rng = random.Random(0)
    held_out, chosen = [], []
    for _ in range(reps):
        order = list(range(len(pairs)))
        rng.shuffle(order)
        half = len(order) // 2
        for fit, test in ((order[:half], order[half:]), (order[half:], order[:half])):
            fit_pairs = [pairs[i] for i in fit]
            test_pairs = [pairs[i] for i in test]
            fits = [(f, a) for a in EXPONENTS if (f := factor(fit_pairs, threshold, a)) is not None]
            best = max(fits)[1] if fits else 1
            f = factor(test_pairs, threshold, best)
            if f is not None:
                held_out.append(f)
                chosen.append(best)
    print(
        "cross-fitted (held-out half): median %.2f, mean %.2f over %d fits; exponents chosen: %s"
        % (
            statistics.median(held_out),
            statistics.mean(held_out),
            len(held_out),
            {a: chosen.count(a) for a in EXPONENTS},
        )
    )


if __name__ == "__main__":
    main()
