"""ModelLink's connect and recovery on fake time against a scripted loopback server: every state
change said as a StreamState, a live server given a new session with a doubling backoff (to 10 s
for a remote server, 2 s for our own child), a dead child restarted at once, a hung one after
three failed tries. The child is a stand-in with ServerProcess's interface serving the fake."""

from __future__ import annotations

import pytest

from companion.core.events import StreamState
from companion.model.link import ModelLink
from companion.model.server_process import ServerStartError
from companion.model.session_client import RETRY_AFTER_CAP, ServerError
from tests.harness.fake_server import FakeServer, Reply, dropped, throttled
from tests.harness.stage_harness import StageHarness

pytestmark = pytest.mark.timeout(20)


class FakeChild:
    """ServerProcess's interface (start, stop, running, token) around the fake server."""

    def __init__(self, server: FakeServer, failures: list[str] | None = None) -> None:
        self.server = server
        self.token = server.token
        self.running = False
        self.starts = 0
        self.stops = 0
        self.spare_kept: list[bool] = []  # per stop(): whether the spare server was kept
        self.failures = list(failures or [])  # start() raises these first, one per start

    async def start(self) -> str:
        self.starts += 1
        if self.failures:
            raise ServerStartError(self.failures.pop(0))
        self.running = True
        return self.server.url

    async def stop(self, keep_spare: bool = False) -> None:
        self.stops += 1
        self.spare_kept.append(keep_spare)
        self.running = False


@pytest.fixture
async def server():
    async with FakeServer(info={"model_path": "tiny-model", "protocol": 2,
                                "accepts_features": True}) as fake:
        yield fake


def states(harness: StageHarness) -> list[tuple[str, str]]:
    return [(e.status, e.reason) for e in harness.of(StreamState) if e.stream == "model"]


async def remote(server: FakeServer, harness: StageHarness, **kw) -> ModelLink:
    link = ModelLink(harness.emit, server_url=server.url, token=server.token,
                     sleep=harness.clock.sleep, **kw)
    await link.connect()
    return link


def embedded(harness: StageHarness, child: FakeChild) -> ModelLink:
    """An embedded-mode link whose child is the stand-in."""
    link = ModelLink(harness.emit, sleep=harness.clock.sleep)
    link.process = child
    return link


async def test_connect_says_loading_then_live_and_reads_the_model_info(server):
    harness = StageHarness()
    link = await remote(server, harness)
    try:
        events = [e for e in harness.of(StreamState) if e.stream == "model"]
        assert [(e.status, e.progress) for e in events] == [("degraded", 0.0), ("live", 1.0)]
        assert events[0].reason == f"loading {server.url}" and events[1].reason == "tiny-model"
        assert link.protocol == 2 and link.accepts_features
        assert server.opened == ["s1"] and link.client.session_id == "s1"
    finally:
        await link.close()
    assert states(harness)[-1] == ("stopped", "")


@pytest.mark.parametrize("info, given, protocol", [({}, 2, 2), ({}, None, 1),
                                                   ({"protocol": 1}, 2, 1)],
                         ids=["sglang-given", "sglang-default", "declared-wins"])
async def test_the_protocol_is_the_servers_else_the_given_one(info, given, protocol):
    async with FakeServer(info=info) as server:
        link = await remote(server, StageHarness(), protocol=given)
        try:
            assert link.protocol == protocol
        finally:
            await link.close()


async def test_a_failed_connect_is_unavailable_with_the_reason(server):
    harness = StageHarness()
    server.on("/open_session", Reply(503, message="warming up"))
    link = ModelLink(harness.emit, server_url=server.url, token=server.token)
    try:
        with pytest.raises(ServerError):
            await link.connect()
        status, reason = states(harness)[-1]
        assert status == "unavailable" and "HTTP 503" in reason and "warming up" in reason
    finally:
        await link.close()


async def test_recover_gives_a_live_server_a_new_session_after_a_backoff(server):
    harness = StageHarness()
    link = await remote(server, harness)
    try:
        server.on("/open_session", dropped(), dropped())
        await link.recover("session lost")
        assert harness.clock.slept == [0.5, 1.0]
        said = states(harness)[2:]
        assert said[0] == ("degraded", "reconnecting: session lost")
        assert [s for s, _ in said[1:3]] == ["degraded", "degraded"]
        assert said[1][1].startswith("reconnecting in 0 s: POST /open_session")
        assert said[-1] == ("live", "session reopened")
        assert link.client.session_id == "s2" and link.restarts == 0
        assert server.closed == ["s1"]  # the old session is not left behind
    finally:
        await link.close()


