"""The companion's Textual app: shows the running companion and sends the user's commands to it."""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable, Iterable

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from companion.core.controls import CompanionControls
from companion.core.events import GateState, JobEvent, RulesChanged, StreamState
from companion.rules import themes
from companion.rules.schema import Gates
from companion.rules.store import RulesStore, config_dir
from companion.tui.bridge import EventBridge
from companion.tui.command_palette import palette_commands
from companion.tui.screens.history import HistoryScreen
from companion.tui.screens.main import MainScreen
from companion.tui.transcript import Transcript
from companion.tui.widgets.jobs_panel import JobsPanel
from companion.tui.widgets.pending_action import PendingAction

STOP_TIMEOUT_S = 10.0  # quitting waits this long for the runtime; then it exits regardless
STREAMS_SHOWN = ("audio", "screen", "files", "model")


class CompanionApp(App[int]):
    """The TUI. `controls` is the running companion (None: nothing connected, all unavailable).

    `rules` is the store whose rules the panels show and whose [ui] theme applies unless
    `theme` is given; with a runtime connected, its reloads arrive as the runtime's RulesChanged
    events (the runtime owns the store). `clock` is the monotonic clock the transcript's gutter
    counts from (injectable for tests). The speech gate is the runtime's: the status bar shows
    the GateState events it emits.
    """

    CSS_PATH = "app.tcss"
    TITLE = "companion"
    BINDINGS = [
        Binding("f2", "toggle_mic", "Mic", tooltip="Mute or unmute the microphone"),
        Binding("f3", "toggle_screen", "Screen", tooltip="Pause or resume screen watching"),
        Binding("f4", "snooze", "Snooze", tooltip="Hold interjections for the snooze time"),
        Binding("f5", "snooze_hold", "Hold/resume", tooltip="Hold until resumed, or resume"),
        Binding("escape", "stop_speaking", "Hush", tooltip="Stop speaking now"),
        Binding("ctrl+y", "confirm(True)", "Confirm", tooltip="Allow the pending repo action"),
        Binding("ctrl+n", "confirm(False)", "Deny", tooltip="Refuse the pending repository action"),
        Binding("f6", "cancel_job", "Cancel job", tooltip="Cancel the newest running job"),
        Binding("f7", "explain", "Why?", tooltip="Ask the reasoning model why the latest failure fails"),
        Binding("f8", "toggle_panel('jobs')", "Jobs"),
        Binding("f9", "toggle_panel('rules')", "Rules"),
        Binding("f10", "history", "History"),
        Binding("ctrl+t", "next_theme", "Theme"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(self, controls: CompanionControls | None = None, rules: RulesStore | None = None,
                 theme: str | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.controls, self.rules_store, self.clock = controls, rules, clock
        self.bridge = EventBridge(self)
        self.transcript = Transcript(t0=clock())
        self.gate_state = GateState(clock(), "", False, Gates().snooze)  # until the runtime says
        self.mic_muted = self.screen_paused = self._quitting = False
        self.explicit_theme = theme
        self.theme_set = themes.load_themes(rules.config_dir if rules else config_dir())
        for registered in self.theme_set.themes.values():
            self.register_theme(registered)
        self._rules_theme = rules.rules.ui.theme if rules else None
        self.startup_notes: list[tuple[str, str]] = [(p, "error") for p in self.theme_set.problems]
        self._use_theme(theme or self._rules_theme)

    def _use_theme(self, name: str | None) -> None:
        chosen, problem = themes.resolve(name, self.theme_set)
        self.theme = chosen
        if problem:
            self.startup_notes.append((problem, "error"))
            if self.is_running:
                self._flush_notes()

    def get_default_screen(self) -> Screen:
        return MainScreen(self.transcript)

    @property
    def main_screen(self) -> MainScreen:
        return self.screen_stack[0]  # type: ignore[return-value]  # the default screen

    def on_main_screen_ready(self) -> None:
        self._flush_notes()
        if self.rules_store is not None:
            store = self.rules_store
            self.main_screen.show_rules(store.rules, store.error)
            if store.error:
                self._note(f"rules file invalid; built-in defaults in use:\n{store.error}", "error")
            elif store.rules.sources:
                count = len(store.rules.rules)
                self._note(f"{count} rule{'s' * (count != 1)} loaded from "
                           + ", ".join(store.rules.sources))
            if self.controls is None:  # else the runtime forwards the store's RulesChanged
                self.rules_store.subscribe(self.bridge)
            self.rules_store.start()
        if self.controls is None:
            for stream in STREAMS_SHOWN:
                state = StreamState(self.clock(), stream, "unavailable", "not connected")
                self.main_screen.status.streams[stream] = state
            self.main_screen.query_one("#status").redraw()
            self._note("no companion runtime connected: run `companion` to watch, listen and talk")
        else:
            self.controls.subscribe(self.bridge)
            self.start_runtime()
        self._refresh_hold()

    @work(group="runtime", exclusive=True, exit_on_error=False, description="start the runtime")
    async def start_runtime(self) -> None:
        try:
            await self.controls.start()
        except Exception as error:  # the app stays up and says why the companion did not start
            self._note(f"the companion could not start: {error}", "error")

    def _note(self, text: str, kind: str = "system") -> None:
        self.main_screen.record([self.transcript.note(self.clock(), text, kind)])

    def _flush_notes(self) -> None:
        notes, self.startup_notes = self.startup_notes, []
        for text, kind in notes:
            self._note(text, kind)

    def _refresh_hold(self) -> None:
        self.main_screen.set_hold(self.gate_state.status)

    # Events from the runtime, already on the app's loop.
    def on_event_bridge_arrived(self, message: EventBridge.Arrived) -> None:
        event = message.event
        self.main_screen.apply(event)
        if isinstance(event, JobEvent):
            self.refresh_bindings()  # confirm/deny appear in the footer only while one waits
        if isinstance(event, GateState):
            self.gate_state = event
            self._refresh_hold()
        if isinstance(event, RulesChanged) and self.rules_store is not None:
            rules = self.rules_store.rules
            self.main_screen.show_rules(rules, self.rules_store.error)
            self._refresh_hold()
            if rules.ui.theme != self._rules_theme:
                self._rules_theme = rules.ui.theme
                if self.explicit_theme is None:
                    self._use_theme(rules.ui.theme)

    def on_event_bridge_level(self, message: EventBridge.Level) -> None:
        self.main_screen.status.level_db = message.level_db
        self.main_screen.query_one("#status").redraw()

    def on_event_bridge_screen_rate(self, message: EventBridge.ScreenRate) -> None:
        self.main_screen.status.fps = message.fps
        self.main_screen.query_one("#status").redraw()

    def on_main_screen_text_submitted(self, message: MainScreen.TextSubmitted) -> None:
        self.main_screen.record([self.transcript.typed(self.clock(), message.text)])
        if self.controls is None:
            self._note("not sent: no companion runtime connected")
        else:
            self.controls.send_text(message.text)

    def on_jobs_panel_cancel_requested(self, message: JobsPanel.CancelRequested) -> None:
        self._cancel(message.job_id)

    # Commands (keys and the command palette).
    def _command(self, name: str, *args) -> bool:
        if self.controls is None:
            self.notify("No companion runtime connected.", severity="warning")
            return False
        getattr(self.controls, name)(*args)
        return True

    def action_toggle_mic(self) -> None:
        if self._command("set_mic_muted", not self.mic_muted):
            self.mic_muted = not self.mic_muted
            self.notify("Microphone muted." if self.mic_muted else "Microphone on.")

    def action_toggle_screen(self) -> None:
        if self._command("set_screen_paused", not self.screen_paused):
            self.screen_paused = not self.screen_paused
            self.notify("Screen watching paused." if self.screen_paused else "Watching the screen.")

    def action_snooze(self, minutes: float | None = -1) -> None:
        """Snooze for the rules' snooze time (-1), for `minutes`, or until resumed (None)."""
        minutes = self.gate_state.snooze_s / 60.0 if minutes == -1 else minutes
        self._command("snooze", minutes)  # the runtime's GateState shows the result

    def action_snooze_hold(self) -> None:
        self.action_snooze(0 if self.gate_state.snoozed else None)

    def action_stop_speaking(self) -> None:
        self._command("stop_speaking")

    def action_explain(self) -> None:
        """Why does the latest failure fail? (the [reasoning] model, off unless configured)"""
        if self._command("explain"):
            self.notify("Asking why the latest failure fails…")

    def action_confirm(self, approve: bool) -> None:
        pending = self.main_screen.query_one(PendingAction)
        job = pending.current
        if job is None:
            self.notify("Nothing is waiting for confirmation.")
            return
        if self._command("confirm", job.job_id, approve):
            pending.resolve(job.job_id)
            verb = "confirmed" if approve else "denied"
            self._note(f"you {verb}: {job.tool} {job.summary}".rstrip())
            self.refresh_bindings()

    def _cancel(self, job_id: str) -> None:
        if self._command("cancel_job", job_id):
            self.notify(f"Cancelling job {job_id}.")

    def action_cancel_job(self) -> None:
        running = self.main_screen.query_one(JobsPanel).running()
        if running:
            self._cancel(running[-1])
        else:
            self.notify("No job is running.")

    def action_toggle_panel(self, name: str) -> None:
        self.main_screen.toggle_panel(name)

    def action_history(self) -> None:
        self.push_screen(HistoryScreen(self.main_screen.conversation.plain_lines()))

    def action_next_theme(self) -> None:
        ours = [name for name in self.theme_set.names() if name.startswith("companion-")]
        ours += [name for name in self.theme_set.names()
                 if name not in themes.BUILTIN_THEMES and name not in ours]
        index = ours.index(self.theme) + 1 if self.theme in ours else 0
        self.theme = ours[index % len(ours)]
        self.notify(f"Theme: {self.theme}")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "confirm" and self.screen_stack and isinstance(self.screen, MainScreen):
            return self.main_screen.query_one(PendingAction).current is not None
        return True

    async def action_quit(self) -> None:
        """Stop the runtime (every stream, worker and the model server child), then exit."""
        if self._quitting:
            return
        self._quitting = True
        if self.controls is not None:
            self.notify("Stopping the companion…", timeout=STOP_TIMEOUT_S)
            try:
                await asyncio.wait_for(self.controls.stop(), STOP_TIMEOUT_S)
            except TimeoutError:
                self.log.error("the runtime did not stop in time; exiting anyway")
            except Exception as error:  # a failing stop must not trap the user in the app
                self.log.error(f"the runtime failed to stop cleanly: {error!r}")
        self.bridge.closed = True
        if self.rules_store is not None:
            self.rules_store.stop()
        self.workers.cancel_all()
        self.exit(0)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from palette_commands(self)


def main(argv: list[str] | None = None) -> int:
    """`python -m companion.tui.app`: the TUI alone, with the rules of the current directory."""
    parser = argparse.ArgumentParser(prog="python -m companion.tui.app", description=main.__doc__)
    parser.add_argument("--theme", help="theme name (companion-dark, companion-light, "
                        "companion-contrast, a Textual theme, or one of yours)")
    parser.add_argument("--repo", default=".", help="repository whose .companion.toml applies")
    args = parser.parse_args(argv)
    app = CompanionApp(None, RulesStore(args.repo), theme=args.theme)
    app.run()
    return app.return_code or 0


if __name__ == "__main__":
    raise SystemExit(main())
