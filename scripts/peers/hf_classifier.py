"""Peer benchmark for benches/classify.rs: HF transformers fine-tuning and scoring MiniLM.

`BertForSequenceClassification` (num_labels=1, BCE-with-logits) from models/minilm on the CPU,
float32, torch.set_num_threads(2); batch 16 pairs ([CLS] prompt [SEP] completion [SEP]),
truncated to 128 tokens and padded to the longest in the batch; torch AdamW (lr 5e-5,
weight decay 0.01), gradient clipping at norm 1, linear warm-up/decay schedule. The pairs are
the 16 prompts of scripts/peers/prompts.json, each with one of the four completions below —
the same as the Rust bench. Reports the median over --runs timed runs (after one warm-up) of
training pairs/s (one optimizer step per run of --steps steps) and inference pairs/s.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python scripts/peers/hf_classifier.py --runs 5
"""

import argparse
import json
import statistics
import time

import torch
from transformers import AutoTokenizer, BertForSequenceClassification, get_linear_schedule_with_warmup

COMPLETIONS = [
    " He stepped back from the window and said nothing.",
    " The blade caught his forearm and blood ran down to his wrist.",
    " She laughed, folded the letter, and put it away.",
    " The horse stumbled and threw him hard against the stones.",
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/minilm")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--steps", type=int, default=5, help="optimizer steps per timed training run")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    prompts = json.load(open("scripts/peers/prompts.json"))["prompts"]
    firsts = list(prompts)
    seconds = [COMPLETIONS[i % 4] for i in range(len(prompts))]
    labels = torch.tensor([float(i % 2 == 1) for i in range(len(prompts))])
    tok = AutoTokenizer.from_pretrained(a.model)
    model = BertForSequenceClassification.from_pretrained(a.model, num_labels=1)
    enc = tok(firsts, seconds, truncation=True, max_length=a.max_len, padding="longest", return_tensors="pt")
    n = len(firsts)

    opt = torch.optim.AdamW(model.parameters(), lr=5e-5, weight_decay=0.01)
    total = (a.runs + 1) * a.steps
    sched = get_linear_schedule_with_warmup(opt, int(0.1 * total), total)
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def train_run():
        model.train()
        start = time.perf_counter()
        for _ in range(a.steps):
            # Tokenization is part of each step, as in the Rust trainer.
            batch = tok(firsts, seconds, truncation=True, max_length=a.max_len, padding="longest", return_tensors="pt")
            logits = model(**batch).logits.squeeze(-1)
            loss = loss_fn(logits, labels)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
        return a.steps * n / (time.perf_counter() - start)

    def score_run():
        model.eval()
        start = time.perf_counter()
        with torch.inference_mode():
            batch = tok(firsts, seconds, truncation=True, max_length=a.max_len, padding="longest", return_tensors="pt")
            torch.sigmoid(model(**batch).logits.squeeze(-1))
        return n / (time.perf_counter() - start)

    train_run()
    score_run()
    train = statistics.median(train_run() for _ in range(a.runs))
    score = statistics.median(score_run() for _ in range(max(a.runs, 10)))
    result = {
        "torch": torch.__version__,
        "threads": a.threads,
        "batch": n,
        "tokens_per_pair_max": int(enc["input_ids"].shape[1]),
        "train_pairs_per_s": train,
        "score_pairs_per_s": score,
    }
    print(json.dumps(result, indent=1))
    if a.out:
        json.dump(result, open(a.out, "w"), indent=1)


if __name__ == "__main__":
    main()
