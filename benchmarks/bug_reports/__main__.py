"""Benchmark: are the agent's bug reports right, short and fast — and is the warm runner exact?

    python -m benchmarks.bug_reports [--mutants 60] [--rounds 15]

1. Mutants (benchmarks/bug_reports/mutants.py) of real code with real tests (project.py: stdlib
   bisect, heapq, colorsys under test). For each, the mutated file is saved with its one-line
   diff to two agents on the same project — warm runner on, and off (cold `python -m pytest`),
   in alternating order — and the tests job's result is compared. Metrics over mutants the tests
   kill: localization accuracy (the first reported failure's line is the mutated line), expected
   and actual present when the assertion is a comparison, words per summary; over all mutants:
   warm/cold agreement (outcomes, failures, pinned lines, summaries); save → result p50/p90.
2. The sample project (benchmarks/sample_project.py): save of the planted bug → failing result,
   p50/p90, warm vs cold, interleaved.
Timings start at `agent.on_file_saved` (FileWatch's debounce is not included) and end at the
result event. Both arms run in the same process, one after the other, under the same load.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.bug_reports.mutants import Mutant, mutants_of
from benchmarks.bug_reports.project import make_project
from benchmarks.sample_project import BUGGY, FIXED, make_sample_project
from companion.agent.background import BackgroundAgent
from companion.agent.bug_report import word_count
from companion.agent.summaries import TestMemory
from companion.streams.file_content import unified_diff
from tools.on_save import OnSaveConfig, OnSaveRule
from tools.test_runner import TestsConfig

# a mutant that loops forever is stopped (and reported as a hang) after HANG_S
HANG_S = 20.0
TESTS_ONLY = OnSaveConfig(rules=(OnSaveRule(("*.py",), tests="affected", lint=False),),
                          tests=TestsConfig(timeout_s=HANG_S))
MODULES = ("mini_bisect.py", "mini_heapq.py", "mini_colorsys.py")


class Arm:
    """One agent (warm or cold) and the queue its events arrive on."""

    def __init__(self, root: Path, warm: bool) -> None:
        self.events: asyncio.Queue = asyncio.Queue()
        self.agent = BackgroundAgent(root, self.events.put_nowait, config=TESTS_ONLY,
                                     warm_tests=warm)
        self.name = "warm" if warm else "cold"

    async def save(self, rel: str, diff: str) -> tuple[float, object]:
        self.agent.jobs_runner.test_memory = TestMemory()  # each mutant is news on its own
        self.agent.jobs_runner.changes.clear()
        start = time.perf_counter()
        ids = self.agent.on_file_saved(rel, diff)
        while True:
            event = await self.events.get()
            if event.job_id in ids and event.tool == "tests" and event.phase in ("result", "error"):
                return time.perf_counter() - start, event


def outcome(event) -> tuple:
    """What must be equal between a warm and a cold run of the same code (for a hang: the test
    and the file it spun in — the exact line depends on the instant of the dump)."""
    data = event.data
    if "hang" in data:
        return ("hang", data["hang"]["test"], data["hang"]["location"]["file"])
    failures = tuple(
        (f["test_id"], f["kind"], f["exc_type"], f["file"], f["line"], f["message"],
         f.get("values"), f.get("location", {}).get("line")) for f in data.get("failures", ())
    )
    return (event.phase, data.get("exit_code"), tuple(sorted(data.get("passed", ()))), failures,
            event.summary)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def warm_up(arms: list[Arm], rel: str) -> None:
    for arm in arms:
        await arm.save(rel, "")
        if arm.agent.jobs_runner.warm is not None:
            await arm.agent.jobs_runner.warm.wait_ready()
            await arm.save(rel, "")


async def mutants_phase(root: Path, count: int) -> dict:
    arms = [Arm(root, True), Arm(root, False)]
    await warm_up(arms, MODULES[0])
    pool: list[Mutant] = []
    for rel in MODULES:
        pool += mutants_of(rel, (root / rel).read_text())
    random.Random(7).shuffle(pool)
    rows, times = [], {"warm": [], "cold": []}
    for i, mutant in enumerate(pool):
        if sum(r["killed"] for r in rows) >= count:
            break
        original = (root / mutant.file).read_text()
        (root / mutant.file).write_text(mutant.source)
        diff = unified_diff(original, mutant.source, mutant.file, mutant.file)
        got = {}
        for arm in (arms if i % 2 == 0 else arms[::-1]):
            seconds, event = await arm.save(mutant.file, diff)
            got[arm.name] = event
            times[arm.name].append(seconds)
        (root / mutant.file).write_text(original)
        rows.append(judge(mutant, got["warm"], got["cold"]))
    for arm in arms:
        await arm.agent.aclose()
    return {"rows": rows, "times": times, "pool": len(pool)}


def judge(mutant: Mutant, warm, cold) -> dict:
    failures = cold.data.get("failures") or []
    first = failures[0] if failures else {}
    location = first.get("location") or cold.data.get("hang", {}).get("location") or {}
    return {
        "mutant": mutant.name,
        "killed": bool(failures) or "hang" in cold.data,
        "agree": outcome(warm) == outcome(cold),
        "warm_ran_warm": bool(warm.data.get("warm")),
        "located": (location.get("file"), location.get("line")) == (mutant.file, mutant.line),
        "how": location.get("how"),
        "comparison": bool(first.get("compare_op")),
        "has_values": "expected" in cold.summary and any(
            w in cold.summary for w in (" returns ", "got ", " is ")),
        "words": word_count(cold.summary),
        "summary": cold.summary,
    }


async def sample_phase(rounds: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        root = make_sample_project(Path(tmp) / "sample")
        parse = root / "parse.py"
        arms = [Arm(root, True), Arm(root, False)]
        await warm_up(arms, "parse.py")
        times = {"warm": [], "cold": []}
        for i in range(rounds):
            for arm in (arms if i % 2 == 0 else arms[::-1]):
                fixed = parse.read_text().replace(BUGGY, FIXED)
                parse.write_text(fixed)
                broken = fixed.replace(FIXED, BUGGY)
                parse.write_text(broken)
                seconds, event = await arm.save("parse.py", unified_diff(fixed, broken, "parse.py",
                                                                         "parse.py"))
                if not event.data.get("failures"):
                    raise SystemExit(f"expected the planted failure, got: {event.summary!r}")
                times[arm.name].append(seconds)
        for arm in arms:
            await arm.agent.aclose()
        return times


def report(mutants: dict, sample: dict) -> None:
    rows = mutants["rows"]
    killed = [r for r in rows if r["killed"]]
    compared = [r for r in killed if r["comparison"]]
    words = [r["words"] for r in killed]
    t = mutants["times"]
    print(f"mutants tried: {len(rows)} of {mutants['pool']} generated; killed by the tests: "
          f"{len(killed)}")
    print("| metric | value | target |")
    print("|---|---|---|")
    print(f"| localization accuracy (named line == mutated line) | "
          f"{sum(r['located'] for r in killed) / len(killed):.3f} ({sum(r['located'] for r in killed)}"
          f"/{len(killed)}) | ≥ 0.9 |")
    print(f"| expected+actual in summary when the assertion compares | "
          f"{sum(r['has_values'] for r in compared)}/{len(compared)} | all |")
    print(f"| words per summary: mean / p90 / max | {statistics.mean(words):.1f} / "
          f"{pct(words, 0.9):.0f} / {max(words)} | ≤ 25 |")
    print(f"| warm/cold agreement (all {len(rows)} mutants) | "
          f"{sum(r['agree'] for r in rows)}/{len(rows)} | 100 % |")
    print(f"| runs that really went warm | {sum(r['warm_ran_warm'] for r in rows)}/{len(rows)} | |")
    print(f"| mutants: save → result p50 / p90, warm | {pct(t['warm'], .5):.2f} s / "
          f"{pct(t['warm'], .9):.2f} s | |")
    print(f"| mutants: save → result p50 / p90, cold | {pct(t['cold'], .5):.2f} s / "
          f"{pct(t['cold'], .9):.2f} s | |")
    print(f"| sample project: save → failing result p50 / p90, warm | {pct(sample['warm'], .5):.2f}"
          f" s / {pct(sample['warm'], .9):.2f} s | ≤ 1.0 s p50 |")
    print(f"| sample project: save → failing result p50 / p90, cold | {pct(sample['cold'], .5):.2f}"
          f" s / {pct(sample['cold'], .9):.2f} s | |")
    print(f"| sample project: cold / warm p50 | "
          f"{pct(sample['cold'], .5) / pct(sample['warm'], .5):.1f}x | |")
    how = {}
    for r in killed:
        how[r["how"]] = how.get(r["how"], 0) + 1
    print(f"\nhow lines were found: {how}")
    misses = [r for r in killed if not r["located"]]
    for r in misses[:8]:
        print(f"  missed: {r['mutant']}: {r['summary']}")
    disagreements = [r for r in rows if not r["agree"]]
    for r in disagreements:
        print(f"  warm != cold: {r['mutant']}")
    print("\nexample summaries:")
    for r in killed[:6]:
        print(f"  [{r['mutant']}] {r['summary']}")


async def main(count: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = make_project(Path(tmp) / "stdlib_project")
        mutants = await mutants_phase(root, count)
    sample = await sample_phase(rounds)
    report(mutants, sample)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=int, default=60, help="killed mutants to measure")
    parser.add_argument("--rounds", type=int, default=15, help="sample-project rounds per arm")
    args = parser.parse_args()
    asyncio.run(main(args.mutants, args.rounds))
