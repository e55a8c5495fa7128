"""The registry: calls are parsed and validated, and every problem is a readable CallError."""

from __future__ import annotations

import pytest

from tools.catalog import default_registry
from tools.registry import Arg, CallError, ToolRegistry, ToolSpec


@pytest.fixture(scope="module")
def registry() -> ToolRegistry:
    return default_registry()


def test_valid_call_gets_defaults_filled_in(registry):
    call = registry.parse_call('<|call|>{"tool": "tests", "args": {"scope": "all"}}<|end|>')
    assert call.tool == "tests"
    assert call.args == {"scope": "all", "paths": None}
    assert registry.parse_call('{"tool": "git_log"}').args == {"n": 10, "path": None, "ref": None}


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty call"),
        ("run the tests", "call is not valid JSON (Expecting value at line 1 column 1)"),
        ('["tests"]', "call must be a JSON object, got array"),
        ('{"args": {}}', "call is missing 'tool'"),
        ('{"tool": "tests", "argz": {}}', "call has unknown key 'argz'"),
        ('{"tool": "rm_rf"}', "unknown tool 'rm_rf'; known tools: tests, lint, git_status"),
        ('{"tool": "git_stats"}', "unknown tool 'git_stats' (did you mean 'git_status'?)"),
        ('{"tool": "tests", "args": []}', "tests: 'args' must be an object, got array"),
        (
            '{"tool": "tests", "args": {"scope": "some"}}',
            "tests: argument 'scope' must be one of affected, all; got 'some'",
        ),
        (
            '{"tool": "tests", "args": {"scop": "all"}}',
            "tests: unknown argument 'scop' (did you mean 'scope'?); allowed: scope, paths",
        ),
        (
            '{"tool": "git_log", "args": {"n": "5"}}',
            "git_log: argument 'n' must be integer, got string",
        ),
        (
            '{"tool": "git_log", "args": {"n": true}}',
            "git_log: argument 'n' must be integer, got boolean",
        ),
        (
            '{"tool": "git_log", "args": {"n": 0}}',
            "git_log: argument 'n' must be at least 1, got 0",
        ),
        (
            '{"tool": "git_blame", "args": {"path": "a.py"}}',
            "git_blame: missing required argument 'start'",
        ),
        (
            '{"tool": "git_commit", "args": {"message": "  "}}',
            "git_commit: argument 'message' must not be empty",
        ),
        (
            '{"tool": "git_commit", "args": {"message": "m", "paths": ["a", 3]}}',
            "git_commit: argument 'paths'[1] must be string, got integer",
        ),
        (
            '{"tool": "git_diff", "args": {"ref": "--output=/tmp/x"}}',
            "git_diff: argument 'ref' must not start with '-'",
        ),
        (
            '{"tool": "lint", "args": {"paths": ["--fix"]}}',
            "lint: argument 'paths'[0] must not start with '-'",
        ),
    ],
)
def test_bad_calls_say_what_is_wrong(registry, text, message):
    with pytest.raises(CallError) as err:
        registry.parse_call(text)
    assert message in str(err.value)


def test_description_lists_every_tool_and_marks_repository_changes(registry):
    text = registry.describe()
    lines = text.splitlines()
    assert len(lines) == 1 + len(registry.names())
    assert '- tests(scope?: affected|all = "affected", paths?: [string]): run the tests' in text
    commit = next(line for line in lines if line.startswith("- git_commit("))
    assert "message: string" in commit and "[asks the user first]" in commit
    status = next(line for line in lines if line.startswith("- git_status("))
    assert "asks the user" not in status


def test_duplicate_tool_names_are_refused():
    spec = ToolSpec("x", "does x", (Arg("a", "string", "a"),))
    with pytest.raises(ValueError, match="registered twice"):
        ToolRegistry([spec, spec])
