"""Real results of requested lint and git calls: the agent's ToolJobs on a real git repository.

For a project, a repository is made (the clean version committed on `main`, a `work` branch with
a stash and an uncommitted mutant on top), and every request in `lines` that is not a test run is
executed the way the agent executes it: `ToolJobs.lint`, `ToolJobs.git_read`, or
`ToolJobs.git_prepare` for calls that change the repository (whose summary is the confirmation
question). A refused call gives the error the agent would report. Each result keeps the phase,
summary and data the agent's JobEvent carries (the data decides the v2 status word: a lint with
findings is `failed`). Cached as JSON per project and version of the code that made it.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path

from companion.agent.tool_jobs import ToolJobs
from model_server.training.v2.code_runs import CACHE, GIT_CODE, Project, code_version
from model_server.training.v2.lines import REQUESTS, typed_requests
from tools.catalog import default_registry
from tools.on_save import OnSaveConfig
from tools.registry import ToolError


def call_key(tool: str, args: dict) -> str:
    return json.dumps({"tool": tool, "args": args}, sort_keys=True)


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=Dev", "-c", "user.email=dev@example.com", *args],
                   cwd=root, check=True, capture_output=True, timeout=30)


def make_repo(project: Project, root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{project.name}.py").write_text(project.clean.source)
    (root / f"test_{project.name}.py").write_text(project.test_source)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", f"add {project.name}")
    _git(root, "switch", "-q", "-c", "work")
    (root / f"{project.name}.py").write_text(project.clean.source + "\n# scratch\n")
    _git(root, "stash", "push", "-q", "-m", "scratch notes")
    failing = [v for v in project.mutants if v.run.failures]
    (root / f"{project.name}.py").write_text((failing or [project.clean])[0].source)


async def _outcome(jobs: ToolJobs, tool: str, args: dict, module: str) -> tuple[str, str, dict]:
    """(phase, summary, data) as the agent's JobEvent would carry them (BackgroundAgent._run)."""
    spec = default_registry().get(tool)
    full = spec.validate(args)
    context = {"file": f"{module}.py"}
    try:
        if tool == "lint":
            outcome = await jobs.lint(full, context, everything=True)
            return "result", outcome.summary, outcome.data
        if spec.changes_repository:
            change = await jobs.git_prepare(tool, full)
            return "needs_confirmation", change.summary, {"preview": change.preview}
        outcome = await jobs.git_read(tool, full)
        return "result", outcome.summary, outcome.data
    except ToolError as exc:
        return "error", str(exc), {"error": str(exc), **exc.data}


def git_results(project: Project, cache: Path = CACHE) -> dict[str, tuple[str, str, dict]]:
    """call_key -> (phase, summary, data) for every non-test request about this project."""
    # git/ held (phase, summary) only
    path = cache / "git-events" / f"{project.name}-{code_version(GIT_CODE)}.json"
    if path.is_file():
        return {k: tuple(v) for k, v in json.loads(path.read_text()).items()}
    # each process builds in its own directory (two data generators side by side once removed
    # the repository the other was reading); the leaf keeps the project's name
    root = cache / "git-events" / f"work-{os.getpid()}" / project.name
    if root.exists():
        subprocess.run(["rm", "-rf", str(root)], check=True)
    make_repo(project, root)
    jobs = ToolJobs(root, OnSaveConfig())
    out: dict[str, tuple[str, str, dict]] = {}
    for _, tool, args in REQUESTS + typed_requests(project.name):
        key = call_key(tool, args)
        if tool != "tests" and key not in out:
            out[key] = asyncio.run(_outcome(jobs, tool, args, project.name))
    subprocess.run(["rm", "-rf", str(root.parent)], check=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(out, indent=1, default=str) + "\n")
    os.replace(tmp, path)  # whole or absent: the other generator may read it any moment
    return {k: tuple(v) for k, v in json.loads(path.read_text()).items()}  # as a cache hit reads
