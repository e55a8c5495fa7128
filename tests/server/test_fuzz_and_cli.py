"""No request body makes the server answer 5xx (hypothesis); the CLI prints its listening
line, serves with the token, refuses an unsafe bind, and names what to download."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model_server.core import EngineOptions
from model_server.engine import Engine, EngineCore
from model_server.loader import load_model
from model_server.server import make_app

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
LINE = re.compile(r"^model_server: listening on http://(\S+):(\d+) token=(\S+)$")


@pytest.fixture(scope="module")
def live_server(text_model):
    """A real server on a background event loop: its base URL and token."""
    engine = Engine(EngineCore(load_model(str(text_model[0])),
                               EngineOptions(max_sessions=4, max_chunk_tokens=32,
                                             window_tokens=64, kv_budget_mb=0.5))).start()
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(make_app(engine, "tok", max_body_bytes=32 * 1024))
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}", "tok"
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    engine.stop()


def call(base, path, body: bytes | None, token="tok"):
    req = urllib.request.Request(base + path, data=body, method="POST" if body is not None
                                 else "GET", headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


FIELDS = ["text", "input_ids", "input_embeds", "input_embeds_positions", "sampling_params",
          "session_params", "stream", "rid", "id", "max_new_tokens", "temperature", "top_p",
          "top_k", "stop", "stop_token_ids", "capacity_of_str_len", "session_id", "pin",
          "window_tokens", "ignore_eos", "no_stop_trim", "return_logprob"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 120), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from(["w1 w2", "<|end|>", "w3"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=6), st.dictionaries(st.sampled_from(FIELDS), inner, max_size=5)),
    max_leaves=20)
bodies = st.one_of(st.dictionaries(st.sampled_from(FIELDS), values, max_size=6), values)


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(path=st.sampled_from(["/generate", "/open_session", "/close_session"]), body=bodies,
       raw=st.booleans())
def test_fuzzed_bodies_never_get_5xx(live_server, path, body, raw):
    base, _ = live_server
    data = json.dumps(body).encode() if not raw else json.dumps(body).encode()[:-1]
    status, payload = call(base, path, data)
    assert status < 500, payload
    if status >= 400:
        assert json.loads(payload)["error"]["message"]


def test_input_embeds_over_http(live_server):
    base, _ = live_server
    hidden = json.loads(call(base, "/get_model_info", None)[1])["hidden_size"]
    ok = {"input_ids": [1, 2, 3], "input_embeds": [[0.5] * hidden],
          "input_embeds_positions": [1], "sampling_params": {"max_new_tokens": 2}}
    assert call(base, "/generate", json.dumps(ok).encode())[0] == 200
    sglang_form = {"input_embeds": [[0.1] * hidden, [0.2] * hidden],
                   "sampling_params": {"max_new_tokens": 1}}
    status, body = call(base, "/generate", json.dumps(sglang_form).encode())
    assert status == 200 and json.loads(body)["meta_info"]["prompt_tokens"] == 2


def start_cli(*args, env=None):
    return subprocess.Popen([PYTHON, "-m", "model_server", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})})


def test_cli_prints_listening_line_and_serves_with_token(text_model):
    proc = start_cli("--model", str(text_model[0]), "--port", "0", "--max-sessions", "2")
    try:
        line = proc.stdout.readline().strip()
        m = LINE.match(line)
        assert m, f"unexpected first line {line!r}"
        base = f"http://{m.group(1)}:{m.group(2)}"
        status, sid = call(base, "/open_session", b"{}", token=m.group(3))
        assert status == 200 and json.loads(sid)
        assert call(base, "/open_session", b"{}", token="wrong")[0] == 401
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0


def test_cli_refuses_public_bind_without_token(text_model):
    proc = start_cli("--model", str(text_model[0]), "--host", "0.0.0.0")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "without an explicit --token" in err


def test_cli_offline_names_the_repo_and_where_to_put_it(tmp_path):
    proc = start_cli("--model", "someorg/some-model",
                     env={"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path)})
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "'someorg/some-model'" in err and str(tmp_path) in err and "--model" in err


def test_token_file_serves_with_that_token_and_command_line_token_warns(text_model, tmp_path):
    """--token-file (and $MODEL_SERVER_TOKEN) keep the token out of `ps`; --token still works
    but warns that it is visible there (issue 12 item 14)."""
    secret = tmp_path / "token"
    secret.write_text("file-token-123\n")
    proc = start_cli("--model", str(text_model[0]), "--token-file", str(secret))
    try:
        m = LINE.match(proc.stdout.readline().strip())
        assert m and m.group(3) == "file-token-123"
        assert "file-token-123" not in Path(f"/proc/{proc.pid}/cmdline").read_text()
        base = f"http://{m.group(1)}:{m.group(2)}"
        assert call(base, "/open_session", b"{}", token="file-token-123")[0] == 200
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert "warning" not in err
    proc = start_cli("--model", str(text_model[0]), "--token", "argv-token")
    try:
        assert LINE.match(proc.stdout.readline().strip())
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert "warning: --token on the command line is visible" in err
    proc = start_cli("--model", str(text_model[0]), "--token-file", str(tmp_path / "missing"))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "cannot read --token-file" in err


def test_companion_takes_the_server_token_from_a_file_or_the_environment(tmp_path, capsys):
    from companion.cli import build_parser, resolve_token

    secret = tmp_path / "token"
    secret.write_text("  s3cret  \nignored\n")
    argv = ["--server", "http://127.0.0.1:1", "--token-file", str(secret)]
    args = build_parser().parse_args(argv)
    assert resolve_token(args, argv) is None and args.token == "s3cret"
    argv = ["--server", "http://127.0.0.1:1", "--token", "T"]
    args = build_parser().parse_args(argv)
    assert resolve_token(args, argv) is None and args.token == "T"
    assert "visible to every user in `ps`" in capsys.readouterr().err
    (tmp_path / "empty").write_text("\n")
    argv = ["--token-file", str(tmp_path / "empty")]
    assert "is empty" in resolve_token(build_parser().parse_args(argv), argv)
