"""A self-contained pytest plugin that writes each failure as JSON: frames, crash, assertion operands.

The test runner copies this file next to its report as `companion_pytest_report.py` and loads it
with `-p`, so it must import nothing but the standard library and pytest (it runs under the
project's interpreter, not the companion's). Environment variables it reads:

    COMPANION_REPORT_JSON     path of the JSON-lines file to append one record per failure to
    COMPANION_CHANGED_LINES   path of a JSON {absolute file: [changed line numbers]}: each failing
                              test's record lists the changed lines it executed (sys.settrace,
                              only for frames of those files)
    COMPANION_HANG_DUMP       set: SIGUSR1 dumps every thread's stack to COMPANION_REPORT_JSON +
                              ".hang" (and the test running to ".current"); the runner sends it
                              just before a timeout kill, so a killed run still says where it
                              was spinning
"""

from __future__ import annotations

import faulthandler
import json
import os
import signal
import sys
import threading

import pytest

_REPORT = os.environ.get("COMPANION_REPORT_JSON", "")
_VALUE_CAP = 200  # characters of an operand's repr kept


def _load_changed() -> dict[str, set[int]]:
    path = os.environ.get("COMPANION_CHANGED_LINES", "")
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as handle:
            return {f: set(lines) for f, lines in json.load(handle).items()}
    except (OSError, ValueError):
        return {}


_CHANGED = _load_changed()
_state: dict = {"compare": None, "executed": [], "hang_file": None}


def _write(record: dict) -> None:
    if _REPORT:
        with open(_REPORT, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, default=str) + "\n")


def _saferepr(value) -> str:
    try:
        text = repr(value)
    except Exception as exc:  # noqa: BLE001 — a broken __repr__ must not hide the failure
        text = f"<{type(value).__name__} with a failing repr: {type(exc).__name__}>"
    return text if len(text) <= _VALUE_CAP else text[: _VALUE_CAP - 1] + "…"


def _tracer(frame, event, arg):
    # the global tracer only looks at calls; lines are traced for changed files alone
    lines = _CHANGED.get(frame.f_code.co_filename)
    if lines is None:
        return None
    executed = _state["executed"]

    def local(frame, event, arg):
        if event == "line" and frame.f_lineno in lines:
            executed.append((frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name))
        return local

    return local


def pytest_assertrepr_compare(config, op, left, right):
    # called for a failing comparison; keep the operands, let pytest explain as usual
    _state["compare"] = {"op": op, "left": _saferepr(left), "right": _saferepr(right)}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _state["current"] = item.nodeid
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    _state["compare"], _state["executed"] = None, []
    # a coverage tool or debugger already tracing keeps its tracer; we just learn less
    tracing = bool(_CHANGED) and sys.gettrace() is None
    if tracing:
        sys.settrace(_tracer)
        threading.settrace(_tracer)
    try:
        yield
    finally:
        if tracing:
            sys.settrace(None)
            threading.settrace(None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.failed or call.excinfo is None:
        return
    excinfo = call.excinfo
    entries = list(excinfo.traceback)
    # pytest's own frames come before the test's; keep from the test function on
    first = next((i for i, e in enumerate(entries) if str(e.path) == str(item.path)), 0)
    frames = [{"path": str(e.path), "line": e.lineno + 1, "function": e.name}
              for e in entries[first:][-40:]]
    value = excinfo.value
    record = {
        "nodeid": item.nodeid,
        "when": report.when,
        "exc_type": excinfo.type.__name__,
        "message": str(value)[:2000],
        "frames": frames,
        "compare": _state["compare"] if report.when == "call" else None,
        "executed": _state["executed"][-50:] if report.when == "call" else [],
    }
    if isinstance(value, SyntaxError):
        record["syntax"] = {"file": value.filename, "line": value.lineno,
                            "offset": value.offset, "text": value.text}
    _write(record)


def pytest_collectreport(report):
    if not report.failed:
        return
    record = {"nodeid": report.nodeid, "when": "collect", "longrepr": str(report.longrepr)[-4000:]}
    _write(record)


def _arm_hang_dump() -> None:
    """Armed when the plugin is imported (before collection, which can hang too). The dump is
    triggered by the runner's signal rather than a timer of our own: a timer races the kill (a
    starved or clock-stepped child dumped after it, and the hang was reported without a place)."""
    if not (os.environ.get("COMPANION_HANG_DUMP") and _REPORT):
        return
    handle = open(_REPORT + ".hang", "w", encoding="utf-8")  # noqa: SIM115 — open until the dump
    _state["hang_file"] = handle
    faulthandler.register(signal.SIGUSR1, file=handle, all_threads=True, chain=False)
    # the test in progress is written on each start so the dump can be tied to it
    _state["current_file"] = _REPORT + ".current"


_arm_hang_dump()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logstart(nodeid, location):
    current = _state.get("current_file")
    if current:
        with open(current, "w", encoding="utf-8") as handle:
            handle.write(nodeid)


def pytest_sessionfinish(session, exitstatus):
    if _state.get("hang_file") is not None:
        faulthandler.unregister(signal.SIGUSR1)
