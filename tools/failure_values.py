"""What came out: a failure's values as a short phrase a voice can say.

From pytest's assertion introspection (the rewritten message `assert 1 == 2` with its
`where 1 = median([3, 1, 2])` lines, and the operands the plugin kept) this makes
"median returns 1 for [3, 1, 2], expected 2" when the shape allows; otherwise the exception's
type and message. Two long sequences are said by where they differ ("returns 0.18 as item 3 …,
expected 0.38"; with more places, the first and the count; of other lengths, the lengths);
other long reprs become "a long list"; paths shrink to the file name.
"""

from __future__ import annotations

import ast
import re

VALUE_CHARS = 32  # a value longer than this is named by its kind, not read out
MESSAGE_WORDS = 12
_WHERE = re.compile(r"^ \+  where (?P<value>.+?) = (?P<call>[\w.]+)\((?P<args>.*)\)$")
_PATH = re.compile(r"(?:[A-Za-z]:)?(?:[\w.~-]*/)+(?P<name>[\w.-]+)")
_OP_WORDS = {
    "==": "", "!=": "anything but ", "<": "less than ", "<=": "at most ", ">": "more than ",
    ">=": "at least ", "in": "in ", "not in": "not in ", "is": "", "is not": "not ",
}
_KINDS = {"[": "a long list", "(": "a long tuple", "{": "a long dict or set", "'": "a long string",
          '"': "a long string", "b": "long bytes"}


def speakable_value(text: str) -> str:
    """A repr short enough to say, else what kind of thing it is."""
    text = " ".join(text.split())
    if len(text) <= VALUE_CHARS:
        return text
    return _KINDS.get(text[:1], f"a long {text.split('(')[0]}" if "(" in text[:20] else "a long value")


def _number(x, other) -> str:
    """A float with the fewest digits that still tell it from `other` (0.18, not 0.1799999)."""
    if not isinstance(x, float) or not isinstance(other, (int, float)):
        return repr(x)
    for digits in range(3, 18):
        text = f"{x:.{digits}g}"
        if float(text) == x or float(f"{other:.{digits}g}") != float(text):
            return text
    return repr(x)


def item_difference(actual: str, expected: str) -> tuple[str, str] | None:
    """How two sequence reprs of one type differ, as (got, expected) phrases: by the places when
    one or two items differ ("0.18 as item 3", "0.38"), by the first place and the count when
    more do ("0.24 as item 2, 5 items wrong", "0.667"), by the lengths when those differ ("[]",
    "6 items"); None when they are not such sequences or an item is too long to say."""
    try:
        got, want = ast.literal_eval(actual), ast.literal_eval(expected)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    if not (isinstance(got, (list, tuple)) and type(got) is type(want)):
        return None
    if len(got) != len(want):  # each side by its length unless short enough to say as it is
        return tuple(text if len(text) <= VALUE_CHARS else f"{len(value)} items"
                     for text, value in ((" ".join(actual.split()), got), (" ".join(expected.split()), want)))
    places = [i for i, (g, w) in enumerate(zip(got, want)) if g != w]
    if not places:
        return None
    said = [(_number(got[i], want[i]), _number(want[i], got[i])) for i in places[:2]]
    if any(len(g) > VALUE_CHARS or len(w) > VALUE_CHARS for g, w in said):
        return None
    if len(places) > 2:
        (g, w), i = said[0], places[0]
        return f"{g} as item {i + 1}, {len(places)} items wrong", w
    return (" and ".join(f"{g} as item {i + 1}" for (g, _), i in zip(said, places)),
            " and ".join(w for _, w in said))


def _sep(got: str) -> str:
    """Before "for <inputs>": a comma after a counted difference ("…, 3 items wrong, for")."""
    return ", " if got.endswith(" items wrong") else " "


def clean_message(message: str, words: int = MESSAGE_WORDS) -> str:
    """An exception message for speech: first line, paths as file names, long reprs named, capped."""
    first = next((line.strip() for line in message.splitlines() if line.strip()), "")
    first = _PATH.sub(lambda m: m["name"], first)
    first = re.sub(r"<([\w.]+) object at 0x[0-9a-f]+>", r"a \1", first)
    first = re.sub(rf"(\[[^\]]{{{VALUE_CHARS},}}\]|\{{[^}}]{{{VALUE_CHARS},}}\}})",
                   lambda m: speakable_value(m[0]), first)
    parts = first.split()
    return " ".join(parts[:words]) + ("…" if len(parts) > words else "")


