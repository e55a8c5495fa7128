"""One-line mutants of a Python file, made with mutmut's operator families on Python's ast.

mutmut and cosmic-ray drive their own test runs (cosmic-ray needs a session database, mutmut 3
a `mutants/` copy of the tree), so the operators are applied here directly: comparison swaps
(`<`↔`<=`, `>`↔`>=`, `==`↔`!=`, `is`↔`is not`, `in`↔`not in`), arithmetic swaps (`+`↔`-`,
`*`↔`/`, `//`↔`/`, `%`↔`/`), integer constants n → n + 1, `and`↔`or`, `True`↔`False`, and
`break`↔`continue`. Each mutant changes exactly one token on one line, found by its ast position,
so the mutated line is known exactly. Order is deterministic (by line, then column).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

_COMPARE = {ast.Lt: ("<", "<="), ast.LtE: ("<=", "<"), ast.Gt: (">", ">="),
            ast.GtE: (">=", ">"), ast.Eq: ("==", "!="), ast.NotEq: ("!=", "=="),
            ast.Is: ("is", "is not"), ast.IsNot: ("is not", "is"),
            ast.In: ("in", "not in"), ast.NotIn: ("not in", "in")}
_ARITH = {ast.Add: ("+", "-"), ast.Sub: ("-", "+"), ast.Mult: ("*", "/"), ast.Div: ("/", "*"),
          ast.FloorDiv: ("//", "/"), ast.Mod: ("%", "/")}


@dataclass(frozen=True, slots=True)
class Mutant:
    """One mutated copy of a file: which line changed, how, and the new text."""

    file: str
    line: int  # 1-based, the only line that differs
    operator: str  # e.g. "compare < -> <="
    source: str

    @property
    def name(self) -> str:
        return f"{self.file}:{self.line} {self.operator}"


def _replace_between(lines: list[str], line: int, start: int, end: int, old: str,
                     new: str) -> str | None:
    """Replace the first `old` token in lines[line-1][start:end]; None if not found there."""
    text = lines[line - 1]
    segment = text[start:end]
    pattern = re.escape(old) if not old[0].isalpha() else rf"\b{re.escape(old)}\b"
    if old in ("<", ">", "*", "/", "-", "+"):
        # not part of a longer operator (`<=`, `**`, `//`, `->`, `+=`)
        pattern = rf"(?<![<>=!*/+-]){re.escape(old)}(?![<>=*/+-])"
    m = re.search(pattern, segment)
    if not m:
        return None
    return text[: start + m.start()] + new + text[start + m.end():]


def mutants_of(file: str, source: str) -> list[Mutant]:
    """Every single-token mutant the operators produce on one-line nodes of `source`."""
    lines = source.splitlines(keepends=True)
    tree = ast.parse(source)
    found: dict[tuple[int, int, str], Mutant] = {}

    def add(node: ast.AST, line: int, start: int, end: int, old: str, new: str, kind: str):
        changed = _replace_between(lines, line, start, end, old, new)
        if changed is None or changed == lines[line - 1]:
            return
        text = "".join(lines[: line - 1] + [changed] + lines[line:])
        try:
            ast.parse(text)
        except SyntaxError:
            return
        key = (line, start, kind)
        found.setdefault(key, Mutant(file, line, f"{kind} {old} -> {new}", text))

    for node in ast.walk(tree):
        if getattr(node, "lineno", None) != getattr(node, "end_lineno", -1):
            continue  # multi-line nodes: the token's line is not certain
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            old, new = _COMPARE[type(node.ops[0])]
            add(node, node.lineno, node.left.end_col_offset, node.comparators[0].col_offset,
                old, new, "compare")
        elif isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
            old, new = _ARITH[type(node.op)]
            add(node, node.lineno, node.left.end_col_offset, node.right.col_offset, old, new,
                "arith")
        elif isinstance(node, ast.BoolOp):
            old, new = ("and", "or") if isinstance(node.op, ast.And) else ("or", "and")
            add(node, node.lineno, node.values[0].end_col_offset, node.values[1].col_offset,
                old, new, "bool")
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            add(node, node.lineno, node.col_offset, node.end_col_offset, str(node.value),
                str(node.value + 1), "number")
        elif isinstance(node, ast.Constant) and type(node.value) is bool:
            old = str(node.value)
            add(node, node.lineno, node.col_offset, node.end_col_offset, old,
                str(not node.value), "constant")
        elif isinstance(node, (ast.Break, ast.Continue)):
            old = "break" if isinstance(node, ast.Break) else "continue"
            new = "continue" if old == "break" else "break"
            add(node, node.lineno, node.col_offset, node.end_col_offset, old, new, "loop")
    return [found[k] for k in sorted(found)]
