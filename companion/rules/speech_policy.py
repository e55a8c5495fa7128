"""SpeechPolicy: the user's rules applied at run time — what may be said, and what runs on save.

The model decides when to speak; the rules only gate what may be *said* (by default quiet hours,
snooze and cooldowns; holding while the user speaks is an opt-in rule) and configure the agent's on-save triggers (DESIGN §9).
A gate decision is taken once per utterance, so an allowed interjection is never cut mid-sentence
by the gate and a held one stays silent until the model ends it.
"""

from __future__ import annotations

import shlex
import time
from pathlib import Path
from typing import Callable

from companion.core.events import Event, RulesChanged, StreamState, UserWords
from companion.rules.gates import SpeechGate
from companion.rules.schema import Rules
from companion.rules.store import RulesStore, rules_prompt_text
from tools.lint import LintConfig
from tools.on_save import OnSaveConfig, OnSaveRule
from tools.test_runner import TestsConfig

USER_SPEAKING_S = 0.8  # recognized words this recent mean the user is still talking


class SpeechPolicy:
    def __init__(self, emit: Callable[[Event], None], repo: Path,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._emit = emit
        self._clock = clock
        self.store = RulesStore(repo)
        self.gate = SpeechGate(self.store.rules.gates, self.store.rules.rules, monotonic=clock)
        self._agent = None
        self._last_words = float("-inf")
        self._in_utterance = False
        self._utterance_allowed = False
        self.held = 0

    @property
    def rules(self) -> Rules:
        return self.store.rules

    def load_rules(self) -> None:
        """Report the rules loaded at start and follow the files from now on."""
        self.store.subscribe(self._rules_changed)
        self.store.reload()  # emits RulesChanged through the subscription
        self.store.start()

    def _rules_changed(self, event: RulesChanged) -> None:
        rules = self.store.rules
        self.gate.update(rules.gates, rules.rules)
        if self._agent is not None:
            self._agent.set_config(on_save_config(rules))
            self._agent.set_reasoning(rules.reasoning)
        self._emit(event)

    def configure_agent(self, agent) -> None:
        self._agent = agent
        agent.set_config(on_save_config(self.store.rules))
        agent.set_reasoning(self.store.rules.reasoning)

    def rules_text(self) -> str:
        return rules_prompt_text(self.store.rules)

    def user_spoke(self, words: UserWords) -> None:
        if words.text.strip():
            self._last_words = words.t

    def may_say(self, fragment: str) -> bool:
        """Whether this speech fragment is played; decided at the first fragment of an utterance."""
        if self._in_utterance:
            return self._utterance_allowed
        self._in_utterance = True
        speaking = self._clock() - self._last_words < USER_SPEAKING_S
        decision = self.gate.may_speak(user_speaking=speaking)
        self._utterance_allowed = decision.allowed
        if decision.allowed:
            self.gate.record()
        else:
            self.held += 1
            self._emit(StreamState(self._clock(), "speaker", "paused",
                                   f"interjection held: {decision.reason}"))
        return decision.allowed

    def utterance_ended(self) -> None:
        if self._in_utterance and not self._utterance_allowed:
            self._emit(StreamState(self._clock(), "speaker", "live", ""))
        self._in_utterance = False

    def snooze(self, minutes: float | None) -> None:
        self.gate.snooze(minutes)
        status = self.gate.status()
        self._emit(StreamState(self._clock(), "speaker", "paused" if status else "live", status))

    def close(self) -> None:
        self.store.stop()


def on_save_config(rules: Rules):
    """The agent's on-save configuration from the rules file (the agent's defaults where unset)."""
    command = rules.tests.command.strip()
    # plain "pytest" means the agent's own `python -m pytest`, which finds the project's pytest
    argv = None if command in ("", "pytest") else tuple(shlex.split(command))
    tests = TestsConfig(command=argv, timeout_s=rules.tests.timeout)
    triggers = tuple(OnSaveRule(o.paths, o.tests, bool(o.lint)) for o in rules.on_save)
    if triggers:
        return OnSaveConfig(rules=triggers, tests=tests, lint=LintConfig())
    return OnSaveConfig(tests=tests, lint=LintConfig())
