"""The baselines a user would pick instead, scored on the same run's audio and agent results.

(a) "silence-700": a cascaded voice agent whose turn ends after 700 ms of silence (Silero VAD);
(b) "smart-turn": Silero VAD with a 200 ms stop, then Smart-Turn v3.2 decides whether the turn is
    complete (pipecat's recommended setup), falling back to 3 s of silence;
(c) "relay-all": for bug interjection, speak every agent result the moment it arrives.
Both cascades barge in (stop talking) once the VAD has heard 200 ms of speech. They hear the user's
clips exactly where the recording placed them, without the companion's voice — a perfect echo
canceller, which favours them — and their reply starts the instant the turn ends (no ASR, LLM or
TTS time), so their latencies are lower bounds.
"""

from __future__ import annotations

import numpy as np

from benchmarks.companion_bench import metrics as m
from benchmarks.companion_bench.cascade_models import VAD_FRAME, SileroVAD, SmartTurn
from benchmarks.companion_bench.scenario import Scenario
from benchmarks.companion_bench.sink_audio import RATE
from benchmarks.companion_bench.transcript import is_failure, job_results

VAD_THRESHOLD = 0.5
START_S = 0.2  # speech this long starts a turn / barges in (pipecat VADParams.start_secs)
FRAME_S = VAD_FRAME / RATE


def user_track(timeline: dict, clips: dict[str, np.ndarray], length: int) -> np.ndarray:
    track = np.zeros(length, np.float32)
    for s in timeline["steps"]:
        if s["action"] == "say":
            clip, first = clips[s["id"]], round(s["t"] * RATE)
            n = max(0, min(len(clip), length - first))
            track[first:first + n] += clip[:n]
    return track


def speech_starts(probs: np.ndarray) -> list[float]:
    """Times the VAD has heard START_S of speech (barge-in moments)."""
    need, run, out = round(START_S / FRAME_S), 0, []
    for i, p in enumerate(probs):
        run = run + 1 if p > VAD_THRESHOLD else 0
        if run == need:
            out.append((i + 1) * FRAME_S)
    return out


def turn_ends(probs: np.ndarray, audio: np.ndarray, stop_s: float, turn: SmartTurn | None) -> list[float]:
    """When the baseline decides the user's turn ended (and starts its reply)."""
    need_start, need_stop = round(START_S / FRAME_S), max(1, round(stop_s / FRAME_S))
    fallback = round(3.0 / FRAME_S)
    out, speaking, voiced, silent, turn_start, checked = [], False, 0, 0, 0, False
    for i, p in enumerate(probs):
        if p > VAD_THRESHOLD:
            voiced, silent, checked = voiced + 1, 0, False
            if not speaking and voiced >= need_start:
                speaking, turn_start = True, i - voiced + 1
            continue
        voiced, silent = 0, silent + 1
        if not speaking:
            continue
        t = (i + 1) * FRAME_S
        if turn is None and silent == need_stop:
            out.append(t)
            speaking = False
        elif turn is not None and silent == need_stop and not checked:
            checked = True
            prob, took = turn.complete(audio[turn_start * VAD_FRAME:(i + 1) * VAD_FRAME])
            if prob > 0.5:
                out.append(t + took)
                speaking = False
        elif turn is not None and silent == fallback:
            out.append(t)
            speaking = False
    return out


def _replies(ends: list[float]) -> list[m.Utterance]:
    return [m.Utterance(t, t + 1.0, "reply") for t in ends]


def score_cascade(name: str, scenario: Scenario, timeline: dict, probs: np.ndarray,
                  audio: np.ndarray, turn: SmartTurn | None) -> list[dict]:
    ends = turn_ends(probs, audio, 0.7 if turn is None else 0.2, turn)
    replies, starts = _replies(ends), speech_starts(probs)
    steps, out = {s["id"]: s for s in timeline["steps"]}, []
    for e in scenario.expects:
        s = steps.get(e.step, {})
        if e.kind == "question":
            r = m.question(replies, s["t_end"])
        elif e.kind == "pause":
            parts = s.get("parts", [])
            r = m.pause(replies, parts[0][1], parts[1][0]) if len(parts) >= 2 else {"n": 0}
        elif e.kind == "aside":
            r = m.aside(replies, s["t_end"])
        elif e.kind in ("backchannel", "interrupt"):
            hit = next((t for t in starts if s["t"] <= t <= s["t"] + m.STOP_WINDOW), None)
            r = {"n": 1, "stopped": hit is not None, "latency": None if hit is None else hit - s["t"]}
        else:
            continue
        out.append({"kind": e.kind, "scenario": scenario.name, "gates": name, **r})
    return out


def score_relay(scenario: Scenario, timeline: dict, lines: list[dict], synth_s: float) -> list[dict]:
    """(c): every on-save job result is spoken verbatim `synth_s` after it arrives."""
    results = [j for j in job_results(lines) if j.get("tool") in ("tests", "lint") and j.get("summary")]
    replies = [m.Utterance(j["t"] + synth_s, j["t"] + synth_s + 2.0, j["summary"]) for j in results]
    steps, out = {s["id"]: s for s in timeline["steps"]}, []
    for e in scenario.expects:
        if e.kind != "bug":
            continue
        s = steps[e.step]
        fail = next((j for j in results if is_failure(j) and j["t"] >= s["t"]), None)
        right = ({e.line} if e.line is not None else set()) | m.reported_lines(fail["summary"] if fail else "")
        r = m.bug(replies, s["t"], fail["t"] if fail else None, e.test, e.function, right)
        out.append({"kind": "bug", "scenario": scenario.name, "gates": "relay-all", **r})
    failing = [j for j in results if is_failure(j)]
    out.append({"kind": "relay-precision", "scenario": scenario.name, "gates": "relay-all",
                "n": len(results), "precise": len(failing)})
    return out


class Cascades:
    """Loads the ONNX models once per benchmark run."""

    def __init__(self) -> None:
        self.vad, self.turn = SileroVAD(), SmartTurn()

    def score(self, scenario: Scenario, timeline: dict, clips: dict[str, np.ndarray], length: int) -> list[dict]:
        audio = user_track(timeline, clips, length)
        probs = self.vad.probabilities(audio)
        return (score_cascade("silence-700", scenario, timeline, probs, audio, None)
                + score_cascade("smart-turn", scenario, timeline, probs, audio, self.turn))
