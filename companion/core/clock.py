"""MicroTurnClock: gathers timestamped events into one Chunk per 200 ms window.

Window k covers [t0 + k·period, t0 + (k+1)·period) on the monotonic clock. Events are
assigned to windows by their own timestamp, so a recording replayed through the clock gives
the same chunks every time. An event that arrives after its window was handed out joins the
next one (never dropped). When the consumer falls behind, every window that closed meanwhile is
coalesced into one chunk (`ticks` > 1, counted as late), so nothing queues without bound.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from companion.core.events import (
    MICRO_TURN_S,
    Event,
)
from companion.core.protocol import CHUNK_FIELDS, Chunk

# Events of the types in CHUNK_FIELDS make up a chunk; anything else (StreamState, ModelTurn,
# ...) is ignored.
# High-rate streams keep only their newest items while the consumer is behind: a 10 s backlog of
# audio and the last few screen frames (later frames supersede earlier tiles anyway).
# File changes are kept far longer: a generator writing 30k files must not push a real edit out
# (the chunk summarizes the flood in one line).
_BACKLOG_CAP: dict[str, int] = {"audio": 50, "screen": 8, "files": 50_000}
_OTHER_CAP = 2000


def backlog_cap(field: str) -> int:
    """How many items of a chunk field (Chunk's names) a backlog keeps, newest first."""
    return _BACKLOG_CAP.get(field, _OTHER_CAP)


@dataclass(frozen=True, slots=True)
class ClockStats:
    chunks: int
    ticks: int
    late_ticks: int
    dropped_backlog: int


class MicroTurnClock:
    """Collects events from any thread (`put`) and hands out chunks on the asyncio side.

    As a stage it consumes every event type a chunk is made of; its output is not an event but
    the chunk the interaction loop awaits (`next_chunk`)."""

    consumes = tuple(CHUNK_FIELDS)
    emits = ()

    def __init__(
        self,
        period: float = MICRO_TURN_S,
        *,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        assert period > 0
        self.period = period
        self._now = now
        self._sleep = sleep
        self._lock = threading.Lock()
        self._pending: dict[str, deque] = {name: deque() for name in CHUNK_FIELDS.values()}
        self.t0: float | None = None
        self._next_tick = 0
        self._chunks = 0
        self._late_ticks = 0
        self._dropped = 0

    def start(self, t0: float | None = None) -> None:
        self.t0 = self._now() if t0 is None else t0
        self._next_tick = 0

    def now(self) -> float:
        """The clock's time source (monotonic seconds; virtual in replays and tests)."""
        return self._now()

    def put(self, event: Event) -> None:
        """Thread-safe, non-blocking: the sink every stream emits into."""
        name = CHUNK_FIELDS.get(type(event))
        if name is None:
            return
        with self._lock:
            queue = self._pending[name]
            queue.append(event)
            if len(queue) > backlog_cap(name):
                queue.popleft()
                self._dropped += 1

    process = put

    def stats(self) -> ClockStats:
        return ClockStats(self._chunks, self._next_tick, self._late_ticks, self._dropped)

    def _window_end(self, tick: int) -> float:
        assert self.t0 is not None, "start() the clock first"
        return self.t0 + (tick + 1) * self.period

    async def next_chunk(self) -> Chunk:
        """Wait for the next window to close; return it, coalesced with any others that closed."""
        tick = self._next_tick
        delay = self._window_end(tick) - self._now()
        if delay > 0:
            await self._sleep(delay)
        closed = math.floor((self._now() - self.t0) / self.period + 1e-9)
        ticks = max(1, closed - tick)
        self._late_ticks += ticks - 1
        self._next_tick = tick + ticks
        return self._take(tick, ticks)

    def window_of(self, t: float) -> int:
        """The window index of time t; the small epsilon makes exact boundaries land the same
        way whatever t0 is (a recording replayed from 0.0 or from a live monotonic time)."""
        return math.floor((t - self.t0) / self.period + 1e-6)

    def _take(self, tick: int, ticks: int) -> Chunk:
        end = tick + ticks
        parts: dict[str, tuple] = {}
        with self._lock:
            for name, queue in self._pending.items():
                ready = [e for e in queue if self.window_of(e.t) < end]
                if ready:
                    keep = [e for e in queue if self.window_of(e.t) >= end]
                    queue.clear()
                    queue.extend(keep)
                parts[name] = tuple(sorted(ready, key=lambda e: e.t))
        self._chunks += 1
        return Chunk(tick=tick, t=round(tick * self.period, 6), ticks=ticks, **parts)


class VirtualTime:
    """A monotonic clock that only moves when slept on: replays run as fast as possible."""

    def __init__(self, start: float = 0.0) -> None:
        self.value = start

    def now(self) -> float:
        return self.value

    async def sleep(self, seconds: float) -> None:
        self.value += max(0.0, seconds)
        await asyncio.sleep(0)
