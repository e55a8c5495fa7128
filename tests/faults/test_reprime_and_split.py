"""The interaction loop against a real embedded server with a small window and chunk limit
(issue 12 items 1-2): a re-prime whose recent context is over the window still succeeds (the
summary budget halves; no reconnect loop, no second session), and a turn over the chunk limit
is delivered in pieces instead of skipped."""

from __future__ import annotations

import pytest

from companion.core.clock import MicroTurnClock
from companion.core.events import FileChanged
from companion.core.protocol import Chunk
from companion.model.link import ModelLink
from companion.model.recent_turns import RecentTurn
from companion.model.turn_loop import TurnLoop

pytestmark = pytest.mark.slow


async def test_reprime_over_the_window_and_a_turn_over_the_chunk_limit(tmp_path):
    events = []
    link = ModelLink(events.append, server_args=["--max-chunk-tokens", "96",
                                                 "--window-tokens", "160", "--threads", "1"])
    await link.connect()
    try:
        loop = TurnLoop(MicroTurnClock(), link, events.append,
                               lambda: "<|system|>You are companion.<|end|>")
        for i in range(24):  # recent turns far over the 160-token window
            loop._recent.append(RecentTurn(f"<|t|>{i}.0<|file|>f{i}.py\n+value_{i} = {i} "
                                           + "x = compute(y) " * 2 + "<|out|><|silence|><|end|>",
                                           (f"f{i}.py",)))
        first_session = link.client.session_id
        sent, real = [], link.client.generate

        async def spy(text, **kw):  # records what the real server accepted
            result = await real(text, **kw)
            sent.append((text, kw.get("max_new_tokens")))
            return result

        link.client.generate = spy
        files = tuple(FileChanged(1.0 + i, f"src/m{i}.py", "modified",
                                  f"--- a/src/m{i}.py\n+++ b/src/m{i}.py\n@@ -1 +1 @@\n"
                                  f"-a = {i}\n+a = {i + 1}  # edit number {i}\n")
                      for i in range(6))
        actions = await loop.step(Chunk(tick=5, t=1.0, files=files))
        assert actions and loop.turns == 1 and loop._held is None  # delivered, in pieces
        assert not loop._needs_prefix and link.client.session_id == first_session
        assert link.restarts == 0
        turn = [t for t, n in sent if "value_" not in t and "<|system|>" not in t
                and not t.startswith("<|more|>")]
        assert len(turn) >= 2 and [n for t, n in sent][-1] > 0  # pieces; the last decodes
        assert "".join(turn).startswith("<|t|>1.0") and "".join(turn).endswith("<|out|>")
        assert all(f"edit number {i}" in "".join(turn) for i in range(6))
        recent = [t for t, n in sent if "value_" in t]
        assert recent and "value_23" in recent[-1]  # the newest recent turn made it in
        info = await link.client._call("GET", "/get_server_info")
        assert info["sessions"] == 1  # no reconnect loop left sessions behind
        states = [e for e in events if getattr(e, "stream", "") == "model"]
        assert not any("reconnecting" in e.reason for e in states)
    finally:
        await link.close()


async def test_a_pinned_prefix_over_the_chunk_limit_goes_in_pinned_pieces():
    events = []
    link = ModelLink(events.append, server_args=["--max-chunk-tokens", "96",
                                                 "--window-tokens", "400", "--threads", "1"])
    await link.connect()
    try:
        rules = "\n".join(f"- rule {i}: tell me when a test fails, briefly" for i in range(12))
        prefix = f"<|system|>You are companion.\n\nRules:\n{rules}<|end|>"
        loop = TurnLoop(MicroTurnClock(), link, events.append, lambda: prefix)
        sent, real = [], link.client.generate

        async def spy(text, **kw):  # records what the real server accepted, and how
            result = await real(text, **kw)
            sent.append((text, kw.get("pin")))
            return result

        link.client.generate = spy
        actions = await loop.step(Chunk(tick=1, t=0.2))
        assert actions and loop.turns == 1 and link.restarts == 0
        pieces = [(t, pin) for t, pin in sent if "rule" in t or "<|system|>" in t]
        assert "".join(t for t, _ in pieces) == prefix and len(pieces) >= 2
        assert [pin for _, pin in pieces] == [None] + [True] * (len(pieces) - 1)
        info = await link.client._call("GET", "/get_server_info")
        assert info["sessions"] == 1
        assert not any("reconnecting" in getattr(e, "reason", "") for e in events)
    finally:
        await link.close()
