"""End to end on a real X display: a script run in an xterm raises in a repository file the user
just changed; the screen reader turns the traceback into one ScreenError whose summary names the
file and line, and the transcript shows it as a card. A masked window is never read."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from companion.core.events import FileChanged, ScreenError, ScreenText, StreamState
from companion.perception import Perception, PerceptionOptions
from companion.rules.schema import ScreenConfig
from companion.tui.transcript import Transcript

pytestmark = pytest.mark.headless

APP = '''import json


def load_user(raw):
    record = json.loads(raw)
    return record["user_id"]


if __name__ == "__main__":
    print(load_user('{"name": "ada"}'))
'''


class Events:
    def __init__(self, perception_ref: list) -> None:
        self.items, self.cond, self._perception = [], threading.Condition(), perception_ref

    def __call__(self, event) -> None:
        if isinstance(event, FileChanged) and self._perception and self._perception[0].reader:
            self._perception[0].reader.process(event)  # as the hub delivers it
        with self.cond:
            self.items.append(event)
            self.cond.notify_all()

    def wait_for(self, kind, timeout: float, check=lambda e: True):
        deadline = time.monotonic() + timeout
        with self.cond:
            while time.monotonic() < deadline:
                found = [e for e in self.items if isinstance(e, kind) and check(e)]
                if found:
                    return found
                self.cond.wait(deadline - time.monotonic())
        return []


class Rules:  # the part of Rules that Perception reads
    def __init__(self, screen: ScreenConfig) -> None:
        self.screen, self.voice = screen, None


def run_in_xterm(repo, title: str, go, after: str = "sleep 60"):
    command = f"while [ ! -e {go} ]; do sleep 0.05; done; cd {repo} && {sys.executable} app.py; {after}"
    return subprocess.Popen(["xterm", "-T", title, "-geometry", "100x20+0+0", "-fa", "DejaVu Sans Mono",
                             "-fs", "11", "-e", "sh", "-c", command], stderr=subprocess.DEVNULL)


def start(repo, screen: ScreenConfig):
    ref: list = []
    events = Events(ref)
    perception = Perception(repo, PerceptionOptions(mic=False, voice=False, asr=False), events)
    ref.append(perception)
    perception.start(Rules(screen))
    assert events.wait_for(StreamState, 10, lambda e: e.stream == "files" and e.status == "live")
    return perception, events


def test_a_traceback_in_a_terminal_becomes_a_screen_error_naming_the_changed_line(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "app.py").write_text(APP.replace('record["user_id"]', 'record["id"]'))
    go = tmp_path / "go"
    xterm = run_in_xterm(repo, "companion e2e terminal", go)
    perception, events = start(repo, ScreenConfig(monitor=1))
    try:
        time.sleep(1.0)
        (repo / "app.py").write_text(APP)  # the user's edit: line 6 now reads "user_id"
        assert events.wait_for(FileChanged, 10)
        go.touch()
        errors = events.wait_for(ScreenError, 20)
        time.sleep(2.0)  # later frames and redraws of the same traceback add nothing
        errors = [e for e in events.items if isinstance(e, ScreenError)]
    finally:
        perception.stop()
        xterm.kill()
        xterm.wait()
    assert len(errors) == 1, errors
    error = errors[0]
    assert (error.language, error.exception, error.file, error.line, error.in_repo) == \
        ("python", "KeyError", "app.py", 6, True)
    assert error.summary.startswith("the script in your terminal raised KeyError")
    assert "in app.py line 6" in error.summary and "which you changed just now" in error.summary
    assert error.window == "companion e2e terminal"
    # "errors" mode passes no screen text on
    assert not [e for e in events.items if isinstance(e, ScreenText) and e.text]
    entries = [c.entry for e in events.items for c in Transcript().apply(e)]
    cards = [entry for entry in entries if entry.card.get("tool") == "screen"]
    assert [c.text for c in cards] == [error.summary]
    assert cards[0].card["data"]["failures"][0]["file"] == "app.py"


def test_an_error_in_a_terminal_that_keeps_printing_is_still_read(tmp_path):
    """Like `tail -f` on a server log: the terminal never settles, so the reader takes a snapshot
    every max_wait while it moves; the traceback scrolls up a line every 0.5 s and is read before
    it leaves the 20-row window (~8 s). (Faster scrolling can outrun the OCR's CPU share.)"""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "app.py").write_text(APP)
    go = tmp_path / "go"
    ticking = "i=0; while true; do i=$((i+1)); echo still running, line $i; sleep 0.5; done"
    xterm = run_in_xterm(repo, "companion e2e busy terminal", go, after=ticking)
    perception, events = start(repo, ScreenConfig(monitor=1))
    try:
        time.sleep(1.0)
        go.touch()
        shown = time.monotonic()
        errors = events.wait_for(ScreenError, 20)
        found = time.monotonic()
    finally:
        perception.stop()
        xterm.kill()
        xterm.wait()
    assert errors, "the traceback in a terminal that kept printing was never read"
    assert (errors[0].exception, errors[0].file, errors[0].line) == ("KeyError", "app.py", 6)
    print(f"printed -> ScreenError {found - shown:.2f} s (the terminal never settled)")


def test_a_masked_window_and_read_off_are_never_read(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "app.py").write_text(APP)
    for screen in (ScreenConfig(exclude_windows=("companion private",)), ScreenConfig(read="off")):
        go = tmp_path / f"go-{screen.read}"
        xterm = run_in_xterm(repo, "companion private" if screen.read != "off" else "plain", go)
        perception, events = start(repo, screen)
        try:
            assert (perception.reader is None) == (screen.read == "off")
            time.sleep(1.0)
            go.touch()
            time.sleep(5.0)
        finally:
            perception.stop()
            xterm.kill()
            xterm.wait()
        assert not [e for e in events.items if isinstance(e, (ScreenError, ScreenText))]
