"""Scores one run: the scenario's expected moments and the whole-run measures, from the transcript and
the runner's timeline (and the sink recording, only to check audible times)."""

from __future__ import annotations

from benchmarks.companion_bench import metrics as m
from benchmarks.companion_bench.scenario import Scenario
from benchmarks.companion_bench.sink_audio import RATE, speech_intervals
from benchmarks.companion_bench.transcript import (
    Utterance,
    calls,
    heard,
    is_failure,
    job_results,
    model_turns,
    utterances,
)
from tools.catalog import default_registry


def user_intervals(timeline: dict) -> list[tuple[float, float]]:
    return [(s["t"], s["t_end"]) for s in timeline["steps"] if s["action"] == "say"]


def failing_spans(lines: list[dict], end: float) -> list[tuple[float, float]]:
    spans, since = [], None
    for job in (x for x in job_results(lines) if x.get("tool") == "tests"):
        if is_failure(job) and since is None:
            since = job["t"]
        elif not is_failure(job) and since is not None:
            spans.append((since, job["t"]))
            since = None
    if since is not None:
        spans.append((since, end))
    return spans


def score_moments(scenario: Scenario, timeline: dict, lines: list[dict],
                  utts: list[Utterance]) -> list[dict]:
    steps = {s["id"]: s for s in timeline["steps"]}
    ready, made = timeline["ready"], calls(lines)
    out = []
    for e in scenario.expects:
        s = steps.get(e.step, {})
        if e.kind == "question":
            r = m.question(utts, s["t_end"])
        elif e.kind == "pause":
            parts = s.get("parts", [])
            r = m.pause(utts, parts[0][1], parts[1][0]) if len(parts) >= 2 else {"n": 0}
        elif e.kind in ("backchannel", "interrupt"):
            r = m.talk_over(utts, s["t"])
        elif e.kind == "aside":
            r = m.aside(utts, s["t_end"])
        elif e.kind == "remind":
            r = m.remind(utts, s["t_end"] + e.delay)
        elif e.kind == "request":
            r = m.request(made, s["t"], s["t_end"], e.tool, e.args)
            r["typed"] = s["action"] == "type"
            if r["tool"]:
                r.update(m.result_said(utts, job_results(lines), s["t_end"] + r["latency"], e.tool))
        elif e.kind == "bug":
            fail = next((j for j in job_results(lines) if is_failure(j) and j["t"] >= s["t"]), None)
            right = ({e.line} if e.line is not None else set()) | m.reported_lines(fail["summary"] if fail else "")
            r = m.bug(utts, s["t"], fail["t"] if fail else None, e.test, e.function, right)
            r["fail_t"] = fail["t"] if fail else None
        else:  # idle, rule
            r = m.window_speech(utts, ready + e.start, ready + e.end)
            r["right"] = r["spoke"] == e.speak if e.kind == "rule" else not r["spoke"]
        out.append({"kind": e.kind, "scenario": scenario.name, "gates": timeline["gates"], **r})
    return out


def score_run(scenario: Scenario, timeline: dict, lines: list[dict], recording) -> dict:
    """Moments plus whole-run measures (proactive speech, loops, echo, audible-time check, cost)."""
    utts = utterances(lines)
    ready, end = timeline["ready"], timeline["end"]
    user = user_intervals(timeline)
    typed = [(s["t"], s["t"]) for s in timeline["steps"] if s["action"] == "type"]
    # what is new to talk about: the user's actions and the tests/lint results; the results of
    # the model's own git calls are not news (it calls them unprompted every few seconds)
    news = ([s["t"] for s in timeline["steps"] if s["action"] in ("save", "type")]
            + [b for _, b in user]
            + [j["t"] for j in job_results(lines) if j.get("tool") in ("tests", "lint")])
    late = [u for u in utts if u.t >= ready]
    run = {
        "moments": score_moments(scenario, timeline, lines, utts),
        "proactive": m.proactive(late, user + typed, failing_spans(lines, end), news, (end - ready) / 60),
        "loops": m.loops(late),
        "calls": m.unprompted_calls([c for c in calls(lines) if c[0] >= ready], user + typed,
                                    _changing_tools()),
        "echo": m.echo(heard(lines), late, user),
        "said_errors": m.said_time_errors(late, _audible(recording, user), user),
        "cost": _cost(lines, timeline, ready),
        "utterances": [[u.t, u.t_end, u.text, u.interrupted] for u in utts],
    }
    return run


def _changing_tools() -> set[str]:
    registry = default_registry()
    return {name for name in registry.names() if registry.get(name).changes_repository}


def _audible(recording, user: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The companion's audio in the sink: the recording with the user's clips blanked out."""
    masked = recording.copy()
    for a, b in user:
        masked[max(0, int((a - 0.05) * RATE)):int((b + 0.05) * RATE)] = 0.0
    return speech_intervals(masked, threshold=0.001, frame=80, min_gap=0.35)


def _cost(lines: list[dict], timeline: dict, ready: float) -> dict:
    turns = [x for x in model_turns(lines) if x["t"] >= ready]
    cpu = timeline["cpu"]
    return {"latency_ms": [x["latency_ms"] for x in turns],
            "late_ticks": (turns[-1]["late_ticks"] - turns[0]["late_ticks"]) if turns else 0,
            "ticks": len(turns), "companion_cpu": cpu["companion_s"] / cpu["seconds"],
            "server_cpu": cpu["server_s"] / cpu["seconds"]}
