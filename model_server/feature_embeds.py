"""The `features` extension of /generate: dMel audio rows and screen tiles become input embeddings.

Models with a feature front-end (our interaction model: `frontend.json` + `frontend.safetensors`
beside the weights) accept, besides text, the rows for their `<|audio|>` and `<|patch|>`
placeholder tokens (docs/protocol.md, docs/server-api.md):

    "features": {"audio":   {"shape": [n, 320], "data": base64 uint8},
                 "patches": {"shape": [m, 40, 40, 3], "data": base64 uint8, "xy": [[x, y], ...]}}

The i-th placeholder of each kind takes row i. The rows go through the front-end and replace the
token embeddings at those positions, through the same path as `input_embeds_positions`.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Any

import numpy as np
import torch

from model_server.models.frontend import InteractionFrontend, embed_features

AUDIO_ROW = 4 * 80  # four stacked dMel frames of 80 bins
TILE = (40, 40, 3)
MAX_ROWS = 4096


class FeatureError(ValueError):
    """A features object that does not match the request or the model."""


def load_frontend(model_dir: Path, tokenizer, dtype: torch.dtype, device: torch.device):
    """(frontend, placeholder ids) for a model directory with a front-end, else None."""
    if not (model_dir / "frontend.json").is_file():
        return None
    if tokenizer is None:
        raise ValueError(f"{model_dir} has a feature front-end but no tokenizer.json")
    ids = {tok: tokenizer.token_to_id(tok) for tok in ("<|audio|>", "<|patch|>")}
    missing = [tok for tok, i in ids.items() if i is None]
    if missing:
        raise ValueError(f"{model_dir}: the tokenizer lacks the placeholder tokens {missing}")
    frontend = InteractionFrontend.load(model_dir).to(device=device, dtype=dtype).eval()
    return frontend, ids


def _array(obj: Any, what: str, row_shape: tuple[int, ...]) -> np.ndarray:
    if not isinstance(obj, dict) or not isinstance(obj.get("data"), str) \
            or not isinstance(obj.get("shape"), list):
        raise FeatureError(f"features.{what} must be {{'shape': [...], 'data': base64}}")
    shape = tuple(obj["shape"])
    if len(shape) != 1 + len(row_shape) or not all(_is_int(n) for n in shape) \
            or tuple(shape[1:]) != row_shape or not 0 <= shape[0] <= MAX_ROWS:
        raise FeatureError(f"features.{what}.shape must be [n, {', '.join(map(str, row_shape))}] "
                           f"with n <= {MAX_ROWS}, got {list(shape)}")
    try:
        raw = base64.b64decode(obj["data"], validate=True)
    except (binascii.Error, ValueError) as e:
        raise FeatureError(f"features.{what}.data is not base64: {e}") from None
    if len(raw) != int(np.prod(shape)):
        raise FeatureError(f"features.{what}.data has {len(raw)} bytes; shape {list(shape)} "
                           f"needs {int(np.prod(shape))}")
    return np.frombuffer(raw, np.uint8).reshape(shape)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


MAX_XY = 1 << 15  # tile coordinates of any real screen


def _xy(value: Any, n: int) -> np.ndarray:
    """features.patches.xy: exactly n [x, y] integer pairs in [0, MAX_XY)."""
    if not isinstance(value, list) or len(value) != n or not all(
            isinstance(p, list) and len(p) == 2 and all(_is_int(c) and 0 <= c < MAX_XY
                                                         for c in p) for p in value):
        raise FeatureError(f"features.patches.xy must be a list of {n} [x, y] integer pairs "
                           f"in [0, {MAX_XY}), one per tile")
    return np.asarray(value, dtype=np.int64).reshape(n, 2)


def feature_embeds(features: Any, ids: list[int], frontend_and_ids) -> tuple[tuple[int, ...], torch.Tensor]:
    """(positions, rows) replacing the placeholder embeddings of `ids`; raises FeatureError."""
    if frontend_and_ids is None:
        raise FeatureError("this model takes no features (only the interaction model has a "
                           "feature front-end); send text only")
    if not isinstance(features, dict) or set(features) - {"audio", "patches"}:
        raise FeatureError("features must be an object with 'audio' and/or 'patches'")
    frontend, placeholder = frontend_and_ids
    audio = _array(features["audio"], "audio", (AUDIO_ROW,)) if "audio" in features \
        else np.zeros((0, AUDIO_ROW), np.uint8)
    pixels, xy = np.zeros((0, *TILE), np.uint8), np.zeros((0, 2), np.int64)
    if "patches" in features:
        pixels = _array(features["patches"], "patches", TILE)
        xy = _xy(features["patches"].get("xy"), len(pixels))
    try:
        with torch.inference_mode():
            positions, rows = embed_features(frontend, torch.tensor(ids), audio,
                                             (pixels, xy), placeholder)
    except ValueError as e:  # placeholder counts that do not match the rows
        raise FeatureError(str(e)) from None
    return tuple(int(p) for p in positions), rows.float()
