"""What people and tools say in the training sessions: the pinned prefix, requests, chatter, tool results.

Tool names follow the agent's registry: tests, lint, git_status, git_diff, git_log, git_commit.
Tool-result summaries follow the agent's spoken format (DESIGN §8), e.g.
"test_parse_header failed: IndexError in parse_header, line 42".
"""

from __future__ import annotations

import random

from companion.core.events import JobEvent
from model_server.training.edits import BUG_ERRORS, Edit

TOOL_NAMES = ("tests", "lint", "git_status", "git_diff", "git_log", "git_commit")

SYSTEM_TEXTS = (
    ("You are companion, a pair programmer who watches the screen, the files and the voice of the "
     "developer. Each micro-turn answer with silence, a few words of speech, stop, or a tool call. "
     "Speak only when it helps, keep it short, and never talk over the developer."),
    ("You are companion, a quiet pair programmer. Stay silent unless something needs attention: a "
     "bug in a change, a failing test, or a request. Stop at once when the developer talks."),
)
TOOLS_TEXT = ("Tools: tests {scope?: affected|failed|all}, lint {path?}, git_status {}, git_diff {path?}, "
              "git_log {n?}, git_commit {message} (needs confirmation).")
RULES = (
    "Interrupt me when I write an off-by-one.", "Tell me when tests fail.", "Keep it short.",
    "Point out comparison mistakes.", "Don't read stack traces to me.", "Mention unused variables.",
    "Warn me about mutable default arguments.", "Say the failing test's name.",
    "Run the tests when I ask.", "Never interrupt me while I am speaking.",
)

REQUESTS: tuple[tuple[str, str, dict], ...] = (
    ("run the tests", "tests", {}), ("can you run the tests", "tests", {}),
    ("run tests please", "tests", {}), ("let's run the tests", "tests", {}),
    ("run all the tests", "tests", {"scope": "all"}), ("rerun the failed tests", "tests", {"scope": "failed"}),
    ("run the failing tests again", "tests", {"scope": "failed"}),
    ("run the linter", "lint", {}), ("can you lint the code", "lint", {}), ("lint this", "lint", {}),
    ("what changed", "git_status", {}), ("what did I change", "git_status", {}),
    ("show me the status", "git_status", {}), ("git status", "git_status", {}),
    ("show me the diff", "git_diff", {}), ("what's the diff", "git_diff", {}), ("diff please", "git_diff", {}),
    ("show the log", "git_log", {}), ("what was the last commit", "git_log", {"n": 1}),
    ("show the last five commits", "git_log", {"n": 5}),
)
COMMIT_REQUESTS = ("commit this as {}", "commit with message {}", "please commit {}")
COMMIT_MESSAGES = ("fix header parsing", "add a cache", "update the docs", "handle empty input",
                   "rename the helpers", "tidy the tests", "speed up the parser")
CHATTER = (
    "hmm", "ok let me see", "where was I", "so this should work", "wait", "that is weird",
    "let me think", "okay so the loop", "now the parser", "right", "hmm why is this failing",
    "I think this works", "let me try something", "no that is wrong", "okay", "one second",
)


def request(rng: random.Random) -> tuple[str, str, dict]:
    """A spoken or typed request: (words, tool, args)."""
    if rng.random() < 0.12:
        message = rng.choice(COMMIT_MESSAGES)
        return rng.choice(COMMIT_REQUESTS).format(message), "git_commit", {"message": message}
    words, tool, args = rng.choice(REQUESTS)
    return words, tool, dict(args)


def pieces(text: str, max_chars: int = 16) -> list[str]:
    """Speech split into micro-turn pieces of a few words (about 4-6 tokens), each with a leading space."""
    out: list[str] = []
    for word in text.split():
        if out and len(out[-1]) + 1 + len(word) <= max_chars:
            out[-1] += " " + word
        else:
            out.append(" " + word)
    return out


def test_failure(bugs: list[Edit], rng: random.Random, passed: int, t: float, job: str) -> JobEvent:
    """The agent's result event for a test run that failed because of the planted bugs."""
    failures = []
    for bug in bugs:
        error = rng.choice(BUG_ERRORS[bug.kind])
        failures.append({"test": f"test_{bug.func}", "error": error, "file": bug.after.path,
                         "line": bug.line})
    first = failures[0]
    summary = f"{first['test']} failed: {first['error']} in {bugs[0].func}, line {first['line']}"
    if len(failures) > 1:
        summary = f"{len(failures)} tests failed, first {summary}"
    data = {"passed": passed, "failed": len(failures), "failures": failures[:3]}
    return JobEvent(t=t, job_id=job, tool="tests", phase="result", summary=summary, data=data)


def tests_passed(passed: int, t: float, job: str) -> JobEvent:
    return JobEvent(t=t, job_id=job, tool="tests", phase="result", summary=f"all {passed} tests passed",
                    data={"passed": passed, "failed": 0})


def lint_result(unused: list[Edit], t: float, job: str) -> JobEvent:
    issues = [{"code": "F841", "path": e.after.path, "line": e.line,
               "message": f"local variable '{_assigned_name(e)}' is assigned to but never used"}
              for e in unused]
    if not issues:
        return JobEvent(t=t, job_id=job, tool="lint", phase="result", summary="lint found no issues",
                        data={"issues": []})
    first = issues[0]
    summary = f"{first['code']} {first['message']}, line {first['line']}"
    if len(issues) > 1:
        summary = f"{len(issues)} lint issues, first {summary}"
    return JobEvent(t=t, job_id=job, tool="lint", phase="result", summary=summary, data={"issues": issues})


def _assigned_name(edit: Edit) -> str:
    """The variable an unused-variable edit introduced, read from its own diff's added line."""
    added = next(ln for ln in edit.diff.splitlines() if ln.startswith("+"))
    return added[1:].split("=")[0].strip()


def git_result(tool: str, args: dict, paths: list[str], rng: random.Random, t: float, job: str) -> JobEvent:
    """A result for the git tools, with a speakable summary."""
    if tool == "git_status":
        changed = rng.sample(paths, k=rng.randint(1, len(paths)))
        summary = f"{len(changed)} files changed: {', '.join(p.rsplit('/', 1)[-1] for p in changed)}"
        data = {"modified": changed, "untracked": []}
    elif tool == "git_diff":
        path = rng.choice(paths)
        added, removed = rng.randint(1, 30), rng.randint(0, 12)
        summary = f"{path.rsplit('/', 1)[-1]}: {added} lines added, {removed} removed"
        data = {"files": [{"path": path, "added": added, "removed": removed}]}
    elif tool == "git_log":
        message = rng.choice(COMMIT_MESSAGES)
        summary = f"last commit: {message}"
        data = {"commits": [{"sha": f"{rng.getrandbits(28):07x}", "message": message}]}
    else:
        sha = f"{rng.getrandbits(28):07x}"
        summary = f"committed {sha}: {args.get('message', '')}"
        data = {"sha": sha, "message": args.get("message", "")}
    return JobEvent(t=t, job_id=job, tool=tool, phase="result", summary=summary, data=data)


def serving_prompt() -> dict:
    """The prefix texts the model was trained with, shipped as prompt.json beside the weights so
    the companion (which may not import this package) builds the prefix the model knows."""
    return {"system": SYSTEM_TEXTS[0], "rules_heading": "Rules:\n", "tools": TOOLS_TEXT,
            "default_rules": [RULES[0], RULES[1], RULES[2]]}
