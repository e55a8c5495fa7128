"""Speech text hygiene: turn what the model writes into what a voice should say.

Code blocks, stack traces and long paths are never read verbatim: code becomes "(code shown on
screen)", a traceback becomes "an error trace", a path its file name, a URL "a link";
identifiers are split into words (snake_case, CamelCase, kebab-case) and a few symbols are said.
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"```.*?(```|$)", re.DOTALL)
_TRACEBACK = re.compile(
    r"Traceback \(most recent call last\):.*?(?:\n(?![ \t])[^\n]*(?:Error|Exception)[^\n]*|$)", re.DOTALL)
_FRAME_LINES = re.compile(r"(?:^[ \t]*(?:File \"[^\"]+\", line \d+|at [\w.$<>]+\([^)]*\))[^\n]*\n?)+", re.MULTILINE)
_URL = re.compile(r"\b(?:https?|ftp)://\S+|\bwww\.\S+", re.IGNORECASE)
_PATH = re.compile(r"(?:~|\.{1,2})?(?:/[\w.@+-]+){2,}/?|\b[\w.@+-]+(?:/[\w.@+-]+)+/?|[A-Za-z]:\\(?:[\w. -]+\\)*[\w. -]+")
_INLINE_CODE = re.compile(r"`([^`]+)`")
_HEX = re.compile(r"\b0x[0-9a-fA-F]{5,}\b|\b[0-9a-f]{12,40}\b")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_IDENT = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*(?:[-_][A-Za-z0-9]+)+\b|\b[a-z]+[A-Z][A-Za-z0-9]*\b|\b[A-Z]+[a-z0-9]+[A-Z][A-Za-z0-9]*\b")
_BIG_NUMBER = re.compile(r"\b\d{7,}\b")
_DOTTED_CALL = re.compile(r"\b(\w+)\.(\w+)\(\)")
_SYMBOLS = {"==": " equals ", "!=": " not equal to ", "<=": " at most ", ">=": " at least ",
            "->": " to ", "=>": " to ", "&&": " and ", "||": " or "}
_SPACES = re.compile(r"[ \t]+")


def speakable(text: str) -> str:
    """`text` rewritten for a TTS voice; never returns code, traces or long paths verbatim."""
    text = _FENCE.sub(" (code shown on screen) ", text)
    text = _TRACEBACK.sub(_say_traceback, text)
    text = _FRAME_LINES.sub(" ", text)
    text = _URL.sub("a link", text)
    text = _PATH.sub(_say_path, text)
    text = _INLINE_CODE.sub(lambda m: m.group(1), text)
    text = _HEX.sub("a hash", text)
    text = _BIG_NUMBER.sub("a long number", text)
    text = _DOTTED_CALL.sub(lambda m: f"{m.group(1)} dot {m.group(2)}", text)
    text = _IDENT.sub(lambda m: split_identifier(m.group(0)), text)
    for symbol, words in _SYMBOLS.items():
        text = text.replace(symbol, words)
    text = re.sub(r"\s*\n\s*", ". ", text.strip())
    text = re.sub(r"(\.\s*){2,}", ". ", text)
    text = re.sub(r"([:;,!?])\s*\.", r"\1", text)
    return _SPACES.sub(" ", text).strip()


def split_identifier(name: str) -> str:
    """`parse_header` -> "parse header", `HTTPServerError` -> "HTTP server error"."""
    words = []
    for part in re.split(r"[_\-]+", name):
        for word in _CAMEL.split(part):
            if word:
                words.append(word if word.isupper() and len(word) > 1 else word.lower())
    return " ".join(words)


def _say_path(match: re.Match) -> str:
    path = match.group(0).rstrip("/\\")
    name = re.split(r"[/\\]", path)[-1]
    if not name or name in (".", ".."):
        return "a folder"
    stem, dot, ext = name.rpartition(".")
    if dot and stem:
        return f"{split_identifier(stem) if re.search(r'[_A-Z-]', stem) else stem} dot {ext}"
    return name


def _say_traceback(match: re.Match) -> str:
    last = match.group(0).rstrip().splitlines()[-1].strip()
    kind = re.match(r"([\w.]*(?:Error|Exception))\b", last)
    if kind:
        return f" an error trace ending in {split_identifier(kind.group(1).split('.')[-1])}. "
    return " an error trace. "
