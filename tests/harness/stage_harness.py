"""StageHarness: drive one stage with timed events and collect what it emits — no devices, no server.

A stage (DESIGN §2) consumes events and emits events. The harness plays a timeline on a fake
clock: at each entry's time it moves the clock there, then delivers the event to the sinks the
stage attached (`attach`), or calls the entry (a step like `policy.may_say("hi")`) and keeps its
result. What the stage emits goes to `harness.emit`, collected in `harness.emitted`.

    harness = StageHarness()
    policy = SpeechPolicy(harness.emit, repo, clock=harness.clock.now)
    harness.attach(policy.user_spoke)
    results = harness.play([(0.0, UserWords(0.0, "wait", final=True)),
                            (0.5, lambda: policy.may_say("now"))])

Asyncio stages that sleep take `harness.clock.sleep`: it advances fake time at once, so a
backoff of 0.5 + 1 + 2 s costs nothing and is recorded in `clock.slept`. `run_turns` drives
micro-turns: timed events into a MicroTurnClock on the fake clock, each closed window handed to
a step function (TurnLoop.step).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

Timeline = Iterable[tuple[float, Any]]


class FakeClock:
    """Monotonic time that moves only when told to (or when a stage sleeps on it)."""

    def __init__(self, start: float = 0.0) -> None:
        self.t = start
        self.slept: list[float] = []  # every delay a stage slept, in order

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        assert seconds >= 0, "monotonic time never goes back"
        self.t += seconds

    def move_to(self, t: float) -> None:
        self.t = max(self.t, t)

    async def sleep(self, seconds: float) -> None:
        """asyncio.sleep on fake time: records the delay, advances, yields once to the loop."""
        self.slept.append(seconds)
        self.t += max(0.0, seconds)
        await asyncio.sleep(0)


class StageHarness:
    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self.emitted: list[Any] = []
        self._sinks: list[Callable[[Any], Any]] = []

    # --- the stage's side ---------------------------------------------------------------------
    def emit(self, event: Any) -> None:
        """The sink a stage emits into."""
        self.emitted.append(event)

    def attach(self, sink: Callable[[Any], Any]) -> None:
        """A stage input: every event the timeline plays is delivered to it."""
        self._sinks.append(sink)

    # --- the test's side ----------------------------------------------------------------------
    def of(self, *types: type) -> list[Any]:
        """The emitted events of these types, in order."""
        return [e for e in self.emitted if isinstance(e, types)]

    def _deliver(self, item: Any) -> Any:
        if callable(item):
            return item()
        for sink in self._sinks:
            sink(item)
        return None

    def play(self, timeline: Timeline) -> list[Any]:
        """Play (time, event or step) entries in time order; the results of the steps."""
        results = []
        for t, item in sorted(timeline, key=lambda entry: entry[0]):
            self.clock.move_to(t)
            result = self._deliver(item)
            if callable(item):
                results.append(result)
        return results

    async def aplay(self, timeline: Timeline) -> list[Any]:
        """`play` for stages whose steps are coroutines (awaited in order, on fake time)."""
        results = []
        for t, item in sorted(timeline, key=lambda entry: entry[0]):
            self.clock.move_to(t)
            result = self._deliver(item)
            if inspect.isawaitable(result):
                result = await result
            if callable(item):
                results.append(result)
        return results

    async def run_turns(self, clock, step: Callable[[Any], Awaitable[Any]], timeline: Timeline,
                        turns: int) -> list[Any]:
        """Run `turns` micro-turns: each timeline event goes into `clock` (a MicroTurnClock made
        with now=harness.clock.now, sleep=harness.clock.sleep, started) when fake time reaches
        it; each window the clock hands out goes to `step`. Returns the steps' results."""
        pending = sorted(timeline, key=lambda entry: entry[0])
        results = []
        for _ in range(turns):
            window_end = clock.t0 + (clock.stats().ticks + 1) * clock.period
            while pending and pending[0][0] < window_end:
                t, event = pending.pop(0)
                self.clock.move_to(t)
                clock.put(event)
                for sink in self._sinks:
                    sink(event)
            chunk = await clock.next_chunk()
            results.append(await step(chunk))
        return results
