"""The shared decoder LM of every supported family: weights from HF tensors, and `forward`.

`forward` is a pure function of (weights, batch, cache, attention): it writes this step's
K/V into the paged cache and returns logits for the rows the batch asks for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from model_server.core import Batch
from model_server.models.config import ModelConfig
from model_server.models.layers import RopeTable, apply_rope, gated_mlp, linear, rms_norm
from model_server.models.qwen3_moe import MoEWeights, moe_mlp


@dataclass(frozen=True, slots=True)
class LayerWeights:
    """One transformer block; q/k/v fused into one projection, gate/up fused into one."""

    input_norm: torch.Tensor
    qkv: torch.Tensor
    qkv_bias: torch.Tensor | None
    o: torch.Tensor
    o_bias: torch.Tensor | None
    q_norm: torch.Tensor | None
    k_norm: torch.Tensor | None
    post_norm: torch.Tensor
    gate_up: torch.Tensor | None  # dense MLP
    down: torch.Tensor | None
    moe: MoEWeights | None  # sparse MLP (Qwen3-MoE layers)


@dataclass(frozen=True, slots=True)
class DecoderWeights:
    embed: torch.Tensor
    layers: tuple[LayerWeights, ...]
    norm: torch.Tensor
    lm_head: torch.Tensor


def build_weights(cfg: ModelConfig, tensors: dict[str, torch.Tensor]) -> DecoderWeights:
    """Take the HF-named tensors (consumed from `tensors`); raise naming anything missing/extra."""

    def take(name: str, optional: bool = False) -> torch.Tensor | None:
        if name not in tensors:
            if optional:
                return None
            raise ValueError(f"checkpoint is missing tensor {name!r}")
        return tensors.pop(name)

    layers = []
    for i in range(cfg.num_layers):
        p = f"model.layers.{i}."
        a = p + "self_attn."
        q, k, v = take(a + "q_proj.weight"), take(a + "k_proj.weight"), take(a + "v_proj.weight")
        biases = [take(a + f"{n}_proj.bias", optional=True) for n in "qkv"]
        qkv_bias = torch.cat(biases) if all(b is not None for b in biases) else None
        if qkv_bias is None and any(b is not None for b in biases):
            raise ValueError(f"layer {i}: q/k/v biases must be all present or all absent")
        moe = dense_gu = dense_down = None
        if i in cfg.moe_layers:
            m = p + "mlp."
            gate_up = torch.stack([
                torch.cat([take(f"{m}experts.{e}.gate_proj.weight"),
                           take(f"{m}experts.{e}.up_proj.weight")])
                for e in range(cfg.num_experts)])
            down = torch.stack([take(f"{m}experts.{e}.down_proj.weight")
                                for e in range(cfg.num_experts)])
            moe = MoEWeights(take(m + "gate.weight"), gate_up, down, cfg.num_experts_per_tok,
                             cfg.norm_topk_prob)
        else:
            dense_gu = torch.cat([take(p + "mlp.gate_proj.weight"), take(p + "mlp.up_proj.weight")])
            dense_down = take(p + "mlp.down_proj.weight")
        layers.append(LayerWeights(
            input_norm=take(p + "input_layernorm.weight"),
            qkv=torch.cat([q, k, v]), qkv_bias=qkv_bias,
            o=take(a + "o_proj.weight"), o_bias=take(a + "o_proj.bias", optional=True),
            q_norm=take(a + "q_norm.weight", optional=not cfg.qk_norm),
            k_norm=take(a + "k_norm.weight", optional=not cfg.qk_norm),
            post_norm=take(p + "post_attention_layernorm.weight"),
            gate_up=dense_gu, down=dense_down, moe=moe))
    embed = take("model.embed_tokens.weight")
    lm_head = take("lm_head.weight", optional=cfg.tie_word_embeddings)
    weights = DecoderWeights(embed, tuple(layers), take("model.norm.weight"),
                             embed if lm_head is None else lm_head)
    leftover = sorted(k for k in tensors if "rotary_emb" not in k)
    if leftover:
        raise ValueError(f"checkpoint has tensors this {cfg.family} model does not use: "
                         f"{leftover[:5]}{' …' if len(leftover) > 5 else ''}")
    return weights


AttentionFn = Callable[..., torch.Tensor]


def attention_block(lw: LayerWeights, cfg: ModelConfig, x: torch.Tensor, batch: Batch,
                    k_cache: torch.Tensor, v_cache: torch.Tensor, rope: RopeTable,
                    attention: AttentionFn, tile: int) -> torch.Tensor:
    t = x.shape[0]
    hq, hkv, d = cfg.num_heads, cfg.num_kv_heads, cfg.head_dim
    qkv = linear(x, lw.qkv, lw.qkv_bias, tile)
    q, k, v = qkv.split([hq * d, hkv * d, hkv * d], dim=-1)
    q, k, v = q.view(t, hq, d), k.view(t, hkv, d), v.view(t, hkv, d)
    if lw.q_norm is not None:
        q, k = rms_norm(q, lw.q_norm, cfg.rms_eps), rms_norm(k, lw.k_norm, cfg.rms_eps)
    cos, sin = rope.cos[batch.positions], rope.sin[batch.positions]
    q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
    k_cache.view(-1, hkv, d)[batch.slots] = k
    v_cache.view(-1, hkv, d)[batch.slots] = v
    o = attention(q, k_cache, v_cache, batch.block_tables, batch.cu_q_lens, batch.kv_lens,
                  scale=d ** -0.5)
    return linear(o.reshape(t, hq * d), lw.o, lw.o_bias, tile)


def forward(weights: DecoderWeights, cfg: ModelConfig, batch: Batch,
            k_caches: list[torch.Tensor], v_caches: list[torch.Tensor], rope: RopeTable,
            attention: AttentionFn, tile: int = 0) -> torch.Tensor:
    """One step: fp32 logits [len(batch.logits_index), vocab]."""
    x = weights.embed[batch.input_ids]
    if batch.embed_index is not None:
        x[batch.embed_index] = batch.embed_rows.to(x.dtype)
    for i, lw in enumerate(weights.layers):
        h = rms_norm(x, lw.input_norm, cfg.rms_eps)
        x = x + attention_block(lw, cfg, h, batch, k_caches[i], v_caches[i], rope, attention,
                                tile)
        h = rms_norm(x, lw.post_norm, cfg.rms_eps)
        if lw.moe is not None:
            x = x + moe_mlp(h, lw.moe, tile)
        else:
            x = x + gated_mlp(h, lw.gate_up, lw.down, tile)
    x = rms_norm(x[batch.logits_index], weights.norm, cfg.rms_eps)
    return linear(x, weights.lm_head, None, tile).float()
