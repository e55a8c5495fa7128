"""Run the project's tests: pytest with structured failures and live progress, or any other command.

pytest runs with `--verbosity=1` (one line per finished test, parsed for progress; set outright
so a `-q` in the project's addopts cannot hide them) and writes a JUnit XML
report to a temporary file outside the repository (parsed into `TestFailure`s). Beside it, our
plugin (tools/pytest_values.py) writes each failure's frames, assertion operands and the changed
lines it executed (`TestRun.details`), and dumps the stacks just before a timeout kill so a hang
names where it was spinning. Other runners (`cargo test`, `npm test`) give their exit code and the
last lines of their output.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from tools.junit_report import JUnitReport, TestFailure, parse_junit
from tools.process import run_command, tool_cache_dir
from tools.pytest_details import PLUGIN_MODULE, dump_stacks, prepare_details, read_details
from tools.registry import ToolError
from tools.test_run_errors import pytest_did_not_run, raise_on_timeout

if TYPE_CHECKING:
    from tools.warm_runner import WarmRunner

_COLLECTED = re.compile(r"collected (\d+) items?(?: / (\d+) deselected)?(?: / (\d+) selected)?")
_OUTCOME = re.compile(r"^(\S+::\S+)\s+(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)\b")


@dataclass(frozen=True, slots=True)
class TestProgress:
    """How far a pytest run is: tests finished (and failed) so far, of `total` once collected."""

    __test__ = False  # not a pytest test class, despite the name

    done: int
    total: int | None
    failed: int
    test: str  # the node id that just finished ("" before the first)


ProgressCallback = Callable[[TestProgress], None]


@dataclass(frozen=True, slots=True)
class TestsConfig:
    """How to run the project's tests (filled from the rules file's on-save section).

    command: argv of the test command; None means `<this python> -m pytest`. A command whose
        program is pytest (or `-m pytest`) gets structured results and affected-test selection.
    timeout_s: wall-clock limit of one run; past it the whole process group is killed.
    full_suite_after: after an affected-tests run on save passes, run the full suite too.
    output_cap_bytes: how much of the output is kept (the newest part).
    """

    __test__ = False  # not a pytest test class, despite the name

    command: tuple[str, ...] | None = None
    timeout_s: float = 120.0
    full_suite_after: bool = False
    output_cap_bytes: int = 256 * 1024
    env: dict[str, str] | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        if self.command is not None:
            object.__setattr__(self, "command", tuple(self.command))
            if not self.command or not all(isinstance(a, str) and a for a in self.command):
                raise ValueError(
                    f"tests command must be a non-empty list of strings: {self.command!r}"
                )
        if self.timeout_s <= 0:
            raise ValueError(f"tests timeout_s must be positive, got {self.timeout_s}")

    def argv(self) -> tuple[str, ...]:
        return self.command if self.command is not None else (sys.executable, "-m", "pytest")

    @property
    def is_pytest(self) -> bool:
        argv = self.argv()  # `pytest`, `python -m pytest`, `uv run pytest`, `.venv/bin/pytest`
        if any(PurePosixPath(a).name in ("pytest", "py.test") for a in argv):
            return True
        return any(a == "-m" and b == "pytest" for a, b in itertools.pairwise(argv))


@dataclass(frozen=True, slots=True)
class TestRun:
    """The outcome of one test run."""

    __test__ = False  # not a pytest test class, despite the name

    scope: str  # "affected", "all" or "paths"
    selected: tuple[str, ...]  # test files run (empty: the whole suite)
    exit_code: int | None
    duration_s: float
    report: JUnitReport | None  # pytest only
    output_tail: tuple[str, ...]
    argv: tuple[str, ...]
    details: dict[str, dict] = field(default_factory=dict)  # node id -> the plugin's record
    warm: bool = False  # run by the warm worker (tools/warm_runner.py)

    @property
    def failures(self) -> tuple[TestFailure, ...]:
        return self.report.failures if self.report else ()

    def to_dict(self) -> dict:
        report = self.report
        return {
            "scope": self.scope,
            "selected": list(self.selected),
            "command": list(self.argv),
            "exit_code": self.exit_code,
            "duration": round(self.duration_s, 3),
            "counts": {
                "passed": len(report.passed) if report else None,
                "failed": len(report.failures) if report else None,
                "skipped": len(report.skipped) if report else None,
            },
            "failures": [f.to_dict() for f in self.failures],
            "passed": list(report.passed) if report else [],
            "output_tail": list(self.output_tail),
            "warm": self.warm,
        }


class PytestProgress:
    """Turns pytest's `-v` lines into `TestProgress`."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self.callback = callback
        self.total: int | None = None
        self.done = 0
        self.failed = 0

    def feed(self, line: str) -> None:
        if self.total is None and (m := _COLLECTED.search(line)):
            self.total = int(m[3]) if m[3] else int(m[1]) - int(m[2] or 0)
            self._report("")
        elif m := _OUTCOME.match(line):
            self.done += 1
            self.failed += m[2] in ("FAILED", "ERROR")
            self._report(m[1])

    def _report(self, test: str) -> None:
        if self.callback is not None:
            self.callback(TestProgress(self.done, self.total, self.failed, test))


