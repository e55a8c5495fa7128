"""JobEvents: what the background agent says about its jobs, as redacted JobEvents to its sink.

Each phase of a job (started, progress, needs_confirmation, result, error, cancelled) is one
`JobEvent`; progress and streamed answers are throttled per job, the summary is redacted, and a
broken sink is logged, never raised into the agent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from companion.agent.job import Job, context_ref
from companion.agent.summaries import summarize_progress
from companion.core.events import JobEvent, JobPhase
from companion.core.redact import redact
from tools.registry import ToolError
from tools.test_runner import TestProgress

log = logging.getLogger(__name__)
PROGRESS_INTERVAL_S = 0.25  # at most this often per job, so a 5000-test suite is not 5000 events


class JobEvents:
    """Turns one job's lifecycle into JobEvents for `sink`, stamped by `clock`."""

    def __init__(self, sink: Callable[[JobEvent], None], clock: Callable[[], float]) -> None:
        self.sink = sink
        self.clock = clock

    def cancelled(self, job: Job) -> None:
        reason = job.cancel_reason
        self.finish(job, "cancelled", f"{job.tool} {reason}", {"reason": reason})

    def failed(self, job: Job, exc: Exception) -> None:
        if isinstance(exc, ToolError):
            self.finish(job, "error", str(exc), {"error": str(exc), **exc.data})
            return
        # a bug in a tool must not take the companion down; it is logged and said plainly
        log.exception("job %s (%s) failed", job.job_id, job.tool, exc_info=exc)
        message = f"{job.tool} failed unexpectedly: {type(exc).__name__}: {exc}"
        self.finish(job, "error", message, {"error": message})

    def progress(self, job: Job, p: TestProgress) -> None:
        now = self.clock()
        if p.done and p.done != p.total and now - job.last_progress < PROGRESS_INTERVAL_S:
            return
        job.last_progress = now
        data = {"done": p.done, "total": p.total, "failed": p.failed, "test": p.test}
        self.emit(job, "progress", summarize_progress(p.done, p.total, p.failed), data)

    def answer(self, job: Job, text: str) -> None:
        """A streamed explanation so far, as a progress event (the card grows as it arrives)."""
        now = self.clock()
        if now - job.last_progress < PROGRESS_INTERVAL_S:
            return
        job.last_progress = now
        self.emit(job, "progress", "explaining", {"answer": text, "partial": True})

    def finish(self, job: Job, phase: JobPhase, summary: str, data: dict) -> None:
        job.state = {"result": "done"}.get(phase, phase)
        self.emit(job, phase, summary, data)

    def emit(self, job: Job, phase: JobPhase, summary: str, data: dict | None = None) -> None:
        payload: dict[str, Any] = {
            **(data or {}),
            "context_ref": context_ref(job),
            "origin": job.origin,
        }
        try:
            # the summary is spoken, shown and relayed verbatim: no secret from tool output in it
            self.sink(JobEvent(self.clock(), job.job_id, job.tool, phase, redact(summary), payload))
        except Exception:  # the sink is someone else's; a broken one must not stop the jobs
            log.exception("job event sink failed")
