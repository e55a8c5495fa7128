"""MicroTurnClock: windows by timestamp, late events, coalescing, bounded backlog."""

from __future__ import annotations

import numpy as np

from companion.core.clock import MicroTurnClock, VirtualTime
from companion.core.events import AudioBlock, ModelTurn, ScreenPatches, StreamState, TypedText


def make_clock() -> tuple[MicroTurnClock, VirtualTime]:
    vt = VirtualTime(100.0)
    clock = MicroTurnClock(0.2, now=vt.now, sleep=vt.sleep)
    clock.start()
    return clock, vt


async def test_events_land_in_the_window_of_their_timestamp():
    clock, _ = make_clock()
    for t in (100.05, 100.19, 100.21, 100.45):
        clock.put(TypedText(t, f"at {t}"))
    c0, c1, c2 = [await clock.next_chunk() for _ in range(3)]
    assert [e.text for e in c0.typed] == ["at 100.05", "at 100.19"]
    assert [e.text for e in c1.typed] == ["at 100.21"]
    assert [e.text for e in c2.typed] == ["at 100.45"]
    assert (c0.tick, c0.t, c1.t, c2.t) == (0, 0.0, 0.2, 0.4)
    assert clock.stats().late_ticks == 0


async def test_an_event_that_arrives_late_joins_the_next_chunk():
    clock, _ = make_clock()
    first = await clock.next_chunk()
    clock.put(TypedText(100.1, "late"))  # its window was already handed out
    second = await clock.next_chunk()
    assert first.typed == () and [e.text for e in second.typed] == ["late"]


async def test_a_slow_consumer_gets_one_coalesced_chunk_and_late_ticks_are_counted():
    clock, vt = make_clock()
    await clock.next_chunk()
    for i in range(5):
        clock.put(TypedText(100.2 + 0.2 * i + 0.01, str(i)))
    vt.value += 1.0  # the consumer was busy for a second
    chunk = await clock.next_chunk()
    assert chunk.tick == 1 and chunk.ticks == 5
    assert [e.text for e in chunk.typed] == ["0", "1", "2", "3", "4"]
    assert clock.stats().late_ticks == 4
    nxt = await clock.next_chunk()
    assert nxt.tick == 6 and nxt.ticks == 1


async def test_non_chunk_events_are_ignored():
    clock, _ = make_clock()
    clock.put(StreamState(100.0, "screen", "live"))
    clock.put(ModelTurn(100.0, 0, "silence"))
    assert (await clock.next_chunk()).is_empty()


async def test_high_rate_backlog_is_bounded():
    clock, vt = make_clock()
    block = dict(samples=np.zeros(3200, np.float32), level=-60.0, dmel=np.zeros((16, 80), np.uint8))
    for i in range(500):
        clock.put(AudioBlock(100.0 + 0.2 * i, **block))
        clock.put(ScreenPatches(100.0 + 0.2 * i, i, 10, 10, ()))
    vt.value += 120
    chunk = await clock.next_chunk()
    assert len(chunk.audio) == 50 and len(chunk.screen) == 8
    assert chunk.audio[-1].t == 100.0 + 0.2 * 499
    assert clock.stats().dropped_backlog == 450 + 492


async def test_same_events_give_the_same_chunks_every_time():
    def run() -> list[tuple]:
        import asyncio
        clock, _ = make_clock()
        for i in range(40):
            clock.put(TypedText(100.0 + 0.037 * i, str(i)))

        async def go():
            return [tuple(e.text for e in (await clock.next_chunk()).typed) for _ in range(8)]
        return asyncio.run(go())
    import concurrent.futures as cf
    with cf.ThreadPoolExecutor(1) as pool:
        a = pool.submit(run).result()
        b = pool.submit(run).result()
    assert a == b and sum(len(x) for x in a) == 40
