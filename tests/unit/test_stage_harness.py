"""The stage harness itself: timelines play in time order on the fake clock, stage steps see that
time, and micro-turns get exactly the events of their window (so a wrong harness cannot make
the stage tests pass)."""

from __future__ import annotations

from companion.core.clock import MicroTurnClock
from companion.core.events import TypedText
from tests.harness.stage_harness import FakeClock, StageHarness


def test_play_delivers_events_and_runs_steps_in_time_order_at_their_time():
    harness, seen = StageHarness(), []
    harness.attach(lambda e: seen.append((harness.clock.now(), e.text)))
    results = harness.play([(2.0, lambda: harness.clock.now()), (1.0, TypedText(1.0, "a")),
                            (0.5, TypedText(0.5, "b"))])
    assert seen == [(0.5, "b"), (1.0, "a")] and results == [2.0]
    harness.emit(TypedText(3.0, "out"))
    assert harness.of(TypedText) == [TypedText(3.0, "out")]


async def test_fake_sleep_advances_time_at_once_and_records_the_delay():
    clock = FakeClock(10.0)
    await clock.sleep(0.5)
    await clock.sleep(2.0)
    assert clock.now() == 12.5 and clock.slept == [0.5, 2.0]


async def test_run_turns_puts_each_event_in_its_own_window():
    harness = StageHarness()
    clock = MicroTurnClock(now=harness.clock.now, sleep=harness.clock.sleep)
    clock.start(0.0)

    async def step(chunk):
        return chunk.tick, [t.text for t in chunk.typed]

    got = await harness.run_turns(clock, step, [(0.05, TypedText(0.05, "a")),
                                                (0.19, TypedText(0.19, "b")),
                                                (0.45, TypedText(0.45, "c"))], 3)
    assert got == [(0, ["a", "b"]), (1, []), (2, ["c"])]
    assert clock.stats().late_ticks == 0
