"""Tiny random HF models (never downloaded) saved to a temp dir, and an engine factory."""

from __future__ import annotations

import pytest
import torch

COMMON = {"vocab_size": 101, "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2,
          "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 1024}


def hf_config(family: str, layers: int = 2):
    from transformers import LlamaConfig, Qwen2Config, Qwen3Config, Qwen3MoeConfig

    common = {**COMMON, "num_hidden_layers": layers}
    if family == "qwen2":
        return Qwen2Config(**common)
    if family == "qwen3":
        return Qwen3Config(head_dim=16, **common)
    if family == "llama":
        return LlamaConfig(rope_scaling={"rope_type": "llama3", "factor": 8.0,
                                         "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                         "original_max_position_embeddings": 64}, **common)
    if family == "qwen3_moe":
        return Qwen3MoeConfig(num_experts=4, num_experts_per_tok=2, moe_intermediate_size=32,
                              head_dim=16, norm_topk_prob=True, **common)
    raise ValueError(family)


def save_tiny(family: str, path, seed: int = 0, layers: int = 2):
    """Random weights with a larger init scale than HF's, so logits are not all near zero."""
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    cfg = hf_config(family, layers)
    cfg.initializer_range = 0.2
    model = AutoModelForCausalLM.from_config(cfg).float().eval()
    model.save_pretrained(path)
    return model


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """family -> (directory, the transformers model)."""
    out = {}
    for family in ("qwen2", "qwen3", "llama", "qwen3_moe"):
        d = tmp_path_factory.mktemp(family)
        out[family] = (d, save_tiny(family, d))
    return out


@pytest.fixture(scope="session")
def one_layer_models(tmp_path_factory):
    """family -> directory of a 1-layer model: its K/V depend only on token and position."""
    out = {}
    for family in ("qwen3", "llama"):
        d = tmp_path_factory.mktemp(family + "_1layer")
        save_tiny(family, d, layers=1)
        out[family] = d
    return out


def make_core(model_dir, **opts):
    from model_server.core import EngineOptions
    from model_server.engine import EngineCore
    from model_server.loader import load_model

    return EngineCore(load_model(str(model_dir)), EngineOptions(**opts))


def save_word_tokenizer(path, vocab_size: int = 101) -> dict[str, int]:
    """A whitespace word-level tokenizer.json: w0..wN words plus <|end|> as a special token."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    vocab = {f"w{i}": i for i in range(vocab_size - 2)}
    vocab["<unk>"] = vocab_size - 2
    vocab["<|end|>"] = vocab_size - 1
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=False)
    tok.add_special_tokens([AddedToken("<|end|>", special=True)])
    tok.save(str(path / "tokenizer.json"))
    return vocab


@pytest.fixture(scope="session")
def text_model(tmp_path_factory):
    """A tiny Qwen2 with a word-level tokenizer: (directory, vocab)."""
    d = tmp_path_factory.mktemp("qwen2_text")
    save_tiny("qwen2", d)
    return d, save_word_tokenizer(d)


def save_v2_tiny(path, seed: int = 0):
    """A tiny random Qwen2 shaped like a protocol-2 model: the embedded model's BPE tokenizer with
    `<|speak|>` and `<|relay|>` appended (ids 4096, 4097), `<|end|>` as eos, `"protocol": 2`."""
    import json
    import shutil

    from tokenizers import AddedToken, Tokenizer

    from companion.core.protocol import RELAY, SPEAK
    from model_server.loader import EMBEDDED_DIR

    tok = Tokenizer.from_file(str(EMBEDDED_DIR / "tokenizer.json"))
    tok.add_special_tokens([AddedToken(SPEAK, special=True), AddedToken(RELAY, special=True)])
    from transformers import AutoModelForCausalLM, Qwen2Config

    torch.manual_seed(seed)
    cfg = Qwen2Config(**{**COMMON, "vocab_size": tok.get_vocab_size()},
                      eos_token_id=tok.token_to_id("<|end|>"))
    cfg.initializer_range = 0.2
    AutoModelForCausalLM.from_config(cfg).float().eval().save_pretrained(path)
    tok.save(str(path / "tokenizer.json"))
    prompt = json.loads((EMBEDDED_DIR / "prompt.json").read_text())
    (path / "prompt.json").write_text(json.dumps({**prompt, "protocol": 2}))
    shutil.copy(EMBEDDED_DIR / "tokenizer_config.json", path / "tokenizer_config.json")
    return tok


@pytest.fixture(scope="session")
def v2_model(tmp_path_factory):
    """(directory, tokenizer) of the tiny random protocol-2 model."""
    d = tmp_path_factory.mktemp("v2_tiny")
    return d, save_v2_tiny(d)
