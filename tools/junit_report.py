"""Parse pytest's JUnit XML (xunit1 family) into structured test outcomes and failures.

xunit1 is asked for because it carries each test's `file`; the crash location (the file and line
where the exception was raised) comes from the last `path:line: ExcType` line of the traceback.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath

from companion.core.redact import redact
from tools.registry import ToolError

# "src/parse.py:42: IndexError" — pytest's long/auto traceback ends each entry with this line
_CRASH_LINE = re.compile(r"^(?P<file>[^\s:][^:]*):(?P<line>\d+): (?P<exc>[A-Za-z_][\w.]*)\s*$")
_EXC_PREFIX = re.compile(
    r"^(?P<exc>[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning|Failed))\b"
)
# "E   ModuleNotFoundError: No module named 'x'" — the raised exception in pytest's E lines
_E_EXCEPTION = re.compile(
    r"^E\s+(?P<exc>[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning|Failed)): ?(?P<msg>.*)$"
)
# 'E     File "/abs/parse.py", line 1' — where a SyntaxError is (the traceback has no frame there)
_E_SYNTAX_AT = re.compile(r'^E\s+File "(?P<file>[^"]+)", line (?P<line>\d+)')
# "tests/test_imp.py:1: in <module>" — a frame; relative paths are the project's own files
_FRAME = re.compile(r"^(?P<file>[^\s:/<][^:]*):(?P<line>\d+): in ")
MESSAGE_CAP = 300


@dataclass(frozen=True, slots=True)
class TestFailure:
    """One failed or errored test: where it is, what was raised and where."""

    __test__ = False  # not a pytest test class, despite the name

    test_id: str  # pytest node id, e.g. "tests/test_parse.py::test_header"
    file: str  # file of the crash location (where the exception was raised)
    line: int  # 1-based line of the crash location; 0 when unknown
    exc_type: str
    message: str  # first line(s) of the exception message, capped
    duration: float
    kind: str = "failure"  # "failure" or "error" (setup/teardown/collection)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def signature(self) -> tuple[str, str, str, int]:
        """Identity of a failure for dedup: the same test failing the same way at the same place."""
        return (self.test_id, self.exc_type, self.file, self.line)


@dataclass(frozen=True, slots=True)
class JUnitReport:
    """All outcomes of one pytest run."""

    passed: tuple[str, ...]
    failures: tuple[TestFailure, ...]
    skipped: tuple[str, ...]
    duration: float

    @property
    def ran(self) -> tuple[str, ...]:
        return self.passed + tuple(f.test_id for f in self.failures)


def node_id(classname: str, name: str, file: str | None) -> str:
    """Rebuild the pytest node id from JUnit's dotted classname and the test file."""
    if not file:
        return f"{classname}::{name}" if classname else name
    module = ".".join(PurePosixPath(file).with_suffix("").parts)
    rest = classname[len(module) :].lstrip(".") if classname.startswith(module) else ""
    parts = [file] + ([*rest.split(".")] if rest else []) + [name]
    return "::".join(parts)


def parse_junit(path: str | Path, root: str | Path | None = None) -> JUnitReport:
    """Read the report; `root` (the directory pytest ran in) makes absolute paths relative."""
    try:
        tree = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise ToolError(f"pytest's JUnit report could not be read: {exc}") from None
    passed: list[str] = []
    skipped: list[str] = []
    failures: list[TestFailure] = []
    total = 0.0
    for suite in tree.iter("testsuite"):
        total += float(suite.get("time") or 0.0)
    for case in tree.iter("testcase"):
        file = case.get("file")
        test_id = node_id(case.get("classname", ""), case.get("name", ""), file)
        duration = float(case.get("time") or 0.0)
        problem = case.find("failure")
        kind = "failure"
        if problem is None:
            problem = case.find("error")
            kind = "error"
        if problem is not None:
            if kind == "error" and problem.get("message") == "collection failure":
                kind, test_id = "collection", file or test_id
            failures.append(_failure(test_id, file, case, problem, duration, kind, root))
        elif case.find("skipped") is not None:
            skipped.append(test_id)
        else:
            passed.append(test_id)
    return JUnitReport(tuple(passed), tuple(failures), tuple(skipped), total)


def _failure(test_id, file, case, problem, duration, kind, root) -> TestFailure:
    message = problem.get("message") or ""
    lines = (problem.text or "").splitlines()
    crash_file, crash_line, exc_type = file or "", 0, ""
    if file and case.get("line") is not None:
        crash_line = int(case.get("line")) + 1  # xunit1 lines are 0-based
    crash = _last_match(_CRASH_LINE, lines, strip=True)
    if crash:
        crash_file, crash_line, exc_type = crash["file"], int(crash["line"]), crash["exc"]
    elif raised := _last_match(_E_EXCEPTION, lines):
        # setup and collection errors: no crash line; take the exception from the E lines
        exc_type = raised["exc"]
        if kind != "failure" or not message:
            message = raised["msg"]
        at = _last_match(_E_SYNTAX_AT, lines) or _last_match(_FRAME, lines)
        if at:
            crash_file, crash_line = _relative(at["file"], root), int(at["line"])
    prefix = _EXC_PREFIX.match(message)
    if prefix and not exc_type:
        exc_type = prefix["exc"]
    if prefix and prefix["exc"].split(".")[-1] == exc_type.split(".")[-1]:
        message = message[len(prefix["exc"]) :].lstrip(": ")
    if not exc_type:
        exc_type = "Error" if kind == "error" else "Failed"
    # redact before the cap: a token cut at the cap would no longer look like one
    message = " ".join(redact(message).split())
    if len(message) > MESSAGE_CAP:
        message = message[: MESSAGE_CAP - 1] + "…"
    return TestFailure(test_id, crash_file, crash_line, exc_type, message, duration, kind)


def _last_match(pattern: re.Pattern, lines: list[str], strip: bool = False) -> re.Match | None:
    for line in reversed(lines):
        match = pattern.match(line.strip() if strip else line)
        if match:
            return match
    return None


def _relative(path: str, root: str | Path | None) -> str:
    if root is not None and Path(path).is_absolute():
        try:
            return Path(path).relative_to(Path(root).resolve()).as_posix()
        except ValueError:
            pass
    return path
