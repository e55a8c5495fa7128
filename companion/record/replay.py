"""Replay a recording through the MicroTurnClock: at real time, or as fast as possible, same chunks."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import AsyncIterator

from companion.core.clock import MicroTurnClock, VirtualTime
from companion.core.events import MICRO_TURN_S
from companion.core.protocol import Chunk, SerializedChunk, serialize_chunk
from companion.record.recorder import read_recording


def chunk_record(chunk: Chunk, serialized: SerializedChunk) -> dict:
    """One micro-turn as a JSON-able line (headless mode and replay print these)."""
    counts = {name: len(getattr(chunk, name)) for name in
              ("audio", "words", "screen", "files", "jobs", "typed", "self_speech")}
    return {"tick": chunk.tick, "t": chunk.t, "ticks": chunk.ticks,
            "counts": {k: v for k, v in counts.items() if v},
            "audio_tokens": int(serialized.audio.shape[0]), "patches": len(serialized.patches),
            "summarized": serialized.summarized, "text": serialized.text}


async def replay_chunks(directory: str | Path, *, realtime: bool = False, features: bool = True,
                        period: float = MICRO_TURN_S) -> AsyncIterator[tuple[Chunk, SerializedChunk]]:
    """Yield every micro-turn of a recording, up to the window of its last event."""
    if realtime:
        clock = MicroTurnClock(period)
        t0 = time.monotonic()
    else:
        vt = VirtualTime(0.0)
        clock = MicroTurnClock(period, now=vt.now, sleep=vt.sleep)
        t0 = 0.0
    events = list(read_recording(directory, t0=t0))
    last = max((e.t for e in events), default=t0)
    clock.start(t0)
    feeder = None
    if realtime:
        async def feed() -> None:
            for event in events:
                delay = event.t - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                clock.put(event)
        feeder = asyncio.create_task(feed())
    else:
        for event in events:
            clock.put(event)
    try:
        while True:
            chunk = await clock.next_chunk()
            yield chunk, serialize_chunk(chunk, features=features)
            if t0 + (chunk.tick + chunk.ticks) * period > last:
                break
    finally:
        if feeder is not None:
            feeder.cancel()
