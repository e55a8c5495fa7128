"""Runtime: the composition root — builds the stages and connects them to the hub, nothing else.

Events travel only through the hub (DESIGN §2): sources (files, screen, mic) -> Hearing ->
MicroTurnClock -> TurnLoop -> ModelAction -> SpeechPolicy -> Say -> Speaker, and
ModelAction -> AgentStage -> JobEvent; SelfSpeech and JobEvent go back into the next chunk as
events. No stage calls another. The runtime implements `CompanionControls` for the TUI (and
headless mode) by emitting events or calling the one part that owns the control.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from companion.agent.background import BackgroundAgent
from companion.agent.stage import AgentStage
from companion.core.clock import MicroTurnClock
from companion.core.events import Event, StopSpeaking, StreamState, TypedText
from companion.core.hub import EventHub
from companion.core.protocol import Chunk, SerializedChunk, serialize_chunk
from companion.model.action_grammar import action_grammar
from companion.model.link import ModelLink
from companion.model.relayable import unasked_save_lint
from companion.model.session_client import ServerError
from companion.model.turn_loop import TurnLoop
from companion.perception import Perception, PerceptionOptions
from companion.record.recorder import Recorder
from companion.rules.asked_findings import asked_kinds
from companion.rules.prefix_budget import pinned_prefix
from companion.rules.schema import Rules
from companion.rules.speech_policy import SpeechPolicy
from companion.voice.echo import EchoCanceller
from companion.voice.hearing import Hearing
from companion.voice.speaker import Speaker
from companion.voice.tts import EspeakVoice, TTSUnavailable

log = logging.getLogger(__name__)

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
        self.emit = self.hub.emit  # the one emit every part is given
        self.clock = MicroTurnClock()
        self._on_turn = on_turn
        self._tasks: list[asyncio.Task] = []
        self.recorder = None
        self.link: ModelLink | None = None
        self.turn_loop: TurnLoop | None = None
        self.agent: BackgroundAgent | None = None
        self.speaker: Speaker | None = None
        self.hearing: Hearing | None = None
        self.policy = SpeechPolicy(self.emit, options.repo)
        self.perception = Perception(options.repo, options.perception, self.emit)
        self.hub.connect(self.clock)
        self.hub.connect(self.policy)

    def subscribe(self, sink: Callable[[Event], None]) -> None:
        self.hub.subscribe(sink)

    # --- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        t0 = time.monotonic()
        self.clock.start(t0)
        if self.options.record_dir is not None:
            self.recorder = Recorder(self.options.record_dir, t0)
            self.hub.subscribe(self.recorder.put)
        self.agent = BackgroundAgent(self.options.repo, self.emit)
        self.hub.connect(AgentStage(self.agent, self.emit, loop, lambda: self.policy.rules))
        self.policy.load_rules()  # its RulesChanged configures the agent
        rules = self.policy.rules
        opts = self.options.perception
        self.perception.start_watching(rules)
        if self.perception.reader is not None:
            self.hub.connect(self.perception.reader)
        echo = self._start_voice(rules) if opts.voice else None
        if not opts.voice:
            self.emit(StreamState(time.monotonic(), "speaker", "unavailable", "off: text only"))
        if (opts.mic or opts.mic_file) and opts.asr:  # the recognizer loads on its own thread
            self.hearing = Hearing(self.options.repo, self.emit)
            self.hub.connect(self.hearing)
            self.hearing.start()
        self.perception.start_listening(echo)
        if self.options.use_model:
            self.link = ModelLink(self.emit, server_url=self.options.server_url,
                                  token=self.options.token, model=self.options.model,
                                  protocol=self.options.protocol)
            self._tasks.append(asyncio.create_task(self._run_model(), name="model"))
        else:
            self._tasks.append(asyncio.create_task(self._run_clock_only(), name="clock"))
        self._tasks[-1].add_done_callback(self._task_ended)

    def _task_ended(self, task: asyncio.Task) -> None:
        """A turn loop that dies of a bug says so (status bar, transcript, log), never silently."""
        if task.cancelled() or task.exception() is None:
            return
        exc = task.exception()
        log.error("the %s task stopped", task.get_name(), exc_info=exc)
        self.emit(StreamState(time.monotonic(), "model", "unavailable",
                              f"stopped by a bug: {type(exc).__name__}: {exc}"))

    def _start_voice(self, rules: Rules) -> EchoCanceller:
        """The Speaker (a stage) and the echo canceller it feeds with what it plays; the mic side
        of the canceller is AudioIn's (samples, not events)."""
        voice_rules = getattr(rules, "voice", None)
        voice = None
        try:
            kwargs = {}
            if voice_rules is not None:
                kwargs = {"voice": voice_rules.voice, "rate": voice_rules.rate}
            voice = EspeakVoice(**{k: v for k, v in kwargs.items() if v is not None})
        except (TTSUnavailable, ValueError) as exc:
            self.emit(StreamState(time.monotonic(), "speaker", "unavailable",
                                  f"no voice: {exc}; text only"))
        echo = EchoCanceller()
        self.speaker = Speaker(self.emit, voice=voice, reference=echo.add_reference)
        self.hub.connect(self.speaker)
        self.speaker.start()
        if voice_rules is not None and getattr(voice_rules, "mute", False):
            self.speaker.mute()
        return echo

    async def _run_model(self) -> None:
        assert self.link is not None and self.agent is not None
        try:
            await self.link.connect()
        except ServerError:
            await self.link.recover("the model server did not start")
        self.turn_loop = TurnLoop(self.clock, self.link, self.emit, self._prefix,
                                           observe=self._on_turn, max_new_tokens=32,
                                           grammar=action_grammar(self.agent.registry),
                                           speaking=self._speaking, unsaid=unasked_save_lint(
                                               lambda: asked_kinds(r.text for r in self.policy.rules.rules)))
        await self.turn_loop.run()

    def _speaking(self) -> bool:
        return self.speaker is not None and self.speaker.speaking

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
        if self.hearing is not None:
            self.hearing.stop()
        if self.speaker is not None:
            self.speaker.close()
        if self.agent is not None:
            await self.agent.aclose()
        if self.link is not None:
            await self.link.close()
        self.policy.close()
        if self.recorder is not None:
            self.recorder.close()
        self.emit(StreamState(time.monotonic(), "model", "stopped"))

    # --- CompanionControls --------------------------------------------------------------------
    def set_mic_muted(self, muted: bool) -> None:
        self.perception.set_mic_muted(muted)

    def set_screen_paused(self, paused: bool) -> None:
        self.perception.set_screen_paused(paused)

    def snooze(self, minutes: float | None) -> None:
        self.policy.snooze(minutes)

    def stop_speaking(self) -> None:
        self.emit(StopSpeaking(time.monotonic(), "user"))

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
