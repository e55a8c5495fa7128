"""Config-file problems that name the file, line and key, and suggest the closest valid key."""

from __future__ import annotations

import difflib
import re
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


def read_toml(path: Path) -> tuple[dict[str, Any], str]:
    """Parse a TOML file; syntax errors become a ConfigError with the line tomllib reports."""
    try:
        source = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        problem = ConfigProblem(str(path), 1, "", f"not UTF-8 text ({error.reason})")
        raise ConfigError([problem]) from None
    except OSError as error:
        problem = ConfigProblem(str(path), 1, "", f"cannot read: {error.strerror}")
        raise ConfigError([problem]) from None
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
