"""Stage: the contract every step of the event path keeps (after pipecat's frame processors)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from companion.core.events import Event


@runtime_checkable
class Stage(Protocol):
    """One step of the event path: events of the types it consumes in, new events out.

    - `consumes`: the event types the hub hands to `process`, and only those (dispatch is by
      exact type; no other part routes events to a stage).
    - `emits`: the event types the stage may emit, through the hub's `emit` it was given when it
      was built. It never calls another stage, and nothing calls back up the path: a result is a
      new event for whoever consumes its type (pipecat's `process_frame` / `push_frame`).
    - `process(event)` may be called from any thread (the hub delivers on the emitter's thread);
      it must not block: slow work (recognition, tool runs, playback) goes to the stage's own
      thread or task, which emits when done.

    The composition root (companion.runtime) builds the stages and connects each to the hub;
    a test drives one stage alone by calling `process` and collecting what it emits.
    """

    consumes: tuple[type, ...]
    emits: tuple[type, ...]

    def process(self, event: Event) -> None: ...
