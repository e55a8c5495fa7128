"""The transcript's `said` times against a recording of the sink: audible start and end within 50 ms.

The Speaker runs in a child process under GIL pressure; this process records the null sink's
monitor (the same recorder CompanionBench uses), so the reference is what a listener heard.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.companion_bench.sink_audio import SinkRecorder, speech_intervals

ROOT = Path(__file__).resolve().parents[2]
TOLERANCE = 0.05


def _utterances(said: list) -> list[list]:
    out: list[list] = []
    for t, t_end, text in said:
        if out and t - out[-1][1] < 0.35:
            out[-1][1] = max(out[-1][1], t_end)
            out[-1][2] += " " + text
        else:
            out.append([t, t_end, text])
    return out


@pytest.mark.headless
@pytest.mark.slow
def test_said_times_match_the_recorded_sink_within_50_ms():
    recorder = SinkRecorder()
    recorder.start()
    t0 = time.monotonic()
    child = subprocess.run([sys.executable, str(Path(__file__).with_name("speaker_child.py")), "8"],
                           check=False, capture_output=True, text=True, timeout=180, cwd=ROOT,
                           env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    end = time.monotonic()
    recorder.stop()
    assert child.returncode == 0, child.stderr[-2000:]
    result = json.loads(child.stdout.strip().splitlines()[-1])
    # a low threshold: the sink is digitally silent between phrases, and soft onsets ("two")
    # would otherwise be found late
    audible = speech_intervals(recorder.timeline(t0, end), threshold=0.001, frame=80, min_gap=0.35)
    utterances = _utterances([(a - t0, b - t0, text) for a, b, text in result["said"]])
    # every stretch of sound heard is reported as one utterance (a phrase may come in two parts
    # when its synthesis falls behind, but then both the sink and the transcript show the gap)
    assert len(utterances) == len(audible) >= 8, (utterances, audible)
    for (t, t_end, text), (a, b) in zip(utterances, audible):
        assert abs(t - a) <= TOLERANCE and abs(t_end - b) <= TOLERANCE, (
            f"{text!r}: said {t:.3f}-{t_end:.3f}, heard {a:.3f}-{b:.3f}")
