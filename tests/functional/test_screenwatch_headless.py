"""ScreenWatch on a real X display: an xterm of code changed by one character; a private window."""

from __future__ import annotations

import os
import subprocess
import threading
import time

import pytest

from companion.core.events import ScreenPatches, StreamState
from companion.streams.screen import ScreenWatch
from companion.streams.x11_windows import X11Windows

CODE = (
    "def parse_header(line):\n"
    "    key, _, value = line.partition(':')\n"
    "    return key.strip(), value\n"
)


class Terminal:
    """An xterm at a fixed place whose text we append to through a FIFO (no key injection)."""

    def __init__(self, tmp_path, title: str, geometry: str) -> None:
        self.title = title
        fifo = tmp_path / f"{title}.fifo"
        os.mkfifo(fifo)
        self._fd = os.open(fifo, os.O_RDWR)  # read-write: never blocks waiting for the reader
        self.proc = subprocess.Popen(
            ["xterm", "-T", title, "-geometry", geometry, "-e", "cat", str(fifo)],
            stderr=subprocess.DEVNULL,
        )
        self.rect = _wait_for_window(title)

    def type(self, text: str) -> None:
        os.write(self._fd, text.encode())

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        os.close(self._fd)


def _wait_for_window(title: str, timeout: float = 10.0) -> tuple[int, int, int, int]:
    windows = X11Windows()
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rects = windows.rects_matching([title])
            if rects:
                return rects[0]
            time.sleep(0.05)
    finally:
        windows.close()
    raise AssertionError(f"xterm window {title!r} did not appear within {timeout} s")


class Patches:
    def __init__(self) -> None:
        self.events: list = []
        self._lock = threading.Lock()

    def __call__(self, event) -> None:
        with self._lock:
            self.events.append(event)

    def since(self, t: float) -> list[ScreenPatches]:
        with self._lock:
            return [e for e in self.events if isinstance(e, ScreenPatches) and e.t >= t]

    def wait_quiet(self, quiet_s: float = 0.8, timeout: float = 15.0) -> float:
        """Wait until no patches came for `quiet_s` (drawing finished); returns the time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = time.monotonic()
            if not self.since(now - quiet_s):
                return now
            time.sleep(0.05)
        raise AssertionError("the screen never settled")

    def wait_for(self, t: float, timeout: float = 10.0) -> list[ScreenPatches]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.since(t)
            if got:
                time.sleep(0.5)  # collect the frames that follow (cursor redraw)
                return self.since(t)
            time.sleep(0.05)
        raise AssertionError(f"no ScreenPatches within {timeout} s")


def _inside(patch, rect) -> bool:
    x, y, w, h = rect
    # a tile overlaps the window; tiles are on a 40-pixel grid, the window is not
    return x - 40 < patch.x < x + w and y - 40 < patch.y < y + h


@pytest.mark.headless
def test_one_character_in_an_xterm_changes_only_tiles_in_that_window(tmp_path):
    term = Terminal(tmp_path, "companion-code", "80x20+200+150")
    sink = Patches()
    watch = ScreenWatch(sink, fps=10)
    watch.start()
    try:
        _wait_first_frame(watch)
        typed = time.monotonic()
        term.type(CODE)
        sink.wait_for(typed)
        start = sink.wait_quiet()
        term.type("x")
        events = sink.wait_for(start)
        patches = [p for e in events for p in e.patches]
        assert patches and all(_inside(p, term.rect) for p in patches), (
            term.rect,
            [(p.x, p.y) for p in patches],
        )
        # one glyph plus the cursor moving one cell: a couple of tiles, not a region
        assert len({(p.x, p.y) for p in patches}) <= 4
        assert all(e.dropped == 0 for e in events)
        assert watch.fps > 0
    finally:
        watch.stop()
        term.close()


@pytest.mark.headless
def test_windows_with_an_excluded_title_never_leave_the_capture(tmp_path):
    public = Terminal(tmp_path, "companion-public", "40x10+100+100")
    private = Terminal(tmp_path, "Password Vault", "40x10+900+500")
    sink = Patches()
    watch = ScreenWatch(sink, fps=10, exclude_titles=["password"], emit_first_frame=True)
    watch.start()
    try:
        first = sink.wait_for(0)
        assert all(not _strictly_inside(p, private.rect) for e in first for p in e.patches)
        start = sink.wait_quiet()
        private.type("hunter2 is my password\n")
        public.type("print('visible')\n")
        events = sink.wait_for(start)
        time.sleep(0.5)
        patches = [p for e in sink.since(start) for p in e.patches]
        assert any(_inside(p, public.rect) for p in patches)
        assert not any(_inside(p, private.rect) for p in patches), [(p.x, p.y) for p in patches]
        assert events
    finally:
        watch.stop()
        public.close()
        private.close()


def _wait_first_frame(watch: ScreenWatch, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while watch.frames == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert watch.frames > 0, f"no frame captured: {watch.status}"


def _strictly_inside(patch, rect) -> bool:
    x, y, w, h = rect
    return x <= patch.x and patch.x + 40 <= x + w and y <= patch.y and patch.y + 40 <= y + h


def test_unreachable_display_is_reported_not_raised(monkeypatch):
    monkeypatch.setenv("DISPLAY", ":4242")
    events: list = []
    watch = ScreenWatch(events.append)
    watch.start()
    watch._thread.join(10)
    assert len(events) == 1 and isinstance(events[0], StreamState)
    assert (events[0].stream, events[0].status) == ("screen", "unavailable")
    assert events[0].reason.startswith("no display: DISPLAY=:4242: ")
