"""The contract between the TUI and the running companion: events out, commands in."""

from __future__ import annotations

from typing import Callable, Protocol

from companion.core.events import Event


class CompanionControls(Protocol):
    """What the TUI may ask of the running companion (the runtime implements it).

    Events reach subscribers from any thread; a subscriber must hand them to its own loop
    (Textual: `App.call_from_thread` or `post_message`) and never block. Commands return at
    once; their effects show up as events (a StreamState, a JobEvent, a ModelTurn, the speech
    gate's GateState after a snooze).
    """

    def subscribe(self, sink: Callable[[Event], None]) -> None:
        """Receive every event from now on (perception, voice, agent, model, rules)."""

    async def start(self) -> None:
        """Start perception, the model session and the micro-turn loop."""

    async def stop(self) -> None:
        """Stop every stream, worker and the model-server child; returns when all are down."""

    def set_mic_muted(self, muted: bool) -> None: ...

    def set_screen_paused(self, paused: bool) -> None: ...

    def snooze(self, minutes: float | None) -> None:
        """Hold interjections for `minutes`, until resumed when None; 0 resumes."""

    def stop_speaking(self) -> None: ...

    def send_text(self, text: str) -> None:
        """A line the user typed: it becomes a TypedText event in the next micro-turn."""

    def confirm(self, job_id: str, approve: bool) -> None:
        """Answer a repository action that waits for confirmation (JobEvent needs_confirmation)."""

    def cancel_job(self, job_id: str) -> None: ...

    def explain(self, test: str = "") -> None:
        """Ask the [reasoning] model why `test` (default: the latest failure) fails; the answer
        streams back as an `explain` job (a card, its first sentence relayed)."""