def _where_calls(lines: list[str]) -> dict[str, tuple[str, str]]:
    """`+  where 1 = median([3, 1, 2])` lines (top level only) → {"1": ("median", "[3, 1, 2]")}."""
    calls = {}
    for line in lines:
        if m := _WHERE.match(line):
            calls.setdefault(m["value"], (m["call"].split(".")[-1], m["args"]))
    return calls


def _operands_from_source(source_line: str) -> tuple[str, str] | None:
    """The source text of both sides of `assert left == right` on the test's line."""
    try:
        tree = ast.parse(source_line.strip())
    except SyntaxError:
        return None
    node = tree.body[0] if tree.body else None
    if isinstance(node, ast.Assert) and isinstance(node.test, ast.Compare) \
            and len(node.test.comparators) == 1:
        return ast.unparse(node.test.left), ast.unparse(node.test.comparators[0])
    return None


def _call_parts(expr: str) -> tuple[str, str] | None:
    """`median([3, 1, 2])` → ("median", "[3, 1, 2]"); None when `expr` is not one call."""
    try:
        node = ast.parse(expr, mode="eval").body
    except SyntaxError:
        return None
    if not isinstance(node, ast.Call):
        return None
    func = node.func.attr if isinstance(node.func, ast.Attribute) else ast.unparse(node.func)
    args = [ast.unparse(a) for a in node.args] + [ast.unparse(k) for k in node.keywords]
    return func, ", ".join(args)


def _is_literal(expr: str) -> bool:
    try:
        ast.literal_eval(expr)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
    return True


def assertion_phrase(message: str, compare: dict | None, source_line: str = "") -> str:
    """"median returns 1 for [3, 1, 2], expected 2" from an AssertionError; "" when unreadable."""
    lines = message.splitlines()
    at = next((i for i, line in enumerate(lines) if line.startswith("assert ")), None)
    if at is None:
        return ""
    calls = _where_calls(lines[at + 1:])
    if compare is None:  # `assert is_sorted(xs)`: a boolean with its where-call
        value = lines[at][len("assert "):].strip()
        if value in calls:
            func, args = calls[value]
            return f"{func} returns {speakable_value(value)} for {speakable_value(args)}"
        return ""
    op, left, right = compare["op"], compare["left"], compare["right"]
    actual_left = True  # by convention `assert actual == expected`
    sources = _operands_from_source(source_line)
    if left not in calls and right in calls or sources and left not in calls and _is_literal(sources[0]) and not _is_literal(sources[1]):
        actual_left = False
    actual, expected = (left, right) if actual_left else (right, left)
    if not actual_left and op in ("<", "<=", ">", ">="):
        op = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}[op]
    got, wanted = speakable_value(actual), speakable_value(expected)
    if op == "==" and (len(actual) > VALUE_CHARS or len(expected) > VALUE_CHARS):
        got, wanted = item_difference(actual, expected) or (got, wanted)
    want = f"expected {_OP_WORDS.get(op, op + ' ')}{wanted}"
    if actual in calls:
        func, args = calls[actual]
        inputs = f"{_sep(got)}for {speakable_value(args)}" if args else ""
        return f"{func} returns {got}{inputs}, {want}"
    if sources:
        name = sources[0] if actual_left else sources[1]
        call = _call_parts(name)
        if call:  # pytest explained the difference instead of printing `where`
            func, args = call
            inputs = f"{_sep(got)}for {speakable_value(args)}" if args else ""
            return f"{func} returns {got}{inputs}, {want}"
        if name.isidentifier():
            return f"{name} is {got}, {want}"
    return f"got {got}, {want}"


def values_phrase(record: dict | None, exc_type: str, message: str, source_line: str = "",
                  function: str = "") -> str:
    """The values of one failure: the assertion's shape if readable, else type and message."""
    record = record or {}
    exc = exc_type.split(".")[-1]
    text = record.get("message", message)
    if exc == "AssertionError":
        phrase = assertion_phrase(text, record.get("compare"), source_line)
        if phrase:
            return phrase
        custom = text.split("\nassert ")[0] if not text.startswith("assert ") else ""
        return f"assertion failed: {clean_message(custom)}" if custom.strip() else ""
    who = f"{function} raises " if function and function != "<module>" else ""
    said = clean_message(text)
    return f"{who}{exc}: {said}" if said else f"{who}{exc}"
