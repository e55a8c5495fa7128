"""Benchmark: an hour of simulated perception through the MicroTurnClock at 100x speed; memory stays flat.

    python -m benchmarks.clock_memory [--minutes 60] [--speed 100]

Producer threads emit audio blocks (5/s), screen tiles (2 fps), file diffs and typed text on a
clock running `speed` times faster than real time; the consumer serializes every chunk as the
interaction loop would. Printed every 5 simulated minutes: traced Python memory, RSS, chunks,
late (coalesced) ticks and dropped backlog. The baseline is the sample after the first 5
simulated minutes (warm-up) of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import threading
import time
import tracemalloc

import numpy as np

from companion.core.clock import MicroTurnClock
from companion.core.events import AudioBlock, FileChanged, Patch, ScreenPatches, TypedText
from companion.core.protocol import serialize_chunk


class ScaledTime:
    def __init__(self, speed: float) -> None:
        self.speed = speed
        self.start = time.monotonic()

    def now(self) -> float:
        return (time.monotonic() - self.start) * self.speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds / self.speed)


def produce(clock: MicroTurnClock, st: ScaledTime, until: float, stop: threading.Event) -> None:
    rng = np.random.default_rng(0)
    tile = rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)
    next_audio = next_screen = next_file = next_typed = 0.0
    frame = 0
    while not stop.is_set() and (now := st.now()) < until:
        if now >= next_audio:
            clock.put(AudioBlock(now, np.zeros(3200, np.float32), -50.0,
                                 rng.integers(0, 16, (16, 80), dtype=np.uint8)))
            next_audio += 0.2
        if now >= next_screen:
            frame += 1
            clock.put(ScreenPatches(now, frame, 1920, 1080,
                                    tuple(Patch(40 * k, 40 * (frame % 27), tile) for k in range(6))))
            next_screen += 0.5
        if now >= next_file:
            diff = "@@ -1,3 +1,3 @@\n" + "".join(f"-old {i}\n+new {i}\n" for i in range(20))
            clock.put(FileChanged(now, "src/app.py", "modified", diff=diff))
            next_file += 10.0
        if now >= next_typed:
            clock.put(TypedText(now, "why does this loop stop early?"))
            next_typed += 30.0
        time.sleep(0.0005)


async def consume(clock: MicroTurnClock, st: ScaledTime, until: float, report_every: float) -> None:
    tracemalloc.start()
    next_report = 0.0
    base = None
    print(f"{'sim min':>7} {'traced MB':>9} {'RSS MB':>7} {'chunks':>7} {'late':>6} {'dropped':>7}")
    while st.now() < until:
        chunk = await clock.next_chunk()
        serialize_chunk(chunk, features=True)
        if st.now() >= next_report:
            traced = tracemalloc.get_traced_memory()[0] / 1e6
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
            if base is None and st.now() >= report_every:
                base = traced
            s = clock.stats()
            print(f"{st.now() / 60:7.1f} {traced:9.2f} {rss:7.1f} {s.chunks:7d} {s.late_ticks:6d} "
                  f"{s.dropped_backlog:7d}", flush=True)
            next_report += report_every
    traced = tracemalloc.get_traced_memory()[0] / 1e6
    base = base or traced
    print(f"traced memory at the end / after warm-up: {traced / base:.2f}x "
          f"({traced:.2f} MB vs {base:.2f} MB)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--speed", type=float, default=100.0)
    args = parser.parse_args(argv)
    st = ScaledTime(args.speed)
    clock = MicroTurnClock(0.2, now=st.now, sleep=st.sleep)
    clock.start()
    until = args.minutes * 60
    stop = threading.Event()
    producer = threading.Thread(target=produce, args=(clock, st, until, stop), daemon=True)
    producer.start()
    try:
        asyncio.run(consume(clock, st, until, report_every=300.0))
    finally:
        stop.set()
        producer.join()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
