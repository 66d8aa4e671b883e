#!/usr/bin/env python3
"""GGUF fixtures for the `nines-runtime` Rust tests (uses the `gguf` PyPI package).

Writes crates/nines-runtime/tests/fixtures/gguf/:
  types.gguf                one [4, 256] tensor per type F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q4_K Q6_K,
                            plus metadata keys of every scalar/array value type
  types_expected.safetensors  f32 [4, 256] per tensor name = gguf.quants.dequantize of the stored bytes
  types_metadata.json       the metadata keys of types.gguf: GGUF value type and value
  tiny_llama.gguf           ../llama (tiny random LlamaForCausalLM) in llama.cpp layout, all F32
  truncated.gguf            the first 60% of the bytes of tiny_llama.gguf

Run after make_fixtures.py (it reads ../llama):
    .venv/bin/python scripts/reference/make_gguf_fixtures.py
"""

from __future__ import annotations

import json
from pathlib import Path

import gguf
import numpy as np
import torch
from gguf import GGMLQuantizationType as Q
from gguf import GGUFValueType as V
from safetensors.numpy import save_file as np_save_file
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "crates" / "nines-runtime" / "tests" / "fixtures"
OUT = FIXTURES / "gguf"
SEED = 4321
SHAPE = (4, 256)  # numpy order (rows, row length); stored in GGUF as ne = [256, 4]


# ---------------------------------------------------------------------------------------------
# types.gguf


def random_k_blocks(rng: np.random.Generator, qtype: Q, n_blocks: int) -> np.ndarray:
    """Random raw super-blocks for K-quants, which gguf-py can dequantize but not quantize.

    Q4_K block (144 bytes): d f16 | dmin f16 | 12 bytes packed 6-bit scales/mins | 128 bytes of 4-bit quants
    Q6_K block (210 bytes): 128 bytes ql (low 4 bits) | 64 bytes qh (high 2 bits) | 16 int8 scales | d f16
    The quant/scale bytes are uniform random; the f16 super-block scales are set to moderate finite values.
    """
    block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
    assert block_size == 256
    raw = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)
    if qtype == Q.Q4_K:
        d = rng.uniform(0.002, 0.02, n_blocks).astype(np.float16)
        dmin = rng.uniform(0.001, 0.01, n_blocks).astype(np.float16)
        raw[:, 0:2] = d.view(np.uint8).reshape(n_blocks, 2)
        raw[:, 2:4] = dmin.view(np.uint8).reshape(n_blocks, 2)
    elif qtype == Q.Q6_K:
        d = rng.uniform(0.0005, 0.004, n_blocks).astype(np.float16)
        raw[:, type_size - 2 :] = d.view(np.uint8).reshape(n_blocks, 2)
    else:
        raise ValueError(qtype)
    return raw


