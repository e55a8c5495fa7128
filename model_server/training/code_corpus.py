"""Real Python source for the training sessions: small functions taken from the standard library.

Training sessions need code a developer could plausibly be editing. Rather than ship a code
corpus, we read the interpreter's own standard library with `ast`, keep short top-level
functions, and group a few of them into a "project file" with a believable path. The same
interpreter version gives the same corpus, so generation stays deterministic.
"""

from __future__ import annotations

import ast
import importlib.util
import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

# Modules with many short, self-contained functions (pure Python, present on every CPython).
SOURCE_MODULES = (
    "textwrap", "shlex", "fnmatch", "posixpath", "glob", "heapq", "bisect", "statistics", "colorsys",
    "base64", "html", "calendar", "fractions", "string", "pprint", "quopri", "difflib", "csv",
    "configparser", "gettext", "ipaddress", "json.decoder", "json.encoder", "urllib.parse",
    "email.utils", "shutil", "tempfile", "tokenize", "random", "genericpath", "keyword", "mimetypes",
    "netrc", "operator", "platform", "plistlib", "sched", "smtplib", "socket", "subprocess", "uuid",
    "wave", "zipfile", "tarfile", "inspect", "dataclasses", "enum", "functools", "locale", "codecs",
)

PROJECT_DIRS = ("src", "app", "lib", "core", "companion_demo", "service", "utils", "pkg")
FILE_STEMS = ("parse", "format", "paths", "text", "numbers", "config", "io", "net", "cache", "report",
              "tokens", "schedule", "records", "headers", "convert", "render", "queue", "store")


@dataclass(frozen=True, slots=True)
class Function:
    """One top-level function's source lines (dedented), with its name and parameter names."""

    name: str
    lines: tuple[str, ...]
    params: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A small project file: a path and its lines, with the line span of each function in it."""

    path: str
    lines: tuple[str, ...]
    spans: tuple[tuple[str, int, int], ...]  # (function name, first line index, end index exclusive)

    def function_at(self, index: int) -> str:
        for name, start, end in self.spans:
            if start <= index < end:
                return name
        return ""


def _module_functions(module: str) -> list[Function]:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return []
    source = Path(spec.origin).read_text(encoding="utf-8")
    tree = ast.parse(source)
    lines = source.splitlines()
    found = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef) or node.decorator_list:
            continue
        body = lines[node.lineno - 1: node.end_lineno]
        if not 4 <= len(body) <= 24 or any(len(line) > 96 for line in body):
            continue
        if node.name.startswith("__") or "\t" in "".join(body):
            continue
        params = tuple(a.arg for a in node.args.args)
        found.append(Function(node.name.lstrip("_") or node.name, tuple(body), params))
    return found


@lru_cache(maxsize=1)
def all_functions() -> tuple[Function, ...]:
    """Every usable function of the source modules, in a fixed order."""
    seen: set[str] = set()
    out = []
    for module in SOURCE_MODULES:
        for fn in _module_functions(module):
            if fn.name not in seen:
                seen.add(fn.name)
                out.append(_renamed(fn))
    if len(out) < 50:
        raise RuntimeError(f"the standard library gave only {len(out)} usable functions; "
                           "is this a full CPython installation?")
    return tuple(out)


def _renamed(fn: Function) -> Function:
    """Drop a leading underscore from the def line so the function reads as public project code."""
    first = fn.lines[0]
    head, sep, rest = first.partition("def ")
    rest = rest.lstrip("_") if rest.startswith("_") and not rest.startswith("__") else rest
    return Function(fn.name, (head + sep + rest,) + fn.lines[1:], fn.params)


def make_file(rng: random.Random, n_functions: int = 3) -> SourceFile:
    """A project file of a few real functions, with a module docstring and an import line."""
    functions = rng.sample(all_functions(), n_functions)
    stem = rng.choice(FILE_STEMS)
    path = f"{rng.choice(PROJECT_DIRS)}/{stem}.py"
    lines = [f'"""{stem.capitalize()} helpers."""', "", "import os", "import re", ""]
    spans = []
    for fn in functions:
        lines.append("")
        start = len(lines)
        lines.extend(fn.lines)
        spans.append((fn.name, start, len(lines)))
        lines.append("")
    return SourceFile(path, tuple(lines), tuple(spans))
