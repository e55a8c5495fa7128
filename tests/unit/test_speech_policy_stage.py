"""SpeechPolicy as a stage on fake time: the rules gate what may be said once per utterance (an
allowed one is never cut by the gate, a held one stays silent to its end), snooze and quiet hours
included, the user's own words hold an interjection only when the rules ask, and every hold and
release is said as a speaker StreamState."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from companion.agent.stage import AgentStage
from companion.core.events import RulesChanged, StreamState, UserWords
from companion.rules.speech_policy import SpeechPolicy
from tests.harness.stage_harness import StageHarness

pytestmark = pytest.mark.timeout(20)


@pytest.fixture
def repo(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPANION_CONFIG_DIR", str(tmp_path / "config"))  # no user rules
    repo = tmp_path / "repo"
    repo.mkdir()
    return repo


def write_rules(repo, gates: str) -> None:
    (repo / ".companion.toml").write_text(f"[gates]\n{gates}\n")


def start(repo, harness: StageHarness) -> SpeechPolicy:
    policy = SpeechPolicy(harness.emit, repo, clock=harness.clock.now)
    harness.attach(lambda event: isinstance(event, UserWords) and policy.user_spoke(event))
    return policy


def speaker(harness: StageHarness) -> list[tuple[str, str]]:
    return [(e.status, e.reason) for e in harness.of(StreamState) if e.stream == "speaker"]


def utterance(policy: SpeechPolicy, *fragments: str):
    """The steps of one utterance: each fragment asks may_say, then it ends."""
    return [lambda f=f: policy.may_say(f) for f in fragments] + [policy.utterance_ended]


def timed(t0: float, steps, dt: float = 0.2):
    return [(t0 + i * dt, step) for i, step in enumerate(steps)]


def test_the_decision_is_taken_once_per_utterance(repo):
    write_rules(repo, "max_per_10min = 1")
    harness = StageHarness()
    policy = start(repo, harness)
    said = harness.play(timed(0.0, utterance(policy, "the test", " fails", " on line 3"))
                        + timed(5.0, utterance(policy, "and also", " the lint")))
    assert said == [True, True, True, None, False, False, None]
    assert policy.held == 1
    assert speaker(harness) == [
        ("paused", "interjection held: 1 interjections in the last 10 min (next in 595 s)"),
        ("live", "")]
    harness.clock.move_to(600.5)  # the ten-minute window slid past the first one
    assert harness.play([(600.5, lambda: policy.may_say("now"))]) == [True]


def test_a_snooze_does_not_cut_an_utterance_that_started_and_holds_the_next(repo):
    harness = StageHarness()
    policy = start(repo, harness)
    said = harness.play([
        (0.0, lambda: policy.may_say("the median")),
        (0.1, lambda: policy.snooze(5)),
        (0.2, lambda: policy.may_say(" test fails")),  # same utterance: still allowed
        (0.3, policy.utterance_ended),
        (1.0, lambda: policy.may_say("held")),
        (1.2, lambda: policy.may_say(" still held")),
        (1.4, policy.utterance_ended),
        (301.0, lambda: policy.may_say("after the snooze")),
    ])
    assert [s for s in said if s is not None] == [True, True, False, False, True]
    assert speaker(harness) == [("paused", "snoozed, 5 min left"),
                                ("paused", "interjection held: snoozed, 5 min left"),
                                ("live", "")]


def test_resuming_a_snooze_says_so_and_lets_the_next_utterance_through(repo):
    harness = StageHarness()
    policy = start(repo, harness)
    said = harness.play([(0.0, lambda: policy.snooze(None)),
                         (1.0, lambda: policy.may_say("no")), (1.1, policy.utterance_ended),
                         (2.0, lambda: policy.snooze(0)),
                         (3.0, lambda: policy.may_say("yes"))])
    assert [s for s in said if s is not None] == [False, True]
    assert speaker(harness)[0] == ("paused", "snoozed until resumed")
    assert speaker(harness)[-1] == ("live", "")


def quiet_hours_around_now() -> str:
    now = datetime.now()
    start, end = now - timedelta(hours=2), now + timedelta(hours=2)
    return f'quiet_hours = "{start:%H:%M}-{end:%H:%M}"'


def test_quiet_hours_are_decided_per_utterance_across_a_rules_reload(repo):
    write_rules(repo, quiet_hours_around_now())
    harness = StageHarness()
    policy = start(repo, harness)
    policy.load_rules()
    try:
        said = harness.play([(0.0, lambda: policy.may_say("during quiet hours"))])
        write_rules(repo, "")  # the user lifts quiet hours mid-utterance
        policy.store.reload()
        said += harness.play([(0.2, lambda: policy.may_say(" still the same utterance")),
                              (0.4, policy.utterance_ended),
                              (1.0, lambda: policy.may_say("a new one"))])
        write_rules(repo, quiet_hours_around_now())  # and sets them again mid-utterance
        policy.store.reload()
        said += harness.play([(1.2, lambda: policy.may_say(" goes on")),
                              (1.4, policy.utterance_ended),
                              (2.0, lambda: policy.may_say("held again"))])
    finally:
        policy.close()
    assert [s for s in said if s is not None] == [False, False, True, True, False]
    held = [r for s, r in speaker(harness) if s == "paused"]
    assert len(held) == 2 and all(r.startswith("interjection held: quiet hours until ")
                                  for r in held)
    assert len(harness.of(RulesChanged)) == 3  # loaded, lifted, set again: each said


@pytest.mark.parametrize("gates, held", [("never_while_user_speaks = true", True), ("", False)],
                         ids=["opted-in", "default"])
def test_the_users_own_words_hold_an_interjection_only_when_the_rules_say(repo, gates, held):
    write_rules(repo, gates)
    harness = StageHarness()
    policy = start(repo, harness)
    said = harness.play([(10.0, UserWords(10.0, "so I was thinking", final=False)),
                         (10.5, lambda: policy.may_say("hey")),  # 0.5 s after the user's words
                         (10.6, policy.utterance_ended),
                         (11.0, lambda: policy.may_say("now"))])  # 1.0 s after: they paused
    assert [s for s in said if s is not None] == [not held, True]
    assert (("paused", "interjection held: the user is speaking") in speaker(harness)) == held


def test_rules_changes_reach_the_agents_on_save_config(repo):
    """The policy's store owns the rules; its RulesChanged events reconfigure the agent stage."""
    (repo / ".companion.toml").write_text('[[on_save]]\npaths = ["src/**"]\ntests = "all"\n')
    harness = StageHarness()
    policy = start(repo, harness)

    class Agent:
        def __init__(self) -> None:
            self.configs = []

        def set_config(self, config) -> None:
            self.configs.append(config)

        def set_reasoning(self, config) -> None:
            pass

    agent = Agent()
    # no saves here, so the stage needs no event loop to batch them on
    stage = AgentStage(agent, harness.emit, loop=None, rules=lambda: policy.rules)
    policy.load_rules()
    try:
        for event in harness.of(RulesChanged):
            stage.process(event)
        assert agent.configs[-1].plan_for("src/a.py").tests == "all"
        (repo / ".companion.toml").write_text('[[on_save]]\npaths = ["src/**"]\ntests = "none"\n')
        policy.store.reload()
    finally:
        policy.close()
    stage.process(harness.of(RulesChanged)[-1])
    assert agent.configs[-1].plan_for("src/a.py").tests == "none"
    assert harness.of(RulesChanged)[-1].error == ""
