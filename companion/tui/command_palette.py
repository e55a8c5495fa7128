"""The command palette's companion entries (ctrl+p): every key command, by name, beside Textual's.

Each entry runs the same action as its key, so the palette and the footer never disagree; a
running job gets its own "Cancel job" entry while it runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from textual.app import SystemCommand

from companion.tui.widgets.jobs_panel import JobsPanel

if TYPE_CHECKING:
    from companion.tui.app import CompanionApp

SNOOZE_MINUTES = 15.0


def palette_commands(app: CompanionApp) -> Iterator[SystemCommand]:
    """The companion's commands for the palette, each naming the key that does the same."""
    yield SystemCommand("Microphone: mute or unmute", "Toggle the mic (f2)",
                        app.action_toggle_mic)
    yield SystemCommand("Screen: pause or resume", "Toggle screen watching (f3)",
                        app.action_toggle_screen)
    yield SystemCommand("Snooze interjections 15 minutes", "Hold the companion's remarks",
                        lambda: app.action_snooze(SNOOZE_MINUTES))
    yield SystemCommand("Snooze until resumed", "Hold remarks until you resume (f5)",
                        lambda: app.action_snooze(None))
    yield SystemCommand("Resume interjections", "End a snooze", lambda: app.action_snooze(0))
    yield SystemCommand("Stop speaking", "Cut the companion off (esc)",
                        app.action_stop_speaking)
    yield SystemCommand("Confirm pending action", "ctrl+y", lambda: app.action_confirm(True))
    yield SystemCommand("Deny pending action", "ctrl+n", lambda: app.action_confirm(False))
    for job_id in app.main_screen.query_one(JobsPanel).running():
        yield SystemCommand(f"Cancel job {job_id}", "Stop this background job",
                            lambda job_id=job_id: app._cancel(job_id))
    yield SystemCommand("Toggle jobs panel", "f8", lambda: app.action_toggle_panel("jobs"))
    yield SystemCommand("Toggle rules panel", "f9", lambda: app.action_toggle_panel("rules"))
    yield SystemCommand("Show full history", "f10", app.action_history)
    yield SystemCommand("Next companion theme", "ctrl+t", app.action_next_theme)
