"""A plain-PyTorch Qwen2 decoder for training: full causal attention, RoPE, RMSNorm, SwiGLU, GQA.

Parameter names follow Hugging Face's `Qwen2ForCausalLM` (`model.layers.0.self_attn.q_proj.weight`,
...), with tied input/output embeddings, so the saved model.safetensors loads into transformers
and into the serving engine's Qwen2 loader unchanged. Inference with a KV cache lives in the
engine; this module only needs the whole-sequence forward that training and evaluation use.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

KV = tuple[torch.Tensor, torch.Tensor]  # one layer's keys and values, (batch, kv_heads, length, head_dim)


@dataclass(frozen=True, slots=True)
class Qwen2Config:
    vocab_size: int = 4096
    hidden_size: int = 256
    intermediate_size: int = 768
    num_hidden_layers: int = 6
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    max_position_embeddings: int = 4096
    rope_theta: float = 10000.0
    rms_norm_eps: float = 1e-6
    eos_token_id: int = 15  # <|end|>

    def __post_init__(self) -> None:
        assert self.hidden_size % self.num_attention_heads == 0
        assert self.num_attention_heads % self.num_key_value_heads == 0

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    def to_hf(self) -> dict:
        """config.json as transformers writes it for Qwen2ForCausalLM."""
        return {
            "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", **asdict(self),
            "bos_token_id": None, "hidden_act": "silu", "initializer_range": 0.02,
            "tie_word_embeddings": True, "use_cache": True, "use_sliding_window": False,
            "sliding_window": None, "max_window_layers": self.num_hidden_layers,
            "attention_dropout": 0.0, "rope_scaling": None, "torch_dtype": "float32",
        }

    @classmethod
    def from_hf(cls, data: dict) -> Qwen2Config:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


class RMSNorm(nn.Module):
    def __init__(self, size: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)


def rope_tables(config: Qwen2Config, length: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    dim = config.head_dim
    inv_freq = 1.0 / (config.rope_theta ** (torch.arange(0, dim, 2, dtype=torch.int64, device=device).float() / dim))
    freqs = torch.outer(torch.arange(length, device=device).float(), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Attention(nn.Module):
    def __init__(self, c: Qwen2Config):
        super().__init__()
        self.c = c
        self.q_proj = nn.Linear(c.hidden_size, c.num_attention_heads * c.head_dim, bias=True)
        self.k_proj = nn.Linear(c.hidden_size, c.num_key_value_heads * c.head_dim, bias=True)
        self.v_proj = nn.Linear(c.hidden_size, c.num_key_value_heads * c.head_dim, bias=True)
        self.o_proj = nn.Linear(c.num_attention_heads * c.head_dim, c.hidden_size, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                past: KV | None = None) -> tuple[torch.Tensor, KV]:
        b, t, _ = x.shape
        c = self.c
        q = self.q_proj(x).view(b, t, c.num_attention_heads, c.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, c.num_key_value_heads, c.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, c.num_key_value_heads, c.head_dim).transpose(1, 2)
        cos, sin = cos.to(q.dtype), sin.to(q.dtype)
        q = q * cos + _rotate_half(q) * sin
        k = k * cos + _rotate_half(k) * sin
        if past is not None:
            k, v = torch.cat((past[0], k), dim=2), torch.cat((past[1], v), dim=2)
        repeat = c.num_attention_heads // c.num_key_value_heads
        kr, vr = k.repeat_interleave(repeat, dim=1), v.repeat_interleave(repeat, dim=1)
        if past is None:
            out = nn.functional.scaled_dot_product_attention(q, kr, vr, is_causal=True)
        else:  # new queries sit at the end: query i sees every cached key and new keys 0..i
            start = k.shape[2] - t
            mask = torch.ones(t, k.shape[2], dtype=torch.bool, device=x.device).tril(diagonal=start)
            out = nn.functional.scaled_dot_product_attention(q, kr, vr, attn_mask=mask)
        return self.o_proj(out.transpose(1, 2).reshape(b, t, -1)), (k, v)


class MLP(nn.Module):
    def __init__(self, c: Qwen2Config):
        super().__init__()
        self.gate_proj = nn.Linear(c.hidden_size, c.intermediate_size, bias=False)
        self.up_proj = nn.Linear(c.hidden_size, c.intermediate_size, bias=False)
        self.down_proj = nn.Linear(c.intermediate_size, c.hidden_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(nn.functional.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, c: Qwen2Config):
        super().__init__()
        self.self_attn = Attention(c)
        self.mlp = MLP(c)
        self.input_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                past: KV | None = None) -> tuple[torch.Tensor, KV]:
        attn, kv = self.self_attn(self.input_layernorm(x), cos, sin, past)
        x = x + attn
        return x + self.mlp(self.post_attention_layernorm(x)), kv


class Qwen2Body(nn.Module):
    def __init__(self, c: Qwen2Config):
        super().__init__()
        self.embed_tokens = nn.Embedding(c.vocab_size, c.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(c) for _ in range(c.num_hidden_layers))
        self.norm = RMSNorm(c.hidden_size, c.rms_norm_eps)


class Qwen2ForTraining(nn.Module):
    """Qwen2ForCausalLM's math and parameter names; logits through the tied embedding."""

    def __init__(self, config: Qwen2Config):
        super().__init__()
        self.config = config
        self.model = Qwen2Body(config)
        self.apply(self._init)

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def hidden_states(self, inputs_embeds: torch.Tensor) -> torch.Tensor:
        cos, sin = rope_tables(self.config, inputs_embeds.shape[1], inputs_embeds.device)
        x = inputs_embeds
        for layer in self.model.layers:
            x, _ = layer(x, cos, sin)
        return self.model.norm(x)

    def extend(self, inputs_embeds: torch.Tensor, cache: list[KV] | None = None
               ) -> tuple[torch.Tensor, list[KV]]:
        """Append (1, t, hidden) embeddings to a per-layer KV cache; logits for the new positions.

        Evaluation and the latency benchmark use it; the serving engine has its own paged cache.
        """
        start = cache[0][0].shape[2] if cache else 0
        cos, sin = rope_tables(self.config, start + inputs_embeds.shape[1], inputs_embeds.device)
        cos, sin = cos[start:], sin[start:]
        x, new_cache = inputs_embeds, []
        for i, layer in enumerate(self.model.layers):
            x, kv = layer(x, cos, sin, cache[i] if cache else None)
            new_cache.append(kv)
        return self.model.norm(x) @ self.model.embed_tokens.weight.T, new_cache

    def forward(self, input_ids: torch.Tensor | None = None,
                inputs_embeds: torch.Tensor | None = None) -> torch.Tensor:
        if inputs_embeds is None:
            inputs_embeds = self.model.embed_tokens(input_ids)
        return self.hidden_states(inputs_embeds) @ self.model.embed_tokens.weight.T

    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tensors = {k: v.detach().float().contiguous() for k, v in self.state_dict().items()}
        save_file(tensors, str(directory / "model.safetensors"), metadata={"format": "pt"})
        (directory / "config.json").write_text(json.dumps(self.config.to_hf(), indent=2) + "\n")

    @classmethod
    def load(cls, directory: str | Path) -> Qwen2ForTraining:
        directory = Path(directory)
        for name in ("config.json", "model.safetensors"):
            if not (directory / name).is_file():
                raise FileNotFoundError(f"no {name} in {directory}")
        config = Qwen2Config.from_hf(json.loads((directory / "config.json").read_text()))
        model = cls(config)
        state = load_file(str(directory / "model.safetensors"))
        state.pop("lm_head.weight", None)  # tied: the same tensor as the input embedding
        model.load_state_dict(state)
        return model.eval()
