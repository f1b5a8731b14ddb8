#!/usr/bin/env python3
"""Tiny random-weight Qwen2 checkpoints with HF transformers float32 reference outputs.

Run from the repository root (CPU is enough, under a minute):

    python3 tools/reference/make_model_references.py --out tests/Specialized.Tests/Data/models

For every shape in SHAPES it writes <out>/<name>/:
    config.json, generation_config.json   as written by save_pretrained (transformers 5 format)
    model.safetensors                     bfloat16 weights, exactly the values the float32 reference used
    reference.json                        logits, greedy tokens, final hidden states (schema: see README.md)

What it guards against, each failing loudly (AssertionError) rather than writing wrong data:
  * the GPU.md pitfall: only parameters are rounded to bf16, never the rotary inv_freq buffer;
  * transformers API drift (rope_theta vs rope_parameters, layer_types, tied weights, hidden_states[-1]);
  * the checkpoint on disk not being the model that produced the references (bit-exact weight check,
    config.json read back the way the C# ConfigParser reads it);
  * HF quirks: every logit is re-derived by `qwen2_forward_fp64` below, an independent float64 Qwen2 written
    from the saved files alone. That function is also the plain-math reference for kernel authors.
HF's from_pretrained round trip and generate() are compared too, but only reported in reference.json.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import inspect
import json
import math
import os
import platform
import shutil
import struct
import sys
import time
from pathlib import Path

# Nothing may reach the network (the GPU machine has none): fail fast instead of waiting on timeouts.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

SCHEMA = "specialized.qwen2-reference/1"
NEW_TOKENS = 12
FP64_TOLERANCE = 1e-3  # max |logit| difference allowed between HF float32 and the float64 re-implementation
RELOAD_TOLERANCE = 1e-5  # HF model reloaded from the saved bf16 files vs the in-memory float32 model
MAX_POSITIONS = 256
EXPECTED_HF_FILES = {"config.json", "generation_config.json", "model.safetensors"}


# ----------------------------------------------------------------------------------------------------------
# Shapes
# ----------------------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Shape:
    name: str
    seed: int
    vocab: int
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    rope_theta: float
    eps: float
    tied: bool
    prompt_lengths: tuple[int, ...]
    sliding_window: int | None = None  # set: use_sliding_window=True
    max_window_layers: int | None = None  # layers >= this one slide (Qwen2Config semantics)

    @property
    def head_dim(self) -> int:
        assert self.hidden % self.heads == 0, self
        return self.hidden // self.heads

    @property
    def bos(self) -> int:
        return self.vocab - 2

    @property
    def eos(self) -> int:
        return self.vocab - 1

    @property
    def prompt_seed(self) -> int:
        return self.seed + 100_000

    def layer_types(self) -> list[str]:
        if self.sliding_window is None:
            return ["full_attention"] * self.layers
        return ["sliding_attention" if i >= self.max_window_layers else "full_attention" for i in range(self.layers)]

    def layer_windows(self) -> list[int]:
        """Attention window per layer, 0 meaning full causal attention."""
        return [self.sliding_window if t == "sliding_attention" else 0 for t in self.layer_types()]


SHAPES = [
    Shape("gqa", seed=1001, vocab=384, hidden=64, intermediate=176, layers=2, heads=4, kv_heads=2,
          rope_theta=10000.0, eps=1e-6, tied=True, prompt_lengths=(1, 7, 23)),
    Shape("mqa-untied", seed=1002, vocab=320, hidden=96, intermediate=160, layers=3, heads=6, kv_heads=1,
          rope_theta=1000000.0, eps=1e-5, tied=False, prompt_lengths=(1, 7, 23)),
    Shape("mha-odd", seed=1003, vocab=256, hidden=80, intermediate=144, layers=2, heads=5, kv_heads=5,
          rope_theta=500000.0, eps=1e-6, tied=True, prompt_lengths=(1, 7, 23)),
    Shape("gqa7", seed=1004, vocab=448, hidden=112, intermediate=192, layers=2, heads=7, kv_heads=1,
          rope_theta=1000000.0, eps=1e-6, tied=True, prompt_lengths=(1, 7, 23)),
    # Layer 0 full, layers 1 and 2 slide over 8 tokens. The 7-token prompt crosses the window while decoding,
    # the 20-token one already in prefill.
    Shape("sliding", seed=1005, vocab=384, hidden=64, intermediate=176, layers=3, heads=4, kv_heads=2,
          rope_theta=10000.0, eps=1e-6, tied=True, prompt_lengths=(1, 7, 20),
          sliding_window=8, max_window_layers=1),
]


def expected_parameter_names(shape: Shape, with_lm_head: bool) -> list[str]:
    """HF Qwen2ForCausalLM parameter names, in the canonical order the random init draws them."""
    names = ["model.embed_tokens.weight"]
    for i in range(shape.layers):
        p = f"model.layers.{i}."
        names += [p + "input_layernorm.weight",
                  p + "self_attn.q_proj.weight", p + "self_attn.q_proj.bias",
                  p + "self_attn.k_proj.weight", p + "self_attn.k_proj.bias",
                  p + "self_attn.v_proj.weight", p + "self_attn.v_proj.bias",
                  p + "self_attn.o_proj.weight",
                  p + "post_attention_layernorm.weight",
                  p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight", p + "mlp.down_proj.weight"]
    names.append("model.norm.weight")
    if with_lm_head:
        names.append("lm_head.weight")
    return names


def expected_shapes(shape: Shape) -> dict[str, tuple[int, ...]]:
    h, d, i_ = shape.hidden, shape.head_dim, shape.intermediate
    q, kv = shape.heads * d, shape.kv_heads * d
    out = {"model.embed_tokens.weight": (shape.vocab, h), "model.norm.weight": (h,), "lm_head.weight": (shape.vocab, h)}
    for i in range(shape.layers):
        p = f"model.layers.{i}."
        out.update({p + "input_layernorm.weight": (h,), p + "post_attention_layernorm.weight": (h,),
                    p + "self_attn.q_proj.weight": (q, h), p + "self_attn.q_proj.bias": (q,),
                    p + "self_attn.k_proj.weight": (kv, h), p + "self_attn.k_proj.bias": (kv,),
                    p + "self_attn.v_proj.weight": (kv, h), p + "self_attn.v_proj.bias": (kv,),
                    p + "self_attn.o_proj.weight": (h, q),
                    p + "mlp.gate_proj.weight": (i_, h), p + "mlp.up_proj.weight": (i_, h),
                    p + "mlp.down_proj.weight": (h, i_)})
    return out


# ----------------------------------------------------------------------------------------------------------
# The float64 reference: Qwen2 in plain numpy, from the saved files alone
# ----------------------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class EngineConfig:
    """config.json read with the C# ConfigParser's rules (src/Generators/Config/ConfigParser.cs)."""
    vocab: int
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    rope_theta: float
    eps: float
    tied: bool
    windows: tuple[int, ...]  # per layer, 0 = full causal attention
    dtype: str


