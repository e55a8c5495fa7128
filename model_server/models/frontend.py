"""The interaction model's feature front-end: dMel audio tokens and 40x40 screen tiles to embedding rows.

Encoder-free early fusion (DESIGN §7): the decoder is a plain Qwen2-format transformer; the rows
made here replace the token embeddings at the `<|audio|>` and `<|patch|>` placeholder positions.
- audio: one row per 4 stacked dMel frames x 80 bins, each bin a quantized level. Each level is
  embedded by a small table shared by all bins, the 320 embeddings are concatenated and a two-layer
  MLP projects them to the hidden size.
- screen: a hierarchical MLP (hMLP, Touvron et al. 2022): 4x4-pixel blocks -> linear, merge 2x2
  neighbours -> linear, merge the remaining 5x5 -> linear to the hidden size; plus learned
  embeddings of the tile's column and row on the screen.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn


@dataclass(frozen=True, slots=True)
class FrontendConfig:
    hidden_size: int
    dmel_levels: int = 16
    dmel_frames: int = 4  # frames stacked into one audio token
    dmel_bins: int = 80
    level_dim: int = 8
    audio_inner: int = 256
    tile: int = 40
    block: int = 4  # first hMLP stage: block x block pixels
    stage1: int = 48
    stage2: int = 64
    max_tiles: int = 128  # tile columns / rows with their own position embedding (5120 px)

    def __post_init__(self) -> None:
        assert self.tile % (self.block * 2) == 0, "tile must split into 2x2 groups of blocks"
        assert self.hidden_size > 0 and self.dmel_levels > 1


class InteractionFrontend(nn.Module):
    """dMel rows and screen tiles -> rows of the decoder's hidden size."""

    def __init__(self, config: FrontendConfig):
        super().__init__()
        c = config
        self.config = c
        self.level_embed = nn.Embedding(c.dmel_levels, c.level_dim)
        self.audio_in = nn.Linear(c.dmel_frames * c.dmel_bins * c.level_dim, c.audio_inner)
        self.audio_out = nn.Linear(c.audio_inner, c.hidden_size)
        self.patch_stage1 = nn.Linear(c.block * c.block * 3, c.stage1)
        self.patch_stage2 = nn.Linear(4 * c.stage1, c.stage2)
        grid = c.tile // (2 * c.block)
        self.patch_out = nn.Linear(grid * grid * c.stage2, c.hidden_size)
        self.norm1 = nn.LayerNorm(c.stage1)
        self.norm2 = nn.LayerNorm(c.stage2)
        self.tile_x = nn.Embedding(c.max_tiles, c.hidden_size)
        self.tile_y = nn.Embedding(c.max_tiles, c.hidden_size)
        for table in (self.tile_x, self.tile_y):
            nn.init.normal_(table.weight, std=0.02)

    def embed_audio(self, rows: torch.Tensor) -> torch.Tensor:
        """(n, frames*bins) integer levels -> (n, hidden)."""
        c = self.config
        if rows.ndim != 2 or rows.shape[1] != c.dmel_frames * c.dmel_bins:
            raise ValueError(f"audio rows must be (n, {c.dmel_frames * c.dmel_bins}), got {tuple(rows.shape)}")
        levels = rows.long()
        if levels.numel() and (levels.min() < 0 or levels.max() >= c.dmel_levels):
            raise ValueError(f"dMel levels must be in 0..{c.dmel_levels - 1}, got "
                             f"{int(levels.min())}..{int(levels.max())}")
        x = self.level_embed(levels).flatten(1)
        return self.audio_out(nn.functional.gelu(self.audio_in(x)))

    def embed_patches(self, pixels: torch.Tensor, xy: torch.Tensor) -> torch.Tensor:
        """(n, 40, 40, 3) uint8 tiles at pixel positions (n, 2) -> (n, hidden)."""
        c = self.config
        if pixels.ndim != 4 or tuple(pixels.shape[1:]) != (c.tile, c.tile, 3):
            raise ValueError(f"patches must be (n, {c.tile}, {c.tile}, 3), got {tuple(pixels.shape)}")
        n, b, g = pixels.shape[0], c.block, c.tile // c.block
        x = pixels.float() / 127.5 - 1.0
        # (n, g, b, g, b, 3) -> (n, g, g, b*b*3): one vector per block
        x = x.reshape(n, g, b, g, b, 3).permute(0, 1, 3, 2, 4, 5).reshape(n, g, g, b * b * 3)
        x = nn.functional.gelu(self.norm1(self.patch_stage1(x)))
        h = g // 2  # merge each 2x2 group of neighbouring blocks
        x = x.reshape(n, h, 2, h, 2, c.stage1).permute(0, 1, 3, 2, 4, 5).reshape(n, h, h, 4 * c.stage1)
        x = nn.functional.gelu(self.norm2(self.patch_stage2(x)))
        out = self.patch_out(x.reshape(n, -1))
        cols = (xy[:, 0].long() // c.tile).clamp(0, c.max_tiles - 1)
        rows = (xy[:, 1].long() // c.tile).clamp(0, c.max_tiles - 1)
        return out + self.tile_x(cols) + self.tile_y(rows)

    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tensors = {k: v.detach().float().contiguous() for k, v in self.state_dict().items()}
        save_file(tensors, str(directory / "frontend.safetensors"))
        (directory / "frontend.json").write_text(json.dumps(asdict(self.config), indent=2) + "\n")

    @classmethod
    def load(cls, directory: str | Path) -> InteractionFrontend:
        directory = Path(directory)
        for name in ("frontend.json", "frontend.safetensors"):
            if not (directory / name).is_file():
                raise FileNotFoundError(f"no {name} in {directory}")
        config = FrontendConfig(**json.loads((directory / "frontend.json").read_text()))
        frontend = cls(config)
        frontend.load_state_dict(load_file(str(directory / "frontend.safetensors")))
        return frontend.eval()


def _patch_arrays(patches) -> tuple[torch.Tensor, torch.Tensor]:
    """Accept companion.core.events.Patch objects or a (pixels, xy) pair of arrays."""
    if isinstance(patches, tuple) and len(patches) == 2 and not hasattr(patches[0], "pixels"):
        pixels, xy = patches
        return torch.as_tensor(np.asarray(pixels)), torch.as_tensor(np.asarray(xy)).reshape(-1, 2)
    patches = list(patches)
    if not patches:
        return torch.zeros((0, 40, 40, 3), dtype=torch.uint8), torch.zeros((0, 2), dtype=torch.long)
    pixels = np.stack([np.asarray(p.pixels, dtype=np.uint8) for p in patches])
    xy = np.asarray([(p.x, p.y) for p in patches], dtype=np.int64)
    return torch.from_numpy(pixels), torch.from_numpy(xy)


def embed_features(frontend: InteractionFrontend, input_ids: torch.Tensor, audio_rows,
                   patches: Sequence | tuple, special_ids: Mapping[str, int]
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows for the placeholders in `input_ids`: (positions (n,), embeds (n, hidden)), in position order.

    The i-th `<|audio|>` takes audio row i, the i-th `<|patch|>` takes tile i. The caller writes
    `embeds` over the token embeddings at `positions` (flattened positions if `input_ids` is 2-D).
    """
    ids = torch.as_tensor(input_ids).reshape(-1)
    audio_pos = (ids == special_ids["<|audio|>"]).nonzero().flatten()
    patch_pos = (ids == special_ids["<|patch|>"]).nonzero().flatten()
    audio = torch.as_tensor(np.asarray(audio_rows)) if not torch.is_tensor(audio_rows) else audio_rows
    pixels, xy = _patch_arrays(patches)
    if len(audio_pos) != len(audio):
        raise ValueError(f"{len(audio_pos)} <|audio|> placeholders but {len(audio)} audio rows")
    if len(patch_pos) != len(pixels):
        raise ValueError(f"{len(patch_pos)} <|patch|> placeholders but {len(pixels)} patches")
    device = frontend.level_embed.weight.device
    parts, positions = [], []
    if len(audio_pos):
        parts.append(frontend.embed_audio(audio.to(device)))
        positions.append(audio_pos)
    if len(patch_pos):
        parts.append(frontend.embed_patches(pixels.to(device), xy.to(device)))
        positions.append(patch_pos)
    if not parts:
        return torch.zeros(0, dtype=torch.long), torch.zeros((0, frontend.config.hidden_size), device=device)
    pos = torch.cat(positions)
    order = torch.argsort(pos)
    return pos[order], torch.cat(parts)[order]
