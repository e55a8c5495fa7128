"""The recognizer's coding vocabulary: the repository's file, test and function names as a Whisper prompt.

Gathered cheaply (git's file list and recent history, plus the `def` lines of the few most
recently changed Python files, each read only up to 200 kB), never from ignored files, secrets
redacted, most relevant names last (Whisper weighs the end of its prompt most).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from companion.core.redact import MASK, is_env_file, redact

TOOL_WORDS = ("pytest", "ruff", "git diff", "git status", "commit", "lint", "snooze", "README",
              "traceback", "off by one")
_DEF = re.compile(r"^\s*(?:async\s+)?def\s+([A-Za-z_][A-Za-z0-9_]{2,40})\s*\(", re.MULTILINE)
_OPAQUE = re.compile(r"[A-Za-z0-9+/=-]{20,}")  # a long run without word breaks: a key or a hash
MAX_FILES_READ = 12
MAX_BYTES = 200_000


def _git(root: Path, *args: str) -> list[str]:
    try:
        out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                             timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return out.stdout.splitlines() if out.returncode == 0 else []


def _recent_files(root: Path, tracked: set[str]) -> list[str]:
    """Tracked files, most recently changed first (history, then the working tree's changes)."""
    seen: dict[str, None] = {}
    status = [line[3:].split(" -> ")[-1] for line in _git(root, "status", "--porcelain")]
    for path in status + _git(root, "log", "-n", "40", "--name-only", "--format="):
        if path and path in tracked and path not in seen:
            seen[path] = None
    return list(seen)


def _defs(root: Path, path: str) -> list[str]:
    try:
        with open(root / path, encoding="utf-8", errors="ignore") as f:
            text = f.read(MAX_BYTES)
    except OSError:
        return []
    return _DEF.findall(text)


def gather_names(root: Path, *, max_names: int = 60) -> list[str]:
    """Identifiers worth recognizing in this repository, least relevant first."""
    tracked_list = [p for p in _git(root, "ls-files") if not is_env_file(p)]
    tracked = set(tracked_list)
    recent = _recent_files(root, tracked)
    names: dict[str, None] = {}
    # Least relevant first: every tracked Python file's name, then recent files' definitions.
    for path in tracked_list:
        if path.endswith(".py"):
            names[Path(path).name] = None
    python_recent = [p for p in recent if p.endswith(".py")][:MAX_FILES_READ]
    for path in reversed(python_recent):
        for name in _defs(root, path):
            if not name.startswith("_"):
                names.pop(name, None)
                names[name] = None
        names.pop(Path(path).name, None)
        names[Path(path).name] = None
    clean = [n for n in names if not n.startswith("__") and MASK not in redact(n)
             and not any(_OPAQUE.fullmatch(part) and any(c.isdigit() for c in part)
                         for part in n.split("_"))]
    return clean[-max_names:]


def prompt_text(names: list[str]) -> str:
    """The prompt: tool words, then the names (most relevant last), as a plain glossary line."""
    return ", ".join([*TOOL_WORDS, *names]) + "."


def repository_prompt(root: Path, *, max_names: int = 60) -> str:
    """Glossary prompt for the repository at `root` (just the tool words outside a git repository)."""
    return prompt_text(gather_names(root, max_names=max_names))