def engine_config(cfg: dict) -> EngineConfig:
    """Missing optional keys take Qwen2Config's defaults, as in ConfigParser; rope_parameters wins over rope_theta."""
    heads = cfg["num_attention_heads"]
    rope = cfg.get("rope_parameters") or {}
    theta = rope.get("rope_theta", cfg.get("rope_theta", 10000.0))
    rope_type = rope.get("rope_type", rope.get("type", "default"))
    assert rope_type == "default", f"unexpected rope type {rope_type!r}"
    assert cfg.get("rope_scaling") in (None, {}, rope), f"unexpected rope_scaling {cfg.get('rope_scaling')!r}"
    layers = cfg["num_hidden_layers"]
    windows = [0] * layers
    if cfg.get("use_sliding_window", False) and cfg.get("sliding_window") is not None:
        types = cfg.get("layer_types")
        max_window_layers = cfg.get("max_window_layers", 28)
        for i in range(layers):
            sliding = types[i] == "sliding_attention" if types is not None else i >= max_window_layers
            windows[i] = cfg["sliding_window"] if sliding else 0
    return EngineConfig(
        vocab=cfg["vocab_size"], hidden=cfg["hidden_size"], intermediate=cfg["intermediate_size"], layers=layers,
        heads=heads, kv_heads=cfg.get("num_key_value_heads") or heads,
        head_dim=cfg.get("head_dim") or cfg["hidden_size"] // heads, rope_theta=float(theta),
        eps=float(cfg.get("rms_norm_eps", 1e-6)), tied=bool(cfg.get("tie_word_embeddings", False)),
        windows=tuple(windows), dtype=cfg.get("torch_dtype") or cfg.get("dtype") or "float32")


def read_safetensors_bf16(path: Path) -> dict[str, np.ndarray]:
    """A safetensors file of BF16 tensors, widened exactly to float64.

    Layout: u64 little-endian header size N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}}
    (plus an optional "__metadata__"), then the data; offsets are relative to the end of the header.
    A bf16 value is the top 16 bits of a float32: widen with (uint32)bits << 16.
    """
    blob = path.read_bytes()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    data = memoryview(blob)[8 + n:]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "BF16", f"{name}: dtype {info['dtype']}, expected BF16"
        begin, end = info["data_offsets"]
        count = int(np.prod(info["shape"], dtype=np.int64))
        assert end - begin == 2 * count, f"{name}: {end - begin} bytes for shape {info['shape']}"
        bits = np.frombuffer(data[begin:end], dtype="<u2").astype(np.uint32) << 16
        tensors[name] = bits.view(np.float32).astype(np.float64).reshape(info["shape"])
    return tensors


def rms_norm(x: np.ndarray, weight: np.ndarray, eps: float) -> np.ndarray:
    # x: (T, hidden). HF: weight * (x / sqrt(mean(x^2) + eps)), statistics in float32 (here float64).
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * weight


def rope_inv_freq(theta: float, head_dim: int) -> np.ndarray:
    # (head_dim/2,): inv_freq[k] = 1 / theta^(2k / head_dim). HF computes this in float32 and never rounds it to bf16.
    return 1.0 / theta ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)


