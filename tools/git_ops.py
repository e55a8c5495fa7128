"""Read-only git through GitPython: status, diff, log, show, blame, branches, stash list.

Every function is blocking (the agent runs them with `asyncio.to_thread`) and returns a
JSON-serializable dict. Every failure is a `ToolError` that says what is wrong in words:
"not a git repository: /path", "no commits yet", "unknown revision 'v9'".
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import git

from tools.git_paths import literal, readable_paths, repo_path
from tools.registry import ToolError

UNCOMMITTED = "0" * 40  # blame's sha for lines changed in the working tree
TEXT_CAP = 64 * 1024  # characters of diff/show text handed on; the stat covers everything


def open_repo(path: str | Path) -> git.Repo:
    path = Path(path)
    try:
        return git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise ToolError(f"not a git repository: {path}") from None
    except git.GitCommandNotFound:
        raise ToolError("git is not installed (the git command was not found)") from None


def run_git(repo: git.Repo, *args: str, raw: bool = False):
    """Run one git subcommand; errors become `ToolError` with git's own last words."""
    try:
        return repo.git.execute(
            ["git", *args], stdout_as_string=not raw, strip_newline_in_stdout=not raw
        )
    except git.GitCommandError as exc:
        raise ToolError(f"git {args[0]} failed: {_last_words(exc)}") from None


def _last_words(exc: git.GitCommandError) -> str:
    """git's last line of stderr (never the command line GitPython puts in the exception)."""
    stderr = (exc.stderr or "").strip().removeprefix("stderr:").strip().strip("'").strip()
    last = [line for line in stderr.splitlines() if line.strip()]
    if "ambiguous argument 'HEAD'" in stderr or "bad default revision 'HEAD'" in stderr:
        return "no commits yet"
    return last[-1].strip() if last else f"exit code {exc.status}"


def has_commits(repo: git.Repo) -> bool:
    try:
        return repo.head.commit is not None
    except ValueError:  # an unborn branch: HEAD names a branch that has no commit yet
        return False


def check_ref(repo: git.Repo, ref: str) -> str:
    """The full sha of a revision, or a clear error; refs never reach git as options."""
    if ref.startswith("-"):
        raise ToolError(f"not a revision: {ref!r}")
    if ref == "HEAD" and not has_commits(repo):
        raise ToolError("no commits yet")
    try:
        return repo.git.rev_parse("--verify", "--quiet", f"{ref}^{{commit}}")
    except git.GitCommandError:
        raise ToolError(f"unknown revision '{ref}'") from None


def branch_state(repo: git.Repo) -> dict:
    """Branch name or detached sha, and any operation in progress (merge, rebase, cherry-pick)."""
    state: dict = {"branch": None, "detached": False, "head": None, "in_progress": None}
    if repo.head.is_detached:
        state["detached"] = True
    else:
        state["branch"] = repo.head.ref.name
    if has_commits(repo):
        state["head"] = repo.head.commit.hexsha[:8]
    gitdir = Path(repo.git_dir)
    for marker, name in (
        ("MERGE_HEAD", "merge"),
        ("rebase-merge", "rebase"),
        ("rebase-apply", "rebase"),
        ("CHERRY_PICK_HEAD", "cherry-pick"),
        ("REVERT_HEAD", "revert"),
    ):
        if (gitdir / marker).exists():
            state["in_progress"] = name
            break
    return state


def status(repo: git.Repo) -> dict:
    out = run_git(repo, "status", "--porcelain=v1", "-z", "--untracked-files=normal")
    staged, unstaged, untracked, conflicted = [], [], [], []
    entries = out.split("\0") if out else []
    i = 0
    while i < len(entries):
        entry = entries[i]
        i += 1
        if len(entry) < 4:
            continue
        xy, path = entry[:2], entry[3:]
        if xy[0] in "RC":
            i += 1  # the rename's source path follows as its own entry
        if xy == "??":
            untracked.append(path)
        elif "U" in xy or xy in ("AA", "DD"):
            conflicted.append(path)
        else:
            if xy[0] not in " ?!":
                staged.append({"path": path, "change": xy[0]})
            if xy[1] not in " ?!":
                unstaged.append({"path": path, "change": xy[1]})
    return {
        **branch_state(repo),
        "staged": staged,
        "unstaged": unstaged,
        "untracked": untracked,
        "conflicted": conflicted,
    }


def numstat(repo: git.Repo, *args: str) -> list[dict]:
    """`git diff --numstat` rows; binary files have no line counts and `binary: true`."""
    return _numstat_rows(run_git(repo, "diff", "--numstat", *args))


def _numstat_rows(text: str) -> list[dict]:
    rows = []
    for line in text.splitlines():
        if not line.strip():
            continue
        added, deleted, path = line.split("\t", 2)
        binary = added == "-"
        rows.append(
            {
                "path": path,
                "added": 0 if binary else int(added),
                "deleted": 0 if binary else int(deleted),
                "binary": binary,
            }
        )
    return rows


