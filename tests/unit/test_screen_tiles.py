"""The screen diff core and ScreenWatch fed synthetic frames: exactly which tiles come out."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from companion.core.events import ScreenPatches, StreamState
from companion.streams.screen import ScreenWatch
from companion.streams.screen_tiles import (
    TileDiff,
    changed_counts,
    cut_patches,
    mask_regions,
    pick_tiles,
)


def bgra(rgb: np.ndarray) -> np.ndarray:
    """An (H, W, 4) BGRA frame, mss's layout, from an (H, W, 3) RGB image."""
    out = np.full(rgb.shape[:2] + (4,), 255, dtype=np.uint8)
    out[..., :3] = rgb[..., ::-1]
    return out


def editor_frame(height=200, width=320, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rgb = np.full((height, width, 3), 30, dtype=np.uint8)
    rgb[::12, :, :] = rng.integers(0, 255, (len(range(0, height, 12)), width, 3), dtype=np.uint8)
    return bgra(rgb)


def test_single_pixel_change_yields_exactly_its_tile():
    a = editor_frame()
    b = a.copy()
    b[87, 123, 1] ^= 0x01  # one bit of one pixel: a one-character change is far larger than this
    counts = changed_counts(a, b)
    assert counts.shape == (5, 8)
    assert np.argwhere(counts).tolist() == [[2, 3]] and counts[2, 3] == 1


def test_glyph_across_a_tile_border_yields_both_tiles_and_exact_rgb_pixels():
    diff = TileDiff()
    a = editor_frame()
    assert diff.step(a) is None  # the first frame is only the reference
    b = a.copy()
    b[50:62, 36:44, :3] = (10, 200, 250)  # an 8x12 glyph straddling x=40
    patches, dropped = diff.step(b)
    assert dropped == 0
    assert [(p.x, p.y) for p in patches] == [(0, 40), (40, 40)]
    expected_rgb = b[40:80, 40:80, 2::-1]
    assert patches[1].pixels.dtype == np.uint8 and patches[1].pixels.shape == (40, 40, 3)
    assert np.array_equal(patches[1].pixels, expected_rgb)
    assert diff.step(b.copy()) is None  # unchanged frame: nothing


def test_edge_tiles_are_padded_with_black():
    a = editor_frame(height=90, width=130)  # 3x4 tiles, the last row/column partial
    b = a.copy()
    b[85, 125] = (1, 2, 3, 255)
    counts = changed_counts(a, b)
    assert counts.shape == (3, 4) and np.argwhere(counts).tolist() == [[2, 3]]
    (patch,) = cut_patches(b, [(2, 3)])
    assert (patch.x, patch.y) == (120, 80)
    assert np.array_equal(patch.pixels[:10, :10], b[80:90, 120:130, 2::-1])
    assert not patch.pixels[10:].any() and not patch.pixels[:, 10:].any()


def test_cap_keeps_the_most_changed_tiles_in_reading_order():
    counts = np.zeros((3, 3), dtype=np.int64)
    counts[0, 0], counts[0, 2], counts[1, 1], counts[2, 0] = 5, 1, 9, 7
    tiles, dropped = pick_tiles(counts, 2)
    assert (tiles, dropped) == ([(1, 1), (2, 0)], 2)
    assert pick_tiles(counts, 10) == ([(0, 0), (0, 2), (1, 1), (2, 0)], 0)


def test_masking_blanks_pixels_so_changes_inside_never_leave():
    diff = TileDiff()
    a = editor_frame()
    mask_regions(a, [(40, 40, 80, 80), (300, 190, 100, 100)])  # the second one is clipped
    assert not a[40:120, 40:120].any() and not a[190:, 300:].any()
    diff.step(a)
    b = editor_frame(seed=1)  # everything changed ...
    mask_regions(b, [(40, 40, 80, 80), (300, 190, 100, 100)])
    patches, _ = diff.step(b)
    positions = {(p.x, p.y) for p in patches}
    assert {(40, 40), (80, 40), (40, 80), (80, 80)}.isdisjoint(
        positions
    )  # ... but the masked tiles
    (corner,) = [p for p in patches if (p.x, p.y) == (280, 160)]  # partly masked tile
    assert not corner.pixels[30:, 20:].any() and corner.pixels[:30].any()


def test_bad_frames_are_rejected_with_the_shape():
    with pytest.raises(ValueError, match=r"frames differ in shape: \(40, 40, 4\) vs \(40, 80, 4\)"):
        changed_counts(np.zeros((40, 40, 4), np.uint8), np.zeros((40, 80, 4), np.uint8))
    with pytest.raises(ValueError, match="expected \\(H, W, 4\\) uint8 BGRA"):
        changed_counts(np.zeros((40, 40, 3), np.uint8), np.zeros((40, 40, 3), np.uint8))
    with pytest.raises(ValueError, match="fps must be in"):
        ScreenWatch(lambda e: None, fps=0)


class _Shot:
    def __init__(self, frame: np.ndarray) -> None:
        self.raw = bytearray(frame.tobytes())
        self.height, self.width = frame.shape[:2]


class _ScriptedGrabber:
    """Plays a list of frames through ScreenWatch's capture loop, standing in for mss."""

    def __init__(self, frames: list[np.ndarray]) -> None:
        self.frames, self.grabs, self.closed = frames, 0, False
        self.monitors = [{"left": 0, "top": 0, "width": 320, "height": 200}] * 2

    def grab(self, area):
        frame = self.frames[min(self.grabs, len(self.frames) - 1)]
        self.grabs += 1
        return _Shot(frame)

    def close(self):
        self.closed = True


def _run_watch(frames, **kwargs) -> list:
    events, lock = [], threading.Lock()

    def sink(event):
        with lock:
            events.append(event)

    grabber = _ScriptedGrabber(frames)
    watch = ScreenWatch(sink, fps=30, open_grabber=lambda: grabber, **kwargs)
    watch.start()
    deadline = time.monotonic() + 10
    while grabber.grabs < len(frames) + 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    watch.stop()
    assert grabber.closed
    return events


def test_screenwatch_masks_excluded_region_in_screen_coordinates(monkeypatch):
    monkeypatch.setenv("DISPLAY", ":fake")
    a = editor_frame()
    b = a.copy()
    b[10:20, 10:20, :3] = 255  # inside the excluded rectangle: must never come out
    b[150:160, 250:260, :3] = 255  # outside: must come out
    events = _run_watch([a, b], exclude_regions=[(0, 0, 60, 60)])
    sent = [e for e in events if isinstance(e, ScreenPatches)]
    assert [(p.x, p.y) for e in sent for p in e.patches] == [(240, 120)]
    assert sent[0].frame == 1 and (sent[0].width, sent[0].height) == (320, 200)
    assert [e.status for e in events if isinstance(e, StreamState)] == ["live", "stopped"]


def test_screenwatch_without_display_reports_unavailable_and_does_not_raise(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    events: list = []
    watch = ScreenWatch(events.append)
    watch.start()
    watch._thread.join(5)
    watch.stop()
    assert [(e.stream, e.status, e.reason) for e in events] == [
        ("screen", "unavailable", "no display: DISPLAY is not set")
    ]


def test_screenwatch_reports_a_failing_capture_backend(monkeypatch):
    monkeypatch.setenv("DISPLAY", ":fake")
    events: list = []

    def broken():
        raise RuntimeError("XOpenDisplay() failed")

    watch = ScreenWatch(events.append, open_grabber=broken)
    watch.start()
    watch._thread.join(5)
    assert [(e.status, e.reason) for e in events] == [
        ("unavailable", "no display: DISPLAY=:fake: XOpenDisplay() failed")
    ]


def test_capped_frame_reports_dropped_tiles():
    diff = TileDiff(max_patches=3)
    a = editor_frame()
    diff.step(a)
    b = a.copy()
    b[0:40, 0:200, :3] = 255 - b[0:40, 0:200, :3]  # five tiles change, one of them more
    b[0:5, 0:40, :3] = 255 - b[0:5, 0:40, :3]  # undo part of the first: it changes least
    patches, dropped = diff.step(b)
    assert dropped == 2 and len(patches) == 3
    assert (0, 0) not in {(p.x, p.y) for p in patches}


def test_pause_stops_grabbing_and_resume_reports_the_change(monkeypatch):
    monkeypatch.setenv("DISPLAY", ":fake")
    events, lock = [], threading.Lock()

    def sink(event):
        with lock:
            events.append(event)

    a = editor_frame()
    b = a.copy()
    b[100:110, 100:110, :3] = 0
    grabber = _ScriptedGrabber([a])
    watch = ScreenWatch(sink, fps=30, open_grabber=lambda: grabber)
    watch.start()
    deadline = time.monotonic() + 10
    while grabber.grabs < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    watch.pause()
    time.sleep(0.1)  # a frame in flight when pausing may still land
    paused_at = grabber.grabs
    grabber.frames = [b]
    time.sleep(0.3)
    assert grabber.grabs == paused_at  # nothing is captured while paused
    watch.resume()
    while not any(isinstance(e, ScreenPatches) for e in events) and time.monotonic() < deadline:
        time.sleep(0.01)
    watch.stop()
    sent = [e for e in events if isinstance(e, ScreenPatches)]
    assert [(p.x, p.y) for p in sent[0].patches] == [(80, 80)]
    states = [e.status for e in events if isinstance(e, StreamState)]
    assert states == ["live", "paused", "live", "stopped"]
