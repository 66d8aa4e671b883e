"""Where the classifier's inference time goes, from Python (docs/performance.md, "Classifier").

1. Replays nines' MiniLM forward pass operator by operator (`F.linear`, SDPA with an additive
   padding bias, exact GELU, `layer_norm`, mean pooling) with the checkpoint's weights, and
   times it against `BertForSequenceClassification` on the same 16-pair batch of the peer
   benchmark, in one process, under `no_grad` and `inference_mode`.
2. Times f32 against bf16 products of MiniLM's shapes (16 x 42 = 672 rows).

    .venv/bin/python scripts/peers/classifier_ops.py
"""

import json
import time

import torch
import torch.nn.functional as F
from transformers import AutoTokenizer, BertForSequenceClassification

COMPLETIONS = [
    " He stepped back from the window and said nothing.",
    " The blade caught his forearm and blood ran down to his wrist.",
    " She laughed, folded the letter, and put it away.",
    " The horse stumbled and threw him hard against the stones.",
]


def median_ms(f, n=30):
    for _ in range(3):
        f()
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    ts.sort()
    return 1000 * ts[n // 2]


def nines_forward(m, ids, types, mask):
    """nines-runtime's BertModel::forward + mean_pool, in torch operators."""
    b, t = ids.shape
    e = m.bert.embeddings
    hidden = m.config.hidden_size
    heads = m.config.num_attention_heads
    x = e.word_embeddings(ids) + e.position_embeddings(torch.arange(t).unsqueeze(0)) + e.token_type_embeddings(types)
    x = F.layer_norm(x, (hidden,), e.LayerNorm.weight, e.LayerNorm.bias, m.config.layer_norm_eps)
    bias = torch.zeros(b, 1, 1, t).masked_fill(~(mask != 0).view(b, 1, 1, t), -1e30)

    def split(y):
        return y.view(b, t, heads, hidden // heads).transpose(1, 2)

    for layer in m.bert.encoder.layer:
        s = layer.attention.self
        q = split(F.linear(x, s.query.weight, s.query.bias))
        k = split(F.linear(x, s.key.weight, s.key.bias))
        v = split(F.linear(x, s.value.weight, s.value.bias))
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=bias).transpose(1, 2).contiguous().view(b, t, hidden)
        o = layer.attention.output
        x = F.layer_norm(F.linear(a, o.dense.weight, o.dense.bias) + x, (hidden,), o.LayerNorm.weight, o.LayerNorm.bias, m.config.layer_norm_eps)
        h = F.gelu(F.linear(x, layer.intermediate.dense.weight, layer.intermediate.dense.bias))
        out = layer.output
        x = F.layer_norm(F.linear(h, out.dense.weight, out.dense.bias) + x, (hidden,), out.LayerNorm.weight, out.LayerNorm.bias, m.config.layer_norm_eps)
    w = mask.float().unsqueeze(-1)
    return (x * w).sum(1) / w.sum(1)


def main():
    torch.set_num_threads(2)
    prompts = json.load(open("scripts/peers/prompts.json"))["prompts"]
    seconds = [COMPLETIONS[i % 4] for i in range(len(prompts))]
    tok = AutoTokenizer.from_pretrained("models/minilm")
    m = BertForSequenceClassification.from_pretrained("models/minilm", num_labels=1).eval()
    batch = tok(prompts, seconds, truncation=True, max_length=128, padding="longest", return_tensors="pt")
    print("batch", tuple(batch["input_ids"].shape))
    for name, ctx in (("no_grad", torch.no_grad), ("inference_mode", torch.inference_mode)):
        with ctx():
            hf = median_ms(lambda: m(**batch))
            ours = median_ms(lambda: nines_forward(m, batch["input_ids"], batch["token_type_ids"], batch["attention_mask"]))
        print(f"{name}: HF forward {hf:.1f} ms, nines' operator sequence {ours:.1f} ms")
    with torch.inference_mode():
        for n_out, n_in in ((384, 384), (1536, 384), (384, 1536)):
            x, w, b = torch.randn(672, n_in), torch.randn(n_out, n_in), torch.randn(n_out)
            f32 = median_ms(lambda: F.linear(x, w, b), 50)
            xb, wb, bb = x.bfloat16(), w.bfloat16(), b.bfloat16()
            bf16 = median_ms(lambda: F.linear(xb, wb, bb), 50)
            print(f"672 x {n_in} -> {n_out}: f32 {f32:.2f} ms, bf16 {bf16:.2f} ms")


if __name__ == "__main__":
    main()
