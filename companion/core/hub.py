"""EventHub: the one place events fan out from — to the clock, the runtime's routes and subscribers."""

from __future__ import annotations

import logging
import threading
from typing import Callable

from companion.core.events import Event

log = logging.getLogger(__name__)


class EventHub:
    """Thread-safe fan-out. Every sink must be non-blocking; a failing sink is logged and skipped
    so that one broken consumer (a closed transcript file, say) cannot stop perception."""

    def __init__(self) -> None:
        self._sinks: list[Callable[[Event], None]] = []
        self._lock = threading.Lock()
        self.failures = 0

    def subscribe(self, sink: Callable[[Event], None]) -> None:
        with self._lock:
            self._sinks = [*self._sinks, sink]

    def unsubscribe(self, sink: Callable[[Event], None]) -> None:
        with self._lock:
            # equality, not identity: `obj.method` is a new bound-method object on every access
            self._sinks = [s for s in self._sinks if s != sink]

    def emit(self, event: Event) -> None:
        for sink in self._sinks:  # a snapshot: subscribe() replaces the list, never mutates it
            try:
                sink(event)
            except Exception:  # noqa: BLE001 - isolate consumers from each other
                self.failures += 1
                log.exception("event sink %r failed on %s", sink, type(event).__name__)