def make_types() -> None:
    rng = np.random.default_rng(SEED)
    path = OUT / "types.gguf"
    w = gguf.GGUFWriter(path, arch="nines-test")  # the writer always adds general.architecture

    metadata = [
        ("test.u8", V.UINT8, 200),
        ("test.i8", V.INT8, -100),
        ("test.u16", V.UINT16, 60000),
        ("test.i16", V.INT16, -30000),
        ("test.u32", V.UINT32, 4_000_000_000),
        ("test.i32", V.INT32, -2_000_000_000),
        ("test.u64", V.UINT64, 18_000_000_000_000_000_000),
        ("test.i64", V.INT64, -9_000_000_000_000_000_000),
        ("test.f32", V.FLOAT32, 0.15625),  # exactly representable
        ("test.f64", V.FLOAT64, 3.141592653589793),
        ("test.bool_true", V.BOOL, True),
        ("test.bool_false", V.BOOL, False),
        ("test.string", V.STRING, "héllo, GGUF ✓"),
    ]
    for key, vtype, val in metadata:
        w.add_key_value(key, val, vtype)
    arrays = [
        ("test.array_str", V.STRING, ["alpha", "", "γάμμα", "a b"]),
        ("test.array_i32", V.INT32, [1, -2, 3, 2_147_483_647, -2_147_483_648]),
    ]
    for key, sub, val in arrays:
        w.add_key_value(key, val, V.ARRAY, sub_type=sub)

    expected: dict[str, np.ndarray] = {}
    for qtype in (Q.F32, Q.F16, Q.BF16, Q.Q8_0, Q.Q4_0, Q.Q4_1, Q.Q4_K, Q.Q6_K):
        name = f"t_{qtype.name.lower()}"
        data = rng.normal(0.0, 1.0, SHAPE).astype(np.float32)
        if qtype == Q.F32:
            w.add_tensor(name, data)
            stored = data.view(np.uint8)
        elif qtype == Q.F16:
            half = data.astype(np.float16)
            w.add_tensor(name, half)
            stored = half.view(np.uint8)
        elif qtype in (Q.Q4_K, Q.Q6_K):
            n_blocks = SHAPE[0] * SHAPE[1] // 256
            stored = random_k_blocks(rng, qtype, n_blocks).reshape(SHAPE[0], -1)
            w.add_tensor(name, stored, raw_dtype=qtype)
        else:  # BF16, Q8_0, Q4_0, Q4_1: gguf-py implements quantize
            stored = gguf.quants.quantize(data, qtype)
            assert stored.dtype == np.uint8
            w.add_tensor(name, stored, raw_dtype=qtype)
        if qtype in (Q.F32, Q.F16):
            deq = gguf.quants.dequantize(stored.reshape(-1), qtype).reshape(SHAPE)
        else:
            deq = gguf.quants.dequantize(stored, qtype)
        deq = np.ascontiguousarray(deq, dtype=np.float32)
        assert deq.shape == SHAPE and np.isfinite(deq).all(), (name, deq.shape)
        expected[name] = deq

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    np_save_file(expected, str(OUT / "types_expected.safetensors"))

    # read back: version, metadata values, and tensor types/shapes
    r = gguf.GGUFReader(path)
    version = int(r.fields["GGUF.version"].parts[-1][0])
    assert version == 3, version
    meta_json = {
        "gguf_version": version,
        "alignment": 32,
        "general.architecture": {"type": "STRING", "value": "nines-test"},
        "keys": {},
        "tensors": {},
    }
    for key, vtype, val in metadata:
        got = r.fields[key].contents()
        if vtype == V.FLOAT32:
            assert abs(got - val) == 0.0, (key, got)
        else:
            assert got == val, (key, got, val)
        meta_json["keys"][key] = {"type": vtype.name, "value": val}
    for key, sub, val in arrays:
        got = r.fields[key].contents()
        assert got == val, (key, got)
        meta_json["keys"][key] = {"type": "ARRAY", "element_type": sub.name, "value": val}
    for t in r.tensors:
        deq = gguf.quants.dequantize(np.asarray(t.data), t.tensor_type).reshape(SHAPE)
        assert np.array_equal(deq, expected[t.name]), t.name
        meta_json["tensors"][t.name] = {
            "type": t.tensor_type.name,
            "ggml_type_id": int(t.tensor_type),
            "ne": [int(x) for x in t.shape],  # GGUF dimension order: ne[0] = row length
            "n_bytes": int(t.n_bytes),
            "data_offset": int(t.data_offset),
        }
    (OUT / "types_metadata.json").write_text(json.dumps(meta_json, indent=1, ensure_ascii=False) + "\n")
    print(f"[types.gguf] v{version}, {len(r.tensors)} tensors: "
          + ", ".join(f"{t.name}({t.tensor_type.name},{t.n_bytes}B)" for t in r.tensors))


# ---------------------------------------------------------------------------------------------
# tiny_llama.gguf


