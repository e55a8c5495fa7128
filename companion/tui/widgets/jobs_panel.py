"""The jobs panel: background jobs with their progress, and a cancel button for running ones."""

from __future__ import annotations

from dataclasses import dataclass

from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import Button, Static

from companion.core.events import JobEvent
from companion.tui.widgets.status_bar import progress_bar

FINISHED_KEPT = 5  # finished jobs stay listed briefly for context, newest first


def job_progress(event: JobEvent) -> float | None:
    """Progress from the agent's data: a 0..1 `progress`, or `done` of `total`."""
    data = event.data
    if isinstance(data.get("progress"), (int, float)):
        return float(data["progress"])
    done, total = data.get("done"), data.get("total")
    if isinstance(done, int) and isinstance(total, int) and total > 0:
        return done / total
    return None


class JobRow(Horizontal):
    DEFAULT_CSS = """
    JobRow { height: auto; }
    JobRow > Static { width: 1fr; }
    JobRow > Button { min-width: 8; width: 8; height: 1; border: none; }
    """

    def __init__(self, event: JobEvent) -> None:
        super().__init__()  # job ids are the agent's strings, not valid widget ids
        self.job_id = event.job_id
        self.label = Static()
        self.cancel = Button("✕", tooltip="cancel this job", compact=True)
        self.show(event)

    def compose(self):
        yield self.label
        yield self.cancel

    def show(self, event: JobEvent) -> None:
        running = event.phase in ("started", "progress", "needs_confirmation")
        fraction = job_progress(event)
        line: list[str | tuple[str, str]] = [(event.tool, "bold"), " "]
        if event.phase == "needs_confirmation":
            line.append(("waiting for you", "$warning"))
        elif running:
            line.append((progress_bar(fraction, 6), "$primary") if fraction is not None
                        else ("running", "$primary"))
        else:
            style = {"result": "$success", "error": "$error"}.get(event.phase, "$text-muted")
            line.append((event.phase, style))
        if event.summary:
            line.append(("\n" + event.summary, "$text-muted"))
        self.label.update(Content.assemble(*line))
        self.cancel.display = running
        self.set_class(not running, "-finished")


class JobsPanel(VerticalScroll):
    """Lists jobs by id; running ones first. Cancelling posts `CancelRequested`."""

    @dataclass
    class CancelRequested(Message):
        job_id: str

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "jobs"
        self.latest: dict[str, JobEvent] = {}
        self._empty = Static("no background jobs", classes="empty")

    def compose(self):
        yield self._empty

    def update_job(self, event: JobEvent) -> None:
        self.latest[event.job_id] = event
        rows = {row.job_id: row for row in self.query(JobRow)}
        if event.job_id in rows:
            rows[event.job_id].show(event)
        else:
            self.mount(JobRow(event), before=0)
        finished = [row for row in self.query(JobRow) if row.has_class("-finished")]
        for row in finished[FINISHED_KEPT:]:
            row.remove()
        self._empty.display = False

    def running(self) -> list[str]:
        return [job for job, event in self.latest.items()
                if event.phase in ("started", "progress", "needs_confirmation")]

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if isinstance(event.button.parent, JobRow):
            event.stop()
            self.post_message(self.CancelRequested(event.button.parent.job_id))
