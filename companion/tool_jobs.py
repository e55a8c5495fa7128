"""What each agent job does: run one validated tool call and say what came of it.

The coroutines here never block the event loop: tests and lint are async subprocesses, GitPython
runs in a worker thread. Each returns an `Outcome` (a spoken summary and the structured data);
problems are `ToolError`s, which the agent turns into error events.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from companion.streams.ignore import IgnoreRules
from companion.summaries import (
    LintMemory,
    TestMemory,
    summarize_git,
    summarize_lint,
    summarize_tests,
)
from tools import git_ops
from tools.affected import ImportIndex, affected_tests
from tools.git_changes import PreparedChange, prepare_change
from tools.lint import run_lint
from tools.on_save import OnSaveConfig
from tools.registry import ToolError
from tools.test_runner import ProgressCallback, run_tests

_GIT_READERS: dict[str, Callable] = {
    "git_status": lambda repo, a: git_ops.status(repo),
    "git_diff": lambda repo, a: git_ops.diff(repo, a["staged"], a["ref"], a["paths"] or ()),
    "git_log": lambda repo, a: git_ops.log(repo, a["n"], a["path"], a["ref"]),
    "git_show": lambda repo, a: git_ops.show(repo, a["ref"]),
    "git_blame": lambda repo, a: git_ops.blame(repo, a["path"], a["start"], a["end"] or a["start"]),
    "git_branches": lambda repo, a: git_ops.branches(repo),
    "git_stash_list": lambda repo, a: git_ops.stash_list(repo),
}


@dataclass(frozen=True, slots=True)
class Outcome:
    """A finished job: what to say ("" when there is nothing new) and the structured result."""

    summary: str
    data: dict


class ToolJobs:
    """Runs tool calls against one project root, remembering failures across runs for dedup."""

    def __init__(self, root: Path, config: OnSaveConfig) -> None:
        self.root = root
        self.config = config
        self.index = ImportIndex(root)
        self.test_memory = TestMemory()
        self.lint_memory = LintMemory()

    def context_paths(self, args: dict, context: dict) -> list[str]:
        """Paths named in the call, else the file(s) the user is on, relative to the root.

        A path the call names outside the repository is an error; the user's own context may
        point anywhere (another project open beside this one) and such paths are just left out.
        """
        named = [self.relative(p) for p in args.get("paths") or [] if p]
        outside = [p for p in named if not self.inside(p)]
        if outside:
            raise ToolError(f"path outside the repository: {outside[0]}")
        ignore = IgnoreRules(self.root)  # ignored files are never read, by lint or tests either
        hidden = [p for p in named if ignore.is_ignored(p)]
        if hidden:
            raise ToolError(f"{hidden[0]} is ignored (.gitignore, .companionignore or a nested "
                            "repository); the companion does not read it")
        if named:
            return named
        seen = [context["file"]] if isinstance(context.get("file"), str) else []
        seen += [p for p in context.get("files") or [] if isinstance(p, str)]
        return [rel for rel in (self.relative(p) for p in seen if p)
                if self.inside(rel) and not ignore.is_ignored(rel)]

    def relative(self, path: str) -> str:
        """`path` relative to the root (POSIX), or as given when it lies outside."""
        candidate = Path(path)
        if candidate.is_absolute():
            try:
                return candidate.resolve().relative_to(self.root).as_posix()
            except ValueError:
                return candidate.as_posix()
        return PurePosixPath(os.path.normpath(path)).as_posix()

    @staticmethod
    def inside(rel: str) -> bool:
        return not (PurePosixPath(rel).is_absolute() or rel == ".." or rel.startswith("../"))

    async def tests(
        self,
        args: dict,
        context: dict,
        *,
        everything: bool,
        on_progress: ProgressCallback,
        on_start: Callable[[int], None],
    ) -> Outcome:
        config = self.config.tests
        scope = args["scope"]
        paths = self.context_paths(args, context)
        selected: list[str] = []
        if scope == "affected" and config.is_pytest:
            if not paths:
                scope = "all"
            else:
                selected = await asyncio.to_thread(affected_tests, self.index, paths)
                if not selected:
                    names = ", ".join(PurePosixPath(p).name for p in paths)
                    return Outcome(
                        f"no tests are affected by {names}" if everything else "",
                        {
                            "scope": "affected",
                            "changed": paths,
                            "selected": [],
                            "failures": [],
                            "counts": {"passed": 0, "failed": 0},
                        },
                    )
        run = await run_tests(
            self.root,
            config,
            selected=selected,
            scope=scope,
            on_progress=on_progress,
            on_start=on_start,
        )
        news = self.test_memory.update(run)
        data = run.to_dict()
        data.update(
            changed=paths,
            new_failures=[f.test_id for f in news.new],
            repeated_failures=[f.test_id for f in news.repeated],
            recovered=list(news.recovered),
        )
        return Outcome(summarize_tests(run, news, everything=everything), data)

    async def lint(self, args: dict, context: dict, *, everything: bool) -> Outcome:
        paths = self.context_paths(args, context)
        result = await run_lint(self.root, paths, self.config.lint)
        # linting everything lets ruff see .companionignore'd files: none of their findings go on
        ignore = IgnoreRules(self.root)
        result["findings"] = [f for f in result["findings"] if not ignore.is_ignored(f["file"])]
        result["count"] = len(result["findings"])
        new = self.lint_memory.update(result["files"], result["findings"])
        result["new_findings"] = len(new)
        shown = result["findings"] if everything else new
        return Outcome(summarize_lint(shown, files=result["files"], everything=everything), result)

    async def git_read(self, tool: str, args: dict) -> Outcome:
        def work() -> dict:
            repo = git_ops.open_repo(self.root)
            try:
                return _GIT_READERS[tool](repo, args)
            finally:
                repo.close()

        data = await asyncio.to_thread(work)
        return Outcome(summarize_git(tool, data), data)

    async def git_prepare(self, tool: str, args: dict) -> PreparedChange:
        def work() -> PreparedChange:
            repo = git_ops.open_repo(self.root)
            try:
                return prepare_change(repo, tool, args)
            except BaseException:
                repo.close()
                raise

        return await asyncio.to_thread(work)

    async def git_apply(self, change: PreparedChange) -> Outcome:
        data = await asyncio.to_thread(change.apply)
        return Outcome(summarize_git("change", data), data)
