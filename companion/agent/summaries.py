"""Spoken summaries of test and lint results, and the memories that keep them from repeating.

A summary is one short sentence a voice can say: test names, exception types, file names and line
numbers — never a traceback, a message quoted from code, or a diff. `TestMemory` remembers each
failing test's signature so an identical failure is not announced twice and a test that starts
passing again is announced exactly once. Git results are said by git_summaries.py.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import PurePosixPath

from companion.agent.bug_report import BugReport, reports_sentence
from tools.junit_report import TestFailure
from tools.test_runner import TestRun

_WORDS = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
MAX_NAMED = 2  # failures named one by one before "and N more"


def count(n: int, noun: str, plural: str | None = None) -> str:
    """`count(2, "test")` → "two tests": small numbers as words, which a voice says naturally."""
    word = _WORDS[n] if 0 <= n < len(_WORDS) else str(n)
    return f"{word} {noun if n == 1 else (plural or noun + 's')}"


def short_test_name(test_id: str) -> str:
    """`tests/test_p.py::TestX::test_a[1-2]` → `test_a`: what a person would call the test."""
    return test_id.split("::")[-1].split("[")[0]


def file_stem(test_id: str) -> str:
    return PurePosixPath(test_id.split("::")[0]).stem


def describe_failure(failure: TestFailure) -> str:
    exc = failure.exc_type.split(".")[-1]
    place = f" at {PurePosixPath(failure.file).name} line {failure.line}" if failure.line else ""
    if exc == "AssertionError":
        return f"{short_test_name(failure.test_id)} fails an assertion{place}"
    if failure.kind == "collection":
        return f"{file_stem(failure.test_id)} could not be loaded: {exc}{place}"
    if failure.kind == "error" and exc in ("Error", "Failed"):
        return f"{short_test_name(failure.test_id)} errors{place}"
    return f"{short_test_name(failure.test_id)} raises {exc}{place}"


@dataclass(frozen=True, slots=True)
class TestNews:
    """What changed since the previous runs: new failures, unchanged ones, recovered tests."""

    __test__ = False  # not a pytest test class, despite the name

    new: tuple[TestFailure, ...]
    repeated: tuple[TestFailure, ...]
    recovered: tuple[str, ...]


class TestMemory:
    """Failing tests by id, each with the signature of how it last failed."""

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self) -> None:
        self.failing: dict[str, tuple] = {}

    def update(self, run: TestRun, reports: list[BugReport] | None = None) -> TestNews:
        """`reports` (one per failure) add where it is pinned and its values to the signature,
        so the same test failing with another value or on another changed line is news."""
        new, repeated = [], []
        for i, failure in enumerate(run.failures):
            signature = failure.signature
            if reports:
                loc = reports[i].location
                signature = (*signature, loc.file, loc.line, reports[i].values)
            if self.failing.get(failure.test_id) == signature:
                repeated.append(failure)
            else:
                new.append(failure)
            self.failing[failure.test_id] = signature
        recovered = []
        for test_id in run.report.passed if run.report else ():
            if self.failing.pop(test_id, None) is not None:
                recovered.append(test_id)
        return TestNews(tuple(new), tuple(repeated), tuple(recovered))


def summarize_tests(
    run: TestRun,
    news: TestNews,
    *,
    everything: bool,
    reports: list[BugReport] | None = None,
    now: float = 0.0,
) -> str:
    """The sentence for a test run; with `everything` false (a save) only news is said, else "".

    With `reports` (one per failure, from companion/agent/bug_report.py) a failure is said with its
    values and its line (≤ 25 words); without, by test name and crash line."""
    if run.report is None:
        if run.exit_code == 0:
            return "the tests pass"
        if run.exit_code == 5:
            return "no tests were collected"
        return f"the test command failed with exit code {run.exit_code}"
    parts = []
    failures = run.failures if everything else news.new
    if failures and reports:
        by_id = {r.test_id: r for r in reports}
        chosen = [by_id[f.test_id] for f in failures if f.test_id in by_id]
        parts.append(reports_sentence(chosen, now))
    elif failures:
        parts.append(_failures_sentence(list(failures)))
    if news.recovered:
        names = [short_test_name(t) for t in news.recovered]
        if len(names) <= MAX_NAMED:
            verb = "passes" if len(names) == 1 else "pass"
            parts.append(f"{' and '.join(names)} {verb} again")
        else:
            parts.append(f"{count(len(names), 'test')} pass again")
    if not parts and everything:
        passed = len(run.report.passed)
        scope = "affected " if run.scope == "affected" else ""
        if passed == 0 and not run.report.skipped:
            return f"no {scope}tests ran"
        if passed == 1:
            return f"the {scope}test passes"
        if passed == 2:
            return f"both {scope}tests pass"
        return f"all {count(passed, scope + 'test')} pass"
    return "; ".join(parts)


def _failures_sentence(failures: list[TestFailure]) -> str:
    broken = [f for f in failures if f.kind == "collection"]
    failures = [f for f in failures if f.kind != "collection"]
    parts = [describe_failure(f) for f in broken[:MAX_NAMED]]
    if len(broken) > MAX_NAMED:
        parts.append(f"{count(len(broken) - MAX_NAMED, 'more test file')} could not be loaded")
    if failures:
        parts.append(_test_failures_sentence(failures))
    return "; ".join(parts)


def _test_failures_sentence(failures: list[TestFailure]) -> str:
    by_file: dict[str, list[TestFailure]] = defaultdict(list)
    for failure in failures:
        by_file[file_stem(failure.test_id)].append(failure)
    named = [describe_failure(f) for f in failures[:MAX_NAMED]]
    more = len(failures) - len(named)
    details = ", ".join(named) + (f", and {more} more" if more else "")
    if len(failures) == 1:
        return f"{count(1, 'test')} failed in {file_stem(failures[0].test_id)}: {details}"
    where = f" in {next(iter(by_file))}" if len(by_file) == 1 else ""
    return f"{count(len(failures), 'test')} failed{where}: {details}"


class LintMemory:
    """Finding signatures per file, so a save only announces findings that are new."""

    def __init__(self) -> None:
        self.seen: dict[str, set[tuple]] = {}

    def update(self, files: list[str], findings: list[dict]) -> list[dict]:
        current: dict[str, set[tuple]] = {f: set() for f in files}
        new = []
        for item in findings:
            sig = (item["file"], item["code"], item["message"])
            current.setdefault(item["file"], set()).add(sig)
            if sig not in self.seen.get(item["file"], set()):
                new.append(item)
        self.seen.update(current)
        return new


def summarize_progress(done: int, total: int | None, failed: int) -> str:
    """A test run's progress line (the agent's `progress` JobEvent summary)."""
    of = f" of {total}" if total is not None else ""
    return f"{done}{of} tests done" + (f", {failed} failed" if failed else "")


def summarize_lint(findings: list[dict], *, files: list[str], everything: bool) -> str:
    if not findings:
        if not everything:
            return ""
        where = PurePosixPath(files[0]).name if len(files) == 1 and files[0] != "." else "the code"
        return f"lint is clean in {where}"
    first = findings[0]
    message = first["message"].replace("`", "")
    names = {PurePosixPath(f["file"]).name for f in findings}
    where = f" in {next(iter(names))}" if len(names) == 1 else ""
    noun = "new lint finding" if not everything else "lint finding"
    return (
        f"{count(len(findings), noun)}{where}: {message} at "
        f"{PurePosixPath(first['file']).name} line {first['line']}"
    )
