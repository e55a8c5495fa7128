"""AudioIn: the microphone (or a WAV file) as 200 ms AudioBlock events with level and dMel features.

Timing: PortAudio's `inputBufferAdcTime` is unreliable through the ALSA->PulseAudio plugin
(measured 0.3 s off and drifting right after start), so a block's time comes from the sample count,
anchored to time.monotonic() by `SampleClock`: a callback can only run after its last sample was
captured, so `callback_time - samples_so_far / rate` is an upper bound on the stream's start time,
and the minimum over recent callbacks is the tightest one (callback jitter only ever adds delay).
Measured on the headless null sink: within 15 ms of the played signal.

Muting sends no AudioBlocks at all (not zeros): downstream sees a StreamState "paused" and a gap,
which is the truth; the dMel overlap is reset so no stale audio leaks across the gap.
"""

from __future__ import annotations

import queue
import threading
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from companion.audio.resample import resample
from companion.audio.sample_clock import SampleClock
from companion.core.events import AudioBlock, Event, StreamState
from companion.streams.dmel import BLOCK, SAMPLE_RATE, DMelStream

CALLBACK_FRAMES = 320  # 20 ms callbacks: tighter time anchor; 3200-frame callbacks stalled on pulse
STALL_SECONDS = 1.0


class EchoFilter(Protocol):
    """Removes the companion's own voice from mic samples (see companion.voice.echo)."""

    def process(self, t: float, samples: np.ndarray) -> np.ndarray: ...


def level_dbfs(samples: np.ndarray) -> float:
    """RMS level in dBFS; -inf for digital silence."""
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return 20.0 * np.log10(rms) if rms > 0 else float("-inf")


class AudioIn:
    """Emits AudioBlock every 200 ms from the default (or given) input device or from `mic_file`."""

    consumes = ()  # a source; its echo filter gets samples, not events
    emits = (AudioBlock, StreamState)

    def __init__(self, sink: Callable[[Event], None], *, device: int | str | None = None,
                 mic_file: str | Path | None = None, realtime: bool = True,
                 echo: EchoFilter | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._sink, self._device, self._realtime, self._echo, self._clock = (
            sink, device, realtime, echo, clock)
        self._file_samples = read_wav_16k(mic_file) if mic_file is not None else None
        self._dmel = DMelStream()
        self._muted = threading.Event()
        self._stopping = threading.Event()
        self._chunks: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._stream = None

    @property
    def muted(self) -> bool:
        return self._muted.is_set()

    def start(self) -> None:
        """Open the device (or the file) and start emitting; a device error becomes a StreamState."""
        if self._thread is not None:
            raise RuntimeError("AudioIn already started")
        self._stopping.clear()
        if self._file_samples is not None:
            target = self._run_file
        elif self._open_device():
            target = self._run_device
        else:
            return
        self._thread = threading.Thread(target=target, name="audio-in", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._stream is not None:
            self._stream.close(ignore_errors=True)
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        self._thread = self._stream = None
        self._state("stopped", "stopped")

    def mute(self) -> None:
        self._muted.set()
        self._state("paused", "muted")

    def unmute(self) -> None:
        self._dmel.reset()
        self._muted.clear()
        self._state("live", "")

    def _state(self, status, reason: str) -> None:
        self._sink(StreamState(self._clock(), "audio", status, reason))

    def _open_device(self) -> bool:
        try:
            import sounddevice as sd
        except OSError as exc:  # the PortAudio library itself is missing
            self._state("unavailable", f"PortAudio is not available: {exc}")
            return False
        try:
            self._stream = sd.InputStream(
                samplerate=SAMPLE_RATE, channels=1, dtype="float32", blocksize=CALLBACK_FRAMES,
                device=self._device, callback=self._on_audio, finished_callback=self._on_finished)
            self._stream.start()
        except (sd.PortAudioError, OSError, ValueError, RuntimeError) as exc:
            self._stream = None
            self._state("unavailable", f"no usable input device ({self._device or 'default'}): {exc}")
            return False
        self._state("live", f"microphone {self._device or 'default'} at 16 kHz")
        return True

    def _on_audio(self, indata, frames, time_info, status) -> None:
        # Audio thread: copy and hand over, nothing else.
        self._chunks.put((self._clock(), indata[:, 0].copy(), bool(status.input_overflow)))

    def _on_finished(self) -> None:
        if not self._stopping.is_set():
            self._chunks.put(None)  # the stream ended on its own: the device went away

    def _run_device(self) -> None:
        clock = SampleClock(SAMPLE_RATE)
        pending: list[np.ndarray] = []
        have = emitted = 0
        stalled = False
        while not self._stopping.is_set():
            try:
                item = self._chunks.get(timeout=STALL_SECONDS)
            except queue.Empty:
                if not stalled:
                    self._state("degraded", f"no audio from the input device for {STALL_SECONDS:.0f} s")
                    stalled = True
                continue
            if item is None:
                if not self._stopping.is_set():
                    self._state("unavailable", "the input stream stopped (device unplugged or busy)")
                return
            now, samples, overflow = item
            if stalled:
                self._state("live", "audio resumed")
                stalled = False
            if overflow:  # samples were dropped: the old anchor no longer holds
                clock.restart()
            clock.callback(now, len(samples))
            pending.append(samples)
            have += len(samples)
            while have - emitted * BLOCK >= BLOCK:
                joined = np.concatenate(pending)
                self._emit(clock.time_of(emitted * BLOCK), joined[:BLOCK])
                pending = [joined[BLOCK:]]
                emitted += 1

    def _run_file(self) -> None:
        samples = self._file_samples
        start = self._clock()
        self._state("live", f"mic file, {len(samples) / SAMPLE_RATE:.1f} s")
        for i in range(len(samples) // BLOCK):
            t = start + i * BLOCK / SAMPLE_RATE
            if self._realtime:  # a block exists once its last sample has "arrived"
                delay = t + BLOCK / SAMPLE_RATE - self._clock()
                if self._stopping.wait(max(0.0, delay)):
                    return
            elif self._stopping.is_set():
                return
            self._emit(t, samples[i * BLOCK:(i + 1) * BLOCK])
        self._state("stopped", "end of mic file")

    def _emit(self, t: float, samples: np.ndarray) -> None:
        if self._muted.is_set():
            return
        if self._echo is not None:
            samples = self._echo.process(t, samples)
        samples = np.ascontiguousarray(samples, dtype=np.float32)
        self._sink(AudioBlock(t, samples, level_dbfs(samples), self._dmel.push(samples)))


def read_wav_16k(path: str | Path) -> np.ndarray:
    """A PCM WAV file as 16 kHz mono float32, zero-padded to whole 200 ms blocks."""
    path = Path(path)
    try:
        with wave.open(str(path), "rb") as w:
            width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
            raw = w.readframes(w.getnframes())
    except FileNotFoundError:
        raise ValueError(f"mic file {path} does not exist") from None
    except (wave.Error, EOFError) as exc:
        raise ValueError(f"mic file {path} is not a PCM WAV file: {exc or 'truncated header'}") from None
    if width == 1:
        x = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        x = np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    elif width == 4:
        x = np.frombuffer(raw, "<i4").astype(np.float32) / 2147483648.0
    else:
        raise ValueError(f"mic file {path}: {8 * width}-bit samples are not supported (use 8/16/32)")
    x = resample(x.reshape(-1, channels).mean(axis=1), rate, SAMPLE_RATE)
    return np.concatenate([x, np.zeros(-len(x) % BLOCK, np.float32)])
