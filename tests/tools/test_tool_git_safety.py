"""The git tools' source never asks git for anything destructive (checked on every git call)."""

from __future__ import annotations

import ast
from pathlib import Path

import tools

GIT_MODULES = ("git_ops.py", "git_changes.py")
ALLOWED = {  # `push` is not here: git push is never run (`stash push` is a stash)
    "status",
    "diff",
    "log",
    "show",
    "blame",
    "stash",
    "ls-files",
    "add",
    "commit",
    "branch",
    "switch",
    "rev-parse",
    "check-ref-format",
}
FORBIDDEN_WORDS = {
    "reset",
    "clean",
    "rm",
    "--force",
    "-f",
    "-D",
    "--hard",
    "drop",
    "clear",
    "checkout",
    "restore",
    "--delete",
}


def git_calls(path: Path) -> list[list[str]]:
    """The literal string arguments of every `run_git(repo, ...)` and `repo.git.<cmd>(...)` call."""
    calls = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        words = [
            a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)
        ]
        func = node.func
        if isinstance(func, ast.Name) and func.id == "run_git":
            calls.append(words)
        elif (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Attribute)
            and func.value.attr == "git"
            and func.attr != "execute"
        ):
            calls.append([func.attr.replace("_", "-"), *words])
    return calls


def test_only_safe_git_subcommands_and_flags_are_used():
    root = Path(tools.__file__).parent
    seen = []
    for name in GIT_MODULES:
        for words in git_calls(root / name):
            seen.append(words)
            assert words, f"{name}: a git call without a literal subcommand"
            assert words[0] in ALLOWED, f"{name}: git {words[0]} is not an allowed subcommand"
            assert not FORBIDDEN_WORDS & set(words), f"{name}: git {' '.join(words)}"
    # the checker really sees the calls: commits, stashes and switches are among them
    assert ["commit", "-a", "-m"] in seen and ["stash", "push"] in seen and ["switch"] in seen


def test_checker_catches_a_destructive_call(tmp_path):
    sample = tmp_path / "bad.py"
    sample.write_text("run_git(repo, 'reset', '--hard')\nrepo.git.clean('-fdx')\n")
    assert git_calls(sample) == [["reset", "--hard"], ["clean", "-fdx"]]
