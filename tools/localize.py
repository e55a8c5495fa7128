"""Where a failure broke: the changed line it ran through, else the deepest project frame, else the test.

Order of evidence, best first:
1. "changed": a traceback frame in the project's non-test code on a line changed since the tests
   last passed (the ChangeLog);
2. "executed": a changed line the failing test executed (the pytest plugin traced changed files),
   which catches a wrong value computed in a helper that has returned by the time the test asserts;
3. "deepest": the innermost traceback frame in the project's non-test code;
4. "test": the test's own line.
Syntax errors name the line and the offending token; hangs name the innermost project frame of
the stack dumped just before the kill.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath

_DUMP_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+) in (?P<func>\S+)')
_OUTSIDE = ("site-packages", "dist-packages", ".venv", "venv", "node_modules", ".tox")


@dataclass(frozen=True, slots=True)
class Location:
    """The line a failure is pinned on, and why that line."""

    file: str  # repository-relative POSIX path
    line: int
    function: str
    how: str  # changed | executed | deepest | test | syntax | hang
    changed_at: float | None = None  # when the line was saved, for "changed 5 seconds ago"
    source: str = ""  # the line's text, stripped
    token: str = ""  # the offending token of a syntax error

    def to_dict(self) -> dict:
        return asdict(self)


def is_test_path(rel: str) -> bool:
    path = PurePosixPath(rel)
    name = path.name
    return (
        "tests" in path.parts[:-1]
        or "test" in path.parts[:-1]
        or name.startswith("test_")
        or name.endswith("_test.py")
        or name == "conftest.py"
    )


def project_relative(path: str, root: Path) -> str | None:
    """`path` relative to the root when it is the project's own code (not a virtualenv inside it)."""
    if path.startswith("<"):  # "<frozen importlib._bootstrap>", "<string>"
        return None
    candidate = Path(path)
    if not candidate.is_absolute():
        candidate = root / candidate
    try:
        rel = candidate.resolve().relative_to(root.resolve()).as_posix()
    except (ValueError, OSError):
        return None
    if any(part in _OUTSIDE for part in PurePosixPath(rel).parts):
        return None
    return rel


def source_line(root: Path, rel: str, line: int) -> str:
    try:
        lines = (root / rel).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


def localize(
    root: Path,
    record: dict | None,
    *,
    test_file: str,
    test_line: int,
    function: str,
    changes: dict[str, dict[int, float]],
) -> Location:
    """Pin one failure (its plugin `record`, or None) on a line; `changes` as ChangeLog.snapshot()."""
    record = record or {}
    if record.get("syntax") or record.get("exc_type") in ("SyntaxError", "IndentationError"):
        found = _syntax(root, record)
        if found:
            return _with_change(found, changes)
    frames = []
    for frame in record.get("frames") or ():
        rel = project_relative(frame["path"], root)
        if rel is not None and not is_test_path(rel):
            frames.append((rel, int(frame["line"]), str(frame["function"])))
    for rel, line, func in reversed(frames):
        if line in changes.get(rel, {}):
            return _located(root, rel, line, func, "changed", changes)
    for path, line, func in reversed(record.get("executed") or ()):
        rel = project_relative(path, root)
        if rel is not None and line in changes.get(rel, {}):
            return _located(root, rel, int(line), func, "executed", changes)
    if frames:
        rel, line, func = frames[-1]
        return _located(root, rel, line, func, "deepest", changes)
    return _located(root, test_file, test_line, function, "test", changes)


def localize_hang(root: Path, dump: str, changes: dict[str, dict[int, float]]) -> Location | None:
    """The innermost project frame of a faulthandler dump (most recent call first), preferring
    non-test code; None when the dump names no project file."""
    frames: list[tuple[str, int, str]] = []
    # one block per thread; the first thread with any project frame is the one spinning
    for block in re.split(r"^(?:Current thread|Thread) 0x", dump, flags=re.MULTILINE)[1:]:
        for raw in block.splitlines():
            if m := _DUMP_FRAME.match(raw):
                rel = project_relative(m["file"], root)
                if rel is not None and (root / rel).is_file():
                    frames.append((rel, int(m["line"]), m["func"]))
        if frames:
            break
    if not frames:
        return None
    own = [f for f in frames if not is_test_path(f[0])] or frames
    rel, line, func = own[0]
    return _located(root, rel, line, func, "hang", changes)


def _located(root, rel, line, func, how, changes) -> Location:
    when = changes.get(rel, {}).get(line)
    return Location(rel, line, func, how, when, source_line(root, rel, line))


def _with_change(found: Location, changes) -> Location:
    when = changes.get(found.file, {}).get(found.line)
    return Location(found.file, found.line, found.function, found.how, when, found.source,
                    found.token)


def _syntax(root: Path, record: dict) -> Location | None:
    """Compile the broken file again: Python's own SyntaxError has the line and the column."""
    syntax = record.get("syntax") or {}
    path = syntax.get("file") or _syntax_file(record.get("longrepr", ""))
    if not path:
        return None
    rel = project_relative(path, root)
    if rel is None:
        return None
    try:
        compile((root / rel).read_bytes(), rel, "exec")
    except SyntaxError as exc:
        line, text, offset = exc.lineno or 0, exc.text or "", exc.offset or 0
        token = _token_at(text, offset)
        return Location(rel, line, "", "syntax", None, text.strip(), token)
    except (OSError, ValueError):
        return None
    return None


def _syntax_file(longrepr: str) -> str:
    m = re.search(r'File "([^"]+)", line \d+', longrepr)
    return m[1] if m else ""


def _token_at(text: str, offset: int) -> str:
    """The token starting at a 1-based column (a bracket, a word, an operator)."""
    rest = text[max(offset - 1, 0):].rstrip("\n")
    if not rest.strip():
        return "the end of the line"
    m = re.match(r"\s*([A-Za-z_]\w*|\d+|\S)", rest)
    return m[1] if m else rest.strip()[:10]
