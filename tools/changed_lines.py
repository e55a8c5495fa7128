"""ChangeLog: the lines each file's recent saves changed, carried forward through later edits.

The agent feeds it every FileChanged diff (unified, as FileWatch writes them) and clears it after
a green test run, so it holds exactly "what you changed since the tests last passed". Each
changed line keeps the time of the save that last touched it; a later diff moves earlier lines
to where they are now (lines inserted above push them down, deleted ones drop out).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@", re.MULTILINE)


def diff_changes(diff: str) -> tuple[dict[int, int | None], set[int]]:
    """Parse one file's unified diff: a map old line → new line (None when deleted) for every old
    line inside a hunk, and the new line numbers that were added or sit beside a deletion."""
    moved: dict[int, int | None] = {}
    added: set[int] = set()
    old = new = 0
    in_hunk = False
    deleted_at: int | None = None  # new-side position of a run of "-" lines not yet replaced

    def settle_deletion() -> None:
        # a pure deletion changes what runs at the lines around where it was
        nonlocal deleted_at
        if deleted_at is not None:
            added.update(n for n in (deleted_at - 1, deleted_at) if n >= 1)
            deleted_at = None

    for raw in diff.splitlines():
        if m := _HUNK.match(raw):
            settle_deletion()
            old, new, in_hunk = int(m[1]), int(m[3]), True
            continue
        if not in_hunk or raw.startswith("\\"):
            continue
        tag = raw[:1]
        if tag == " ":
            settle_deletion()
            moved[old] = new
            old, new = old + 1, new + 1
        elif tag == "-":
            moved[old] = None
            deleted_at = new if deleted_at is None else deleted_at
            old += 1
        elif tag == "+":
            deleted_at = None  # a replacement: the new lines are the change
            added.add(new)
            new += 1
        else:
            settle_deletion()
            in_hunk = False  # "---"/"+++" of a following file, or the end of the hunk
    settle_deletion()
    return moved, added


def _shift(line: int, moved: dict[int, int | None], diff: str) -> int | None:
    """Where an old line is after the diff: mapped inside hunks, offset outside them."""
    if line in moved:
        return moved[line]
    offset = 0
    for m in _HUNK.finditer(diff):
        old_start, old_len = int(m[1]), int(m[2] or 1)
        new_len = int(m[4] or 1)
        if old_start + old_len <= line:
            offset += new_len - old_len
    return line + offset


class ChangeLog:
    """Changed lines per file (repository-relative POSIX paths), each with the time it changed."""

    def __init__(self) -> None:
        self.files: dict[str, dict[int, float]] = {}

    def record(self, path: str, diff: str, t: float) -> None:
        """One save of `path` with its diff, made at time `t`."""
        if not diff:
            return
        moved, added = diff_changes(diff)
        before = self.files.get(path, {})
        now: dict[int, float] = {}
        for line, when in before.items():
            at = _shift(line, moved, diff)
            if at is not None:
                now[at] = when
        for line in added:
            now[line] = t
        if now:
            self.files[path] = now
        else:
            self.files.pop(path, None)

    def forget(self, path: str) -> None:
        self.files.pop(path, None)

    def clear(self) -> None:
        """The tests passed: nothing changed since then yet."""
        self.files.clear()

    def lines(self, path: str) -> dict[int, float]:
        return self.files.get(path, {})

    def snapshot(self, paths: Iterable[str] | None = None) -> dict[str, dict[int, float]]:
        chosen = self.files if paths is None else {p: self.files[p] for p in paths if p in self.files}
        return {path: dict(lines) for path, lines in chosen.items()}
