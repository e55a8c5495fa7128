"""Pilot tests of the TUI: keys become commands, events become text, quitting is clean."""

from __future__ import annotations

import threading

import pytest
from textual.widgets import Input, Static

from companion.core.events import JobEvent, ModelTurn, SelfSpeech, StreamState, UserWords
from companion.tui.app import CompanionApp
from companion.tui.widgets.jobs_panel import JobRow
from companion.tui.widgets.pending_action import PendingAction
from companion.tui.widgets.result_card import ResultCard
from companion.tui.widgets.status_bar import StatusBar
from tests.functional.fakes import FakeControls


@pytest.fixture(autouse=True)
def empty_config(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPANION_CONFIG_DIR", str(tmp_path / "config"))


def texts(app: CompanionApp) -> list[str]:
    return [entry.plain() for entry in app.main_screen.conversation.history]


async def settle(pilot, app: CompanionApp) -> None:
    await pilot.pause()
    await app.main_screen.conversation.workers.wait_for_complete()
    await pilot.pause()


async def test_keys_send_commands_and_quit_stops_runtime():
    controls = FakeControls()
    app = CompanionApp(controls)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert isinstance(app.focused, Input)
        for key in ("f2", "f2", "f3", "f4", "f5", "f5", "escape"):
            await pilot.press(key)
        await pilot.press("ctrl+q")
    assert controls.calls == [
        ("start",), ("set_mic_muted", True), ("set_mic_muted", False), ("set_screen_paused", True),
        ("snooze", 15.0), ("snooze", 0), ("snooze", None), ("stop_speaking",), ("stop",)]
    assert app.return_code == 0


async def test_typed_text_is_sent_and_shown_and_input_keeps_focus():
    controls = FakeControls()
    app = CompanionApp(controls, clock=lambda: 0.0)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press(*"why does it fail", "enter")
        await pilot.pause()
        assert ("send_text", "why does it fail") in controls.calls
        assert texts(app)[-1] == " 0:00 you ⌨: why does it fail"
        assert isinstance(app.focused, Input) and app.focused.value == ""


async def test_events_from_a_thread_render_words_speech_and_cut_off():
    controls = FakeControls()
    app = CompanionApp(controls, clock=lambda: 100.0)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        script = [UserWords(101.0, "so the"), UserWords(101.5, "so the parser fails", final=True),
                  ModelTurn(110.0, 50, "speech", "Off by one", 38.0, 1),
                  ModelTurn(110.2, 51, "speech", "on line 42.", 40.0, 3),
                  SelfSpeech(110.2, 110.8, "Off by"),
                  SelfSpeech(110.8, 111.0, "one", interrupted=True, unspoken="on line 42.")]
        thread = threading.Thread(target=lambda: [controls.emit(e) for e in script])
        thread.start()
        thread.join()
        await settle(pilot, app)
        assert texts(app)[-2:] == [" 0:01 you: so the parser fails",
                                   " 0:10 companion ⚡: Off by one [cut off; unsaid: on line 42.]"]
        line = app.main_screen.conversation.children[-1]
        assert line.has_class("-interjection")
        rendered = str(line.render())
        assert "Off by one on line 42.  ⟂ cut off" in rendered
        status = str(app.main_screen.query_one(StatusBar).render())
        assert "late 3" in status


async def test_reply_is_not_marked_as_interjection():
    controls = FakeControls()
    app = CompanionApp(controls, clock=lambda: 0.0)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        controls.emit(UserWords(1.0, "what is wrong here", final=True))
        controls.emit(ModelTurn(2.0, 10, "speech", "The slice end is off by one."))
        await settle(pilot, app)
        assert app.main_screen.conversation.children[-1].has_class("-companion")


async def test_confirm_and_deny_pending_repository_actions():
    controls = FakeControls()
    app = CompanionApp(controls)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+y")  # nothing pending: nothing sent
        controls.emit(JobEvent(1.0, "c1", "git", "needs_confirmation", "commit: fix header",
                               {"diff": "-a\n+b\n"}))
        controls.emit(JobEvent(1.1, "c2", "git", "needs_confirmation", "switch to main"))
        await settle(pilot, app)
        pending = app.main_screen.query_one(PendingAction)
        assert pending.display and "commit: fix header" in str(pending.render())
        assert "(+1 more)" in str(pending.render())
        await pilot.press("ctrl+y")
        await pilot.pause()
        assert "switch to main" in str(pending.render())
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert not pending.display
    assert [c for c in controls.calls if c[0] == "confirm"] == [
        ("confirm", "c1", True), ("confirm", "c2", False)]


async def test_jobs_panel_shows_progress_and_cancels():
    controls = FakeControls()
    app = CompanionApp(controls)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        controls.emit(JobEvent(1.0, "t1", "tests", "started"))
        controls.emit(JobEvent(1.5, "t1", "tests", "progress", data={"done": 3, "total": 10}))
        await settle(pilot, app)
        row = app.main_screen.query_one(JobRow)
        assert "▰▰▱▱▱▱  30%" in str(row.label.render())
        await pilot.press("f6")
        await pilot.click(row.cancel)
        controls.emit(JobEvent(2.0, "t1", "tests", "cancelled", "tests cancelled"))
        await settle(pilot, app)
        assert not row.cancel.display
    assert [c for c in controls.calls if c[0] == "cancel_job"] == [("cancel_job", "t1")] * 2


async def test_why_key_asks_for_an_explanation_and_its_answer_shows_on_a_card():
    controls = FakeControls()
    app = CompanionApp(controls)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        await pilot.press("f7")
        answer = "median sorts a copy but indexes the original list. Use ordered[mid]."
        controls.emit(JobEvent(2.0, "x1", "explain", "result", "median sorts a copy but indexes "
                               "the original list.", {"answer": answer, "test_id": "t::test_med"}))
        await settle(pilot, app)
        cards = [c for c in app.main_screen.query(ResultCard) if c.entry.card["tool"] == "explain"]
        assert cards and answer in "".join(str(s.render()) for s in cards[0].query(Static))
    assert ("explain", "") in controls.calls


async def test_result_card_shows_failures_with_file_and_line():
    controls = FakeControls()
    app = CompanionApp(controls, clock=lambda: 0.0)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        failure = {"test": "test_header", "file": "tests/test_parse.py", "line": 12,
                   "exception": "IndexError", "message": "list index out of range"}
        controls.emit(JobEvent(3.0, "t2", "tests", "result", "1 failed", {"failures": [failure]}))
        controls.emit(JobEvent(4.0, "l1", "lint", "result", "1 finding", {"findings": [
            {"file": "src/a.py", "line": 3, "code": "F401", "message": "unused import"}]}))
        await settle(pilot, app)
        cards = app.main_screen.conversation.children[-2:]
        assert not cards[0].collapsed and cards[0].title == " 0:03 ✗ tests: 1 failed"
        body = " ".join(str(w.render()) for w in cards[0].query("Contents Static"))
        assert "tests/test_parse.py:12" in body and "IndexError: list index out of range" in body
        body = " ".join(str(w.render()) for w in cards[1].query("Contents Static"))
        assert "src/a.py:3  F401  unused import" in body


async def test_no_runtime_shows_every_stream_unavailable_and_still_takes_input():
    app = CompanionApp(None)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        status = str(app.main_screen.query_one(StatusBar).render())
        assert "mic · screen · files · model unavailable (not connected)" in status
        await pilot.press("f2", *"hi", "enter")
        await pilot.pause()
        assert texts(app)[-1].endswith("not sent: no companion runtime connected")
        await pilot.press("ctrl+q")
    assert app.return_code == 0


async def test_model_loading_progress_then_ready_with_latency():
    controls = FakeControls()
    app = CompanionApp(controls)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        controls.emit(StreamState(1.0, "model", "degraded", "loading weights", progress=0.5))
        await settle(pilot, app)
        bar = app.main_screen.query_one(StatusBar)
        assert "model loading ▰▰▰▰▱▱▱▱  50%" in str(bar.render())
        controls.emit(StreamState(1.5, "speaker", "unavailable", "no output device"))
        controls.emit(StreamState(1.6, "audio", "paused", "muted by you"))
        controls.emit(StreamState(2.0, "model", "live"))
        controls.emit(ModelTurn(2.2, 1, "silence", latency_ms=37.4))
        await settle(pilot, app)
        assert "model ready 37 ms" in str(bar.render())
        assert "voice unavailable (no output device)" in str(bar.render())
        assert "mic muted (muted by you)" in str(bar.render())
        assert texts(app)[-1].endswith("voice unavailable: no output device")


async def test_quit_is_clean_while_streams_keep_emitting_from_threads():
    controls = FakeControls()
    app = CompanionApp(controls)
    async with app.run_test(size=(100, 30)) as pilot:
        controls.emit(StreamState(0.0, "audio", "live"))
        controls.run_streams(audio_hz=500)
        bar = app.main_screen.query_one(StatusBar)
        for _ in range(100):  # up to 5 s on a loaded machine
            await pilot.pause(0.05)
            if app.bridge.dropped > 100 and "▮▮▮▮" in str(bar.render()):
                break
        assert "▮▮▮▮" in str(bar.render())  # -20 dBFS shown on the meter
        assert app.bridge.dropped > 100  # high-rate events folded, not one message each
        await pilot.press("ctrl+q")
    assert ("stop",) in controls.calls
    assert not any(thread.is_alive() for thread in controls.threads)
    assert app.return_code == 0 and not app.workers._workers


async def test_snooze_shows_in_status_and_panels_toggle():
    controls = FakeControls()
    app = CompanionApp(controls)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        side = app.main_screen.query_one("#side")
        assert not side.display  # narrow: the conversation gets the width
        await pilot.press("f9")
        assert side.display and app.main_screen.query_one("#rules").display
        assert not app.main_screen.query_one("#jobs").display
        await pilot.press("f9")
        assert not side.display
        await pilot.press("f4")
        await pilot.pause()
        assert "snoozed, 15 min left" in str(app.main_screen.query_one(StatusBar).render())
        await pilot.press("f5")  # while snoozed: resume
        await pilot.pause()
        assert "snoozed" not in str(app.main_screen.query_one(StatusBar).render())
    assert [c for c in controls.calls if c[0] == "snooze"] == [("snooze", 15.0), ("snooze", 0)]
