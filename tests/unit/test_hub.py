"""EventHub: one emit, delivered by declared type to stages and observers; every stage declares its
types. Observers get every event in order, a failing handler is counted and skipped (the others
still get the event), and subscribing or leaving inside a delivery never breaks the one in flight."""

from __future__ import annotations

import threading
import typing

from companion.agent.stage import AgentStage
from companion.core import events
from companion.core.clock import MicroTurnClock
from companion.core.events import Say, StopSpeaking, StreamState, TypedText, UserWords
from companion.core.hub import EventHub
from companion.core.stage import Stage
from companion.model.turn_loop import TurnLoop
from companion.rules.speech_policy import SpeechPolicy
from companion.streams.audio import AudioIn
from companion.streams.files import FileWatch
from companion.streams.screen import ScreenWatch
from companion.streams.screen_text import ScreenReader
from companion.voice.hearing import Hearing
from companion.voice.speaker import Speaker


class Recording:
    def __init__(self, consumes: tuple[type, ...], log: list) -> None:
        self.consumes, self.emits, self.log = consumes, (), log

    def process(self, event) -> None:
        self.log.append((self, event))


def test_stages_get_only_their_declared_types_and_observers_get_everything():
    hub, log = EventHub(), []
    speaker, hearing = Recording((Say, StopSpeaking), log), Recording((UserWords,), log)
    assert isinstance(speaker, Stage)
    seen = []
    hub.connect(speaker)
    hub.subscribe(seen.append)
    hub.connect(hearing)
    events = [Say(1.0, "hi"), UserWords(2.0, "run the tests", True), TypedText(3.0, "x"),
              StopSpeaking(4.0, "user")]
    for event in events:
        hub.emit(event)
    assert log == [(speaker, events[0]), (hearing, events[1]), (speaker, events[3])]
    assert seen == events  # including TypedText, which no stage consumes


def test_delivery_follows_connection_order_and_a_failing_consumer_is_isolated():
    hub, order = EventHub(), []

    def broken(event) -> None:
        order.append("broken")
        raise RuntimeError("closed file")

    first = Recording((Say,), [])
    first.process = lambda event: order.append("first")
    hub.connect(first)
    hub.subscribe(broken)
    hub.subscribe(lambda event: order.append("last"))
    hub.emit(Say(0.0, "a"))
    assert order == ["first", "broken", "last"] and hub.failures == 1
    hub.unsubscribe(broken)
    hub.emit(Say(0.0, "b"))
    assert order[3:] == ["first", "last"]


def test_every_stage_declares_event_types_it_consumes_and_emits():
    kinds = set(typing.get_args(events.Event))
    for cls in (AudioIn, FileWatch, ScreenWatch, ScreenReader, Hearing, MicroTurnClock, TurnLoop,
                SpeechPolicy, Speaker, AgentStage):
        assert isinstance(cls.consumes, tuple) and isinstance(cls.emits, tuple), cls
        assert set(cls.consumes) <= kinds and set(cls.emits) <= kinds, cls
        assert not cls.consumes or callable(getattr(cls, "process", None)), cls


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
