"""Headless mode: the companion without the TUI, writing one JSON line per micro-turn and per event of note.

Lines are `{"type": "turn", ...}` for every micro-turn (what was sent), `{"type": "model", ...}`
for each model decision, and `state`, `job`, `heard`, `said` lines for stream states, agent jobs,
recognized words and the companion's own played speech. `companion record DIR` runs the same
way without the model and writes the events to DIR.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import IO, Callable

from companion.events import Event, JobEvent, ModelTurn, SelfSpeech, StreamState, UserWords
from companion.perception import PerceptionOptions
from companion.protocol import Chunk, SerializedChunk
from companion.replay import chunk_record
from companion.runtime import Runtime, RuntimeOptions


class TranscriptWriter:
    def __init__(self, out: IO[str], t0: Callable[[], float | None]) -> None:
        self.out = out
        self._t0 = t0  # the clock's start, once the runtime has started it

    def _write(self, record: dict) -> None:
        self.out.write(json.dumps(record, default=str) + "\n")
        self.out.flush()

    def _t(self, t: float) -> float:
        return round(t - (self._t0() or t), 3)

    def turn(self, chunk: Chunk, serialized: SerializedChunk) -> None:
        self._write({"type": "turn", **chunk_record(chunk, serialized)})

    def event(self, event: Event) -> None:
        if isinstance(event, ModelTurn):
            self._write({"type": "model", "t": self._t(event.t), "tick": event.tick,
                         "action": event.action, "text": event.text,
                         "latency_ms": round(event.latency_ms, 1), "late_ticks": event.late_ticks})
        elif isinstance(event, StreamState):
            self._write({"type": "state", "t": self._t(event.t), "stream": event.stream,
                         "status": event.status, "reason": event.reason})
        elif isinstance(event, JobEvent) and event.phase != "progress":
            self._write({"type": "job", "t": self._t(event.t), "job": event.job_id,
                         "tool": event.tool, "phase": event.phase, "summary": event.summary})
        elif isinstance(event, UserWords) and event.final:
            self._write({"type": "heard", "t": self._t(event.t), "text": event.text})
        elif isinstance(event, SelfSpeech):
            self._write({"type": "said", "t": self._t(event.t), "text": event.text,
                         "interrupted": event.interrupted})


def own_outputs(args: argparse.Namespace) -> tuple[Path, ...]:
    """Everything this run writes (transcript, recording, logs): never watched or sent."""
    from companion.native_stderr import log_dir
    written = (getattr(args, "transcript", None), getattr(args, "record", None),
               getattr(args, "dir", None), log_dir())
    return tuple(Path(p) for p in written if p is not None)


def options_from_args(args: argparse.Namespace, *, use_model: bool) -> RuntimeOptions:
    return RuntimeOptions(
        repo=args.repo.resolve(),
        perception=PerceptionOptions(mic=not args.no_mic, mic_file=args.mic_file,
                                     screen=not args.no_screen, voice=not args.no_voice and use_model,
                                     own_outputs=own_outputs(args)),
        server_url=getattr(args, "server", None), token=getattr(args, "token", None),
        model=getattr(args, "model", "embedded"), use_model=use_model,
        protocol=getattr(args, "protocol", None),
        record_dir=getattr(args, "dir", None) if not use_model else args.record,
    )


async def _run(args: argparse.Namespace, out: IO[str], record_only: bool) -> int:
    holder: list[Runtime] = []
    writer = TranscriptWriter(out, lambda: holder[0].clock.t0 if holder else None)
    runtime = Runtime(options_from_args(args, use_model=not record_only), on_turn=writer.turn)
    holder.append(runtime)
    runtime.subscribe(writer.event)
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, done.set)
    await runtime.start()
    try:
        if args.seconds:
            await asyncio.wait_for(done.wait(), args.seconds)
        else:
            await done.wait()
    except asyncio.TimeoutError:
        pass
    finally:
        await runtime.stop()
    if record_only:
        print(f"companion record: wrote {args.dir}", file=sys.stderr)
    return 0


def run_headless(args: argparse.Namespace, *, record_only: bool = False) -> int:
    transcript = getattr(args, "transcript", None)
    if transcript is None:
        return asyncio.run(_run(args, sys.stdout, record_only))
    with open(transcript, "w", encoding="utf-8") as out:
        return asyncio.run(_run(args, out, record_only))
