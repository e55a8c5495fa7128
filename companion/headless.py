"""Headless mode: the companion without the TUI, writing the transcript (docs/transcript.md, schema 1).

One JSON object per line: a `session` header (schema, the stream clock's zero on
time.monotonic()), then `turn` (what was sent), `model` (what the model decided), `gate` (whether
the speech rules let a spoken fragment through), `said` (what the speaker really played, with
audible start and end), `heard` (recognized user words), `job`, `typed`, `screen_error` (an error
read on screen, with its composed summary) and `state` lines. Every `t` is seconds of stream
time. `companion record DIR` runs the same way without the model.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from companion.core.chunk_budget import job_status
from companion.core.events import (
    Event,
    JobEvent,
    ModelTurn,
    ScreenError,
    SelfSpeech,
    StreamState,
    TypedText,
    UserWords,
)
from companion.core.protocol import Chunk, SerializedChunk
from companion.native_stderr import log_dir
from companion.perception import PerceptionOptions
from companion.record.replay import chunk_record
from companion.rules.speech_policy import SpeechPolicy
from companion.runtime import Runtime, RuntimeOptions

SCHEMA = 1


class TranscriptWriter:
    def __init__(self, out: IO[str], t0: Callable[[], float | None], *, repo: str = "",
                 gates_on: bool = True) -> None:
        self.out = out
        self._t0 = t0  # the clock's start, once the runtime has started it
        self._lock = threading.Lock()
        self._header: dict | None = {"type": "session", "schema": SCHEMA, "repo": repo,
                        "gates": "on" if gates_on else "off"}

    def _write(self, record: dict) -> None:
        with self._lock:  # events arrive from several threads; lines must not interleave
            if self._header is not None and self._t0() is not None:
                # the header goes first, once the stream clock's zero is known (the runtime
                # sets it before anything emits)
                self.out.write(json.dumps({**self._header, "t0_monotonic": self._t0()}) + "\n")
                self._header = None
            self.out.write(json.dumps(record, default=str) + "\n")
            self.out.flush()

    def _t(self, t: float) -> float:
        return round(t - (self._t0() or t), 3)

    def gate(self, t: float, text: str, allowed: bool) -> None:
        self._write({"type": "gate", "t": self._t(t), "allowed": allowed, "text": text})

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
                         "tool": event.tool, "phase": event.phase, "summary": event.summary,
                         "status": job_status(event)})
        elif isinstance(event, UserWords) and event.text.strip():
            self._write({"type": "heard", "t": self._t(event.t), "text": event.text,
                         "final": event.final})
        elif isinstance(event, TypedText):
            self._write({"type": "typed", "t": self._t(event.t), "text": event.text})
        elif isinstance(event, ScreenError):
            self._write({"type": "screen_error", "t": self._t(event.t), "summary": event.summary,
                         "exception": event.exception, "file": event.file, "line": event.line})
        elif isinstance(event, SelfSpeech):
            self._write({"type": "said", "t": self._t(event.t), "t_end": self._t(event.t_end),
                         "text": event.text, "interrupted": event.interrupted,
                         "unspoken": event.unspoken})


def watch_gates(policy: SpeechPolicy, writer: TranscriptWriter, *, gates_on: bool) -> None:
    """Write each gate decision on a spoken fragment; with gates off, let every fragment through
    (the benchmark's "as the model decided" mode — never a product setting)."""
    decide = policy.may_say

    def may_say(fragment: str) -> bool:
        allowed = decide(fragment) if gates_on else True
        writer.gate(time.monotonic(), fragment, allowed)
        return allowed

    policy.may_say = may_say  # type: ignore[method-assign]


def _read_typed_lines(runtime: Runtime, loop: asyncio.AbstractEventLoop) -> None:
    """Each line on stdin is something the user typed (the TUI's input box, for scripts)."""
    def read() -> None:
        for line in sys.stdin:
            if line.strip():
                loop.call_soon_threadsafe(runtime.send_text, line.strip())

    threading.Thread(target=read, name="typed-stdin", daemon=True).start()


def own_outputs(args: argparse.Namespace) -> tuple[Path, ...]:
    """Everything this run writes (transcript, recording, logs): never watched or sent."""
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
    options = options_from_args(args, use_model=not record_only)
    gates_on = not getattr(args, "gates_off", False)
    writer = TranscriptWriter(out, lambda: holder[0].clock.t0 if holder else None,
                              repo=str(options.repo), gates_on=gates_on)
    runtime = Runtime(options, on_turn=writer.turn)
    holder.append(runtime)
    runtime.subscribe(writer.event)
    if not record_only:
        watch_gates(runtime.policy, writer, gates_on=gates_on)
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, done.set)
    await runtime.start()
    if getattr(args, "typed_stdin", False):
        _read_typed_lines(runtime, loop)
    try:
        if args.seconds:
            await asyncio.wait_for(done.wait(), args.seconds)
        else:
            await done.wait()
    except TimeoutError:
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
