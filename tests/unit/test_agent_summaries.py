"""Spoken summaries: short, speakable, deduplicated by failure signature."""

from __future__ import annotations

from companion.agent.git_summaries import summarize_git
from companion.agent.summaries import (
    LintMemory,
    TestMemory,
    count,
    summarize_lint,
    summarize_tests,
)
from tools.junit_report import JUnitReport, TestFailure
from tools.test_runner import TestRun


def failure(test_id, exc="IndexError", file="src/parse.py", line=42, kind="failure"):
    return TestFailure(test_id, file, line, exc, "list index out of range", 0.01, kind)


def run(failures=(), passed=(), scope="affected", exit_code=None):
    report = JUnitReport(tuple(passed), tuple(failures), (), 0.1)
    code = exit_code if exit_code is not None else (1 if failures else 0)
    return TestRun(scope, ("tests/test_parser.py",), code, 0.5, report, (), ("pytest",))


HEADER = failure("tests/test_parser.py::test_header")
BODY = failure("tests/test_parser.py::TestBody::test_body[1-2]", exc="builtins.KeyError", line=7)


def test_numbers_are_words_for_a_voice():
    assert count(2, "test") == "two tests" and count(1, "test") == "one test"
    assert count(14, "test") == "14 tests" and count(3, "branch", "branches") == "three branches"


def test_failures_name_test_exception_file_and_line_without_tracebacks():
    memory = TestMemory()
    first = run([HEADER, BODY])
    text = summarize_tests(first, memory.update(first), everything=False)
    assert text == (
        "two tests failed in test_parser: test_header raises IndexError at parse.py "
        "line 42, test_body raises KeyError at parse.py line 7"
    )
    assert "Traceback" not in text and "list index" not in text


def test_identical_failures_are_not_announced_twice_but_a_changed_one_is():
    memory = TestMemory()
    memory.update(run([HEADER]))
    same = run([HEADER])
    news = memory.update(same)
    assert news.new == () and news.repeated == (HEADER,)
    assert summarize_tests(same, news, everything=False) == ""
    # asked for explicitly, the standing failure is said again
    assert summarize_tests(same, news, everything=True).startswith("one test failed in test_parser")
    moved = run([failure(HEADER.test_id, line=43)])
    assert summarize_tests(moved, memory.update(moved), everything=False).endswith("line 43")


def test_passing_again_is_said_once():
    memory = TestMemory()
    memory.update(run([HEADER, BODY]))
    fixed = run([BODY], passed=[HEADER.test_id])
    assert (
        summarize_tests(fixed, memory.update(fixed), everything=False) == "test_header passes again"
    )
    still = run([BODY], passed=[HEADER.test_id])
    assert summarize_tests(still, memory.update(still), everything=False) == ""


def test_many_failures_and_other_outcomes():
    many = [
        failure(f"tests/test_{n}.py::test_{n}", exc="AssertionError", line=n + 1) for n in range(5)
    ]
    text = summarize_tests(run(many), TestMemory().update(run(many)), everything=True)
    assert text == (
        "five tests failed: test_0 fails an assertion at parse.py line 1, "
        "test_1 fails an assertion at parse.py line 2, and 3 more"
    )
    ok = run(passed=["a::t1", "a::t2", "a::t3"], scope="all")
    assert summarize_tests(ok, TestMemory().update(ok), everything=True) == "all three tests pass"
    assert summarize_tests(ok, TestMemory().update(ok), everything=False) == ""
    two = run(passed=["a::t1", "a::t2"])
    assert summarize_tests(two, TestMemory().update(two), everything=True) == (
        "both affected tests pass"
    )
    other = TestRun("all", (), 101, 1.0, None, ("FAILED",), ("cargo", "test"))
    assert summarize_tests(other, TestMemory().update(other), everything=True) == (
        "the test command failed with exit code 101"
    )
    setup = failure("t.py::test_x", exc="Error", kind="error")
    assert "test_x errors at parse.py line 42" in summarize_tests(
        run([setup]), TestMemory().update(run([setup])), everything=True
    )


def test_lint_summary_and_dedup():
    finding = {
        "file": "src/parse.py",
        "line": 3,
        "col": 8,
        "code": "F401",
        "message": "`os` imported but unused",
    }
    memory = LintMemory()
    new = memory.update(["src/parse.py"], [finding])
    assert summarize_lint(new, files=["src/parse.py"], everything=False) == (
        "one new lint finding in parse.py: os imported but unused at parse.py line 3"
    )
    moved = {**finding, "line": 5}
    assert memory.update(["src/parse.py"], [moved]) == []
    assert (
        summarize_lint([], files=["src/parse.py"], everything=True) == "lint is clean in parse.py"
    )


def test_git_summaries():
    status = {
        "branch": "main",
        "head": "abc12345",
        "detached": False,
        "in_progress": None,
        "staged": [{"path": "a", "change": "A"}],
        "unstaged": [],
        "untracked": ["b", "c"],
        "conflicted": [],
    }
    assert summarize_git("git_status", status) == "on main: one file staged, two files untracked"
    diff = {
        "files": [
            {"path": "x.png", "added": 0, "deleted": 0, "binary": True},
            {"path": "y.py", "added": 1, "deleted": 4, "binary": False},
        ]
    }
    assert summarize_git("git_diff", diff) == (
        "two files changed, one line added, 4 removed, one binary file"
    )


def test_a_test_module_that_cannot_load_is_said_as_such():
    broken = failure(
        "tests/test_parser.py", exc="SyntaxError", file="parse.py", line=1, kind="collection"
    )
    both = run([broken, HEADER])
    assert summarize_tests(both, TestMemory().update(both), everything=True) == (
        "test_parser could not be loaded: SyntaxError at parse.py line 1; one test failed in "
        "test_parser: test_header raises IndexError at parse.py line 42"
    )


def test_blame_summary_names_authors_and_uncommitted_lines():
    def line(n, author, committed=True):
        return {
            "line": n,
            "sha": "abc12345",
            "committed": committed,
            "author": author,
            "summary": "simplify shout",
            "text": "code",
        }

    data = {"path": "src/util.py", "start": 4, "end": 5, "lines": [line(4, "Ann"), line(5, "Ann")]}
    assert summarize_git("git_blame", data) == "lines 4 to 5 of util.py: Ann, simplify shout"
    data["lines"][1] = line(5, "Not Committed Yet", committed=False)
    assert summarize_git("git_blame", data) == (
        "lines 4 to 5 of util.py were changed by Ann and uncommitted edits"
    )
    data = {"path": "util.py", "start": 2, "end": 2, "lines": [line(2, "x", committed=False)]}
    assert summarize_git("git_blame", data) == "line 2 of util.py is not committed yet"
