"""The tools the interaction model may call, as registry specs (names, arguments, descriptions)."""

from __future__ import annotations

from tools.registry import Arg, ToolRegistry, ToolSpec

_PATHS = Arg(
    "paths", "array", "files relative to the repository root", items="string", no_leading_dash=True
)

TOOL_SPECS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "tests",
        "run the tests; affected = those importing or named after the changed files "
        "(paths, else the file the user is on)",
        (
            Arg("scope", "string", "which tests", default="affected", enum=("affected", "all")),
            _PATHS,
        ),
    ),
    ToolSpec(
        "lint", "ruff on files (paths, else the file the user is on, else everything)", (_PATHS,)
    ),
    ToolSpec("git_status", "branch, staged/unstaged/untracked/conflicted files"),
    ToolSpec(
        "git_diff",
        "changes: unstaged (default), staged, or the working tree against a ref",
        (
            Arg("staged", "boolean", "staged changes instead of unstaged", default=False),
            Arg(
                "ref",
                "string",
                "compare the working tree against this revision",
                no_leading_dash=True,
            ),
            _PATHS,
        ),
    ),
    ToolSpec(
        "git_log",
        "recent commits",
        (
            Arg("n", "integer", "how many", default=10, minimum=1, maximum=100),
            Arg("path", "string", "only commits touching this path", no_leading_dash=True),
            Arg("ref", "string", "start from this revision", no_leading_dash=True),
        ),
    ),
    ToolSpec(
        "git_show",
        "one commit: message and changed files",
        (Arg("ref", "string", "the revision", default="HEAD", no_leading_dash=True),),
    ),
    ToolSpec(
        "git_blame",
        "who last changed a range of lines",
        (
            Arg("path", "string", "the file", required=True, no_leading_dash=True),
            Arg("start", "integer", "first line (1-based)", required=True, minimum=1),
            Arg("end", "integer", "last line (default: start)", minimum=1),
        ),
    ),
    ToolSpec("git_branches", "local branches and the current one"),
    ToolSpec("git_stash_list", "stashed changes"),
    ToolSpec(
        "git_commit",
        "commit the given paths, or all changes to tracked files",
        (
            Arg("message", "string", "the commit message", required=True),
            _PATHS,
        ),
        changes_repository=True,
    ),
    ToolSpec(
        "git_branch_create",
        "create a branch at HEAD",
        (
            Arg("name", "string", "branch name", required=True, no_leading_dash=True),
            Arg("switch", "boolean", "switch to it", default=False),
        ),
        changes_repository=True,
    ),
    ToolSpec(
        "git_switch",
        "switch to an existing branch",
        (Arg("name", "string", "branch name", required=True, no_leading_dash=True),),
        changes_repository=True,
    ),
    ToolSpec(
        "git_stash_push",
        "stash the changes to tracked files",
        (Arg("message", "string", "stash message"),),
        changes_repository=True,
    ),
    ToolSpec("git_stash_pop", "re-apply and drop the newest stash", changes_repository=True),
    ToolSpec(
        "explain",
        "ask the bigger reasoning model why the latest failing test fails (streams a card, "
        "says its first sentence)",
        (
            Arg("test", "string", "the failing test (default: the latest failure)"),
            Arg("question", "string", "the user's question, e.g. why does it fail"),
        ),
    ),
)


def default_registry() -> ToolRegistry:
    return ToolRegistry(TOOL_SPECS)
