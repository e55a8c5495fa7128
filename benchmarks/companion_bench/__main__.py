"""`python -m benchmarks.companion_bench [--quick] [--scenarios DIR] [--out DIR] [--server URL]`.

Needs the headless audio environment (scripts/headless-env.sh) or a real default sink and its
monitor as the default input. Starts the embedded model server once unless --server is given.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

from benchmarks.companion_bench.scenario import ScenarioError, load_scenarios
from benchmarks.heldout import HELD_OUT_VOICES

HERE = Path(__file__).resolve().parent
QUICK = ("bug-median-index", "interrupt-long-explanation", "pause-thinking-rms")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.companion_bench", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)} (CI smoke test)")
    p.add_argument("--scenarios", type=Path, default=HERE / "scenarios", help="scenario directory")
    p.add_argument("--only", nargs="*", help="scenario names (file stems) to run")
    p.add_argument("--out", type=Path, default=Path("companion-bench-out"), help="output directory")
    p.add_argument("--server", help="a running model server URL (default: start the embedded one)")
    p.add_argument("--token", default=os.environ.get("COMPANION_SERVER_TOKEN"))
    p.add_argument("--no-gates-off", action="store_true", help="skip the gates-off reruns")
    p.add_argument("--rescore", action="store_true",
                   help="score the runs already in --out again (no companion, no server)")
    p.add_argument("--doc", type=Path, help="also write the report to this markdown file")
    return p


async def _with_server(args, work):
    if args.server:
        return await asyncio.to_thread(work, args.server, args.token, None)
    from companion.model.server_process import ServerProcess
    server = ServerProcess("embedded", spare=False)  # one shared server; no restarts to speed up
    url = await server.start()
    try:
        return await asyncio.to_thread(work, url, server.token, server.proc.pid)
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    names = list(QUICK) if args.quick else args.only
    try:
        scenarios = load_scenarios(args.scenarios, names)
    except ScenarioError as exc:
        print(f"companion-bench: {exc}", file=sys.stderr)
        return 2
    from benchmarks.companion_bench.session import run_all
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    if args.rescore:
        text = run_all(scenarios, args.out, None, None, None, gates_off=not args.no_gates_off, rescore=True)
    else:
        text = asyncio.run(_with_server(args, lambda url, token, pid: run_all(
            scenarios, args.out, url, token, pid, gates_off=not args.no_gates_off)))
    if text is None:
        return 1
    command = "python -m benchmarks.companion_bench " + " ".join(argv if argv is not None else sys.argv[1:])
    print(text)
    print(f"\n{len(scenarios)} scenarios in {time.time() - started:.0f} s; results in {args.out}")
    meta = json.loads((args.out / "results.json").read_text())["meta"]
    if args.doc:
        from benchmarks.companion_bench.document import write_doc
        write_doc(args.doc, text, command, meta, sorted(f"{e}:{v}" for e, v in HELD_OUT_VOICES))
    return 1 if meta["errors"] else 0  # a run the runner could not score fails the command


if __name__ == "__main__":
    sys.exit(main())
