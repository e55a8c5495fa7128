"""Benchmark: latency from a file save to the structured test failure, and the agent's overhead.

    python -m benchmarks.agent_latency [--runs 7]

On the sample project (planted off-by-one), each round times (a) the very pytest command the agent
runs, started directly — the baseline — and (b) `agent.on_file_saved("parse.py")` until the
tests job's result event carries the failure. Overhead = (b) − (a), p50 over the rounds, with
the rounds interleaved so machine load hits both alike. The event loop's lag (p99 of a 10 ms
sleep's lateness) is printed for both phases: equal numbers mean the agent blocked nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.sample_project import make_sample_project
from companion.agent.background import BackgroundAgent
from companion.core.events import JobEvent
from tools.on_save import OnSaveConfig, OnSaveRule
from tools.pytest_details import prepare_details
from tools.test_runner import TestsConfig, pytest_argv


def direct_pytest_seconds(root: Path, config: TestsConfig) -> float:
    """The agent's own pytest argv, run plainly: what the test command costs by itself."""
    with tempfile.TemporaryDirectory() as tmp:
        argv = pytest_argv(config, f"{tmp}/report.xml", ["tests/test_parse.py"])
        env = prepare_details(Path(tmp), root, None, None, dump_on_timeout=True)
        start = time.perf_counter()
        done = subprocess.run(argv, cwd=root, env=env, capture_output=True, check=False)
        elapsed = time.perf_counter() - start
    if done.returncode != 1:
        raise SystemExit(
            f"baseline pytest should fail on the planted bug, got exit {done.returncode}"
        )
    return elapsed


async def agent_save_seconds(agent: BackgroundAgent, results: asyncio.Queue) -> float:
    start = time.perf_counter()
    [job_id] = agent.on_file_saved("parse.py")
    while True:
        event: JobEvent = await results.get()
        if event.job_id == job_id:
            break
    elapsed = time.perf_counter() - start
    failures = event.data.get("failures") or []
    if event.phase != "result" or not failures or failures[0]["exc_type"] != "IndexError":
        raise SystemExit(f"expected the planted IndexError, got {event.phase}: {event.summary}")
    return elapsed


async def watch_loop_lag(stop: asyncio.Event, lags: list[float], period: float = 0.01) -> None:
    while not stop.is_set():
        before = time.perf_counter()
        await asyncio.sleep(period)
        lags.append(time.perf_counter() - before - period)


async def bench(runs: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        root = make_sample_project(Path(tmp) / "sample")
        config = OnSaveConfig(rules=(OnSaveRule(("*.py",), tests="affected", lint=False),))
        results: asyncio.Queue = asyncio.Queue()
        agent = BackgroundAgent(
            root,
            lambda e: (
                results.put_nowait(e) if e.phase in ("result", "error", "cancelled") else None
            ),
            config=config,
        )
        await agent_save_seconds(agent, results)  # warm-up: imports, page cache, AST index
        direct, via_agent = [], []
        lags: dict[str, list[float]] = {"direct": [], "agent": []}
        for _ in range(runs):
            # the loop is watched in both phases: lag seen while pytest runs on its own is the
            # machine's scheduling noise, the baseline for the lag seen while the agent works
            stop = asyncio.Event()
            watcher = asyncio.ensure_future(watch_loop_lag(stop, lags["direct"]))
            direct.append(await asyncio.to_thread(direct_pytest_seconds, root, config.tests))
            stop.set()
            await watcher
            stop = asyncio.Event()
            watcher = asyncio.ensure_future(watch_loop_lag(stop, lags["agent"]))
            via_agent.append(await agent_save_seconds(agent, results))
            stop.set()
            await watcher
        await agent.aclose()
    paired = [a - d for a, d in zip(via_agent, direct, strict=True)]
    return {
        "runs": runs,
        "direct_p50": statistics.median(direct),
        "agent_p50": statistics.median(via_agent),
        "paired_overhead_p50": statistics.median(paired),
        "lag_agent": _p99(lags["agent"]),
        "lag_direct": _p99(lags["direct"]),
    }


def _p99(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="rounds (each: one direct, one agent)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    r = asyncio.run(bench(args.runs))
    overhead = r["agent_p50"] - r["direct_p50"]
    print(f"agent benchmark: sample project with a planted bug, {r['runs']} interleaved rounds")
    print(f"  pytest run directly (the agent's argv)  p50 {r['direct_p50'] * 1000:8.1f} ms")
    print(f"  save -> structured failure via agent    p50 {r['agent_p50'] * 1000:8.1f} ms")
    print(
        f"  agent overhead (p50 difference)             {overhead * 1000:8.1f} ms "
        f"({overhead / r['direct_p50'] * 100:+.1f} %)"
    )
    print(
        f"  agent overhead (p50 of paired rounds)       {r['paired_overhead_p50'] * 1000:8.1f} ms"
    )
    print(
        f"  event-loop lag p99 while the agent ran      {r['lag_agent'] * 1000:8.1f} ms "
        f"(baseline, pytest alone: {r['lag_direct'] * 1000:.1f} ms)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