def rope_permute(w: torch.Tensor, n_head: int) -> torch.Tensor:
    """HF rotate-half layout -> llama.cpp (GGML "normal" rope) interleaved-pair layout.

    HF rotates dims (i, i + d/2) of each head together; llama.cpp's LLM_ARCH_LLAMA rope rotates
    adjacent dims (2i, 2i + 1). So within each head, output row order [0..d/2 | d/2..d] becomes
    [0, d/2, 1, d/2+1, ...]: view rows as (n_head, 2, d/2), swap the last two axes, flatten back.
    q uses n_head = num_attention_heads; k uses n_head = num_key_value_heads (its own head count).
    Same convention as LlamaModel.permute in llama.cpp's convert_hf_to_gguf.py.
    """
    out_dim = w.shape[0]
    head_dim = out_dim // n_head
    return w.reshape(n_head, 2, head_dim // 2, *w.shape[1:]).transpose(1, 2).reshape(w.shape).contiguous()


def make_tiny_llama() -> None:
    src = FIXTURES / "llama"
    cfg = json.loads((src / "config.json").read_text())
    tok = json.loads((src / "tokenizer.json").read_text())
    sd = load_file(str(src / "model.safetensors"))
    n_head = cfg["num_attention_heads"]
    n_kv = cfg["num_key_value_heads"]
    head_dim = cfg["hidden_size"] // n_head
    rope_theta = cfg.get("rope_parameters", {}).get("rope_theta", cfg.get("rope_theta"))

    path = OUT / "tiny_llama.gguf"
    w = gguf.GGUFWriter(path, arch="llama")
    w.add_name("nines tiny llama")
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_vocab_size(cfg["vocab_size"])
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(n_head)
    w.add_head_count_kv(n_kv)
    w.add_rope_dimension_count(head_dim)
    w.add_rope_freq_base(float(rope_theta))
    w.add_layer_norm_rms_eps(float(cfg["rms_norm_eps"]))

    # tokenizer: the byte-level BPE of ../llama/tokenizer.json
    vocab = tok["model"]["vocab"]
    tokens = [None] * len(vocab)
    for t, i in vocab.items():
        tokens[i] = t
    added = {a["id"]: a["content"] for a in tok["added_tokens"]}
    for i, t in added.items():
        tokens[i] = t
    assert all(t is not None for t in tokens) and len(tokens) == cfg["vocab_size"]
    types = [gguf.TokenType.CONTROL if i in added else gguf.TokenType.NORMAL for i in range(len(tokens))]
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types([int(t) for t in types])
    w.add_token_merges(merges)
    w.add_bos_token_id(cfg["bos_token_id"])
    w.add_eos_token_id(cfg["eos_token_id"])
    w.add_pad_token_id(cfg["pad_token_id"])
    w.add_add_bos_token(False)

    names = {
        "input_layernorm.weight": "attn_norm.weight",
        "self_attn.q_proj.weight": "attn_q.weight",
        "self_attn.k_proj.weight": "attn_k.weight",
        "self_attn.v_proj.weight": "attn_v.weight",
        "self_attn.o_proj.weight": "attn_output.weight",
        "post_attention_layernorm.weight": "ffn_norm.weight",
        "mlp.gate_proj.weight": "ffn_gate.weight",
        "mlp.up_proj.weight": "ffn_up.weight",
        "mlp.down_proj.weight": "ffn_down.weight",
    }
    out: dict[str, torch.Tensor] = {"token_embd.weight": sd["model.embed_tokens.weight"]}
    for b in range(cfg["num_hidden_layers"]):
        for hf, cpp in names.items():
            t = sd[f"model.layers.{b}.{hf}"]
            if hf.startswith("self_attn.q_proj"):
                t = rope_permute(t, n_head)
            elif hf.startswith("self_attn.k_proj"):
                t = rope_permute(t, n_kv)
            out[f"blk.{b}.{cpp}"] = t
    out["output_norm.weight"] = sd["model.norm.weight"]
    assert "lm_head.weight" not in sd  # tied: llama.cpp falls back to token_embd.weight
    for name, t in out.items():
        w.add_tensor(name, t.to(torch.float32).numpy())
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    data = path.read_bytes()
    (OUT / "truncated.gguf").write_bytes(data[: int(len(data) * 0.6)])

    # check: transformers' GGUF loader undoes the permutation; its logits must match ../llama's reference
    from transformers import AutoModelForCausalLM

    ref = load_file(str(src / "reference.safetensors"))
    model = AutoModelForCausalLM.from_pretrained(
        OUT, gguf_file=path.name, dtype=torch.float32, attn_implementation="eager"
    ).eval()
    with torch.no_grad():
        logits = model(
            input_ids=ref["input_ids"], attention_mask=ref["attention_mask"], position_ids=ref["position_ids"],
            use_cache=False,
        ).logits
    real = ref["attention_mask"].bool()
    diff = (logits - ref["logits"])[real].abs().max().item()
    print(f"[tiny_llama.gguf] {len(out)} tensors, {len(data)} bytes; HF-from-GGUF vs llama reference max|diff| {diff:.2e}")
    assert diff < 1e-4, diff


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(2)
    make_types()
    make_tiny_llama()
    for f in sorted(OUT.iterdir()):
        print(f"  {f.name:28s} {f.stat().st_size:8d} B")


if __name__ == "__main__":
    main()
