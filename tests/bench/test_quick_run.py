"""CI smoke test of CompanionBench's runner: `--quick` runs live and everything is scored.

It fails when the runner cannot run or score a scenario (no audio, no transcript, a moment the
runner cannot place), never because the model scores badly.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.headless
@pytest.mark.slow
def test_quick_run_scores_every_scenario_and_every_baseline(tmp_path):
    out = tmp_path / "bench"
    run = subprocess.run([sys.executable, "-m", "benchmarks.companion_bench", "--quick", "--out", str(out)],
                         cwd=ROOT, check=False, capture_output=True, text=True, timeout=400)
    assert run.returncode == 0, (run.stdout[-3000:], run.stderr[-3000:])
    results = json.loads((out / "results.json").read_text())
    assert results["meta"]["errors"] == []
    runs = {(r["scenario"], r["gates"]) for r in results["runs"]}
    assert runs == {("bug-median-index", "on"), ("interrupt-long-explanation", "on"),
                    ("interrupt-long-explanation", "off"), ("pause-thinking-rms", "on"),
                    ("pause-thinking-rms", "off")}
    for scenario, gates in runs:
        tag = scenario + ("" if gates == "on" else ".gates-off")
        timeline = json.loads((out / tag / "timeline.json").read_text())
        said = [s for s in timeline["steps"] if s["action"] == "say"]
        # placed in the sink (or, when a glitch under load hides it, at the send time): never
        # before it was sent, and in order
        assert all(s["t_sent"] - 0.55 <= s["t"] < s["t_end"] for s in said), said
        assert (out / f"{tag}.png").stat().st_size > 5_000
    moments = results["moments"]
    pauses = {m["gates"]: m for m in moments if m["kind"] == "pause"}
    # the pause is placed from the audio, so it is always scorable, for the model and the baselines
    assert set(pauses) == {"on", "off", "silence-700", "smart-turn"}
    assert all(m["n"] == 1 and m["took_over"] in (True, False) for m in pauses.values())
    questions = {m["gates"]: m for m in moments if m["kind"] == "question"}
    assert set(questions) == {"on", "off", "silence-700", "smart-turn"}
    assert all(m["n"] == 1 and m["responded"] in (True, False) for m in questions.values())
    assert any(r["metric"].startswith("cost: model latency") and r["values"]["on"]["n"] > 0
               for r in results["rows"])
    assert "| metric | better |" in run.stdout
