"""The tools the interaction model may call, as registry specs (names, arguments, descriptions)."""

from __future__ import annotations

from tools.registry import Arg, ToolRegistry, ToolSpec

# Every tool's name, defined once: the agent dispatches on these, never on string literals.
TESTS = "tests"
LINT = "lint"
GIT_STATUS = "git_status"
GIT_DIFF = "git_diff"
GIT_LOG = "git_log"
GIT_SHOW = "git_show"
GIT_BLAME = "git_blame"
GIT_BRANCHES = "git_branches"
GIT_STASH_LIST = "git_stash_list"
GIT_COMMIT = "git_commit"
GIT_BRANCH_CREATE = "git_branch_create"
GIT_SWITCH = "git_switch"
GIT_STASH_PUSH = "git_stash_push"
GIT_STASH_POP = "git_stash_pop"
EXPLAIN = "explain"
REMIND = "remind"

_PATHS = Arg(
    "paths", "array", "files relative to the repository root", items="string", no_leading_dash=True
)

TOOL_SPECS: tuple[ToolSpec, ...] = (
    ToolSpec(
        TESTS,
        "run the tests; affected = those importing or named after the changed files "
        "(paths, else the file the user is on)",
        (
            Arg("scope", "string", "which tests", default="affected", enum=("affected", "all")),
            _PATHS,
        ),
    ),
    ToolSpec(
        LINT, "ruff on files (paths, else the file the user is on, else everything)", (_PATHS,)
    ),
    ToolSpec(GIT_STATUS, "branch, staged/unstaged/untracked/conflicted files"),
    ToolSpec(
        GIT_DIFF,
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
        GIT_LOG,
        "recent commits",
        (
            Arg("n", "integer", "how many", default=10, minimum=1, maximum=100),
            Arg("path", "string", "only commits touching this path", no_leading_dash=True),
            Arg("ref", "string", "start from this revision", no_leading_dash=True),
        ),
    ),
    ToolSpec(
        GIT_SHOW,
        "one commit: message and changed files",
        (Arg("ref", "string", "the revision", default="HEAD", no_leading_dash=True),),
    ),
    ToolSpec(
        GIT_BLAME,
        "who last changed a range of lines",
        (
            Arg("path", "string", "the file", required=True, no_leading_dash=True),
            Arg("start", "integer", "first line (1-based)", required=True, minimum=1),
            Arg("end", "integer", "last line (default: start)", minimum=1),
        ),
    ),
    ToolSpec(GIT_BRANCHES, "local branches and the current one"),
    ToolSpec(GIT_STASH_LIST, "stashed changes"),
    ToolSpec(
        GIT_COMMIT,
        "commit the given paths, or all changes to tracked files",
        (
            Arg("message", "string", "the commit message", required=True),
            _PATHS,
        ),
        changes_repository=True,
    ),
    ToolSpec(
        GIT_BRANCH_CREATE,
        "create a branch at HEAD",
        (
            Arg("name", "string", "branch name", required=True, no_leading_dash=True),
            Arg("switch", "boolean", "switch to it", default=False),
        ),
        changes_repository=True,
    ),
    ToolSpec(
        GIT_SWITCH,
        "switch to an existing branch",
        (Arg("name", "string", "branch name", required=True, no_leading_dash=True),),
        changes_repository=True,
    ),
    ToolSpec(
        GIT_STASH_PUSH,
        "stash the changes to tracked files",
        (Arg("message", "string", "stash message"),),
        changes_repository=True,
    ),
    ToolSpec(GIT_STASH_POP, "re-apply and drop the newest stash", changes_repository=True),
    ToolSpec(
        REMIND,
        "say something to the user at a time they asked for: its result, relayed, is the reminder",
        (
            Arg("request", "string", "the user's request as heard, when and what, e.g. remind "
                "me in ten minutes to stand up", required=True, heard=True),
        ),
    ),
    ToolSpec(
        EXPLAIN,
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
