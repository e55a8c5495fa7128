"""The main screen: status bar, conversation, jobs and rules panels, pending action, input."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input

from companion.core.events import (
    AudioUnderruns,
    Event,
    FileChanged,
    JobEvent,
    ModelTurn,
    StreamState,
)
from companion.rules.schema import Rules
from companion.tui.transcript import Change, Transcript
from companion.tui.widgets.conversation import Conversation
from companion.tui.widgets.jobs_panel import JobsPanel
from companion.tui.widgets.pending_action import PendingAction
from companion.tui.widgets.rules_panel import RulesPanel
from companion.tui.widgets.status_bar import StatusBar, StatusModel

NARROW_WIDTH = 110  # below this the side panels start hidden, so the conversation stays readable


class MainScreen(Screen):
    """Renders the companion's state; user intents leave as messages for the app to act on."""

    AUTO_FOCUS = "#prompt"

    @dataclass
    class TextSubmitted(Message):
        text: str

    class Ready(Message):
        """Composed and mounted: the app may start feeding it events."""

    def __init__(self, transcript: Transcript) -> None:
        super().__init__()
        self.transcript = transcript
        self.status = StatusModel()
        self.watched_files: set[str] = set()
        self.rules: Rules | None = None
        self.rules_error = ""
        self.panels_chosen = False  # once the user toggles a panel, width no longer decides

    def compose(self) -> ComposeResult:
        yield StatusBar(self.status, id="status")
        with Horizontal(id="body"):
            yield Conversation(id="conversation")
            with Vertical(id="side"):
                yield JobsPanel(id="jobs")
                yield RulesPanel(id="rules")
        yield PendingAction(id="pending")
        yield Input(placeholder="Type to the companion; Enter sends", id="prompt")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(RulesPanel).show(self.rules, self.rules_error, self.status.hold)
        self._fit_panels(self.app.size.width)
        self.post_message(self.Ready())

    def on_resize(self, event) -> None:
        self._fit_panels(event.size.width)

    def _fit_panels(self, width: int) -> None:
        if not self.panels_chosen:
            self.query_one("#side").display = width >= NARROW_WIDTH

    def toggle_panel(self, name: str) -> None:
        side, panel = self.query_one("#side"), self.query_one(f"#{name}")
        self.panels_chosen = True
        if not side.display:
            side.display = True
            for other in side.children:
                other.display = other is panel
            return
        panel.display = not panel.display
        side.display = any(child.display for child in side.children)
        if not side.display:
            for child in side.children:
                child.display = True  # the next toggle shows the side with just its panel

    @property
    def conversation(self) -> Conversation:
        return self.query_one(Conversation)

    def record(self, changes: list[Change]) -> None:
        conversation = self.conversation
        new = [change.entry for change in changes if change.new]
        if new:
            conversation.add_many(new)
        for change in changes:
            if not change.new:
                conversation.changed(change.entry)

    def apply(self, event: Event) -> None:
        """Show one event from the runtime everywhere it belongs."""
        self.record(self.transcript.apply(event))
        bar = self.query_one(StatusBar)
        if isinstance(event, StreamState):
            self.status.streams[event.stream] = event
            if event.stream == "screen" and event.status != "live":
                self.status.fps = None
            bar.redraw()
        elif isinstance(event, ModelTurn):
            self.status.latency_ms, self.status.late_ticks = event.latency_ms, event.late_ticks
            bar.redraw()
        elif isinstance(event, AudioUnderruns):
            self.status.xruns[event.source] = event.total
            bar.redraw()
        elif isinstance(event, FileChanged):
            if event.kind == "deleted":
                self.watched_files.discard(event.path)
            elif event.kind != "note":
                self.watched_files.add(event.path)
            if event.old_path:
                self.watched_files.discard(event.old_path)
            self.status.files = len(self.watched_files)
            bar.redraw()
        elif isinstance(event, JobEvent):
            self.query_one(JobsPanel).update_job(event)
            pending = self.query_one(PendingAction)
            if event.phase == "needs_confirmation":
                pending.add(event)
            elif event.phase in ("result", "error", "cancelled"):
                pending.resolve(event.job_id)

    def show_rules(self, rules: Rules | None, error: str) -> None:
        self.rules, self.rules_error = rules, error
        self.query_one(RulesPanel).show(rules, error, self.status.hold)

    def set_hold(self, hold: str) -> None:
        if hold != self.status.hold:
            self.status.hold = hold
            self.query_one(StatusBar).redraw()
            self.query_one(RulesPanel).show(self.rules, self.rules_error, hold)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        event.input.clear()
        if text:
            self.post_message(self.TextSubmitted(text))
