"""Synthetic feature inputs for training without a TTS voice or a screen: dMel blocks and screen tiles.

Honest scope: these rows teach the model only that *energy in the speech bands means the user is
talking* and that screen tiles come and go; real speech understanding from dMel needs recorded or
synthesized speech, which this CPU-trained model does not see. The words themselves reach the
model as ASR text (`UserWords`), as they do for the serving runtime.
"""

from __future__ import annotations

import numpy as np

from companion.core.events import AudioBlock, Patch

DMEL_FRAMES = 16  # frames per 200 ms block (12.5 ms hop)
DMEL_BINS = 80
DMEL_LEVELS = 16  # each bin quantized to 0..15
SCREEN_SIZE = (1920, 1080)
TILE = 40


def quiet_dmel(rng: np.random.Generator) -> np.ndarray:
    """Room noise: the lowest levels, a little louder in the low bins."""
    floor = np.linspace(2.0, 0.3, DMEL_BINS)[None, :] + rng.normal(0, 0.6, (DMEL_FRAMES, DMEL_BINS))
    return np.clip(np.round(floor), 0, DMEL_LEVELS - 1).astype(np.uint8)


def speech_dmel(rng: np.random.Generator) -> np.ndarray:
    """Speech-like energy: a voiced harmonic floor, two or three moving formant bands, syllable rhythm."""
    frames = np.arange(DMEL_FRAMES)[:, None]
    bins = np.arange(DMEL_BINS)[None, :]
    rate = rng.uniform(0.25, 0.6)  # syllables per frame pair
    envelope = 0.55 + 0.45 * np.sin(2 * np.pi * rate * frames / 2 + rng.uniform(0, 2 * np.pi))
    energy = 5.0 * np.exp(-bins / 30.0)
    for _ in range(rng.integers(2, 4)):
        centre = rng.uniform(6, 50) + rng.normal(0, 2, (DMEL_FRAMES, 1)).cumsum(axis=0) * 0.5
        width = rng.uniform(2.0, 5.0)
        energy = energy + rng.uniform(6, 10) * np.exp(-((bins - centre) ** 2) / (2 * width ** 2))
    levels = energy * envelope * rng.uniform(0.8, 1.25) + rng.normal(0, 0.8, (DMEL_FRAMES, DMEL_BINS))
    return np.clip(np.round(levels + 1.5), 0, DMEL_LEVELS - 1).astype(np.uint8)


def audio_block(t: float, speaking: bool, rng: np.random.Generator) -> AudioBlock:
    """An AudioBlock carrying only dMel features (no samples: the serializer reads `dmel` alone)."""
    dmel = speech_dmel(rng) if speaking else quiet_dmel(rng)
    level = float(-25.0 + rng.normal(0, 3)) if speaking else float(-62.0 + rng.normal(0, 3))
    return AudioBlock(t=t, samples=np.zeros(0, dtype=np.float32), level=level, dmel=dmel)


def screen_tile(rng: np.random.Generator) -> Patch:
    """A 40x40 tile of an editor: a dark background with a few rows of light glyph strokes."""
    bg = rng.integers(15, 45)
    pixels = np.full((TILE, TILE, 3), bg, dtype=np.uint8)
    for row in range(rng.integers(0, 4)):
        top = 4 + row * 10
        colour = rng.integers(120, 256, 3)
        start = int(rng.integers(0, 20))
        length = int(rng.integers(5, TILE - start))
        stroke = rng.random((5, length)) < 0.55
        pixels[top:top + 5, start:start + length][stroke] = colour
    x = int(rng.integers(0, SCREEN_SIZE[0] // TILE)) * TILE
    y = int(rng.integers(0, SCREEN_SIZE[1] // TILE)) * TILE
    return Patch(x=x, y=y, pixels=pixels)
