"""Errors in screen text: Python, Node, Rust, Go, compiler, failing-test and HTTP errors, parsed.

Pure functions over OCR'd text. Each recognizer needs a structural anchor (a traceback frame,
a `-->` location, a `goroutine` header, an HTTP status line), never the word "Error" alone, so
code that merely mentions an exception (`except KeyError:`, `class ParseError`) is not an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# OCR turns straight quotes curly and drops or doubles spaces; parse a normalized copy.
_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "`": "`", "«": '"', "»": '"',
                         "，": ",", "：": ":", "（": "(", "）": ")"})


@dataclass(frozen=True, slots=True)
class Frame:
    file: str
    line: int
    function: str = ""


@dataclass(frozen=True, slots=True)
class ParsedError:
    """One error found in screen text; `frames` run outermost first, as a traceback prints them."""

    language: str  # "python" | "node" | "rust" | "go" | "compiler" | "test" | "http"
    exception: str  # KeyError, TypeError, E0308, panic, HTTP 500, ...
    message: str
    frames: tuple[Frame, ...] = ()

    @property
    def file(self) -> str:
        return self.frames[-1].file if self.frames else ""

    @property
    def line(self) -> int:
        return self.frames[-1].line if self.frames else 0

    def key(self) -> tuple:
        """Identity for deduplication: the same error scrolled or redrawn, OCR noise aside."""
        words = re.sub(r"[^a-z0-9]", "", self.message.lower())[:40]
        where = (self.file.rsplit("/", 1)[-1], self.line)
        return (self.language, self.exception, words, where)


# the function runs to the line's end: OCR may read `load_user` as `load user`
_PY_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)",\s*line\s+(?P<line>\d+)(?:,\s*in\s+(?P<func>.+?))?\s*$',
                       re.IGNORECASE)
_EXC_NAME = r"[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|Iteration|Fault)"
_PY_EXC = re.compile(rf"^(?P<exc>{_EXC_NAME})(?::\s*(?P<msg>.*))?$")
# OCR often reads an underscore as a space: "tests/test stats.py:11: AssertionError"
_PYTEST_LOC = re.compile(rf"^(?P<file>[\w./\\-]+(?: [\w./\\-]+)*\.py):(?P<line>\d+): (?P<exc>{_EXC_NAME})$")
_PYTEST_E = re.compile(rf"^E\s+(?P<exc>{_EXC_NAME})(?::\s*(?P<msg>.*))?$")
_PYTEST_FAILED = re.compile(
    rf"^FAILED (?P<file>[\w./\\-]+\.py)::(?P<test>\S+)(?: - (?P<exc>{_EXC_NAME})(?::\s*(?P<msg>.*))?)?")
_NODE_AT = re.compile(r"^\s*at (?:(?P<func>[^()]+?) \()?(?P<file>[^()\s]+?):(?P<line>\d+):\d+\)?$")
_NODE_EXC = re.compile(rf"^(?:Uncaught )?(?P<exc>{_EXC_NAME}|Error)(?: \[\w+\])?:\s*(?P<msg>.*)$")
_RUST_ERR = re.compile(r"^error(?:\[(?P<code>E\d{4})\])?: (?P<msg>.+)$")
_RUST_LOC = re.compile(r"^\s*-+>\s*(?P<file>[\w./\\-]+\.rs):(?P<line>\d+)(?::\d+)?")
_RUST_PANIC = re.compile(
    r"^thread '(?P<thread>[^']*)' panicked at (?:'(?P<old>.*)', )?(?P<file>[\w./\\-]+\.rs):"
    r"(?P<line>\d+)(?::\d+)?:?$")
_GO_PANIC = re.compile(r"^panic: (?P<msg>.+)$")
_GO_LOC = re.compile(r"^\s*(?P<file>[\w./\\-]+\.go):(?P<line>\d+)(?: \+0x[0-9a-f]+)?$")
_GO_FUNC = re.compile(r"^(?P<func>[\w./*()]+)\(.*\)$")
_COMPILER = re.compile(
    r"^(?P<file>[\w./\\-]+\.(?:c|cc|cpp|cxx|h|hpp|go|ts|tsx|js|jsx|java|py|rb|swift|kt|cs|zig))"
    r"(?::(?P<line>\d+)(?::\d+)?:|\((?P<line2>\d+),\d+\):) (?:fatal )?error(?: (?P<code>\w+))?: "
    r"(?P<msg>.+)$")
_HTTP_STATUS = re.compile(r"^(?:<\s*)?HTTP/[\d.]+ (?P<code>[45]\d\d)(?: (?P<reason>[A-Za-z][\w' -]*))?$")
_CURL = re.compile(r"^curl: \(22\) The requested URL returned error: (?P<code>[45]\d\d)")
_HTTP_REASONS = {
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 409: "Conflict", 422: "Unprocessable Entity",
    429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Timeout",
}
_HTTP_PAGE = re.compile(r"^(?:Error:?\s*)?(?P<code>[45]\d\d)\s*[:-]?\s*(?P<reason>[A-Z][A-Za-z ]+)$")


def normalize(text: str) -> list[str]:
    """Screen text as lines with OCR's curly quotes straightened and trailing space dropped."""
    return [re.sub(r"(?<=\S)  +", " ", line.translate(_QUOTES)).rstrip() for line in text.splitlines()]


