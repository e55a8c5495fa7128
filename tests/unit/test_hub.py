"""EventHub, the one path events travel: every subscriber gets every event in order, a failing
subscriber is counted and skipped (the others still get the event), and subscribing or leaving
from inside a delivery never breaks the delivery in flight."""

from __future__ import annotations

import threading

from companion.core.events import StreamState, TypedText
from companion.core.hub import EventHub


def test_every_subscriber_gets_every_event_in_order():
    hub, first, second = EventHub(), [], []
    hub.subscribe(first.append)
    hub.subscribe(second.append)
    events = [TypedText(0.1, "a"), StreamState(0.2, "model", "live"), TypedText(0.3, "b")]
    for event in events:
        hub.emit(event)
    assert first == events and second == events
    hub.unsubscribe(first.append)
    hub.emit(TypedText(0.4, "c"))
    assert len(first) == 3 and len(second) == 4


def test_a_failing_subscriber_is_counted_and_the_others_still_get_the_event():
    hub, got = EventHub(), []

    def broken(event):
        raise OSError("transcript file closed")

    hub.subscribe(broken)
    hub.subscribe(got.append)
    hub.emit(TypedText(0.1, "a"))
    hub.emit(TypedText(0.2, "b"))
    assert [e.text for e in got] == ["a", "b"] and hub.failures == 2


def test_subscribing_during_a_delivery_takes_effect_from_the_next_event():
    hub, late = EventHub(), []

    def joins_late(event):
        hub.subscribe(late.append)
        hub.unsubscribe(joins_late)

    hub.subscribe(joins_late)
    hub.emit(TypedText(0.1, "a"))
    hub.emit(TypedText(0.2, "b"))
    assert [e.text for e in late] == ["b"] and hub.failures == 0


def test_emit_from_many_threads_loses_nothing():
    hub, got = EventHub(), []
    hub.subscribe(got.append)
    threads = [threading.Thread(target=lambda i=i: [hub.emit(TypedText(i, str(n)))
                                                   for n in range(200)]) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(got) == 800
