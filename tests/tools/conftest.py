"""Fixtures for the tools' tests: real temporary git repositories and a sample project."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from benchmarks.sample_project import git, make_sample_project


@pytest.fixture
def sample_project(tmp_path: Path) -> Path:
    """The sample project with its planted bug, committed on branch main."""
    return make_sample_project(tmp_path / "proj")


@pytest.fixture
def empty_repo(tmp_path: Path) -> Path:
    """A git repository with no commits yet."""
    root = tmp_path / "empty"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "Sample Dev")
    git(root, "config", "user.email", "dev@example.com")
    return root


@pytest.fixture
def conflicted_repo(sample_project: Path) -> Path:
    """The sample project in the middle of a merge with a conflict in util.py."""
    root = sample_project
    git(root, "switch", "-q", "-c", "other")
    (root / "util.py").write_text("def shout(text):\n    return 'other'\n")
    git(root, "commit", "-qam", "other side")
    git(root, "switch", "-q", "main")
    (root / "util.py").write_text("def shout(text):\n    return 'main'\n")
    git(root, "commit", "-qam", "main side")
    merge = subprocess.run(
        ["git", "merge", "other"], cwd=root, capture_output=True, text=True, check=False
    )
    assert merge.returncode != 0 and "CONFLICT" in merge.stdout
    return root
