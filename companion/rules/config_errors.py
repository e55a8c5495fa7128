"""Config-file problems that name the file, line and key, and suggest the closest valid key."""

from __future__ import annotations

import difflib
import errno
import os
import re
import stat
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_TOML_HINTS = {  # tomllib's wording → what the user most likely did
    "Illegal character '\\n'": "a string is not closed: add the closing quote",
    "Invalid value": 'text values need quotes, e.g. cooldown = "2m"',
    "Unclosed array": "an array is missing its closing ]",
    "Expected newline or end of document": 'text values need quotes, e.g. cooldown = "2m"',
}


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One thing wrong in one config file, located as precisely as the source allows."""

    path: str
    line: int
    key: str  # dotted key path, e.g. "gates.quiet_hours" or "rule[2].paths"; "" for syntax errors
    message: str
    column: int = 0  # known only for syntax errors

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" + (f":{self.column}" if self.column else "")
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ConfigError(Exception):
    """A config file that cannot be used; `problems` lists everything found in it."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def closest(word: str, choices: Iterable[str]) -> str:
    """' did you mean "x"?' for the nearest choice, or '' when nothing is near."""
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f'; did you mean "{match[0]}"?' if match else ""


MAX_FILE_BYTES = 1024 * 1024  # a rules file is a page of text; more is a wrong path
MAX_NESTING = 64  # arrays and inline tables; tomllib recurses and would hit Python's limit


def unusable_file(path: Path) -> str | None:
    """Why `path` cannot be a config file (a directory, a symlink loop, a device), or None when
    it is a regular file or does not exist at all (then the defaults apply)."""
    try:
        info = path.stat()
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "is a symlink loop (the link points back to itself); point it at a file"
        if error.errno in (errno.ENOENT, errno.ENOTDIR):
            return "is a broken symlink (its target does not exist)" if path.is_symlink() else None
        return f"cannot be read: {error.strerror}"
    if stat.S_ISDIR(info.st_mode):
        return "is a directory, not a file; give the path of the .toml file inside it"
    if not stat.S_ISREG(info.st_mode):
        return "is not a regular file (a pipe, socket or device); give a .toml file"
    if info.st_size > MAX_FILE_BYTES:
        return f"is {info.st_size} bytes, over the {MAX_FILE_BYTES // 1024} KB a rules file may be"
    return None


def _nesting_problem(path: Path, source: str) -> ConfigProblem | None:
    """Arrays or inline tables nested deeper than MAX_NESTING, found before tomllib recurses."""
    depth, line, in_string = 0, 1, ""
    for char in source:
        if char == "\n":
            line += 1
            if in_string in ("'", '"'):
                in_string = ""
        elif in_string:
            in_string = "" if char == in_string else in_string
        elif char in "'\"":
            in_string = char
        elif char == "#":
            in_string = "\n"  # a comment runs to the line's end
        elif char in "[{":
            depth += 1
            if depth > MAX_NESTING:
                return ConfigProblem(str(path), line, _key_at(source, line), f"arrays or inline "
                                     f"tables nested more than {MAX_NESTING} levels deep; "
                                     "flatten them")
        elif char in "]}":
            depth = max(0, depth - 1)
    return None


def _key_at(source: str, line: int) -> str:
    """The dotted key assigned on `line` (1-based), under the table header above it, or ''."""
    lines = source.splitlines()
    if not 0 < line <= len(lines):
        return ""
    found = re.match(r"^\s*([\w.\"'-]+)\s*=", lines[line - 1])
    if not found:
        return ""
    key = found.group(1).replace('"', "").replace("'", "")
    header = next((m.group(1) for text in reversed(lines[: line - 1])
                   if (m := re.match(r"^\s*\[+\s*([\w.-]+)\s*\]+", text))), "")
    return f"{header}.{key}" if header else key


def _long_number_line(source: str) -> int:
    found = re.search(r"\d{4000,}", source)
    return source.count("\n", 0, found.start()) + 1 if found else 1


