"""The training-time Qwen2 forward against transformers, and the feature front-end's placement."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from companion.core.events import Patch
from companion.core.protocol import SPECIAL_TOKENS
from model_server.models.frontend import FrontendConfig, InteractionFrontend, embed_features
from model_server.training.qwen2_train import Qwen2Config, Qwen2ForTraining

transformers = pytest.importorskip("transformers")

SPECIAL = {tok: i for i, tok in enumerate(SPECIAL_TOKENS)}
TINY = Qwen2Config(vocab_size=97, hidden_size=48, intermediate_size=80, num_hidden_layers=3,
                   num_attention_heads=6, num_key_value_heads=2, max_position_embeddings=128)


def _trained_like(model: torch.nn.Module) -> None:
    """Random non-trivial weights everywhere (norm weights and biases too), so no term hides."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.2 + (1.0 if p.ndim == 1 and p.shape[0] == 48 else 0.0))


def _hf_twin(model: Qwen2ForTraining, tmp_path) -> torch.nn.Module:
    model.save(tmp_path)
    hf = transformers.Qwen2ForCausalLM.from_pretrained(tmp_path, torch_dtype=torch.float32,
                                                       attn_implementation="eager")
    return hf.eval()


def test_config_json_is_hf_qwen2(tmp_path):
    model = Qwen2ForTraining(TINY)
    model.save(tmp_path)
    data = json.loads((tmp_path / "config.json").read_text())
    assert data["architectures"] == ["Qwen2ForCausalLM"] and data["model_type"] == "qwen2"
    assert data["tie_word_embeddings"] is True
    cfg = transformers.AutoConfig.from_pretrained(tmp_path)
    assert (cfg.hidden_size, cfg.num_key_value_heads, cfg.num_hidden_layers) == (48, 2, 3)


def test_forward_matches_transformers(tmp_path):
    model = Qwen2ForTraining(TINY).eval()
    _trained_like(model)
    hf = _hf_twin(model, tmp_path)
    ids = torch.randint(0, TINY.vocab_size, (2, 37), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours = model(ids)
        theirs = hf(input_ids=ids).logits
    assert ours.shape == theirs.shape
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


def test_inputs_embeds_path_matches_transformers(tmp_path):
    """Placeholder rows from the front-end, written over token embeddings, give the same logits."""
    model = Qwen2ForTraining(TINY).eval()
    _trained_like(model)
    hf = _hf_twin(model, tmp_path)
    frontend = InteractionFrontend(FrontendConfig(hidden_size=48)).eval()
    ids = torch.tensor([1, 40, 41, 2, 3, 3, 3, 3, 4, 5, 5, 11, 12, 15])
    rng = np.random.default_rng(0)
    audio = rng.integers(0, 16, (4, 320), dtype=np.uint8)
    patches = [Patch(x=80, y=40, pixels=rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)) for _ in range(2)]
    with torch.no_grad():
        pos, rows = embed_features(frontend, ids, audio, patches, SPECIAL)
        embeds = model.model.embed_tokens(ids).clone()
        embeds[pos] = rows
        ours = model(inputs_embeds=embeds[None])
        theirs = hf(inputs_embeds=embeds[None]).logits
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)
    assert pos.tolist() == [4, 5, 6, 7, 9, 10]


def test_embed_features_places_rows_in_order():
    frontend = InteractionFrontend(FrontendConfig(hidden_size=32)).eval()
    rng = np.random.default_rng(1)
    audio = rng.integers(0, 16, (3, 320), dtype=np.uint8)
    tiles = [Patch(x=40 * i, y=0, pixels=rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)) for i in range(2)]
    ids = torch.tensor([1, 5, 3, 3, 9, 5, 3])
    with torch.no_grad():
        pos, rows = embed_features(frontend, ids, audio, tiles, SPECIAL)
        audio_rows = frontend.embed_audio(torch.from_numpy(audio))
        tile_rows = frontend.embed_patches(torch.from_numpy(np.stack([t.pixels for t in tiles])),
                                           torch.tensor([[0, 0], [40, 0]]))
    assert pos.tolist() == [1, 2, 3, 5, 6]
    expected = torch.stack([tile_rows[0], audio_rows[0], audio_rows[1], tile_rows[1], audio_rows[2]])
    torch.testing.assert_close(rows, expected)


def test_embed_features_rejects_mismatched_counts():
    frontend = InteractionFrontend(FrontendConfig(hidden_size=32))
    ids = torch.tensor([3, 3, 3])
    with pytest.raises(ValueError, match="3 <\\|audio\\|> placeholders but 2 audio rows"):
        embed_features(frontend, ids, np.zeros((2, 320), np.uint8), [], SPECIAL)


def test_frontend_rejects_out_of_range_levels_and_bad_tiles():
    frontend = InteractionFrontend(FrontendConfig(hidden_size=32))
    with pytest.raises(ValueError, match="dMel levels must be in 0..15, got 0..16"):
        frontend.embed_audio(torch.full((1, 320), 16, dtype=torch.uint8).index_fill_(1, torch.tensor([0]), 0))
    with pytest.raises(ValueError, match="patches must be"):
        frontend.embed_patches(torch.zeros((1, 32, 32, 3), dtype=torch.uint8), torch.zeros((1, 2)))


def test_frontend_save_load_round_trip(tmp_path):
    frontend = InteractionFrontend(FrontendConfig(hidden_size=32)).eval()
    frontend.save(tmp_path)
    again = InteractionFrontend.load(tmp_path)
    rows = torch.randint(0, 16, (2, 320))
    with torch.no_grad():
        torch.testing.assert_close(frontend.embed_audio(rows), again.embed_audio(rows), atol=0, rtol=0)


def test_cached_extend_equals_full_forward():
    """Appending chunks to the KV cache gives the full forward's logits (the eval/latency path)."""
    model = Qwen2ForTraining(TINY).eval()
    _trained_like(model)
    ids = torch.randint(0, TINY.vocab_size, (1, 41), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        full = model(ids)
        cache, parts = None, []
        for lo, hi in ((0, 17), (17, 30), (30, 31), (31, 41)):
            logits, cache = model.extend(model.model.embed_tokens(ids[:, lo:hi]), cache)
            parts.append(logits)
    torch.testing.assert_close(torch.cat(parts, dim=1), full, atol=1e-5, rtol=1e-5)
