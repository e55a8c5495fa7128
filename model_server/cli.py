"""The model server's command line: load a model, start the engine thread, serve HTTP.

On success it prints exactly one line to stdout, which the companion parses:
    model_server: listening on http://HOST:PORT token=TOKEN

With `--standby` it loads everything, prints `model_server: standby` and waits for a line
`start` on stdin before it listens (EOF: it exits). The companion keeps one such spare, so a
crashed server is replaced in well under a second instead of a cold start (import torch alone
takes 2 s on an idle 2-core machine, 8-10 s on a loaded one).
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import re
import secrets
import signal
import sys

LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(k|m|g|kb|mb|gb|kib|mib|gib)?\s*$", re.IGNORECASE)


def parse_mib(text: str) -> float:
    """'256' (MiB), '512MB', '1.5GiB', '800k' -> MiB."""
    m = SIZE.match(text)
    if not m:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 256, 512MB, 2GB)")
    unit = (m.group(2) or "m").lower()[0]
    return float(m.group(1)) * {"k": 1 / 1024, "m": 1, "g": 1024}[unit]


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m model_server",
                                description="Streaming-session model server (SGLang-compatible "
                                            "HTTP API) on a paged KV cache.")
    p.add_argument("--model", default="embedded",
                   help="'embedded' (the shipped interaction model, default), a model directory "
                        "(config.json, *.safetensors, tokenizer.json) or a Hugging Face repo id "
                        "(hub cache, else download)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    p.add_argument("--token", default=os.environ.get("MODEL_SERVER_TOKEN") or None,
                   help="bearer token clients must send (default: $MODEL_SERVER_TOKEN, else "
                        "generated and printed). On the command line it shows in `ps`: "
                        "prefer $MODEL_SERVER_TOKEN or --token-file")
    p.add_argument("--token-file", metavar="PATH",
                   help="read the bearer token from the first line of this file")
    p.add_argument("--max-sessions", type=int, default=16)
    p.add_argument("--kv-budget", type=parse_mib, default=256.0,
                   help="KV cache memory, e.g. 256MB or 2GB (default 256MB)")
    p.add_argument("--max-chunk-tokens", type=int, default=512)
    p.add_argument("--window-tokens", type=int, default=4096,
                   help="default bounded window of recent tokens per session")
    p.add_argument("--session-ttl", type=float, default=600.0, help="idle seconds to expiry")
    p.add_argument("--max-body-bytes", type=int, default=16 * 2**20)
    p.add_argument("--attention-backend", choices=["torch", "triton"], default="torch")
    p.add_argument("--batch-invariant", action="store_true",
                   help="bitwise identical results whatever the batch (slower)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0,
                   help="torch CPU threads (0: torch's default, one per core); on a busy "
                        "machine 1 avoids OpenMP workers spinning against other processes")
    p.add_argument("--standby", action="store_true",
                   help="load, then wait for a line 'start' on stdin before listening "
                        "(a spare the companion keeps ready for a fast restart)")
    p.add_argument("--dtype", default=None, help="float32, bfloat16 or float16 (default: "
                                                 "the checkpoint's)")
    return p


async def serve(app, host: str, port: int, token: str, on_stop=None) -> None:
    """Serve until SIGINT/SIGTERM. `on_stop` runs first (the engine fails what is in flight),
    so the handlers answer at once and shutdown takes a moment, not aiohttp's 60 s grace."""
    from aiohttp import web

    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, shutdown_timeout=2.0)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port
    shown = f"[{host}]" if ":" in host else host
    print(f"model_server: listening on http://{shown}:{bound} token={token}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        if on_stop is not None:
            on_stop()
        await runner.cleanup()


def warm_grammar(model) -> None:
    """A protocol-2 model gets the action grammar every turn: load xgrammar and the tokenizer
    info (a few seconds) before serving, not inside the first turn's request."""
    from model_server.server import model_protocol  # deferred: torch (cli starts before it)

    if model_protocol(model.path) == 2:
        from model_server.grammar import backend_for  # deferred: xgrammar, only for protocol 2

        backend_for(model)


def read_token_file(path: str, prog: str) -> str:
    """The first line of a token file, stripped; raises ValueError with what is wrong."""
    try:
        with open(path, encoding="utf-8") as f:
            token = f.readline().strip()
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{prog}: cannot read --token-file {path}: {e}") from None
    if not token:
        raise ValueError(f"{prog}: --token-file {path} is empty: put the token on its first line")
    return token


def wait_for_start() -> bool:
    """A standby server: say so, then block until the companion says `start` (True) or closes
    our stdin (False: it no longer needs the spare)."""
    print("model_server: standby", flush=True)
    line = sys.stdin.readline()
    return line.strip() == "start"


def token_on_command_line(argv: list[str]) -> bool:
    return any(a == "--token" or a.startswith("--token=") for a in argv)


def run(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    if args.token_file:
        try:
            args.token = read_token_file(args.token_file, "model_server")
        except ValueError as e:
            print(e, file=sys.stderr)
            return 2
    elif token_on_command_line(argv):
        print("model_server: warning: --token on the command line is visible to every user in "
              "`ps`; use $MODEL_SERVER_TOKEN or --token-file", file=sys.stderr)
    if not is_loopback(args.host) and not args.token:
        print(f"model_server: refusing to bind {args.host} (not loopback) without an explicit "
              "--token", file=sys.stderr)
        return 2
    token = args.token or secrets.token_urlsafe(24)
    from model_server.parent_watch import tie_to_parent  # deferred: with the imports below

    tie_to_parent()  # before the slow imports: a companion killed now still takes us down
    import torch

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    # deferred: torch and the model load after the bind checks and the parent watch
    from model_server.core import EngineOptions
    from model_server.engine import Engine, EngineCore
    from model_server.loader import ModelNotFound, load_model
    from model_server.server import make_app

    try:
        opts = EngineOptions(kv_budget_mb=args.kv_budget, max_sessions=args.max_sessions,
                             max_chunk_tokens=args.max_chunk_tokens,
                             window_tokens=args.window_tokens, session_ttl_s=args.session_ttl,
                             attention_backend=args.attention_backend,
                             batch_invariant=args.batch_invariant)
        model = load_model(args.model, device=args.device, dtype=args.dtype)
        warm_grammar(model)
        # a spare waits here: what is slow to load is loaded; the KV cache (its whole budget is
        # touched when allocated) is not yet, so a spare costs about half a live server's memory
        if args.standby and not wait_for_start():
            return 0
        core = EngineCore(model, opts)
    except (ModelNotFound, ValueError, RuntimeError, OSError) as e:
        print(f"model_server: {e}", file=sys.stderr)
        return 2
    engine = Engine(core).start()
    try:
        asyncio.run(serve(make_app(engine, token, args.max_body_bytes), args.host, args.port,
                          token, on_stop=engine.stop))
    except OSError as e:
        print(f"model_server: cannot listen on {args.host}:{args.port}: {e}", file=sys.stderr)
        return 2
    finally:
        engine.stop()
    return 0
