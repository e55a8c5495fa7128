"""The micro-turn token protocol: a Chunk serialized into special-token text, and model output parsed back.

docs/protocol.md is the specification; this module is its only implementation. The model
server and the training code share `SPECIAL_TOKENS` (protocol 1) and `SPECIAL_TOKENS_V2`
(protocol 2: the same 17 tokens, then `<|speak|>` and `<|relay|>`). Protocol 2's output side
lives in companion/protocol_v2.py; `parse_output` / `format_output` dispatch on `protocol`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from companion.events import (
    AudioBlock, FileChanged, JobEvent, Patch, ScreenPatches, SelfSpeech, TypedText, UserWords,
)
from companion.redact import redact, redact_then_clip

SPECIAL_TOKENS: tuple[str, ...] = (
    "<|system|>", "<|t|>", "<|hear|>", "<|audio|>", "<|see|>", "<|patch|>", "<|file|>", "<|tool|>",
    "<|user|>", "<|self|>", "<|cut|>", "<|out|>", "<|silence|>", "<|stop|>", "<|call|>", "<|end|>",
    "<|more|>",
)
SPEAK, RELAY = "<|speak|>", "<|relay|>"
SPECIAL_TOKENS_V2: tuple[str, ...] = SPECIAL_TOKENS + (SPEAK, RELAY)
PROTOCOLS = (1, 2)
FRAMES_PER_AUDIO_TOKEN = 4  # 16 dMel frames per 200 ms block -> 4 audio tokens per block


@dataclass(frozen=True, slots=True, eq=False)
class Chunk:
    """Everything that happened in one micro-turn window [t, t + 0.2 * ticks)."""

    tick: int
    t: float  # seconds since the session started, at the window's start
    ticks: int = 1  # > 1 when late windows were coalesced into this one
    audio: tuple[AudioBlock, ...] = ()
    words: tuple[UserWords, ...] = ()
    screen: tuple[ScreenPatches, ...] = ()
    files: tuple[FileChanged, ...] = ()
    jobs: tuple[JobEvent, ...] = ()
    typed: tuple[TypedText, ...] = ()
    self_speech: tuple[SelfSpeech, ...] = ()

    def is_empty(self) -> bool:
        return not (self.audio or self.words or self.screen or self.files or self.jobs
                    or self.typed or self.self_speech)


@dataclass(frozen=True, slots=True)
class ChunkCaps:
    """Hard caps per chunk, in approximate tokens (text) or items (features)."""

    max_tokens: int = 512
    file_tokens: int = 256  # a diff larger than this is summarized
    tool_tokens: int = 128
    typed_tokens: int = 128
    max_patches: int = 32

    def __post_init__(self) -> None:
        assert self.max_tokens >= self.file_tokens + self.tool_tokens + self.typed_tokens
        assert self.max_patches >= 0


@dataclass(slots=True, eq=False)
class SerializedChunk:
    """A chunk as model input: text, and the feature rows for its placeholder tokens, in order."""

    text: str
    audio: np.ndarray  # uint8 (n_audio_tokens, FRAMES_PER_AUDIO_TOKEN * 80)
    patches: list[Patch] = field(default_factory=list)
    summarized: int = 0  # parts over their cap that were summarized (marked with <|more|>)


def approx_tokens(text: str) -> int:
    """A tokenizer-free token estimate (BPE on code averages ~3.5 characters a token)."""
    return (len(text) + 3) // 4 + text.count("\n")


def _clip(text: str, budget: int) -> tuple[str, bool]:
    if approx_tokens(text) <= budget:
        return text, False
    keep = max(0, budget * 3)
    return text[:keep].rstrip() + "<|more|>", True


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
                                     lambda t: _clip(t, budget))
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
    text, clipped = _clip(f"{head}: {job.summary}" if job.summary else head, budget)
    return "<|tool|>" + redact(text), clipped


def audio_tokens(block: AudioBlock) -> np.ndarray:
    """(16, 80) dMel frames of one block -> (4, 320): four tokens of four stacked frames."""
    frames = np.asarray(block.dmel, dtype=np.uint8)
    assert frames.shape[0] % FRAMES_PER_AUDIO_TOKEN == 0, frames.shape
    return frames.reshape(frames.shape[0] // FRAMES_PER_AUDIO_TOKEN, -1)


def serialize_chunk(chunk: Chunk, *, features: bool, caps: ChunkCaps = ChunkCaps(),
                    protocol: int = 1) -> SerializedChunk:
    """Write one chunk in the token format; `features` selects placeholder tokens over text only.

    Protocol 2 differs only in job lines (`<|tool|>j3 failed: summary`); everything else is
    byte-identical to protocol 1."""
    parts = [f"<|t|>{chunk.t:.1f}"]
    summarized = 0
    audio_rows: list[np.ndarray] = []
    heard = " ".join(w.text for w in chunk.words if w.text).strip()
    if features and chunk.audio:
        audio_rows = [audio_tokens(b) for b in chunk.audio]
        parts.append("<|hear|>" + "<|audio|>" * sum(len(r) for r in audio_rows) + redact(heard))
    elif heard:
        parts.append("<|hear|>" + redact(heard))
    patches: list[Patch] = []
    if features and chunk.screen:
        latest: dict[tuple[int, int], Patch] = {}
        for frame in chunk.screen:  # a later frame's tile replaces an earlier one at the same place
            latest.update({(p.x, p.y): p for p in frame.patches})
        patches = sorted(latest.values(), key=lambda p: (p.y, p.x))
        more = ""
        if len(patches) > caps.max_patches:
            more, patches, summarized = f"<|more|>{len(patches)}", patches[: caps.max_patches], summarized + 1
        parts.append("<|see|>" + "<|patch|>" * len(patches) + more)
    budget = caps.file_tokens
    for change in chunk.files:
        text, clipped = _file_part(change, max(budget, 16))
        budget -= approx_tokens(text)
        summarized += clipped
        parts.append(text)
    job_part = _job_part_v2 if protocol == 2 else _job_part
    for job in chunk.jobs:
        text, clipped = job_part(job, caps.tool_tokens)
        summarized += clipped
        parts.append(text)
    typed = "\n".join(t.text for t in chunk.typed)
    if typed:
        text, clipped = redact_then_clip(typed, lambda t: _clip(t, caps.typed_tokens))
        summarized += clipped
        parts.append("<|user|>" + text)
    if chunk.self_speech:
        said = " ".join(s.text for s in chunk.self_speech if s.text)
        cut = "<|cut|>" if any(s.interrupted for s in chunk.self_speech) else ""
        parts.append(f"<|self|>{redact(said)}{cut}")
    parts.append("<|out|>")
    audio = (np.concatenate(audio_rows) if audio_rows
             else np.zeros((0, FRAMES_PER_AUDIO_TOKEN * 80), dtype=np.uint8))
    return SerializedChunk(text="".join(parts), audio=audio, patches=patches, summarized=summarized)


def system_prefix(system_text: str, rules_text: str, tools_text: str) -> str:
    """The pinned prefix: who the companion is, the user's rules, the tools it may call."""
    body = "\n\n".join(part.strip() for part in (system_text, rules_text, tools_text) if part.strip())
    return f"<|system|>{body}<|end|>"


