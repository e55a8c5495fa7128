"""What each agent job does: run one validated tool call and say what came of it.

The coroutines here never block the event loop: tests and lint are async subprocesses, GitPython
runs in a worker thread. Each returns an `Outcome` (a spoken summary and the structured data);
problems are `ToolError`s, which the agent turns into error events.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from companion.agent.bug_report import BugReport, build_report
from companion.agent.explain_request import build_messages, first_sentence
from companion.agent.git_summaries import summarize_git
from companion.agent.reasoning import ReasoningError, stream_answer
from companion.agent.summaries import (
    LintMemory,
    TestMemory,
    summarize_lint,
    summarize_tests,
)
from companion.core.ignore import IgnoreRules
from companion.rules.schema import ReasoningConfig
from tools import git_ops
from tools.affected import ImportIndex, affected_tests
from tools.catalog import (
    GIT_BLAME,
    GIT_BRANCHES,
    GIT_DIFF,
    GIT_LOG,
    GIT_SHOW,
    GIT_STASH_LIST,
    GIT_STATUS,
)
from tools.changed_lines import ChangeLog
from tools.git_changes import PreparedChange, prepare_change
from tools.lint import LEFTOVER_CODES, LINTED_SUFFIXES, keep_leftovers, leftovers_first, run_lint
from tools.on_save import OnSaveConfig
from tools.registry import ToolError
from tools.test_runner import ProgressCallback, TestRun, run_tests
from tools.warm_runner import WarmRunner

_GIT_READERS: dict[str, Callable] = {  # the read-only git tools, by registry name
    GIT_STATUS: lambda repo, a: git_ops.status(repo),
    GIT_DIFF: lambda repo, a: git_ops.diff(repo, a["staged"], a["ref"], a["paths"] or ()),
    GIT_LOG: lambda repo, a: git_ops.log(repo, a["n"], a["path"], a["ref"]),
    GIT_SHOW: lambda repo, a: git_ops.show(repo, a["ref"]),
    GIT_BLAME: lambda repo, a: git_ops.blame(repo, a["path"], a["start"], a["end"] or a["start"]),
    GIT_BRANCHES: lambda repo, a: git_ops.branches(repo),
    GIT_STASH_LIST: lambda repo, a: git_ops.stash_list(repo),
}


@dataclass(frozen=True, slots=True)
class Outcome:
    """A finished job: what to say ("" when there is nothing new) and the structured result."""

    summary: str
    data: dict


class ToolJobs:
    """Runs tool calls against one project root, remembering failures across runs for dedup."""

    def __init__(self, root: Path, config: OnSaveConfig, *, warm: bool = True,
                 clock: Callable[[], float] | None = None) -> None:
        self.root = root
        self.config = config
        self.index = ImportIndex(root)
        self.test_memory = TestMemory()
        self.lint_memory = LintMemory()
        self.changes = ChangeLog()  # lines saved since the tests last passed
        self.unlinted = ChangeLog()  # lines saved since the on-save lint last covered their file
        self.saved = ChangeLog()  # every line saved this session: a requested lint's leftovers
        self.diffs: dict[str, list[str]] = {}  # the diffs themselves, for "why?" requests
        self.last_failures: list[dict] = []  # the latest test run's failures, as sent out
        self.reasoning = ReasoningConfig()
        self.warm = WarmRunner(root) if warm else None
        self.clock = clock or time.monotonic

    async def aclose(self) -> None:
        if self.warm is not None:
            await self.warm.aclose()

    def record_save(self, path: str, diff: str) -> None:
        """A FileChanged diff: its lines are what a failure is pinned on until the tests pass."""
        rel = self.relative(path)
        self.changes.record(rel, diff, self.clock())
        if rel.endswith(LINTED_SUFFIXES):  # only what the on-save lint covers (and forgets)
            self.unlinted.record(rel, diff, self.clock())
            self.saved.record(rel, diff, self.clock())
        if diff:
            self.diffs[rel] = (self.diffs.get(rel, []) + [diff])[-3:]

    def bug_reports(self, run: TestRun, changes: dict) -> list[BugReport]:
        return [build_report(self.root, f, run.details.get(f.test_id), changes)
                for f in run.failures]

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
        changes = self.changes.snapshot()
        started = self.clock()  # "changed just now" for the save that started this run
        run = await run_tests(
            self.root,
            config,
            selected=selected,
            scope=scope,
            on_progress=on_progress,
            on_start=on_start,
            changed=changes,
            warm=self.warm,
        )
        reports = await asyncio.to_thread(self.bug_reports, run, changes)
        news = self.test_memory.update(run, reports)
        now = started
        data = run.to_dict()
        for item, report in zip(data["failures"], reports, strict=True):
            item.update(report.to_dict(now))
        if run.report is not None and not run.failures and run.exit_code in (0, 5):
            self.changes.clear()
            self.diffs.clear()
        if run.report is not None:
            self.last_failures = data["failures"]
        data.update(
            changed=paths,
            new_failures=[f.test_id for f in news.new],
            repeated_failures=[f.test_id for f in news.repeated],
            recovered=list(news.recovered),
        )
        summary = summarize_tests(run, news, everything=everything, reports=reports, now=now)
        return Outcome(summary, data)

    async def explain(self, args: dict, on_text: Callable[[str], None]) -> Outcome:
        """Ask the reasoning model why the latest failure (or the named test) fails."""
        wanted = args.get("test") or ""
        failures = [f for f in self.last_failures
                    if not wanted or f["test_id"] == wanted or f["test_id"].endswith(wanted)
                    or f["test_id"].split("::")[-1].split("[")[0] == wanted]
        if not failures:
            raise ToolError(f"no failing test named {wanted} to explain" if wanted else
                            "there is no failing test to explain: run the tests first")
        failure = failures[0]
        diffs = {p: "".join(d) for p, d in self.diffs.items()}
        messages = await asyncio.to_thread(
            build_messages, self.root, failure, diffs, args.get("question") or "")
        try:
            answer = await stream_answer(self.reasoning, messages, on_text)
        except ReasoningError as exc:
            raise ToolError(str(exc)) from None
        return Outcome(first_sentence(answer), {
            "answer": answer, "test_id": failure["test_id"], "model": self.reasoning.model,
            "request_chars": sum(len(m["content"]) for m in messages)})

    async def lint(self, args: dict, context: dict, *, everything: bool) -> Outcome:
        paths = self.context_paths(args, context)
        # a print or TODO is a finding too (tools.lint.LEFTOVER_CODES) where the user put it: on
        # save, on the lines that save added; asked for, on any line saved this session, so the
        # lint the user asks for never calls clean a print the companion just pointed out
        result = await run_lint(self.root, paths, self.config.lint, tuple(LEFTOVER_CODES))
        # linting everything lets ruff see .companionignore'd files: none of their findings go on
        ignore = IgnoreRules(self.root)
        result["findings"] = [f for f in result["findings"] if not ignore.is_ignored(f["file"])]
        added = (self.saved if everything else self.unlinted).snapshot()
        result["findings"] = keep_leftovers(result["findings"], added)
        if not everything:
            for path in result["files"]:
                self.unlinted.forget(path)
        result["count"] = len(result["findings"])
        new = self.lint_memory.update(result["files"], result["findings"])
        result["new_findings"] = len(new)
        result["new_codes"] = sorted({f["code"] for f in new})  # what the rules let be said unasked
        shown = leftovers_first(result["findings"] if everything else new)
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
