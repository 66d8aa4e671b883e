"""The parts of a SmolLM2-135M decoding step in LibTorch's own kernels (Python torch, 2 threads):
all 211 projection matrices in f32 `linear` and in the FBGEMM int8 kernel the runtime calls
(`fbgemm_linear_int8_weight_fp32_activation`, random int8 weights) for a given number of rows,
and one layer's decoding attention (16 rows, 3 key/value heads of 3 query heads, head size 64)
through SDPA and through two batched products and a softmax. Medians.

    .venv/bin/python scripts/peers/decode_ops.py

Rows: 1 and 16 are a decoding step at batch 1 and 16; the runtime's two activation levels give
the kernel 2m + 1 rows (33 for 16), one level m + 1; a 16-prompt prefill of 30 tokens is 480.
"""
import statistics
import time
import warnings

import torch

warnings.filterwarnings("ignore")
torch.set_num_threads(2)
torch.set_grad_enabled(False)
H, I, L, VOCAB = 576, 1536, 30, 49152
SHAPES = [(960, H)] * L + [(H, H)] * L + [(2 * I, H)] * L + [(H, I)] * L + [(VOCAB, H)]


def median_seconds(f, runs=5):
    f()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


int8 = []
for n, k in SHAPES:
    w = torch.randint(-127, 127, (n, k), dtype=torch.int8)
    int8.append((w, torch.fbgemm_pack_quantized_matrix(w), w.sum(1, dtype=torch.int32), torch.zeros(n)))
dense = [torch.randn(n, k) for n, k in SHAPES]


def int8_step(m):
    xs = [torch.randn(m, w.shape[1]) for w, *_ in int8]
    return lambda: [
        torch.fbgemm_linear_int8_weight_fp32_activation(x, w, p, off, 1.0, 0, z)
        for x, (w, p, off, z) in zip(xs, int8)
    ]


def f32_step(m):
    xs = [torch.randn(m, w.shape[1]) for w in dense]
    return lambda: [torch.nn.functional.linear(x, w) for x, w in zip(xs, dense)]


for m in [1, 2, 3, 16, 17, 33, 481, 961]:
    line = f"{m:4d} rows: int8 {median_seconds(int8_step(m)) * 1e3:7.1f} ms"
    if m in (1, 16, 480, 481):
        line += f", f32 {median_seconds(f32_step(m)) * 1e3:7.1f} ms"
    print(line)

for b in [1, 16]:
    for keys in [40, 80, 160]:
        q = torch.randn(b, 3, 3, 64)
        k = torch.randn(b, 3, keys, 64)
        v = torch.randn(b, 3, keys, 64)
        sdpa = median_seconds(lambda: [torch.nn.functional.scaled_dot_product_attention(q, k, v) for _ in range(200)]) / 200
        parts = median_seconds(lambda: [torch.softmax((q * 0.125) @ k.transpose(-2, -1), -1) @ v for _ in range(200)]) / 200
        print(f"attention, {b} rows, {keys} keys: SDPA {sdpa * 1e6:.0f} us, products {parts * 1e6:.0f} us a layer")
