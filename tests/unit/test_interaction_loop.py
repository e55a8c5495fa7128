"""The interaction loop's recovery paths, one at a time, against a scripted loopback server on
fake time: a turn too large goes in pieces (never skipped), a turn the server cannot take now
(409 / 429) is held and merged into the next (after a 429's Retry-After), a lost session or a
dropped connection reopens the session and re-primes it (prefix, then recent context within a
budget that halves on 413), and an output the model left open is closed with `<|end|>` before
the next turn."""

from __future__ import annotations

import asyncio
import contextlib
from itertools import pairwise
from types import SimpleNamespace

import numpy as np
import pytest

from companion.core.clock import MicroTurnClock
from companion.core.events import (
    AudioBlock,
    FileChanged,
    JobEvent,
    ModelAction,
    ModelTurn,
    StreamState,
    TypedText,
)
from companion.core.protocol import Chunk
from companion.model import turn_loop
from companion.model.link import ModelLink
from companion.model.recent_turns import merge_chunks
from companion.model.session_client import SessionClient
from companion.model.turn_loop import TurnLoop
from companion.model.turn_pieces import halve_at_a_line
from tests.harness.fake_server import (
    FakeServer,
    busy,
    dropped,
    held_until,
    lost_session,
    ok,
    throttled,
    too_large,
)
from tests.harness.stage_harness import StageHarness

pytestmark = pytest.mark.timeout(20)

PREFIX = "<|system|>You are the companion.<|end|>"


@contextlib.asynccontextmanager
async def live_stage(prefix: str = PREFIX, info: dict | None = None, grammar: str | None = None,
                     speaking=None):
    """A loop on a live link to the fake server, its clock and backoff on the harness's time."""
    async with FakeServer(info=info) as server:
        harness = StageHarness()
        link = ModelLink(harness.emit, server_url=server.url, token=server.token,
                         sleep=harness.clock.sleep)
        await link.connect()
        clock = MicroTurnClock(now=harness.clock.now, sleep=harness.clock.sleep)
        clock.start(0.0)
        loop = TurnLoop(clock, link, harness.emit, lambda: prefix, grammar=grammar, speaking=speaking)

        async def turns(*timeline, n: int = 1):
            return await harness.run_turns(clock, loop.step, timeline, n)

        try:
            yield SimpleNamespace(server=server, harness=harness, link=link, loop=loop,
                                  acted=Acted(harness), turns=turns)
        finally:
            await link.close()


@pytest.fixture
async def stage():
    async with live_stage() as stage:
        yield stage


class Acted:
    """The actions the loop emitted (ModelAction events), in order, for the stages that act."""

    def __init__(self, harness: StageHarness) -> None:
        self.harness = harness

    def __iter__(self):
        return iter([e.action for e in self.harness.of(ModelAction)])


def typed(t: float, text: str) -> tuple[float, TypedText]:
    return t, TypedText(t, text)


def model_states(harness: StageHarness) -> list[tuple[str, str]]:
    return [(e.status, e.reason) for e in harness.of(StreamState) if e.stream == "model"]


def session_texts(server: FakeServer, session: str) -> list[tuple[str, int]]:
    """(text, max_new_tokens) of what `session` took, in order."""
    return [(b["text"], b["sampling_params"]["max_new_tokens"]) for b in server.answered
            if b["session_params"]["id"] == session]


async def test_the_first_turn_primes_the_pinned_prefix_then_decodes(stage):
    actions = await stage.turns(typed(0.05, "hello"))
    assert [a.kind for a in actions[0]] == ["silence"]
    assert session_texts(stage.server, "s1") == [(PREFIX, 0), ("<|t|>0.0<|user|>hello<|out|>", 8)]
    assert [(e.tick, e.action) for e in stage.harness.of(ModelTurn)] == [(0, "silence")]


