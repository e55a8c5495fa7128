"""AudioIn without devices: WAV-file blocks, timing, mute, bad files, the sample clock, no device."""

import threading
import wave

import numpy as np
import pytest

from companion.audio.sample_clock import DacClock, SampleClock
from companion.core.events import AudioBlock, StreamState
from companion.streams.audio import AudioIn, level_dbfs, read_wav_16k
from companion.streams.dmel import dmel


def _write_wav(path, samples: np.ndarray, rate: int, channels: int = 1) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((samples * 32767).astype("<i2").tobytes())


def _run_file(path, **kwargs) -> list:
    events, done = [], threading.Event()

    def sink(e):
        events.append(e)
        if isinstance(e, StreamState) and e.status == "stopped":
            done.set()

    audio = AudioIn(sink, mic_file=path, realtime=False, clock=lambda: 100.0, **kwargs)
    audio.start()
    assert done.wait(10)
    audio.stop()
    return events


def test_file_blocks_are_200ms_apart_and_carry_the_offline_dmel(tmp_path):
    rng = np.random.default_rng(1)
    x = (0.2 * rng.standard_normal(16000)).astype(np.float32)
    _write_wav(tmp_path / "a.wav", x, 16000)
    blocks = [e for e in _run_file(tmp_path / "a.wav") if isinstance(e, AudioBlock)]
    assert len(blocks) == 5
    assert [b.t for b in blocks] == pytest.approx([100.0 + 0.2 * i for i in range(5)])
    expected = read_wav_16k(tmp_path / "a.wav")
    assert np.array_equal(np.concatenate([b.samples for b in blocks]), expected)
    assert np.array_equal(np.concatenate([b.dmel for b in blocks]), dmel(expected))
    assert blocks[0].level == pytest.approx(level_dbfs(expected[:3200]))


def test_a_44k_stereo_file_is_resampled_to_16k_mono(tmp_path):
    t = np.arange(44100) / 44100
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    _write_wav(tmp_path / "s.wav", np.stack([tone, tone], axis=1).ravel(), 44100, channels=2)
    x = read_wav_16k(tmp_path / "s.wav")
    assert len(x) == 16000
    spectrum = np.abs(np.fft.rfft(x))
    assert abs(np.argmax(spectrum) * 16000 / len(x) - 440) < 2


def test_realtime_file_paces_blocks(tmp_path):
    _write_wav(tmp_path / "r.wav", np.zeros(3200 * 3, np.float32), 16000)
    import time

    start = time.monotonic()
    events, done = [], threading.Event()
    audio = AudioIn(lambda e: (events.append(e), isinstance(e, StreamState) and e.status == "stopped"
                               and done.set()), mic_file=tmp_path / "r.wav")
    audio.start()
    assert done.wait(5)
    assert time.monotonic() - start >= 0.6 - 0.02  # three blocks cannot arrive before 600 ms
    assert sum(isinstance(e, AudioBlock) for e in events) == 3


def test_muted_sends_no_blocks_and_says_paused(tmp_path):
    _write_wav(tmp_path / "m.wav", np.zeros(3200 * 2, np.float32), 16000)
    events, done = [], threading.Event()
    audio = AudioIn(lambda e: (events.append(e), getattr(e, "reason", "") == "end of mic file"
                               and done.set()), mic_file=tmp_path / "m.wav", realtime=False)
    audio.mute()
    audio.start()
    assert done.wait(5)
    assert not any(isinstance(e, AudioBlock) for e in events)
    assert any(isinstance(e, StreamState) and e.status == "paused" and e.reason == "muted"
               for e in events)


@pytest.mark.parametrize("content, message", [(None, "does not exist"), (b"not a wav", "not a PCM WAV")])
def test_bad_mic_files_are_named(tmp_path, content, message):
    path = tmp_path / "bad.wav"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        AudioIn(lambda e: None, mic_file=path)


def test_a_missing_device_is_an_unavailable_state_not_a_crash():
    events = []
    AudioIn(events.append, device="no-such-device-xyz").start()
    assert len(events) == 1 and events[0].status == "unavailable"
    assert "no-such-device-xyz" in events[0].reason


def test_sample_clock_takes_the_earliest_callback_bound():
    clock = SampleClock(16000)
    # Stream started at 10.0; callbacks for 320-sample chunks arrive with 0..15 ms of jitter.
    jitter = [0.015, 0.0, 0.007, 0.012, 0.003]
    for i, j in enumerate(jitter):
        clock.callback(10.0 + (i + 1) * 0.02 + j, 320)
    assert clock.time_of(0) == pytest.approx(10.0)
    assert clock.time_of(3200) == pytest.approx(10.2)


def test_dac_clock_measures_the_latency_anew_after_an_underflow():
    # A full 150 ms buffer for two seconds, then the device underflows: the callbacks now keep up
    # with an empty buffer (10 ms to the DAC), and a word handed over is heard ~10 ms later.
    clock = DacClock(16000, 160, fallback_latency=0.15)
    t, n = 100.0, 0
    for _ in range(200):
        clock.tick(t, 160, 0.15, False)
        t, n = t + 0.01, n + 160
    assert clock.time_of(n) == pytest.approx(t + 0.15, abs=0.005)
    t += 0.3  # starved: the device played 300 ms of silence we did not send
    for i in range(5):
        clock.tick(t, 160, 0.01, i == 0)
        t, n = t + 0.01, n + 160
    # the last callback ran at t - 0.01 for samples n - 160 on, which reach the DAC 10 ms later
    assert clock.time_of(n - 160) == pytest.approx(t, abs=0.005)


def test_level_of_silence_is_minus_infinity_and_of_full_scale_square_is_zero():
    assert level_dbfs(np.zeros(10, np.float32)) == float("-inf")
    assert level_dbfs(np.ones(10, np.float32)) == pytest.approx(0.0)
