"""SessionClient against a scripted loopback server: SGLang's field names on the wire, its
answers read back field by field, every failure a ServerError with the status and Retry-After,
and sessions it could not close closed on the next open."""

from __future__ import annotations

import asyncio
import datetime
import email.utils

import numpy as np
import pytest

from companion.core.events import Patch
from companion.model.session_client import ServerError, SessionClient, encode_features
from tests.harness.fake_server import (
    FakeServer,
    Reply,
    busy,
    dropped,
    held_until,
    lost_session,
    ok,
    throttled,
    too_large,
)

pytestmark = pytest.mark.timeout(15)  # a broken timeout path hangs rather than fails


@pytest.fixture
async def server():
    async with FakeServer() as fake:
        yield fake


@pytest.fixture
async def client(server):
    c = SessionClient(server.url, server.token, timeout_s=2.0)
    yield c
    await c.aclose()


async def test_open_and_generate_use_sglang_field_names(server, client):
    session = await client.open(capacity_tokens=4096)
    assert session == "s1"
    assert server.bodies("/open_session") == [{"streaming": True, "capacity_of_str_len": 4096}]
    features = encode_features(np.ones((2, 320), np.uint8),
                               [Patch(40, 80, np.zeros((40, 40, 3), np.uint8))])
    await client.generate("<|t|>0.0<|out|>", max_new_tokens=8, features=features, ebnf="root ::= x")
    body = server.generates[0]
    assert body["text"] == "<|t|>0.0<|out|>"
    assert body["session_params"] == {"id": "s1", "rid": None}
    assert body["sampling_params"] == {"max_new_tokens": 8, "temperature": 0.0,
                                       "stop": ["<|end|>"], "no_stop_trim": True,
                                       "skip_special_tokens": False, "ebnf": "root ::= x"}
    assert body["features"]["audio"]["shape"] == [2, 320]
    assert body["features"]["patches"]["xy"] == [[40, 80]]
    assert server.seen[-1].headers["Authorization"] == "Bearer test-token"


async def test_turn_result_reads_meta_info_and_chains_rid(server, client):
    await client.open()
    server.on("/generate", ok("hi", output_ids=[7, 8], id="rid-a", prompt_tokens=50,
                              completion_tokens=2, cached_tokens=41))
    first = await client.generate("<|t|>0.0<|out|>")
    assert (first.text, first.output_ids) == ("hi", [7, 8])
    assert (first.prompt_tokens, first.completion_tokens, first.cached_tokens) == (50, 2, 41)
    assert first.finish_reason == {"type": "length", "length": 2}
    assert first.meta["id"] == "rid-a"
    second = await client.generate("<|t|>0.2<|out|>")
    assert server.generates[1]["session_params"] == {"id": "s1", "rid": "rid-a"}
    # the server's own accounting: this turn's cached tokens are the previous prompt+completion
    assert second.cached_tokens == 50 + 2
    assert second.finish_reason == {"type": "stop", "matched": "<|end|>"}


async def test_open_takes_an_id_object_and_refuses_no_id(server, client):
    server.on("/open_session", Reply(body={"id": "abc"}), Reply(body={"id": ""}))
    assert await client.open() == "abc"
    with pytest.raises(ServerError, match="no session id"):
        await client.open()


@pytest.mark.parametrize("reply, status", [(too_large(), 413), (busy(), 409),
                                           (lost_session(), 404)],
                         ids=["413", "409", "404-lost-session"])
async def test_http_errors_carry_their_status_and_message(server, client, reply, status):
    await client.open()
    server.on("/generate", reply)
    with pytest.raises(ServerError) as caught:
        await client.generate("<|t|>0.0<|out|>")
    assert caught.value.status == status
    assert f"HTTP {status}" in str(caught.value) and reply.message[:20] in str(caught.value)
    assert caught.value.retry_after is None


async def test_429_carries_retry_after(server, client):
    await client.open()
    server.on("/generate", throttled(retry_after=3))
    with pytest.raises(ServerError) as caught:
        await client.generate("x")
    assert (caught.value.status, caught.value.retry_after) == (429, 3.0)


