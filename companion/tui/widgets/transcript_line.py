"""One line of the conversation: who spoke, when, and what, with live and cut-off speech marked."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from textual.content import Content
from textual.widgets import Static

EntryKind = Literal["user", "typed", "companion", "interjection", "system", "error", "tool"]

LABELS: dict[str, tuple[str, str]] = {
    "user": ("you", "bold $primary"),
    "typed": ("you ⌨", "bold $primary"),
    "companion": ("companion", "bold $secondary"),
    "interjection": ("companion ⚡", "bold $accent"),
    "system": ("·", "$text-muted"),
    "error": ("!", "bold $error"),
    "tool": ("job", "bold $success"),
}


@dataclass(slots=True)
class Entry:
    """What one transcript line says; updated in place while speech or recognition is live."""

    t: float  # seconds since the session started
    kind: EntryKind
    text: str = ""
    final: bool = True  # False while the user's words are a partial hypothesis
    spoken_words: int | None = None  # companion speech: words played so far (None: no voice seen)
    cut: bool = False  # the companion was stopped before the end
    unspoken: str = ""  # what it never got to say
    card: dict = field(default_factory=dict)  # tool results: {"tool", "summary", "data", "phase"}

    def plain(self) -> str:
        """The entry as one plain-text line (history view, tests)."""
        label = LABELS[self.kind][0]
        tail = f" [cut off; unsaid: {self.unspoken}]" if self.cut and self.unspoken else (
            " [cut off]" if self.cut else "")
        speaker = f"{label}:" if self.kind not in ("system", "error") else label
        return f"{clock(self.t)} {speaker} {self.text}{tail}"


def clock(seconds: float) -> str:
    """Session time for the gutter: m:ss, or h:mm:ss after an hour."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    if hours:
        return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"
    return f"{rest // 60:2d}:{rest % 60:02d}"


def render_entry(entry: Entry) -> Content:
    label, label_style = LABELS[entry.kind]
    parts: list[str | tuple[str, str]] = [(f"{clock(entry.t)} ", "$text-muted"),
                                          (label, label_style), "  "]
    if entry.kind in ("companion", "interjection") and entry.spoken_words is not None:
        words = entry.text.split()
        said, pending = " ".join(words[:entry.spoken_words]), " ".join(words[entry.spoken_words:])
        parts.append(said)
        if pending:
            parts.append((" " + pending, "$text-muted"))
    else:
        parts.append((entry.text, "italic $text-muted") if not entry.final else entry.text)
    if entry.cut:
        if entry.unspoken:
            parts.append((" " + entry.unspoken, "strike $text-muted"))
        parts.append(("  ⟂ cut off", "bold $warning"))
    return Content.assemble(*parts)


class TranscriptLine(Static):
    """The widget for one Entry; `refresh_entry` redraws it after the entry changed."""

    DEFAULT_CSS = """
    TranscriptLine { height: auto; padding: 0 1; }
    """

    def __init__(self, entry: Entry) -> None:
        super().__init__(render_entry(entry), classes=f"-{entry.kind}")
        self.entry = entry
        self.set_class(not entry.final, "-partial")

    def refresh_entry(self) -> None:
        self.set_class(not self.entry.final, "-partial")
        self.update(render_entry(self.entry))
