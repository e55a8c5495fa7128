"""SpeechPolicy: the stage between the model's decisions and the Speaker — what may be said.

The model decides when to speak; the rules only gate what may be *said* (by default quiet hours,
snooze and cooldowns; holding while the user speaks is an opt-in rule; DESIGN §9). A gate
decision is taken once per utterance, so an allowed interjection is never cut mid-sentence by the
gate and a held one stays silent until the model ends it. A relay speaks the agent's summary of
the job verbatim; the model's own words are capped. It owns the rules store (hot reload) and the
one SpeechGate.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from companion.core.events import (
    Event,
    GateState,
    JobEvent,
    ModelAction,
    RulesChanged,
    Say,
    StopSpeaking,
    StreamState,
    UserWords,
)
from companion.rules.gates import SpeechGate
from companion.rules.schema import Rules
from companion.rules.store import RulesStore, rules_prompt_text
from companion.rules.utterances import JobSummaries, cap_utterance

USER_SPEAKING_S = 0.8  # recognized words this recent mean the user is still talking


class SpeechPolicy:
    consumes = (ModelAction, UserWords, JobEvent)
    emits = (Say, StopSpeaking, StreamState, RulesChanged, GateState)

    def __init__(self, emit: Callable[[Event], None], repo: Path,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._emit = emit
        self._clock = clock
        self.store = RulesStore(repo)
        self.gate = SpeechGate(self.store.rules.gates, self.store.rules.rules, monotonic=clock)
        self.job_summaries = JobSummaries()  # what a protocol-2 relay speaks
        self._last_words = float("-inf")
        self._in_utterance = False
        self._utterance_allowed = False
        self.held = 0
        self._published: tuple | None = None  # the gate state the TUI was last told
        self._handlers = {ModelAction: self._carry_out, UserWords: self.user_spoke,
                          JobEvent: self.job_summaries.remember}
        self._actions = {"speech": self._speech, "relay": self._relay, "stop": self._stop,
                         "silence": self._silence}

    def process(self, event: ModelAction | UserWords | JobEvent) -> None:
        self._handlers[type(event)](event)
        self._publish_gate()  # every micro-turn: quiet hours begin and snoozes count down

    def _publish_gate(self) -> None:
        """Emit the gate's state when it changed since it was last emitted."""
        state = (self.gate.status(), self.gate.snoozed, self.gate.gates.snooze)
        if state != self._published:
            self._published = state
            self._emit(GateState(self._clock(), *state))

    def _carry_out(self, event: ModelAction) -> None:
        handler = self._actions.get(event.action.kind)  # calls are the agent's
        if handler is not None:
            handler(event)

    def _speech(self, event: ModelAction) -> None:
        action = event.action
        if action.whole:
            self._say_whole(cap_utterance(action.text))
        elif self.may_say(action.text):
            self._emit(Say(self._clock(), action.text))

    def _relay(self, event: ModelAction) -> None:
        self._say_whole(self.job_summaries.relay_text(event.action.job))  # verbatim; unknown: ''

    def _stop(self, event: ModelAction) -> None:
        self.utterance_ended()
        self._emit(StopSpeaking(self._clock(), "model"))

    def _silence(self, event: ModelAction) -> None:
        self.utterance_ended()

    def _say_whole(self, text: str) -> None:
        """Protocol 2: one complete utterance, gated on its own; the Speaker plays it over the
        next seconds while the model's silences let it play."""
        if not text:
            return
        self.utterance_ended()
        if self.may_say(text):
            self._emit(Say(self._clock(), text + " "))

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
        self._emit(event)
        self._publish_gate()

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
        self._publish_gate()

    def close(self) -> None:
        self.store.stop()

