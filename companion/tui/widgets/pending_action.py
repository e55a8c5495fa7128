"""The pending-action bar: a repository change the agent waits on the user to allow or refuse."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from companion.core.events import JobEvent


class PendingAction(Static):
    """Shows the oldest action awaiting confirmation; hidden when none waits."""

    DEFAULT_CSS = """
    PendingAction { height: auto; padding: 0 1; display: none; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.waiting: list[JobEvent] = []

    def add(self, event: JobEvent) -> None:
        if all(job.job_id != event.job_id for job in self.waiting):
            self.waiting.append(event)
        self._redraw()

    def resolve(self, job_id: str) -> None:
        self.waiting = [job for job in self.waiting if job.job_id != job_id]
        self._redraw()

    @property
    def current(self) -> JobEvent | None:
        return self.waiting[0] if self.waiting else None

    def _redraw(self) -> None:
        self.display = bool(self.waiting)
        job = self.current
        if job is None:
            return
        more = f"  (+{len(self.waiting) - 1} more)" if len(self.waiting) > 1 else ""
        self.update(Content.assemble(
            ("⚠ ", "bold $warning"), (f"{job.tool} wants to change the repository: ", "bold"),
            job.summary or job.job_id, more, "\n",
            ("ctrl+y", "bold $accent"), " confirm   ", ("ctrl+n", "bold $accent"), " deny"))
