"""Which screen regions changed and then stayed still, and the bounded queue they wait in for OCR.

Pure: fed per-tile change counts (ScreenWatch's 40x40 grid) and times, it says which regions
settled. A region is a connected group of changed tiles (touching ones join, so a paragraph is one
region) padded by a tile so text cut at a tile edge is whole; it settles when none of its tiles
changed for `settle` seconds. A blinking cursor (a small change every ~0.5 s) does not hold a
region back. A region that never settles (`tail -f`, a test run printing for minutes) is read
anyway once it has been changing for `max_wait` seconds, and again every `max_wait` while it
keeps changing, so an error printed into a moving terminal is still seen.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from companion.streams.screen_tiles import TILE, Rect

_BLINK_PIXELS = 400  # a cursor cell at common sizes is ~8x17..12x26 pixels; typing changes more often


@dataclass(frozen=True, slots=True)
class Settled:
    """A region whose pixels stopped changing at `t` (time of its last change + settle)."""

    t: float
    rect: Rect  # x, y, width, height in frame pixels
    changed_at: float  # its last change: a screen error's appearance is measured from here
    moving: bool = False  # read after max_wait while still changing: a snapshot, not settled


class SettleTracker:
    def __init__(self, *, settle: float = 0.5, max_wait: float = 1.5, tile: int = TILE,
                 pad: int = 1) -> None:
        if settle <= 0:
            raise ValueError(f"settle must be positive seconds, got {settle}")
        if max_wait < settle:
            raise ValueError(f"max_wait must be at least settle ({settle} s), got {max_wait}")
        self.settle, self.max_wait, self.tile, self.pad = settle, max_wait, tile, pad
        self._last: np.ndarray | None = None  # last change time per tile, -inf when clean
        self._since: np.ndarray | None = None  # when each dirty tile became dirty
        self._small_runs: np.ndarray | None = None  # consecutive small periodic changes per tile
        self._dirty: np.ndarray | None = None
        self._shape: tuple[int, int] = (0, 0)

    def step(self, t: float, counts: np.ndarray | None, frame_size: tuple[int, int]) -> list[Settled]:
        """One captured frame: `counts` is changed pixels per tile (None: nothing changed);
        `frame_size` is (width, height). Returns the regions that settled by `t`."""
        grid = (-(-frame_size[1] // self.tile), -(-frame_size[0] // self.tile))
        if self._last is None or self._last.shape != grid:
            self._last = np.full(grid, -np.inf)
            self._since = np.full(grid, np.inf)
            self._small_runs = np.zeros(grid, dtype=np.int32)
            self._dirty = np.zeros(grid, dtype=bool)
            self._shape = frame_size
        if counts is not None:
            if counts.shape != grid:
                raise ValueError(f"tile counts {counts.shape} do not match the frame's grid {grid}")
            changed = counts > 0
            small = changed & (counts <= _BLINK_PIXELS)
            self._small_runs[small] += 1
            self._small_runs[changed & ~small] = 0
            newly = changed & (self._small_runs < 3) & ~self._dirty
            self._since[newly] = t
            self._dirty |= newly
            self._last[changed] = t
        # frames come every 0.5 s give or take a few ms: a 0.5 s settle must mean "one still
        # frame", not sometimes two, so allow a tenth of it in jitter
        ready = self._dirty & (t - self._last >= self.settle * 0.9)
        # a tile that only blinks (3+ small changes in a row) never holds its region back
        quiet = ready | (self._dirty & (self._small_runs >= 3))
        out = []
        for tiles in _components(self._dirty):
            settled = all(quiet[r, c] for r, c in tiles)
            if settled or t - min(self._since[r, c] for r, c in tiles) >= self.max_wait:
                out.append(self._region(t, tiles, moving=not settled))
                for r, c in tiles:
                    self._dirty[r, c] = False
                    self._since[r, c] = np.inf
        return out

    def _region(self, t: float, tiles: list[tuple[int, int]], moving: bool) -> Settled:
        rows, cols = [r for r, _ in tiles], [c for _, c in tiles]
        width, height = self._shape
        x0 = max(0, (min(cols) - self.pad) * self.tile)
        y0 = max(0, (min(rows) - self.pad) * self.tile)
        x1 = min(width, (max(cols) + 1 + self.pad) * self.tile)
        y1 = min(height, (max(rows) + 1 + self.pad) * self.tile)
        changed_at = float(max(self._last[r, c] for r, c in tiles))
        return Settled(t=t, rect=(x0, y0, x1 - x0, y1 - y0), changed_at=changed_at, moving=moving)


def _components(mask: np.ndarray) -> list[list[tuple[int, int]]]:
    """8-connected groups of True cells, joined across one-cell gaps (words on a line)."""
    todo = set(zip(*np.nonzero(mask)))
    groups = []
    while todo:
        seed = todo.pop()
        group, stack = [seed], [seed]
        while stack:
            r, c = stack.pop()
            for dr in (-2, -1, 0, 1, 2):
                for dc in (-2, -1, 0, 1, 2):
                    n = (r + dr, c + dc)
                    if n in todo:
                        todo.remove(n)
                        group.append(n)
                        stack.append(n)
        groups.append([(int(r), int(c)) for r, c in group])
    return groups


def bands(rect: Rect, height: int = 360, overlap: int = 80) -> list[Rect]:
    """A tall region as horizontal bands, bottom first (a terminal's newest lines are at the
    bottom), overlapping so no text line is only ever cut in half."""
    x, y, w, h = rect
    if h <= height:
        return [rect]
    out, bottom = [], y + h
    while bottom > y:
        top = max(y, bottom - height)
        out.append((x, top, w, bottom - top))
        if top == y:
            break
        bottom = top + overlap
    return out


def overlaps(a: Rect, b: Rect) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


class RegionQueue:
    """Newest-first work for the OCR worker; never longer than `capacity` (the oldest goes), and a
    waiting region whose pixels change again is dropped (it will settle again, newer) — unless it
    is a snapshot of a region that keeps moving (`moving`), which would otherwise never be read."""

    def __init__(self, capacity: int = 6, max_age: float = 10.0) -> None:
        if capacity < 1:
            raise ValueError(f"queue capacity must be at least 1, got {capacity}")
        self.capacity, self.max_age = capacity, max_age
        self._items: deque = deque()
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._items)

    def push(self, item) -> None:
        """`item` has `.rect` and `.t`; newest goes to the front."""
        self._items.appendleft(item)
        while len(self._items) > self.capacity:
            self._items.pop()
            self.dropped += 1

    def invalidate(self, changed: list[Rect]) -> None:
        keep = [i for i in self._items
                if getattr(i, "moving", False) or not any(overlaps(i.rect, c) for c in changed)]
        self.dropped += len(self._items) - len(keep)
        self._items = deque(keep)

    def pop(self, now: float):
        """The newest region still fresh enough to be worth reading, or None."""
        while self._items:
            item = self._items.popleft()
            if now - item.t <= self.max_age:
                return item
            self.dropped += 1
        return None
