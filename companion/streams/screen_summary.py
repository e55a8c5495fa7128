"""A screen error's spoken summary: which repository file and line, and whether the user just changed it.

The localization here is deliberately small (the innermost traceback frame in the repository,
preferring one on a line changed recently); `compose_summary` takes plain values so a fuller
localization can feed it unchanged. FileChanged diffs reach this module as events (one way).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from companion.core.events import FileChanged
from companion.streams.screen_errors import Frame

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(?P<start>\d+)(?:,\d+)? @@")


def changed_lines(diff: str) -> set[int]:
    """New-file line numbers a unified diff adds or changes."""
    lines, number = set(), 0
    for text in diff.splitlines():
        m = _HUNK.match(text)
        if m:
            number = int(m["start"])
        elif text.startswith("+") and not text.startswith("+++"):
            lines.add(number)
            number += 1
        elif not text.startswith("-") and number:
            number += 1
    return lines


class RecentChanges:
    """When each repository file and line was last changed, from FileChanged events."""

    def __init__(self, keep: int = 200) -> None:
        self.keep = keep
        self._files: dict[str, tuple[float, dict[int, float]]] = {}

    def record(self, event: FileChanged) -> None:
        _, lines = self._files.pop(event.path, (0.0, {}))
        lines.update({n: event.t for n in changed_lines(event.diff)})
        self._files[event.path] = (event.t, lines)
        while len(self._files) > self.keep:
            self._files.pop(next(iter(self._files)))

    def line_changed_at(self, path: str, line: int) -> float | None:
        return self._files.get(path, (0.0, {}))[1].get(line)


def repo_path(shown: str, repo: Path) -> str | None:
    """The repository-relative path of a file named on screen, or None if it is not in the repo.

    Absolute paths under the repository are made relative; anything else (another machine's
    absolute path, `./src/x.py`) matches by its longest tail that exists in the repository.
    """
    shown = shown.strip().replace("\\", "/")
    if not shown:
        return None
    root = repo.resolve()
    parts = [p for p in PurePosixPath(shown).parts if p not in ("/", ".")]
    for start in range(len(parts)):
        candidate = root.joinpath(*parts[start:])
        try:
            if candidate.is_file() and candidate.resolve().is_relative_to(root):
                return candidate.resolve().relative_to(root).as_posix()
        except OSError:
            continue
    return None


def pick_frame(frames: Sequence[Frame], repo: Path, changes: RecentChanges) -> tuple[Frame | None, str | None]:
    """The frame to name: the innermost one on a recently changed repository line, else the
    innermost repository frame, else the innermost frame. Returns it and its repository path."""
    in_repo = [(f, repo_path(f.file, repo)) for f in frames]
    for frame, path in reversed(in_repo):
        if path and changes.line_changed_at(path, frame.line) is not None:
            return frame, path
    for frame, path in reversed(in_repo):
        if path:
            return frame, path
    return (frames[-1], None) if frames else (None, None)


def ago_words(seconds: float) -> str:
    if seconds < 45:
        return "just now"
    if seconds < 90:
        return "a minute ago"
    if seconds < 3600:
        return f"{round(seconds / 60)} minutes ago"
    return "earlier"


_SUBJECT = {"python": "the script", "node": "the script", "go": "the program",
            "rust": "the compiler", "compiler": "the compiler", "test": "a test"}


def compose_summary(language: str, exception: str, message: str, file: str, line: int,
                    function: str = "", changed_ago: float | None = None) -> str:
    """One short speakable sentence (≤ 25 words), e.g. "the script in your terminal raised
    KeyError 'user_id' in app.py line 42, which you changed a minute ago"."""
    message = " ".join(message.split()[:8])
    if language == "http":
        return f"the page on your screen shows {exception} {message}".strip()
    subject = _SUBJECT.get(language, "the program")
    if language in ("rust", "compiler") and exception != "panic":
        what = f"{subject} in your terminal reports {message or exception}"
    elif language == "test":
        what = f"{subject} in your terminal failed with {exception} {message}".rstrip()
    else:
        verb = "panicked:" if exception == "panic" else f"raised {exception}"
        what = f"{subject} in your terminal {verb} {message}".rstrip()
    where = ""
    if file:
        where = f" in {file} line {line}" if line else f" in {file}"
        if function and function not in ("<module>", "main") and language == "python":
            where += f", in {function}"
    tail = f", which you changed {ago_words(changed_ago)}" if changed_ago is not None else ""
    words = (what + where + tail).split()
    return " ".join(words[:25])