async def test_a_turn_over_the_chunk_limit_goes_in_pieces_not_skipped(stage):
    limit = 90  # characters: the prefix fits, the whole turn does not, each part does
    stage.server.rule = lambda body: too_large() if len(body["text"]) > limit else None
    diff = "--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-a = 1\n+a = 2  # the edit\n"
    whole = await stage.turns((0.05, FileChanged(0.05, "m.py", "modified", diff)),
                              typed(0.1, "why does the edit break the parser test"))
    assert whole[0], "the turn was decoded"
    sent = session_texts(stage.server, "s1")[1:]  # after the prefix
    assert len(sent) >= 2, "the turn went in pieces"
    assert all(n == 0 for _, n in sent[:-1]) and sent[-1][1] == 8  # only the last decodes
    text = "".join(t for t, _ in sent)
    assert text.startswith("<|t|>0.0<|file|>") and text.endswith("<|out|>")
    assert "the edit" in text and "<|user|>why does the edit break the parser test" in text
    assert stage.loop.turns == 1 and stage.loop.skipped == 0
    assert [e.tick for e in stage.harness.of(ModelTurn)] == [0]
    assert not [s for s in model_states(stage.harness) if "held" in s[1]]


@pytest.mark.parametrize("refusal", [busy(), throttled(retry_after=None)], ids=["409", "429"])
async def test_a_turn_the_server_cannot_take_now_is_held_and_sent_with_the_next(stage, refusal):
    await stage.turns(typed(0.05, "warm up"))
    stage.server.on("/generate", refusal)
    held, merged = await stage.turns(typed(0.25, "first words"), typed(0.45, "second words"), n=2)
    assert held == [] and merged, "the first is held, the second turn carries both"
    assert stage.loop.skipped == 1
    text = session_texts(stage.server, "s1")[-1][0]
    assert text.startswith("<|t|>0.2") and "first words\nsecond words" in text
    assert [e.tick for e in stage.harness.of(ModelTurn)] == [0, 1]  # the held window's tick
    reasons = [r for status, r in model_states(stage.harness) if "held" in r]
    assert len(reasons) == 1 and "micro-turn 1 held for the next" in reasons[0]
    assert str(refusal.status) in reasons[0]
    assert stage.server.opened == ["s1"] and stage.link.restarts == 0  # no reconnect


async def test_a_429_retry_after_is_honoured_and_what_waited_goes_in_one_turn(stage):
    await stage.turns(typed(0.05, "warm up"))
    stage.server.on("/generate", throttled(retry_after=1))
    refused_at = len(stage.server.generates)
    results = await stage.turns(typed(0.25, "first"), typed(0.45, "second"), typed(0.85, "third"),
                                typed(1.25, "fourth"), n=6)
    # tick 1 is refused at 0.4 s; ticks 2-5 (up to 1.2 s) are held without asking; tick 6 (1.4 s)
    # carries all four
    assert results[:5] == [[]] * 5 and results[5]
    assert len(stage.server.generates) == refused_at + 2
    text = session_texts(stage.server, "s1")[-1][0]
    assert "first\nsecond\nthird\nfourth" in text
    reasons = [r for _, r in model_states(stage.harness) if "held" in r]
    assert len(reasons) == 1 and "next try in 1 s (Retry-After)" in reasons[0]
    assert stage.server.opened == ["s1"]


async def test_a_slow_prefix_prefill_is_waited_for_not_taken_for_a_hung_server(stage, monkeypatch):
    # a large model on CPU: each turn well inside the client's timeout, the prefix not
    await stage.link.client.aclose()
    stage.link.client = SessionClient(stage.server.url, stage.server.token, timeout_s=0.2)
    await stage.link.client.open()
    monkeypatch.setattr(turn_loop, "PREFILL_TIMEOUT_S", 3.0)
    prefilled = asyncio.Event()
    stage.server.on("/generate", held_until(prefilled))
    asyncio.get_running_loop().call_later(0.5, prefilled.set)
    actions = await stage.turns(typed(0.05, "hello"))
    assert [a.kind for a in actions[0]] == ["silence"]
    assert session_texts(stage.server, "s2")[0] == (PREFIX, 0)
    assert stage.server.opened == ["s1", "s2"]  # no reconnect
    assert not [r for _, r in model_states(stage.harness) if "reconnecting" in r]


