"""Scenarios as data: a TOML file per scenario (a repository template, a timeline, expected moments).

The format is documented in benchmarks/companion_bench/README.md. Loading validates everything up
front and names the file and the field on any mistake, so a bad scenario never half-runs.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.heldout import HELD_OUT_VOICES

ACTIONS = ("say", "save", "type", "wait")
KINDS = ("bug", "request", "question", "pause", "backchannel", "interrupt", "aside", "remind",
         "idle", "rule")
TURN_TAKING = ("question", "pause", "backchannel", "interrupt", "aside")
DEFAULT_VOICE = "flite:slt"


class ScenarioError(ValueError):
    """A scenario file is malformed; the message names the file and the field."""


@dataclass(frozen=True)
class Step:
    id: str
    at: float  # seconds after the companion is ready (or after the companion starts speaking)
    action: str
    text: str = ""
    voice: str = DEFAULT_VOICE
    pause: float = 0.0  # say: silence inserted at each " | " in the text
    path: str = ""
    content: str | None = None
    replace: tuple[tuple[str, str], ...] = ()
    when: str = ""  # "" (at the time) | "companion_speaks": `at` seconds after speech is heard
    within: float = 15.0  # how long to wait for the companion to speak before giving up


@dataclass(frozen=True)
class Expect:
    kind: str
    step: str = ""  # the step this moment is about
    test: str = ""
    function: str = ""
    line: int | None = None
    tool: str = ""
    args: dict = field(default_factory=dict)
    delay: float = 0.0  # remind: seconds after the end of the step's speech
    start: float = 0.0  # idle / rule windows, seconds after ready
    end: float = 0.0
    speak: bool = False  # rule: whether speaking in the window is right


@dataclass(frozen=True)
class Scenario:
    name: str
    path: Path
    description: str
    duration: float
    project: Path
    files: dict[str, str]
    rules: str | None
    steps: tuple[Step, ...]
    expects: tuple[Expect, ...]

    @property
    def labels(self) -> set[str]:
        return {e.kind for e in self.expects}

    @property
    def turn_taking(self) -> bool:
        return bool(self.labels & set(TURN_TAKING))


def parse_voice(spec: str) -> tuple[str, str]:
    engine, _, name = spec.partition(":")
    engine = {"espeak": "espeak-ng"}.get(engine, engine)
    return engine, name


def _get(table: dict, key: str, kind, where: str, default=...):
    if key not in table:
        if default is ...:
            raise ScenarioError(f"{where}: missing '{key}'")
        return default
    value = table[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind):
        raise ScenarioError(f"{where}: '{key}' must be {getattr(kind, '__name__', kind)}, got {value!r}")
    return value


def _step(raw: dict, i: int, where: str) -> Step:
    where = f"{where} step {i + 1}"
    action = _get(raw, "do", str, where)
    if action not in ACTIONS:
        raise ScenarioError(f"{where}: 'do' must be one of {', '.join(ACTIONS)}, got {action!r}")
    voice = _get(raw, "voice", str, where, DEFAULT_VOICE)
    if action == "say" and parse_voice(voice) not in HELD_OUT_VOICES:
        raise ScenarioError(f"{where}: voice {voice!r} is not held out (benchmarks/heldout.py); "
                            f"use one of {sorted(f'{e}:{n}' for e, n in HELD_OUT_VOICES)}")
    replace = tuple(tuple(p) for p in _get(raw, "replace", list, where, []))
    if any(len(p) != 2 or not all(isinstance(x, str) for x in p) for p in replace):
        raise ScenarioError(f"{where}: 'replace' is a list of [old, new] string pairs")
    step = Step(id=_get(raw, "id", str, where, f"s{i + 1}"), at=_get(raw, "at", float, where),
                action=action, text=_get(raw, "text", str, where, ""), voice=voice,
                pause=_get(raw, "pause", float, where, 0.0), path=_get(raw, "path", str, where, ""),
                content=_get(raw, "content", str, where, None), replace=replace,
                when=_get(raw, "when", str, where, ""), within=_get(raw, "within", float, where, 15.0))
    if action in ("say", "type") and not step.text.strip():
        raise ScenarioError(f"{where}: '{action}' needs 'text'")
    if action == "save" and (not step.path or (step.content is None and not step.replace)):
        raise ScenarioError(f"{where}: 'save' needs 'path' and 'content' or 'replace'")
    if step.when not in ("", "companion_speaks"):
        raise ScenarioError(f"{where}: 'when' must be 'companion_speaks' if given")
    return step


def _expect(raw: dict, i: int, where: str, steps: dict[str, Step]) -> Expect:
    where = f"{where} expect {i + 1}"
    kind = _get(raw, "kind", str, where)
    if kind not in KINDS:
        raise ScenarioError(f"{where}: 'kind' must be one of {', '.join(KINDS)}, got {kind!r}")
    step = _get(raw, "step", str, where, "")
    if kind not in ("idle", "rule") and step not in steps:
        raise ScenarioError(f"{where}: 'step' must name a step id ({', '.join(steps)}), got {step!r}")
    line = _get(raw, "line", int, where, None)
    expect = Expect(kind=kind, step=step, test=_get(raw, "test", str, where, ""),
                    function=_get(raw, "function", str, where, ""), line=line,
                    tool=_get(raw, "tool", str, where, ""), args=_get(raw, "args", dict, where, {}),
                    delay=_get(raw, "delay", float, where, 0.0), start=_get(raw, "start", float, where, 0.0),
                    end=_get(raw, "end", float, where, 0.0), speak=_get(raw, "speak", bool, where, False))
    if kind == "request" and not expect.tool:
        raise ScenarioError(f"{where}: a request needs the expected 'tool'")
    if kind == "remind" and expect.delay <= 0:
        raise ScenarioError(f"{where}: a reminder needs 'delay' (seconds)")
    if kind in ("idle", "rule") and expect.end <= expect.start:
        raise ScenarioError(f"{where}: '{kind}' needs a window with end > start")
    if kind == "bug" and not (expect.test or expect.function):
        raise ScenarioError(f"{where}: a bug names the failing 'test' or 'function'")
    return expect


def load_scenario(path: Path) -> Scenario:
    where = str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ScenarioError(f"{where}: {exc}") from None
    project = path.parent / _get(raw, "project", str, where)
    if not project.is_dir():
        raise ScenarioError(f"{where}: project directory {project} does not exist")
    files = _get(raw, "files", dict, where, {})
    steps = tuple(_step(s, i, where) for i, s in enumerate(_get(raw, "step", list, where)))
    timed = [s.at for s in steps if not s.when]
    if timed != sorted(timed):
        raise ScenarioError(f"{where}: steps run in file order; their 'at' times must not decrease")
    by_id = {s.id: s for s in steps}
    if len(by_id) != len(steps):
        raise ScenarioError(f"{where}: step ids must be unique")
    expects = tuple(_expect(e, i, where, by_id) for i, e in enumerate(_get(raw, "expect", list, where)))
    return Scenario(name=path.stem, path=path, description=_get(raw, "description", str, where, ""),
                    duration=_get(raw, "duration", float, where), project=project, files=files,
                    rules=_get(raw, "rules", str, where, None), steps=steps, expects=expects)


def load_scenarios(directory: Path, names: list[str] | None = None) -> list[Scenario]:
    """Every *.toml directly in `directory` (sorted), or only `names` (file stems)."""
    if not directory.is_dir():
        raise ScenarioError(f"{directory}: not a scenario directory")
    paths = sorted(directory.glob("*.toml"))
    if names is not None:
        wanted = set(names)
        paths = [p for p in paths if p.stem in wanted]
        missing = wanted - {p.stem for p in paths}
        if missing:
            raise ScenarioError(f"{directory}: no scenario named {', '.join(sorted(missing))}")
    if not paths:
        raise ScenarioError(f"{directory}: no *.toml scenarios")
    return [load_scenario(p) for p in paths]
