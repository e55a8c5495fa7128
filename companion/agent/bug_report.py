"""BugReport: one failing test as a pair programmer would say it — values, the line, when it changed.

Composed once by the agent from pytest's details (tools/pytest_values.py), the localization
(tools/localize.py) and the value phrase (tools/failure_values.py): the spoken sentence goes into
the JobEvent's `summary`, the same facts into its `data` for the TUI card and the "why" request.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tools.failure_values import clean_message, values_phrase
from tools.junit_report import TestFailure
from tools.localize import Location, localize, project_relative, source_line

MAX_WORDS = 25
_WORDS = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]


def ago(seconds: float) -> str:
    """"just now", "four seconds ago", "three minutes ago": how long since a save, said aloud."""
    if seconds < 3:
        return "just now"
    unit, n = ("second", int(seconds)) if seconds < 60 else ("minute", int(seconds // 60))
    if seconds >= 3600:
        return "over an hour ago"
    word = _WORDS[n] if n < len(_WORDS) else str(n)
    return f"{word} {unit}{'s' if n != 1 else ''} ago"


def word_count(text: str) -> int:
    return len(text.split())


def fit_words(text: str, limit: int = MAX_WORDS) -> str:
    words = text.split()
    if len(words) <= limit:
        return text
    return " ".join(words[:limit]).rstrip(",;:") + "…"


@dataclass(frozen=True, slots=True)
class BugReport:
    """What one failure says: its values and the line it is pinned on."""

    test_id: str
    kind: str  # failure | error | collection
    exc_type: str
    values: str  # "median returns 1 for [3, 1, 2], expected 2", or "" when unreadable
    location: Location
    compare_op: str = ""  # the failing assertion's comparison ("==", "<", ...), "" if none
    frames: tuple[tuple[str, int, str, bool], ...] = ()  # project frames: file, line, func, changed

    @property
    def test_name(self) -> str:
        return self.test_id.split("::")[-1].split("[")[0]

    def where(self, now: float, *, with_change: bool = True) -> str:
        loc = self.location
        text = f"{PurePosixPath(loc.file).name} line {loc.line}"
        if loc.function and loc.function not in ("<module>", self.test_name) \
                and loc.function not in self.values:
            text += f" in {loc.function}"
        if with_change and loc.changed_at is not None:
            text += f", changed {ago(max(0.0, now - loc.changed_at))}"
        return text

    def sentence(self, now: float, *, with_change: bool = True) -> str:
        where = self.where(now, with_change=with_change)
        if self.location.how == "syntax":
            place = self.where(now, with_change=False)
            near = f" near {self.location.token}" if self.location.token else ""
            changed = where[len(place):]
            return f"syntax error at {place}{near}: {clean_message(self.values, 8)}{changed}"
        if not self.values:
            verb = "could not be loaded" if self.kind == "collection" else "fails"
            return f"{self.test_name} {verb}, {where}"
        if self.values.startswith(("got ", "assertion failed")) or " is " in self.values.split(",")[0]:
            return f"{self.test_name}: {self.values}, {where}"
        return f"{self.values}, {where}"

    def to_dict(self, now: float) -> dict:
        return {"values": self.values, "location": self.location.to_dict(),
                "compare_op": self.compare_op, "said": self.sentence(now),
                "frames": [{"file": f, "line": n, "function": fn, "changed": c}
                           for f, n, fn, c in self.frames]}


def build_report(root: Path, failure: TestFailure, record: dict | None,
                 changes: dict[str, dict[int, float]]) -> BugReport:
    """Localize one failure and read its values."""
    record = dict(record or {})
    record.setdefault("exc_type", failure.exc_type)
    test_file = failure.test_id.split("::")[0]
    frames = record.get("frames") or []
    test_line = next((f["line"] for f in frames if f["path"].endswith(test_file)), failure.line)
    location = localize(root, record, test_file=test_file if frames else failure.file or test_file,
                        test_line=test_line, function=failure.test_id.split("::")[-1],
                        changes=changes)
    if location.how == "syntax":
        message = record.get("syntax", {}).get("msg") or failure.message
        return BugReport(failure.test_id, failure.kind, failure.exc_type, message, location)
    function = location.function if location.how != "test" else ""
    test_source = source_line(root, test_file, test_line) if frames else ""
    values = values_phrase(record if record.get("message") is not None else None,
                           failure.exc_type, failure.message, test_source, function)
    compare_op = (record.get("compare") or {}).get("op", "")
    return BugReport(failure.test_id, failure.kind, failure.exc_type, values, location, compare_op,
                     _project_frames(root, frames, changes))


def _project_frames(root: Path, frames: list[dict], changes) -> tuple:
    out = []
    for frame in frames:
        rel = project_relative(frame["path"], root)
        if rel is not None:
            line = int(frame["line"])
            out.append((rel, line, str(frame["function"]), line in changes.get(rel, {})))
    return tuple(out)


def reports_sentence(reports: list[BugReport], now: float, total: int | None = None) -> str:
    """The spoken summary of a run's new failures: the first in full, the others counted; at
    most MAX_WORDS words, dropping the least important parts first."""
    if not reports:
        return ""
    total = total if total is not None else len(reports)
    first = reports[0]
    head = "" if total == 1 else f"{_WORDS[total] if total < len(_WORDS) else total} tests fail; "
    tails = [f"; also {reports[1].test_name}" if total == 2 else
             f"; also {reports[1].test_name} and more" if total > 2 else ""]
    for with_change in (True, False):
        for tail in (tails[0], ""):
            text = head + first.sentence(now, with_change=with_change) + tail
            if word_count(text) <= MAX_WORDS:
                return text
    return fit_words(head + first.sentence(now, with_change=False))
