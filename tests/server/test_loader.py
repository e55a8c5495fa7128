"""The loader finds models in a directory or the HF hub cache layout and says what is wrong."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from model_server.loader import ModelNotFound, load_model


def test_loads_from_hub_cache_layout(tiny_models, tmp_path, monkeypatch):
    src, _ = tiny_models["qwen2"]
    repo = tmp_path / "models--someorg--tiny-qwen2"
    snap = repo / "snapshots" / "abc123"
    shutil.copytree(src, snap)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    model = load_model("someorg/tiny-qwen2")
    assert model.path == snap and model.config.family == "qwen2"


def test_bf16_dtype_is_applied(tiny_models):
    model = load_model(str(tiny_models["qwen3"][0]), dtype="bfloat16")
    assert model.weights.embed.dtype == torch.bfloat16


@pytest.mark.parametrize("edit, words", [
    (lambda c: c.update(architectures=["GPT2LMHeadModel"]), "unsupported architecture"),
    (lambda c: c.update(num_key_value_heads=3), "not a multiple of num_key_value_heads"),
    (lambda c: c.update(rope_parameters={"rope_type": "yarn", "factor": 2.0}), "yarn"),
])
def test_bad_config_is_named(tiny_models, tmp_path, edit, words):
    d = tmp_path / "m"
    shutil.copytree(tiny_models["qwen2"][0], d)
    cfg = json.loads((d / "config.json").read_text())
    edit(cfg)
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match=words):
        load_model(str(d))


def test_missing_tensor_and_missing_weights_are_named(tiny_models, tmp_path):
    from safetensors.torch import load_file, save_file

    d = tmp_path / "m"
    shutil.copytree(tiny_models["llama"][0], d)
    tensors = load_file(str(d / "model.safetensors"))
    del tensors["model.layers.1.mlp.up_proj.weight"]
    save_file(tensors, str(d / "model.safetensors"))
    with pytest.raises(ValueError, match="missing tensor 'model.layers.1.mlp.up_proj.weight'"):
        load_model(str(d))
    (d / "model.safetensors").unlink()
    with pytest.raises(ModelNotFound, match="no \\*.safetensors"):
        load_model(str(d))
    with pytest.raises(ModelNotFound, match="no config.json"):
        load_model(str(tmp_path))
