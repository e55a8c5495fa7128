"""The TUI shows an error read on screen as an open result card naming the file and line."""

from __future__ import annotations

import os

import pytest

from companion.core.events import ScreenError, StreamState
from companion.tui.app import CompanionApp
from companion.tui.widgets.result_card import ResultCard
from tests.functional.fakes import FakeControls

ERROR = ScreenError(
    t=42.0, language="python", exception="KeyError", message="'user_id'", file="app.py", line=42,
    function="load_user", in_repo=True, window="dev@box: ~/shop",
    summary="the script in your terminal raised KeyError 'user_id' in app.py line 42, "
            "which you changed a minute ago")


@pytest.fixture(autouse=True)
def empty_config(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPANION_CONFIG_DIR", str(tmp_path / "config"))


async def test_screen_error_becomes_an_open_card_with_summary_file_and_line():
    controls = FakeControls()
    app = CompanionApp(controls, clock=lambda: 0.0)
    async with app.run_test(size=(176, 14)) as pilot:
        while not controls.sinks:
            await pilot.pause(0.01)
        for stream in ("screen", "files", "model"):
            controls.emit(StreamState(0.5, stream, "live"))
        controls.emit(ERROR)
        await pilot.pause()
        await app.main_screen.conversation.workers.wait_for_complete()
        await pilot.pause()
        (card,) = app.main_screen.query(ResultCard)
        assert not card.collapsed
        assert card.title == (" 0:42 ✗ screen: the script in your terminal raised KeyError 'user_id' "
                              "in app.py line 42, which you changed a minute ago")
        body = "\n".join(str(s.render()) for s in card.query("Static"))
        assert "app.py:42" in body and "KeyError: 'user_id'" in body
        if os.environ.get("COMPANION_SCREENSHOT"):  # docs/img: regenerate by hand, then convert
            app.save_screenshot(os.environ["COMPANION_SCREENSHOT"])
