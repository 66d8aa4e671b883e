#!/usr/bin/env python3
"""Reference fixtures for the `nines-runtime` Rust tests.

Writes crates/nines-runtime/tests/fixtures/{llama,llama_sharded,gpt2,gpt_neo,bert,smollm2,minilm}/.
The Rust tests only read the files written here; they never run Python.

    .venv/bin/python scripts/reference/make_fixtures.py [--skip-real]

Everything is float32, eager attention, eval mode, seeded. See README.md in this folder.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "crates" / "nines-runtime" / "tests" / "fixtures"
MODELS = ROOT / "models"

SEED = 1234
SEQ_LEN = 12  # T for the tiny causal models
LEFT_PAD = 3  # row 1 of the causal batch is left-padded by this many pad (id 0) tokens
BYTE_BPE_VOCAB = 320  # 1 special + 256 byte symbols + 63 merges (a byte-level BPE needs >= 257)
WORDPIECE_VOCAB = 128
INIT_STD = 0.2

# Training text for the tiny tokenizers (written for this file).
CORPUS = [
    "The lighthouse keeper climbed the spiral stairs every evening at dusk. "
    "He trimmed the wick, polished the great lens, and watched the grey sea "
    "roll in toward the rocks below. Ships passed in the night and never knew his name.",
    "In the valley there was a mill with a wooden wheel that turned all year. "
    "The miller's daughter counted sacks of flour and wrote the numbers in a "
    "leather book: 12 on Monday, 17 on Tuesday, and 9 when the river ran low.",
    "Snow fell on the station while the last train waited. A woman in a red coat "
    "stepped onto the platform, looked once at the clock, and then walked back "
    "into the storm without a word. The conductor shrugged and blew his whistle.",
    "Old maps are full of mistakes. Rivers bend where they should run straight, "
    "islands appear and vanish, and mountains sit in the wrong country. Still, "
    "the travellers who carried them found their way home, more or less.",
    "She opened the letter slowly. Inside was a pressed flower, a key made of brass, "
    "and a single line of ink: meet me by the north gate when the bells ring twice.",
]

TOKENIZER_PROBES = [
    "The keeper watched the sea.",
    "A key made of brass, and 17 sacks of flour!",
    "Snow fell on the station while the last train waited in the dark.",
]


def seed_all(seed: int = SEED) -> None:
    torch.manual_seed(seed)


# ---------------------------------------------------------------------------------------------
# tokenizers


def train_byte_bpe(vocab_size: int = BYTE_BPE_VOCAB) -> Tokenizer:
    """Byte-level BPE: id 0 is <|endoftext|> (bos/eos/pad), then the 256 byte symbols, then merges."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=1,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS, trainer=trainer)
    assert tok.get_vocab_size() == vocab_size, tok.get_vocab_size()
    assert tok.token_to_id("<|endoftext|>") == 0
    return tok


def train_wordpiece(vocab_size: int = WORDPIECE_VOCAB) -> Tokenizer:
    """WordPiece with a vocabulary built deterministically from CORPUS.

    (tokenizers' WordPieceTrainer breaks ties non-deterministically, so the vocab is assembled here:)
    the 5 specials, every character of the normalized corpus, "##" + each of those characters, then
    the most frequent whole words (ties broken alphabetically) until vocab_size is reached.
    """
    from collections import Counter

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    normalizer = normalizers.BertNormalizer(lowercase=True)
    pre = pre_tokenizers.BertPreTokenizer()
    words = Counter(w for text in CORPUS for w, _ in pre.pre_tokenize_str(normalizer.normalize_str(text)))
    chars = sorted({c for w in words for c in w})
    vocab = specials + chars + ["##" + c for c in chars]
    for w, _ in sorted(words.items(), key=lambda kv: (-kv[1], kv[0])):
        if len(vocab) >= vocab_size:
            break
        if w not in vocab:
            vocab.append(w)
    assert len(vocab) == vocab_size, len(vocab)
    tok = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]"))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre
    tok.decoder = decoders.WordPiece()
    ids = {s: tok.token_to_id(s) for s in specials}
    assert ids == {s: i for i, s in enumerate(specials)}, ids
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", ids["[CLS]"]), ("[SEP]", ids["[SEP]"])],
    )
    return tok


