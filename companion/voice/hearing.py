"""Hearing: the speech recognizer as a stage — AudioBlocks in, the user's words out, on its own thread.

Recognition (a decode every 0.4 s of speech) runs on its own thread so it never holds up the
audio path; a backlog keeps only the newest two seconds (the recognizer resynchronizes over the
gap). The recognizer loads (about a second) on that thread too. What the companion itself played
(SelfSpeech) tells the recognizer which words are its own echo.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path

from companion.core.events import AudioBlock, Event, SelfSpeech, StreamState, UserWords
from companion.voice.asr import SpeechRecognizer
from companion.voice.vocabulary import repository_prompt


class Hearing:
    consumes = (AudioBlock, SelfSpeech)
    emits = (UserWords, StreamState)

    def __init__(self, repo: Path, emit: Callable[[Event], None]) -> None:
        self.repo = repo
        self._emit = emit
        self.asr: SpeechRecognizer | None = None  # None until loaded on the thread
        self._blocks: deque[AudioBlock] = deque(maxlen=10)
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closing = False
        self._handlers = {AudioBlock: self.hear, SelfSpeech: self.companion_said}

    def start(self) -> None:
        self._thread = threading.Thread(target=self._recognize, name="asr", daemon=True)
        self._thread.start()

    def process(self, event: AudioBlock | SelfSpeech) -> None:
        self._handlers[type(event)](event)

    def hear(self, block: AudioBlock) -> None:
        """On the audio thread, every block: queued for the recognizer thread."""
        asr = self.asr
        if self._thread is not None and (asr is None or asr.available):  # None: still loading
            with self._ready:
                self._blocks.append(block)
                self._ready.notify()

    def companion_said(self, event: SelfSpeech) -> None:
        asr = self.asr
        if asr is not None and asr.available:
            asr.companion_said(event)

    def _recognize(self) -> None:
        self.asr = SpeechRecognizer(self._emit, prompt=repository_prompt(self.repo))
        if not self.asr.available:
            return
        while True:
            with self._ready:
                while not self._blocks and not self._closing:
                    self._ready.wait()
                if self._closing:
                    return
                block = self._blocks.popleft()
            self.asr.feed(block)

    def stop(self) -> None:
        with self._ready:
            self._closing = True
            self._ready.notify()
        if self._thread is not None:
            self._thread.join(timeout=2)
            if not self._thread.is_alive() and self.asr is not None:
                self.asr.flush()
