"""Runtime: builds the running companion — streams, clock, model link, speaker, agent — and wires them.

This is the composition root: the only module that knows every part. Data flows one way:
streams -> hub -> clock -> interaction loop -> actions -> speaker / agent -> hub (DESIGN §2).
It implements `CompanionControls` for the TUI and serves headless mode the same way.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from companion.core.clock import MicroTurnClock
from companion.core.events import (
    AudioBlock, Event, FileChanged, JobEvent, SelfSpeech, StreamState, TypedText, UserWords,
)
from companion.core.hub import EventHub
from companion.model.turn_loop import InteractionLoop
from companion.model.link import ModelLink
from companion.perception import Perception, PerceptionOptions
from companion.rules.prefix_budget import pinned_prefix
from companion.core.protocol import Action, Chunk, SerializedChunk, serialize_chunk
from companion.model.session_client import ServerError
from companion.rules.speech_policy import SpeechPolicy
from companion.model.utterances import JobSummaries, cap_utterance
from companion.record.recorder import Recorder
from companion.agent.background import BackgroundAgent
from companion.model.action_grammar import action_grammar

SYSTEM_TEXT = (
    "You are a pair-programming companion. You see the developer's screen and file changes, "
    "hear them, and may speak briefly when something matters: a bug you notice, a failing test, "
    "an answer to a question. Stay silent otherwise. Stop when the developer talks over you. "
    "Delegate tests, lint and git to tools."
)


@dataclass(slots=True)
class RuntimeOptions:
    repo: Path
    perception: PerceptionOptions = field(default_factory=PerceptionOptions)
    server_url: str | None = None
    token: str | None = None
    model: str = "embedded"
    use_model: bool = True
    record_dir: Path | None = None
    protocol: int | None = None  # for a server that does not declare one (SGLang): 1 or 2


class Runtime:
    """The running companion. `start()` returns once streams run; the model connects in the background."""

    def __init__(self, options: RuntimeOptions,
                 on_turn: Callable[[Chunk, SerializedChunk], None] | None = None) -> None:
        self.options = options
        self.hub = EventHub()
        self.clock = MicroTurnClock()
        self._on_turn = on_turn
        self._saved: list[tuple[str, str]] = []  # (path, diff) saves not yet handed to the agent
        self._saves_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task] = []
        self.recorder = None
        self.link: ModelLink | None = None
        self.policy = SpeechPolicy(self.hub.emit, options.repo)
        self.perception = Perception(options.repo, options.perception, self.emit)
        self.agent = None
        self._recent_lines: list[str] = []
        self.job_summaries = JobSummaries()  # what a protocol-2 relay speaks

    # --- events -------------------------------------------------------------------------------
    def subscribe(self, sink: Callable[[Event], None]) -> None:
        self.hub.subscribe(sink)

    def emit(self, event: Event) -> None:
        """The sink every part emits into, from any thread."""
        self.hub.emit(event)
        self.clock.put(event)
        self._route(event)

    def _route(self, event: Event) -> None:
        if isinstance(event, AudioBlock):
            self.perception.hear(event)
        elif isinstance(event, UserWords):
            self.policy.user_spoke(event)
            if event.final and event.text:
                self._remember(f"user: {event.text}")
        elif isinstance(event, TypedText):
            self._remember(f"user typed: {event.text}")
        elif isinstance(event, SelfSpeech) and event.text:
            self._remember(f"companion: {event.text}")
        elif isinstance(event, JobEvent):
            self.job_summaries.remember(event)
        elif isinstance(event, FileChanged):
            self.perception.on_event(event)  # the screen reader's "which you changed a minute ago"
            if self.agent is not None and self._loop is not None:
                # a burst of saves reaches the agent as one batch per loop turn
                with self._saves_lock:
                    first = not self._saved
                    self._saved.append((event.path, event.diff))
                if first:
                    self._loop.call_soon_threadsafe(self._flush_saves)

    def _flush_saves(self) -> None:
        with self._saves_lock:
            saves, self._saved = self._saved, []
        if saves and self.agent is not None:
            self.agent.on_files_saved(saves)

    def _remember(self, line: str) -> None:
        self._recent_lines = [*self._recent_lines[-19:], line]

    # --- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        t0 = time.monotonic()
        self.clock.start(t0)
        if self.options.record_dir is not None:
            self.recorder = Recorder(self.options.record_dir, t0)
            self.hub.subscribe(self.recorder.put)
        self.policy.load_rules()
        self.agent = BackgroundAgent(self.options.repo, self.emit)
        self.policy.configure_agent(self.agent)
        self.perception.start(self.policy.rules)
        if self.options.use_model:
            self.link = ModelLink(self.emit, server_url=self.options.server_url,
                                  token=self.options.token, model=self.options.model,
                                  protocol=self.options.protocol)
            self._tasks.append(asyncio.create_task(self._run_model(), name="model"))
        else:
            self._tasks.append(asyncio.create_task(self._run_clock_only(), name="clock"))

    async def _run_model(self) -> None:
        assert self.link is not None
        try:
            await self.link.connect()
        except ServerError:
            await self.link.recover("the model server did not start")
        loop = InteractionLoop(self.clock, self.link, self.emit, self._act, self._prefix,
                               observe=self._on_turn, max_new_tokens=32,
                               grammar=action_grammar(self.agent.registry))
        self.interaction = loop
        await loop.run()

    async def _run_clock_only(self) -> None:
        while True:
            chunk = await self.clock.next_chunk()
            if self._on_turn is not None:
                self._on_turn(chunk, serialize_chunk(chunk, features=True))

    def _prefix(self) -> str:
        """The pinned prefix, built as the rules check budgets it (companion/rules/prefix_budget.py)."""
        prompt = self.link.info.get("prompt") if self.link is not None else None
        tools = self.agent.tool_descriptions() if self.agent is not None else ""
        texts = [r.text.strip() for r in self.policy.rules.rules]
        return pinned_prefix(texts, prompt, SYSTEM_TEXT, self.policy.rules_text(), tools)

    def _say_whole(self, text: str) -> None:
        """Protocol 2: one complete utterance, gated on its own; the Speaker plays it over the
        next seconds while the model's silences let it play."""
        if not text:
            return
        self.policy.utterance_ended()
        if self.policy.may_say(text):
            self.perception.say(text + " ")

    def _act(self, action: Action, chunk: Chunk) -> None:
        if action.kind == "speech" and action.whole:
            self._say_whole(cap_utterance(action.text))
        elif action.kind == "relay":
            self._say_whole(self.job_summaries.relay_text(action.job))  # verbatim; unknown: ''
        elif action.kind == "speech":
            if self.policy.may_say(action.text):
                self.perception.say(action.text)
        elif action.kind == "stop":
            self.policy.utterance_ended()
            self.perception.stop_speaking()
        elif action.kind == "call" and self.agent is not None:
            if action.error:
                self.emit(JobEvent(time.monotonic(), "-", action.tool or "?", "error", action.error))
                return
            context = {"recent": list(self._recent_lines), "t": chunk.t,
                       "files": [f.path for f in chunk.files]}
            self.agent.submit_call(action.text, context)
        elif action.kind == "silence":
            self.policy.utterance_ended()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - shutting down regardless
                pass
        self._tasks.clear()
        self.perception.stop()
        if self.agent is not None:
            await self.agent.aclose()
        if self.link is not None:
            await self.link.close()
        self.policy.close()
        if self.recorder is not None:
            self.recorder.close()
        self.hub.emit(StreamState(time.monotonic(), "model", "stopped"))

    # --- CompanionControls --------------------------------------------------------------------
    def set_mic_muted(self, muted: bool) -> None:
        self.perception.set_mic_muted(muted)

    def set_screen_paused(self, paused: bool) -> None:
        self.perception.set_screen_paused(paused)

    def snooze(self, minutes: float | None) -> None:
        self.policy.snooze(minutes)

    def stop_speaking(self) -> None:
        self.perception.stop_speaking()

    def send_text(self, text: str) -> None:
        self.emit(TypedText(time.monotonic(), text))

    def confirm(self, job_id: str, approve: bool) -> None:
        if self.agent is not None:
            (self.agent.confirm if approve else self.agent.deny)(job_id)

    def cancel_job(self, job_id: str) -> None:
        if self.agent is not None:
            self.agent.cancel(job_id)

    def explain(self, test: str = "") -> None:
        if self.agent is not None:
            self.agent.submit("explain", {"test": test} if test else {}, origin="ui")
