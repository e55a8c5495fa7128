"""Paths the companion must never read: git's ignores (.gitignore files, .git/info/exclude,
core.excludesFile), .companionignore, nested repositories, and the companion's own outputs."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path

import pathspec

# Files whose patterns apply to the directory they sit in (and below), like git's own.
IGNORE_FILE_NAMES = (".gitignore", ".companionignore")
# Ignored even in a repository whose .gitignore forgets them, at the lowest precedence (a `!`
# pattern re-includes): what interpreters, test runners and package managers write. A test run
# in the user's terminal otherwise reaches the model as "binary file changed" edits.
BUILTIN_IGNORES = ("__pycache__/", "*.py[cod]", ".pytest_cache/", ".mypy_cache/", ".ruff_cache/",
                   ".tox/", ".nox/", ".venv/", "node_modules/")


class IgnoreRules:
    """Git's ignore semantics over one repository, plus `.companionignore` files (same syntax).

    The deepest file that has an opinion about a path wins (a nested `!keep.txt` re-includes),
    and a path under an ignored directory stays ignored, as in git. `.git/` is always ignored, and
    so is every nested repository (a directory holding its own `.git`): it is another project.
    `BUILTIN_IGNORES` apply below git's own files. `own_outputs` are files or directories the companion writes (transcript, recordings, logs,
    caches), given by any path; those inside the repository are ignored by their real path.
    Paths are repository-relative with POSIX separators.
    """

    def __init__(self, root: str | os.PathLike[str],
                 own_outputs: Iterable[str | os.PathLike[str]] = ()) -> None:
        self.root = Path(root).resolve()
        self.own_outputs = frozenset(_inside(self.root, path) for path in own_outputs) - {None}
        self._global_excludes = _global_excludes_file(self.root)
        # directory ("" for the root) -> patterns that apply below it, in git's precedence order
        # filled lazily: a directory's ignore files are read the first time a path below it is asked
        self._specs: dict[str, list[pathspec.GitIgnoreSpec]] = {}
        self._dir_cache: dict[str, bool] = {}

    def reload_dir(self, rel_dir: str) -> None:
        """Forget one directory's ignore files (one changed); they are re-read on next use."""
        self._specs.pop(rel_dir, None)
        self._dir_cache.clear()

    def is_ignored(self, rel_path: str, is_dir: bool = False) -> bool:
        """True if git (or .companionignore) ignores this path or a directory above it."""
        parts = rel_path.strip("/").split("/")
        if not parts or parts == [""]:
            return False
        if parts[0] == ".git":
            return True
        for depth in range(1, len(parts) + 1):
            if "/".join(parts[:depth]) in self.own_outputs:
                return True
        for depth in range(1, len(parts)):
            if self._dir_ignored("/".join(parts[:depth])):
                return True
        if is_dir:
            return self._dir_ignored(rel_path.strip("/"))
        return self._matches("/".join(parts), is_dir=False)

    def walk_files(self, rel_dir: str = "") -> Iterator[str]:
        """Non-ignored regular files under rel_dir; never enters ignored or symlinked dirs."""
        stack = [rel_dir]
        while stack:
            current = stack.pop()
            try:
                entries = list(os.scandir(self.root / current if current else self.root))
            except OSError:  # vanished or unreadable: nothing to watch there
                continue
            for entry in entries:
                rel = f"{current}/{entry.name}" if current else entry.name
                try:
                    if entry.is_dir(follow_symlinks=False):
                        if not self.is_ignored(rel, is_dir=True):
                            stack.append(rel)
                    elif entry.is_file(follow_symlinks=False) and not self.is_ignored(rel):
                        yield rel
                except OSError:
                    continue

    def _dir_ignored(self, rel_dir: str) -> bool:
        cached = self._dir_cache.get(rel_dir)
        if cached is None:
            nested_repo = os.path.lexists(self.root / rel_dir / ".git")
            cached = nested_repo or rel_dir in self.own_outputs or self._matches(rel_dir, is_dir=True)
            self._dir_cache[rel_dir] = cached
        return cached

    def _matches(self, rel_path: str, *, is_dir: bool) -> bool:
        # Walk from the deepest directory up: the first file with a matching pattern decides.
        parent = rel_path.rpartition("/")[0]
        while True:
            for spec in reversed(self._specs_for(parent)):
                sub = rel_path[len(parent) + 1 :] if parent else rel_path
                result = spec.check_file(sub + "/" if is_dir else sub)
                if result.include is not None:
                    return result.include
            if parent == "":
                return False
            parent = parent.rpartition("/")[0]

    def _specs_for(self, rel_dir: str) -> list[pathspec.GitIgnoreSpec]:
        specs = self._specs.get(rel_dir)
        if specs is None:
            base = self.root / rel_dir if rel_dir else self.root
            # git's precedence, lowest first: info/exclude, .gitignore, then ours
            files = [base / name for name in IGNORE_FILE_NAMES]
            if rel_dir == "":
                files.insert(0, self.root / ".git" / "info" / "exclude")
                if self._global_excludes is not None:
                    files.insert(0, self._global_excludes)
            specs = [spec for spec in map(_read_spec, files) if spec is not None]
            if rel_dir == "":
                specs.insert(0, _BUILTIN_SPEC)
            self._specs[rel_dir] = specs
        return specs


_BUILTIN_SPEC = pathspec.GitIgnoreSpec.from_lines(BUILTIN_IGNORES)


def _read_spec(path: Path) -> pathspec.GitIgnoreSpec | None:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:  # absent, a directory, unreadable: no patterns from it
        return None
    return pathspec.GitIgnoreSpec.from_lines(lines)


def _inside(root: Path, path: str | os.PathLike[str]) -> str | None:
    """`path`'s real location relative to `root` (POSIX), or None when it lies outside."""
    try:
        return Path(os.path.realpath(path)).relative_to(root).as_posix()
    except ValueError:
        return None


def _global_excludes_file(root: Path) -> Path | None:
    """git's core.excludesFile for this repository, else its default ($XDG_CONFIG_HOME/git/ignore)."""
    try:
        found = subprocess.run(["git", "-C", str(root), "config", "--path", "--get",
                                "core.excludesFile"], capture_output=True, text=True, timeout=5,
                               check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        found = ""
    if found:
        path = Path(found)
        return path if path.is_absolute() else root / path
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(xdg) / "git" / "ignore"