def apply_rope(x: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
    # x: (heads, T, head_dim); cos, sin: (T, head_dim/2). "NeoX" (rotate-half) layout: element k pairs with
    # element k + head_dim/2, both rotated by angle position * inv_freq[k].
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


def attention_allowed(t: int, window: int) -> np.ndarray:
    # (T, T) boolean: query i sees key j iff j <= i and, for a sliding layer, j > i - window (the last `window`
    # positions, itself included). This is transformers' sliding_window_overlay.
    i = np.arange(t)[:, None]
    j = np.arange(t)[None, :]
    allowed = j <= i
    if window > 0:
        allowed &= j > i - window
    return allowed


def silu(x: np.ndarray) -> np.ndarray:
    return x / (1.0 + np.exp(-x))


def qwen2_forward_fp64(w: dict[str, np.ndarray], cfg: EngineConfig, tokens: list[int],
                       windows: tuple[int, ...] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Full-sequence Qwen2 forward in float64. Returns logits (T, vocab) and final-norm hidden states (T, hidden).

    Linear layers follow torch: y = x @ W.T (+ b), W stored (out_features, in_features).
    """
    windows = cfg.windows if windows is None else windows
    t, nh, nkv, d = len(tokens), cfg.heads, cfg.kv_heads, cfg.head_dim
    group = nh // nkv  # query head h reads kv head h // group (HF repeat_kv)
    x = w["model.embed_tokens.weight"][np.asarray(tokens)]  # (T, hidden)

    angles = np.arange(t, dtype=np.float64)[:, None] * rope_inv_freq(cfg.rope_theta, d)[None, :]  # (T, d/2)
    cos, sin = np.cos(angles), np.sin(angles)

    for layer in range(cfg.layers):
        p = f"model.layers.{layer}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], cfg.eps)
        q = (h @ w[p + "self_attn.q_proj.weight"].T + w[p + "self_attn.q_proj.bias"]).reshape(t, nh, d).transpose(1, 0, 2)
        k = (h @ w[p + "self_attn.k_proj.weight"].T + w[p + "self_attn.k_proj.bias"]).reshape(t, nkv, d).transpose(1, 0, 2)
        v = (h @ w[p + "self_attn.v_proj.weight"].T + w[p + "self_attn.v_proj.bias"]).reshape(t, nkv, d).transpose(1, 0, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)  # (heads, T, d), v is not rotated

        allowed = attention_allowed(t, windows[layer])
        out = np.empty((nh, t, d))
        for head in range(nh):
            scores = q[head] @ k[head // group].T / math.sqrt(d)  # (T, T)
            scores = np.where(allowed, scores, -np.inf)
            probs = np.exp(scores - scores.max(axis=-1, keepdims=True))
            probs /= probs.sum(axis=-1, keepdims=True)
            out[head] = probs @ v[head // group]
        attn = out.transpose(1, 0, 2).reshape(t, nh * d)  # heads concatenated per token
        x = x + attn @ w[p + "self_attn.o_proj.weight"].T  # o_proj has no bias

        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], cfg.eps)
        gate = h @ w[p + "mlp.gate_proj.weight"].T
        up = h @ w[p + "mlp.up_proj.weight"].T
        x = x + (silu(gate) * up) @ w[p + "mlp.down_proj.weight"].T

    final = rms_norm(x, w["model.norm.weight"], cfg.eps)
    head_weight = w["model.embed_tokens.weight"] if cfg.tied else w["lm_head.weight"]
    return final @ head_weight.T, final


# ----------------------------------------------------------------------------------------------------------
# JSON output
# ----------------------------------------------------------------------------------------------------------

def f32_json(a) -> list:
    """Nested lists of Python floats printing as the shortest decimal that reads back as the same float32."""
    a = np.asarray(a, dtype=np.float32)
    assert np.all(np.isfinite(a)), "non-finite value in a reference"
    flat = [float(np.format_float_scientific(v, unique=True)) for v in a.ravel()]
    back = np.asarray(flat, dtype=np.float64).astype(np.float32)
    bad = np.nonzero(back != a.ravel())[0]
    for idx in bad:  # double rounding through float64 (practically never): 9 digits always round-trip
        flat[idx] = float(f"{a.ravel()[idx]:.9g}")
    assert np.array_equal(np.asarray(flat, dtype=np.float64).astype(np.float32), a.ravel())
    return np.asarray(flat, dtype=object).reshape(a.shape).tolist() if a.ndim else flat[0]


def top2(row: np.ndarray) -> tuple[int, int, float]:
    order = np.argsort(-row, kind="stable")
    return int(order[0]), int(order[1]), float(row[order[0]] - row[order[1]])


# ----------------------------------------------------------------------------------------------------------
# transformers side
# ----------------------------------------------------------------------------------------------------------

def build_config(shape: Shape):
    from transformers import Qwen2Config

    kwargs = dict(
        vocab_size=shape.vocab, hidden_size=shape.hidden, intermediate_size=shape.intermediate,
        num_hidden_layers=shape.layers, num_attention_heads=shape.heads, num_key_value_heads=shape.kv_heads,
        hidden_act="silu", max_position_embeddings=MAX_POSITIONS, rms_norm_eps=shape.eps,
        tie_word_embeddings=shape.tied, bos_token_id=shape.bos, eos_token_id=shape.eos, use_cache=True,
        attention_dropout=0.0, use_sliding_window=shape.sliding_window is not None,
        attn_implementation="eager",
    )
    if shape.sliding_window is not None:
        kwargs.update(sliding_window=shape.sliding_window, max_window_layers=shape.max_window_layers)
    # transformers 5 keeps the base in rope_parameters; 4.x took rope_theta. Use whichever this version declares.
    declared = set(getattr(Qwen2Config, "__dataclass_fields__", {})) | set(inspect.signature(Qwen2Config.__init__).parameters)
    if "rope_parameters" in declared:
        kwargs["rope_parameters"] = {"rope_type": "default", "rope_theta": float(shape.rope_theta)}
    else:
        kwargs["rope_theta"] = float(shape.rope_theta)
    config = Qwen2Config(**kwargs)

    assert config.model_type == "qwen2", config.model_type
    for key, want in [("vocab_size", shape.vocab), ("hidden_size", shape.hidden),
                      ("intermediate_size", shape.intermediate), ("num_hidden_layers", shape.layers),
                      ("num_attention_heads", shape.heads), ("num_key_value_heads", shape.kv_heads),
                      ("rms_norm_eps", shape.eps), ("tie_word_embeddings", shape.tied), ("hidden_act", "silu")]:
        assert getattr(config, key) == want, f"{shape.name}: config.{key} = {getattr(config, key)!r}, wanted {want!r}"
    assert hf_rope_theta(config) == shape.rope_theta, f"{shape.name}: rope theta {hf_rope_theta(config)}"
    layer_types = getattr(config, "layer_types", None)
    assert layer_types is not None, "this transformers has no config.layer_types (expected 5.x)"
    assert list(layer_types) == shape.layer_types(), f"{shape.name}: layer_types {layer_types}, wanted {shape.layer_types()}"
    if shape.sliding_window is not None:
        assert config.sliding_window == shape.sliding_window, f"{shape.name}: sliding_window {config.sliding_window}"
    return config


def hf_rope_theta(config) -> float:
    rope = getattr(config, "rope_parameters", None)
    if isinstance(rope, dict) and "rope_theta" in rope:
        assert rope.get("rope_type", "default") == "default", rope
        return float(rope["rope_theta"])
    return float(config.rope_theta)


def hf_inv_freq_fp32(theta: float, head_dim: int) -> torch.Tensor:
    # Exactly HF's compute_default_rope_parameters.
    return 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))


EMBED_STD = 0.5  # embeddings and an untied lm_head
RESIDUAL_OUT_GAIN = 8.0  # o_proj and down_proj get std RESIDUAL_OUT_GAIN/sqrt(fan_in), other projections 1/sqrt(fan_in)


def init_value(name: str, shape: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
    """Random weights wide enough that logits are not flat (HF's std 0.02 gives near-ties everywhere).

    With a tied head, logit(t) contains |embedding(t)|^2 through the residual stream, so a model whose layers add
    little just repeats the last token forever. Large o_proj/down_proj outputs make the layers dominate the
    residual stream: greedy decoding then visits several tokens (tried on all shapes: 1-2 distinct tokens in 12
    with gain 1, 3-11 with gain 8), while top-1/top-2 margins stay around 1.5 logits (median).
    """
    noise = torch.randn(shape, generator=gen, dtype=torch.float32)
    if name in ("model.embed_tokens.weight", "lm_head.weight"):
        return noise * EMBED_STD
    if name.endswith("layernorm.weight") or name == "model.norm.weight":
        return 1.0 + 0.1 * noise
    if name.endswith(".bias"):
        return 0.1 * noise
    assert len(shape) == 2 and name.endswith("_proj.weight"), name
    gain = RESIDUAL_OUT_GAIN if name.endswith(("o_proj.weight", "down_proj.weight")) else 1.0
    return noise * (gain / math.sqrt(shape[1]))  # shape = (out_features, in_features)


def build_model(shape: Shape, config):
    from transformers import Qwen2ForCausalLM

    torch.manual_seed(shape.seed)
    model = Qwen2ForCausalLM(config)
    if getattr(model.config, "_attn_implementation", None) != "eager" and hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation("eager")
    assert model.config._attn_implementation == "eager", model.config._attn_implementation
    model.eval()

    names = [n for n, _ in model.named_parameters()]
    want = expected_parameter_names(shape, with_lm_head=not shape.tied)
    assert sorted(names) == sorted(want), f"{shape.name}: parameters {sorted(set(names) ^ set(want))} differ"
    tied = model.lm_head.weight is model.model.embed_tokens.weight
    assert tied == shape.tied, f"{shape.name}: lm_head tied={tied}, wanted {shape.tied}"
    shapes = expected_shapes(shape)
    for n, p in model.named_parameters():
        assert p.dtype == torch.float32, f"{n}: {p.dtype}"
        assert tuple(p.shape) == shapes[n], f"{n}: shape {tuple(p.shape)}, wanted {shapes[n]}"

    # Re-initialise from our own generator in a fixed order: independent of how HF's init consumes the RNG.
    gen = torch.Generator().manual_seed(shape.seed)
    with torch.no_grad():
        for n in want:
            p = model.get_parameter(n)
            p.copy_(init_value(n, tuple(p.shape), gen))
        # Round the PARAMETERS to bf16 values; buffers (rotary inv_freq) stay exact float32 (GPU.md pitfall).
        for p in model.parameters():
            p.copy_(p.to(torch.bfloat16).float())

    for i, layer in enumerate(model.model.layers):
        window = getattr(layer.self_attn, "sliding_window", "absent")
        if window != "absent":
            want_window = shape.layer_windows()[i] or None
            assert window == want_window, f"{shape.name}: layer {i} self_attn.sliding_window={window}, wanted {want_window}"
        attention_type = getattr(layer, "attention_type", None)
        assert attention_type in (None, shape.layer_types()[i]), f"layer {i}: attention_type {attention_type}"
    return model


def check_inv_freq(model, shape: Shape) -> np.ndarray:
    want = hf_inv_freq_fp32(shape.rope_theta, shape.head_dim)
    buffers = [(n, b) for n, b in model.named_buffers() if n.endswith("inv_freq")]
    assert buffers, "no rotary inv_freq buffer found"
    exact = rope_inv_freq(shape.rope_theta, shape.head_dim)
    for n, b in buffers:
        assert b.dtype == torch.float32, f"{n}: {b.dtype}"
        # float32 evaluation errs by ~1e-7 relative; bf16 rounding would show ~1e-3.
        rel = float(np.max(np.abs(b.cpu().double().numpy() - exact) / exact))
        assert rel < 1e-5, f"{n} is off the formula by {rel} relative (rounded to bf16?): {b} vs {want}"
    return want.numpy()


def save_checkpoint(model, directory: Path) -> None:
    bf16 = copy.deepcopy(model).to(torch.bfloat16)
    kwargs = {}
    if "safe_serialization" in inspect.signature(bf16.save_pretrained).parameters:
        kwargs["safe_serialization"] = True  # transformers 4.x; 5.x always writes safetensors
    bf16.save_pretrained(str(directory), **kwargs)
    files = set(os.listdir(directory))
    assert {"config.json", "model.safetensors"} <= files, f"save_pretrained wrote {sorted(files)}"
    assert not any(f.endswith((".bin", ".index.json")) for f in files), f"sharded or pickled weights: {sorted(files)}"
    if files - EXPECTED_HF_FILES:
        print(f"  WARNING: save_pretrained also wrote {sorted(files - EXPECTED_HF_FILES)} (kept)")


def check_checkpoint(model, shape: Shape, directory: Path) -> tuple[dict, dict[str, np.ndarray], list[str]]:
    """The saved weights are bit-identical to the float32 model's; config.json reads back as intended."""
    weights = read_safetensors_bf16(directory / "model.safetensors")
    want = set(expected_parameter_names(shape, with_lm_head=True))
    names = set(weights)
    if shape.tied:
        assert want - {"lm_head.weight"} <= names <= want, f"tensors {sorted(names ^ want)}"
        if "lm_head.weight" in names:
            print(f"  WARNING {shape.name}: tied model saved with a separate lm_head.weight")
    else:
        assert names == want, f"tensors {sorted(names ^ want)}"
    state = model.state_dict()
    shapes = expected_shapes(shape)
    for n, w in weights.items():
        assert w.shape == shapes[n], f"{n}: saved shape {w.shape}"
        assert np.array_equal(w, state[n].double().numpy()), f"{n}: saved bf16 values differ from the float32 model"

    path = directory / "config.json"
    cfg = json.loads(path.read_text())
    intended = EngineConfig(
        vocab=shape.vocab, hidden=shape.hidden, intermediate=shape.intermediate, layers=shape.layers,
        heads=shape.heads, kv_heads=shape.kv_heads, head_dim=shape.head_dim, rope_theta=shape.rope_theta,
        eps=shape.eps, tied=shape.tied, windows=tuple(shape.layer_windows()), dtype="bfloat16")
    assert cfg.get("model_type") == "qwen2", cfg.get("model_type")
    assert cfg.get("architectures") in (None, ["Qwen2ForCausalLM"]), cfg.get("architectures")
    assert cfg.get("hidden_act", "silu") == "silu"
    added = []
    if engine_config(cfg) != intended:
        # save_pretrained writes only values that differ from defaults in some versions. Spell out the keys that
        # are missing (never change one that is present) and say so in reference.json.
        explicit = {"vocab_size": shape.vocab, "hidden_size": shape.hidden, "intermediate_size": shape.intermediate,
                    "num_hidden_layers": shape.layers, "num_attention_heads": shape.heads,
                    "num_key_value_heads": shape.kv_heads, "rms_norm_eps": shape.eps,
                    "tie_word_embeddings": shape.tied, "torch_dtype": "bfloat16",
                    "use_sliding_window": shape.sliding_window is not None}
        if "rope_parameters" not in cfg:
            explicit["rope_theta"] = shape.rope_theta
        if shape.sliding_window is not None:
            explicit.update(sliding_window=shape.sliding_window, layer_types=shape.layer_types(),
                            max_window_layers=shape.max_window_layers)
        for key, value in explicit.items():
            if key not in cfg and not (key == "torch_dtype" and "dtype" in cfg):
                cfg[key] = value
                added.append(key)
        got = engine_config(cfg)
        assert got == intended, f"{shape.name}: config.json reads as {got}, intended {intended}"
        path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
        print(f"  WARNING {shape.name}: added missing keys {added} to config.json")
    return cfg, weights, added


def check_reload(model, directory: Path, prompt: list[int], shape: Shape) -> str:
    """Does the checkpoint load back into HF as a float32 model giving the same logits?

    Reported, not fatal: the files are already verified bit-exactly and by the float64 forward, so a failure
    here is a finding about from_pretrained (e.g. an inv_freq computed in bf16), not about the data.
    """
    from transformers import Qwen2ForCausalLM

    try:
        try:
            loaded = Qwen2ForCausalLM.from_pretrained(str(directory), dtype=torch.float32, attn_implementation="eager")
        except TypeError:
            loaded = Qwen2ForCausalLM.from_pretrained(str(directory), torch_dtype=torch.float32,
                                                      attn_implementation="eager")
        loaded.eval()
        for n, p in loaded.named_parameters():
            assert p.dtype == torch.float32, f"reloaded {n}: {p.dtype}"
        check_inv_freq(loaded, shape)
        ids = torch.tensor([prompt], dtype=torch.long)
        with torch.no_grad():
            a = model(input_ids=ids, use_cache=False).logits
            b = loaded(input_ids=ids, use_cache=False).logits
        diff = float((a - b).abs().max())
        assert diff <= RELOAD_TOLERANCE, f"reloaded checkpoint logits differ by {diff}"
        return f"ok, max |dlogit| {diff:.2e}"
    except Exception as e:  # noqa: BLE001
        print(f"  WARNING {shape.name}: HF reload check failed: {type(e).__name__}: {e}")
        return f"FAILED: {type(e).__name__}: {e}"[:400]


def prefill(model, prompt: list[int], layers: int):
    """Logits (T, vocab) and final-norm hidden states (T, hidden) of one uncached forward; where hidden_states[-1] sits."""
    captured = {}

    def hook(module, args, *rest):  # (args, output) or, with_kwargs, (args, kwargs, output)
        kwargs = rest[0] if len(rest) == 2 else {}
        captured["in"] = (args[0] if args else next(iter(kwargs.values()))).detach().clone()
        captured["out"] = rest[-1].detach().clone()

    try:
        handle = model.model.norm.register_forward_hook(hook, with_kwargs=True)
    except TypeError:  # torch < 2.0
        handle = model.model.norm.register_forward_hook(hook)
    try:
        with torch.no_grad():
            out = model(input_ids=torch.tensor([prompt], dtype=torch.long), use_cache=False, output_hidden_states=True)
    finally:
        handle.remove()
    hidden_states = out.hidden_states
    assert hidden_states is not None and len(hidden_states) == layers + 1, \
        f"hidden_states has {None if hidden_states is None else len(hidden_states)} entries, wanted {layers + 1}"
    last = hidden_states[-1][0]
    after, before = captured["out"][0], captured["in"][0]
    if torch.equal(last, after):
        where = "after_final_norm"
    elif torch.equal(last, before):
        where = "before_final_norm"
    else:
        raise AssertionError("hidden_states[-1] is neither the input nor the output of model.norm")
    embeddings_first = torch.equal(hidden_states[0][0], model.model.embed_tokens.weight[prompt])
    return out.logits[0].double().numpy(), after.double().numpy(), where, embeddings_first


def greedy_cached(model, prompt: list[int], steps: int) -> tuple[list[int], np.ndarray]:
    """Plain greedy loop on HF's KV cache. rows[k] are the logits that chose token k (position len(prompt)-1+k)."""
    rows, tokens = [], []
    with torch.no_grad():
        out = model(input_ids=torch.tensor([prompt], dtype=torch.long), use_cache=True)
        past = out.past_key_values
        assert past is not None, "use_cache=True returned no past_key_values"
        row = out.logits[0, -1]
        for k in range(steps):
            rows.append(row.double().numpy())
            tokens.append(int(torch.argmax(row)))
            if k == steps - 1:
                break
            position = len(prompt) + k
            out = model(input_ids=torch.tensor([[tokens[-1]]], dtype=torch.long), past_key_values=past,
                        position_ids=torch.tensor([[position]], dtype=torch.long), use_cache=True)
            past = out.past_key_values
            row = out.logits[0, -1]
    return tokens, np.stack(rows)


def greedy_recompute(model, prompt: list[int], steps: int) -> tuple[list[int], np.ndarray]:
    """The same greedy loop without a cache: one full forward per step."""
    rows, tokens = [], []
    with torch.no_grad():
        for _ in range(steps):
            out = model(input_ids=torch.tensor([prompt + tokens], dtype=torch.long), use_cache=False)
            row = out.logits[0, -1]
            rows.append(row.double().numpy())
            tokens.append(int(torch.argmax(row)))
    return tokens, np.stack(rows)


def hf_generate_agrees(model, prompt: list[int], tokens: list[int], margins: list[float], eos: int) -> str:
    """Cross-check against model.generate (greedy). Reported, not fatal: the recorded tokens are already
    validated by the float64 check, so a disagreement here is a finding about generate, not about the data."""
    try:
        ids = torch.tensor([prompt], dtype=torch.long)
        with torch.no_grad():
            out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False, num_beams=1,
                                 max_new_tokens=len(tokens), pad_token_id=eos)
        generated = out[0, len(prompt):].tolist()
    except Exception as e:  # noqa: BLE001 - report any API drift, the references do not depend on generate
        return f"error: {type(e).__name__}: {e}"[:300]
    k = first_difference(generated, tokens)
    if k is None:
        return "match" if len(generated) == len(tokens) else f"match, stopped after {len(generated)} tokens"
    if margins[k] < 1e-4:
        return f"diverged at step {k} on a near-tie (margin {margins[k]:.2e})"
    print(f"  WARNING: generate chose {generated[k]} at step {k} where the loop chose {tokens[k]} (margin {margins[k]:.3f})")
    return f"MISMATCH at step {k}: generate chose {generated[k]}, the loop {tokens[k]} (margin {margins[k]:.3f})"


def first_difference(a: list[int], b: list[int]) -> int | None:
    """Index of the first differing token over the common length, or None."""
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), None)


