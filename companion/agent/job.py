"""The agent's record of one job, and the read-only view of it that `list_jobs` gives out."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from tools.git_changes import PreparedChange


@dataclass(frozen=True, slots=True)
class JobInfo:
    """A job as `list_jobs` shows it."""

    job_id: str
    tool: str
    args: dict
    origin: str  # "model", "save" or "ui"
    state: str  # queued, running, needs_confirmation, done, error, cancelled
    created: float
    context_ref: dict


@dataclass(slots=True)
class Job:
    """One job's mutable state; only the agent's event loop touches it."""

    job_id: str
    tool: str
    args: dict
    context: dict
    origin: str
    created: float
    state: str = "queued"
    task: asyncio.Task | None = None
    change: PreparedChange | None = None
    cancel_reason: str = "cancelled"
    last_progress: float = 0.0
    pids: list[int] = field(default_factory=list)  # processes the job started

    def info(self) -> JobInfo:
        return JobInfo(
            self.job_id,
            self.tool,
            dict(self.args),
            self.origin,
            self.state,
            self.created,
            context_ref(self),
        )


def context_ref(job: Job) -> dict:
    """What the result refers back to: the turn, the file the user was on, the last words said."""
    ctx = job.context
    ref: dict[str, Any] = {"job_id": job.job_id}
    for key in ("turn", "t", "file", "saved", "after"):
        if key in ctx:
            ref[key] = ctx[key]
    conversation = ctx.get("conversation")
    if isinstance(conversation, (list, tuple)) and conversation:
        ref["said"] = str(conversation[-1])[:160]
    return ref


def tool_name_guess(call_json: str) -> str:
    """The tool name of a call that failed validation, if one can be read, for the event's label."""
    body = call_json.strip().removeprefix("<|call|>").removesuffix("<|end|>")
    try:
        name = json.loads(body).get("tool")
    except (ValueError, AttributeError):
        return "call"
    return name if isinstance(name, str) and name else "call"
