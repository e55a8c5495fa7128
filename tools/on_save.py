"""What runs when a file is saved: globs mapped to tests (affected/all/none) and lint.

This is the agent's side of the rules file's on-save section: companion/rules/store.py reads the TOML
and builds an `OnSaveConfig`; the agent asks it for a `SavePlan` per saved path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Literal

import pathspec

from tools.lint import LintConfig
from tools.test_runner import TestsConfig

TestsScope = Literal["affected", "all", "none"]


@dataclass(frozen=True, slots=True)
class OnSaveRule:
    """Saving a file that matches any glob (gitignore syntax: `src/**/*.py`) runs these tools."""

    globs: tuple[str, ...]
    tests: TestsScope = "affected"
    lint: bool = True
    _spec: pathspec.PathSpec = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "globs", tuple(self.globs))
        if not self.globs or not all(isinstance(g, str) and g for g in self.globs):
            raise ValueError(f"an on-save rule needs at least one glob, got {self.globs!r}")
        if self.tests not in ("affected", "all", "none"):
            raise ValueError(f"on-save tests must be affected, all or none; got {self.tests!r}")
        object.__setattr__(self, "_spec", pathspec.PathSpec.from_lines("gitignore", self.globs))

    def matches(self, rel_path: str) -> bool:
        return self._spec.match_file(rel_path)


@dataclass(frozen=True, slots=True)
class SavePlan:
    """What one save triggers."""

    tests: TestsScope
    lint: bool

    @property
    def empty(self) -> bool:
        return self.tests == "none" and not self.lint


@dataclass(frozen=True, slots=True)
class OnSaveConfig:
    """The agent's configuration: on-save rules (first match wins) and how tests and lint run.

    The default runs affected tests and ruff on every saved Python file.
    """

    rules: tuple[OnSaveRule, ...] = (OnSaveRule(("*.py",)),)
    tests: TestsConfig = field(default_factory=TestsConfig)
    lint: LintConfig = field(default_factory=LintConfig)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", tuple(self.rules))

    def plan_for(self, rel_path: str) -> SavePlan:
        rel = PurePosixPath(rel_path).as_posix()
        if rel.startswith(("../", ".git/")) or PurePosixPath(rel).is_absolute():
            return SavePlan("none", False)
        for rule in self.rules:
            if rule.matches(rel):
                return SavePlan(rule.tests, rule.lint)
        return SavePlan("none", False)
