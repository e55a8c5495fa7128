"""Paths handed to git tools: inside the repository, not ignored, never read as options or globs.

Ignored means never read by any path: the companion's IgnoreRules (.gitignore, core.excludesFile,
.git/info/exclude, .companionignore, nested repositories) decide for git's tools as for FileWatch.
"""

from __future__ import annotations

import os
from pathlib import Path

import git

from companion.core.ignore import IgnoreRules
from tools.registry import ToolError


def repo_path(repo: git.Repo, path: str, what: str, *, allow_ignored: bool = False) -> str:
    """`path` as a repository-relative POSIX path, or one uniform error.

    Resolved through symlinks before the check, and checked before anything touches the disk
    beyond that, so a path outside answers the same whether or not it exists (no oracle), and
    git never sees it (no raw git error with a command line).
    """
    root = Path(repo.working_tree_dir).resolve()
    if not path or "\0" in path:
        raise ToolError(f"{what}: not a path: {path!r}")
    real = Path(os.path.realpath(root / path))
    try:
        rel = real.relative_to(root).as_posix()
    except ValueError:
        raise ToolError(f"{what}: {path} is outside the repository") from None
    if rel.startswith(".git/") or rel == ".git":
        raise ToolError(f"{what}: {path} is inside .git, not a file of the project")
    if not allow_ignored and rel != "." and IgnoreRules(root).is_ignored(rel, is_dir=real.is_dir()):
        raise ToolError(f"{what}: {path} is ignored (.gitignore, .companionignore or a nested "
                        "repository); the companion does not read it")
    return rel


def readable_paths(repo: git.Repo, paths: list[str]) -> list[str]:
    """Of git's changed `paths`, those the companion may read (not ignored, not nested repos)."""
    ignore = IgnoreRules(Path(repo.working_tree_dir).resolve())
    return [p for p in paths if not ignore.is_ignored(p)]


def literal(paths: list[str]) -> list[str]:
    # pathspec magic: each path names exactly that file, never a glob or an option
    return [f":(literal){p}" for p in paths]
