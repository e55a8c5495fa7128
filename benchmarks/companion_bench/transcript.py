"""Reads a headless transcript (docs/transcript.md, schema 1) into what the metrics use: utterances
as heard, calls, job results, heard words and model turns, all in stream time."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

UTTERANCE_GAP = 0.35  # s of silence between `said` pieces that still belong to one utterance


class TranscriptError(ValueError):
    """The transcript is missing, of another schema, or malformed."""


@dataclass(frozen=True)
class Utterance:
    t: float
    t_end: float
    text: str
    interrupted: bool = False

    @property
    def words(self) -> list[str]:
        return self.text.split()


def read_transcript(path: Path) -> list[dict]:
    try:
        lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    except (OSError, json.JSONDecodeError) as exc:
        raise TranscriptError(f"{path}: {exc}") from None
    if not lines or lines[0].get("type") != "session":
        raise TranscriptError(f"{path}: no session header (is this a schema-1 transcript?)")
    if lines[0].get("schema") != 1:
        raise TranscriptError(f"{path}: schema {lines[0].get('schema')!r}, this reader knows 1")
    return lines


def utterances(lines: list[dict]) -> list[Utterance]:
    """`said` pieces joined into utterances: a gap over UTTERANCE_GAP or a cut ends one."""
    out: list[Utterance] = []
    open_: list[dict] = []

    def close(interrupted: bool) -> None:
        if open_:
            out.append(Utterance(open_[0]["t"], open_[-1]["t_end"],
                                 " ".join(p["text"] for p in open_), interrupted))
            open_.clear()

    for line in sorted((x for x in lines if x.get("type") == "said"), key=lambda x: x["t"]):
        if line["text"].strip():
            if open_ and line["t"] - open_[-1]["t_end"] > UTTERANCE_GAP:
                close(False)
            open_.append(line)
        if line.get("interrupted"):
            close(True)
    close(False)
    return out


def calls(lines: list[dict]) -> list[tuple[float, str, dict]]:
    """(t, tool, args) of every call the model made (whatever the agent did with it)."""
    out = []
    for line in lines:
        if line.get("type") == "model" and line.get("action") == "call":
            try:
                call = json.loads(line.get("text") or "{}")
            except json.JSONDecodeError:
                call = {}
            if not isinstance(call, dict):
                call = {}
            args = call.get("args") if isinstance(call.get("args"), dict) else {}
            out.append((line["t"], str(call.get("tool", "?")), args))
    return out


def is_failure(line: dict) -> bool:
    """A finished tests job that reports a failing run (by its `status`, the result data's
    verdict; transcripts written before `status` existed by their wording) or that erred (a
    hang stopped at the timeout, a run that could not finish)."""
    if line.get("type") != "job" or line.get("tool") != "tests":
        return False
    if line.get("phase") == "error":
        return True
    if line.get("phase") != "result":
        return False
    if "status" in line:
        return line["status"] == "failed"
    summary = (line.get("summary") or "").lower()
    return any(w in summary for w in ("fail", "timed out", "timeout", "error"))


def job_results(lines: list[dict]) -> list[dict]:
    return [x for x in lines if x.get("type") == "job" and x.get("phase") in ("result", "error")]


def model_turns(lines: list[dict]) -> list[dict]:
    return [x for x in lines if x.get("type") == "model"]


def heard(lines: list[dict]) -> list[dict]:
    return [x for x in lines if x.get("type") == "heard"]
