"""VoiceActivityGate: Silero VAD (v6 ONNX, shipped inside the faster-whisper wheel) deciding when the recognizer runs.

It only gates the recognizer: no decode runs on silence, keyboard or fan noise, which is where
Whisper invents words. It never decides turn-taking (that is the interaction model's job).
The model runs on 32 ms frames (512 samples plus the previous frame's last 64 as context) and
carries its recurrent state from frame to frame, so streaming equals one pass over the audio.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

FRAME = 512  # samples at 16 kHz: 32 ms
CONTEXT = 64


def model_path() -> Path:
    """The Silero VAD ONNX file inside the installed faster-whisper package."""
    import faster_whisper

    return Path(faster_whisper.__file__).parent / "assets" / "silero_vad_v6.onnx"


@dataclass(frozen=True, slots=True)
class GateChange:
    """Speech began (`speech`) or ended (not `speech`) at sample `at` of the stream."""

    speech: bool
    at: int


class VoiceActivityGate:
    """Streaming speech/non-speech with hysteresis: on at `on`, off after `hangover` s below `off`."""

    def __init__(self, *, on: float = 0.5, off: float = 0.35, hangover: float = 0.12,
                 min_speech: float = 0.1) -> None:
        import onnxruntime

        path = model_path()
        if not path.is_file():
            raise FileNotFoundError(f"Silero VAD model missing: {path} (reinstall faster-whisper)")
        opts = onnxruntime.SessionOptions()
        opts.inter_op_num_threads = opts.intra_op_num_threads = 1
        opts.log_severity_level = 4
        self._session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"],
                                                     sess_options=opts)
        self.on, self.off = on, off
        self._hangover = round(hangover * 16000 / FRAME)
        self._min_speech = round(min_speech * 16000 / FRAME)
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), np.float32)
        self._c = np.zeros((1, 1, 128), np.float32)
        self._context = np.zeros(CONTEXT, np.float32)
        self._pending = np.zeros(0, np.float32)
        self._frames = 0  # frames processed so far
        self.speaking = False
        self._quiet = 0  # consecutive frames below `off` while speaking
        self._loud = 0  # consecutive frames above `on` while not speaking
        self.last_probability = 0.0

    @property
    def quiet_samples(self) -> int:
        """While speaking: how long the end has been below `off` (speech may be ending), in samples."""
        return self._quiet * FRAME if self.speaking else 0

    @property
    def position(self) -> int:
        """Samples consumed by the model so far (whole frames)."""
        return self._frames * FRAME

    def probability(self, frame: np.ndarray) -> float:
        """Speech probability of one 512-sample frame (advances the recurrent state)."""
        x = np.concatenate([self._context, frame]).astype(np.float32)[None, :]
        out, self._h, self._c = self._session.run(None, {"input": x, "h": self._h, "c": self._c})
        self._context = frame[-CONTEXT:].astype(np.float32)
        return float(out.reshape(-1)[0])

    def push(self, samples: np.ndarray) -> list[GateChange]:
        """Feed any number of samples; returns the speech starts and ends found in them."""
        data = np.concatenate([self._pending, samples.astype(np.float32, copy=False)])
        whole = len(data) - len(data) % FRAME
        self._pending = data[whole:]
        changes = []
        for i in range(0, whole, FRAME):
            p = self.last_probability = self.probability(data[i:i + FRAME])
            self._frames += 1
            if not self.speaking:
                self._loud = self._loud + 1 if p >= self.on else 0
                if self._loud >= self._min_speech:
                    self.speaking, self._quiet = True, 0
                    changes.append(GateChange(True, (self._frames - self._loud) * FRAME))
            else:
                self._quiet = self._quiet + 1 if p < self.off else 0
                if self._quiet >= self._hangover:
                    self.speaking, self._loud = False, 0
                    changes.append(GateChange(False, (self._frames - self._quiet) * FRAME))
        return changes
