"""Theme loading: the TOML theme files in themes/, Textual's themes, and users' own in the config dir.

A theme file holds `name`, `dark` and colours (`primary`, `surface`, ...) plus an optional
`[variables]` table of extra Textual CSS variables. The same loader reads ours and the user's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.color import Color, ColorParseError
from textual.theme import BUILTIN_THEMES, Theme

import themes
from companion.rules.config_errors import ConfigError, ConfigProblem, closest, locate, read_toml

DEFAULT_THEME = "companion-dark"
BUILTIN_DIR = themes.DIRECTORY
COLOURS = ("primary", "secondary", "accent", "warning", "error", "success", "foreground",
           "background", "surface", "panel", "boost")
KEYS = ("name", "dark", "luminosity_spread", "text_alpha", "variables") + COLOURS


@dataclass(frozen=True, slots=True)
class ThemeSet:
    """Every theme that can be chosen, and the problems of user theme files that were skipped."""

    themes: dict[str, Theme]
    problems: tuple[str, ...] = ()

    def names(self) -> tuple[str, ...]:
        return tuple(self.themes)


def _colour(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a colour string such as \"#5fa8d3\", got {value!r}")
    try:
        Color.parse(value)
    except ColorParseError:
        raise ValueError(f'"{value}" is not a colour (use "#rrggbb", "rgb(r,g,b)" or a name)') \
            from None
    return value


def _fraction(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"expected a number from 0 to 1, got {value!r}")
    return float(value)


def load_theme_file(path: Path) -> Theme:
    """Read one theme file; raise ConfigError naming file, line and key when it is not usable."""
    doc, source = read_toml(path)
    problems: list[ConfigProblem] = []
    fields: dict[str, Any] = {}

    def fail(key: str, message: str) -> None:
        problems.append(ConfigProblem(str(path), locate(source, None, None, key), key, message))

    for key, value in doc.items():
        try:
            if key in COLOURS:
                fields[key] = _colour(value)
            elif key in ("luminosity_spread", "text_alpha"):
                fields[key] = _fraction(value)
            elif key == "dark":
                if not isinstance(value, bool):
                    raise ValueError(f"expected true or false, got {value!r}")
                fields[key] = value
            elif key == "name":
                if not isinstance(value, str) or not value.strip():
                    raise ValueError("expected a non-empty string")
                fields[key] = value
            elif key == "variables":
                if not isinstance(value, dict) or not all(
                        isinstance(item, str) for item in value.values()):
                    raise ValueError("expected a table of CSS variable names to string values")
                fields[key] = dict(value)
            else:
                fail(key, f"unknown key{closest(key, KEYS)} (valid keys: {', '.join(KEYS)})")
        except ValueError as error:
            fail(key, str(error))
    for required in ("name", "primary"):
        if required not in doc:
            problems.append(ConfigProblem(str(path), 1, required, "missing (required)"))
    if problems:
        raise ConfigError(problems)
    return Theme(**fields)


def load_themes(config_dir: Path | None) -> ThemeSet:
    """Ours, Textual's, then user themes from `config_dir/themes/*.toml` (broken ones skipped)."""
    found: dict[str, Theme] = {}
    for path in sorted(BUILTIN_DIR.glob("*.toml")):
        theme = load_theme_file(path)
        found[theme.name] = theme
    found.update({name: theme for name, theme in BUILTIN_THEMES.items() if name not in found})
    problems: list[str] = []
    user_dir = config_dir / "themes" if config_dir else None
    if user_dir is not None and user_dir.is_dir():
        for path in sorted(user_dir.glob("*.toml")):
            try:
                theme = load_theme_file(path)
            except ConfigError as error:
                problems.append(f"{error}\n(theme skipped; the default theme stays available)")
                continue
            found[theme.name] = theme
    return ThemeSet(found, tuple(problems))


def resolve(name: str | None, available: ThemeSet) -> tuple[str, str]:
    """The theme to use for `name` and, when it does not exist, why the default is used instead."""
    if not name:
        return DEFAULT_THEME, ""
    if name in available.themes:
        return name, ""
    hint = closest(name, available.names())
    return DEFAULT_THEME, f'unknown theme "{name}"{hint}; using {DEFAULT_THEME}'
