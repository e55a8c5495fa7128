"""Things a developer leaves in the code that the tests do not notice, for the on-save lint to find
(`tools.lint.LEFTOVER_CODES`, ORACLE.md): a print of a return value or a TODO comment (the rule
kind "tell me when I leave a print in" asks to hear of these), and an unused import or an unused
local variable (plain lint findings: never said unprompted). Each is added to a project's clean
source and the version is really run like any other (code_runs.build_project); one whose run
fails (a print that evaluates a call with side effects twice) is not used.
"""

from __future__ import annotations

import ast
import random

KINDS = ("print", "todo", "import", "unused")
_TODOS = ("handle the empty case", "clean this up", "check the bounds here", "make this faster",
          "is this right", "remove this hack", "add a test for this", "rename this")
_IMPORTS = ("os", "sys", "re", "json", "math", "itertools", "functools", "collections", "typing")
_UNUSED = ("tmp = None", "debug = True", "result = []", "count = 0", "seen = set()", "old = {}")


def _spots(source: str, tree: ast.Module, kind: str, rng: random.Random) -> list[tuple[int, str]]:
    """(line to insert before, the text) for each place a leftover of `kind` can go."""
    if kind == "print":  # print(<the returned expression>) just before a return
        return [(n.lineno, f"print({ast.get_source_segment(source, n.value)})")
                for n in ast.walk(tree) if isinstance(n, ast.Return) and n.value is not None
                and n.lineno == n.end_lineno]
    if kind == "import":  # above the first statement that is not the module docstring
        body = [s for s in tree.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
        return [(body[0].lineno, f"import {rng.choice(_IMPORTS)}")] if body else []
    text = f"# TODO: {rng.choice(_TODOS)}" if kind == "todo" else rng.choice(_UNUSED)
    # above a statement of a function body (not its docstring)
    return [(s.lineno, text) for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)
            for s in f.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]


def add_leftover(source: str, kind: str, rng: random.Random) -> str | None:
    """`source` with one leftover of `kind` added, or None if there is no place for it."""
    tree = ast.parse(source)
    lines = source.splitlines()
    spots = _spots(source, tree, kind, rng)
    if not spots:
        return None
    lineno, text = rng.choice(spots)
    line = lines[lineno - 1]
    indent = "" if kind == "import" else line[: len(line) - len(line.lstrip())]
    lines.insert(lineno - 1, indent + text)
    code = "\n".join(lines) + "\n"
    try:
        compile(code, "<leftover>", "exec")
    except SyntaxError:  # a return on the same line as its `if` (`if x: return y`)
        return None
    return code


def leftover_kind(label: str) -> str | None:
    """The leftover a version's label names ("leftover:print" -> "print"), else None."""
    return label.removeprefix("leftover:") if label.startswith("leftover:") else None
