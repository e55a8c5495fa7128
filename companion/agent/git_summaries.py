"""Spoken summaries of git results: one sentence per read-only git tool or confirmed change.

Like summaries.py: file names, counts and commit subjects a voice can say, never a diff.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from companion.agent.summaries import count
from tools.catalog import (
    GIT_BLAME,
    GIT_BRANCHES,
    GIT_DIFF,
    GIT_LOG,
    GIT_SHOW,
    GIT_STASH_LIST,
    GIT_STATUS,
)


def summarize_git(tool: str, data: dict) -> str:
    """One sentence for a git result (read-only tools and confirmed changes alike)."""
    return _GIT_SENTENCES.get(tool, _change_sentence)(data)


def _diff_sentence(data: dict) -> str:
    return _stat_sentence(data["files"]) if data["files"] else "no changes"


def _log_sentence(data: dict) -> str:
    commits = data["commits"]
    if not commits:
        return data.get("note", "no commits")
    last = commits[0]
    return f"latest of {count(len(commits), 'commit')}: {last['subject']}, by {last['author']}"


def _show_sentence(data: dict) -> str:
    return (
        f"commit {data['sha'][:7]} by {data['author']}: {data['subject']}; "
        f"{_stat_sentence(data['files'])}"
    )


def _branches_sentence(data: dict) -> str:
    where = data["branch"] or f"a detached HEAD at {data['head']}"
    return f"on {where}; {count(len(data['branches']), 'branch', 'branches')}"


def _stash_list_sentence(data: dict) -> str:
    n = len(data["stashes"])
    return "the stash is empty" if n == 0 else count(n, "stash", "stashes")


def _blame_sentence(data: dict) -> str:
    lines = data["lines"]
    name = PurePosixPath(data["path"]).name
    first, last = data["start"], data["start"] + len(lines) - 1
    span = f"line {first} of {name}" if first == last else f"lines {first} to {last} of {name}"
    authors = sorted({ln["author"] if ln["committed"] else "uncommitted edits" for ln in lines})
    if authors == ["uncommitted edits"]:
        return f"{span} {'is' if first == last else 'are'} not committed yet"
    if len(authors) == 1:
        return f"{span}: {authors[0]}, {lines[-1]['summary']}"
    return f"{span} were changed by {' and '.join(authors)}"


def _change_sentence(data: dict) -> str:
    action = data.get("action")
    if action == "commit":
        return f"committed {data['sha'][:7]}: {data['message'].splitlines()[0]}"
    if action == "branch_create":
        return f"created branch {data['name']}" + (" and switched to it" if data["switch"] else "")
    if action == "switch":
        return f"switched to branch {data['to']}"
    if action == "stash_push":
        return f"stashed changes to {count(len(data['files']), 'file')}"
    if action == "stash_pop":
        return "popped the stash"
    return "done"


def _status_sentence(data: dict) -> str:
    where = f"on {data['branch']}" if data["branch"] else f"detached HEAD at {data['head']}"
    if data["in_progress"]:
        where += f", {data['in_progress']} in progress"
    parts = []
    if data["conflicted"]:
        parts.append(count(len(data["conflicted"]), "conflicted file"))
    if data["staged"]:
        parts.append(f"{count(len(data['staged']), 'file')} staged")
    if data["unstaged"]:
        parts.append(f"{count(len(data['unstaged']), 'file')} changed")
    if data["untracked"]:
        parts.append(f"{count(len(data['untracked']), 'file')} untracked")
    return f"{where}: {', '.join(parts) if parts else 'working tree clean'}"


def _stat_sentence(files: list[dict]) -> str:
    added = sum(f["added"] for f in files)
    deleted = sum(f["deleted"] for f in files)
    binary = sum(1 for f in files if f["binary"])
    text = f"{count(len(files), 'file')} changed, {count(added, 'line')} added, {deleted} removed"
    return text + (f", {count(binary, 'binary file')}" if binary else "")


# one sentence per read-only git tool; the repository-changing ones say what changed
_GIT_SENTENCES = {
    GIT_STATUS: _status_sentence, GIT_DIFF: _diff_sentence, GIT_LOG: _log_sentence,
    GIT_SHOW: _show_sentence, GIT_BLAME: _blame_sentence, GIT_BRANCHES: _branches_sentence,
    GIT_STASH_LIST: _stash_list_sentence,
}
