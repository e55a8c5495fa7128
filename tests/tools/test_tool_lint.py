"""ruff's JSON output becomes structured findings on the changed files."""

from __future__ import annotations

import importlib.util

import pytest

from tools.lint import LintConfig, run_lint
from tools.registry import ToolError


async def test_ruff_findings_are_structured(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.ruff.lint]\nselect = ['F']\n")
    (tmp_path / "bad.py").write_text("import os\n\n\ndef f():\n    return undefined_name\n")
    (tmp_path / "good.py").write_text("X = 1\n")
    (tmp_path / "notes.txt").write_text("not python")
    result = await run_lint(tmp_path, ["bad.py", "good.py", "notes.txt"])
    assert result["files"] == ["bad.py", "good.py"]
    assert [(f["file"], f["line"], f["col"], f["code"]) for f in result["findings"]] == [
        ("bad.py", 1, 8, "F401"),
        ("bad.py", 5, 12, "F821"),
    ]
    assert result["findings"][0]["message"] == "`os` imported but unused"


async def test_binary_garbage_is_a_syntax_finding_not_a_crash(tmp_path):
    (tmp_path / "blob.py").write_bytes(b"\x00\x01\x02binary")
    result = await run_lint(tmp_path, ["blob.py"])
    assert result["count"] >= 1 and result["findings"][0]["code"] == "invalid-syntax"


async def test_missing_file_and_missing_mypy(tmp_path):
    with pytest.raises(ToolError, match="cannot lint gone.py: no such file"):
        await run_lint(tmp_path, ["gone.py"])
    (tmp_path / "ok.py").write_text("X = 1\n")
    result = await run_lint(tmp_path, ["ok.py"], LintConfig(mypy=True))
    assert result["findings"] == []
    expected = [] if importlib.util.find_spec("mypy") else ["mypy is not installed; skipped"]
    assert result["notes"] == expected
