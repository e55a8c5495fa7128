"""ScreenReader: OCR of screen regions that changed and settled, into ScreenText and ScreenError events.

Fed ScreenWatch's masked frames (masked pixels are black before they get here, so a masked
window is never read) and FileChanged events; emits events only. Frames and text live in
memory; nothing is written anywhere. One worker thread reads the newest settled region first
and spends at most `cpu_share` of one core on average (a token bucket of CPU seconds).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from companion.core.events import Event, FileChanged, ScreenError, ScreenText, StreamState
from companion.core.redact import redact
from companion.streams.ocr_engine import OCRUnavailable, TesseractOCR
from companion.streams.screen_context import context_line
from companion.streams.screen_errors import ParsedError, find_errors
from companion.streams.screen_settle import RegionQueue, SettleTracker, bands
from companion.streams.screen_summary import compose_summary, pick_frame
from companion.streams.screen_tiles import Rect
from tools.changed_lines import ChangeLog

READ_MODES = ("errors", "all", "off")
KEEP_FILES = 200  # files whose changed lines are remembered for "which you changed"


@dataclass(frozen=True, slots=True, eq=False)
class _Work:
    t: float  # when it settled
    rect: Rect  # in frame pixels
    origin: tuple[int, int]  # the frame's top-left on the screen
    pixels: np.ndarray  # RGB copy of the region, taken when it settled
    moving: bool = False  # a snapshot of a region that never settles: kept when it changes again


class ScreenReader:
    """`mode`: "all" emits ScreenText with the full text; "errors" emits ScreenError and only the
    short context line (ScreenText with empty text); "off" is never constructed (no OCR at all).

    As a stage it consumes FileChanged (which lines the user changed, for the summaries); its
    frames come straight from ScreenWatch's `frame_sink` (pixels never travel as events)."""

    consumes = (FileChanged,)
    emits = (ScreenText, ScreenError, StreamState)

    def __init__(self, sink: Callable[[Event], None], repo: Path, *, mode: str = "errors",
                 settle: float = 0.5, cpu_share: float = 0.10, burst: float = 1.0,
                 context_every: float = 3.0, engine: Callable[[], object] | None = None,
                 titles: Callable[[int, int], str] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if mode not in ("errors", "all"):
            raise ValueError(f'screen read mode must be "errors" or "all" here, got {mode!r}')
        if not 0 < cpu_share <= 1:
            raise ValueError(f"cpu_share must be in (0, 1], got {cpu_share}")
        self._sink, self.repo, self.mode, self._clock = sink, repo, mode, clock
        self._engine_factory, self._titles = engine, titles
        self.cpu_share, self.burst, self.context_every = cpu_share, burst, context_every
        self._tracker = SettleTracker(settle=settle)
        self._queue = RegionQueue(capacity=8)
        self._changes = ChangeLog()  # the user's changed lines, as the agent keeps them
        self._seen: OrderedDict[tuple, float] = OrderedDict()  # error key -> when first seen
        self._last_context, self._context_t = "", -1e9
        self._lock = threading.Condition()
        self._stop = False
        self._thread: threading.Thread | None = None
        self.ready = threading.Event()  # set once the engine is loaded (or failed to load)
        self.cpu_seconds = 0.0  # OCR CPU spent, for the benchmark and the status line
        self.regions_read = 0

    # --- inputs (any thread) -------------------------------------------------------------------
    def on_frame(self, t: float, frame: np.ndarray, counts: np.ndarray | None,
                 origin: tuple[int, int] = (0, 0)) -> None:
        """ScreenWatch's tap: a masked BGRA frame and its changed pixels per tile (or None)."""
        settled = self._tracker.step(t, counts, (frame.shape[1], frame.shape[0]))
        with self._lock:
            if counts is not None:
                tile = self._tracker.tile
                rows, cols = np.nonzero(counts)
                self._queue.invalidate([(int(c) * tile, int(r) * tile, tile, tile)
                                        for r, c in zip(rows, cols)])
            for region in settled:
                for x, y, w, h in reversed(bands(region.rect)):  # bottom band popped first
                    pixels = frame[y:y + h, x:x + w, 2::-1].copy()  # BGRA -> RGB
                    self._queue.push(_Work(t, (x, y, w, h), origin, pixels, region.moving))
            if settled:
                self._lock.notify()

    def process(self, event: FileChanged) -> None:
        """Remembers which lines the user changed, for the summaries."""
        with self._lock:
            self._changes.record(event.path, event.diff, event.t)
            while len(self._changes.files) > KEEP_FILES:  # first recorded, first forgotten
                self._changes.forget(next(iter(self._changes.files)))

    # --- the worker ------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="screen-ocr", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        with self._lock:
            self._stop = True
            self._lock.notify()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        try:
            engine = (self._engine_factory or TesseractOCR)()
        except OCRUnavailable as exc:
            self._sink(StreamState(self._clock(), "screen", "degraded", f"no screen reading: {exc}"))
            return
        finally:
            self.ready.set()
        tokens, refilled = self.burst, self._clock()
        try:
            while True:
                with self._lock:
                    while not self._stop and not len(self._queue):
                        self._lock.wait()
                    if self._stop:
                        return
                now = self._clock()
                tokens, refilled = min(self.burst, tokens + (now - refilled) * self.cpu_share), now
                if tokens < 0:  # over budget: wait for the bucket, newer regions may arrive meanwhile
                    with self._lock:
                        self._lock.wait(-tokens / self.cpu_share)
                    continue
                with self._lock:
                    work = self._queue.pop(now)
                if work is None:
                    continue
                cpu = time.thread_time()
                try:
                    text = engine.read(work.pixels)
                except Exception as exc:  # noqa: BLE001 - one unreadable region must not end reading
                    self._sink(StreamState(self._clock(), "screen", "degraded",
                                           f"screen reading skipped a region: {exc}"))
                    continue
                finally:
                    spent = time.thread_time() - cpu
                    tokens -= spent
                    self.cpu_seconds += spent
                self.regions_read += 1
                self.read_text(text.text, text.confidence, work.rect, work.origin)
        finally:
            close = getattr(engine, "close", None)
            if close is not None:
                close()

    # --- what one read region becomes ------------------------------------------------------------
    def read_text(self, text: str, confidence: float, rect: Rect,
                  origin: tuple[int, int] = (0, 0)) -> None:
        """Events for the text read in `rect` (frame pixels); called by the worker, and by tests."""
        now = self._clock()
        x, y, w, h = rect
        window = self._titles(origin[0] + x + w // 2, origin[1] + y + h // 2) if self._titles else ""
        text = redact(text)
        for error in find_errors(text):
            self._report(now, error, window)
        context = ""
        if now - self._context_t >= self.context_every:
            context = context_line(window, text)
            if context and context != self._last_context:
                self._last_context, self._context_t = context, now
            else:
                context = ""
        if self.mode == "all" or context:
            self._sink(ScreenText(t=now, x=origin[0] + x, y=origin[1] + y, width=w, height=h,
                                  text=text if self.mode == "all" else "",
                                  confidence=round(confidence, 3), window=window, context=context))

    def _report(self, now: float, error: ParsedError, window: str) -> None:
        key = error.key()
        with self._lock:
            if key in self._seen and now - self._seen[key] < 600:
                return  # the same error scrolled or redrawn
            self._seen[key] = now
            self._seen.move_to_end(key)
            while len(self._seen) > 256:
                self._seen.popitem(last=False)
            frame, path, changed_at = pick_frame(error.frames, self.repo, self._changes)
        file, line = (path or frame.file, frame.line) if frame else ("", 0)
        function = frame.function if frame else ""
        summary = compose_summary(error.language, error.exception, error.message,
                                  path or "", line if path else 0, function,
                                  None if changed_at is None else now - changed_at)
        self._sink(ScreenError(t=now, language=error.language, exception=error.exception,
                               message=error.message, file=file, line=line, function=function,
                               in_repo=path is not None, summary=summary, window=window))
