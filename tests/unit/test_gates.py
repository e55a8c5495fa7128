"""SpeechGate with a fake clock: snooze, quiet hours, cooldowns, the 10-minute cap, severity."""

from __future__ import annotations

from datetime import time

from companion.rules.gates import SpeechGate
from companion.rules.schema import Gates, Rule
from companion.rules.values import time_ranges


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0
        self.day = time(10, 0)

    def monotonic(self) -> float:
        return self.t

    def local_time(self) -> time:
        return self.day


def gate(clock: FakeClock, **gates) -> SpeechGate:
    return SpeechGate(Gates(**gates), (Rule("slow", "x", cooldown=600.0),),
                      monotonic=clock.monotonic, local_time=clock.local_time)


def test_open_gate_allows():
    assert gate(FakeClock()).may_speak("any").allowed


def test_snooze_for_minutes_then_expires():
    clock = FakeClock()
    g = gate(clock)
    g.snooze(15)
    decision = g.may_speak()
    assert not decision.allowed and decision.reason == "snoozed, 15 min left"
    clock.t += 15 * 60 - 1
    assert not g.may_speak().allowed
    clock.t += 1
    assert g.may_speak().allowed


def test_snooze_until_resumed_and_resume():
    clock = FakeClock()
    g = gate(clock)
    g.snooze(None)
    clock.t += 10 ** 6
    assert g.may_speak().reason == "snoozed until resumed"
    g.snooze(0)
    assert g.may_speak().allowed


def test_snooze_key_uses_configured_duration():
    clock = FakeClock()
    g = gate(clock, snooze=120.0)
    g.snooze_default()
    clock.t += 119
    assert not g.may_speak().allowed
    clock.t += 1
    assert g.may_speak().allowed


def test_quiet_hours_over_midnight():
    clock = FakeClock()
    g = gate(clock, quiet_hours=time_ranges("22:00-07:00"))
    for moment, allowed in [(time(21, 59), True), (time(22, 0), False), (time(3, 0), False),
                            (time(6, 59), False), (time(7, 0), True)]:
        clock.day = moment
        assert g.may_speak().allowed is allowed, moment
    clock.day = time(23, 0)
    assert g.may_speak().reason == "quiet hours until 07:00"


def test_never_while_user_speaks_is_an_opt_in_rule():
    """Turn-taking is the model's job: by default the gate lets an utterance through while the
    user speaks; the rule still holds it when the user turns it on."""
    clock = FakeClock()
    assert gate(clock).may_speak(user_speaking=True).allowed
    opted_in = gate(clock, never_while_user_speaks=True)
    assert opted_in.may_speak(user_speaking=True).reason == "the user is speaking"


def test_no_rate_cap_by_default_but_one_can_be_set():
    """The default gates are preferences (quiet hours, snooze, cooldown), not a babble harness:
    the 10-minute cap that used to hold real interjections after babble is opt-in."""
    clock = FakeClock()
    g = gate(clock)
    for _ in range(50):
        assert g.may_speak().allowed
        g.record()
    capped = gate(clock, max_per_10min=0)
    assert not capped.may_speak().allowed


def test_min_severity():
    g = gate(FakeClock(), min_severity="warning")
    assert g.may_speak(severity="info").reason == "severity info is below warning"
    assert g.may_speak(severity="warning").allowed and g.may_speak(severity="error").allowed


def test_cooldown_per_rule_and_rule_override():
    clock = FakeClock()
    g = gate(clock, cooldown=120.0)
    g.record("fast")
    g.record("slow")
    clock.t += 119
    assert g.may_speak("fast").reason == "rule 'fast' is cooling down (1 s left)"
    assert g.may_speak("other").allowed
    clock.t += 1
    assert g.may_speak("fast").allowed
    assert not g.may_speak("slow").allowed  # its own 10-minute cooldown
    clock.t += 480
    assert g.may_speak("slow").allowed


def test_max_per_ten_minutes_is_a_sliding_window():
    clock = FakeClock()
    g = gate(clock, max_per_10min=2, cooldown=0.0)
    g.record()
    clock.t += 100
    g.record()
    decision = g.may_speak()
    assert not decision.allowed
    assert decision.reason == "2 interjections in the last 10 min (next in 500 s)"
    clock.t += 500
    assert g.may_speak().allowed


def test_update_keeps_history():
    clock = FakeClock()
    g = gate(clock, max_per_10min=1)
    g.record()
    g.update(Gates(max_per_10min=2))
    assert g.may_speak().allowed
    g.update(Gates(max_per_10min=1))
    assert not g.may_speak().allowed
