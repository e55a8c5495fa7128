"""Probe the model server with the hostile requests of issue 12 (items 7-9) and print a table:
per case the status, whether the answer was a clear error (4xx with a message), a crash (5xx),
a hang (no answer within the deadline), and whether an innocent session decoding at the same
time got its reference tokens. Run it on two trees to compare:

    PYTHONPATH=/path/to/tree python benchmarks/server_fault_probe.py
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
import urllib.error
import urllib.request

DEADLINE_S = 20.0
TILE = base64.b64encode(bytes(40 * 40 * 3)).decode()
PATCH_TEXT = "<|see|><|patch|><|out|>"


def cases() -> list[tuple[str, bytes]]:
    def body(obj) -> bytes:
        return json.dumps(obj).encode()

    def patches(xy, shape=(1, 40, 40, 3)):
        return body({"text": PATCH_TEXT, "sampling_params": {"max_new_tokens": 1},
                     "features": {"patches": {"shape": list(shape), "data": TILE, "xy": xy}}})

    out = [(f"temperature {t!r}", body({"text": "def walk(xs):", "sampling_params": {
        "temperature": t, "max_new_tokens": 8}})) for t in (1e-300, 1e-45, 1e-38, 5e-324)]
    out.append(("top_p 1e-300", body({"text": "def walk(xs):", "sampling_params": {
        "top_p": 1e-300, "max_new_tokens": 8}})))
    out.append(("100k nested [", b"[" * 100_000 + b"]" * 100_000))
    out.append(("lone surrogate in text", b'{"text": "a\\ud800b"}'))
    out.append(("lone surrogate in stop", b'{"text": "x", "sampling_params": {"stop": ["\\udfff"]}}'))
    out.append(("5000-digit integer", b'{"text": "x", "rid": 1' + b"0" * 5000 + b"}"))
    for name, xy in (("xy strings", [["0", "0"]]), ("xy 3-tuples", [[0, 0, 0]]),
                     ("xy 10**30", [[10**30, 0]]), ("xy ragged", [[0], [1, 2]]),
                     ("xy dict", {"x": 0})):
        out.append((f"features.patches {name}", patches(xy)))
    out.append(("features.patches shape [true,...]", patches([[0, 0]], (True, 40, 40, 3))))
    out.append(("15 MB text", body({"text": "x" * 15_000_000})))
    return out


def call(base: str, token: str, path: str, data: bytes | None):
    req = urllib.request.Request(base + path, data=data, method="POST" if data is not None
                                 else "GET", headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=DEADLINE_S) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:
        return None, b""


def main() -> None:
    from aiohttp import web

    from model_server.core import EngineOptions
    from model_server.engine import Engine, EngineCore
    from model_server.loader import load_model
    from model_server.server import make_app

    engine = Engine(EngineCore(load_model("embedded"), EngineOptions(
        max_chunk_tokens=2048, window_tokens=900))).start()
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(make_app(engine, "t", max_body_bytes=16 << 20))
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", 0).start())
    threading.Thread(target=loop.run_forever, daemon=True).start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    innocent = json.dumps({"text": "def walk(xs):", "sampling_params": {
        "max_new_tokens": 24, "temperature": 0, "ignore_eos": True}}).encode()
    reference = json.loads(call(base, "t", "/generate", innocent)[1])["output_ids"]
    rows = []
    for name, data in cases():
        got: dict = {}
        side = threading.Thread(target=lambda out=got: out.update(
            r=call(base, "t", "/generate", innocent)))
        side.start()
        t0 = time.perf_counter()
        status, payload = call(base, "t", "/generate", data)
        took = time.perf_counter() - t0
        side.join(DEADLINE_S * 2)
        s2, p2 = got.get("r", (None, b""))
        ok_innocent = s2 == 200 and json.loads(p2)["output_ids"] == reference
        try:
            message = json.loads(payload)["error"]["message"] if status and status >= 400 else ""
        except ValueError:
            message = ""
        kind = ("hang" if status is None else "crash (5xx)" if status >= 500 else
                "clear error" if message else "ok" if status < 300 else "4xx, no message")
        rows.append((name, status, kind, ok_innocent, took))
    info = json.loads(call(base, "t", "/get_server_info", None)[1])
    print(f"{'case':38} {'status':>6} {'answer':14} {'innocent ok':>11} {'s':>6}")
    for name, status, kind, ok, took in rows:
        print(f"{name:38} {status!s:>6} {kind:14} {ok!s:>11} {took:6.2f}")
    counts = {k: sum(r[2] == k for r in rows) for k in ("ok", "clear error", "crash (5xx)",
                                                          "hang", "4xx, no message")}
    print(f"cases {len(rows)}: " + ", ".join(f"{k} {v}" for k, v in counts.items())
          + f"; innocent session hurt {sum(not r[3] for r in rows)}; leaked sessions "
          f"{info['sessions']}, KV blocks in use {info['kv_blocks_used']}")
    engine.stop()


if __name__ == "__main__":
    main()