def find_errors(text: str) -> list[ParsedError]:
    """Every error recognized in `text`, in the order they appear on screen."""
    lines = normalize(text)
    found: list[tuple[int, ParsedError]] = []
    for finder in (_python, _pytest, _node, _rust, _go, _compiler, _http):
        found.extend(finder(lines))
    found.sort(key=lambda pair: pair[0])
    seen, out = set(), []
    for _, error in found:
        if error.key() not in seen:
            seen.add(error.key())
            out.append(error)
    return out


def _python(lines: list[str]) -> list[tuple[int, ParsedError]]:
    out, frames, start, last = [], [], None, -100
    for i, raw in enumerate(lines):
        line = raw.strip()
        m = _PY_FRAME.match(line)
        if m:
            start, last = (i if start is None else start), i
            frames.append(Frame(m["file"], int(m["line"]), (m["func"] or "").replace(" ", "_")))
            continue
        if not frames:
            continue
        m = _PY_EXC.match(line)
        if m and raw == raw.lstrip():  # the exception line is never indented; code lines may be
            out.append((start, ParsedError("python", m["exc"], (m["msg"] or "").strip(),
                                           tuple(frames))))
            frames, start = [], None
        elif i - last > 6:
            frames, start = [], None  # frames with no exception line soon after: not a traceback
    return out


def _pytest(lines: list[str]) -> list[tuple[int, ParsedError]]:
    out = []
    located = {m["file"].replace(" ", "_") for m in (_PYTEST_LOC.match(ln.strip()) for ln in lines) if m}
    for i, raw in enumerate(lines):
        line = raw.strip()
        m = _PYTEST_LOC.match(line)
        if m:
            msg = next((e["msg"] or "" for e in map(_PYTEST_E.match, (ln.strip() for ln in lines[max(0, i - 8):i]))
                        if e and e["exc"] == m["exc"]), "")
            out.append((i, ParsedError("test", m["exc"], msg.strip(),
                                       (Frame(m["file"].replace(" ", "_"), int(m["line"])),))))
            continue
        m = _PYTEST_FAILED.match(line)
        if m and m["file"] not in located:  # the summary line repeats a failure shown above
            out.append((i, ParsedError("test", m["exc"] or "failed", (m["msg"] or m["test"]).strip(),
                                       (Frame(m["file"], 0, m["test"]),))))
    return out


def _node(lines: list[str]) -> list[tuple[int, ParsedError]]:
    out = []
    for i, raw in enumerate(lines):
        m = _NODE_EXC.match(raw.strip())
        if not m or raw != raw.lstrip():
            continue
        frames = []
        for follow in lines[i + 1:i + 12]:
            at = _NODE_AT.match(follow.strip())
            if not at:
                break
            frames.append(Frame(at["file"].removeprefix("file://"), int(at["line"]),
                                (at["func"] or "").strip()))
        if frames:  # node prints the innermost frame first
            out.append((i, ParsedError("node", m["exc"], m["msg"].strip(), tuple(reversed(frames)))))
    return out


def _rust(lines: list[str]) -> list[tuple[int, ParsedError]]:
    out = []
    for i, raw in enumerate(lines):
        line = raw.strip()
        m = _RUST_ERR.match(line)
        if m:
            loc = next((_RUST_LOC.match(ln) for ln in lines[i + 1:i + 4] if _RUST_LOC.match(ln)), None)
            if loc:
                out.append((i, ParsedError("rust", m["code"] or "error", m["msg"].strip(),
                                           (Frame(loc["file"], int(loc["line"])),))))
            continue
        m = _RUST_PANIC.match(line)
        if m:
            msg = m["old"] if m["old"] is not None else (lines[i + 1].strip() if i + 1 < len(lines) else "")
            out.append((i, ParsedError("rust", "panic", msg, (Frame(m["file"], int(m["line"])),))))
    return out


def _go(lines: list[str]) -> list[tuple[int, ParsedError]]:
    out = []
    for i, raw in enumerate(lines):
        m = _GO_PANIC.match(raw.strip())
        if not m or not any(ln.strip().startswith("goroutine ") for ln in lines[i + 1:i + 4]):
            continue
        frames, func = [], ""
        for follow in lines[i + 1:i + 20]:
            loc = _GO_LOC.match(follow.strip())
            if loc:
                if not func.startswith("runtime."):
                    frames.append(Frame(loc["file"], int(loc["line"]), func))
                continue
            f = _GO_FUNC.match(follow.strip())
            func = f["func"] if f else ""
        if frames:  # go prints the innermost frame first
            out.append((i, ParsedError("go", "panic", m["msg"].strip(), tuple(reversed(frames)))))
    return out


def _compiler(lines: list[str]) -> list[tuple[int, ParsedError]]:
    out = []
    for i, raw in enumerate(lines):
        m = _COMPILER.match(raw.strip())
        if m:
            line = int(m["line"] or m["line2"])
            out.append((i, ParsedError("compiler", m["code"] or "error", m["msg"].strip(),
                                       (Frame(m["file"], line),))))
    return out


def _http(lines: list[str]) -> list[tuple[int, ParsedError]]:
    out = []
    for i, raw in enumerate(lines):
        line = raw.strip()
        m = _HTTP_STATUS.match(line) or _CURL.match(line)
        reason = ""
        if m:
            code = int(m["code"])
            reason = (m.groupdict().get("reason") or _HTTP_REASONS.get(code, "")).strip()
        else:
            m = _HTTP_PAGE.match(line)
            if not m or _HTTP_REASONS.get(int(m["code"]), "").lower() != m["reason"].strip().lower():
                continue  # "404 Not Found" as a page heading; never any number next to any words
            code, reason = int(m["code"]), m["reason"].strip()
        out.append((i, ParsedError("http", f"HTTP {code}", reason)))
    return out
