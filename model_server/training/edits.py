"""Edits a developer makes to a project file: planted bugs of known kinds, and harmless changes.

Each edit rewrites real source lines and yields a real unified diff (difflib), the kind of bug
it planted (or "clean"), where it is, and what a pair programmer would say about it.
"""

from __future__ import annotations

import difflib
import keyword
import random
import re
from dataclasses import dataclass, replace

from model_server.training.code_corpus import SourceFile

BUG_KINDS = ("off_by_one", "boundary", "comparison", "missing_return", "mutable_default",
             "unused_variable", "swapped_args")

# What the companion says about each kind ({func} is the enclosing function when the diff shows it).
BUG_PHRASES = {
    "off_by_one": "that range looks off by one",
    "boundary": "check that boundary, less than versus less or equal",
    "comparison": "that comparison looks inverted",
    "assignment": "that is an assignment, not a comparison",
    "missing_return": "this no longer returns its result",
    "mutable_default": "careful, a mutable default argument",
    "unused_variable": "that new variable is never used",
    "swapped_args": "those arguments look swapped",
}
# The exception a test would report for each kind (AssertionError when nothing more specific fits).
BUG_ERRORS = {
    "off_by_one": ("IndexError", "AssertionError"), "boundary": ("AssertionError",),
    "comparison": ("AssertionError",), "assignment": ("SyntaxError",),
    "missing_return": ("TypeError", "AssertionError"), "mutable_default": ("AssertionError",),
    "unused_variable": (), "swapped_args": ("TypeError", "AssertionError"),
}


@dataclass(frozen=True, slots=True)
class Edit:
    """One change to a file: its diff, and what it did."""

    before: SourceFile
    after: SourceFile
    kind: str  # a BUG_KINDS entry, "assignment", "clean" or "fix"
    line: int  # 1-based line of the change in the new file
    func: str
    diff: str

    @property
    def is_bug(self) -> bool:
        return self.kind not in ("clean", "fix")

    def remark(self) -> str:
        phrase = BUG_PHRASES[self.kind]
        if self.func and f"def {self.func}(" in self.diff:
            return f"{phrase} in {self.func}"
        return phrase


def unified_diff(before: SourceFile, after: SourceFile) -> str:
    """The diff as the file watcher sends it: hunks only, without the ---/+++ header lines."""
    lines = list(difflib.unified_diff(before.lines, after.lines, lineterm="", n=3))
    return "\n".join(lines[2:])


def _code_lines(source: SourceFile) -> list[int]:
    """Indices of code lines inside functions, leaving out def lines, strings over lines and comments.

    Line-based rather than `ast`, because a file may already hold a planted syntax slip.
    """
    out = []
    for _, start, end in source.spans:
        in_string = False
        for i in range(start + 1, end):
            stripped = source.lines[i].strip()
            quotes = stripped.count('"""') + stripped.count("\'\'\'")
            if in_string or quotes:
                in_string = in_string != (quotes % 2 == 1)
                continue
            if stripped and not stripped.startswith("#"):
                out.append(i)
    return out


_RULES: dict[str, list[tuple[re.Pattern, str]]] = {
    "off_by_one": [
        (re.compile(r"range\(len\((\w+)\)\)"), r"range(len(\1) - 1)"),
        (re.compile(r"range\((\w+)\)"), r"range(\1 + 1)"),
        (re.compile(r"range\(1, "), "range(0, "),
        (re.compile(r"\[:(\w+)\]"), r"[:\1 - 1]"),
        (re.compile(r"\[(\w+):\]"), r"[\1 + 1:]"),
        (re.compile(r"\[1:\]"), "[2:]"),
        (re.compile(r"\[-1\]"), "[-2]"),
        (re.compile(r"len\((\w+)\) - 1"), r"len(\1)"),
        (re.compile(r"\b(\w+) - 1\b"), r"\1"),
        (re.compile(r"\b(\w+) \+ 1\b"), r"\1"),
        (re.compile(r"\b(\w+)\+1\b"), r"\1"),
        (re.compile(r"\b(\w+)-1\b"), r"\1"),
    ],
    "boundary": [
        (re.compile(r"(\b(?:if|while|elif|return)\b.*) < "), r"\1 <= "),
        (re.compile(r"(\b(?:if|while|elif|return)\b.*) <= "), r"\1 < "),
        (re.compile(r"(\b(?:if|while|elif|return)\b.*) > "), r"\1 >= "),
        (re.compile(r"(\b(?:if|while|elif|return)\b.*) >= "), r"\1 > "),
    ],
    "comparison": [
        (re.compile(r" == "), " != "),
        (re.compile(r" != "), " == "),
        (re.compile(r" is None"), " is not None"),
        (re.compile(r" is not None"), " is None"),
        (re.compile(r"\bif not (\w+):"), r"if \1:"),
    ],
    "assignment": [(re.compile(r"(\bif .*?\w) == "), r"\1 = ")],
    "missing_return": [(re.compile(r"^(\s+)return (\S.*)$"), r"\1\2")],
    "mutable_default": [(re.compile(r"^(def \w+\(.*\b\w+)=(?:None|\(\))"), r"\1=[]")],
    "swapped_args": [(re.compile(r"(\w+)\((\w+), (\w+)\)"), r"\1(\3, \2)")],
}