@pytest.mark.parametrize("failure", [lost_session(), dropped()], ids=["404-lost", "dropped"])
async def test_a_lost_session_is_reopened_reprimed_and_nothing_the_user_did_is_lost(stage, failure):
    await stage.turns(typed(0.05, "alpha"), typed(0.25, "beta"), n=2)
    stage.server.on("/generate", failure)
    lost, back = await stage.turns(typed(0.45, "gamma"), typed(0.65, "delta"), n=2)
    assert lost == [] and back
    assert stage.server.opened == ["s1", "s2"]
    states = model_states(stage.harness)
    assert states[-1] == ("live", "session reopened")
    assert any(s == "degraded" and r.startswith("reconnecting:") for s, r in states)
    sent = session_texts(stage.server, "s2")
    assert [n for _, n in sent] == [0, 0, 8]  # prefix, recent context, the turn
    assert sent[0][0] == PREFIX
    assert "<|user|>alpha" in sent[1][0] and "<|user|>beta" in sent[1][0]
    assert sent[2][0].startswith("<|t|>0.4") and "gamma\ndelta" in sent[2][0]


async def test_an_open_output_is_closed_with_end_before_the_next_turn(stage):
    stage.server.on("/generate", ok(""), ok(" the parser"),  # prefix; a fragment, cut by length
                    ok(" test fails"),  # still open (finish_reason length)
                    ok("<|silence|>", finish_reason={"type": "stop", "matched": "<|end|>"}),
                    ok(" done<|end|>"))
    await stage.turns(*[typed(0.05 + 0.2 * i, f"w{i}") for i in range(5)], n=5)
    turns = [t for t, n in session_texts(stage.server, "s1") if n]
    assert turns[0].startswith("<|t|>0.0")
    assert turns[1].startswith("<|end|><|t|>0.2") and turns[2].startswith("<|end|><|t|>0.4")
    assert turns[3].startswith("<|t|>0.6")  # stopped at <|end|> (SGLang trims it): closed
    assert turns[4].startswith("<|t|>0.8")  # ended by <|end|> in the text: closed
    assert [a.text for a in stage.acted if a.kind == "speech"] == [" the parser", " test fails",
                                                                    " done"]


async def test_a_held_turn_is_still_closed_with_end_once(stage):
    stage.server.on("/generate", ok(""), ok(" still talking"), busy())
    await stage.turns(typed(0.05, "a"), typed(0.25, "b"), typed(0.45, "c"), n=3)
    turns = [t for t, n in session_texts(stage.server, "s1") if n]
    assert len(turns) == 2 and turns[1].startswith("<|end|><|t|>0.2")
    assert turns[1].count("<|end|>") == 1


async def test_a_new_session_does_not_inherit_the_lost_sessions_open_output(stage):
    stage.server.on("/generate", ok(""), ok(" half a sent"), lost_session())
    await stage.turns(typed(0.05, "a"), typed(0.25, "b"), typed(0.45, "c"), n=3)
    turn = next(t for t, n in session_texts(stage.server, "s2") if n)
    assert turn.startswith("<|t|>0.2")  # nothing to close in a session that never saw it


async def test_a_reprime_over_the_window_halves_the_recent_context_instead_of_reconnecting(stage):
    words = [f"sentence number {i} about the parser and its failing test" for i in range(24)]
    await stage.turns(*[typed(0.05 + 0.2 * i, w) for i, w in enumerate(words)], n=24)
    limit = 400  # characters an append may hold: the recent summary must shrink to fit
    stage.server.rule = lambda body: too_large() if len(body["text"]) > limit else None
    stage.server.on("/generate", lost_session())
    await stage.turns(typed(4.85, "lost here"), typed(5.05, "and after"), n=2)
    assert stage.loop.turns == 25, "the re-primed session took the held turn"
    assert stage.server.opened == ["s1", "s2"] and stage.link.restarts == 0
    refused = [b["text"] for b in stage.server.appends
               if b["session_params"]["id"] == "s2" and b not in stage.server.answered]
    assert len(refused) >= 1
    assert all(len(a) > len(b) for a, b in pairwise(refused))  # each try smaller
    sent = session_texts(stage.server, "s2")
    assert [n for _, n in sent] == [0, 0, 8]
    recent = sent[1][0]
    assert len(recent) <= limit and words[-1] in recent  # the newest turn made it in
    assert recent.startswith("<|more|>") and "earlier micro-turns" in recent
    assert "lost here\nand after" in sent[2][0]


async def test_a_reprime_whose_recent_context_never_fits_still_delivers_the_turn(stage):
    await stage.turns(*[typed(0.05 + 0.2 * i, f"turn {i} words") for i in range(4)], n=4)
    stage.server.on("/generate", lost_session())
    stage.server.rule = lambda body: (too_large() if body["sampling_params"]["max_new_tokens"] == 0
                                      and body["text"] != PREFIX else None)
    await stage.turns(typed(0.85, "lost"), typed(1.05, "after"), n=2)
    assert stage.loop.turns == 5 and stage.server.opened == ["s1", "s2"]
    assert [n for _, n in session_texts(stage.server, "s2")] == [0, 8]  # prefix, the turn


