"""dMel features: exact framing, streaming == offline bitwise, and a tone in the right mel bin."""

import numpy as np
import pytest

from companion.streams.dmel import (
    BLOCK,
    DB_MAX,
    DB_MIN,
    LEVELS,
    N_MELS,
    DMelStream,
    dequantize,
    dmel,
    mel_filterbank,
)


def _signal(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    chirp = 0.3 * np.sin(2 * np.pi * (200 + 1500 * t) * t)
    return (chirp + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def test_block_by_block_equals_whole_signal_bitwise():
    x = _signal(3.2)
    stream = DMelStream()
    blocks = np.concatenate([stream.push(b) for b in x.reshape(-1, BLOCK)])
    whole = dmel(x)
    assert whole.shape == (16 * len(x) // BLOCK, N_MELS) and whole.dtype == np.uint8
    assert np.array_equal(blocks, whole)


def test_one_block_gives_16_frames_of_80_codes_within_levels():
    codes = DMelStream().push(_signal(0.2))
    assert codes.shape == (16, 80) and codes.dtype == np.uint8
    assert codes.max() < LEVELS and len(np.unique(codes)) > 3


def test_reset_makes_the_next_block_independent_of_the_past():
    x = _signal(0.4)
    stream = DMelStream()
    stream.push(x[:BLOCK])
    stream.reset()
    assert np.array_equal(stream.push(x[BLOCK:]), DMelStream().push(x[BLOCK:]))


def test_a_pure_tone_peaks_in_the_mel_bin_whose_centre_is_nearest():
    f = 1000.0
    x = (0.5 * np.sin(2 * np.pi * f * np.arange(BLOCK) / 16000)).astype(np.float32)
    codes = DMelStream().push(x)
    fb = mel_filterbank()
    expected = int(np.argmax(fb[round(f * 512 / 16000)]))
    assert abs(int(np.argmax(codes[8])) - expected) <= 1


def test_silence_is_the_lowest_level_and_dequantize_stays_in_range():
    codes = dmel(np.zeros(BLOCK, np.float32))
    assert (codes == 0).all()
    values = dequantize(np.arange(LEVELS, dtype=np.uint8))
    assert values.min() > DB_MIN and values.max() < DB_MAX


@pytest.mark.parametrize("bad, message", [
    (np.zeros((BLOCK, 2), np.float32), "mono"),
    (np.zeros(BLOCK, np.int16), "float"),
    (np.zeros(1000, np.float32), "3200"),
])
def test_bad_blocks_are_rejected_with_the_reason(bad, message):
    with pytest.raises(ValueError, match=message):
        DMelStream().push(bad)


def test_offline_needs_whole_hops():
    with pytest.raises(ValueError, match="multiple of the 200-sample hop"):
        dmel(np.zeros(250, np.float32))
