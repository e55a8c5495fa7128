"""Git operations that change the repository, split into a preview and a confirmed apply.

`prepare_change` checks the request and returns a `PreparedChange`: a speakable summary, a
preview (diff stat, message, branch) and an `apply` that acts only when called — the agent calls
it after the user confirms. `apply` re-checks a fingerprint of what was previewed, so a confirm
never commits or stashes something the user did not see. There is no force, no hard reset, no
clean and no file deletion anywhere here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import git

from tools.catalog import (
    GIT_BRANCH_CREATE,
    GIT_COMMIT,
    GIT_STASH_POP,
    GIT_STASH_PUSH,
    GIT_SWITCH,
)
from tools.git_ops import branch_state, check_ref, has_commits, numstat, run_git, status
from tools.git_paths import repo_path
from tools.registry import ToolError


@dataclass(frozen=True, slots=True)
class PreparedChange:
    """A repository change waiting for the user's yes: what it will do, and the act itself."""

    summary: str
    preview: dict
    apply: Callable[[], dict] = field(repr=False)


def prepare_change(repo: git.Repo, tool: str, args: dict) -> PreparedChange:
    preparers = {
        GIT_COMMIT: lambda: _prepare_commit(repo, args["message"], list(args.get("paths") or [])),
        GIT_BRANCH_CREATE: lambda: _prepare_branch_create(repo, args["name"], args["switch"]),
        GIT_SWITCH: lambda: _prepare_switch(repo, args["name"]),
        GIT_STASH_PUSH: lambda: _prepare_stash_push(repo, args.get("message")),
        GIT_STASH_POP: lambda: _prepare_stash_pop(repo),
    }
    if tool not in preparers:
        raise ToolError(f"{tool} does not change the repository")
    return preparers[tool]()


def _refuse_during_conflict(repo: git.Repo, what: str) -> dict:
    current = status(repo)
    if current["conflicted"]:
        files = ", ".join(current["conflicted"][:3])
        raise ToolError(
            f"cannot {what}: {current['in_progress'] or 'merge'} in progress with "
            f"unresolved conflicts in {files}; resolve them first"
        )
    return current


def _fingerprint(repo: git.Repo, paths: list[str], untracked: list[str]) -> str:
    digest = hashlib.sha256()
    head = repo.head.commit.hexsha if has_commits(repo) else "unborn"
    digest.update(head.encode())
    base = ["HEAD"] if has_commits(repo) else ["--cached"]
    digest.update(run_git(repo, "diff", "--binary", *base, "--", *paths, raw=True))
    for rel in untracked:
        digest.update(rel.encode() + b"\0" + (Path(repo.working_tree_dir) / rel).read_bytes())
    return digest.hexdigest()


def _stat_line(files: list[dict]) -> str:
    added = sum(f["added"] for f in files)
    deleted = sum(f["deleted"] for f in files)
    binary = sum(f["binary"] for f in files)
    text = f"{len(files)} file{'s' * (len(files) != 1)} changed, +{added} -{deleted}"
    return text + (f", {binary} binary" if binary else "")


def _untracked_row(root: Path, rel: str) -> dict:
    data = (root / rel).read_bytes()
    binary = b"\0" in data[:8192]
    return {
        "path": rel,
        "added": 0 if binary else len(data.splitlines()),
        "deleted": 0,
        "binary": binary,
        "new": True,
    }


def _prepare_commit(repo: git.Repo, message: str, paths: list[str]) -> PreparedChange:
    current = _refuse_during_conflict(repo, "commit")
    root = Path(repo.working_tree_dir)
    merging = current["in_progress"] == "merge"
    if merging and paths:
        raise ToolError(
            "cannot commit only some paths while a merge is in progress; "
            "commit all changes to conclude the merge"
        )
    base = ["HEAD"] if has_commits(repo) else ["--cached"]
    untracked: list[str] = []
    if paths:
        # the same check and words as the read-only tools; committing an ignored file is the
        # user's call (git itself refuses .gitignored ones), so only the location is checked
        paths = [repo_path(repo, rel, "commit", allow_ignored=True) for rel in paths]
        known = set(run_git(repo, "ls-files", "--", *paths).splitlines())
        untracked = set(
            run_git(repo, "ls-files", "--others", "--exclude-standard", "--", *paths).splitlines()
        )
        for rel in paths:
            if not any(k == rel or k.startswith(rel.rstrip("/") + "/") for k in known | untracked):
                raise ToolError(f"commit: no such file or no changes to commit in it: {rel}")
        untracked = sorted(untracked)
    files = numstat(repo, *base, "--", *paths) + [_untracked_row(root, u) for u in untracked]
    if not files and not merging:
        raise ToolError(
            "nothing to commit"
            + (f" in {', '.join(paths)}" if paths else ": no changes to tracked files")
        )
    fingerprint = _fingerprint(repo, paths, untracked)
    where = current["branch"] or f"a detached HEAD at {current['head']}"
    notes = []
    if current["detached"]:
        notes.append("HEAD is detached: the commit will not be on any branch")
    if merging:
        notes.append("this commit concludes the merge in progress")
    preview = {
        "action": "commit",
        "message": message,
        "paths": paths,
        "files": files,
        "stat": _stat_line(files),
        "branch": current["branch"],
        "notes": notes,
    }

    def apply() -> dict:
        if _fingerprint(repo, paths, untracked) != fingerprint:
            raise ToolError(
                "the changes moved since the preview; nothing was committed — "
                "ask again to see the new preview"
            )
        if paths:
            run_git(repo, "add", "--", *paths)
            run_git(repo, "commit", "-m", message, "--", *paths)
        else:
            run_git(repo, "commit", "-a", "-m", message)
        commit = repo.head.commit
        return {
            "action": "commit",
            "sha": commit.hexsha[:8],
            "message": message,
            "files": sorted(commit.stats.files),
            "branch": branch_state(repo)["branch"],
        }

    n = len(files)
    summary = f'ready to commit {n} file{"s" * (n != 1)} on {where}: "{message}". Confirm?'
    return PreparedChange(summary, preview, apply)


