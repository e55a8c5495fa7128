"""The micro-turn token protocol: a Chunk serialized into special-token text, and model output parsed back.

docs/protocol.md is the specification; this module is its only implementation. The model
server and the training code share `SPECIAL_TOKENS` (protocol 1) and `SPECIAL_TOKENS_V2`
(protocol 2: the same 17 tokens, then `<|speak|>` and `<|relay|>`). Protocol 2's output side
lives in companion/core/protocol_v2.py; `parse_output` / `format_output` dispatch on `protocol`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from companion.core.action import (  # noqa: F401  (Action and the token lists: re-exported)
    RELAY,
    SPEAK,
    SPECIAL_TOKENS,
    SPECIAL_TOKENS_V2,
    Action,
    call_action,
)
from companion.core.chunk_budget import (  # noqa: F401  (approx_tokens, job_ref: re-exported)
    approx_tokens,
    clip,
    clip_head,
    file_parts,
    job_parts,
    job_ref,
    job_status,
)
from companion.core.events import (
    AudioBlock,
    FileChanged,
    JobEvent,
    Patch,
    ScreenError,
    ScreenPatches,
    ScreenText,
    SelfSpeech,
    TypedText,
    UserWords,
)
from companion.core.protocol_v2 import format_output_v2, parse_output_v2
from companion.core.redact import redact, redact_then_clip

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
    screen_text: tuple[ScreenText, ...] = ()
    screen_errors: tuple[ScreenError, ...] = ()

    def is_empty(self) -> bool:
        return not any(getattr(self, name) for name in CHUNK_FIELDS.values())


# The event type each Chunk field holds: the clock sorts events into chunks by it, a held chunk
# merges by it, and nothing else keeps a list of Chunk's fields that could miss a new one.
CHUNK_FIELDS: dict[type, str] = {
    AudioBlock: "audio", UserWords: "words", ScreenPatches: "screen", FileChanged: "files",
    JobEvent: "jobs", TypedText: "typed", SelfSpeech: "self_speech",
    ScreenText: "screen_text", ScreenError: "screen_errors",
}


@dataclass(frozen=True, slots=True)
class ChunkCaps:
    """Hard caps per chunk, in approximate tokens (text) or items (features).

    Each part of a chunk has its own budget and the budgets add up to `max_tokens`, so a whole
    chunk stays under it however many events a late, coalesced window holds (30k created files
    become the edits that fit plus one summary line).
    """

    max_tokens: int = 640
    file_tokens: int = 256  # all file changes of the chunk; a diff larger than this is summarized
    tool_tokens: int = 128  # all job events of the chunk
    typed_tokens: int = 128
    hear_tokens: int = 64  # recognized words (text models); the newest are kept
    self_tokens: int = 64  # the companion's own played speech; the newest is kept
    max_patches: int = 32
    max_audio_blocks: int = 25  # 5 s of audio features; the newest are kept

    def __post_init__(self) -> None:
        assert self.max_tokens >= self.file_tokens + self.tool_tokens + self.typed_tokens \
            + self.hear_tokens + self.self_tokens
        assert self.max_patches >= 0 and self.max_audio_blocks >= 0


@dataclass(slots=True, eq=False)
class SerializedChunk:
    """A chunk as model input: text, and the feature rows for its placeholder tokens, in order."""

    text: str
    audio: np.ndarray  # uint8 (n_audio_tokens, FRAMES_PER_AUDIO_TOKEN * 80)
    patches: list[Patch] = field(default_factory=list)
    summarized: int = 0  # parts over their cap that were summarized (marked with <|more|>)
    deferred: tuple[FileChanged, ...] = ()  # with defer_files: changes left for the next chunk


def audio_tokens(block: AudioBlock) -> np.ndarray:
    """(16, 80) dMel frames of one block -> (4, 320): four tokens of four stacked frames."""
    frames = np.asarray(block.dmel, dtype=np.uint8)
    assert frames.shape[0] % FRAMES_PER_AUDIO_TOKEN == 0, frames.shape
    return frames.reshape(frames.shape[0] // FRAMES_PER_AUDIO_TOKEN, -1)


SEE_TEXT_TOKENS = 32  # one screen text line: a context line or an error's summary


def _see_text_parts(chunk: Chunk) -> tuple[list[str], int]:
    """Screen reading as short text lines: errors first (newest two), then the newest context."""
    lines = [f"error {e.summary or e.exception + ' ' + e.message}" for e in chunk.screen_errors[-2:]]
    contexts = [s.context for s in chunk.screen_text if s.context]
    lines += contexts[-1:]
    parts, clipped = [], 0
    for line in lines:
        text, over = redact_then_clip(line, lambda t: clip(t, SEE_TEXT_TOKENS))
        parts.append("<|see|>" + text)
        clipped += over
    return parts, clipped


def serialize_chunk(chunk: Chunk, *, features: bool, caps: ChunkCaps = ChunkCaps(),
                    defer_files: int = 0, protocol: int = 1) -> SerializedChunk:
    """Write one chunk in the token format; `features` selects placeholder tokens over text only.

    The whole chunk keeps to `caps` (its text within about caps.max_tokens), however many
    events it holds: what does not fit is summarized (marked <|more|>), never left out unsaid.
    With `defer_files`, up to that many file changes that do not fit are returned in
    `deferred` for the caller to send with the next chunk instead of being summarized.
    Protocol 2 differs only in job lines (`<|tool|>j3 failed: summary`); everything else is
    byte-identical to protocol 1.
    """
    parts = [f"<|t|>{chunk.t:.1f}"]
    summarized = 0
    audio_rows: list[np.ndarray] = []
    heard = " ".join(w.text for w in chunk.words if w.text).strip()
    if heard:
        heard, clipped = clip_head(redact(heard), caps.hear_tokens)
        summarized += clipped
    if features and chunk.audio:
        blocks = chunk.audio[-caps.max_audio_blocks:] if caps.max_audio_blocks else ()
        summarized += len(blocks) < len(chunk.audio)
        audio_rows = [audio_tokens(b) for b in blocks]
        parts.append("<|hear|>" + "<|audio|>" * sum(len(r) for r in audio_rows) + heard)
    elif heard:
        parts.append("<|hear|>" + heard)
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
    see_text, clipped = _see_text_parts(chunk)
    parts.extend(see_text)
    summarized += clipped
    deferred: tuple[FileChanged, ...] = ()
    if chunk.files:
        texts, clipped, deferred = file_parts(chunk.files, caps.file_tokens, defer_files)
        parts += texts
        summarized += clipped
    if chunk.jobs:
        texts, clipped = job_parts(chunk.jobs, caps.tool_tokens, protocol=protocol)
        parts += texts
        summarized += clipped
    typed = "\n".join(t.text for t in chunk.typed)
    if typed:
        text, clipped = redact_then_clip(typed, lambda t: clip(t, caps.typed_tokens))
        summarized += clipped
        parts.append("<|user|>" + text)
    if chunk.self_speech:
        said = " ".join(s.text for s in chunk.self_speech if s.text)
        said, clipped = redact_then_clip(said, lambda t: clip_head(t, caps.self_tokens))
        summarized += clipped
        cut = "<|cut|>" if any(s.interrupted for s in chunk.self_speech) else ""
        parts.append(f"<|self|>{said}{cut}")
    parts.append("<|out|>")
    audio = (np.concatenate(audio_rows) if audio_rows
             else np.zeros((0, FRAMES_PER_AUDIO_TOKEN * 80), dtype=np.uint8))
    return SerializedChunk(text="".join(parts), audio=audio, patches=patches, summarized=summarized,
                           deferred=deferred)


def system_prefix(system_text: str, rules_text: str, tools_text: str) -> str:
    """The pinned prefix: who the companion is, the user's rules, the tools it may call."""
    body = "\n\n".join(part.strip() for part in (system_text, rules_text, tools_text) if part.strip())
    return f"<|system|>{body}<|end|>"


_INPUT_ONLY = tuple(tok for tok in SPECIAL_TOKENS
                    if tok not in ("<|silence|>", "<|stop|>", "<|call|>", "<|end|>"))


def _call_actions(raw: str) -> list[Action]:
    """A call's JSON object, then any speech that follows it before the next special token."""
    try:
        payload, end = json.JSONDecoder().raw_decode(raw)
    except json.JSONDecodeError as exc:
        return [Action("call", text=raw, error=f"call is not valid JSON: {exc.msg} at {exc.pos}")]
    rest = raw[end:]
    call = call_action(raw[:end], payload)
    return [call, Action("speech", text=rest)] if rest.strip() else [call]


def parse_output(text: str, protocol: int = 1) -> tuple[list[Action], bool]:
    """Model output text (special tokens kept) -> (actions, whether `<|end|>` closed it).

    Protocol 2 yields exactly one action (companion/core/protocol_v2.py).
    Output stops at `<|end|>` or at any input-only token the model should never emit.
    Empty output is silence.
    """
    if protocol == 2:
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
