"""AgentStage: the background agent on the event path — the model's calls and the user's saves in, JobEvents out.

A call runs with its context package: the chunk's time and files and the last lines of the
conversation, which this stage keeps from the words heard, typed and said. A burst of saves
reaches the agent as one batch per event-loop turn. The rules file's on-save and [reasoning]
tables configure the agent whenever the rules (re)load.
"""

from __future__ import annotations

import asyncio
import shlex
import threading
import time
from collections.abc import Callable

from companion.agent.background import BackgroundAgent
from companion.core.events import (
    Event,
    FileChanged,
    JobEvent,
    ModelAction,
    RulesChanged,
    SelfSpeech,
    TypedText,
    UserWords,
)
from companion.rules.schema import Rules
from tools.lint import LintConfig
from tools.on_save import OnSaveConfig, OnSaveRule
from tools.test_runner import TestsConfig

RECENT_LINES = 20  # conversation lines a call's context carries


class AgentStage:
    consumes = (ModelAction, FileChanged, UserWords, TypedText, SelfSpeech, RulesChanged)
    emits = (JobEvent,)

    def __init__(self, agent: BackgroundAgent, emit: Callable[[Event], None],
                 loop: asyncio.AbstractEventLoop, rules: Callable[[], Rules]) -> None:
        self.agent = agent
        self._emit = emit
        self._loop = loop
        self._rules = rules  # the current rules (the speech policy's store owns them)
        self._recent_lines: list[str] = []
        self._saved: list[tuple[str, str]] = []  # (path, diff) saves not yet handed to the agent
        self._saves_lock = threading.Lock()
        self._handlers = {ModelAction: self._call, FileChanged: self._saved_file,
                          UserWords: self._heard, TypedText: self._typed, SelfSpeech: self._said,
                          RulesChanged: self._configure}

    def process(self, event: Event) -> None:
        self._handlers[type(event)](event)

    def _call(self, event: ModelAction) -> None:
        action = event.action
        if action.kind != "call":
            return
        if action.error:
            self._emit(JobEvent(time.monotonic(), "-", action.tool or "?", "error", action.error))
            return
        context = {"recent": list(self._recent_lines), "t": event.chunk_t,
                   "files": list(event.files)}
        self.agent.submit_call(action.text, context)

    def _saved_file(self, event: FileChanged) -> None:
        with self._saves_lock:
            first = not self._saved
            self._saved.append((event.path, event.diff))
        if first:
            self._loop.call_soon_threadsafe(self._flush_saves)

    def _flush_saves(self) -> None:
        with self._saves_lock:
            saves, self._saved = self._saved, []
        if saves:
            self.agent.on_files_saved(saves)

    def _heard(self, event: UserWords) -> None:
        if event.final and event.text:
            self._remember(f"user: {event.text}")

    def _typed(self, event: TypedText) -> None:
        self._remember(f"user typed: {event.text}")

    def _said(self, event: SelfSpeech) -> None:
        if event.text:
            self._remember(f"companion: {event.text}")

    def _remember(self, line: str) -> None:
        self._recent_lines = [*self._recent_lines[-(RECENT_LINES - 1):], line]

    def _configure(self, event: RulesChanged | None = None) -> None:
        rules = self._rules()
        self.agent.set_config(on_save_config(rules))
        self.agent.set_reasoning(rules.reasoning)


def on_save_config(rules: Rules) -> OnSaveConfig:
    """The agent's on-save configuration from the rules file (the agent's defaults where unset)."""
    command = rules.tests.command.strip()
    # plain "pytest" means the agent's own `python -m pytest`, which finds the project's pytest
    argv = None if command in ("", "pytest") else tuple(shlex.split(command))
    tests = TestsConfig(command=argv, timeout_s=rules.tests.timeout)
    triggers = tuple(OnSaveRule(o.paths, o.tests, bool(o.lint)) for o in rules.on_save)
    if triggers:
        return OnSaveConfig(rules=triggers, tests=tests, lint=LintConfig())
    return OnSaveConfig(tests=tests, lint=LintConfig())
