"""Settle detection, the bounded OCR queue, context lines, summaries and the ScreenReader's events."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from companion.core.events import FileChanged, ScreenError, ScreenText
from companion.streams.screen_context import context_line, definition_near, file_from_title
from companion.streams.screen_errors import Frame
from companion.streams.screen_settle import RegionQueue, Settled, SettleTracker, bands
from companion.streams.screen_summary import compose_summary, pick_frame, repo_path
from companion.streams.screen_text import ScreenReader
from tools.changed_lines import ChangeLog

SIZE = (400, 200)  # frame width, height: a 5 x 10 grid of 40-pixel tiles


def counts_at(*tiles, pixels=900):
    grid = np.zeros((5, 10), dtype=np.int64)
    for r, c in tiles:
        grid[r, c] = pixels
    return grid


def test_a_region_settles_half_a_second_after_its_last_change():
    tracker = SettleTracker(settle=0.5)
    assert tracker.step(0.0, counts_at((2, 3), (2, 4)), SIZE) == []
    assert tracker.step(0.25, None, SIZE) == []
    (region,) = tracker.step(0.5, None, SIZE)
    assert region.rect == (80, 40, 160, 120)  # tiles (2,3)-(2,4) padded by one tile
    assert region.changed_at == 0.0
    assert tracker.step(1.0, None, SIZE) == []  # read once, not again


def test_a_region_still_changing_does_not_settle_and_far_regions_are_separate():
    tracker = SettleTracker(settle=0.5)
    tracker.step(0.0, counts_at((0, 0), (4, 9)), SIZE)
    tracker.step(0.4, counts_at((4, 9)), SIZE)
    settled = tracker.step(0.6, None, SIZE)
    assert [s.rect for s in settled] == [(0, 0, 80, 80)]
    assert [s.rect for s in tracker.step(0.9, None, SIZE)] == [(320, 120, 80, 80)]


def test_a_region_that_never_settles_is_read_every_max_wait():
    """`tail -f` or a long test run: the terminal changes every frame and never settles; an
    error printed there must still be read (snapshots every max_wait while it keeps moving)."""
    tracker = SettleTracker(settle=0.5, max_wait=1.5)
    read_at = [k * 0.5 for k in range(11)
               if tracker.step(k * 0.5, counts_at((3, 2), (3, 3)), SIZE)]
    assert read_at == [1.5, 3.5]  # dirty from 0.0 → read at 1.5; dirty again from 2.0 → 3.5
    (region,) = tracker.step(6.0, None, SIZE)  # and once more when it finally settles
    assert region.changed_at == 5.0
    with pytest.raises(ValueError, match="max_wait"):
        SettleTracker(settle=0.5, max_wait=0.2)


def test_a_blinking_cursor_does_not_hold_typed_text_back():
    tracker = SettleTracker(settle=0.5)
    tracker.step(0.0, counts_at((1, 1), (1, 2)), SIZE)  # typing
    out = []
    for k in range(1, 8):  # then the cursor next to it blinks every frame (small change)
        out += tracker.step(k * 0.5, counts_at((1, 3), pixels=120), SIZE)
    assert [s.rect[:2] for s in out] == [(0, 0)]


def test_tall_regions_are_read_bottom_band_first_with_overlap():
    parts = bands((0, 0, 800, 1000), height=360, overlap=80)
    assert parts[0] == (0, 640, 800, 360)
    assert parts[-1][1] == 0
    for lower, upper in itertools.pairwise(parts):
        assert upper[1] + upper[3] - lower[1] == 80


def test_queue_is_bounded_newest_first_and_drops_regions_that_change_again():
    queue = RegionQueue(capacity=2, max_age=5.0)
    for i in range(3):
        queue.push(Settled(t=float(i), rect=(i * 100, 0, 50, 50), changed_at=0.0))
    assert len(queue) == 2 and queue.dropped == 1
    queue.invalidate([(210, 10, 5, 5)])  # the newest region changed again
    assert queue.pop(3.0).rect == (100, 0, 50, 50)
    assert queue.pop(3.0) is None
    queue.push(Settled(t=0.0, rect=(0, 0, 1, 1), changed_at=0.0))
    assert queue.pop(10.0) is None  # stale


def test_screen_frames_are_localized_as_test_failures_are(tmp_path):
    """tools/localize.py's order: a changed line the traceback runs through (even in a helper
    above the innermost frame), else the deepest non-test frame, else the innermost repo frame."""
    for name in ("app.py", "helpers.py", "test_app.py"):
        (tmp_path / name).write_text("".join(f"line{i}\n" for i in range(60)))
    frames = [Frame("/elsewhere/test_app.py", 3, "test_it"), Frame(str(tmp_path / "app.py"), 42, "run"),
              Frame("./helpers.py", 7, "parse"), Frame("/usr/lib/python3.11/json/decoder.py", 355, "decode")]
    changes = ChangeLog()
    assert pick_frame(frames, tmp_path, changes)[:2] == (frames[2], "helpers.py")  # deepest
    changes.record("app.py", "--- a/app.py\n+++ b/app.py\n@@ -42,1 +42,1 @@\n-old\n+new\n", 5.0)
    assert pick_frame(frames, tmp_path, changes) == (frames[1], "app.py", 5.0)  # the changed line
    only_tests = [frames[0], frames[3]]
    assert pick_frame(only_tests, tmp_path, changes)[:2] == (frames[0], "test_app.py")
    assert pick_frame([frames[3]], tmp_path, changes) == (frames[3], None, None)


def test_repo_path_matches_absolute_paths_from_elsewhere_by_their_tail(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "app.py").write_text("x = 1\n")
    assert repo_path(str(tmp_path / "pkg" / "app.py"), tmp_path) == "pkg/app.py"
    assert repo_path("/home/someone/else/pkg/app.py", tmp_path) == "pkg/app.py"
    assert repo_path("/usr/lib/python3.11/json/decoder.py", tmp_path) is None


def test_summary_names_file_line_and_the_recent_change():
    text = compose_summary("python", "KeyError", "'user_id'", "app.py", 42, "<module>", 70.0)
    assert text == ("the script in your terminal raised KeyError 'user_id' in app.py line 42, "
                    "which you changed a minute ago")
    assert len(compose_summary("python", "ValueError", "x " * 40, "a.py", 1).split()) <= 25
    assert compose_summary("rust", "E0308", "mismatched types", "src/main.rs", 14) == \
        "the compiler in your terminal reports mismatched types in src/main.rs line 14"


def test_context_from_an_editor_title_and_the_definition_above_the_cursor():
    assert file_from_title("app.py - Visual Studio Code") == "app.py"
    assert file_from_title("vim 9.1") == ""
    text = "import os\n\ndef load(path):\n    return 1\n\nclass Cache:\n    def get(self, key):\n        pass"
    assert definition_near(text) == "def get"
    assert definition_near(text, line=3) == "def load"
    assert context_line("* stats.py (~/proj) - gedit", text) == "stats.py: def get"


class Recorder:
    def __init__(self):
        self.events = []

    def __call__(self, event):
        self.events.append(event)


TRACEBACK = ('Traceback (most recent call last):\n  File "{root}/app.py", line 3, in <module>\n'
             "    main()\nKeyError: 'user_id'")


def test_reader_reports_an_error_once_with_the_change_that_caused_it(tmp_path):
    (tmp_path / "app.py").write_text("a\nb\nmain()\n")
    events, now = Recorder(), [100.0]
    reader = ScreenReader(events, tmp_path, mode="errors", clock=lambda: now[0])
    reader.process(FileChanged(t=40.0, path="app.py", kind="modified",
                                diff="@@ -3,1 +3,1 @@\n-x\n+main()\n"))
    text = TRACEBACK.format(root="/elsewhere")
    reader.read_text(text, 0.9, (0, 0, 400, 200))
    now[0] = 101.0
    reader.read_text("$ ls\n" + text, 0.9, (0, 0, 400, 240))  # scrolled: the same error
    errors = [e for e in events.events if isinstance(e, ScreenError)]
    assert len(errors) == 1
    assert (errors[0].file, errors[0].line, errors[0].in_repo) == ("app.py", 3, True)
    assert errors[0].summary == ("the script in your terminal raised KeyError 'user_id' in app.py "
                                 "line 3, which you changed a minute ago")
    assert not [e for e in events.events if isinstance(e, ScreenText)]  # "errors" mode: no text


def test_reader_in_all_mode_passes_redacted_text_and_a_context_line_every_few_seconds(tmp_path):
    events, now = Recorder(), [10.0]
    reader = ScreenReader(events, tmp_path, mode="all", clock=lambda: now[0],
                          titles=lambda x, y: "stats.py - editor")
    secret = "token = 'ghp_" + "a" * 36 + "'"
    reader.read_text(f"def median(xs):\n    {secret}", 0.8, (0, 0, 100, 100))
    now[0] = 11.0
    reader.read_text("def mean(xs):", 0.8, (0, 0, 100, 100))
    texts = [e for e in events.events if isinstance(e, ScreenText)]
    assert [t.context for t in texts] == ["stats.py: def median", ""]
    assert "ghp_" not in texts[0].text and "def median" in texts[0].text


def test_reader_refuses_off_and_unknown_modes(tmp_path):
    for mode in ("off", "titles"):
        with pytest.raises(ValueError, match="screen read mode"):
            ScreenReader(Recorder(), tmp_path, mode=mode)


def test_screen_read_key_in_the_rules_file(tmp_path):
    from companion.rules.config_errors import ConfigError
    from companion.rules.store import load_rules
    path = tmp_path / ".companion.toml"
    path.write_text('[screen]\nread = "off"\n')
    assert load_rules([path], ("companion-dark",)).screen.read == "off"
    path.write_text('[screen]\nread = "everything"\n')
    with pytest.raises(ConfigError, match='unknown screen read mode "everything"'):
        load_rules([path], ("companion-dark",))


def test_see_lines_carry_error_summaries_and_the_context_line():
    from companion.core.protocol import Chunk, serialize_chunk
    error = ScreenError(t=1.0, language="python", exception="KeyError", message="'k'",
                        summary="the script in your terminal raised KeyError 'k' in app.py line 4")
    context = ScreenText(t=1.1, x=0, y=0, width=10, height=10, text="", confidence=0.9,
                         context="app.py: def main")
    chunk = Chunk(tick=5, t=1.0, screen_errors=(error,), screen_text=(context,))
    assert not chunk.is_empty()
    text = serialize_chunk(chunk, features=False).text
    assert text == ("<|t|>1.0<|see|>error the script in your terminal raised KeyError 'k' in "
                    "app.py line 4<|see|>app.py: def main<|out|>")


def test_screen_text_and_errors_survive_a_user_recording(tmp_path):
    from companion.record.recorder import Recorder, read_recording
    error = ScreenError(t=501.0, language="rust", exception="E0308", message="mismatched types",
                        file="src/main.rs", line=14, in_repo=True, summary="the compiler ...")
    text = ScreenText(t=501.5, x=0, y=40, width=400, height=120, text="fn main() {}",
                      confidence=0.93, window="main.rs - editor", context="main.rs: fn main")
    rec = Recorder(tmp_path / "rec", t0=500.0)
    rec.put(error)
    rec.put(text)
    rec.close()
    assert list(read_recording(tmp_path / "rec", t0=500.0)) == [error, text]


def test_reader_harness_frames_in_settled_region_read_events_out(tmp_path):
    """Frames through `on_frame` (no display): the settled region's pixels, exactly, reach the
    engine once, on the worker thread, and its text becomes one ScreenError."""
    import threading

    from companion.streams.ocr_engine import OcrLine, OcrText
    from companion.streams.screen_tiles import changed_counts

    seen, done = [], threading.Event()

    class Engine:
        def read(self, rgb):
            seen.append(rgb.copy())
            done.set()
            return OcrText((OcrLine(TRACEBACK.format(root="/x"), 0.9, 0),))

    events = Recorder()
    reader = ScreenReader(events, tmp_path, engine=Engine, clock=lambda: 1.2)  # frame times
    blank = np.zeros((200, 400, 4), np.uint8)
    shown = blank.copy()
    shown[50:70, 60:200] = (10, 20, 30, 255)  # BGRA text-ish block
    reader.start()
    try:
        reader.on_frame(0.0, blank, None)
        reader.on_frame(0.5, shown, changed_counts(blank, shown))
        reader.on_frame(1.0, shown, None)
        assert done.wait(10)
    finally:
        reader.stop()
    (pixels,) = seen
    assert pixels.shape == (120, 240, 3)  # tiles (1,1)-(1,4) padded by one: y 0..120, x 0..240
    assert (pixels[50:70, 60:200] == (30, 20, 10)).all() and pixels[:50].max() == 0
    assert [type(e) for e in events.events] == [ScreenError]


def test_a_moving_snapshot_waits_in_the_queue_while_its_region_keeps_changing():
    queue = RegionQueue(capacity=4)
    queue.push(Settled(t=1.5, rect=(0, 0, 100, 100), changed_at=1.5, moving=True))
    queue.push(Settled(t=1.5, rect=(200, 0, 100, 100), changed_at=1.0))
    queue.invalidate([(10, 10, 5, 5), (210, 10, 5, 5)])
    assert [i.rect for i in [queue.pop(2.0)]] == [(0, 0, 100, 100)] and queue.pop(2.0) is None
