"""Debugging leftovers a developer forgets in the code, for the rule kind "tell me when I leave …
in" (`rules.py`, ORACLE.md): a print of a return value, or a TODO comment, added to a project's
clean source. Each version is really run like any other (code_runs.build_project); one whose run
fails (a print that evaluates a call with side effects twice) is not used.
"""

from __future__ import annotations

import ast
import random

from companion.core.protocol import Action, format_output

KINDS = ("print", "todo")
_TODOS = ("handle the empty case", "clean this up", "check the bounds here", "make this faster",
          "is this right", "remove this hack", "add a test for this", "rename this")
# what the companion says; {path} is the saved file (FileWatch's path, as the diff header shows it)
SPEECH = {"print": "you left a print call in {path}.", "todo": "you added a TODO comment in {path}."}
FALLBACK = {"print": "you left a print call in that file.", "todo": "you added a TODO comment there."}


def add_leftover(source: str, kind: str, rng: random.Random) -> str | None:
    """`source` with one leftover of `kind` added inside a function, or None if there is no place."""
    tree = ast.parse(source)
    lines = source.splitlines()
    if kind == "print":  # print(<the returned expression>) just before a return
        spots = [(n.lineno, f"print({ast.get_source_segment(source, n.value)})")
                 for n in ast.walk(tree) if isinstance(n, ast.Return) and n.value is not None
                 and n.lineno == n.end_lineno]
    else:  # a TODO comment above a statement of a function body (not its docstring)
        spots = [(s.lineno, f"# TODO: {rng.choice(_TODOS)}")
                 for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)
                 for s in f.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    if not spots:
        return None
    lineno, text = rng.choice(spots)
    line = lines[lineno - 1]
    indent = line[: len(line) - len(line.lstrip())]
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


def speech(kind: str, path: str) -> str:
    """The remark about a leftover in `path`, or a shorter one when the utterance grammar would
    refuse the path (a word over 20 characters)."""
    text = SPEECH[kind].format(path=path)
    try:
        format_output([Action("speech", text=text, whole=True)], protocol=2)
    except ValueError:
        return FALLBACK[kind]
    return text
