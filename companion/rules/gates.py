"""The speech gate: may the companion start an interjection now, and if not, why not."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from datetime import time as clock_time

from companion.rules.schema import SEVERITIES, Gates, Rule

WINDOW_S = 600.0  # "max interjections per 10 minutes" is a sliding window


@dataclass(frozen=True, slots=True)
class GateDecision:
    allowed: bool
    reason: str = ""  # why not, said the way the status line shows it


class SpeechGate:
    """Enforces the [gates] of the rules file on interjections; it never decides turn-taking.

    `monotonic` measures cooldowns, snoozes and the 10-minute window; `local_time` gives the
    wall-clock time of day for quiet hours. Both are injected so tests can drive them.
    """

    def __init__(self, gates: Gates | None = None, rules: tuple[Rule, ...] = (),
                 monotonic: Callable[[], float] = time.monotonic,
                 local_time: Callable[[], clock_time] = lambda: datetime.now().time()) -> None:
        self._monotonic, self._local_time = monotonic, local_time
        self._spoken: deque[float] = deque()
        self._last_by_rule: dict[str, float] = {}
        self._snoozed_until: float | None = None  # inf: until resumed
        self.update(gates or Gates(), rules)

    def update(self, gates: Gates, rules: tuple[Rule, ...] = ()) -> None:
        """Apply reloaded rules; history (recent interjections, snooze) is kept."""
        self.gates = gates
        self._cooldowns = {rule.name: rule.cooldown for rule in rules if rule.cooldown is not None}

    def snooze(self, minutes: float | None) -> None:
        """Hold interjections for `minutes`; None holds them until resumed; 0 resumes."""
        if minutes == 0:
            self._snoozed_until = None
        elif minutes is None:
            self._snoozed_until = float("inf")
        else:
            self._snoozed_until = self._monotonic() + minutes * 60.0

    @property
    def snoozed(self) -> bool:
        return self._snoozed_until is not None and self._monotonic() < self._snoozed_until

    def snooze_default(self) -> None:
        """The snooze key: hold for the [gates] snooze duration."""
        self.snooze(self.gates.snooze / 60.0)

    def record(self, rule: str | None = None) -> None:
        """An interjection started now (for cooldowns and the 10-minute cap)."""
        now = self._monotonic()
        self._spoken.append(now)
        if rule:
            self._last_by_rule[rule] = now

    def status(self) -> str:
        """'' when interjections may flow, else a short state for the status line."""
        now = self._monotonic()
        if self._snoozed_until is not None and now < self._snoozed_until:
            if self._snoozed_until == float("inf"):
                return "snoozed until resumed"
            return f"snoozed, {max(1, round((self._snoozed_until - now) / 60))} min left"
        moment = self._local_time()
        for span in self.gates.quiet_hours:
            if span.contains(moment):
                return f"quiet hours until {span.end:%H:%M}"
        return ""

    def may_speak(self, rule: str | None = None, severity: str = "warning",
                  user_speaking: bool = False) -> GateDecision:
        """Whether an interjection for `rule` at `severity` may start now."""
        gates, now = self.gates, self._monotonic()
        held = self.status()
        if held:
            return GateDecision(False, held)
        if gates.never_while_user_speaks and user_speaking:
            return GateDecision(False, "the user is speaking")
        if SEVERITIES.index(severity) < SEVERITIES.index(gates.min_severity):
            return GateDecision(False, f"severity {severity} is below {gates.min_severity}")
        while self._spoken and now - self._spoken[0] >= WINDOW_S:
            self._spoken.popleft()
        if gates.max_per_10min == 0:
            return GateDecision(False, "max_per_10min is 0: interjections are off")
        if gates.max_per_10min is not None and len(self._spoken) >= gates.max_per_10min:
            wait = WINDOW_S - (now - self._spoken[0])
            return GateDecision(False, f"{gates.max_per_10min} interjections in the last 10 min "
                                       f"(next in {wait:.0f} s)")
        if rule is not None and rule in self._last_by_rule:
            cooldown = self._cooldowns.get(rule, gates.cooldown)
            since = now - self._last_by_rule[rule]
            if since < cooldown:
                return GateDecision(False, f"rule {rule!r} is cooling down "
                                           f"({cooldown - since:.0f} s left)")
        return GateDecision(True)
