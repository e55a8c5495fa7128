"""The status bar: mic level, screen fps, watched files, model state, latency, late ticks, xruns."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from textual.content import Content
from textual.widgets import Static

from companion.core.events import StreamState

METER_CELLS = 6
METER_FLOOR_DB = -60.0
STATUS_STYLE = {"live": "$success", "paused": "$warning", "degraded": "$warning",
                "unavailable": "$error", "stopped": "$text-muted"}


def level_meter(level_db: float) -> str:
    """A fixed-width bar for an RMS level in dBFS (-60 dB and below: empty)."""
    if not math.isfinite(level_db):
        level_db = METER_FLOOR_DB
    fill = round(METER_CELLS * (min(0.0, max(METER_FLOOR_DB, level_db)) - METER_FLOOR_DB)
                 / -METER_FLOOR_DB)
    return "▮" * fill + "▯" * (METER_CELLS - fill)


def progress_bar(fraction: float, cells: int = 8) -> str:
    filled = round(cells * min(1.0, max(0.0, fraction)))
    return "▰" * filled + "▱" * (cells - filled) + f" {fraction:4.0%}"


@dataclass(slots=True)
class StatusModel:
    """Everything the bar shows; the screen mutates it and asks the bar to redraw."""

    streams: dict[str, StreamState] = field(default_factory=dict)
    level_db: float = float("-inf")
    fps: float | None = None
    files: int = 0  # files changed this session
    latency_ms: float | None = None
    late_ticks: int = 0
    hold: str = ""  # snooze / quiet-hours state from the speech gate
    xruns: dict[str, int] = field(default_factory=dict)  # audio underruns so far, by source

    def xrun_count(self) -> int:
        # ALSA's printed line and PortAudio's flag usually report the same underrun: the larger
        # of the two sources, not their sum
        return max(self.xruns.values(), default=0)


class StatusBar(Static):
    """One or two lines at the top; reasons for unavailable streams are shown in full."""

    DEFAULT_CSS = """
    StatusBar { height: auto; padding: 0 1; }
    """

    def __init__(self, model: StatusModel, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.model = model

    def on_mount(self) -> None:
        self.redraw()

    def _stream(self, name: str, label: str, detail: str = "") -> list[str | tuple[str, str]]:
        state = self.model.streams.get(name)
        parts: list[str | tuple[str, str]] = [(label, "bold"), " "]
        if state is None:  # nothing heard from this stream yet
            return parts + [("–", "$text-muted")]
        status = state.status
        if status == "live" and detail:
            parts.append(detail)
        else:
            shown = "muted" if (name, status) == ("audio", "paused") else status
            parts.append((shown, STATUS_STYLE[status]))
            if state.reason:
                parts.append((f" ({state.reason})", "$text-muted"))
        return parts

    def _model(self) -> list[str | tuple[str, str]]:
        state = self.model.streams.get("model")
        parts: list[str | tuple[str, str]] = [("model", "bold"), " "]
        if state is not None and state.progress is not None and state.status != "live":
            return parts + [("loading ", "$warning"), (progress_bar(state.progress), "$primary")]
        if state is not None and state.status == "live":
            parts.append(("ready", "$success"))
            if self.model.latency_ms is not None:
                parts.append(f" {self.model.latency_ms:.0f} ms")
            return parts
        if state is not None and state.status == "degraded":
            return parts + [("reconnecting", "$warning"), (f" ({state.reason})" if state.reason
                                                            else "", "$text-muted")]
        return parts + self._stream("model", "")[2:]

    def _files(self) -> list[str | tuple[str, str]]:
        state = self.model.streams.get("files")
        if state is None or state.status != "live":
            return self._stream("files", "files")
        watched = f" {state.count:,}" if state.count is not None else " live"
        changed = [(f" (+{self.model.files:,})", "$text-muted")] if self.model.files else []
        return [("files", "bold"), watched, *changed]

    def _hearing(self, sep: tuple[str, str]) -> list[str | tuple[str, str]]:
        """The recognizer: which engine hears, or "hearing unavailable (reason)"."""
        state = self.model.streams.get("asr")
        if state is None:
            return []
        if state.status == "live":
            return [sep, ("hear", "bold"), " ", (state.reason or "live", "$success")]
        return [sep, ("hearing", "bold"), " ", (state.status, STATUS_STYLE[state.status]),
                (f" ({state.reason})" if state.reason else "", "$text-muted")]

    def _all_down(self) -> str | None:
        """The one reason when mic, screen, files and model are all unavailable for it."""
        states = [self.model.streams.get(name) for name in ("audio", "screen", "files", "model")]
        reasons = {state.reason for state in states if state and state.status == "unavailable"}
        if len(reasons) == 1 and all(state and state.status == "unavailable" for state in states):
            return reasons.pop()
        return None

    def redraw(self) -> None:
        m = self.model
        sep = (" │ ", "$text-muted")
        shared = self._all_down()
        if shared is not None:
            self.update(Content.assemble(
                ("mic · screen · files · model ", "bold"), ("unavailable", "$error"),
                (f" ({shared})" if shared else "", "$text-muted"), sep, ("late", "bold"),
                f" {m.late_ticks}"))
            return
        mic = self._stream("audio", "mic", "")
        if "audio" in m.streams and m.streams["audio"].status == "live":
            mic = [("mic", "bold"), " ", (level_meter(m.level_db), "$success")]
        fps = f"{m.fps:.1f} fps" if m.fps is not None else "live"
        parts = [*mic, sep, *self._stream("screen", "screen", fps), sep,
                 *self._files(), sep, *self._model(), sep,
                 ("late", "bold"), (f" {m.late_ticks}", "$warning" if m.late_ticks else "")]
        state = m.streams.get("speaker")
        if state is not None and state.status != "live":  # shown only when something is off
            parts += [sep, *self._stream("speaker", "voice")]
        parts += self._hearing(sep)
        if m.xrun_count():  # underruns, counted here instead of printed over the TUI
            parts += [sep, ("xruns", "bold"), (f" {m.xrun_count()}", "$warning")]
        if m.hold:
            parts += [sep, (m.hold, "bold $warning")]
        self.update(Content.assemble(*parts))
