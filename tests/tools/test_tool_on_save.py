"""On-save rules: globs pick what runs; the first matching rule wins."""

from __future__ import annotations

import pytest

from tools.on_save import OnSaveConfig, OnSaveRule, SavePlan


def test_first_matching_rule_wins_and_unmatched_files_run_nothing():
    config = OnSaveConfig(
        rules=(
            OnSaveRule(("docs/**",), tests="none", lint=False),
            OnSaveRule(("src/**/*.py",), tests="affected", lint=True),
            OnSaveRule(("*.toml",), tests="all", lint=False),
        )
    )
    assert config.plan_for("src/pkg/parse.py") == SavePlan("affected", True)
    assert config.plan_for("pyproject.toml") == SavePlan("all", False)
    assert config.plan_for("docs/conf.py").empty
    assert config.plan_for("README.md").empty
    assert config.plan_for(".git/index").empty and config.plan_for("../outside.py").empty


def test_default_runs_affected_tests_and_ruff_on_python_files():
    config = OnSaveConfig()
    assert config.plan_for("a/b/c.py") == SavePlan("affected", True)
    assert config.plan_for("notes.txt").empty


def test_bad_rules_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="needs at least one glob"):
        OnSaveRule(())
    with pytest.raises(ValueError, match="must be affected, all or none; got 'some'"):
        OnSaveRule(("*.py",), tests="some")
