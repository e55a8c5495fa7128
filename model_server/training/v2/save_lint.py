"""The agent's on-save lint of one version, as `ToolJobs.lint(everything=False)` runs it: ruff with
the project's rules plus the debugging-leftover rules (`tools.lint.LEFTOVER_CODES`), cached per
content. Which of its leftover findings are kept (those on lines the save added) is decided per
session, by SessionAgent with the same `keep_leftovers` the agent uses.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
from pathlib import Path

from model_server.training.v2.code_runs import CACHE, code_version
from tools.lint import LEFTOVER_CODES, run_lint

SAVE_LINT_CODE = ("tools.lint", "tools.process", "model_server.training.v2.save_lint")


def save_lint(name: str, source: str, cache: Path = CACHE) -> dict:
    """run_lint's result for `<name>.py` at this content, leftover rules selected; cached."""
    version = code_version(SAVE_LINT_CODE)
    key = hashlib.sha256(f"{version}\0{name}\0{source}".encode()).hexdigest()[:24]
    path = cache / "save-lint" / f"{key}.json"
    if path.is_file():
        return json.loads(path.read_text())
    root = cache / "work" / f"save-lint-{key}-{os.getpid()}"
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{name}.py").write_text(source)
    try:
        result = asyncio.run(run_lint(root, [f"{name}.py"], extra_select=tuple(LEFTOVER_CODES)))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(result))
    tmp.replace(path)
    return result
