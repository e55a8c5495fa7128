"""EventHub: the only way events travel — every emit fans out to the stages that consume its type."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from companion.core.events import Event
from companion.core.stage import Stage

log = logging.getLogger(__name__)

Sink = Callable[[Event], None]


class EventHub:
    """Thread-safe fan-out by event type. Stages are connected by their declared `consumes`;
    observers (the TUI bridge, the recorder, headless transcripts) subscribe to every event.
    Every handler must be non-blocking; a failing one is logged and skipped so that one broken
    consumer (a closed transcript file, say) cannot stop perception."""

    def __init__(self) -> None:
        # (types, handler) in connection order; types None means every event. Replaced, never
        # mutated, so emit() iterates a snapshot without a lock.
        self._routes: tuple[tuple[tuple[type, ...] | None, Sink], ...] = ()
        self._by_type: dict[type, tuple[Sink, ...]] = {}
        self._everything: tuple[Sink, ...] = ()
        self._lock = threading.Lock()
        self.failures = 0

    def connect(self, stage: Stage) -> None:
        """Deliver every event of a type in `stage.consumes` to `stage.process`."""
        self._add(tuple(stage.consumes), stage.process)

    def subscribe(self, sink: Sink) -> None:
        """Deliver every event to `sink` (observers: the TUI, the recorder, transcripts)."""
        self._add(None, sink)

    def unsubscribe(self, sink: Sink) -> None:
        with self._lock:
            # equality, not identity: `obj.method` is a new bound-method object on every access
            self._rebuild(tuple(r for r in self._routes if r[1] != sink))

    def _add(self, types: tuple[type, ...] | None, sink: Sink) -> None:
        with self._lock:
            self._rebuild((*self._routes, (types, sink)))

    def _rebuild(self, routes) -> None:
        known = {t for types, _ in routes if types for t in types}
        self._by_type = {t: tuple(s for types, s in routes if types is None or t in types)
                         for t in known}
        self._everything = tuple(s for types, s in routes if types is None)
        self._routes = routes

    def emit(self, event: Event) -> None:
        """The one emit: every stage and observer gets the event on the caller's thread."""
        for sink in self._by_type.get(type(event), self._everything):
            try:
                sink(event)
            except Exception:
                self.failures += 1
                log.exception("event sink %r failed on %s", sink, type(event).__name__)
