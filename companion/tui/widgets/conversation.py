"""The scrolling conversation: every entry is kept, only the latest ones are mounted as widgets."""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from companion.tui.widgets.result_card import ResultCard
from companion.tui.widgets.transcript_line import Entry, TranscriptLine

MAX_MOUNTED = 150  # widgets on screen at most; older entries live on in `history` only


class Conversation(VerticalScroll):
    """Bounded rendering: adding an entry costs the same with 10 or 100,000 entries behind it.

    The full history is a plain list of Entry records (the history screen shows it through a
    line-virtualized Log); the view keeps the last MAX_MOUNTED as widgets, so layout and
    repaint stay proportional to what can be seen, however long the session runs.
    """

    DEFAULT_CSS = """
    Conversation { height: 1fr; }
    Conversation > #earlier { color: $text-muted; padding: 0 1; height: 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.history: list[Entry] = []
        self._views: dict[int, Widget] = {}  # id(entry) → its mounted widget
        self._earlier = Static("", id="earlier")

    def compose(self):
        yield self._earlier

    def on_mount(self) -> None:
        self._earlier.display = False

    def add(self, entry: Entry) -> None:
        self.add_many([entry])

    def add_many(self, entries: list[Entry]) -> None:
        """Append entries; only those that will stay mounted are turned into widgets."""
        following = self.scroll_y >= self.max_scroll_y - 1  # the user has not scrolled back
        self.history.extend(entries)
        widgets = [self._view(entry) for entry in entries[-MAX_MOUNTED:]]
        self.mount_all(widgets)
        mounted = [child for child in self.children if child is not self._earlier]
        surplus = mounted[:max(0, len(mounted) - MAX_MOUNTED)]
        for widget in surplus:
            self._views.pop(id(widget.entry), None)
        if surplus:
            self.remove_children(surplus)
        hidden = len(self.history) - min(len(self.history), MAX_MOUNTED)
        self._earlier.display = hidden > 0
        if hidden:
            self._earlier.update(f"… {hidden:,} earlier entries (f10: full history)")
        if following:
            self.scroll_end(animate=False)

    def _view(self, entry: Entry) -> Widget:
        widget = ResultCard(entry) if entry.kind == "tool" else TranscriptLine(entry)
        self._views[id(entry)] = widget
        return widget

    def changed(self, entry: Entry) -> None:
        """Redraw an entry that was updated in place (live words); a no-op once it scrolled away."""
        widget = self._views.get(id(entry))
        if widget is not None:
            following = self.scroll_y >= self.max_scroll_y - 1
            widget.refresh_entry()
            if following:
                self.scroll_end(animate=False)

    @property
    def mounted_count(self) -> int:
        return len(self._views)

    def plain_lines(self) -> list[str]:
        return [line for entry in self.history for line in entry.plain().splitlines()]