async def test_retry_after_as_an_http_date_or_garbage_still_gives_the_servers_error(server, client):
    await client.open()
    soon = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=30)
    server.on("/generate", throttled(retry_after=email.utils.format_datetime(soon, usegmt=True)),
              throttled(retry_after="soon-ish"))
    with pytest.raises(ServerError) as dated:
        await client.generate("x")
    assert dated.value.status == 429 and 25 <= dated.value.retry_after <= 31
    with pytest.raises(ServerError) as garbled:  # not a ValueError from parsing the header
        await client.generate("x")
    assert garbled.value.status == 429 and garbled.value.retry_after is None


async def test_a_failed_turn_leaves_the_rid_chain_where_it_was(server, client):
    await client.open()
    await client.generate("a")
    rid = client.last_rid
    server.on("/generate", busy())
    with pytest.raises(ServerError):
        await client.generate("b")
    assert client.last_rid == rid
    await client.generate("b")  # the fake answers 400 unless rid names the last request
    assert server.generates[-1]["session_params"]["rid"] == rid


async def test_a_dropped_connection_and_a_hung_server_are_server_errors_without_status(server):
    client = SessionClient(server.url, server.token, timeout_s=0.3)
    try:
        await client.open()
        server.on("/generate", dropped())
        with pytest.raises(ServerError) as caught:
            await client.generate("x")
        assert caught.value.status is None and "/generate" in str(caught.value)
        never = asyncio.Event()
        server.on("/generate", held_until(never))
        with pytest.raises(ServerError) as caught:
            await client.generate("x")
        assert caught.value.status is None and "Timeout" in str(caught.value)
        never.set()
    finally:
        await client.aclose()


async def test_a_request_may_have_a_longer_timeout_than_the_client(server):
    client = SessionClient(server.url, server.token, timeout_s=0.2)
    loop = asyncio.get_running_loop()
    try:
        await client.open()
        first, second = asyncio.Event(), asyncio.Event()
        server.on("/generate", held_until(first), held_until(second))
        loop.call_later(0.5, first.set)
        with pytest.raises(ServerError, match="Timeout"):
            await client.generate("x")  # the client's own 0.2 s
        await first.wait()
        await client.open()  # the timed-out request left the rid chain behind: a new session
        loop.call_later(0.5, second.set)
        result = await client.generate("x", max_new_tokens=0, timeout_s=3.0)
        assert result.latency_ms >= 450
    finally:
        await client.aclose()


async def test_wrong_token_is_a_401(server):
    client = SessionClient(server.url, "wrong")
    try:
        with pytest.raises(ServerError) as caught:
            await client.open()
        assert caught.value.status == 401
        assert await client.health() is True  # /health needs no token
    finally:
        await client.aclose()


async def test_generate_without_a_session_is_refused_before_any_request(server, client):
    with pytest.raises(ServerError, match="no open session"):
        await client.generate("x")
    assert server.generates == []


async def test_a_session_that_could_not_be_closed_is_closed_on_the_next_open(server, client):
    await client.open()
    server.on("/close_session", dropped())  # the server is unreachable (a restart) ...
    server.on("/open_session", dropped())
    with pytest.raises(ServerError):
        await client.open()
    assert client.abandoned == ["s1"] and client.session_id is None
    assert await client.open() == "s2"  # ... and answers again: what was left is closed
    assert server.closed == ["s1"] and client.abandoned == []
    assert set(server.sessions) == {"s2"}


async def test_a_session_the_server_no_longer_knows_is_not_kept_as_abandoned(server, client):
    await client.open()
    server.on("/generate", lost_session())
    with pytest.raises(ServerError):
        await client.generate("x")
    await client.open()  # its close answers 404: gone already, nothing to remember or retry
    assert client.abandoned == [] and client.session_id == "s2"
    assert server.bodies("/close_session") == [{"session_id": "s1"}]
