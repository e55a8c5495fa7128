"""Why a test run gave no result: a timeout, or pytest stopping without a report, said plainly.

A timed-out pytest run names how far it got and, from the stacks our plugin dumped just before
the kill (tools/pytest_details.py), the test that hangs and the line it was spinning at.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from tools.localize import localize_hang
from tools.process import CommandResult
from tools.pytest_details import read_hang
from tools.registry import ToolError

if TYPE_CHECKING:
    from tools.test_runner import PytestProgress, TestsConfig

_PYTEST_EXIT = {2: "interrupted", 3: "internal error", 4: "usage error"}


def raise_on_timeout(
    result: CommandResult,
    config: TestsConfig,
    progress: PytestProgress | None = None,
    root: Path | None = None,
    report_dir: Path | None = None,
    changed: dict[str, dict[int, float]] | None = None,
    warm: bool = False,
) -> None:
    """A ToolError if the run timed out: how far it got and, for pytest, where a hang spun."""
    if not result.timed_out:
        return
    where = ""
    if progress is not None and progress.total:
        where = f" after {progress.done} of {progress.total} tests"
    data: dict = {"timed_out": True, "pid": result.pid, "output_tail": result.last_lines(),
                  "warm": warm}
    message = f"the tests timed out at {config.timeout_s:g} seconds{where} and were stopped"
    if root is not None and report_dir is not None:
        test, dump = read_hang(report_dir)
        spot = localize_hang(root, dump, changed or {}) if dump else None
        if spot is not None:
            name = test.split("::")[-1].split("[")[0] or "a test"
            func = f", in {spot.function}" if spot.function not in ("", "<module>") else ""
            message = (f"{name} hangs: stopped after {config.timeout_s:g} seconds, spinning at "
                       f"{PurePosixPath(spot.file).name} line {spot.line}{func}")
            data.update(hang={"test": test, "location": spot.to_dict()})
    raise ToolError(message, data)


def pytest_did_not_run(result: CommandResult, config: TestsConfig) -> str:
    """Why pytest stopped without a JUnit report, in one line: its exit reason and error line."""
    if "No module named pytest" in result.output:
        return f"pytest is not installed for {config.argv()[0]}"
    code = result.returncode
    reason = _PYTEST_EXIT.get(code or 0, f"exit code {code}")
    tail = result.last_lines()
    # pytest ends a usage error with its inifile/rootdir lines; the "error:" line says what broke
    errors = [line for line in tail if "error:" in line.lower()]
    chosen = errors[-1] if errors else (tail[-1] if tail else "")
    detail = f": {chosen.strip()[:200]}" if chosen else ""
    return f"pytest stopped without a report ({reason}){detail}"
