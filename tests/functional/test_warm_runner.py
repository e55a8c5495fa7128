"""The warm runner equals a cold `python -m pytest` on every one of 50 mutants, and goes cold
whenever it cannot prove that: conftest or config changes, other commands, -W options."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest
import pytest_asyncio

from benchmarks.bug_reports.mutants import mutants_of
from benchmarks.bug_reports.project import make_project
from tools.registry import ToolError
from tools.test_runner import TestRun, TestsConfig, run_tests
from tools.warm_runner import WarmRunner

MUTANTS = 50
CONFIG = TestsConfig(timeout_s=120)
MUTANT_CONFIG = TestsConfig(timeout_s=20)  # some mutants loop forever: both runs must say so
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return make_project(tmp_path_factory.mktemp("warm") / "stdlib_project")


def mutant_set(root: Path) -> list:
    pool = []
    for rel in ("mini_bisect.py", "mini_heapq.py", "mini_colorsys.py"):
        pool += mutants_of(rel, (root / rel).read_text())
    random.Random(11).shuffle(pool)
    return pool[:MUTANTS]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def warm(project):
    runner = WarmRunner(project)
    await run_tests(project, CONFIG, warm=runner)  # starts the worker; this run is cold
    assert await runner.wait_ready(120), runner.unsafe
    yield runner
    await runner.aclose()


def outcome(run: TestRun) -> tuple:
    """Everything a user or the agent sees of a run, minus timings."""
    failures = tuple((f.test_id, f.kind, f.exc_type, f.file, f.line, f.message)
                     for f in run.failures)
    details = {k: {f: v for f, v in d.items()} for k, d in run.details.items()}
    return run.exit_code, run.report.passed, failures, run.report.skipped, details


@pytest.mark.parametrize("index", range(MUTANTS))
async def test_warm_equals_cold_on_a_mutant(project, warm, index):
    mutant = mutant_set(project)[index]
    path = project / mutant.file
    original = path.read_text()
    path.write_text(mutant.source)
    changed = {mutant.file: {mutant.line: 1.0}}
    try:
        hot = await _outcome_or_hang(run_tests(project, MUTANT_CONFIG, warm=warm, changed=changed))
        cold = await _outcome_or_hang(run_tests(project, MUTANT_CONFIG, changed=changed))
    finally:
        path.write_text(original)
    assert hot[0] and not cold[0], warm.cold_reason
    assert hot[1] == cold[1], mutant.name


async def _outcome_or_hang(running) -> tuple[bool, tuple]:
    """(ran warm, outcome); a hang's outcome is its test and the file it spun in (the exact
    line depends on the instant of the dump)."""
    try:
        run = await running
    except ToolError as exc:
        hang = exc.data.get("hang")
        assert hang, str(exc)
        return exc.data["warm"], ("hang", hang["test"], hang["location"]["file"])
    return run.warm, outcome(run)


async def test_changes_it_cannot_vouch_for_run_cold_then_warm_again(project, warm):
    conftest = project / "tests" / "conftest.py"
    conftest.write_text("import pytest\n")
    try:
        run = await run_tests(project, CONFIG, warm=warm)
        assert not run.warm and warm.cold_reason == "configuration changed"
        assert await warm.wait_ready(120)
        assert (await run_tests(project, CONFIG, warm=warm)).warm
    finally:
        conftest.unlink()
    run = await run_tests(project, CONFIG, warm=warm)
    assert not run.warm and warm.cold_reason == "configuration changed"
    assert await warm.wait_ready(120)
    flagged = TestsConfig(command=(CONFIG.argv()[0], "-W", "default", "-m", "pytest"))
    assert not (await run_tests(project, flagged, warm=warm)).warm
    assert warm.cold_reason == "not a plain `python -m pytest` in the project root"
    other = TestsConfig(command=(CONFIG.argv()[0], "-c", "print('tests ok')"))
    assert (await run_tests(project, other, warm=warm)).exit_code == 0


async def test_a_timed_out_warm_run_kills_its_process_group(project, warm):
    (project / "tests" / "test_zz_sleep.py").write_text(
        "import time\n\ndef test_sleep():\n    time.sleep(60)\n")
    try:
        with pytest.raises(Exception, match="hangs: stopped after 8 seconds"):
            await run_tests(project, TestsConfig(timeout_s=8), warm=warm,
                            selected=["tests/test_zz_sleep.py"])
    finally:
        (project / "tests" / "test_zz_sleep.py").unlink()
    await asyncio.sleep(0.1)
    assert (await run_tests(project, CONFIG, warm=warm, selected=["tests/test_mini_bisect.py"])
            ).warm  # the worker still serves