def read_toml(path: Path) -> tuple[dict[str, Any], str]:
    """Parse a TOML file; every way it can fail becomes a ConfigError naming file and line."""
    why = unusable_file(path)
    if why is not None:
        raise ConfigError([ConfigProblem(str(path), 1, "", why)])
    try:
        # O_NONBLOCK: a path that turned into a pipe since the check must not hang the reader
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as file:
            raw = file.read(MAX_FILE_BYTES + 1)
        source = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        problem = ConfigProblem(str(path), 1, "", f"not UTF-8 text ({error.reason})")
        raise ConfigError([problem]) from None
    except OSError as error:
        problem = ConfigProblem(str(path), 1, "", f"cannot read: {error.strerror}")
        raise ConfigError([problem]) from None
    if source.startswith("\ufeff"):
        problem = ConfigProblem(str(path), 1, "", "starts with a UTF-8 byte order mark (BOM), "
                                "which TOML does not allow; save the file as UTF-8 without BOM")
        raise ConfigError([problem])
    deep = _nesting_problem(path, source)
    if deep is not None:
        raise ConfigError([deep])
    try:
        return tomllib.loads(source), source
    except tomllib.TOMLDecodeError as error:
        text = str(error)
        found = _TOML_POSITION.search(text)
        line = int(found.group(1)) if found else 1
        detail = _TOML_POSITION.sub("", text)
        hint = next((h for start, h in _TOML_HINTS.items() if detail.startswith(start)), "")
        detail += f" ({hint})" if hint else ""
        column = int(found.group(2)) if found else 0
        problem = ConfigProblem(str(path), line, "", f"not valid TOML: {detail}", column)
        raise ConfigError([problem]) from None
    except ValueError:  # Python refuses to convert an integer of more than 4300 digits
        line = _long_number_line(source)
        problem = ConfigProblem(str(path), line, _key_at(source, line),
                                "a number has thousands of digits; no setting takes one that big")
        raise ConfigError([problem]) from None
    except RecursionError:  # nesting our pre-check did not see (e.g. inside a multi-line string)
        problem = ConfigProblem(str(path), 1, "", "nested too deeply to read; flatten it")
        raise ConfigError([problem]) from None


def _section_bounds(lines: list[str], table: str, index: int | None) -> tuple[int, int]:
    """The [start, end) line span of `[table]`, or of the index-th `[[table]]` (0-based)."""
    header = re.compile(r"^\s*\[\[\s*" + re.escape(table) + r"\s*\]\]" if index is not None
                        else r"^\s*\[\s*" + re.escape(table) + r"\s*\]")
    any_header = re.compile(r"^\s*\[")
    seen = -1
    for number, text in enumerate(lines):
        if header.match(text):
            seen += 1
            if index is None or seen == index:
                end = next((n for n in range(number + 1, len(lines)) if any_header.match(lines[n])),
                           len(lines))
                return number, end
    return -1, -1


def locate(source: str, table: str | None, index: int | None, key: str | None) -> int:
    """1-based line of `key` in `[table]` or the index-th `[[table]]`, found by scanning the text.

    tomllib keeps no positions, so schema errors are placed by searching for the header and then
    for `key =` below it; when the key is written in another form the header line is the answer.
    """
    lines = source.splitlines()
    start, end = (0, len(lines)) if table is None else _section_bounds(lines, table, index)
    if start < 0:
        # Dotted or inline form (`gates.cooldown = ...`, `gates = {...}`): find the table name.
        dotted = re.compile(r"^\s*" + re.escape(table or "") + r"\s*[.=]")
        return next((n + 1 for n, text in enumerate(lines) if dotted.match(text)), 1)
    if key is None:
        return start + 1
    assignment = re.compile(r"^\s*[\"']?" + re.escape(key) + r"[\"']?\s*=")
    top_end = end if table is not None else next(
        (n for n, text in enumerate(lines) if text.lstrip().startswith("[")), len(lines))
    for number in range(start, top_end):
        if assignment.match(lines[number]):
            return number + 1
    return start + 1
