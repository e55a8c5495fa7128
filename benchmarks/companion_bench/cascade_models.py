"""The cascaded baselines' models: Silero VAD and Smart-Turn v3.2, both ONNX files shipped in the
`pipecat-ai` wheel (BSD-2, pinned in the dev extra), run with onnxruntime.

The files are found the way pipecat finds them (package data next to its modules), but without
importing pipecat's package (that would pull in its pipeline and its dependencies): the package's
directory comes from its import spec. Smart-Turn's Whisper-style features come from pipecat's
vendored numpy module, loaded by path for the same reason.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import numpy as np

RATE = 16_000
VAD_FRAME = 512  # samples per Silero window at 16 kHz
VAD_CONTEXT = 64


class CascadeModelsMissing(RuntimeError):
    """pipecat-ai (dev extra) or onnxruntime is not installed."""


def pipecat_dir() -> Path:
    spec = importlib.util.find_spec("pipecat")
    if spec is None or not spec.submodule_search_locations:
        raise CascadeModelsMissing("pipecat-ai is not installed: pip install -e '.[dev]' "
                                   "(it carries the Silero VAD and Smart-Turn ONNX files)")
    return Path(next(iter(spec.submodule_search_locations)))


def _session(path: Path):
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise CascadeModelsMissing(f"onnxruntime is not installed: {exc}") from None
    if not path.is_file():
        raise CascadeModelsMissing(f"{path} is missing from the pipecat-ai wheel")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


class SileroVAD:
    """Speech probability per 32 ms window (Silero v5 ONNX, 16 kHz)."""

    def __init__(self) -> None:
        self._session = _session(pipecat_dir() / "audio/vad/data/silero_vad.onnx")

    def probabilities(self, samples: np.ndarray) -> np.ndarray:
        state = np.zeros((2, 1, 128), np.float32)
        context = np.zeros((1, VAD_CONTEXT), np.float32)
        n = len(samples) // VAD_FRAME
        out = np.zeros(n, np.float32)
        sr = np.array(RATE, dtype=np.int64)
        for i in range(n):
            x = samples[i * VAD_FRAME:(i + 1) * VAD_FRAME].astype(np.float32)[None, :]
            x = np.concatenate([context, x], axis=1)
            prob, state = self._session.run(None, {"input": x, "state": state, "sr": sr})
            context = x[:, -VAD_CONTEXT:]
            out[i] = float(np.asarray(prob).reshape(-1)[0])
        return out


class SmartTurn:
    """End-of-turn probability of the last 8 s of a turn (Smart-Turn v3.2 CPU ONNX)."""

    def __init__(self) -> None:
        base = pipecat_dir() / "audio/turn/smart_turn"
        self._session = _session(base / "data/smart-turn-v3.2-cpu.onnx")
        spec = importlib.util.spec_from_file_location("_bench_whisper_features", base / "_whisper_features.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        self._features = module.compute_whisper_log_mel_features

    def complete(self, audio: np.ndarray) -> tuple[float, float]:
        """(probability the turn is complete, seconds the inference took)."""
        started = time.perf_counter()
        audio = audio[-8 * RATE:]
        audio = np.pad(audio, (8 * RATE - len(audio), 0)) if len(audio) < 8 * RATE else audio
        features = self._features(audio.astype(np.float32), do_normalize=True)[None]
        prob = float(np.asarray(self._session.run(None, {"input_features": features})[0]).reshape(-1)[0])
        return prob, time.perf_counter() - started