def write_tokenizer(tok: Tokenizer, folder: Path, add_special_tokens: bool, note: str) -> None:
    tok.save(str(folder / "tokenizer.json"))
    reloaded = Tokenizer.from_file(str(folder / "tokenizer.json"))
    probes = []
    for text in TOKENIZER_PROBES:
        enc = reloaded.encode(text, add_special_tokens=add_special_tokens)
        probes.append({"text": text, "ids": enc.ids, "tokens": enc.tokens})
    ref = {
        "add_special_tokens": add_special_tokens,
        "vocab_size": reloaded.get_vocab_size(),
        "note": note,
        "probes": probes,
    }
    (folder / "tokenizer_reference.json").write_text(json.dumps(ref, indent=1, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------------------------------------
# tiny random models


def randomize_(model: torch.nn.Module, std: float = INIT_STD) -> None:
    """N(0, std) for matrices; norm weights 1 + N(0, 0.1); biases N(0, 0.05). Seeded by the caller."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                p.normal_(0.0, std)
            elif name.endswith("bias"):
                p.normal_(0.0, 0.05)
            else:  # norm / layernorm scale
                p.copy_(1.0 + 0.1 * torch.randn_like(p))


def causal_batch(tok: Tokenizer) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Row 0: T real tokens. Row 1: LEFT_PAD pad ids (0), then T-LEFT_PAD real tokens."""
    a = tok.encode(CORPUS[0]).ids[:SEQ_LEN]
    b = tok.encode(CORPUS[2]).ids[: SEQ_LEN - LEFT_PAD]
    assert len(a) == SEQ_LEN and len(b) == SEQ_LEN - LEFT_PAD
    input_ids = torch.tensor([a, [0] * LEFT_PAD + b], dtype=torch.int64)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, :LEFT_PAD] = 0
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    return input_ids, attention_mask, position_ids


def causal_forward(model, input_ids, attention_mask, position_ids) -> torch.Tensor:
    with torch.no_grad():
        out = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=False)
    return out.logits.float().contiguous()


def make_causal(name: str, config, tok: Tokenizer) -> dict:
    from transformers import AutoModelForCausalLM

    folder = FIXTURES / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    seed_all(SEED)
    model = AutoModelForCausalLM.from_config(config, attn_implementation="eager", dtype=torch.float32)
    randomize_(model)
    if getattr(config, "tie_word_embeddings", False):
        model.tie_weights()
    model.eval()
    model.save_pretrained(folder, safe_serialization=True)

    input_ids, attention_mask, position_ids = causal_batch(tok)
    logits = causal_forward(model, input_ids, attention_mask, position_ids)
    real = attention_mask.bool()
    assert torch.isfinite(logits[real]).all()
    spread = logits[real].std(dim=-1).mean().item()
    save_file(
        {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "position_ids": position_ids,
            "logits": logits,
        },
        str(folder / "reference.safetensors"),
    )
    write_tokenizer(
        tok,
        folder,
        add_special_tokens=True,
        note="byte-level BPE (GPT-2 regex pre-tokenizer, no prefix space); id 0 = <|endoftext|>; "
        "no BOS/EOS is added by the post-processor",
    )

    # sanity: eager vs sdpa, and the saved folder reloads to the same logits
    try:
        sdpa = AutoModelForCausalLM.from_pretrained(folder, attn_implementation="sdpa", dtype=torch.float32).eval()
        d_sdpa = (causal_forward(sdpa, input_ids, attention_mask, position_ids) - logits)[real].abs().max().item()
        d_sdpa = f"{d_sdpa:.2e}"
    except ValueError:  # e.g. GPT-Neo has no sdpa path in transformers
        d_sdpa = "n/a"
    eager_reload = AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager", dtype=torch.float32).eval()
    d_reload = (causal_forward(eager_reload, input_ids, attention_mask, position_ids) - logits)[real].abs().max().item()
    print(f"[{name}] logits {tuple(logits.shape)} per-position std {spread:.3f}  "
          f"max|eager-sdpa| {d_sdpa}  max|reload-orig| {d_reload:.2e}")
    assert d_reload < 1e-5
    return {"model": model, "folder": folder}


def make_llama(tok: Tokenizer) -> dict:
    from transformers import LlamaConfig

    cfg = LlamaConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        hidden_act="silu",
        max_position_embeddings=64,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
        tie_word_embeddings=True,
        initializer_range=INIT_STD,
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=0,
        attention_bias=False,
        mlp_bias=False,
    )
    return make_causal("llama", cfg, tok)


