"""SphinxRecognizer: the former pocketsphinx recognizer, kept as the hearing benchmark's baseline.

Emits UserWords partials whenever the hypothesis changes and a final when an utterance ends.
Utterance ends come from pocketsphinx's own Endpointer (its internal speech/non-speech
segmentation), used only to commit words; turn-taking is never decided here (DESIGN §1).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from companion.core.events import AudioBlock, Event, StreamState, UserWords

RATE = 16_000


class SphinxRecognizer:
    """Consumes AudioBlocks (call `feed` from one thread) and emits UserWords to `sink`."""

    def __init__(self, sink: Callable[[Event], None], *, clock: Callable[[], float] = time.monotonic,
                 end_silence: float = 0.5) -> None:
        self._sink, self._clock = sink, clock
        self.available = False
        try:
            from pocketsphinx import Config, Decoder, Endpointer

            config = Config()  # the bundled en-us acoustic model, language model and dictionary
            config["loglevel"] = "FATAL"
            self._decoder = Decoder(config)
            self._endpointer = Endpointer(window=end_silence, ratio=0.9, vad_mode=3)
        except (ImportError, OSError, RuntimeError, ValueError) as exc:
            sink(StreamState(clock(), "asr", "unavailable", f"pocketsphinx could not load: {exc}"))
            return
        self._frame = self._endpointer.frame_bytes
        self._pending = b""
        self._in_utterance = False
        self._partial = ""
        self._utterance_t = 0.0
        self._block_t = 0.0
        self._consumed = 0  # bytes of the current block already given to the endpointer
        self.available = True
        sink(StreamState(clock(), "asr", "live", "pocketsphinx en-us"))

    def feed(self, block: AudioBlock) -> None:
        """Recognize one block of 16 kHz float32 samples."""
        if not self.available:
            return
        pcm = (np.clip(block.samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
        self._block_t = block.t - len(self._pending) / 2 / RATE
        data = self._pending + pcm
        usable = len(data) - len(data) % self._frame
        self._pending = data[usable:]
        for i in range(0, usable, self._frame):
            self._push_frame(data[i:i + self._frame], self._block_t + i / 2 / RATE)
        if self._in_utterance:
            self._emit_partial()

    def flush(self) -> None:
        """End of input: commit whatever is in progress."""
        if self.available and self._in_utterance:
            self._finish()

    def _push_frame(self, frame: bytes, t: float) -> None:
        was_speech = self._endpointer.in_speech
        speech = self._endpointer.process(frame)
        if not was_speech and self._endpointer.in_speech:
            self._decoder.start_utt()
            self._in_utterance = True
            self._utterance_t = self._endpointer.speech_start
            self._partial = ""
        if speech is not None and self._in_utterance:
            self._decoder.process_raw(speech, no_search=False, full_utt=False)
        if was_speech and not self._endpointer.in_speech and self._in_utterance:
            self._finish()

    def _emit_partial(self) -> None:
        hyp = self._decoder.hyp()
        text = hyp.hypstr if hyp is not None else ""
        if text and text != self._partial:
            self._partial = text
            self._sink(UserWords(self._block_t, text, final=False))

    def _finish(self) -> None:
        self._decoder.end_utt()
        hyp = self._decoder.hyp()
        text = hyp.hypstr if hyp is not None else ""
        self._in_utterance = False
        self._partial = ""
        if text:
            self._sink(UserWords(self._block_t, text, final=True))