def diff(
    repo: git.Repo,
    staged: bool = False,
    ref: str | None = None,
    paths: list[str] | tuple[str, ...] = (),
) -> dict:
    """Unstaged changes (default), staged ones, or the working tree against `ref`."""
    if ref is not None:
        check_ref(repo, ref)
        args = [ref]
    else:
        args = ["--cached"] if staged else []
    named = [repo_path(repo, p, "diff") for p in paths]
    changed = numstat(repo, *args, "--", *literal(named))
    files = [f for f in changed if f["path"] in set(readable_paths(repo, [f["path"] for f in changed]))]
    # only the readable files' text is asked of git: an ignored file's diff is never read
    text = run_git(repo, "diff", "--no-color", "--no-ext-diff", *args, "--",
                   *literal([f["path"] for f in files])) if files else ""
    result = {
        "against": ref or ("index→HEAD" if staged else "worktree→index"),
        "files": files,
        "text": _cap(text),
        "truncated": len(text) > TEXT_CAP,
        "binary_files": [f["path"] for f in files if f["binary"]],
    }
    if len(files) < len(changed):
        result["ignored_files"] = len(changed) - len(files)
    return result


def log(repo: git.Repo, n: int = 10, path: str | None = None, ref: str | None = None) -> dict:
    if not has_commits(repo):
        return {"commits": [], "note": "no commits yet"}
    rev = check_ref(repo, ref) if ref else "HEAD"
    rel = repo_path(repo, path, "log") if path else ""
    try:  # iter_commits runs git lazily: its errors surface while iterating
        commits = [_commit_dict(c) for c in repo.iter_commits(rev, max_count=n, paths=rel)]
    except git.GitCommandError as exc:
        raise ToolError(f"git log failed: {_last_words(exc)}") from None
    return {"commits": commits}


def show(repo: git.Repo, ref: str = "HEAD") -> dict:
    sha = check_ref(repo, ref)
    commit = repo.commit(sha)
    parent = commit.parents[0].hexsha if commit.parents else None
    if parent:
        changed = numstat(repo, parent, sha)
    else:  # a root commit: compare against the empty tree
        changed = _numstat_rows(run_git(repo, "show", "--numstat", "--format=", sha))
    readable = set(readable_paths(repo, [f["path"] for f in changed]))
    files = [f for f in changed if f["path"] in readable]
    text = run_git(repo, "show", "--no-color", "--no-ext-diff", "--format=", sha, "--",
                   *literal([f["path"] for f in files])) if files else ""
    result = {
        **_commit_dict(commit),
        "message": commit.message.strip(),
        "files": files,
        "text": _cap(text),
        "truncated": len(text) > TEXT_CAP,
    }
    if len(files) < len(changed):
        result["ignored_files"] = len(changed) - len(files)
    return result


def blame(repo: git.Repo, path: str, start: int, end: int) -> dict:
    """Who last changed lines start..end of the working-tree file (uncommitted lines included)."""
    if end < start:
        raise ToolError(f"blame: end line {end} is before start line {start}")
    rel = repo_path(repo, path, "blame")  # outside or ignored: refused before any lookup
    if not has_commits(repo):
        raise ToolError("no commits yet: nothing to blame")
    if not (Path(repo.working_tree_dir) / rel).is_file():
        raise ToolError(f"blame: no such file: {path}")
    out = run_git(repo, "blame", "--porcelain", "-L", f"{start},{end}", "--", rel)
    lines, meta, current = [], {}, None
    for row in out.splitlines():
        if row.startswith("\t"):
            info = meta[current]
            lines.append(
                {
                    "line": info["final"],
                    "sha": current[:8],
                    "committed": current != UNCOMMITTED,
                    "author": info.get("author"),
                    "summary": info.get("summary"),
                    "text": row[1:],
                }
            )
            info["final"] += 1
        else:
            head, _, value = row.partition(" ")
            if len(head) == 40 and all(c in "0123456789abcdef" for c in head):
                current = head
                meta.setdefault(head, {})["final"] = int(value.split()[1])
            elif head in ("author", "summary") and current:
                meta[current][head] = value
    return {"path": path, "start": start, "end": end, "lines": lines}


def branches(repo: git.Repo) -> dict:
    state = branch_state(repo)
    listed = [
        {
            "name": h.name,
            "head": h.commit.hexsha[:8],
            "subject": h.commit.summary,
            "current": h.name == state["branch"],
        }
        for h in repo.heads
    ]
    return {**state, "branches": listed}


def stash_list(repo: git.Repo) -> dict:
    out = run_git(repo, "stash", "list", "--format=%gd%x09%gs") if has_commits(repo) else ""
    entries = [dict(zip(("ref", "message"), line.split("\t", 1))) for line in out.splitlines()]
    return {"stashes": entries}


def _commit_dict(commit: git.Commit) -> dict:
    when = dt.datetime.fromtimestamp(commit.committed_date, dt.UTC)
    return {
        "sha": commit.hexsha[:8],
        "author": commit.author.name,
        "date": when.isoformat(),
        "subject": commit.summary,
    }


def _cap(text: str) -> str:
    """At most TEXT_CAP characters, cut at a line end: a token is kept whole or dropped whole,
    never half-kept where redaction (downstream, on whole text) could no longer recognize it."""
    if len(text) <= TEXT_CAP:
        return text
    cut = text.rfind("\n", 0, TEXT_CAP)
    return text[: max(0, cut)] + "\n… (truncated)"
