"""Chunk budgets: each part of a micro-turn chunk (files, jobs, text) clipped or summarized to
its share of the chunk's token cap, so no chunk outgrows it whatever a late window holds."""

from __future__ import annotations

import json

from companion.core.events import FileChanged, JobEvent
from companion.core.redact import redact, redact_then_clip


def approx_tokens(text: str) -> int:
    """A tokenizer-free token estimate (BPE on code averages ~3.5 characters a token)."""
    return (len(text) + 3) // 4 + text.count("\n")


def clip(text: str, budget: int) -> tuple[str, bool]:
    if approx_tokens(text) <= budget:
        return text, False
    keep = max(0, budget * 3)
    while keep and approx_tokens(text[:keep]) > budget:  # newline-dense text costs more
        keep //= 2
    return text[:keep].rstrip() + "<|more|>", True


def clip_head(text: str, budget: int) -> tuple[str, bool]:
    """Like clip, but keeps the end (the newest words of a long backlog)."""
    if approx_tokens(text) <= budget:
        return text, False
    keep = max(0, budget * 3)
    while keep and approx_tokens(text[-keep:]) > budget:
        keep //= 2
    return "<|more|>" + (text[-keep:].lstrip() if keep else ""), True


def _summarize_diff(change: FileChanged) -> str:
    lines = change.diff.splitlines()
    added = sum(1 for ln in lines if ln.startswith("+") and not ln.startswith("+++"))
    removed = sum(1 for ln in lines if ln.startswith("-") and not ln.startswith("---"))
    hunks = [ln for ln in lines if ln.startswith("@@")]
    head = "\n".join(hunks[:4])
    return f"<|more|>diff too large: +{added} -{removed} lines in {len(hunks)} hunks\n{head}"


def _file_part(change: FileChanged, budget: int) -> tuple[str, bool]:
    header = change.path if change.old_path is None else f"{change.old_path} -> {change.path}"
    body = change.diff or change.note or change.kind
    body = redact(body, path=change.path)
    if approx_tokens(body) > budget:
        return f"<|file|>{header}\n{_summarize_diff(change)}", True
    return f"<|file|>{header}\n{body}", False


def _job_part(job: JobEvent, budget: int) -> tuple[str, bool]:
    payload = {k: v for k, v in job.data.items() if k != "raw_output"}
    detail = json.dumps(payload, separators=(",", ":"), default=str, sort_keys=True)
    # redact the whole text first: a clip that cuts a token in half would hide it from redaction
    text, clipped = redact_then_clip(f"{job.tool} {job.phase}: {job.summary} {detail}",
                                     lambda t: clip(t, budget))
    return "<|tool|>" + text, clipped


def job_ref(job_id: str) -> str:
    """The id a v2 model sees and relays: `j` + the number of the agent's job id (job-3 -> j3);
    '' for events that are not a numbered job (a call the runtime refused)."""
    digits = "".join(ch for ch in job_id if ch.isdigit())
    return f"j{int(digits)}" if digits else ""


def job_status(job: JobEvent) -> str:
    """One status word for a v2 job line: failed / done for results, else the phase's word."""
    if job.phase == "result":
        d = job.data
        counts = d.get("counts") if isinstance(d.get("counts"), dict) else {}
        failed = d.get("failures") or d.get("findings") or counts.get("failed")
        return "failed" if failed else "done"
    return {"progress": "running", "needs_confirmation": "confirm"}.get(job.phase, job.phase)


def _job_part_v2(job: JobEvent, budget: int) -> tuple[str, bool]:
    """`<|tool|>j3 failed: <the composed spoken summary>` (docs/protocol.md, protocol 2)."""
    ref = job_ref(job.job_id)
    head = f"{ref} {job_status(job)}" if ref else job_status(job)
    text, clipped = redact_then_clip(f"{head}: {job.summary}" if job.summary else head,
                                     lambda t: clip(t, budget))
    return "<|tool|>" + text, clipped


_EDIT_KINDS = ("modified", "moved")
MIN_PART_TOKENS = 16  # below this a file's diff is not worth showing: it joins the summary


def file_parts(files: tuple[FileChanged, ...], budget: int,
               defer_max: int = 0) -> tuple[list[str], int, tuple[FileChanged, ...]]:
    """The file changes that fit `budget`, in the order they happened, then the rest: handed
    back to be sent with the next chunk when they are at most `defer_max`, else one summary
    line. Edits to existing files matter most, then the newest: a save among 30k generated
    files is shown whole and the generated ones are counted. -> (parts, summarized, deferred)"""
    order = sorted(range(len(files)), key=lambda i: (files[i].kind not in _EDIT_KINDS, -i))
    shown: list[tuple[int, str]] = []
    rest: list[FileChanged] = []
    summarized = 0
    summary_room = 48 if len(files) > max(1, defer_max) else 0
    for i in order:
        room = budget - summary_room
        if room >= MIN_PART_TOKENS:
            text, clipped = _file_part(files[i], room)
            if approx_tokens(text) <= room:
                shown.append((i, text))
                budget -= approx_tokens(text)
                summarized += clipped
                continue
        rest.append(files[i])
    parts = [text for _, text in sorted(shown)]
    if rest and len(rest) <= defer_max:
        return parts, summarized, tuple(sorted(rest, key=files.index))
    if rest:
        parts.append(_files_summary(rest))
        summarized += 1
    return parts, summarized, ()


def _files_summary(rest: list[FileChanged]) -> str:
    """One bounded line for file changes that did not fit: counts by kind and where."""
    kinds: dict[str, int] = {}
    dirs: dict[str, int] = {}
    for change in rest:
        kinds[change.kind] = kinds.get(change.kind, 0) + 1
        top = change.path.split("/", 1)[0] + "/" if "/" in change.path else "./"
        dirs[top] = dirs.get(top, 0) + 1
    by_kind = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items(), key=lambda kv: -kv[1]))
    where = ", ".join(f"{d[:40]} ({n})" for d, n in sorted(dirs.items(), key=lambda kv: -kv[1])[:3])
    more = f" and {len(dirs) - 3} more places" if len(dirs) > 3 else ""
    return f"<|file|><|more|>{len(rest)} more file changes ({by_kind}) in {where}{more}"


def job_parts(jobs: tuple[JobEvent, ...], budget: int,
              protocol: int = 1) -> tuple[list[str], int]:
    """Job events within the chunk's tool budget, in order, keeping room for one summary line
    that names the rest (protocol 2 writes each as `j<ID> status: summary`)."""
    job_part = _job_part_v2 if protocol == 2 else _job_part
    parts: list[str] = []
    summarized = 0
    for k, job in enumerate(jobs):
        room = budget - (24 if k < len(jobs) - 1 else 0)
        if room < MIN_PART_TOKENS:
            left = jobs[k:]
            names = ", ".join(f"{j.tool} {j.phase}" for j in left[-3:])
            parts.append(f"<|tool|><|more|>{len(left)} more job events, the last: {names}")
            return parts, summarized + 1
        text, clipped = job_part(job, room)
        budget -= approx_tokens(text)
        summarized += clipped
        parts.append(text)
    return parts, summarized
