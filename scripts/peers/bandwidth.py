"""Memory-bandwidth roofline for f32 decoding on this machine (docs/performance.md, "Generation").

Times, with 2 torch threads, matrix-vector products over ~531 MB of f32 weights (the size of
SmolLM2-135M in f32), laid out as one matrix or as 150 layer-sized (1536 x 576) ones, a plain
sum over 540 MB, and the 16-row products of SmolLM2's projection shapes in three layouts
(the one `nines-runtime` uses for a batch's decoding step is `(W.x^T)^T`, not made contiguous).
Prints medians. Run: .venv/bin/python scripts/peers/bandwidth.py
"""

import time

import torch


def median_ms(f, reps=7):
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    ts.sort()
    return 1000 * ts[reps // 2]


def main():
    torch.set_num_threads(2)
    x = torch.randn(1, 576)
    big = torch.randn(1536 * 150, 576)
    mb = big.numel() * 4 / 1e6
    ms = median_ms(lambda: torch.nn.functional.linear(x, big))
    print(f"one {mb:.0f} MB matrix-vector product: {ms:.1f} ms, {mb / ms:.1f} GB/s")
    layers = [torch.randn(1536, 576) for _ in range(150)]
    ms = median_ms(lambda: [torch.nn.functional.linear(x, w) for w in layers])
    print(f"150 separate 3.5 MB products: {ms:.1f} ms, {mb / ms:.1f} GB/s")
    flat = torch.randn(135_000_000)
    ms = median_ms(lambda: flat.sum())
    print(f"sum over 540 MB: {ms:.1f} ms, {540 / ms:.1f} GB/s")
    # gate/up (fused), down, q/k/v (fused), o; then the tied output projection (one matrix).
    for out_f, in_f, n in ((3072, 576, 30), (576, 1536, 30), (960, 576, 30), (576, 576, 30), (49152, 576, 1)):
        ws = [torch.randn(out_f, in_f) for _ in range(n)]
        wt = [w.t().contiguous() for w in ws]
        xi = torch.randn(16, in_f)
        with torch.inference_mode():
            a = median_ms(lambda: [torch.nn.functional.linear(xi, w) for w in ws], reps=21)
            b = median_ms(lambda: [(w @ xi.t()).t() for w in ws], reps=21)
            bc = median_ms(lambda: [(w @ xi.t()).t().contiguous() for w in ws], reps=21)
            c = median_ms(lambda: [xi @ w for w in wt], reps=21)
        print(f"16 rows x W[{out_f},{in_f}], {n} matrices: x.W^T {a:.1f} ms, (W.x^T)^T {b:.1f} ms "
              f"(made contiguous {bc:.1f} ms), x.W stored transposed {c:.1f} ms")


if __name__ == "__main__":
    main()