def make_llama_sharded(llama: dict) -> None:
    folder = FIXTURES / "llama_sharded"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    llama["model"].save_pretrained(folder, safe_serialization=True, max_shard_size="150KB")
    shards = sorted(p.name for p in folder.glob("model-*.safetensors"))
    assert len(shards) >= 2 and (folder / "model.safetensors.index.json").exists(), shards
    for f in ("reference.safetensors", "tokenizer.json", "tokenizer_reference.json"):
        shutil.copy(llama["folder"] / f, folder / f)
    (folder / "NOTE.md").write_text(
        "Same weights as ../llama (saved with max_shard_size=150KB). reference.safetensors and the\n"
        "tokenizer files are copies of ../llama's.\n"
    )
    print(f"[llama_sharded] shards: {shards}")


def make_gpt2(tok: Tokenizer) -> dict:
    from transformers import GPT2Config

    cfg = GPT2Config(
        vocab_size=tok.get_vocab_size(),
        n_positions=64,
        n_embd=64,
        n_layer=2,
        n_head=4,
        n_inner=None,
        activation_function="gelu_new",
        layer_norm_epsilon=1e-5,
        initializer_range=INIT_STD,
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=0,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
    )
    return make_causal("gpt2", cfg, tok)


def make_gpt_neo(tok: Tokenizer) -> dict:
    from transformers import GPTNeoConfig

    cfg = GPTNeoConfig(
        vocab_size=tok.get_vocab_size(),
        max_position_embeddings=64,
        hidden_size=64,
        num_layers=2,
        num_heads=4,
        attention_types=[[["global", "local"], 1]],
        window_size=4,
        intermediate_size=None,
        activation_function="gelu_new",
        layer_norm_epsilon=1e-5,
        initializer_range=INIT_STD,
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=0,
        resid_dropout=0.0,
        embed_dropout=0.0,
        attention_dropout=0.0,
    )
    assert cfg.window_size < SEQ_LEN
    return make_causal("gpt_neo", cfg, tok)


def make_bert() -> None:
    from transformers import BertConfig, BertForSequenceClassification

    folder = FIXTURES / "bert"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    tok = train_wordpiece()
    cfg = BertConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
        type_vocab_size=2,
        hidden_act="gelu",
        layer_norm_eps=1e-12,
        pad_token_id=0,
        num_labels=2,
        initializer_range=INIT_STD,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    seed_all(SEED + 1)
    model = BertForSequenceClassification._from_config(cfg, attn_implementation="eager", dtype=torch.float32)
    assert model.config._attn_implementation == "eager"
    randomize_(model)
    model.eval()
    model.save_pretrained(folder, safe_serialization=True)

    # row 0: a text pair; row 1: a shorter pair, right-padded with [PAD]=0
    pairs = [
        ("The keeper and the old map.", "The key!"),
        ("Snow fell.", "A key."),
    ]
    encs = [tok.encode(a, b) for a, b in pairs]
    T = max(len(e.ids) for e in encs)
    assert len(encs[1].ids) < T
    input_ids = torch.zeros(2, T, dtype=torch.int64)
    token_type_ids = torch.zeros(2, T, dtype=torch.int64)
    attention_mask = torch.zeros(2, T, dtype=torch.int64)
    for r, e in enumerate(encs):
        n = len(e.ids)
        input_ids[r, :n] = torch.tensor(e.ids)
        token_type_ids[r, :n] = torch.tensor(e.type_ids)
        attention_mask[r, :n] = 1
    with torch.no_grad():
        out = model.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        cls_logits = model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).logits
    hs = out.last_hidden_state.float().contiguous()
    m = attention_mask.unsqueeze(-1).float()
    mean_pooled = (hs * m).sum(1) / m.sum(1)
    save_file(
        {
            "input_ids": input_ids,
            "token_type_ids": token_type_ids,
            "attention_mask": attention_mask,
            "last_hidden_state": hs,
            "mean_pooled": mean_pooled.contiguous(),
            "pooler_output": out.pooler_output.float().contiguous(),
            "cls_logits": cls_logits.float().contiguous(),
        },
        str(folder / "reference.safetensors"),
    )
    write_tokenizer(
        tok,
        folder,
        add_special_tokens=True,
        note="WordPiece, lowercase BertNormalizer; [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4; "
        "post-processor adds [CLS] ... [SEP] (pair: [CLS] A [SEP] B [SEP], type ids 0/1)",
    )
    (folder / "texts.json").write_text(json.dumps({"pairs": pairs}, indent=1) + "\n")

    from transformers import BertForSequenceClassification as B

    sdpa = B.from_pretrained(folder, attn_implementation="sdpa").eval()
    with torch.no_grad():
        s = sdpa.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
    d = ((s.last_hidden_state - hs) * m).abs().max().item()
    print(f"[bert] T={T} vocab={cfg.vocab_size} cls_logits={cls_logits.tolist()}  max|eager-sdpa| {d:.2e}")


