"""Real pytest runs on the sample project: structured failures, progress, and clear errors."""

from __future__ import annotations

import sys

import pytest

from tools.registry import ToolError
from tools.test_runner import TestProgress, TestsConfig, run_tests


async def test_planted_bug_gives_a_structured_failure_and_progress(sample_project, tmp_path,
                                                                    monkeypatch):
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    # a quiet project: its addopts must not hide the per-test lines progress is read from
    pyproject = sample_project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + 'addopts = "-q"\n')
    progress = []
    run = await run_tests(
        sample_project,
        TestsConfig(),
        selected=["tests/test_parse.py"],
        scope="affected",
        on_progress=progress.append,
    )
    assert run.exit_code == 1 and run.scope == "affected"
    header = next(f for f in run.failures if f.test_id == "tests/test_parse.py::test_header")
    assert (header.file, header.line, header.exc_type) == ("parse.py", 7, "IndexError")
    assert header.message == "list index out of range"
    assert {f.test_id for f in run.failures} == {
        "tests/test_parse.py::test_header",
        "tests/test_parse.py::test_single_field",
    }
    assert progress[0] == TestProgress(0, 2, 0, "")
    assert progress[1].done == 1 and progress[1].failed == 1
    assert progress[-1] == TestProgress(2, 2, 2, "tests/test_parse.py::test_single_field")
    data = run.to_dict()
    assert data["counts"] == {"passed": 0, "failed": 2, "skipped": 0}
    assert data["failures"][0].keys() >= {
        "test_id",
        "file",
        "line",
        "exc_type",
        "message",
        "duration",
    }
    # the agent leaves no files behind: no pytest cache, bytecode under the user's cache directory
    assert not (sample_project / ".pytest_cache").exists()
    assert not list(sample_project.rglob("*.pyc"))
    assert list((tmp_path / "cache" / "companion" / "pycache").rglob("parse*.pyc"))


async def test_missing_pytest_is_a_clear_error(sample_project):
    no_site = TestsConfig(command=(sys.executable, "-S", "-I", "-m", "pytest"))
    with pytest.raises(ToolError, match=r"pytest is not installed for .*python"):
        await run_tests(sample_project, no_site)


async def test_broken_command_and_bad_config_are_clear_errors(sample_project):
    with pytest.raises(ToolError, match="command not found: cargo-does-not-exist"):
        await run_tests(sample_project, TestsConfig(command=("cargo-does-not-exist", "test")))
    with pytest.raises(ValueError, match="non-empty list of strings"):
        TestsConfig(command=())
    with pytest.raises(ValueError, match="timeout_s must be positive"):
        TestsConfig(timeout_s=0)
    with pytest.raises(ToolError, match="project directory does not exist"):
        await run_tests(sample_project / "nope", TestsConfig())


async def test_other_runners_give_exit_code_and_last_lines(sample_project):
    script = "print('compiling'); print('test result: FAILED. 1 failed'); raise SystemExit(101)"
    config = TestsConfig(command=(sys.executable, "-c", script))
    assert not config.is_pytest
    run = await run_tests(sample_project, config)
    assert run.exit_code == 101 and run.report is None
    assert run.output_tail[-1] == "test result: FAILED. 1 failed"


async def test_pytest_usage_error_is_reported_without_a_report(sample_project):
    config = TestsConfig(command=(sys.executable, "-m", "pytest", "--no-such-option"))
    with pytest.raises(
        ToolError,
        match=r"pytest stopped without a report \(usage error\): .*error: unrecognized arguments: "
        r"--no-such-option",
    ):
        await run_tests(sample_project, config)


def test_pytest_is_recognized_behind_wrappers():
    assert TestsConfig().is_pytest
    assert TestsConfig(command=("uv", "run", "pytest", "-x")).is_pytest
    assert TestsConfig(command=(".venv/bin/pytest",)).is_pytest
    assert not TestsConfig(command=("cargo", "test")).is_pytest
