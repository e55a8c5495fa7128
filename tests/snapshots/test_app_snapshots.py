"""Snapshots of the main screen at 80x24 and 160x48 in each built-in theme, from a fixed script."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import numpy as np
import pytest
from textual.widgets import Input

from companion.core.events import (
    AudioBlock,
    FileChanged,
    JobEvent,
    ModelTurn,
    SelfSpeech,
    StreamState,
    UserWords,
)
from companion.rules.gates import SpeechGate
from companion.rules.store import RulesStore
from companion.tui.app import CompanionApp
from tests.functional.fakes import FakeControls

REPO = Path(__file__).resolve().parent / "repo"
FAILURE = {"test": "test_header", "file": "tests/test_parse.py", "line": 12,
           "exception": "IndexError", "message": "list index out of range"}
DIFF = ("--- a/src/parse.py\n+++ b/src/parse.py\n@@ -40,3 +40,3 @@ def parse_header(h, n):\n"
        "-    return h[1:n + 1]\n+    return h[1:n]\n")
SCRIPT = [
    StreamState(0.5, "audio", "live"), StreamState(0.5, "screen", "live"),
    StreamState(0.5, "files", "live", count=1204), StreamState(0.6, "model", "live"),
    AudioBlock(0.7, np.zeros(3200, np.float32), -18.0, np.zeros((16, 80), np.uint8)),
    FileChanged(1.0, "src/parse.py", "modified", "@@ -1 +1 @@\n-a\n+b\n"),
    UserWords(2.0, "so why does the parser"),
    UserWords(3.1, "so why does the parser fail on empty headers", final=True),
    ModelTurn(4.0, 20, "speech", "Let me run the tests for parse.py.", 38.0, 0),
    SelfSpeech(4.0, 5.5, "Let me run the tests for parse.py."),
    JobEvent(4.2, "t1", "tests", "started"),
    JobEvent(6.0, "t1", "tests", "error", "test_header failed: IndexError at parse.py line 42",
             {"failures": [FAILURE]}),
    ModelTurn(19.0, 95, "speech", "You have an off-by-one in the slice on line 42.", 41.0, 2),
    SelfSpeech(19.0, 19.6, "You have an", interrupted=True,
               unspoken="off-by-one in the slice on line 42."),
    JobEvent(24.0, "l1", "lint", "progress", data={"done": 2, "total": 5}),
    JobEvent(26.0, "g1", "git", "needs_confirmation", "commit src/parse.py: fix header slice",
             {"diff": DIFF}),
]


@pytest.fixture(autouse=True)
def empty_config(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPANION_CONFIG_DIR", str(tmp_path))
    monkeypatch.chdir(REPO)  # rules paths show as ".companion.toml", the same on every machine


def scripted_app(theme: str) -> tuple[CompanionApp, FakeControls]:
    store = RulesStore(".", poll_s=3600)
    # the runtime's speech gate, inside the quiet hours 22:00-07:00
    controls = FakeControls(SpeechGate(store.rules.gates, store.rules.rules,
                                       local_time=lambda: time(23, 30)))
    app = CompanionApp(controls, store, theme=theme, clock=lambda: 0.0)
    return app, controls


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
@pytest.mark.parametrize("theme", ["companion-dark", "companion-light", "companion-contrast"])
def test_main_screen(snap_compare, theme, size):
    app, controls = scripted_app(theme)

    async def play(pilot) -> None:
        while not controls.sinks:  # the app subscribes once its main screen is mounted
            await pilot.pause(0.01)
        app.query_one(Input).cursor_blink = False
        controls.emit_gate()
        for event in SCRIPT:
            controls.emit(event)
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=play)