# ---------------------------------------------------------------------------------------------
# real default models

SMOL_PROMPTS = [
    "It was a bright cold day in April, and the clocks were striking thirteen.",
    "The rain had not stopped for three days. Mara stood at the window of the inn and watched the road "
    "for any sign of her brother's cart.",
    "Nobody in the village remembered who had planted the oak. It was older than the church and older "
    "than the river's current course. On the night of the storm, it began to speak.",
]


def make_smollm2() -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    src = MODELS / "smollm2"
    gguf_name = "SmolLM2-135M-Instruct.Q4_1.gguf"
    folder = FIXTURES / "smollm2"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)

    tok = AutoTokenizer.from_pretrained(src, gguf_file=gguf_name)
    model = AutoModelForCausalLM.from_pretrained(
        src, gguf_file=gguf_name, dtype=torch.float32, attn_implementation="eager"
    ).eval()

    tensors: dict[str, torch.Tensor] = {}
    last = []
    prompt_info = []
    for i, text in enumerate(SMOL_PROMPTS):
        ids = tok(text, return_tensors="pt").input_ids
        no_special = tok(text, add_special_tokens=False).input_ids
        with torch.no_grad():
            logits = model(input_ids=ids, use_cache=False).logits[0, -1].float()
        tensors[f"input_ids_{i}"] = ids[0].to(torch.int64).contiguous()
        last.append(logits)
        prompt_info.append({"text": text, "ids": ids[0].tolist(), "ids_without_special_tokens": no_special})
    tensors["last_logits"] = torch.stack(last).contiguous()

    # greedy generation for prompt 0, checked against a manual no-cache argmax loop
    ids0 = tensors["input_ids_0"].unsqueeze(0)
    with torch.no_grad():
        gen = model.generate(
            ids0,
            attention_mask=torch.ones_like(ids0),
            max_new_tokens=16,
            do_sample=False,
            num_beams=1,
            repetition_penalty=1.0,
            pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
        )
        new = gen[0, ids0.shape[1]:].tolist()
        cur = ids0
        manual = []
        for _ in range(len(new)):
            nxt = model(input_ids=cur, use_cache=False).logits[0, -1].argmax().item()
            manual.append(nxt)
            cur = torch.cat([cur, torch.tensor([[nxt]])], dim=1)
    assert manual == new, (manual, new)
    save_file(tensors, str(folder / "reference.safetensors"))

    bos = tok.bos_token_id
    meta = {
        "model": f"models/smollm2/{gguf_name}",
        "loaded_with": "transformers AutoModelForCausalLM.from_pretrained(gguf_file=..., dtype=float32), "
        "eager attention; tokenizer AutoTokenizer.from_pretrained(gguf_file=...)",
        "tokenizer_class": type(tok).__name__,
        "bos_token": tok.bos_token,
        "bos_token_id": bos,
        "eos_token": tok.eos_token,
        "eos_token_id": tok.eos_token_id,
        "pad_token_id": tok.pad_token_id,
        "adds_bos": any(p["ids"][:1] == [bos] and p["ids_without_special_tokens"][:1] != [bos] for p in prompt_info)
        if bos is not None
        else False,
        "ids_equal_with_and_without_special_tokens": all(p["ids"] == p["ids_without_special_tokens"] for p in prompt_info),
        "prompts": prompt_info,
        "generate_greedy": {
            "prompt_index": 0,
            "max_new_tokens": 16,
            "new_ids": new,
            "text": tok.decode(new),
            "note": "do_sample=False; equals a manual argmax loop over full no-cache forwards",
        },
    }
    (folder / "prompts.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
    print(f"[smollm2] vocab={tensors['last_logits'].shape[1]} adds_bos={meta['adds_bos']} bos={tok.bos_token!r} "
          f"lens={[len(p['ids']) for p in prompt_info]} greedy={tok.decode(new)!r}")

    # sanity: sdpa vs eager on prompt 0
    model.set_attn_implementation("sdpa") if hasattr(model, "set_attn_implementation") else None
    with torch.no_grad():
        s = model(input_ids=ids0, use_cache=False).logits[0, -1]
    print(f"[smollm2] max|eager-sdpa| last logits prompt 0: {(s - tensors['last_logits'][0]).abs().max().item():.2e}")


MINILM_TEXTS = [
    "The cat sat quietly on the warm windowsill.",
    "A storm was gathering over the harbour as the fishing boats hurried home.",
    "Interest rates rose again this quarter.",
]
MINILM_PAIR = ("She walked to the door.", "He fell and broke his arm.")


def make_minilm() -> None:
    from transformers import BertModel

    src = MODELS / "minilm"
    folder = FIXTURES / "minilm"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    tok = Tokenizer.from_file(str(src / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    model = BertModel.from_pretrained(src, attn_implementation="eager", dtype=torch.float32).eval()
    sdpa = BertModel.from_pretrained(src, attn_implementation="sdpa", dtype=torch.float32).eval()

    def embed(enc, m):
        ids = torch.tensor([enc.ids], dtype=torch.int64)
        tt = torch.tensor([enc.type_ids], dtype=torch.int64)
        with torch.no_grad():
            hs = m(input_ids=ids, token_type_ids=tt, attention_mask=torch.ones_like(ids)).last_hidden_state[0]
        return ids[0], tt[0], hs.mean(0)

    tensors: dict[str, torch.Tensor] = {}
    pooled = []
    dmax = 0.0
    for i, text in enumerate(MINILM_TEXTS):
        enc = tok.encode(text)
        ids, tt, mp = embed(enc, model)
        dmax = max(dmax, (embed(enc, sdpa)[2] - mp).abs().max().item())
        tensors[f"input_ids_{i}"] = ids.contiguous()
        tensors[f"token_type_ids_{i}"] = tt.contiguous()
        pooled.append(mp)
    mp = torch.stack(pooled)
    tensors["mean_pooled"] = mp.contiguous()
    tensors["mean_pooled_normalized"] = torch.nn.functional.normalize(mp, p=2, dim=-1).contiguous()
    enc = tok.encode(*MINILM_PAIR)
    ids, tt, pmp = embed(enc, model)
    tensors["pair_input_ids"] = ids.contiguous()
    tensors["pair_token_type_ids"] = tt.contiguous()
    tensors["pair_mean_pooled"] = pmp.unsqueeze(0).contiguous()
    save_file(tensors, str(folder / "reference.safetensors"))
    (folder / "texts.json").write_text(
        json.dumps(
            {
                "model": "models/minilm (BertModel, all-MiniLM-L6-v2)",
                "tokenizer": "models/minilm/tokenizer.json with no_padding() and no_truncation(); add_special_tokens=True",
                "pooling": "mean of last_hidden_state over all tokens (one sequence, no padding); "
                "mean_pooled_normalized = L2-normalized",
                "texts": MINILM_TEXTS,
                "ids": [tensors[f"input_ids_{i}"].tolist() for i in range(len(MINILM_TEXTS))],
                "pair": list(MINILM_PAIR),
                "pair_ids": tensors["pair_input_ids"].tolist(),
                "pair_type_ids": tensors["pair_token_type_ids"].tolist(),
            },
            indent=1,
        )
        + "\n"
    )
    cos = tensors["mean_pooled_normalized"] @ tensors["mean_pooled_normalized"].T
    print(f"[minilm] lens={[len(tensors[f'input_ids_{i}']) for i in range(3)]} pair_len={len(ids)} "
          f"cos01={cos[0,1]:.3f} max|eager-sdpa| {dmax:.2e}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--skip-real", action="store_true", help="only the tiny random models")
    args = ap.parse_args()
    torch.set_num_threads(2)
    FIXTURES.mkdir(parents=True, exist_ok=True)

    bpe = train_byte_bpe()
    llama = make_llama(bpe)
    make_llama_sharded(llama)
    make_gpt2(bpe)
    make_gpt_neo(bpe)
    make_bert()
    if not args.skip_real:
        make_smollm2()
        make_minilm()

    total = 0
    for d in sorted(p for p in FIXTURES.iterdir() if p.is_dir()):
        size = sum(f.stat().st_size for f in d.rglob("*") if f.is_file())
        total += size
        print(f"  {d.name:14s} {size / 1024:8.1f} KiB  " + ", ".join(
            f"{f.name}={f.stat().st_size // 1024}K" for f in sorted(d.iterdir()) if f.is_file()))
    print(f"  total          {total / 1024:8.1f} KiB")


if __name__ == "__main__":
    main()
