"""The failure card shows the values, the pinned line (highlighted when changed) and a collapsed
traceback; an explanation card shows the whole answer."""

from __future__ import annotations

from textual.widgets import Collapsible

from companion.core.events import JobEvent
from companion.tui.app import CompanionApp
from tests.functional.fakes import FakeControls
from tests.functional.test_app import settle

FAILURE = {
    "test_id": "tests/test_stats.py::test_median_odd", "file": "tests/test_stats.py", "line": 4,
    "exc_type": "AssertionError", "message": "assert 1 == 2",
    "values": "median returns 1 for [3, 1, 2], expected 2",
    "said": "median returns 1 for [3, 1, 2], expected 2, stats.py line 11, changed just now",
    "location": {"file": "stats.py", "line": 11, "function": "median", "how": "executed",
                 "changed_at": 1.0, "source": "return s[len(s) // 2 - 1]", "token": ""},
    "frames": [{"file": "tests/test_stats.py", "line": 4, "function": "test_median_odd",
                "changed": False},
               {"file": "stats.py", "line": 11, "function": "median", "changed": True}],
}


async def test_failure_card_has_values_pinned_line_and_collapsed_traceback():
    controls = FakeControls()
    app = CompanionApp(controls, clock=lambda: 0.0)
    async with app.run_test(size=(110, 40)) as pilot:
        await pilot.pause()
        controls.emit(JobEvent(3.0, "t1", "tests", "result", FAILURE["said"],
                               {"failures": [FAILURE]}))
        controls.emit(JobEvent(5.0, "t2", "explain", "result", "The median takes the wrong index.",
                               {"answer": "The median takes the wrong index. Use len(s) // 2."}))
        await settle(pilot, app)
        card, answer = app.main_screen.conversation.children[-2:]
        assert not card.collapsed
        body = " ".join(str(w.render()) for w in card.query("Contents Static"))
        assert "median returns 1 for [3, 1, 2], expected 2" in body
        assert "→ stats.py:11 in median  you changed this line; the test ran it" in body
        assert "return s[len(s) // 2 - 1]" in body
        [trace] = card.query(Collapsible).exclude(".-result")  # the nested one
        assert trace.title == "traceback (2 frames)" and trace.collapsed
        frames = " ".join(str(w.render()) for w in trace.query("Contents Static"))
        assert "● stats.py:11 in median" in frames and "  tests/test_stats.py:4" in frames
        text = " ".join(str(w.render()) for w in answer.query("Contents Static"))
        assert "The median takes the wrong index. Use len(s) // 2." in text