async def test_a_prefix_over_the_request_limit_goes_in_pinned_pieces_not_a_reconnect_loop():
    prefix = "<|system|>" + "\n".join(f"rule {i}: keep it short and name the test" for i in range(24)) + "<|end|>"
    async with live_stage(prefix) as stage:
        server = stage.server
        server.rule = lambda body: too_large() if len(body["text"]) > 300 else None
        await stage.turns(typed(0.05, "hello"), typed(0.25, "again"), n=2)
        took = [b for b in server.answered if b["sampling_params"]["max_new_tokens"] == 0]
        assert "".join(b["text"] for b in took) == prefix and len(took) >= 3
        assert all(len(b["text"]) <= 300 for b in took)
        assert "pin" not in took[0]["session_params"]  # the first request pins by itself
        assert all(b["session_params"]["pin"] is True for b in took[1:])
        assert stage.loop.turns == 2 and server.opened == ["s1"] and stage.link.restarts == 0


async def test_each_turns_grammar_offers_the_results_shown_and_not_yet_relayed():
    from companion.model.action_grammar import default_action_grammar

    def relay_rule(body) -> str:
        lines = body["sampling_params"]["ebnf"].splitlines()
        return next((line for line in lines if line.startswith("relay ::=")), lines[0])

    async with live_stage(info={"protocol": 2}, grammar=default_action_grammar()) as stage:
        failed = JobEvent(0.3, "job-3", "tests", "result", "median returns 1, expected 2", {})
        unchanged = JobEvent(0.7, "job-4", "tests", "result", "", {})  # nothing new to say
        stage.server.on("/generate", ok(""), ok("<|silence|><|end|>"), ok("<|silence|><|end|>"),
                        ok("<|relay|>j3<|end|>"), ok("<|silence|><|end|>"), ok("<|silence|><|end|>"))
        await stage.turns(typed(0.05, "hi"), (0.25, failed), typed(0.45, "x"), (0.65, unchanged),
                          typed(0.85, "y"), n=5)
        rules = [relay_rule(b) for b in stage.server.turns]
        assert rules[0] == "root ::= silence | speak | stop | call"  # nothing to relay yet
        assert rules[1] == 'relay ::= "<|relay|>" ("j3")'  # shown in this very turn
        assert rules[2] == 'relay ::= "<|relay|>" ("j3")'  # and relayed in this one
        # said: not again; and while it plays (the speaker not yet started counts) only silence or stop
        assert rules[3] == rules[4] == "root ::= silence | stop"
        assert stage.loop.turns == 5
        assert [a.job for a in stage.acted if a.kind == "relay"] == ["j3"]


async def test_while_its_voice_plays_a_turn_may_only_let_it_play_or_stop():
    """Training shows only silence or stop while the companion's utterance plays; an utterance
    decided then was queued behind the playing one and heard twice in CompanionBench."""
    from companion.model.action_grammar import default_action_grammar

    playing = [False, True, True, False]
    async with live_stage(info={"protocol": 2}, grammar=default_action_grammar(),
                          speaking=lambda: playing[stage.loop.turns]) as stage:
        stage.server.on("/generate", ok(""), *[ok("<|silence|><|end|>")] * 4)
        await stage.turns(typed(0.05, "a"), typed(0.25, "b"), typed(0.45, "c"), typed(0.65, "d"), n=4)
        roots = [b["sampling_params"]["ebnf"].splitlines()[0] for b in stage.server.turns]
        assert roots == ["root ::= silence | speak | stop | call", "root ::= silence | stop",
                         "root ::= silence | stop", "root ::= silence | speak | stop | call"]


