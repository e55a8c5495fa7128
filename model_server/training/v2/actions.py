"""Protocol v2 as training writes it: the two appended special tokens, job input text, one action.

The serving side's companion/protocol.py v2 is not on main yet; until it is, this module is the
one place training formats v2 (swap `format_action` and `job_event` for theirs at the merge).
Inputs still go through `companion.protocol.serialize_chunk` (the v1 input form); a job's text
`j<ID> <status>: <summary>` is produced by putting `j<ID>` in the JobEvent's tool field and
dropping the empty data payload.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from companion.events import JobEvent
from companion.protocol import SPECIAL_TOKENS, Chunk, SerializedChunk, serialize_chunk

SPECIAL_TOKENS_V2: tuple[str, ...] = SPECIAL_TOKENS + ("<|speak|>", "<|relay|>")
MAX_SPEAK_WORDS = 24
ACTION_KINDS = ("silence", "speak", "stop", "relay", "call")


@dataclass(frozen=True, slots=True)
class Act:
    """One micro-turn decision (exactly one per turn in protocol v2)."""

    kind: str  # one of ACTION_KINDS
    text: str = ""  # speak
    job: str = ""  # relay: "j3"
    tool: str = ""  # call
    args: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in ACTION_KINDS:
            raise ValueError(f"unknown action {self.kind!r}")
        if self.kind == "speak" and not 0 < len(self.text.split()) <= MAX_SPEAK_WORDS:
            raise ValueError(f"an utterance has 1..{MAX_SPEAK_WORDS} words: {self.text!r}")


def format_action(act: Act) -> str:
    """The output text of one turn, ending in `<|end|>`."""
    if act.kind == "speak":
        body = "<|speak|>" + act.text
    elif act.kind == "relay":
        body = "<|relay|>" + act.job
    elif act.kind == "call":
        body = "<|call|>" + json.dumps({"tool": act.tool, "args": act.args}, separators=(", ", ": "))
    else:
        body = f"<|{act.kind}|>"
    return body + "<|end|>"


def job_id(agent_job_id: str) -> str:
    """The agent's `job-7` as the protocol's `j7`."""
    return "j" + agent_job_id.rsplit("-", 1)[-1]


def status_word(phase: str, failed: bool | None = None) -> str:
    """The status word after `j<ID>`: a test result says failed/passed, else the agent's phase."""
    if phase == "result" and failed is not None:
        return "failed" if failed else "passed"
    return phase.replace("_", " ")


def job_event(t: float, agent_job_id: str, status: str, summary: str) -> JobEvent:
    """A JobEvent whose v1 serialization reads `j<ID> <status>: <summary>` (see serialize_v2)."""
    return JobEvent(t=t, job_id=agent_job_id, tool=job_id(agent_job_id), phase=status,  # type: ignore[arg-type]
                    summary=summary, data={})


def serialize_v2(chunk: Chunk, *, features: bool) -> SerializedChunk:
    """serialize_chunk, less the empty `{}` payload it writes after each job's summary."""
    out = serialize_chunk(chunk, features=features)
    if chunk.jobs:
        out.text = out.text.replace(" {}<|", "<|")
    return out
