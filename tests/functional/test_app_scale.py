"""The conversation stays bounded with 10,000+ entries; prints the cost of one more entry."""

from __future__ import annotations

import time

from textual.widgets import Log

from companion.core.events import UserWords
from companion.tui.app import CompanionApp
from companion.tui.widgets.conversation import MAX_MOUNTED
from companion.tui.widgets.transcript_line import Entry
from tests.functional.fakes import FakeControls


async def add_singly(pilot, conversation, count: int, start: int) -> float:
    began = time.perf_counter()
    for n in range(start, start + count):
        conversation.add(Entry(float(n), "user", f"line {n}"))
        await pilot.pause()
    return (time.perf_counter() - began) / count


async def test_ten_thousand_entries_keep_a_bounded_widget_count(monkeypatch, tmp_path):
    monkeypatch.setenv("COMPANION_CONFIG_DIR", str(tmp_path))
    controls = FakeControls()
    app = CompanionApp(controls, clock=lambda: 0.0)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        conversation = app.main_screen.conversation
        conversation.history.clear()  # drop the startup note so counts are exact
        conversation.add_many([Entry(float(n), "user", f"line {n}") for n in range(MAX_MOUNTED)])
        # baseline: as many widgets mounted as there will ever be, but a short history
        baseline = await add_singly(pilot, conversation, 30, MAX_MOUNTED)
        start = MAX_MOUNTED + 30
        for chunk in range(10):
            first = start + chunk * 1000
            conversation.add_many([Entry(float(n), "user", f"line {n}")
                                   for n in range(first, first + 1000)])
            await pilot.pause()
        loaded = await add_singly(pilot, conversation, 30, start + 10_000)
        # and through the real path: events from the runtime, via the bridge
        for n in range(200):
            controls.emit(UserWords(float(n), f"spoken {n}", final=True))
        await pilot.pause(0.5)
        total = MAX_MOUNTED + 10_060 + 200
        assert len(conversation.history) == total
        assert conversation.mounted_count == MAX_MOUNTED
        assert len(conversation.children) == MAX_MOUNTED + 1  # + the "earlier entries" line
        earlier = str(conversation.children[0].render())
        assert earlier == f"… {total - MAX_MOUNTED:,} earlier entries (f10: full history)"
        assert conversation.history[-1].text == "spoken 199"
        await pilot.press("f10")
        await pilot.pause()
        log = app.screen.query_one(Log)
        assert log.line_count == total and log.lines[-1] == " 3:19 you: spoken 199"
        await pilot.press("escape")
        print(f"\nadd one entry and repaint: {baseline * 1e3:.2f} ms with {MAX_MOUNTED + 30} "
              f"entries, {loaded * 1e3:.2f} ms with {start + 10_000:,} (ratio "
              f"{loaded / baseline:.2f}; the same {MAX_MOUNTED} widgets are mounted in both)")