def _check_branch_name(repo: git.Repo, name: str) -> None:
    try:
        repo.git.check_ref_format("--branch", name)
    except git.GitCommandError:
        raise ToolError(f"not a valid branch name: {name!r}") from None


def _prepare_branch_create(repo: git.Repo, name: str, switch: bool) -> PreparedChange:
    _check_branch_name(repo, name)
    if not has_commits(repo):
        raise ToolError("no commits yet: make a first commit before creating a branch")
    if name in [h.name for h in repo.heads]:
        raise ToolError(f"branch '{name}' already exists")
    if switch:
        _refuse_during_conflict(repo, "switch branches")
    head = repo.head.commit
    preview = {
        "action": "branch_create",
        "name": name,
        "at": head.hexsha[:8],
        "subject": head.summary,
        "switch": switch,
    }

    def apply() -> dict:
        if repo.head.commit != head:
            raise ToolError("HEAD moved since the preview; no branch was created")
        run_git(repo, "branch", name, head.hexsha)
        if switch:
            run_git(repo, "switch", name)
        return {**preview, "branch": branch_state(repo)["branch"]}

    verb = "create and switch to" if switch else "create"
    return PreparedChange(
        f"ready to {verb} branch {name} at {head.hexsha[:7]}. Confirm?", preview, apply
    )


def _prepare_switch(repo: git.Repo, name: str) -> PreparedChange:
    current = _refuse_during_conflict(repo, "switch branches")
    if name not in [h.name for h in repo.heads]:
        raise ToolError(f"no branch named '{name}'")
    if name == current["branch"]:
        raise ToolError(f"already on branch '{name}'")
    dirty = len(current["staged"]) + len(current["unstaged"])
    preview = {
        "action": "switch",
        "from": current["branch"] or current["head"],
        "to": name,
        "uncommitted_files": dirty,
    }

    def apply() -> dict:
        run_git(repo, "switch", name)  # git refuses (and says why) if local changes would be lost
        return {**preview, "branch": branch_state(repo)["branch"]}

    carried = f", carrying {dirty} changed file{'s' * (dirty != 1)}" if dirty else ""
    return PreparedChange(f"ready to switch to branch {name}{carried}. Confirm?", preview, apply)


def _prepare_stash_push(repo: git.Repo, message: str | None) -> PreparedChange:
    _refuse_during_conflict(repo, "stash")
    if not has_commits(repo):
        raise ToolError("no commits yet: git cannot stash before the first commit")
    files = numstat(repo, "HEAD")
    if not files:
        raise ToolError("nothing to stash: no changes to tracked files")
    fingerprint = _fingerprint(repo, [], [])
    preview = {
        "action": "stash_push",
        "message": message,
        "files": files,
        "stat": _stat_line(files),
    }

    def apply() -> dict:
        if _fingerprint(repo, [], []) != fingerprint:
            raise ToolError("the changes moved since the preview; nothing was stashed")
        run_git(repo, "stash", "push", *(["-m", message] if message else []))
        return {**preview, "stash": run_git(repo, "stash", "list", "-1", "--format=%gd")}

    n = len(files)
    return PreparedChange(
        f"ready to stash changes to {n} file{'s' * (n != 1)}. Confirm?", preview, apply
    )


def _prepare_stash_pop(repo: git.Repo) -> PreparedChange:
    _refuse_during_conflict(repo, "pop the stash")
    if not has_commits(repo) or not run_git(repo, "stash", "list", "-1"):
        raise ToolError("the stash is empty")
    top = check_ref(repo, "stash@{0}")
    subject = run_git(repo, "stash", "list", "-1", "--format=%gs")
    files = numstat(repo, f"{top}^1", top)
    preview = {"action": "stash_pop", "stash": subject, "files": files, "stat": _stat_line(files)}

    def apply() -> dict:
        if check_ref(repo, "stash@{0}") != top:
            raise ToolError("the stash changed since the preview; nothing was popped")
        run_git(repo, "stash", "pop")
        return {**preview, "status": status(repo)}

    return PreparedChange(
        f'ready to pop the stash "{subject}" ({_stat_line(files)}). Confirm?', preview, apply
    )