def _rewrite(source: SourceFile, kind: str, rng: random.Random) -> Edit | None:
    lines = list(source.lines)
    candidates = list(range(len(lines))) if kind == "mutable_default" else _code_lines(source)
    options = [(i, pat, rep) for i in candidates for pat, rep in _RULES[kind] if pat.search(lines[i])]
    if kind == "swapped_args":
        options = [(i, p, r) for i, p, r in options if not lines[i].lstrip().startswith("def ")
                   and (m := p.search(lines[i])) and m.group(2) != m.group(3)]
    if not options:
        return None
    index, pattern, repl = rng.choice(options)
    lines[index] = pattern.sub(repl, lines[index], count=1)
    return _finish(source, lines, kind, index)


def _unused_variable(source: SourceFile, rng: random.Random) -> Edit | None:
    lines = list(source.lines)
    code = _code_lines(source)
    if not code:
        return None
    index = rng.choice(code)
    name = source.function_at(index)
    params = [p for p in re.findall(r"\b[a-z_]\w*\b", lines[index]) if not keyword.iskeyword(p)]
    target = rng.choice(("count", "size", "total", "first", "result_len", "tmp", "n_items"))
    value = f"len({params[0]})" if params else "0"
    indent = re.match(r"\s*", lines[index]).group(0)
    lines.insert(index, f"{indent}{target} = {value}")
    return _finish(source, lines, "unused_variable", index, func=name)


def _clean(source: SourceFile, rng: random.Random) -> Edit | None:
    lines = list(source.lines)
    code = _code_lines(source)
    if not code:
        return None
    index = rng.choice(code)
    indent = re.match(r"\s*", lines[index]).group(0)
    choice = rng.randrange(4)
    if choice == 0:
        comment = rng.choice(("keep the order stable", "handle the empty case first",
                              "see the spec for details", "cheap check before the slow path"))
        lines.insert(index, f"{indent}# {comment}")
    elif choice == 1:
        lines.insert(index, "")
    elif choice == 2:
        words = re.findall(r"\b([a-z]\w{2,})\s*=[^=]", lines[index])
        if not words:
            lines.insert(index, f"{indent}# simplify once the callers agree")
        else:
            old = words[0]
            new = old + "_value"
            _, start, end = next(s for s in source.spans if s[1] <= index < s[2])
            for i in range(start, end):
                lines[i] = re.sub(rf"\b{old}\b", new, lines[i])
    else:
        lines.insert(index, f"{indent}logger.debug(\"%s\", {rng.choice(('self', 'args', 'value', 'name'))})")
    return _finish(source, lines, "clean", index)


def _finish(source: SourceFile, lines: list[str], kind: str, index: int, func: str = "") -> Edit | None:
    if lines == list(source.lines):
        return None
    shift = len(lines) - len(source.lines)
    spans = tuple((n, s + (shift if s > index else 0), e + (shift if e > index else 0))
                  for n, s, e in source.spans)
    after = replace(source, lines=tuple(lines), spans=spans)
    diff = unified_diff(source, after)
    return Edit(source, after, kind, index + 1, func or after.function_at(index), diff)


def plant_bug(source: SourceFile, rng: random.Random) -> Edit | None:
    """A diff planting one bug of a random kind that fits this file, or None if none fits."""
    kinds = list(BUG_KINDS) + ["assignment"]
    rng.shuffle(kinds)
    for kind in kinds:
        edit = _unused_variable(source, rng) if kind == "unused_variable" else _rewrite(source, kind, rng)
        if edit is not None:
            return edit
    return None


def clean_edit(source: SourceFile, rng: random.Random) -> Edit | None:
    """A harmless change: a comment, a rename, a log line."""
    return _clean(source, rng)


def revert(edit: Edit) -> Edit:
    """The diff that fixes a planted bug (the developer noticed and undid it)."""
    diff = unified_diff(edit.after, edit.before)
    return Edit(edit.after, edit.before, "fix", edit.line, edit.func, diff)
