"""Runs a set of scenarios (gates on, then off for turn-taking ones), scores them and the baselines, and
writes results.json, table.md and one timeline PNG per run."""

from __future__ import annotations

import json
import os
import time
import traceback
from pathlib import Path

from benchmarks.companion_bench.baselines import Cascades, score_relay
from benchmarks.companion_bench.plot import plot_run
from benchmarks.companion_bench.report import write_results
from benchmarks.companion_bench.runner import read_wav, run_scenario
from benchmarks.companion_bench.scenario import Scenario, parse_voice
from benchmarks.companion_bench.scoring import score_run
from benchmarks.companion_bench.transcript import read_transcript, utterances
from benchmarks.companion_bench.voices import synthesize
from benchmarks.heldout import HELD_OUT_VOICES


def _relay_synth_seconds() -> float:
    """How long espeak-ng takes to voice a typical result: the relay baseline's latency."""
    from companion.voice.tts import EspeakVoice
    voice = EspeakVoice()
    started = time.perf_counter()
    voice.synthesize("one test failed in test_stats: test_median_even fails an assertion at line 13")
    return time.perf_counter() - started


def score_saved(scenario: Scenario, directory: Path, tag: str, cascades: Cascades | None,
                relay_s: float) -> tuple[dict, list[dict]]:
    """Scores a finished run from its files (so metrics can be re-computed without re-running)."""
    timeline = json.loads((directory / "timeline.json").read_text(encoding="utf-8"))
    lines = read_transcript(directory / "transcript.jsonl")
    recording = read_wav(directory / "sink.wav")
    clips = {s.id: synthesize(*parse_voice(s.voice), s.text, s.pause) for s in scenario.steps
             if s.action == "say"}
    run = score_run(scenario, timeline, lines, recording)
    run.update(scenario=scenario.name, gates=timeline["gates"], labels=sorted(scenario.labels))
    plot_run(directory.parent / f"{tag}.png", f"{tag}: {scenario.description}"[:110], timeline,
             lines, utterances(lines))
    more: list[dict] = []
    if cascades is not None:
        more = (cascades.score(scenario, timeline, clips, len(recording))
                + score_relay(scenario, timeline, lines, relay_s))
    return run, more


def run_all(scenarios: list[Scenario], out: Path, server: str | None, token: str | None,
            server_pid: int | None, *, gates_off: bool = True, rescore: bool = False) -> str | None:
    cascades, relay_s = Cascades(), _relay_synth_seconds()
    moments: list[dict] = []
    runs: list[dict] = []
    errors: list[str] = []
    started = time.time()
    for i, scenario in enumerate(scenarios):
        modes = [True] + ([False] if gates_off and scenario.turn_taking else [])
        for gates_on in modes:
            tag = f"{scenario.name}{'' if gates_on else '.gates-off'}"
            print(f"[{i + 1}/{len(scenarios)}] {tag} ({time.time() - started:.0f} s)", flush=True)
            try:
                if not rescore:
                    run_scenario(scenario, out / tag, server, token, gates_on=gates_on,
                                 server_pid=server_pid)
                elif not (out / tag / "timeline.json").exists():
                    continue
                run, more = score_saved(scenario, out / tag, tag, cascades if gates_on else None, relay_s)
            except Exception as exc:  # noqa: BLE001 - one broken run must not lose the others
                errors.append(f"{tag}: {exc}")
                (out / f"{tag}.error.txt").write_text(traceback.format_exc())
                print(f"  failed: {exc}", flush=True)
                continue
            runs.append(run)
            moments.extend(run["moments"] + more)
    if not runs:
        print("companion-bench: no scenario could be run:\n  " + "\n  ".join(errors))
        return None
    meta = {"scenarios": len(scenarios), "runs": len(runs), "errors": errors,
            "seconds": time.time() - started, "cpus": os.cpu_count(),
            "load_avg": os.getloadavg(), "relay_synth_s": relay_s,
            "held_out_voices": sorted(f"{e}:{v}" for e, v in HELD_OUT_VOICES)}
    text = write_results(out, moments, runs, meta)
    if errors:
        text += "\n\nRuns that failed: " + "; ".join(errors)
    return text
