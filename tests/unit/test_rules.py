"""The rules file: each failure-mode fixture gives its exact error; merging, reload, commands."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from companion.rules import store as rules_module
from companion.rules.config_errors import ConfigError
from companion.rules.schema import Rules
from companion.rules.store import (
    RulesStore,
    check_command,
    init_command,
    load_rules,
    on_save_action,
    rules_prompt_text,
)
from companion.rules.template import DEFAULT_RULES_FILE

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rules"
THEMES = ("companion-dark", "companion-light", "companion-contrast")

EXPECTED = {
    "not_toml": ':3:15: not valid TOML: Illegal character \'\\n\' (a string is not closed: '
                'add the closing quote)',
    "unknown_key": ':3: gates.quiet_hour: unknown key; did you mean "quiet_hours"? (valid keys: '
                   'never_while_user_speaks, quiet_hours, snooze, cooldown, min_severity, '
                   'max_per_10min)',
    "wrong_type": ':3: gates.max_per_10min: expected an integer, got a string "six"',
    "bad_duration": ':6: gates.snooze: bad duration "15 minutes": write a number and a unit h, m '
                    'or s, e.g. "90s", "15m", "2h", "1h30m"',
    "bad_glob": ':8: rule[2].paths: bad glob "tests/[unit/*.py": a \'[\' has no matching \']\'',
    "bad_time_range": ':2: gates.quiet_hours: bad time range "22:00-7": write HH:MM-HH:MM on the '
                      '24-hour clock, e.g. "22:00-07:00"',
    "unknown_tool": ':4: on_save[1].lint: unknown tool "rufff"; did you mean "ruff"? '
                    '(one of: ruff, mypy)',
    "unknown_theme": ':2: ui.theme: unknown theme "companion-drak"; did you mean '
                     '"companion-dark"? (known: companion-dark, companion-light, '
                     'companion-contrast)',
    # files that passed the check and then crashed the companion, or crashed the check itself
    "zero_timeout": ':3: tests.timeout: duration "0s" must be more than zero, e.g. "5m"',
    "unclosed_quote_command": ':2: tests.command: cannot split command "pytest -k \'foo" into '
                              'arguments: no closing quotation; close the quote or escape it',
    "on_save_without_paths": ':2: on_save[1].paths: needs at least one glob, e.g. '
                             '["src/**/*.py"]',
    "reversed_glob_range": ':2: on_save[1].paths: bad glob "src/[z-a].py": bad character range '
                           'z-a at position 6',
    "huge_integer": ':2: gates.max_per_10min: a number has thousands of digits; no setting '
                    'takes one that big',
    "huge_duration": ':2: gates.cooldown: bad duration "99999999999999999999…": the number is '
                     'too long (at most a week)',
    "deep_arrays": ':2: screen.exclude_regions: arrays or inline tables nested more than 64 '
                   'levels deep; flatten them',
    "deep_inline_tables": ':1: gates: arrays or inline tables nested more than 64 levels deep; '
                          'flatten them',
    "byte_order_mark": ':1: starts with a UTF-8 byte order mark (BOM), which TOML does not '
                       'allow; save the file as UTF-8 without BOM',
    # the v2 embedded model's tokenizer (4096 tokens, trained on session text) spends more on
    # prose than v1's did: fewer rules fit
    # (remind's request argument, 2026-12-07, made the tools' lines longer: one rule fewer fits)
    "over_prefix_budget": ":142: rule 'billing-35': from this rule on, the pinned prefix (system "
                          "text, rules, tools) would be 3133 tokens, 1085 over the embedded "
                          "model's limit of 2048: the model would never get a turn. Shorten, "
                          "merge or remove rules to save 1085 tokens (longest: \"billing-59\" "
                          '(44), "billing-58" (44), "billing-57" (44))',
}


def test_every_failure_mode_has_a_fixture():
    assert {p.stem for p in FIXTURES.glob("*.toml")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_error_names_file_line_key_and_suggestion(name):
    path = FIXTURES / f"{name}.toml"
    with pytest.raises(ConfigError) as caught:
        load_rules([path], THEMES)
    assert str(caught.value) == str(path) + EXPECTED[name]
    assert len(caught.value.problems) == 1


def test_default_file_is_valid_and_documents_every_key(tmp_path):
    path = tmp_path / ".companion.toml"
    path.write_text(DEFAULT_RULES_FILE)
    rules = load_rules([path], THEMES)
    assert [r.name for r in rules.rules] == ["off-by-one", "tests I touched"]
    from companion.rules.schema import ARRAYS, TABLES
    for table, (_, schema) in TABLES.items():
        assert f"[{table}]" in DEFAULT_RULES_FILE
        for key in schema:
            assert f"\n{key} =" in DEFAULT_RULES_FILE or f"# {key} =" in DEFAULT_RULES_FILE, key
    for table, (_, schema, _) in ARRAYS.items():
        for key in schema:
            assert f"{key} =" in DEFAULT_RULES_FILE, (table, key)


def test_repository_file_merges_over_user_file(tmp_path):
    user = tmp_path / "rules.toml"
    user.write_text('[gates]\ncooldown = "5m"\nmax_per_10min = 2\n[voice]\nrate = 200\n'
                    '[[rule]]\nname = "style"\ntext = "User wording."\n'
                    '[[rule]]\nname = "mine"\ntext = "Only in the user file."\n')
    repo = tmp_path / ".companion.toml"
    repo.write_text('[gates]\nmax_per_10min = 4\nquiet_hours = "22:00-07:00"\n'
                    '[[rule]]\nname = "style"\ntext = "Repo wording."\nseverity = "error"\n')
    rules = load_rules([user, repo], THEMES)
    assert rules.gates.cooldown == 300.0 and rules.gates.max_per_10min == 4
    assert str(rules.gates.quiet_hours[0]) == "22:00-07:00"
    assert rules.voice.rate == 200
    assert {(r.name, r.text, r.source) for r in rules.rules} == {
        ("mine", "Only in the user file.", str(user)), ("style", "Repo wording.", str(repo))}


def test_problems_in_both_files_are_all_reported(tmp_path):
    user = tmp_path / "rules.toml"
    user.write_text('[voice]\nrate = 10\n')
    repo = tmp_path / ".companion.toml"
    repo.write_text('[gatse]\n')
    with pytest.raises(ConfigError) as caught:
        load_rules([user, repo], THEMES)
    text = str(caught.value)
    assert f"{user}:2: voice.rate: 10 is out of range: use 60 to 500" in text
    assert f'{repo}:1: gatse: unknown key; did you mean "gates"?' in text


def test_missing_required_rule_text(tmp_path):
    path = tmp_path / "r.toml"
    path.write_text('[[rule]]\nname = "a"\ntext = "x"\n\n[[rule]]\nname = "b"\n')
    with pytest.raises(ConfigError, match=r"r.toml:5: rule\[2\].text: missing \(required\)"):
        load_rules([path], THEMES)


def test_on_save_action_takes_broadest_scope_and_all_linters():
    from companion.rules.schema import OnSave
    rules = Rules(on_save=(OnSave(("src/**/*.py",), "affected", ("ruff",)),
                           OnSave(("src/core/*.py",), "all", ("mypy", "ruff"))))
    both = rules_module.OnSaveAction("all", ("ruff", "mypy"))
    assert on_save_action(rules, "src/core/a.py") == both
    assert on_save_action(rules, "src/x/b.py") == rules_module.OnSaveAction("affected", ("ruff",))
    assert on_save_action(rules, "docs/x.md") == rules_module.OnSaveAction("none", ())


def test_prompt_text_carries_rules_and_gates(tmp_path):
    path = tmp_path / "r.toml"
    path.write_text('[[rule]]\nname = "obo"\ntext = "Catch off-by-one errors."\npaths = ["*.py"]\n'
                    '[gates]\nmin_severity = "warning"\nquiet_hours = "12:00-13:00"\n')
    text = rules_prompt_text(load_rules([path], THEMES))
    assert "- obo [warning]: Catch off-by-one errors. (only for *.py)" in text
    assert "Only say things of severity warning or higher." in text
    assert "Quiet hours (say nothing): 12:00-13:00." in text


def test_init_writes_once_and_check_exit_codes(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COMPANION_CONFIG_DIR", str(tmp_path / "cfg"))
    target = tmp_path / ".companion.toml"
    assert init_command(target) == 0
    before = target.read_text()
    assert init_command(target) == 1 and target.read_text() == before
    assert check_command(target) == 0
    assert "rule 'off-by-one' [warning]" in capsys.readouterr().out
    assert check_command(FIXTURES / "wrong_type.toml") == 1
    assert 'expected an integer, got a string "six"' in capsys.readouterr().out
    assert check_command(tmp_path / "absent.toml") == 2


def test_store_hot_reloads_and_keeps_last_good_rules(tmp_path):
    repo_file = tmp_path / ".companion.toml"
    repo_file.write_text('[gates]\nmax_per_10min = 3\n')
    events = []
    store = RulesStore(tmp_path, user_dir=tmp_path / "cfg", poll_s=0.05)
    store.subscribe(events.append)
    store.start()
    try:
        assert store.rules.gates.max_per_10min == 3
        repo_file.write_text('[gates]\nmax_per_10min = 5\n')
        deadline = time.monotonic() + 5.0
        # the sink runs just after the rules are swapped in: wait for both
        while (store.rules.gates.max_per_10min != 5 or not events) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert store.rules.gates.max_per_10min == 5 and events[-1].error == ""
        repo_file.write_text('[gates]\nmax_per_10min = "many"\n')
        deadline = time.monotonic() + 5.0
        # the error is set, then the sink gets its event: wait for both, as above
        while (not store.error or not events[-1].error) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert 'gates.max_per_10min: expected an integer, got a string "many"' in store.error
        assert events[-1].error == store.error
        assert store.rules.gates.max_per_10min == 5  # the last valid rules stay
    finally:
        store.stop()


def test_store_sees_a_rewrite_that_keeps_size_and_mtime(tmp_path):
    repo_file = tmp_path / ".companion.toml"
    repo_file.write_text('[gates]\nmax_per_10min = 3\n')
    stat = repo_file.stat()
    store = RulesStore(tmp_path, user_dir=tmp_path / "cfg", poll_s=0.05)
    store.start()
    try:
        repo_file.write_text('[gates]\nmax_per_10min = 4\n')
        os.utime(repo_file, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # as if in one mtime tick
        deadline = time.monotonic() + 5.0
        while store.rules.gates.max_per_10min != 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert store.rules.gates.max_per_10min == 4
    finally:
        store.stop()


def test_store_reload_latency_with_default_polling(tmp_path):
    """Prints how long a save takes to apply at the default 0.5 s polling (the issue asks < 1 s)."""
    repo_file = tmp_path / ".companion.toml"
    repo_file.write_text('[voice]\nrate = 150\n')
    store = RulesStore(tmp_path, user_dir=tmp_path / "cfg")
    store.start()
    try:
        time.sleep(0.2)  # save at a random phase of the polling cycle
        saved = time.monotonic()
        repo_file.write_text('[voice]\nrate = 160\n')
        while store.rules.voice.rate != 160 and time.monotonic() < saved + 5:
            time.sleep(0.005)
        assert store.rules.voice.rate == 160
        print(f"\nrules save → applied: {(time.monotonic() - saved) * 1e3:.0f} ms")
    finally:
        store.stop()
