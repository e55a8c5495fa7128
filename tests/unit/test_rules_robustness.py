"""One validation path: what `rules check` accepts the companion runs, what it rejects the companion
refuses the same way; no file crashes either, and hot reload survives every file."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from companion.agent.stage import on_save_config
from companion.core.events import RulesChanged
from companion.rules.config_errors import ConfigError
from companion.rules.gates import SpeechGate
from companion.rules.schema import ARRAYS, TABLES
from companion.rules.speech_policy import SpeechPolicy
from companion.rules.store import (
    REPO_FILE,
    RulesStore,
    check_command,
    describe,
    load_rules,
    on_save_action,
    rules_prompt_text,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rules"
THEMES = ("companion-dark", "companion-light", "companion-contrast")


class AgentConfigRecorder:
    """Stands in for the background agent: keeps the on-save config it is given."""

    def __init__(self) -> None:
        self.configs = []

    def set_config(self, config) -> None:
        self.configs.append(config)

    def set_reasoning(self, config) -> None:  # the [reasoning] table (issue 15)
        self.reasoning = config


def run_like_the_companion(rules) -> None:
    """Everything the running companion builds from accepted rules (what used to crash)."""
    on_save_config(rules)
    SpeechGate(rules.gates, rules.rules)
    on_save_action(rules, "src/app/models.py")
    rules_prompt_text(rules)
    describe(rules)


@pytest.fixture
def no_user_file(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPANION_CONFIG_DIR", str(tmp_path / "user-config"))


@pytest.mark.parametrize("fixture", sorted(FIXTURES.glob("*.toml")), ids=lambda p: p.stem)
def test_check_and_start_up_refuse_each_bad_file_with_the_same_message(
        fixture, tmp_path, capsys, no_user_file):
    assert check_command(fixture) == 1
    printed = capsys.readouterr().out
    assert printed.startswith(f"{fixture}:") and "Traceback" not in printed
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / REPO_FILE).write_bytes(fixture.read_bytes())
    events = []
    policy = SpeechPolicy(events.append, repo)
    agent = AgentConfigRecorder()
    policy.load_rules()
    agent.set_config(on_save_config(policy.rules))  # as the agent stage does on RulesChanged
    try:
        message = printed.strip().split(": ", 1)[1]
        assert message in policy.store.error  # same words, the repo path instead of the fixture's
        changed = [e for e in events if isinstance(e, RulesChanged)]
        assert changed[-1].error == policy.store.error
        assert policy.rules.rules == () and agent.configs  # defaults run; nothing crashed
    finally:
        policy.close()


def test_a_directory_is_named_as_such(tmp_path, capsys, no_user_file):
    assert check_command(tmp_path) == 1
    assert capsys.readouterr().out.strip() == (
        f"{tmp_path}:1: is a directory, not a file; give the path of the .toml file inside it")


def test_a_symlink_loop_is_named_as_such(tmp_path, capsys, no_user_file):
    loop = tmp_path / "rules.toml"
    loop.symlink_to(loop)
    assert check_command(loop) == 1
    assert "is a symlink loop" in capsys.readouterr().out


def test_a_missing_file_is_still_no_such_file(tmp_path, capsys, no_user_file):
    assert check_command(tmp_path / "nope.toml") == 2
    assert capsys.readouterr().out.strip() == f"{tmp_path / 'nope.toml'}: no such file"


def test_a_fifo_is_refused_without_blocking(tmp_path, capsys, no_user_file):
    fifo = tmp_path / "rules.toml"
    os.mkfifo(fifo)
    assert check_command(fifo) == 1
    assert "not a regular file" in capsys.readouterr().out


def test_check_prints_the_prefix_budget(tmp_path, capsys, no_user_file):
    path = tmp_path / "ok.toml"
    path.write_text('[[rule]]\nname = "short"\ntext = "Keep it short."\n')
    assert check_command(path) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("pinned prefix: ") and " of 2048 tokens (" in last


def wait_for(predicate, timeout=5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_hot_reload_survives_every_bad_file_and_applies_the_next_good_one(tmp_path):
    repo_file = tmp_path / REPO_FILE
    repo_file.write_text("[gates]\nmax_per_10min = 3\n")
    store = RulesStore(tmp_path, user_dir=tmp_path / "cfg", poll_s=0.02)
    agent = AgentConfigRecorder()
    store.subscribe(lambda event: agent.set_config(on_save_config(store.rules)))  # as AgentStage
    store.start()
    try:
        good = 3
        for fixture in sorted(FIXTURES.glob("*.toml")):
            repo_file.write_bytes(fixture.read_bytes())
            assert wait_for(lambda: store.error), fixture.name
            assert store.rules.gates.max_per_10min == good  # the last good rules stay
            good += 1
            repo_file.write_text(f"[gates]\nmax_per_10min = {good}\n")
            assert wait_for(lambda good=good: store.rules.gates.max_per_10min == good), fixture.name
            assert store.error == ""
        for make_odd in (lambda: repo_file.mkdir(), lambda: os.mkfifo(repo_file),
                         lambda: repo_file.symlink_to(repo_file)):
            repo_file.unlink()
            make_odd()
            assert wait_for(lambda: store.error)
            if repo_file.is_dir():
                repo_file.rmdir()
            else:
                repo_file.unlink()
            good += 1
            repo_file.write_text(f"[gates]\nmax_per_10min = {good}\n")
            assert wait_for(lambda good=good: store.rules.gates.max_per_10min == good)
        assert store._thread is not None and store._thread.is_alive()
    finally:
        store.stop()


def test_a_subscriber_that_raises_does_not_stop_the_watch(tmp_path):
    repo_file = tmp_path / REPO_FILE
    repo_file.write_text("[gates]\nmax_per_10min = 3\n")
    store = RulesStore(tmp_path, user_dir=tmp_path / "cfg", poll_s=0.02)
    seen = []
    store.subscribe(lambda event: 1 / 0)
    store.subscribe(seen.append)
    store.start()
    try:
        repo_file.write_text("[gates]\nmax_per_10min = 4\n")
        assert wait_for(lambda: seen and store.rules.gates.max_per_10min == 4)
        repo_file.write_text("[gates]\nmax_per_10min = 5\n")
        assert wait_for(lambda: store.rules.gates.max_per_10min == 5)
        assert threading.active_count() >= 1 and store._thread.is_alive()
    finally:
        store.stop()


# -- fuzzing the loader: any document is either refused with ConfigErrors or runs -------------

# values near the edges of what each kind accepts, drawn half of the time
_EDGES = st.sampled_from([
    "0s", "90s", "1h30m", "", " ", "22:00-07:00", "25:00-01:00", "src/**/*.py", "[z-a]",
    "src/[z-a].py", "pytest -k 'x", "pytest ''", "embedded", "http://h:1", "ruff", "affected",
    "warning", "9" * 30 + "h", "companion-dark", 0, -1, 10 ** 19, 0.0, float("nan"),
    float("inf"), [], [""], ["[z-a]"], [0, 0, 0, 0], [[0, 0, 1, 1]], ["22:00-22:00"]])
_SCALARS = st.one_of(
    st.booleans(), st.integers(min_value=-(10 ** 30), max_value=10 ** 30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=20),
)
_VALUES = st.one_of(_EDGES, st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=5),
                                         max_leaves=12))


# a valid value for every key: a document is mostly valid, so one bad value decides its fate
VALID = {
    "never_while_user_speaks": True, "quiet_hours": "22:00-07:00", "snooze": "15m",
    "cooldown": "2m", "min_severity": "info", "max_per_10min": 6, "command": "pytest -q",
    "timeout": "5m", "fps": 2.0, "monitor": 1, "region": [0, 0, 10, 10],
    "exclude_regions": [[0, 0, 1, 1]], "exclude_windows": ["secrets"], "voice": "en",
    "rate": 175, "mute": False, "server": "embedded", "name": "r", "theme": "companion-dark",
    "text": "Keep it short.", "paths": ["src/*.py"], "severity": "warning", "tests": "affected",
    "lint": ["ruff"], "read": "errors",
    # [reasoning] (issue 15)
    "enabled": False, "endpoint": "http://127.0.0.1:8000/v1", "model": "tiny",
    "api_key_env": "REASONING_API_KEY",
}


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(repr(value), repr(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        escaped = "".join(c if c.isprintable() and c not in '"\\' else f"\\u{ord(c):04x}"
                          for c in value)
        return f'"{escaped}"'
    return "[" + ", ".join(_toml_value(v) for v in value) + "]"


def _section(draw, header: str, schema: dict) -> str:
    lines = []
    for key in sorted(schema):
        choice = draw(st.sampled_from(["valid", "valid", "valid", "edge", "absent"]))
        if choice == "absent":
            continue
        value = VALID[key] if choice == "valid" else draw(_VALUES)
        lines.append(f"{key} = {_toml_value(value)}\n")
    return header + "".join(lines)


@st.composite
def rules_documents(draw) -> str:
    parts = [_section(draw, f"[{table}]\n", TABLES[table][1])
             for table in draw(st.lists(st.sampled_from(sorted(TABLES)), max_size=4, unique=True))]
    for array in draw(st.lists(st.sampled_from(sorted(ARRAYS)), max_size=3)):
        parts.append(_section(draw, f"[[{array}]]\n", ARRAYS[array][1]))
    return "\n".join(parts)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(document=rules_documents())
def test_fuzz_every_accepted_document_runs_and_every_other_is_a_config_error(tmp_path, document):
    path = tmp_path / "fuzz.toml"
    path.write_text(document, encoding="utf-8")
    try:
        rules = load_rules([path], THEMES)
    except ConfigError as error:
        assert all(p.path == str(path) and p.line >= 1 for p in error.problems)
        return
    run_like_the_companion(rules)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=200) | st.text(max_size=200).map(lambda t: t.encode("utf-8", "replace")))
def test_fuzz_arbitrary_bytes_never_crash_the_loader(tmp_path, raw):
    path = tmp_path / "bytes.toml"
    path.write_bytes(raw)
    try:
        rules = load_rules([path], THEMES)
    except ConfigError:
        return
    run_like_the_companion(rules)
