"""The background agent: runs delegated and on-save tool jobs concurrently and reports JobEvents.

It lives on the companion's asyncio loop and never blocks it. Public API (call from the loop):

    agent = BackgroundAgent(root, sink, config=OnSaveConfig(), max_concurrent=2)
    agent.tool_descriptions()            -> text for the model's pinned prefix
    agent.submit_call(call_json, context) -> job id   (the model's `<|call|>` JSON)
    agent.submit(tool, args, context)     -> job id   (the UI, already-parsed)
    agent.on_file_saved(path, diff)       -> job ids  (rules-driven: affected tests, ruff; the
                                                   FileChanged diff pins failures on your edits)
    agent.confirm(job_id) / deny(job_id)  -> bool     (repository-changing git calls)
    agent.cancel(job_id) -> bool;  agent.list_jobs() -> list[JobInfo]
    await agent.wait(job_id); await agent.wait_idle(); await agent.aclose()

Every outcome is a `JobEvent` given to `sink`; a bad call is an error event, never an exception.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable
from pathlib import Path

from companion.agent.job import Job, JobInfo, tool_name_guess
from companion.agent.job_events import JobEvents
from companion.agent.reminders import remind
from companion.agent.save_jobs import SaveJobs
from companion.agent.tool_jobs import Outcome, ToolJobs
from companion.core.events import JobEvent
from companion.rules.schema import ReasoningConfig
from tools.catalog import EXPLAIN, LINT, REMIND, TESTS, default_registry
from tools.on_save import OnSaveConfig
from tools.registry import CallError, ToolRegistry

HISTORY = 200  # finished jobs kept for list_jobs

__all__ = ["BackgroundAgent", "JobInfo"]


class BackgroundAgent:
    """Runs tool jobs for one repository root, at most `max_concurrent` at a time."""

    def __init__(
        self,
        root: str | Path,
        sink: Callable[[JobEvent], None],
        *,
        config: OnSaveConfig | None = None,
        max_concurrent: int = 2,
        registry: ToolRegistry | None = None,
        clock: Callable[[], float] = time.monotonic,
        warm_tests: bool = True,
    ) -> None:
        if max_concurrent < 1:
            raise ValueError(f"max_concurrent must be at least 1, got {max_concurrent}")
        self.root = Path(root).resolve()
        self.sink = sink
        self.events = JobEvents(sink, clock)  # every JobEvent goes out through it
        self.registry = registry or default_registry()
        self.clock = clock
        self.jobs_runner = ToolJobs(
            self.root, config or OnSaveConfig(), warm=warm_tests, clock=clock
        )
        self._slots = asyncio.Semaphore(max_concurrent)
        self._git_lock = asyncio.Lock()  # one repository change at a time
        self._jobs: dict[str, Job] = {}
        self._ids = itertools.count(1)
        self._saves = SaveJobs(self.root, self.jobs_runner, self.submit, self.cancel)
        # how each tool runs; every other registered tool is a read-only git tool
        self._runners = {TESTS: self._run_tests, LINT: self._run_lint, EXPLAIN: self._explain,
                         REMIND: self._remind}

    # ---- public API -------------------------------------------------------------------------

    @property
    def config(self) -> OnSaveConfig:
        return self.jobs_runner.config

    def set_config(self, config: OnSaveConfig) -> None:
        """New rules (hot reload): later jobs use them; running ones finish as they started."""
        self.jobs_runner.config = config

    def set_reasoning(self, config: ReasoningConfig) -> None:
        """The [reasoning] table (hot reload): where `explain` asks "why?"."""
        self.jobs_runner.reasoning = config

    def tool_descriptions(self) -> str:
        return self.registry.describe()

    def submit_call(self, call_json: str, context: dict | None = None) -> str:
        """Take the model's delegation (`{"tool": ..., "args": ...}`) with its context package."""
        job = self._new_job("call", {}, context or {}, "model")
        try:
            call = self.registry.parse_call(call_json)
        except CallError as exc:
            job.tool = tool_name_guess(call_json)
            self.events.finish(job, "error", str(exc), {"error": str(exc), "call": call_json[:500]})
            return job.job_id
        job.tool, job.args = call.tool, call.args
        self._start(job)
        return job.job_id

    def submit(
        self,
        tool: str,
        args: dict | None = None,
        context: dict | None = None,
        *,
        origin: str = "ui",
    ) -> str:
        """Start a call that is already parsed (the UI, the rules); validated like the model's."""
        job = self._new_job(tool, {}, context or {}, origin)
        try:
            job.args = self.registry.get(tool).validate(args or {})
        except CallError as exc:
            self.events.finish(job, "error", str(exc), {"error": str(exc)})
            return job.job_id
        self._start(job)
        return job.job_id

    def on_file_saved(self, path: str | Path, diff: str = "") -> list[str]:
        """A file was saved: run what the on-save rules say (a newer save cancels a stale run).

        `diff` is the FileChanged unified diff; its lines are remembered until the tests pass,
        so a failure can be pinned on the line you changed."""
        return self.on_files_saved([(path, diff)])

    def on_files_saved(self, saves: list[tuple[str | Path, str]]) -> list[str]:
        """Files were saved together (a burst of (path, diff)): one restart of each on-save job
        for all of them (companion.agent.save_jobs)."""
        return self._saves.on_files_saved(saves)

    def confirm(self, job_id: str) -> bool:
        job = self._jobs.get(job_id)
        if job is None or job.state != "needs_confirmation" or job.change is None:
            return False
        job.state = "queued"
        job.task = _running_loop().create_task(self._apply(job))
        job.task.add_done_callback(lambda task: self._cancelled_before_start(job, task))
        return True

    def deny(self, job_id: str) -> bool:
        job = self._jobs.get(job_id)
        if job is None or job.state != "needs_confirmation":
            return False
        job.change = None
        summary = f"{job.tool.replace('_', ' ')} dropped; nothing changed"
        self.events.finish(job, "cancelled", summary, {"denied": True})
        return True

    def cancel(self, job_id: str, reason: str = "cancelled") -> bool:
        job = self._jobs.get(job_id)
        if job is None:
            return False
        if job.state == "needs_confirmation":
            return self.deny(job_id)
        if job.state not in ("queued", "running") or job.task is None:
            return False
        job.cancel_reason = reason
        job.task.cancel()
        return True

    def list_jobs(self) -> list[JobInfo]:
        return [job.info() for job in self._jobs.values()]

    async def wait(self, job_id: str) -> str:
        """Wait until the job stops running; returns its state ("unknown" for no such job)."""
        job = self._jobs.get(job_id)
        if job is None:
            return "unknown"
        while job.task is not None and not job.task.done():
            await asyncio.wait({job.task})
        return job.state

    async def wait_idle(self) -> None:
        while tasks := [j.task for j in self._jobs.values() if j.task and not j.task.done()]:
            await asyncio.wait(tasks)

    async def aclose(self) -> None:
        for job in list(self._jobs.values()):
            self.cancel(job.job_id, "the companion is shutting down")
        await self.wait_idle()
        await self.jobs_runner.aclose()

    # ---- job lifecycle ------------------------------------------------------------------------

    def _new_job(self, tool: str, args: dict, context: dict, origin: str) -> Job:
        job = Job(f"job-{next(self._ids)}", tool, args, dict(context), origin, self.clock())
        self._jobs[job.job_id] = job
        finished = [j for j in self._jobs.values() if j.state in ("done", "error", "cancelled")]
        for old in finished[: max(0, len(finished) - HISTORY)]:
            del self._jobs[old.job_id]
        return job

    def _start(self, job: Job) -> None:
        job.task = _running_loop().create_task(self._run(job), name=job.job_id)
        job.task.add_done_callback(lambda task: self._cancelled_before_start(job, task))

    def _cancelled_before_start(self, job: Job, task: asyncio.Task) -> None:
        # a task cancelled before its first step never runs its body, so say it here
        if task.cancelled() and job.state in ("queued", "running"):
            self.events.cancelled(job)

    async def _run(self, job: Job) -> None:
        try:
            # a reminder only waits: it takes no slot from the tests and git jobs
            slot = contextlib.nullcontext() if job.tool == REMIND else self._slots
            async with slot:
                job.state = "running"
                self.events.emit(job, "started", f"{job.tool.replace('_', ' ')} started")
                if self.registry.get(job.tool).changes_repository:
                    async with self._git_lock:
                        job.change = await self.jobs_runner.git_prepare(job.tool, job.args)
                    job.state = "needs_confirmation"
                    self.events.emit(
                        job,
                        "needs_confirmation",
                        job.change.summary,
                        {"preview": job.change.preview, "confirmation_id": job.job_id},
                    )
                    return
                outcome = await self._execute(job)
        except asyncio.CancelledError:
            self.events.cancelled(job)
        except Exception as exc:  # noqa: BLE001 — any failure becomes an error event
            self.events.failed(job, exc)
            self._saves.finished(job, ok=False)
        else:
            self.events.finish(job, "result", outcome.summary, outcome.data)
            self._saves.finished(job, ok=not outcome.data.get("failures"))

    async def _execute(self, job: Job) -> Outcome:
        return await self._runners.get(job.tool, self._git_read)(job)

    async def _run_tests(self, job: Job) -> Outcome:
        return await self.jobs_runner.tests(
            job.args,
            job.context,
            everything=job.origin != "save",
            on_progress=lambda progress: self.events.progress(job, progress),
            on_start=job.pids.append,
        )

    async def _run_lint(self, job: Job) -> Outcome:
        return await self.jobs_runner.lint(job.args, job.context, everything=job.origin != "save")

    async def _explain(self, job: Job) -> Outcome:
        return await self.jobs_runner.explain(job.args, lambda text: self.events.answer(job, text))

    async def _remind(self, job: Job) -> Outcome:
        return await remind(job.args)

    async def _git_read(self, job: Job) -> Outcome:
        return await self.jobs_runner.git_read(job.tool, job.args)

    async def _apply(self, job: Job) -> None:
        change, job.change = job.change, None
        try:
            async with self._git_lock:
                job.state = "running"
                outcome = await self.jobs_runner.git_apply(change)
        except asyncio.CancelledError:
            self.events.cancelled(job)
        except Exception as exc:  # noqa: BLE001 — any failure becomes an error event
            self.events.failed(job, exc)
        else:
            self.events.finish(job, "result", outcome.summary, outcome.data)


def _running_loop() -> asyncio.AbstractEventLoop:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        raise RuntimeError(
            "BackgroundAgent must be called from its asyncio event loop's thread "
            "(from another thread use loop.call_soon_threadsafe)"
        ) from None
