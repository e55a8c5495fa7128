"""The schema of the rules file: every table, key, kind and default, and the check against it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from companion.rules import values as v
from companion.rules.config_errors import ConfigProblem, closest, locate
from companion.rules.values import TimeRange

SEVERITIES = ("info", "warning", "error")
TEST_SCOPES = ("affected", "all", "none")
LINT_TOOLS = ("ruff", "mypy")
SCREEN_READ = ("errors", "all", "off")  # what OCR may pass on: errors + context line, all text, nothing


@dataclass(frozen=True, slots=True)
class Rule:
    """A natural-language instruction for the model; durations are seconds."""

    name: str
    text: str
    paths: tuple[str, ...] = ()
    severity: str = "warning"
    cooldown: float | None = None  # None: the [gates] cooldown
    source: str = ""


@dataclass(frozen=True, slots=True)
class OnSave:
    """What the background agent runs when a file matching `paths` is saved."""

    paths: tuple[str, ...]
    tests: str = "affected"
    lint: tuple[str, ...] = ()
    source: str = ""


@dataclass(frozen=True, slots=True)
class Gates:
    """The user's preferences on what may be said. Turn-taking is the model's job: the two
    turn-taking rules (hold while the user speaks, a rate cap) are opt-in, off by default."""

    never_while_user_speaks: bool = False
    quiet_hours: tuple[TimeRange, ...] = ()
    snooze: float = 15 * 60.0
    cooldown: float = 120.0
    min_severity: str = "info"
    max_per_10min: int | None = None  # None: no cap


@dataclass(frozen=True, slots=True)
class TestsConfig:
    __test__ = False  # not a pytest test class
    command: str = "pytest"
    timeout: float = 300.0


@dataclass(frozen=True, slots=True)
class ScreenConfig:
    fps: float = 2.0
    monitor: int = 1
    region: tuple[int, int, int, int] | None = None
    exclude_regions: tuple[tuple[int, int, int, int], ...] = ()
    exclude_windows: tuple[str, ...] = ()
    read: str = "errors"


@dataclass(frozen=True, slots=True)
class VoiceConfig:
    voice: str = "en"
    rate: int = 175
    mute: bool = False


@dataclass(frozen=True, slots=True)
class ModelConfig:
    server: str = "embedded"
    name: str = ""  # "": the server's default model


@dataclass(frozen=True, slots=True)
class ReasoningConfig:
    """A bigger model behind an OpenAI-compatible /v1/chat/completions, asked "why?" on demand."""

    enabled: bool = False
    endpoint: str = ""  # base URL, e.g. "http://gpu-box:30000/v1"
    model: str = ""
    api_key_env: str = ""  # the environment variable holding the key ("": no key sent)
    timeout: float = 60.0


@dataclass(frozen=True, slots=True)
class UiConfig:
    theme: str = "companion-dark"


@dataclass(frozen=True, slots=True)
class Rules:
    """The effective rules: the repository file merged over the user file."""

    rules: tuple[Rule, ...] = ()
    on_save: tuple[OnSave, ...] = ()
    gates: Gates = field(default_factory=Gates)
    tests: TestsConfig = field(default_factory=TestsConfig)
    screen: ScreenConfig = field(default_factory=ScreenConfig)
    voice: VoiceConfig = field(default_factory=VoiceConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    ui: UiConfig = field(default_factory=UiConfig)
    reasoning: ReasoningConfig = field(default_factory=ReasoningConfig)
    sources: tuple[str, ...] = ()


Schema = dict[str, Callable[[Any], Any]]

TABLES: dict[str, tuple[type, Schema]] = {
    "gates": (Gates, {
        "never_while_user_speaks": v.boolean, "quiet_hours": v.time_ranges, "snooze": v.duration,
        "cooldown": v.duration, "min_severity": v.choice(SEVERITIES, "severity"),
        "max_per_10min": v.integer(0, 600)}),
    "tests": (TestsConfig, {"command": v.command, "timeout": v.positive_duration}),
    "screen": (ScreenConfig, {
        "fps": v.number(0, 30), "monitor": v.integer(0, 16), "region": v.region,
        "exclude_regions": v.regions, "exclude_windows": v.strings,
        "read": v.choice(SCREEN_READ, "screen read mode")}),
    "voice": (VoiceConfig, {"voice": v.text, "rate": v.integer(60, 500), "mute": v.boolean}),
    "model": (ModelConfig, {"server": v.server, "name": v.string}),
    "ui": (UiConfig, {"theme": v.text}),  # checked against the known themes in `check`
    "reasoning": (ReasoningConfig, {"enabled": v.boolean, "endpoint": v.string,
                                    "model": v.string, "api_key_env": v.string,
                                    "timeout": v.duration}),
}
ARRAYS: dict[str, tuple[type, Schema, tuple[str, ...]]] = {
    "rule": (Rule, {"name": v.text, "text": v.text, "paths": v.globs,
                    "severity": v.choice(SEVERITIES, "severity"), "cooldown": v.duration},
             ("name", "text")),
    "on_save": (OnSave, {"paths": v.some_globs, "tests": v.choice(TEST_SCOPES, "test scope"),
                         "lint": v.choices(LINT_TOOLS, "tool")}, ("paths",)),
}
TOP_LEVEL = tuple(TABLES) + tuple(ARRAYS)


def check(doc: dict[str, Any], source: str, path: str,
          theme_names: tuple[str, ...]) -> tuple[dict[str, Any], list[ConfigProblem]]:
    """Validate one parsed file; return its values (parsed, by table) and every problem found."""
    problems: list[ConfigProblem] = []
    parsed: dict[str, Any] = {}

    def problem(table: str | None, index: int | None, key: str | None, label: str, msg: str):
        problems.append(ConfigProblem(path, locate(source, table, index, key), label, msg))

    def check_table(table: str, index: int | None, values: Any, schema: Schema) -> dict[str, Any]:
        label = table if index is None else f"{table}[{index + 1}]"
        if not isinstance(values, dict):
            shape = f"[{table}]" if index is None else f"[[{table}]]"
            got = v._describe(values)
            problem(table, None, None, label, f"expected a table {shape}, got {got}")
            return {}
        out: dict[str, Any] = {}
        for key, value in values.items():
            if key not in schema:
                problem(table, index, key, f"{label}.{key}",
                        f"unknown key{closest(key, schema)} (valid keys: {', '.join(schema)})")
                continue
            try:
                out[key] = schema[key](value)
            except ValueError as error:
                problem(table, index, key, f"{label}.{key}", str(error))
        return out

    for name, value in doc.items():
        if name in TABLES:
            parsed[name] = check_table(name, None, value, TABLES[name][1])
        elif name in ARRAYS:
            _, schema, required = ARRAYS[name]
            if not isinstance(value, list):
                problem(name, None, None, name,
                        f"expected an array of tables written [[{name}]], got {v._describe(value)}")
                continue
            items = []
            for index, item in enumerate(value):
                values = check_table(name, index, item, schema)
                missing = [key for key in required if isinstance(item, dict) and key not in item]
                for key in missing:
                    problem(name, index, None, f"{name}[{index + 1}].{key}", "missing (required)")
                if isinstance(item, dict) and values.keys() >= set(required):
                    items.append(values)
            parsed[name] = items
        else:
            problem(None, None, name, name,
                    f"unknown key{closest(name, TOP_LEVEL)} (valid tables: {', '.join(TOP_LEVEL)})")
    theme = parsed.get("ui", {}).get("theme")
    if theme is not None and theme not in theme_names:
        parsed["ui"].pop("theme")
        problem("ui", None, "theme", "ui.theme", f'unknown theme "{theme}"'
                f"{closest(theme, theme_names)} (known: {', '.join(theme_names)})")
    return parsed, problems


def build(layers: list[tuple[str, dict[str, Any]]]) -> Rules:
    """Merge checked files, later layers over earlier ones: tables key by key, rules by name."""
    tables: dict[str, dict[str, Any]] = {name: {} for name in TABLES}
    rules: dict[str, Rule] = {}
    on_save: list[OnSave] = []
    for path, parsed in layers:
        for name in TABLES:
            tables[name].update(parsed.get(name, {}))
        for values in parsed.get("rule", []):
            rules.pop(values["name"], None)  # a repository rule replaces a user rule of that name
            rules[values["name"]] = Rule(**values, source=path)
        on_save.extend(OnSave(**values, source=path) for values in parsed.get("on_save", []))
    made = {name: TABLES[name][0](**values) for name, values in tables.items()}
    return Rules(rules=tuple(rules.values()), on_save=tuple(on_save),
                 sources=tuple(path for path, _ in layers), **made)