# ----------------------------------------------------------------------------------------------------------
# One shape
# ----------------------------------------------------------------------------------------------------------

def make_shape(shape: Shape, out_root: Path, decode: str, versions: dict) -> None:
    """Builds the shape in a scratch folder and swaps it in only once every check has passed."""
    started = time.time()
    final_dir = out_root / shape.name
    assert not final_dir.exists() or is_ours(final_dir, shape.name), \
        f"{final_dir} exists and holds no reference.json of this script; not replacing it"
    work_dir = out_root / f".{shape.name}.tmp"
    if work_dir.exists():
        shutil.rmtree(work_dir)
    work_dir.mkdir(parents=True)
    try:
        reference = write_shape(shape, work_dir, decode, versions)
    except BaseException:
        shutil.rmtree(work_dir, ignore_errors=True)
        raise
    if final_dir.exists():
        shutil.rmtree(final_dir)
    work_dir.rename(final_dir)
    size = sum(f.stat().st_size for f in final_dir.iterdir())
    print(f"  {shape.name}: {size / 1e6:.2f} MB in {time.time() - started:.1f} s; hidden_states[-1] is "
          f"{reference['hidden_states_last_is']}; generate: {reference['checks']['hf_generate']}")


def is_ours(directory: Path, name: str) -> bool:
    if not any(directory.iterdir()):
        return True
    try:
        reference = json.loads((directory / "reference.json").read_text())
    except (OSError, ValueError):
        return False
    return reference.get("schema") == SCHEMA and reference.get("name") == name


