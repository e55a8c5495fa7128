"""What FileWatch remembers of a file, and how two versions of it become a FileChanged."""

from __future__ import annotations

import difflib
import hashlib
import os
import stat
import zlib
from dataclasses import dataclass

from companion.core.events import FileChanged, FileChangeKind

DEFAULT_SIZE_CAP = 256 * 1024
_SNIFF_BYTES = 8192
# Counting lines of a file over the cap still reads it; past this we report the size alone.
_LINE_COUNT_LIMIT = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class FileContent:
    """One version of a file: its text when it is small text, else only what a note needs.

    Text is kept zlib-compressed: a 20,000-file repository's snapshot then costs tens of MB, not
    hundreds, and a file is only decompressed when it changes.
    """

    size: int
    packed: bytes | None = None  # compressed bytes of a small text file; None for the others
    binary: bool = False
    over_cap: bool = False
    lines: int | None = None  # known for text, and for over-cap files read at change time
    encoding: str = "utf-8"  # "latin-1" when the bytes were not valid UTF-8
    error: str = ""  # why it could not be read (permission denied, ...)
    # tells versions apart when no text is kept: a digest of small files, mtime of over-cap ones
    fingerprint: bytes | int = b""

    @classmethod
    def of_text(cls, text: str, encoding: str = "utf-8") -> FileContent:
        data = text.encode(encoding)
        return cls(
            size=len(data), packed=zlib.compress(data, 1), lines=text.count("\n"), encoding=encoding
        )

    @property
    def text(self) -> str | None:
        return None if self.packed is None else zlib.decompress(self.packed).decode(self.encoding)

    def same_as(self, other: FileContent) -> bool:
        """Equal content as far as we can tell (an over-cap file's line count may be unknown)."""
        if self.over_cap and other.over_cap:
            return (self.size, self.fingerprint) == (other.size, other.fingerprint)
        return self == other


def read_content(
    path: str, size_cap: int = DEFAULT_SIZE_CAP, *, count_lines: bool = True
) -> FileContent | None:
    """Read a regular file (not following symlinks); None when it is gone or not a regular file."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    try:
        with open(path, "rb") as f:
            if st.st_size > size_cap:
                head = f.read(_SNIFF_BYTES)
                binary = b"\0" in head
                lines = None
                if count_lines and not binary and st.st_size <= _LINE_COUNT_LIMIT:
                    blocks = iter(lambda: f.read(1 << 20), b"")
                    lines = head.count(b"\n") + sum(block.count(b"\n") for block in blocks)
                return FileContent(
                    size=st.st_size,
                    binary=binary,
                    over_cap=True,
                    lines=lines,
                    fingerprint=st.st_mtime_ns,
                )
            data = f.read()
    except OSError as exc:
        return FileContent(size=st.st_size, error=exc.strerror or str(exc))
    if b"\0" in data[:_SNIFF_BYTES]:
        return FileContent(
            size=len(data), binary=True, fingerprint=hashlib.blake2b(data, digest_size=16).digest()
        )
    try:
        data.decode("utf-8")
        encoding = "utf-8"
    except UnicodeDecodeError:
        # latin-1 maps every byte, so nothing is lost and the diff still shows the edit
        encoding = "latin-1"
    return FileContent(
        size=len(data), packed=zlib.compress(data, 1), lines=data.count(b"\n"), encoding=encoding
    )


def describe_change(
    t: float,
    path: str,
    old: FileContent | None,
    new: FileContent | None,
    *,
    old_path: str | None = None,
    unknown_old: bool = False,
    size_cap: int = DEFAULT_SIZE_CAP,
) -> FileChanged | None:
    """The FileChanged for going from `old` to `new` (None = absent), or None when nothing changed.

    `unknown_old` means the earlier content was never seen (a change during the initial scan).
    """
    if old is None and new is None:
        return None
    if old_path is not None:
        kind: FileChangeKind = "moved"
    elif old is None and not unknown_old:
        kind = "created"
    elif new is None:
        kind = "deleted"
    else:
        kind = "modified"
    if kind == "modified" and old is not None and new is not None and old.same_as(new):
        return None
    notes: list[str] = []
    for version in (old, new):
        if version is not None and version.encoding != "utf-8" and version.packed is not None:
            notes.append(f"not UTF-8: decoded as {version.encoding}")
            break
    for version in (new, old):
        if version is not None and version.error:
            notes.append(f"unreadable: {version.error}")
            break
    if unknown_old:
        notes.append("changed during the initial scan: no earlier content, diffed from empty")
    diff = ""
    size = (new or old).size  # type: ignore[union-attr]
    if any(v is not None and v.binary for v in (old, new)):
        notes.append(f"binary file {'deleted' if new is None else 'changed'} ({size} bytes)")
    elif any(v is not None and v.over_cap for v in (old, new)):
        notes.append(_over_cap_note(old, new, size_cap))
    elif not any(v is not None and v.error for v in (old, new)):
        diff = unified_diff(
            old.text if old else "",
            new.text if new else "",
            None if old is None and not unknown_old else (old_path or path),
            None if new is None else path,
        )
    return FileChanged(
        t=t, path=path, kind=kind, diff=diff, note="; ".join(notes), old_path=old_path
    )


def _over_cap_note(old: FileContent | None, new: FileContent | None, size_cap: int) -> str:
    def lines(v: FileContent | None) -> str:
        if v is None:
            return "absent"
        return f"{v.lines} lines" if v.lines is not None else f"{v.size} bytes"

    subject = new if new is not None else old
    verb = "deleted" if new is None else "changed"
    head = f"file over the {size_cap // 1024} KB cap {verb} ({subject.size} bytes): no diff"  # type: ignore[union-attr]
    return f"{head}; {lines(old)} before, {lines(new)} after"


def unified_diff(old: str, new: str, old_name: str | None, new_name: str | None) -> str:
    """A git-style unified diff; None names mean /dev/null (file created or deleted)."""
    a = old.splitlines(keepends=True)
    b = new.splitlines(keepends=True)
    out: list[str] = []
    for line in difflib.unified_diff(
        a,
        b,
        "/dev/null" if old_name is None else f"a/{old_name}",
        "/dev/null" if new_name is None else f"b/{new_name}",
        n=3,
    ):
        if line.startswith(("---", "+++")):
            out.append(line.rstrip("\n") + "\n")
        elif line.endswith("\n"):
            out.append(line)
        else:
            out.append(line + "\n\\ No newline at end of file\n")
    return "".join(out)
