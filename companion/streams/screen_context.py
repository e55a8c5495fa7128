"""What the user is looking at, as one short line: the file from an editor's title, the function near the text.

Pure. The model gets this as `<|see|>app.py: def parse_user` so "what does this function do?"
has a referent.
"""

from __future__ import annotations

import re

# a file name in a window title: "app.py - Visual Studio Code", "vim app.py", "* app.py (~/proj) - gedit"
_TITLE_FILE = re.compile(r"(?P<name>[\w.-]+\.[A-Za-z][\w]{0,5})\b")
_DEFINITION = re.compile(
    r"^\s*(?:async\s+)?(?:def|class|fn|func|function|pub\s+fn|impl)\s+(?P<name>[A-Za-z_][\w]*)")
_MAX = 80


def file_from_title(title: str) -> str:
    """The file name an editor shows in its title bar, or ""."""
    for m in _TITLE_FILE.finditer(title):
        name = m["name"]
        if not re.fullmatch(r"[\d.]+", name):  # "v1.2" is a version, not a file
            return name
    return ""


def definition_near(text: str, line: int | None = None) -> str:
    """The definition at or above `line` (default: the last line) in `text`, as written:
    "def parse_user", "fn main", "class Cache"; "" if none is visible."""
    lines = text.splitlines()
    stop = len(lines) if line is None else min(len(lines), line + 1)
    for raw in reversed(lines[:stop]):
        m = _DEFINITION.match(raw)
        if m:
            keyword = raw.strip().split()[0]
            keyword = "def" if keyword == "async" else keyword
            keyword = "fn" if keyword == "pub" else keyword
            return f"{keyword} {m['name']}"
    return ""


def context_line(window: str, text: str) -> str:
    """`app.py: def main`, `app.py`, `def main` or "" — short, for the model's `<|see|>` line."""
    parts = [p for p in (file_from_title(window), definition_near(text)) if p]
    return ": ".join(parts)[:_MAX]