def write_shape(shape: Shape, work_dir: Path, decode: str, versions: dict) -> dict:
    config = build_config(shape)
    model = build_model(shape, config)
    inv_freq = check_inv_freq(model, shape)
    save_checkpoint(model, work_dir)
    saved_cfg, weights, added_keys = check_checkpoint(model, shape, work_dir)
    engine = engine_config(saved_cfg)

    rng = np.random.default_rng(shape.prompt_seed)
    prompts = [[int(t) for t in rng.integers(0, shape.vocab - 1, size=n)] for n in shape.prompt_lengths]
    reload_status = check_reload(model, work_dir, prompts[-1], shape)

    cases, checks = [], {"fp64_prefill": 0.0, "fp64_decode": 0.0, "fp64_hidden": 0.0, "cache_vs_recompute": 0.0}
    hidden_where, generate_results = None, []
    for prompt in prompts:
        logits, hidden, where, embeddings_first = prefill(model, prompt, shape.layers)
        assert hidden_where in (None, where)
        hidden_where = where

        cached_tokens, cached_rows = greedy_cached(model, prompt, NEW_TOKENS)
        plain_tokens, plain_rows = greedy_recompute(model, prompt, NEW_TOKENS)
        tokens, rows = (cached_tokens, cached_rows) if decode == "cache" else (plain_tokens, plain_rows)
        for label, values in [("prefill logits", logits), ("final hidden", hidden), ("decode logits", rows)]:
            assert np.all(np.isfinite(values)), f"{shape.name}: non-finite {label} from HF" + (
                " (KV-cache decode; --decode recompute records full recomputation)" if label == "decode logits" and decode == "cache" else "")
        # Rows agree up to the first differing token, which is where a faulty cache shows (the float64 check
        # below then fails on the recorded rows and says so).
        k = first_difference(cached_tokens, plain_tokens)
        same = NEW_TOKENS if k is None else k + 1
        cache_diff = float(np.max(np.abs(cached_rows[:same] - plain_rows[:same])))
        cache_diff = cache_diff if math.isfinite(cache_diff) else math.inf
        checks["cache_vs_recompute"] = max(checks["cache_vs_recompute"], cache_diff)
        assert np.allclose(rows[0], logits[-1], rtol=0, atol=1e-5), "first decode row differs from the last prefill row"

        # float64 re-implementation over prompt + generated tokens: rows [0, T) are the prefill, rows
        # [T-1, T-1+NEW_TOKENS) the logits that chose each new token.
        sequence = prompt + tokens[:-1]
        ref_logits, ref_hidden = qwen2_forward_fp64(weights, engine, sequence)
        t = len(prompt)
        d_prefill = float(np.max(np.abs(ref_logits[:t] - logits)))
        d_decode = float(np.max(np.abs(ref_logits[t - 1:t - 1 + NEW_TOKENS] - rows)))
        d_hidden = float(np.max(np.abs(ref_hidden[:t] - hidden)))
        print(f"  {shape.name} prompt {t:2d}: fp64 vs HF max|dlogit| prefill {d_prefill:.2e} decode {d_decode:.2e}, "
              f"hidden {d_hidden:.2e}")
        if not all(d < FP64_TOLERANCE for d in (d_prefill, d_decode, d_hidden)):  # NaN fails too
            diagnose_windows(weights, engine, sequence, logits, rows, t)
            hint = (" HF's KV-cache decode disagrees with its own recomputation: --decode recompute records the latter"
                    if decode == "cache" and cache_diff >= FP64_TOLERANCE else "")
            raise AssertionError(f"{shape.name}: HF float32 and the float64 Qwen2 disagree (prefill {d_prefill}, "
                                 f"decode {d_decode}, hidden {d_hidden}).{hint}")
        checks["fp64_prefill"] = max(checks["fp64_prefill"], d_prefill)
        checks["fp64_decode"] = max(checks["fp64_decode"], d_decode)
        checks["fp64_hidden"] = max(checks["fp64_hidden"], d_hidden)

        prefill_top = [top2(r) for r in logits]
        step_top = [top2(r) for r in rows]
        assert [s[0] for s in step_top] == tokens
        margins = [s[2] for s in step_top]
        generate_results.append(hf_generate_agrees(model, prompt, tokens, margins, shape.eos))
        cases.append({
            "prompt": prompt,
            "prefill": {
                "logits": f32_json(logits),
                "argmax": [s[0] for s in prefill_top],
                "margin": f32_json([s[2] for s in prefill_top]),
            },
            "final_hidden": f32_json(hidden),
            "embeddings_are_hidden_states_0": embeddings_first,
            "greedy": {
                "new_tokens": tokens,
                "positions": list(range(t - 1, t - 1 + NEW_TOKENS)),
                "step_logits": f32_json(rows),
                "second_tokens": [s[1] for s in step_top],
                "margins": f32_json(margins),
            },
        })

    if checks["cache_vs_recompute"] >= FP64_TOLERANCE:  # only reachable with --decode recompute
        print(f"  WARNING {shape.name}: HF's KV-cache decode is off by {checks['cache_vs_recompute']}; recorded recomputation")
    reference = {
        "schema": SCHEMA,
        "name": shape.name,
        "generator": {"script": "tools/reference/make_model_references.py", **versions, "device": "cpu",
                      "dtype": "float32", "attn_implementation": "eager", "decode": decode},
        "seed": shape.seed,
        "prompt_seed": shape.prompt_seed,
        "prompt_tokens": "numpy default_rng(prompt_seed).integers(0, vocab_size - 1, n) per case: eos never in a prompt",
        "init": {"embed_std": EMBED_STD, "lm_head_std": None if shape.tied else EMBED_STD,
                 "proj_weight_std": "1/sqrt(fan_in); o_proj and down_proj %g/sqrt(fan_in)" % RESIDUAL_OUT_GAIN,
                 "bias_std": 0.1, "norm_weight": "1 + N(0, 0.1)",
                 "generator": "torch.Generator().manual_seed(seed), one randn per tensor in draw_order",
                 "draw_order": expected_parameter_names(shape, with_lm_head=not shape.tied),
                 "rounding": "parameters rounded to bf16 (nearest even) before the reference; inv_freq not rounded"},
        "model": {
            "vocab_size": shape.vocab, "hidden_size": shape.hidden, "intermediate_size": shape.intermediate,
            "num_hidden_layers": shape.layers, "num_attention_heads": shape.heads,
            "num_key_value_heads": shape.kv_heads, "head_dim": shape.head_dim, "rope_theta": shape.rope_theta,
            "rms_norm_eps": shape.eps, "tie_word_embeddings": shape.tied, "max_position_embeddings": MAX_POSITIONS,
            "bos_token_id": shape.bos, "eos_token_id": shape.eos,
            "use_sliding_window": shape.sliding_window is not None, "sliding_window": shape.sliding_window,
            "max_window_layers": shape.max_window_layers,
            "layer_types": list(config.layer_types),
            "layer_windows": list(engine.windows),
            "sliding_rule": "query i attends key j iff j <= i and (window == 0 or j > i - window)",
        },
        "checkpoint": {
            "files": sorted(set(os.listdir(work_dir)) | {"reference.json"}),
            "weights_dtype": "bfloat16",
            "tensors": {n: list(w.shape) for n, w in sorted(weights.items())},
            "config_json_added_keys": added_keys,
        },
        "rope_inv_freq_fp32": f32_json(inv_freq),
        "hidden_states_last_is": hidden_where,
        "final_hidden_is": "output of model.norm (after the final RMSNorm), for the prompt positions",
        "new_tokens": NEW_TOKENS,
        "eos_ignored_while_decoding": True,
        "checks": {
            "tolerance": FP64_TOLERANCE,
            "fp64_max_abs_logit_diff_prefill": checks["fp64_prefill"],
            "fp64_max_abs_logit_diff_decode": checks["fp64_decode"],
            "fp64_max_abs_hidden_diff": checks["fp64_hidden"],
            "cache_vs_recompute_max_abs_logit_diff": checks["cache_vs_recompute"] if math.isfinite(
                checks["cache_vs_recompute"]) else "non-finite",
            "hf_reload": reload_status,
            "hf_generate": generate_results,
        },
        "cases": cases,
    }
    (work_dir / "reference.json").write_text(json.dumps(reference, separators=(",", ":"), allow_nan=False) + "\n")
    return reference


