"""ModelConfig: one frozen description of a decoder LM, read from a Hugging Face config.json.

The supported families differ only in a few switches, so they share one config and one
decoder (models/decoder.py):
- Qwen2 / Qwen2.5: bias on the q/k/v projections.
- Qwen3: RMSNorm on each query and key head before RoPE (q_norm / k_norm).
- Llama (2, 3, 3.1+): optional "llama3" RoPE frequency scaling.
- Qwen3-MoE: Qwen3 attention with sparse mixture-of-experts MLP blocks (models/qwen3_moe.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

ARCHITECTURES = {
    "Qwen2ForCausalLM": "qwen2",
    "Qwen3ForCausalLM": "qwen3",
    "LlamaForCausalLM": "llama",
    "Qwen3MoeForCausalLM": "qwen3_moe",
}


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """Shapes and switches of one decoder LM; validated on construction."""

    family: str
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    rms_eps: float = 1e-6
    rope_theta: float = 10000.0
    rope_scaling: dict = field(default_factory=dict)  # {} or the llama3 parameters
    max_position: int = 32768
    tie_word_embeddings: bool = False
    qkv_bias: bool = False
    qk_norm: bool = False
    num_experts: int = 0
    num_experts_per_tok: int = 0
    moe_intermediate_size: int = 0
    norm_topk_prob: bool = True
    moe_layers: tuple[int, ...] = ()
    eos_token_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        for name in ("vocab_size", "hidden_size", "num_layers", "num_heads", "num_kv_heads",
                     "head_dim"):
            if getattr(self, name) <= 0:
                raise ValueError(f"model config: {name} must be > 0, got {getattr(self, name)}")
        if self.num_heads % self.num_kv_heads:
            raise ValueError(f"model config: num_attention_heads {self.num_heads} is not a "
                             f"multiple of num_key_value_heads {self.num_kv_heads}")
        if self.head_dim % 2:
            raise ValueError(f"model config: head_dim must be even for RoPE, got {self.head_dim}")
        if self.moe_layers and not (0 < self.num_experts_per_tok <= self.num_experts):
            raise ValueError("model config: MoE needs 0 < num_experts_per_tok <= num_experts")
        if self.rope_scaling and self.rope_scaling.get("rope_type") != "llama3":
            raise ValueError(f"model config: rope scaling {self.rope_scaling.get('rope_type')!r} "
                             "is not supported (only 'default' and 'llama3')")

    @classmethod
    def from_hf(cls, hf: dict) -> ModelConfig:
        """Build from a parsed config.json (transformers 4.x or 5.x spelling)."""
        archs = hf.get("architectures") or []
        family = next((ARCHITECTURES[a] for a in archs if a in ARCHITECTURES), None)
        if family is None:
            raise ValueError(f"unsupported architecture {archs}; supported: "
                             f"{sorted(ARCHITECTURES)}")
        rope = dict(hf.get("rope_parameters") or hf.get("rope_scaling") or {})
        theta = float(rope.get("rope_theta", hf.get("rope_theta", 10000.0)))
        rope_type = rope.get("rope_type", rope.get("type", "default"))
        scaling = {k: v for k, v in rope.items() if k != "rope_theta"} if rope_type != "default" \
            else {}
        if scaling:
            scaling["rope_type"] = rope_type
        heads = hf["num_attention_heads"]
        head_dim = hf.get("head_dim") or hf["hidden_size"] // heads
        num_experts = hf.get("num_experts", hf.get("num_local_experts", 0)) or 0
        moe_layers: tuple[int, ...] = ()
        if family == "qwen3_moe" and num_experts:
            step = hf.get("decoder_sparse_step", 1) or 1
            skip = set(hf.get("mlp_only_layers") or [])
            moe_layers = tuple(i for i in range(hf["num_hidden_layers"])
                               if i not in skip and (i + 1) % step == 0)
        eos = hf.get("eos_token_id")
        eos_ids = tuple(eos) if isinstance(eos, list) else (() if eos is None else (eos,))
        return cls(
            family=family,
            vocab_size=hf["vocab_size"],
            hidden_size=hf["hidden_size"],
            intermediate_size=hf.get("intermediate_size", 0),
            num_layers=hf["num_hidden_layers"],
            num_heads=heads,
            num_kv_heads=hf.get("num_key_value_heads") or heads,
            head_dim=head_dim,
            rms_eps=float(hf.get("rms_norm_eps", 1e-6)),
            rope_theta=theta,
            rope_scaling=scaling,
            max_position=hf.get("max_position_embeddings", 32768),
            tie_word_embeddings=bool(hf.get("tie_word_embeddings", False)),
            qkv_bias=family == "qwen2" or bool(hf.get("attention_bias", False)),
            qk_norm=family in ("qwen3", "qwen3_moe"),
            num_experts=num_experts,
            num_experts_per_tok=hf.get("num_experts_per_tok", 0) or 0,
            moe_intermediate_size=hf.get("moe_intermediate_size", 0) or 0,
            norm_topk_prob=bool(hf.get("norm_topk_prob", True)),
            moe_layers=moe_layers,
            eos_token_ids=eos_ids,
        )
