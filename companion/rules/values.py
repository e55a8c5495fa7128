"""Parsers for the rules file's value kinds: durations, time ranges, globs, regions, choices."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from datetime import time
from typing import Any

import pathspec

from companion.rules.config_errors import closest

Parser = Callable[[Any], Any]

_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
MAX_DURATION_S = 7 * 24 * 3600  # a week: longer is a typo, and huge numbers overflow timers
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def _describe(value: Any) -> str:
    kinds = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
             list: "an array", dict: "a table"}
    shown = f'"{value}"' if isinstance(value, str) else repr(value)
    if isinstance(value, (list, dict)):
        shown = ""
    return f"{kinds.get(type(value), type(value).__name__)} {shown}".rstrip()


def wrong_type(expected: str, value: Any) -> ValueError:
    return ValueError(f"expected {expected}, got {_describe(value)}")


@dataclass(frozen=True, slots=True)
class TimeRange:
    """A daily span on the 24-hour clock; `end` before `start` means it runs over midnight."""

    start: time
    end: time

    def contains(self, moment: time) -> bool:
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise wrong_type("a boolean (true or false)", value)
    return value


def integer(low: int, high: int) -> Parser:
    def parse(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong_type("an integer", value)
        if not low <= value <= high:
            raise ValueError(f"{value} is out of range: use {low} to {high}")
        return value
    return parse


def number(low: float, high: float) -> Parser:
    def parse(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong_type("a number", value)
        if not low < value <= high:
            raise ValueError(f"{value} is out of range: use more than {low:g}, at most {high:g}")
        return float(value)
    return parse


def string(value: Any) -> str:
    if not isinstance(value, str):
        raise wrong_type("a string", value)
    return value


def text(value: Any) -> str:
    if not string(value).strip():
        raise ValueError("must not be empty")
    return value


def strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise wrong_type("an array of strings", value)
    return tuple(string(item) for item in value)


def duration(value: Any) -> float:
    """'90s', '15m', '2h', '1h30m' → seconds."""
    if not isinstance(value, str):
        raise wrong_type('a duration string such as "15m"', value)
    found = _DURATION.match(value.strip())
    if not value.strip() or not found:
        raise ValueError(f'bad duration "{value}": write a number and a unit h, m or s, '
                         'e.g. "90s", "15m", "2h", "1h30m"')
    if any(part and len(part) > 9 for part in found.groups()):
        raise ValueError(f'bad duration "{value[:20]}…": the number is too long (at most a week)')
    hours, minutes, seconds = (int(part or 0) for part in found.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total > MAX_DURATION_S:
        raise ValueError(f'duration "{value}" is over a week; use at most "168h"')
    return float(total)


def positive_duration(value: Any) -> float:
    """A duration that must be more than zero (a timeout)."""
    seconds = duration(value)
    if seconds <= 0:
        raise ValueError(f'duration "{value}" must be more than zero, e.g. "5m"')
    return seconds


def command(value: Any) -> str:
    """A shell-style command line the agent splits into argv (quotes must close)."""
    line = text(value)
    try:
        argv = shlex.split(line)
    except ValueError as error:  # "No closing quotation", "No escaped character"
        raise ValueError(f"cannot split command {line!r} into arguments: "
                         f"{str(error).lower()}; close the quote or escape it") from None
    if not argv or not all(argv):
        raise ValueError(f"command {line!r} has an empty argument ('' or \"\"); remove it")
    return value


def _clock(value: str, whole: str) -> time:
    found = _CLOCK.match(value.strip())
    if not found:
        raise ValueError(f'bad time range "{whole}": write HH:MM-HH:MM on the 24-hour clock, '
                         'e.g. "22:00-07:00"')
    return time(int(found.group(1)), int(found.group(2)))


def time_range(value: Any) -> TimeRange:
    if not isinstance(value, str):
        raise wrong_type('a time range string such as "22:00-07:00"', value)
    start, sep, end = value.partition("-")
    if not sep:
        _clock("", value)
    span = TimeRange(_clock(start, value), _clock(end, value))
    if span.start == span.end:
        raise ValueError(f'bad time range "{value}": start and end are the same time')
    return span


def time_ranges(value: Any) -> tuple[TimeRange, ...]:
    """One range or an array of them."""
    if isinstance(value, str):
        return (time_range(value),)
    if not isinstance(value, list):
        raise wrong_type('a time range such as "22:00-07:00" or an array of them', value)
    return tuple(time_range(item) for item in value)


def glob(value: Any) -> str:
    """A gitignore-style glob relative to the repository root ('src/**/*.py')."""
    pattern = string(value)
    problem = ""
    if not pattern.strip():
        problem = "it is empty"
    elif pattern.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", pattern):
        problem = "globs are relative to the repository root; drop the leading '/'"
    elif "\\" in pattern:
        problem = "use '/' between folders, not '\\'"
    elif "***" in pattern:
        problem = "'***' means nothing; use '**' for any folders"
    elif pattern.count("[") != pattern.count("]"):
        problem = "a '[' has no matching ']'"
    elif "{" in pattern or "}" in pattern:
        problem = "'{a,b}' alternatives are not supported; list each glob separately"
    else:
        try:  # compile it as the agent will: a bad range such as [z-a] fails only here
            pathspec.PathSpec.from_lines("gitignore", [pattern])
        except (ValueError, re.error) as error:
            problem = str(error)
    if problem:
        raise ValueError(f'bad glob "{pattern}": {problem}')
    return pattern


def globs(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        raise wrong_type(f'an array of globs such as ["{value}"]', value)
    if not isinstance(value, list):
        raise wrong_type("an array of globs", value)
    return tuple(glob(item) for item in value)


def some_globs(value: Any) -> tuple[str, ...]:
    """At least one glob (an on-save trigger with none would never run)."""
    found = globs(value)
    if not found:
        raise ValueError('needs at least one glob, e.g. ["src/**/*.py"]')
    return found


def choice(options: tuple[str, ...], what: str = "value") -> Parser:
    def parse(value: Any) -> str:
        string(value)
        if value not in options:
            raise ValueError(f'unknown {what} "{value}"{closest(value, options)} '
                             f"(one of: {', '.join(options)})")
        return value
    return parse


def choices(options: tuple[str, ...], what: str) -> Parser:
    single = choice(options, what)

    def parse(value: Any) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise wrong_type(f"an array of {what}s, e.g. [\"{options[0]}\"]", value)
        return tuple(single(item) for item in value)
    return parse


def region(value: Any) -> tuple[int, int, int, int]:
    """[x, y, width, height] in screen pixels."""
    if not isinstance(value, list) or len(value) != 4 or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise wrong_type("[x, y, width, height] as four integers", value)
    x, y, width, height = value
    if x < 0 or y < 0 or width <= 0 or height <= 0:
        raise ValueError(f"bad region {value}: x and y must be >= 0, width and height > 0")
    return (x, y, width, height)


def regions(value: Any) -> tuple[tuple[int, int, int, int], ...]:
    if not isinstance(value, list):
        raise wrong_type("an array of [x, y, width, height] regions", value)
    return tuple(region(item) for item in value)


def server(value: Any) -> str:
    address = string(value)
    if address != "embedded" and not re.match(r"^https?://[^/\s]+", address):
        raise ValueError(f'bad server "{address}": use "embedded" or a URL such as '
                         '"http://gpu-box:30000"')
    return address