async def test_a_remote_servers_backoff_doubles_up_to_ten_seconds(server):
    harness = StageHarness()
    link = await remote(server, harness)
    try:
        server.on("/open_session", *[dropped() for _ in range(7)])
        await link.recover("gone")
        assert harness.clock.slept == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
        assert link.client.session_id == "s2"
    finally:
        await link.close()


async def test_a_reconnect_waits_as_long_as_the_server_asks_up_to_the_cap(server):
    harness = StageHarness()
    link = await remote(server, harness)
    try:
        server.on("/open_session", throttled(retry_after=3), throttled(retry_after=600),
                  throttled(retry_after=0))
        await link.recover("gone")
        # 3 s as asked, 600 capped at RETRY_AFTER_CAP, then the backoff's own 2 s (over the 0 asked)
        assert harness.clock.slept == [3.0, RETRY_AFTER_CAP, 2.0]
        assert any(r.startswith("reconnecting in 3 s") for _, r in states(harness))
        assert link.client.session_id == "s2"
    finally:
        await link.close()


async def test_a_dead_child_is_restarted_at_once(server):
    harness = StageHarness()
    child = FakeChild(server)
    link = embedded(harness, child)
    try:
        await link.connect()
        assert child.starts == 1 and states(harness)[-1] == ("live", "tiny-model")
        child.running = False  # it crashed
        await link.recover("the server died")
        assert (child.stops, child.starts, link.restarts) == (1, 2, 1)
        assert child.spare_kept == [True]  # a restart takes the ready spare server
        assert harness.clock.slept == []
        assert states(harness)[-1] == ("live", "tiny-model")
        assert link.client.session_id == "s2"
    finally:
        await link.close()
    assert child.spare_kept[-1] is False  # closing the link stops the spare too


async def test_a_hung_child_is_restarted_after_three_failed_tries(server):
    harness = StageHarness()
    child = FakeChild(server)
    link = embedded(harness, child)
    try:
        await link.connect()
        server.on("/open_session", dropped(), dropped(), dropped())  # alive, but not answering
        await link.recover("timed out")
        assert harness.clock.slept == [0.5, 1.0, 2.0]
        assert (child.starts, link.restarts) == (2, 1)
        assert states(harness)[-1] == ("live", "tiny-model")
    finally:
        await link.close()


async def test_a_child_that_fails_to_start_is_retried_with_backoff_capped_at_two_seconds(server):
    harness = StageHarness()
    failure = "model server did not start (exited with code 1):\nloading\nCUDA error: no device"
    child = FakeChild(server, failures=[failure] * 5)
    link = embedded(harness, child)
    try:
        with pytest.raises(ServerError):
            await link.connect()
        assert states(harness)[-1] == (
            "unavailable", "model server did not start (exited with code 1): CUDA error: no device")
        await link.recover("the model server did not start")
        assert harness.clock.slept == [0.5, 1.0, 2.0, 2.0]
        assert child.starts == 6 and states(harness)[-1] == ("live", "tiny-model")
    finally:
        await link.close()


async def test_the_models_logit_bias_goes_with_every_decoded_turn_and_only_there():
    from companion.core.clock import MicroTurnClock
    from companion.core.protocol import Chunk
    from companion.model.turn_loop import TurnLoop

    bias = {"5": -1.5}
    info = {"model_path": "tiny-model", "protocol": 2, "prompt": {"protocol": 2, "logit_bias": bias}}
    async with FakeServer(info=info) as fake:
        link = await remote(fake, StageHarness())
        try:
            assert link.logit_bias == bias
            loop = TurnLoop(MicroTurnClock(), link, lambda e: None, lambda: "<|sys|>prefix",
                            grammar="root ::= \"<|silence|><|end|>\"")
            await loop.step(Chunk(tick=0, t=0.0))
            await loop.step(Chunk(tick=1, t=0.2))
            decoded = [b["sampling_params"] for b in fake.turns]
            primed = [b["sampling_params"] for b in fake.appends]
            assert len(decoded) == 2 and all(p["logit_bias"] == bias for p in decoded)
            assert primed and not any("logit_bias" in p for p in primed)  # the prefix decodes nothing
        finally:
            await link.close()
    async with FakeServer(info={"model_path": "sglang", "protocol": 2}) as fake:  # no prompt.json
        link = await remote(fake, StageHarness())
        try:
            assert link.logit_bias is None
        finally:
            await link.close()
