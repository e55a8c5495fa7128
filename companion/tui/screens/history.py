"""The full conversation history in a line-virtualized log: cheap to open with 100,000 entries."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Footer, Log


class HistoryScreen(ModalScreen[None]):
    """Every entry of the session as plain text; Escape or f10 returns to the conversation."""

    BINDINGS = [Binding("escape,f10", "dismiss", "Back")]

    def __init__(self, lines: list[str]) -> None:
        super().__init__()
        self.lines = lines

    def compose(self) -> ComposeResult:
        log = Log(id="history", auto_scroll=True)
        log.border_title = f"history: {len(self.lines):,} entries"
        yield log
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(Log).write_lines(self.lines)
