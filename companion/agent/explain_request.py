"""What the reasoning model is told about a failure: the report, the pinned code, the test, the diff.

Everything passes through companion/core/redact.py first (keys, tokens, passwords never leave the
machine) and each part is capped, so a huge diff or file cannot blow the request up.
"""

from __future__ import annotations

import re
from pathlib import Path

from companion.agent.bug_report import fit_words
from companion.core.redact import redact

CODE_AROUND = 10  # lines each side of the pinned line
TEST_AROUND = 6
PART_CAP = 4000  # characters per code/diff part
SYSTEM = (
    "You are a senior engineer pair-programming with the user. A test just failed. Explain "
    "why in plain words and say what to change. Begin with one short sentence stating the "
    "cause (it is read aloud), then the details. At most 150 words."
)


def numbered(root: Path, rel: str, line: int, around: int) -> str:
    """Lines `line`±`around` of a file, numbered, the pinned one marked with `>`."""
    try:
        lines = (root / rel).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    lo, hi = max(1, line - around), min(len(lines), line + around)
    width = len(str(hi))
    return "\n".join(f"{'>' if n == line else ' '} {n:>{width}} | {lines[n - 1]}"
                     for n in range(lo, hi + 1))


def _cap(text: str, cap: int = PART_CAP) -> str:
    return text if len(text) <= cap else text[: cap - 30] + "\n… (cut to fit the request)"


def build_messages(root: Path, failure: dict, diffs: dict[str, str], question: str = "") -> list:
    """The chat messages for one failure (an item of a tests result's `failures`)."""
    loc = failure.get("location") or {}
    test_id = failure.get("test_id", "")
    test_file = test_id.split("::")[0]
    parts = [
        f"Failing test: {test_id}",
        f"What the companion said: {failure.get('said', '')}",
        f"Exception: {failure.get('exc_type', '')}: {failure.get('message', '')}",
    ]
    if loc:
        where = f"{loc.get('file')} line {loc.get('line')}"
        if loc.get("function"):
            where += f", in {loc['function']}"
        why = {"changed": "a line you changed, on the traceback",
               "executed": "a line you changed that the test ran",
               "deepest": "the innermost frame of your code", "test": "the test's own line",
               "syntax": "where Python stopped parsing", "hang": "where it was spinning"}
        parts.append(f"Pinned on: {where} ({why.get(loc.get('how'), loc.get('how'))})")
        code = numbered(root, loc["file"], int(loc["line"]), CODE_AROUND)
        if code:
            parts.append(f"Code around it ({loc['file']}):\n```\n{_cap(code)}\n```")
    test_line = failure.get("line") if failure.get("file") == test_file else None
    if test_file and test_file != loc.get("file"):
        code = numbered(root, test_file, int(test_line or 1), TEST_AROUND if test_line else 40)
        if code:
            parts.append(f"The test ({test_file}):\n```\n{_cap(code)}\n```")
    if diffs:
        joined = "\n".join(diffs[p] for p in sorted(diffs))
        parts.append(f"What changed since the tests last passed:\n```diff\n{_cap(joined)}\n```")
    parts.append(f"Question: {question.strip() or 'Why does it fail?'}")
    user = redact("\n\n".join(parts))
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def first_sentence(answer: str) -> str:
    """The part of an answer that is spoken: its first sentence, at most 25 words."""
    text = " ".join(answer.replace("`", "").split())
    match = re.match(r"(.+?[.!?])(\s|$)", text)
    return fit_words(match[1] if match else text)
