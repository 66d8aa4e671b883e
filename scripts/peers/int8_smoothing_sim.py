"""Simulated int8 with 8-bit per-row activations on SmolLM2-135M (HF transformers, the GGUF
dequantized), with and without SmoothQuant-style per-channel smoothing: validation perplexity
relative to f32 on 16 sequences of 256 tokens of Persuasion, factors from 512 tokens of Moby-Dick.

Weights: per-row symmetric int8. Activations: per row, 255 levels over [-max, max] scaled to
254/255 (as the runtime's one-level scheme). Factors are shared by the projections that read the
same input (q/k/v, gate/up). The tied output projection is never smoothed (that would change the
embedding); it is quantized at 8 bits, or left exact.

    .venv/bin/python scripts/peers/int8_smoothing_sim.py
"""
import math

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

torch.set_num_threads(2)
torch.set_grad_enabled(False)
D, F = "models/smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"
tok = AutoTokenizer.from_pretrained(D, gguf_file=F)
model = AutoModelForCausalLM.from_pretrained(D, gguf_file=F, dtype=torch.float32).eval()
ids = tok(open("data/corpus/persuasion.txt").read()[200000:260000], return_tensors="pt").input_ids[0]
seqs = ids[: 16 * 256].view(16, 256)
cal = tok(open("data/corpus/moby_dick.txt").read()[100000:106000], return_tensors="pt").input_ids[0][:512]


def perplexity():
    nll, n = 0.0, 0
    for i in range(0, 16, 4):
        out = model(seqs[i : i + 4]).logits[:, :-1]
        nll += torch.nn.functional.cross_entropy(
            out.reshape(-1, out.shape[-1]), seqs[i : i + 4, 1:].reshape(-1), reduction="sum"
        ).item()
        n += out.shape[0] * out.shape[1]
    return math.exp(nll / n)


base = perplexity()
lins = {n: m for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
stats = {}
hooks = [
    m.register_forward_pre_hook(
        lambda m, a, n=n: stats.__setitem__(
            n,
            torch.maximum(
                stats.get(n, torch.zeros(a[0].shape[-1])),
                a[0].abs().reshape(-1, a[0].shape[-1]).amax(0),
            ),
        )
    )
    for n, m in lins.items()
]
model(cal[None])
for h in hooks:
    h.remove()
orig = {n: m.weight.clone() for n, m in lins.items()}
GROUPS = [["q_proj", "k_proj", "v_proj"], ["gate_proj", "up_proj"]]


def quantize_weight(w):
    s = w.abs().amax(1, keepdim=True) / 127
    return (w / s).round().clamp(-127, 127) * s


def quantize_activation(x):
    r = x.abs().amax(-1, keepdim=True).clamp_min(1e-12) / (254 / 255)
    step = 2 / 255
    return ((x / r) / step).round() * step * r


def group(name):
    leaf = name.split(".")[-1]
    for g in GROUPS:
        if leaf in g:
            return [name[: -len(leaf)] + x for x in g]
    return [name]


def run(alpha, head_exact=False):
    hooks = []
    for n, m in lins.items():
        w = orig[n]
        if alpha is not None and n != "lm_head":
            wm = torch.stack([orig[g].abs().amax(0) for g in group(n)]).amax(0)
            s = (stats[n].clamp_min(1e-5) ** alpha / wm.clamp_min(1e-5) ** (1 - alpha)).clamp_min(1e-5)
        else:
            s = torch.ones(w.shape[1])
        m.weight.copy_(quantize_weight(w * s))
        if not (head_exact and n == "lm_head"):
            hooks.append(m.register_forward_pre_hook(lambda m, a, s=s: (quantize_activation(a[0] / s),)))
    p = perplexity()
    for h in hooks:
        h.remove()
    for n, m in lins.items():
        m.weight.copy_(orig[n])
    return p / base


print(f"f32 perplexity {base:.2f}")
print(f"unsmoothed: {run(None):.4f}")
for alpha in [0.3, 0.5, 0.7, 0.85]:
    print(f"alpha {alpha}: {run(alpha):.4f}")
print(f"alpha 0.5, output projection exact: {run(0.5, head_exact=True):.4f}")
