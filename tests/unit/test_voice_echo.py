"""Echo canceller on synthetic echoes: convergence (ERLE), near-end speech kept, no reference = identity."""

import numpy as np
import pytest

from companion.voice.echo import EchoCanceller
from companion.voice.tts import EspeakVoice

T0 = 500.0


@pytest.fixture(scope="module")
def speech():
    voice = EspeakVoice()
    far = voice.synthesize("The test in parse header failed with an index error on line forty two. "
                           "I will run the whole suite again and tell you what changed.").samples
    near = EspeakVoice(voice="en-us+f3", pitch=70).synthesize("one two three four five").samples
    pad = lambda x: np.concatenate([x, np.zeros(-len(x) % 3200, np.float32)])
    return pad(far), pad(near)


def _echo(far: np.ndarray, delay_ms: float, gain: float = 0.5) -> np.ndarray:
    d = int(delay_ms * 16)
    mic = np.zeros(len(far))
    if d >= 0:
        mic[d:] = gain * far[:len(far) - d]
    else:
        mic[:d] = gain * far[-d:]
    return mic


def _run(canceller: EchoCanceller, mic: np.ndarray) -> np.ndarray:
    return np.concatenate([canceller.process(T0 + i / 16000, mic[i:i + 3200])
                           for i in range(0, len(mic), 3200)])


@pytest.mark.parametrize("delay_ms", [-15.0, 20.0, 80.0])
def test_erle_after_convergence(speech, delay_ms):
    far, _ = speech
    mic = _echo(far, delay_ms) + 1e-4 * np.random.default_rng(0).standard_normal(len(far))
    canceller = EchoCanceller(suppress=False)
    canceller.add_reference(T0, far)
    out = _run(canceller, mic)
    late = slice(len(far) // 2, None)
    erle = 10 * np.log10(np.sum(mic[late] ** 2) / np.sum(out[late] ** 2))
    assert erle > 15.0


def test_near_end_speech_survives_double_talk(speech):
    far, near = speech
    mic = _echo(far, 20.0)
    start = len(far) - len(near) - 3200  # the user talks over the end of the companion's speech
    mic[start:start + len(near)] += 0.5 * near
    canceller = EchoCanceller()
    canceller.add_reference(T0, far)
    out = _run(canceller, mic)
    span = slice(start, start + len(near))
    residual_near = out[span] - 0.5 * near  # what is left that is not the user's speech
    kept = np.sum(out[span] * near) / np.sum(near * near) / 0.5  # projection onto the user's voice
    assert kept > 0.5
    assert np.sum(residual_near ** 2) < np.sum(mic[span] ** 2)


def test_without_reference_the_mic_passes_unchanged():
    mic = np.random.default_rng(2).standard_normal(3200).astype(np.float32) * 0.1
    assert np.array_equal(EchoCanceller().process(T0, mic), mic)


def test_blocks_must_be_whole_sub_blocks():
    with pytest.raises(ValueError, match="multiple of 200"):
        EchoCanceller().process(T0, np.zeros(300, np.float32))


@pytest.mark.parametrize("delay_ms", [-60.0, 200.0])
def test_an_echo_outside_the_filter_is_found_by_the_delay_estimate(speech, delay_ms):
    far, _ = speech
    far = np.concatenate([far, far])  # long enough to detect, re-place and re-converge
    mic = _echo(far, delay_ms)
    canceller = EchoCanceller(suppress=False)
    canceller.add_reference(T0, far)
    out = _run(canceller, mic)
    assert canceller.realignments >= 1
    late = slice(2 * len(far) // 3, None)
    assert 10 * np.log10(np.sum(mic[late] ** 2) / np.sum(out[late] ** 2)) > 15.0