async def test_a_copied_argument_may_only_name_words_the_user_has_given():
    """remind's request is a copy of the user's words: each turn's grammar lists those seen so
    far (typed here, heard alike), whole, and nothing else."""
    from companion.model.action_grammar import default_action_grammar

    async with live_stage(info={"protocol": 2}, grammar=default_action_grammar()) as stage:
        stage.server.on("/generate", ok(""), *[ok("<|silence|><|end|>")] * 2)
        await stage.turns(typed(0.05, "remind me in ten seconds to stretch"), typed(0.25, "and stand up"),
                          typed(0.45, 'say "hi"'), n=3)
        rules = [next(line for line in b["sampling_params"]["ebnf"].splitlines()
                      if line.startswith("heard_string ::=")) for b in stage.server.turns]
        first = '"\\"remind me in ten seconds to stretch\\""'
        both = first + ' | "\\"and stand up\\""'
        # a line no string argument could be (quotes) is never offered
        assert rules == [f"heard_string ::= {first}", f"heard_string ::= {both}", f"heard_string ::= {both}"]


async def test_a_newer_hypothesis_replaces_the_partial_it_revises():
    from companion.core.events import UserWords
    from companion.model.action_grammar import default_action_grammar

    async with live_stage(info={"protocol": 2}, grammar=default_action_grammar()) as stage:
        stage.server.on("/generate", ok(""), *[ok("<|silence|><|end|>")] * 3)
        await stage.turns((0.05, UserWords(0.05, "Remind me in ten", False)),
                          (0.25, UserWords(0.25, "Remind me in ten seconds.", True)),
                          (0.45, UserWords(0.45, "Thanks", False)), n=3)
        rules = [next(line for line in b["sampling_params"]["ebnf"].splitlines()
                      if line.startswith("heard_string ::=")) for b in stage.server.turns]
        assert rules[1] == rules[2].removesuffix(' | "\\"Thanks\\""') == \
            'heard_string ::= "\\"Remind me in ten seconds.\\""'  # the partial is gone


async def test_the_turn_after_a_call_may_not_call_again():
    """Training shows the job's start the turn after a call; a long call's start misses that
    turn live, and the model made the same call twice."""
    from companion.model.action_grammar import default_action_grammar

    async with live_stage(info={"protocol": 2}, grammar=default_action_grammar()) as stage:
        call = '<|call|>{"tool": "git_status", "args": {}}<|end|>'
        stage.server.on("/generate", ok(""), ok(call), *[ok("<|silence|><|end|>")] * 2)
        await stage.turns(typed(0.05, "status"), typed(0.25, "b"), typed(0.45, "c"), n=3)
        roots = [b["sampling_params"]["ebnf"].splitlines()[0] for b in stage.server.turns]
        assert roots == ["root ::= silence | speak | stop | call", "root ::= silence | speak | stop",
                         "root ::= silence | speak | stop | call"]


def test_a_text_is_halved_after_the_line_break_nearest_its_middle():
    assert halve_at_a_line("a\nbb\n\ncc\nd") == ["a\nbb\n\n", "cc\nd"]  # never inside "\n\n"
    assert halve_at_a_line("one line only") is None


async def test_a_split_turn_refused_halfway_does_not_append_its_first_piece_twice(stage):
    await stage.turns(typed(0.05, "warm up"))
    stage.server.on("/generate", too_large(), ok(), throttled(retry_after=None))  # split; 1st in; 429
    diff = "--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-a = 1\n+a = 2  # the edit\n"
    await stage.turns((0.25, FileChanged(0.25, "m.py", "modified", diff)),
                      typed(0.3, "second part"), typed(0.45, "third"), n=2)
    took = "".join(t for t, _ in session_texts(stage.server, "s1"))
    assert took.count("+a = 2  # the edit") == 1
    # the refused rest goes first next turn, once, and then the newer turn
    assert took.count("second part") == 1 and took.index("second part") < took.index("third")
    assert stage.loop.turns == 2 and stage.server.opened == ["s1"]


def test_a_held_backlog_keeps_the_newest_audio_and_every_save():
    """A server that refuses for a minute: the held chunk keeps the last 10 s of audio (the
    clock's backlog cap), not an ever-growing queue, and loses none of the saves."""
    def block(t: float) -> AudioBlock:
        return AudioBlock(t, np.zeros(3200, np.float32), -60.0, np.zeros((16, 80), np.uint8))

    held = Chunk(tick=0, t=0.0)
    for k in range(1, 301):
        saves = (FileChanged(0.2 * k, f"f{k}.py", "modified", "+x\n"),) if k % 50 == 0 else ()
        held = merge_chunks(held, Chunk(tick=k, t=0.2 * k, audio=(block(0.2 * k),), files=saves))
    assert len(held.audio) == 50
    assert (held.audio[0].t, held.audio[-1].t) == (pytest.approx(50.2), pytest.approx(60.0))
    assert [f.path for f in held.files] == [f"f{k}.py" for k in range(50, 301, 50)]
    assert (held.tick, held.ticks) == (0, 301)


