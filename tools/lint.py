"""Lint changed files: ruff's JSON output (and optionally mypy's) as structured findings."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import shutil
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from tools.process import run_command, tool_cache_dir
from tools.registry import ToolError

_MYPY_LINE = re.compile(
    r"^(?P<file>[^:]+):(?P<line>\d+):(?:(?P<col>\d+):)? (?P<sev>error|note): (?P<msg>.*?)"
    r"(?:\s+\[(?P<code>[\w-]+)\])?$"
)


@dataclass(frozen=True, slots=True)
class LintConfig:
    """Which linters run and how: ruff always (when `ruff` is true), mypy only when asked."""

    ruff: bool = True
    mypy: bool = False
    timeout_s: float = 60.0


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem a linter reported, at a 1-based line and column of a repository-relative file."""

    file: str
    line: int
    col: int
    code: str
    message: str
    tool: str = "ruff"

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def signature(self) -> tuple[str, str, str]:
        """Identity for dedup; the line is left out because edits above a finding move it."""
        return (self.file, self.code, self.message)


def ruff_argv() -> list[str]:
    """ruff beside this interpreter (a venv), else on PATH, else as a module."""
    beside = Path(sys.executable).with_name("ruff")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("ruff")
    return [found] if found else [sys.executable, "-m", "ruff"]


# Debugging leftovers the on-save lint also looks for (ruff's own rules, selected on top of the
# project's configuration), reported only on the lines the save added: `keep_leftovers`
LEFTOVER_CODES = {"T201": "print", "FIX002": "todo"}
# Findings that are clear mistakes, not style: worth saying unasked (companion/rules/
# asked_findings.py decides what else the user asked for). "syntax" is ruff's unparsable file.
MISTAKE_CODES = frozenset({"syntax", "E999", "F821", "F822", "F823", "F632", "F701", "F702", "F704",
                           "F706"})
LINTED_SUFFIXES = (".py", ".pyi")  # the files a lint looks at; others in its paths are skipped


def keep_leftovers(findings: list[dict], added: dict[str, Iterable[int]]) -> list[dict]:
    """`findings` without the leftover ones (LEFTOVER_CODES) that are not on a line of `added`
    (file -> lines the saves being linted added): a print that was already there is the
    project's own, not something just left in."""
    lines = {path: set(numbers) for path, numbers in added.items()}
    return [f for f in findings
            if f["code"] not in LEFTOVER_CODES or f["line"] in lines.get(f["file"], ())]


def worth_saying(codes: Iterable[str], asked: Iterable[str]) -> bool:
    """Whether findings with these codes may be said unprompted, when the user's rules ask for
    the kinds `asked` ("print", "todo" or "lint": any finding): a clear mistake always may."""
    asked = set(asked)
    return any(code in MISTAKE_CODES or "lint" in asked or LEFTOVER_CODES.get(code) in asked
               for code in codes)


def leftovers_first(findings: list[dict]) -> list[dict]:
    """`findings` with the debugging leftovers first: a save's summary names one of them before
    any style finding (summarize_lint names the first)."""
    return sorted(findings, key=lambda f: f["code"] not in LEFTOVER_CODES)


async def run_lint(
    root: str | Path, paths: Sequence[str], config: LintConfig = LintConfig(),
    extra_select: Sequence[str] = (),
) -> dict:
    """Lint `paths` (relative to `root`; empty means the whole project); returns findings + notes.
    `extra_select`: ruff rule codes checked beyond the project's configuration."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise ToolError(f"project directory does not exist: {root}")
    targets = [p for p in paths if p.endswith(LINTED_SUFFIXES)] if paths else ["."]
    missing = [p for p in targets if not (root / p).exists()]
    if missing:
        raise ToolError(f"cannot lint {missing[0]}: no such file in {root}")
    findings: list[Finding] = []
    notes: list[str] = []
    if not targets:
        notes.append("no Python files among the changed files")
    elif config.ruff:
        findings += await _ruff(root, targets, config, extra_select)
    if targets and config.mypy:
        if importlib.util.find_spec("mypy") is None:
            notes.append("mypy is not installed; skipped")
        else:
            findings += await _mypy(root, targets, config)
    findings.sort(key=lambda f: (f.file, f.line, f.col, f.code))
    return {
        "files": targets,
        "findings": [f.to_dict() for f in findings],
        "notes": notes,
        "count": len(findings),
    }


async def _ruff(root: Path, targets: list[str], config: LintConfig,
                extra_select: Sequence[str] = ()) -> list[Finding]:
    argv = [
        *ruff_argv(),
        "check",
        *([f"--extend-select={','.join(extra_select)}"] if extra_select else []),
        "--output-format",
        "json",
        "--no-fix",
        "--exit-zero",
        "--no-cache",  # no .ruff_cache written into the user's repository
        "--",
        *targets,
    ]
    result = await run_command(argv, root, timeout_s=config.timeout_s)
    if result.timed_out:
        raise ToolError(f"ruff timed out after {config.timeout_s:g} seconds")
    start = result.output.find("[")
    try:
        items = json.loads(result.output[start:]) if start >= 0 else None
    except json.JSONDecodeError:
        items = None
    if not isinstance(items, list):
        last = result.last_lines(1)
        raise ToolError(
            f"ruff failed (exit code {result.returncode}): {last[0][:200] if last else 'no output'}"
        )
    findings = []
    for item in items:
        location = item.get("location") or {}
        findings.append(
            Finding(
                file=_relative(root, item.get("filename", "")),
                line=int(location.get("row") or 0),
                col=int(location.get("column") or 0),
                code=item.get("code") or "syntax",
                message=item.get("message", ""),
            )
        )
    return findings


async def _mypy(root: Path, targets: list[str], config: LintConfig) -> list[Finding]:
    argv = [
        sys.executable,
        "-m",
        "mypy",
        "--show-column-numbers",
        "--show-error-codes",
        "--no-error-summary",
        "--no-color-output",
        "--cache-dir",
        str(tool_cache_dir("mypy") / hashlib.sha256(str(root).encode()).hexdigest()[:16]),
        "--",
        *targets,
    ]
    result = await run_command(argv, root, timeout_s=config.timeout_s)
    if result.timed_out:
        raise ToolError(f"mypy timed out after {config.timeout_s:g} seconds")
    findings = []
    for line in result.output.splitlines():
        m = _MYPY_LINE.match(line.strip())
        if m and m["sev"] == "error":
            findings.append(
                Finding(
                    _relative(root, m["file"]),
                    int(m["line"]),
                    int(m["col"] or 0),
                    m["code"] or "mypy",
                    m["msg"],
                    tool="mypy",
                )
            )
    return findings


def _relative(root: Path, filename: str) -> str:
    path = Path(filename)
    if path.is_absolute():
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            return path.as_posix()
    return path.as_posix()