def diagnose_windows(weights, engine: EngineConfig, sequence, logits, rows, t) -> None:
    """On a mismatch, say which attention-window rule HF would have matched."""
    n = len(rows)
    variants = {"as configured": engine.windows, "no window": tuple(0 for _ in engine.windows)}
    if any(engine.windows):
        variants["window + 1"] = tuple(w + 1 if w else 0 for w in engine.windows)
        variants["window - 1"] = tuple(w - 1 if w else 0 for w in engine.windows)
    for label, windows in variants.items():
        ref, _ = qwen2_forward_fp64(weights, engine, sequence, windows)
        print(f"  diagnose {label} {windows}: prefill {np.max(np.abs(ref[:t] - logits)):.2e}, "
              f"decode {np.max(np.abs(ref[t - 1:t - 1 + n] - rows)):.2e}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="output folder, e.g. tests/Specialized.Tests/Data/models")
    parser.add_argument("--only", nargs="*", choices=[s.name for s in SHAPES], help="make only these shapes")
    parser.add_argument("--decode", choices=["cache", "recompute"], default="cache",
                        help="record greedy logits from HF's KV-cache loop (default) or from full recomputation")
    args = parser.parse_args()

    import transformers

    major = int(transformers.__version__.split(".")[0])
    if major < 5:
        print(f"WARNING: transformers {transformers.__version__}; this script targets 5.x")
    torch.set_num_threads(1)  # bit-reproducible float32 reductions; the models are tiny
    torch.set_default_dtype(torch.float32)
    versions = {"python": platform.python_version(), "torch": torch.__version__,
                "transformers": transformers.__version__, "numpy": np.__version__}
    try:
        import safetensors
        versions["safetensors"] = safetensors.__version__
    except ImportError:
        pass
    print("versions:", versions)

    args.out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    for shape in SHAPES:
        if args.only and shape.name not in args.only:
            continue
        print(f"{shape.name}:")
        make_shape(shape, args.out, args.decode, versions)
    total = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file())
    print(f"done in {time.time() - started:.1f} s; {args.out} holds {total / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