async def test_a_call_is_offered_only_to_answer_words_nobody_has_answered(monkeypatch):
    """A call answers a request: none with nothing asked, one after new words (a final that
    only confirms its partial is not new; a typed line always is), none once the words are
    ASKED_TURNS old."""
    from companion.core.events import UserWords
    from companion.model import turn_grammar
    from companion.model.action_grammar import default_action_grammar

    monkeypatch.setattr(turn_grammar, "ASKED_TURNS", 3)
    async with live_stage(info={"protocol": 2}, grammar=default_action_grammar()) as stage:
        call = '<|call|>{"tool": "tests", "args": {}}<|end|>'
        stage.server.on("/generate", ok(""), ok("<|silence|><|end|>"), ok(call),
                        *[ok("<|silence|><|end|>")] * 6)
        await stage.turns((0.05, UserWords(0.05, "hmm", True)),  # turn 0: new words
                          (0.25, UserWords(0.25, "run the tests", False)),  # 1: called
                          (0.45, UserWords(0.45, "Run the tests.", True)),  # 2: after the call
                          (0.65, UserWords(0.65, "Run the tests.", True)),  # 3: nothing new
                          typed(0.85, "run the tests"), n=8)  # 4-6 offered, 7 too old
        offered = [b["sampling_params"]["ebnf"].splitlines()[0].endswith("| call")
                   for b in stage.server.turns]
        assert offered == [True, True, False, False, True, True, True, False]


async def test_a_request_typed_over_our_voice_is_still_open_when_it_ends(monkeypatch):
    """A new user typed "run the linter" while a remark played: the call may only come once
    the voice ends, so the turns it plays do not age the request."""
    from companion.model import turn_grammar
    from companion.model.action_grammar import default_action_grammar

    monkeypatch.setattr(turn_grammar, "ASKED_TURNS", 2)
    playing = [False, True, True, True, True, False, False, False]
    async with live_stage(info={"protocol": 2}, grammar=default_action_grammar(),
                          speaking=lambda: playing[stage.loop.turns]) as stage:
        stage.server.on("/generate", ok(""), *[ok("<|silence|><|end|>")] * 8)
        await stage.turns(typed(0.25, "run the linter"), n=8)
        roots = [b["sampling_params"]["ebnf"].splitlines()[0] for b in stage.server.turns]
        nothing_asked, playing_root = "root ::= silence | speak | stop", "root ::= silence | stop"
        assert roots == [nothing_asked, *[playing_root] * 4, nothing_asked + " | call",
                         nothing_asked, nothing_asked]


async def test_a_result_the_rules_keep_unsaid_never_reaches_the_model():
    """A save's unasked lint finding is the TUI's, not the conversation's: with only its relay
    taken out of the grammar, the shipped model made up a remark about it instead."""
    from companion.model.action_grammar import default_action_grammar

    lint = JobEvent(0.3, "job-2", "lint", "result", "one new lint finding in spans.py", {"origin": "save"})
    started = JobEvent(0.25, "job-2", "lint", "started", "lint started", {"origin": "save"})
    async with FakeServer(info={"protocol": 2}) as server:
        harness = StageHarness()
        link = ModelLink(harness.emit, server_url=server.url, token=server.token, sleep=harness.clock.sleep)
        await link.connect()
        clock = MicroTurnClock(now=harness.clock.now, sleep=harness.clock.sleep)
        clock.start(0.0)
        loop = TurnLoop(clock, link, harness.emit, lambda: PREFIX, grammar=default_action_grammar(),
                        unsaid=lambda e: e.phase == "result" and e.tool == "lint")
        server.on("/generate", ok(""), *[ok("<|silence|><|end|>")] * 2)
        try:
            await harness.run_turns(clock, loop.step, [(0.25, started), (0.3, lint)], 2)
        finally:
            await link.close()
        texts = [b["text"] for b in server.turns]
        assert any("<|tool|>j2 started: lint started" in t for t in texts)
        assert not any("lint finding" in t for t in texts)
