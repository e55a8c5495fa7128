"""The transcript's `said` times against a recording of the sink: audible start and end within 50 ms.

The Speaker runs in a child process under GIL pressure; this process records the null sink's
monitor (the same recorder CompanionBench uses), so the reference is what a listener heard.

The claim holds while the device plays what the Speaker sends. A starved process underflows the
device: it plays silence we did not send, the speech stutters, and PortAudio's latency report is
unreliable for a while (measured 41–125 ms off next to underflow bursts, 16 ms at most elsewhere).
The transcript says so itself (AudioUnderruns, shown in the status bar), so an utterance next to
a reported underrun is held to that report instead of to 50 ms.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.companion_bench.sink_audio import SinkRecorder, speech_intervals

ROOT = Path(__file__).resolve().parents[2]
TOLERANCE = 0.05
UTTERANCES = 8
REPORT_SLACK = 0.3 + 0.25  # an underflow's report comes within 0.25 s (the Speaker's rate limit)


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
    child = subprocess.run([sys.executable, str(Path(__file__).with_name("speaker_child.py")),
                            str(UTTERANCES)],
                           check=False, capture_output=True, text=True, timeout=180, cwd=ROOT,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
    end = time.monotonic()
    recorder.stop()
    assert child.returncode == 0, child.stderr[-2000:]
    result = json.loads(child.stdout.strip().splitlines()[-1])
    # a low threshold: the sink is digitally silent between phrases, and soft onsets ("two")
    # would otherwise be found late
    audible = speech_intervals(recorder.timeline(t0, end), threshold=0.001, frame=80, min_gap=0.35)
    utterances = _utterances([(a - t0, b - t0, text) for a, b, text in result["said"]])
    reports = [t - t0 for t in result["underrun_reports"]]
    # every stretch of sound heard is reported as one utterance (a phrase may come in two parts
    # when its synthesis falls behind, but then both the sink and the transcript show the gap)
    assert len(utterances) == len(audible) >= UTTERANCES, (utterances, audible)
    checked, errors = 0, []
    for (t, t_end, text), (a, b) in zip(utterances, audible):
        if any(t - 0.3 <= r <= t_end + REPORT_SLACK for r in reports):
            continue  # the transcript marks this stretch as stuttering audio
        checked += 1
        if abs(t - a) > TOLERANCE or abs(t_end - b) > TOLERANCE:
            errors.append(f"{text!r}: said {t:.3f}-{t_end:.3f}, heard {a:.3f}-{b:.3f}")
    assert not errors, errors
    # the exemption cannot empty the check: most utterances must have played cleanly
    assert checked >= UTTERANCES // 2, (
        f"only {checked} of {len(utterances)} utterances played without underflows "
        f"({result['underflows']} underflows): the speaker was starved")
