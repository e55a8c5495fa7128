"""A tiny git project with a planted off-by-one, for the agent's tests and its benchmark.

`parse.parse_header` returns `fields[len(fields)]` (IndexError) instead of `fields[-1]`; the
project's tests catch it. `fix_bug` / `plant_bug` flip it so "passes again" can be checked.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

BUGGY = "    return fields[len(fields)]\n"
FIXED = "    return fields[len(fields) - 1]\n"

PARSE = (
    '''"""Parse a comma-separated header line."""


def parse_header(line):
    fields = line.split(",")
    # the planted bug: one past the end
'''
    + BUGGY
)

TEST_PARSE = """from parse import parse_header


def test_header():
    assert parse_header("a,b,c") == "c"


def test_single_field():
    assert parse_header("only") == "only"
"""

UTIL = '''"""String helpers that have nothing to do with parsing."""


def shout(text):
    return text.upper() + "!"
'''

TEST_UTIL = """from util import shout


def test_shout():
    assert shout("hi") == "HI!"
"""

PYPROJECT = """[tool.pytest.ini_options]
pythonpath = ["."]
testpaths = ["tests"]
"""


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, text=True
    ).stdout


def make_sample_project(root: str | Path, *, commit: bool = True) -> Path:
    """Write the project under `root`, `git init` it, and (by default) commit everything."""
    root = Path(root)
    (root / "tests").mkdir(parents=True, exist_ok=True)
    files = {
        "parse.py": PARSE,
        "util.py": UTIL,
        "pyproject.toml": PYPROJECT,
        "tests/test_parse.py": TEST_PARSE,
        "tests/test_util.py": TEST_UTIL,
    }
    for rel, text in files.items():
        (root / rel).write_text(text)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "Sample Dev")
    git(root, "config", "user.email", "dev@example.com")
    git(root, "config", "commit.gpgsign", "false")
    if commit:
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "sample project with a planted bug")
    return root


def fix_bug(root: str | Path) -> None:
    path = Path(root) / "parse.py"
    path.write_text(path.read_text().replace(BUGGY, FIXED))


def plant_bug(root: str | Path) -> None:
    path = Path(root) / "parse.py"
    path.write_text(path.read_text().replace(FIXED, BUGGY))
