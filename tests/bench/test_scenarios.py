"""The scenario format: the shipped set loads and covers every label; bad files fail clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.companion_bench.runner import apply_save, make_repo
from benchmarks.companion_bench.scenario import KINDS, ScenarioError, load_scenario, load_scenarios
from benchmarks.heldout import HELD_OUT_CODE_DIRS, HELD_OUT_VOICES

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "benchmarks/companion_bench/scenarios"


def test_shipped_set_has_40_scenarios_covering_every_label_with_held_out_voices():
    scenarios = load_scenarios(SHIPPED)
    assert len(scenarios) >= 40
    assert {k for s in scenarios for k in s.labels} == set(KINDS)
    voices = {s.voice for sc in scenarios for s in sc.steps if s.action == "say"}
    assert {tuple(v.split(":", 1)) for v in voices} <= HELD_OUT_VOICES
    assert len({v.split(":")[0] for v in voices}) == 2  # two engines
    assert str(SHIPPED.relative_to(ROOT)) in HELD_OUT_CODE_DIRS


@pytest.mark.slow
def test_every_shipped_save_applies_and_every_bug_breaks_its_named_test(tmp_path):
    import subprocess
    import sys
    for scenario in load_scenarios(SHIPPED):
        saves = [s for s in scenario.steps if s.action == "save"]
        if not saves:
            continue
        repo = make_repo(scenario, tmp_path / scenario.name)
        for step in saves:
            apply_save(repo, step)  # raises if a replace no longer matches the template
        for e in (e for e in scenario.expects if e.kind == "bug" and "infinite" not in scenario.name):
            run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider"],
                                 cwd=repo, check=False, capture_output=True, text=True, timeout=120)
            assert run.returncode == 1 and e.test in run.stdout, (scenario.name, run.stdout[-800:])


def _write(tmp_path: Path, body: str) -> Path:
    (tmp_path / "proj").mkdir(exist_ok=True)
    path = tmp_path / "s.toml"
    path.write_text('project = "proj"\nduration = 10.0\n' + body)
    return path


@pytest.mark.parametrize("body, message", [
    ('[[step]]\nat = 1.0\ndo = "jump"\n[[expect]]\nkind = "idle"\nstart = 0.0\nend = 5.0\n', "'do' must be one of"),
    ('[[step]]\nat = 1.0\ndo = "say"\ntext = "hi"\nvoice = "espeak-ng:en-us"\n[[expect]]\nkind = "idle"\nstart = 0.0\nend = 5.0\n',
     "not held out"),
    ('[[step]]\nid = "a"\nat = 1.0\ndo = "say"\ntext = "hi"\n[[expect]]\nkind = "question"\nstep = "b"\n', "'step' must name a step id"),
    ('[[step]]\nat = 1.0\ndo = "save"\npath = "x.py"\n[[expect]]\nkind = "idle"\nstart = 0.0\nend = 5.0\n', "needs 'path' and 'content' or 'replace'"),
    ('[[step]]\nat = "soon"\ndo = "wait"\n[[expect]]\nkind = "idle"\nstart = 0.0\nend = 5.0\n', "'at' must be float"),
    ('[[step]]\nid = "a"\nat = 1.0\ndo = "say"\ntext = "hi"\n[[expect]]\nkind = "remind"\nstep = "a"\n', "needs 'delay'"),
    ('[[step]\n', "s.toml"),
])
def test_bad_scenarios_name_the_file_and_the_problem(tmp_path, body, message):
    with pytest.raises(ScenarioError, match=message) as info:
        load_scenario(_write(tmp_path, body))
    assert str(tmp_path / "s.toml") in str(info.value)


def test_a_directory_without_scenarios_is_an_error(tmp_path):
    with pytest.raises(ScenarioError, match="no \\*.toml scenarios"):
        load_scenarios(tmp_path)
    with pytest.raises(ScenarioError, match="no scenario named nope"):
        load_scenarios(SHIPPED, ["nope"])
