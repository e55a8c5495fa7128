"""The tool registry: what the model may call, each call's argument spec, and validation.

The interaction model delegates with `<|call|>{"tool": name, "args": {...}}` (docs/protocol.md).
Nothing reaches a tool unless its name is registered and its arguments pass the spec; every
problem is a `CallError` whose message the model (and the user) can read.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any, Literal

ArgType = Literal["string", "integer", "boolean", "array"]
_PY_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "boolean": bool,
    "array": (list, tuple),
}


class ToolError(Exception):
    """A tool could not do what was asked; the message is readable as it stands.

    `data` carries whatever structured result there is despite the failure (partial progress,
    the last lines of output) for the TUI card.
    """

    def __init__(self, message: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.data = data or {}


class CallError(ToolError):
    """A call was malformed: invalid JSON, an unknown tool, or arguments that fail the spec."""


@dataclass(frozen=True, slots=True)
class Arg:
    """One argument of a tool: its type, whether it is required, and what values it allows."""

    name: str
    type: ArgType
    description: str
    required: bool = False
    default: Any = None
    enum: tuple[str, ...] | None = None
    items: ArgType | None = None  # element type of an array
    minimum: int | None = None
    maximum: int | None = None
    no_leading_dash: bool = False  # refs and names handed to git must never read as options
    heard: bool = False  # a copy of the user's words as heard or typed (the grammar holds it to them)

    def check(self, tool: str, value: Any) -> Any:
        where = f"{tool}: argument '{self.name}'"
        if not _is_type(value, self.type):
            raise CallError(f"{where} must be {self.type}, got {_json_type(value)}")
        if self.type == "array":
            value = list(value)
            for i, item in enumerate(value):
                if self.items and not _is_type(item, self.items):
                    raise CallError(f"{where}[{i}] must be {self.items}, got {_json_type(item)}")
                if self.no_leading_dash and isinstance(item, str) and item.startswith("-"):
                    raise CallError(f"{where}[{i}] must not start with '-': {item!r}")
        if self.enum is not None and value not in self.enum:
            raise CallError(f"{where} must be one of {', '.join(self.enum)}; got {value!r}")
        if self.type == "integer":
            if self.minimum is not None and value < self.minimum:
                raise CallError(f"{where} must be at least {self.minimum}, got {value}")
            if self.maximum is not None and value > self.maximum:
                raise CallError(f"{where} must be at most {self.maximum}, got {value}")
        if self.type == "string":
            if self.required and not value.strip():
                raise CallError(f"{where} must not be empty")
            if self.no_leading_dash and value.startswith("-"):
                raise CallError(f"{where} must not start with '-': {value!r}")
        return value

    def signature(self) -> str:
        kind = (
            "|".join(self.enum)
            if self.enum
            else (f"[{self.items}]" if self.type == "array" else self.type)
        )
        text = f"{self.name}{'' if self.required else '?'}: {kind}"
        if self.default is not None:
            text += f" = {json.dumps(self.default)}"
        return text


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool the model may call: name, what it does, its arguments, and whether it changes the repo.

    Tools with `changes_repository` never act on a call alone: the agent asks the user first.
    """

    name: str
    description: str
    args: tuple[Arg, ...] = ()
    changes_repository: bool = False

    def validate(self, raw: Any) -> dict[str, Any]:
        """Return the arguments with defaults filled in, or raise `CallError` naming the problem."""
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise CallError(f"{self.name}: 'args' must be an object, got {_json_type(raw)}")
        known = {a.name: a for a in self.args}
        unknown = sorted(set(raw) - set(known))
        if unknown:
            hint = _closest(unknown[0], known)
            allowed = ", ".join(known) or "none"
            raise CallError(
                f"{self.name}: unknown argument '{unknown[0]}'{hint}; allowed: {allowed}"
            )
        out: dict[str, Any] = {}
        for arg in self.args:
            if arg.name in raw and raw[arg.name] is not None:
                out[arg.name] = arg.check(self.name, raw[arg.name])
            elif arg.required:
                raise CallError(f"{self.name}: missing required argument '{arg.name}'")
            else:
                out[arg.name] = arg.default
        return out

    def signature(self) -> str:
        mark = " [asks the user first]" if self.changes_repository else ""
        args = ", ".join(a.signature() for a in self.args)
        return f"{self.name}({args}){mark}: {self.description}"


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A validated call: a registered tool and its complete arguments."""

    spec: ToolSpec
    args: dict[str, Any]

    @property
    def tool(self) -> str:
        return self.spec.name


class ToolRegistry:
    """The tools the model may call, looked up by name; parses and validates `<|call|>` JSON."""

    def __init__(self, specs: list[ToolSpec] | tuple[ToolSpec, ...]) -> None:
        self._specs: dict[str, ToolSpec] = {}
        for spec in specs:
            if spec.name in self._specs:
                raise ValueError(f"tool '{spec.name}' is registered twice")
            self._specs[spec.name] = spec

    def names(self) -> list[str]:
        return list(self._specs)

    def get(self, name: str) -> ToolSpec:
        try:
            return self._specs[name]
        except KeyError:
            hint = _closest(name, self._specs)
            raise CallError(
                f"unknown tool '{name}'{hint}; known tools: {', '.join(self._specs)}"
            ) from None

    def parse_call(self, text: str) -> ToolCall:
        """Parse the model's call (JSON, optionally still wrapped in `<|call|>` … `<|end|>`)."""
        body = text.strip().removeprefix("<|call|>").removesuffix("<|end|>").strip()
        if not body:
            raise CallError('empty call: expected {"tool": name, "args": {...}}')
        try:
            obj = json.loads(body)
        except json.JSONDecodeError as exc:
            raise CallError(
                f"call is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
            ) from None
        if not isinstance(obj, dict):
            raise CallError(f"call must be a JSON object, got {_json_type(obj)}")
        extra = sorted(set(obj) - {"tool", "args"})
        if extra:
            raise CallError(f"call has unknown key '{extra[0]}'; expected only 'tool' and 'args'")
        name = obj.get("tool")
        if not isinstance(name, str) or not name:
            raise CallError("call is missing 'tool' (a tool name string)")
        spec = self.get(name)
        return ToolCall(spec, spec.validate(obj.get("args")))

    def describe(self) -> str:
        """The compact tool list for the model's pinned prefix, one line per tool."""
        lines = ['Tools (call with <|call|>{"tool": name, "args": {...}}; "?" marks optional):']
        lines += [f"- {spec.signature()}" for spec in self._specs.values()]
        return "\n".join(lines)


def _is_type(value: Any, kind: str) -> bool:
    if kind == "integer":  # JSON has no separate bool, but Python's bool is an int
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, _PY_TYPES[kind])


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    return "object"


def _closest(name: str, known) -> str:
    match = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""