def test_path_arg(path: str) -> str:
    """A test path or node id as a runner argument that can only be read as a path.

    Relative paths get a `./` prefix, so no runner reads them as an option (`-p evil`, `--x`) or
    an argument file (pytest and argparse read `@file`; so do javac-style runners); absolute
    paths already start with `/`. Containment in the repository is checked by the caller.
    """
    if not path or "\0" in path or "\n" in path:
        raise ToolError(f"not a test path: {path!r}")
    return path if path.startswith("/") else "./" + path.removeprefix("./")


def pytest_argv(config: TestsConfig, report_path: Path | str, selected=()) -> list[str]:
    """The pytest command the agent runs: progress lines, a JUnit report, nothing cached in the
    repository; test paths go through `test_path_arg`, so none reads as an option or @file."""
    argv = [*config.argv(), "--verbosity=1", "--color=no", "-p", "no:cacheprovider",
            "-p", PLUGIN_MODULE, "-o", "junit_family=xunit1", f"--junitxml={report_path}"]
    return argv + [test_path_arg(s) for s in selected]


async def run_tests(
    root: str | Path,
    config: TestsConfig,
    *,
    selected: Sequence[str] = (),
    scope: str = "all",
    on_progress: ProgressCallback | None = None,
    on_start: Callable[[int], None] | None = None,
    changed: dict[str, dict[int, float]] | None = None,
    warm: WarmRunner | None = None,
) -> TestRun:
    """Run the tests (only the `selected` test files for pytest when given) and parse the outcome.

    `changed` (ChangeLog.snapshot()) is what the plugin traces; `warm` runs pytest in a
    pre-started worker when it can prove that equivalent to a cold run (else it returns None)."""
    root = Path(root)
    if not root.is_dir():
        raise ToolError(f"project directory does not exist: {root}")
    if not config.is_pytest:
        result = await run_command(
            config.argv(),
            root,
            timeout_s=config.timeout_s,
            env=_env(config),
            output_cap=config.output_cap_bytes,
            on_start=on_start,
        )
        raise_on_timeout(result, config)
        return TestRun(
            "all",
            (),
            result.returncode,
            result.duration_s,
            None,
            tuple(result.last_lines()),
            result.argv,
        )

    report_dir = Path(tempfile.mkdtemp(prefix="companion-junit-"))
    report_path = report_dir / "report.xml"
    argv = pytest_argv(config, report_path, selected)
    progress = PytestProgress(on_progress)
    try:
        env = prepare_details(report_dir, root, _env(config), changed, dump_on_timeout=True)

        async def before_kill(pid: int) -> None:
            await dump_stacks(report_dir, pid)

        result = None
        if warm is not None:
            result = await warm.run(argv, root, env, config, progress.feed, on_start, before_kill)
        used_warm = result is not None
        if result is None:
            result = await run_command(
                argv,
                root,
                timeout_s=config.timeout_s,
                env=env,
                on_line=progress.feed,
                output_cap=config.output_cap_bytes,
                on_start=on_start,
                before_kill=before_kill,
            )
        raise_on_timeout(result, config, progress, root, report_dir, changed, used_warm)
        report = parse_junit(report_path, root) if report_path.exists() else None
        details = read_details(report_dir)
    finally:
        shutil.rmtree(report_dir, ignore_errors=True)
    if report is None and result.returncode != 5:
        raise ToolError(pytest_did_not_run(result, config), {"output_tail": result.last_lines()})
    return TestRun(
        scope if selected else "all",
        tuple(selected),
        result.returncode,
        result.duration_s,
        report,
        tuple(result.last_lines()),
        result.argv,
        details,
        used_warm,
    )


def _env(config: TestsConfig) -> dict[str, str]:
    """The test process's environment: ours plus the config's, with Python's bytecode written
    under the user's cache directory. A run the agent starts must not change the repository, and
    `__pycache__` written there showed up to the file watch as edits the user never made."""
    env = {**os.environ, **config.env} if config.env else dict(os.environ)
    env.setdefault("PYTHONPYCACHEPREFIX", str(tool_cache_dir("pycache")))
    return env
