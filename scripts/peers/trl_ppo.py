#!/usr/bin/env python3
"""Peer benchmark: TRL's PPO trainer on SmolLM2-135M-Instruct (GGUF, dequantized to f32), CPU.

Settings (match `benches/distill.rs`, group `ppo_step/cpu/smollm2-135m`): batch of 8 prompts
(`prompts.json`, the first 8) x 1 completion, exactly 32 new tokens per completion (no stop
token), sampling at temperature 1 without top-k/top-p, 4 PPO epochs over 1 minibatch of 8,
learning rate 1e-6, every parameter of the policy trained, KL coefficient 0.05, gamma 1,
lambda 0.95. TRL's design: policy, frozen reference, reward model and value model are four
separate 135M networks (reward and value are `AutoModelForSequenceClassification` heads on the
same checkpoint, the reward head random: its values do not matter for timing).

Reports, as one JSON object on stdout (and in --out): PPO steps/s (median over --steps timed
steps after --warmup steps) and rollout tokens/s (new tokens / time inside TRL's
`batch_generation`, median per step).

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python scripts/peers/trl_ppo.py --steps 5 --out runs/peer_trl_ppo.json

Needs a TRL that still ships PPO (`trl.experimental.ppo`, TRL 1.10 to 1.12; removed later):
`pip install --no-deps trl==1.12.0`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")

import torch
import transformers
from datasets import Dataset
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer, TrainerCallback

import trl
import trl.experimental.ppo.ppo_trainer as ppo_module
from trl.experimental.ppo import PPOConfig, PPOTrainer

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = ROOT / "models" / "smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf"
PROMPTS = Path(__file__).resolve().parent / "prompts.json"

BATCH = 8
NEW_TOKENS = 32


class StepClock(TrainerCallback):
    def __init__(self) -> None:
        self.ends: list[float] = []

    def on_step_end(self, args, state, control, **kwargs):
        self.ends.append(time.perf_counter())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=5, help="timed PPO steps (after the warm-up)")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="GGUF file")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    prompts = json.loads(PROMPTS.read_text())["prompts"][:BATCH]
    src, name = args.model.parent, args.model.name
    tok = AutoTokenizer.from_pretrained(src, gguf_file=name)
    tok.padding_side = "left"
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    load = dict(gguf_file=name, dtype=torch.float32)
    policy = AutoModelForCausalLM.from_pretrained(src, **load)
    ref = AutoModelForCausalLM.from_pretrained(src, **load)
    reward = AutoModelForSequenceClassification.from_pretrained(src, num_labels=1, **load)
    value = AutoModelForSequenceClassification.from_pretrained(src, num_labels=1, **load)
    for m in (policy, ref, reward, value):
        m.config.pad_token_id = tok.pad_token_id
    policy.generation_config.eos_token_id = None
    policy.generation_config.pad_token_id = tok.pad_token_id

    total_steps = args.warmup + args.steps
    ids = [tok(p).input_ids for p in prompts]
    dataset = Dataset.from_dict({"input_ids": ids * total_steps})

    gen_times: list[float] = []
    original = ppo_module.batch_generation

    def timed_generation(*a, **k):
        t0 = time.perf_counter()
        out = original(*a, **k)
        gen_times.append(time.perf_counter() - t0)
        return out

    ppo_module.batch_generation = timed_generation

    with tempfile.TemporaryDirectory() as out_dir:
        config = PPOConfig(
            output_dir=out_dir,
            per_device_train_batch_size=BATCH,
            gradient_accumulation_steps=1,
            num_mini_batches=1,
            num_ppo_epochs=4,
            local_rollout_forward_batch_size=BATCH,
            total_episodes=BATCH * total_steps,
            response_length=NEW_TOKENS,
            stop_token=None,
            temperature=1.0,
            missing_eos_penalty=None,
            learning_rate=1e-6,
            kl_coef=0.05,
            gamma=1.0,
            lam=0.95,
            num_sample_generations=0,
            report_to=[],
            save_strategy="no",
            logging_steps=10_000,
            use_cpu=True,
            seed=args.seed,
            dataloader_drop_last=True,
        )
        clock = StepClock()
        trainer = PPOTrainer(
            args=config,
            processing_class=tok,
            model=policy,
            ref_model=ref,
            reward_model=reward,
            train_dataset=dataset,
            value_model=value,
            callbacks=[clock],
        )
        t_start = time.perf_counter()
        trainer.train()

    edges = [t_start] + clock.ends
    step_s = [b - a for a, b in zip(edges, edges[1:])][args.warmup :]
    gens = gen_times[args.warmup : args.warmup + args.steps]
    for i, (s, g) in enumerate(zip(step_s, gens)):
        print(f"step {i}: {s:.2f} s, generation {g:.2f} s", file=sys.stderr)
    result = {
        "peer": "trl-ppo",
        "trl": trl.__version__,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "threads": args.threads,
        "model": str(args.model.relative_to(ROOT)) if args.model.is_relative_to(ROOT) else str(args.model),
        "batch": BATCH,
        "new_tokens": NEW_TOKENS,
        "ppo_epochs": 4,
        "steps_timed": len(step_s),
        "step_seconds": [round(s, 3) for s in step_s],
        "steps_per_s": round(1.0 / statistics.median(step_s), 4),
        "rollout_tokens_per_s": round(BATCH * NEW_TOKENS / statistics.median(gens), 2),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "loadavg_1m_at_start": round(os.getloadavg()[0], 2),
    }
    text = json.dumps(result)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
