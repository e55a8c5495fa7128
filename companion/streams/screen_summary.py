"""A screen error's spoken summary: which repository file and line, and whether the user just changed it.

The line is found by the same localization as a failing test's (tools/localize.py): the
innermost traceback frame in the repository's non-test code on a line changed since the user's
recent saves (a `ChangeLog` fed by FileChanged events), else the deepest repository frame, else
the innermost repository frame at all (a traceback only through test files).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from companion.streams.screen_errors import Frame
from tools.changed_lines import ChangeLog
from tools.localize import localize


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


def pick_frame(frames: Sequence[Frame], repo: Path,
               changes: ChangeLog) -> tuple[Frame | None, str | None, float | None]:
    """The frame to name, its repository path (None when it is not in the repository) and when
    its line was changed (None when it was not), by `tools.localize.localize`."""
    if not frames:
        return None, None, None
    root = repo.resolve()
    paths = [repo_path(f.file, repo) for f in frames]
    in_repo = [(f, p) for f, p in zip(frames, paths) if p is not None]
    if not in_repo:
        return frames[-1], None, None
    record = {"frames": [{"path": str(root / p), "line": f.line, "function": f.function}
                         for f, p in in_repo]}
    last, last_path = in_repo[-1]
    spot = localize(root, record, test_file=last_path, test_line=last.line,
                    function=last.function, changes=changes.snapshot())
    frame = next((f for f, p in reversed(in_repo) if p == spot.file and f.line == spot.line), last)
    return frame, spot.file, spot.changed_at


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
