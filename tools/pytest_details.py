"""The files beside one pytest run's JUnit report: our plugin, its inputs and its records.

`prepare_details` copies tools/pytest_values.py into the run's temporary directory under a name
no project uses, writes the changed lines it should trace, and returns the environment that
loads it; `dump_stacks` asks a run about to be killed for its stacks; `read_details` and
`read_hang` read back what it wrote.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import time
from pathlib import Path

PLUGIN_MODULE = "companion_pytest_report"
_PLUGIN_SOURCE = Path(__file__).with_name("pytest_values.py")
_RECORDS = "failures.jsonl"


def prepare_details(
    report_dir: Path,
    root: Path,
    base_env: dict[str, str] | None,
    changed: dict[str, dict[int, float]] | None,
    dump_on_timeout: bool,
) -> dict[str, str]:
    """Install the plugin in `report_dir`; the environment for the pytest process."""
    shutil.copyfile(_PLUGIN_SOURCE, report_dir / f"{PLUGIN_MODULE}.py")
    env = dict(base_env if base_env is not None else os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(report_dir), env.get("PYTHONPATH")]))
    env["COMPANION_REPORT_JSON"] = str(report_dir / _RECORDS)
    if changed:
        absolute = {str((root / rel).resolve()): sorted(lines) for rel, lines in changed.items()}
        (report_dir / "changed.json").write_text(json.dumps(absolute))
        env["COMPANION_CHANGED_LINES"] = str(report_dir / "changed.json")
    if dump_on_timeout:
        env["COMPANION_HANG_DUMP"] = "1"
    return env


async def dump_stacks(report_dir: Path, pid: int, wait_s: float = 3.0, settle_s: float = 0.2) -> None:
    """Called just before a timeout kill of run `pid`: signal the plugin to dump every thread's
    stack and wait (at most `wait_s`) until the dump is written: it has stopped growing for
    `settle_s` (faulthandler writes it in many small writes, and a loaded machine can pause the
    child between them; a kill then left half a dump and the hang was reported without a place).
    The plugin creates its dump file when it arms, so a run that hung before loading it is not
    waited for."""
    path = report_dir / f"{_RECORDS}.hang"
    if not pid or not path.exists():
        return
    try:
        os.kill(pid, signal.SIGUSR1)
    except (ProcessLookupError, PermissionError):
        return
    deadline = time.monotonic() + wait_s
    size, since = 0, time.monotonic()
    while time.monotonic() < deadline:
        now, grown = time.monotonic(), path.stat().st_size
        if grown != size:
            size, since = grown, now
        elif size > 0 and now - since >= settle_s:
            return
        await asyncio.sleep(0.01)


def read_details(report_dir: Path) -> dict[str, dict]:
    """The plugin's records by node id (the first record of a test: its call, else setup)."""
    details: dict[str, dict] = {}
    path = report_dir / _RECORDS
    if not path.exists():
        return details
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line cut by a kill mid-write
        if isinstance(record, dict) and isinstance(record.get("nodeid"), str):
            details.setdefault(record["nodeid"], record)
    return details


def read_hang(report_dir: Path) -> tuple[str, str]:
    """(the test that was running, the stack dump) written just before a timeout kill."""
    def text(name: str) -> str:
        try:
            return (report_dir / name).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    return text(f"{_RECORDS}.current").strip(), text(f"{_RECORDS}.hang")