@dataclass(frozen=True, slots=True)
class Action:
    """One decision parsed from the model's output for a micro-turn."""

    kind: str  # "silence" | "speech" | "stop" | "call" | "relay" (protocol 2)
    text: str = ""  # speech: the words (v2: one whole utterance); call: the raw JSON
    tool: str = ""
    args: dict = field(default_factory=dict)
    error: str = ""  # call: why the JSON could not be read; v2: why the output was not an action
    job: str = ""  # relay: the job reference (`j3`) whose summary is spoken
    whole: bool = False  # speech: one complete utterance (protocol 2), not a fragment (1)


_INPUT_ONLY = tuple(tok for tok in SPECIAL_TOKENS
                    if tok not in ("<|silence|>", "<|stop|>", "<|call|>", "<|end|>"))


def _call_actions(raw: str) -> list[Action]:
    """A call's JSON object, then any speech that follows it before the next special token."""
    try:
        payload, end = json.JSONDecoder().raw_decode(raw)
    except json.JSONDecodeError as exc:
        return [Action("call", text=raw, error=f"call is not valid JSON: {exc.msg} at {exc.pos}")]
    rest = raw[end:]
    call = _call_action(raw[:end], payload)
    return [call, Action("speech", text=rest)] if rest.strip() else [call]


def _call_action(raw: str, payload: object) -> Action:
    if not isinstance(payload, dict) or not isinstance(payload.get("tool"), str):
        return Action("call", text=raw, error='call must be {"tool": name, "args": {...}}')
    args = payload.get("args", {})
    if not isinstance(args, dict):
        return Action("call", text=raw, tool=payload["tool"], error="call args must be an object")
    return Action("call", text=raw, tool=payload["tool"], args=args)


def parse_output(text: str, protocol: int = 1) -> tuple[list[Action], bool]:
    """Model output text (special tokens kept) -> (actions, whether `<|end|>` closed it).

    Protocol 2 yields exactly one action (companion/protocol_v2.py).
    Output stops at `<|end|>` or at any input-only token the model should never emit.
    Empty output is silence.
    """
    if protocol == 2:
        from companion.protocol_v2 import parse_output_v2
        return parse_output_v2(text)
    actions: list[Action] = []
    ended = False
    pos = 0
    pending = ""
    mode = "speech"
    while pos <= len(text):
        nxt = min(((text.find(tok, pos), tok) for tok in SPECIAL_TOKENS if text.find(tok, pos) >= 0),
                  default=(len(text), ""))
        at, tok = nxt
        pending += text[pos:at]
        if mode == "call" and (tok or at == len(text)):
            actions.extend(_call_actions(pending.lstrip()))
            pending, mode = "", "speech"
        elif pending.strip() and tok != "":
            actions.append(Action("speech", text=pending))
            pending = ""
        if not tok:
            break
        pos = at + len(tok)
        if tok == "<|end|>" or tok in _INPUT_ONLY:
            ended = True
            break
        if tok == "<|silence|>":
            actions.append(Action("silence"))
        elif tok == "<|stop|>":
            actions.append(Action("stop"))
        elif tok == "<|call|>":
            mode = "call"
    if mode == "speech" and pending.strip():
        actions.append(Action("speech", text=pending))
    return (actions or [Action("silence")]), ended


def format_output(actions: list[Action], protocol: int = 1) -> str:
    """The inverse of `parse_output` for well-formed actions (training targets use it)."""
    if protocol == 2:
        from companion.protocol_v2 import format_output_v2
        return format_output_v2(actions)
    out = []
    for action in actions:
        if action.kind == "silence":
            out.append("<|silence|>")
        elif action.kind == "stop":
            out.append("<|stop|>")
        elif action.kind == "call":
            out.append("<|call|>" + json.dumps({"tool": action.tool, "args": action.args},
                                               separators=(", ", ": ")))
        else:
            out.append(action.text)
    return "".join(out) + "<|end|>"
