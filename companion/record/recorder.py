"""Record perception events to a directory and read them back for deterministic replay.

A recording is `events.jsonl` (one event a line, times relative to the recording's start),
`audio.wav` (16 kHz mono int16, the AudioBlocks back to back), `dmel.u8` (each block's
16x80 dMel bytes) and `patches/NNNNNN.npz` (compressed tiles of each ScreenPatches). Nothing is
written unless the user asks to record (DESIGN §12).
"""

from __future__ import annotations

import dataclasses
import json
import queue
import threading
import wave
from pathlib import Path
from typing import Iterator

import numpy as np

from companion.core import events as ev

SAMPLE_RATE = 16_000
DMEL_BYTES = 16 * 80
_TYPES = {cls.__name__: cls for cls in (
    ev.StreamState, ev.FileChanged, ev.ScreenPatches, ev.AudioBlock, ev.UserWords, ev.TypedText,
    ev.SelfSpeech, ev.JobEvent, ev.RulesChanged, ev.ModelTurn,
    # screen text reaches a file only here, when the user asked for a recording
    ev.ScreenText, ev.ScreenError)}


class RecordingError(Exception):
    """A recording directory that cannot be written or read."""


class Recorder:
    """An event sink that writes to disk on its own thread, so callers never wait on I/O."""

    def __init__(self, directory: str | Path, t0: float) -> None:
        self.dir = Path(directory)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            (self.dir / "patches").mkdir(exist_ok=True)
            if (self.dir / "events.jsonl").exists():
                raise RecordingError(f"{self.dir} already holds a recording; choose a new directory")
            self._jsonl = open(self.dir / "events.jsonl", "w", encoding="utf-8")
        except OSError as exc:
            raise RecordingError(f"cannot record to {self.dir}: {exc.strerror}") from exc
        self._wav = wave.open(str(self.dir / "audio.wav"), "wb")
        self._wav.setnchannels(1)
        self._wav.setsampwidth(2)
        self._wav.setframerate(SAMPLE_RATE)
        self._dmel = open(self.dir / "dmel.u8", "wb")
        self.t0 = t0
        self._samples = 0
        self._blocks = 0
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._drain, name="recorder", daemon=True)
        self._thread.start()

    def put(self, event: ev.Event) -> None:
        if type(event).__name__ in _TYPES:
            self._queue.put(event)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._jsonl.close()
        self._wav.close()
        self._dmel.close()

    def _drain(self) -> None:
        while (event := self._queue.get()) is not None:
            self._jsonl.write(json.dumps(self._encode(event), separators=(",", ":")) + "\n")
        self._jsonl.flush()

    def _encode(self, event: ev.Event) -> dict:
        rec = {"type": type(event).__name__, "t": round(event.t - self.t0, 6)}
        if isinstance(event, ev.AudioBlock):
            pcm = np.clip(np.asarray(event.samples, np.float32) * 32767.0, -32768, 32767)
            self._wav.writeframes(pcm.astype("<i2").tobytes())
            self._dmel.write(np.asarray(event.dmel, np.uint8).tobytes())
            rec |= {"level": event.level, "offset": self._samples, "n": len(pcm), "block": self._blocks}
            self._samples += len(pcm)
            self._blocks += 1
        elif isinstance(event, ev.ScreenPatches):
            name = f"patches/{event.frame:06d}.npz"
            xy = np.array([(p.x, p.y) for p in event.patches], np.int32).reshape(-1, 2)
            pixels = np.stack([p.pixels for p in event.patches]) if event.patches else \
                np.zeros((0, 40, 40, 3), np.uint8)
            np.savez_compressed(self.dir / name, xy=xy, pixels=pixels)
            rec |= {"frame": event.frame, "width": event.width, "height": event.height, "file": name}
        else:
            for f in dataclasses.fields(event):
                if f.name != "t":
                    value = getattr(event, f.name)
                    rec[f.name] = value - self.t0 if f.name == "t_end" else value
        return rec


def read_recording(directory: str | Path, t0: float = 0.0) -> Iterator[ev.Event]:
    """The recorded events in order, with times shifted to start at `t0`."""
    root = Path(directory)
    path = root / "events.jsonl"
    if not path.is_file():
        raise RecordingError(f"{root} is not a recording: events.jsonl is missing")
    audio = _read_wav(root / "audio.wav") if (root / "audio.wav").exists() else np.zeros(0, np.int16)
    dmel = np.fromfile(root / "dmel.u8", np.uint8) if (root / "dmel.u8").exists() else np.zeros(0)
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            try:
                rec = json.loads(line)
                yield _decode(rec, root, audio, dmel, t0)
            except (KeyError, ValueError, TypeError, OSError) as exc:
                raise RecordingError(f"{path}:{number}: unreadable event ({exc})") from exc


def _read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), "<i2")


def _decode(rec: dict, root: Path, audio: np.ndarray, dmel: np.ndarray, t0: float) -> ev.Event:
    kind = rec.pop("type")
    cls = _TYPES[kind]
    t = t0 + rec.pop("t")
    if cls is ev.AudioBlock:
        pcm = audio[rec["offset"]: rec["offset"] + rec["n"]].astype(np.float32) / 32767.0
        frames = dmel[rec["block"] * DMEL_BYTES: (rec["block"] + 1) * DMEL_BYTES].reshape(16, 80)
        return ev.AudioBlock(t=t, samples=pcm, level=rec["level"], dmel=frames.copy())
    if cls is ev.ScreenPatches:
        with np.load(root / rec["file"]) as data:
            # strict: tiles and positions that disagree make the event unreadable, never truncated
            patches = tuple(ev.Patch(int(x), int(y), px)
                            for (x, y), px in zip(data["xy"], data["pixels"], strict=True))
        return ev.ScreenPatches(t=t, frame=rec["frame"], width=rec["width"], height=rec["height"],
                                patches=patches)
    if "t_end" in rec:
        rec["t_end"] += t0
    return cls(t=t, **rec)
