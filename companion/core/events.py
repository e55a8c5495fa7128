"""The events that flow from perception, voice and the agent into the micro-turn clock.

Every event is a small frozen dataclass whose first field `t` is a time on the
monotonic clock (`time.monotonic()` seconds). Stages only ever emit events and
consume events; nothing calls back upstream (DESIGN §2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Union

import numpy as np

from companion.core.action import Action

MICRO_TURN_S = 0.2  # the micro-turn: one clock window, one chunk, one model decision (DESIGN §4)

StreamName = Literal["files", "screen", "audio", "speaker", "asr", "model", "agent", "rules"]
StreamStatus = Literal["live", "paused", "degraded", "unavailable", "stopped"]
FileChangeKind = Literal["created", "modified", "deleted", "moved", "note"]
JobPhase = Literal["started", "progress", "result", "error", "cancelled", "needs_confirmation"]


@dataclass(frozen=True, slots=True)
class StreamState:
    """A stream changed state: the TUI shows it, the clock ignores it."""

    t: float
    stream: StreamName
    status: StreamStatus
    reason: str = ""
    progress: float | None = None  # 0..1 while loading (the model), else None
    count: int | None = None  # files: how many files are watched; else None


@dataclass(frozen=True, slots=True)
class FileChanged:
    """One debounced change to a file in the repository, as a unified diff.

    `diff` is empty for binary files and for notes; `note` then says what happened
    ("binary file changed, 2.1 MB", "file over 1 MB: summarized", "inotify limit reached: polling").
    """

    t: float
    path: str  # relative to the repository root, POSIX separators
    kind: FileChangeKind
    diff: str = ""
    note: str = ""
    old_path: str | None = None  # for moves


@dataclass(frozen=True, slots=True, eq=False)
class Patch:
    """A changed 40x40 RGB tile of the screen at pixel position (x, y) of its frame."""

    x: int
    y: int
    pixels: np.ndarray  # uint8, shape (40, 40, 3)


@dataclass(frozen=True, slots=True, eq=False)
class ScreenPatches:
    """The tiles that changed since the previous captured frame (masked regions already blanked)."""

    t: float
    frame: int  # index of the captured frame since the stream started
    width: int
    height: int
    patches: tuple[Patch, ...]
    dropped: int = 0  # changed tiles left out because the frame hit the patch cap (least-changed first)


@dataclass(frozen=True, slots=True, eq=False)
class AudioBlock:
    """200 ms of microphone audio: 3200 float32 samples at 16 kHz and their dMel features.

    `t` is the capture time of the block's first sample. `dmel` is uint8 of shape (16, 80):
    16 frames (12.5 ms hop) by 80 mel bins, each bin quantized to a few levels.
    """

    t: float
    samples: np.ndarray
    level: float  # RMS level in dBFS (-inf .. 0)
    dmel: np.ndarray


@dataclass(frozen=True, slots=True)
class UserWords:
    """Words recognized in the user's speech (ASR); partial until `final`."""

    t: float
    text: str
    final: bool = False


@dataclass(frozen=True, slots=True)
class TypedText:
    """A line the user typed into the TUI input."""

    t: float
    text: str


@dataclass(frozen=True, slots=True)
class SelfSpeech:
    """Words the companion's own voice actually played between t and t_end.

    `interrupted` is set on the last event of an utterance that was stopped before its end;
    `unspoken` then holds the text that was never played.
    """

    t: float
    t_end: float
    text: str
    interrupted: bool = False
    unspoken: str = ""


@dataclass(frozen=True, slots=True)
class JobEvent:
    """Something the background agent did: started, progressed, finished, failed, was cancelled.

    `summary` is short and speakable (no stack traces); `data` holds the structured result
    (for the TUI card and the model).
    """

    t: float
    job_id: str
    tool: str
    phase: JobPhase
    summary: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RulesChanged:
    """The rules file was (re)loaded; `error` is set when it was invalid and the old rules stay."""

    t: float
    source: str
    error: str = ""


@dataclass(frozen=True, slots=True)
class ModelTurn:
    """What the interaction model decided for one micro-turn, and how long it took.

    `action` is "silence", "speech" (text is the next words to say), "stop" or "call"
    (text is the call's JSON). `late_ticks` counts ticks so far that missed their 200 ms.
    """

    t: float
    tick: int
    action: Literal["silence", "speech", "stop", "call"]
    text: str = ""
    latency_ms: float = 0.0
    late_ticks: int = 0


@dataclass(frozen=True, slots=True)
class ModelAction:
    """One decision of the model in a micro-turn, for the stages that carry it out: the speech
    policy (speech, relay, stop, silence) and the agent (call). `files` and `chunk_t` are the
    chunk's, the context a call is run in."""

    t: float
    tick: int
    action: Action
    chunk_t: float = 0.0
    files: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Say:
    """Words the speech policy let through, for the Speaker: a fragment (protocol 1) or one whole
    utterance (protocol 2, with a trailing space)."""

    t: float
    text: str


@dataclass(frozen=True, slots=True)
class StopSpeaking:
    """Stop what is being said now: the model decided so, or the user pressed hush."""

    t: float
    by: Literal["model", "user"]


@dataclass(frozen=True, slots=True)
class GateState:
    """The speech gate's state, for the TUI: why interjections are held now ('' when they may be
    said), whether a snooze is on, and the rules' snooze time (what the snooze key holds for)."""

    t: float
    status: str
    snoozed: bool
    snooze_s: float


@dataclass(frozen=True, slots=True)
class AudioUnderruns:
    """Audio xruns so far from one source: "speaker" (PortAudio's underflow flag) or "native"
    (underrun lines the C libraries printed, routed to the log). The status bar counts them."""

    t: float
    source: str
    total: int


@dataclass(frozen=True, slots=True)
class ScreenText:
    """Text read (OCR) from a screen region that changed and then settled; already redacted.

    `context` is the short line the model sees (`<|see|>app.py: def main`), set at most every
    few seconds; the full `text` stays for the TUI and, only when the user records, the recording.
    """

    t: float
    x: int
    y: int
    width: int
    height: int
    text: str  # lines joined by newlines, indentation kept
    confidence: float  # 0..1
    window: str = ""  # title of the window the region lies in, when known
    context: str = ""


@dataclass(frozen=True, slots=True)
class ScreenError:
    """An error read on screen (traceback, compiler or test failure, HTTP error page), once per
    error however often it is scrolled or redrawn. `summary` is speakable (no stack trace)."""

    t: float
    language: str  # python | node | rust | go | compiler | test | http
    exception: str
    message: str
    file: str = ""  # repository-relative when the file is in the repository, else as shown
    line: int = 0
    function: str = ""
    in_repo: bool = False
    summary: str = ""
    window: str = ""


Event = Union[
    StreamState, FileChanged, ScreenPatches, AudioBlock, UserWords, TypedText, SelfSpeech,
    JobEvent, RulesChanged, ModelTurn, AudioUnderruns, ScreenText, ScreenError, ModelAction, Say,
    StopSpeaking, GateState,
]
