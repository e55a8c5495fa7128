"""CompanionBench metrics: pure functions over a transcript's utterances/calls/jobs and the runner's timeline.

Definitions follow Full-Duplex-Bench v1 (Lin et al., 2025, arXiv:2503.04721: pause handling as
take-over rate, backchannel, smooth turn-taking latency, user interruption) and v1.5
(arXiv:2507.23159: behaviour when the user talks over the model, background speech / talking to
someone else), and LiveKit's eot-bench (end-of-turn detection: latency after the end of speech,
false take-overs in pauses). Exact windows are the constants below; docs/companion-bench.md
restates them. Each function returns one moment's record: {"n": 1 or 0 (not applicable), ...}.
"""

from __future__ import annotations

import itertools
import re

from benchmarks.companion_bench.transcript import Utterance

RESPONSE_WINDOW = 5.0  # s after the end of a question in which a reply counts (FD-Bench: turn taken)
ASIDE_WINDOW = 4.0  # s after an aside in which speaking counts as answering it
STOP_WINDOW = 2.0  # s after the user starts talking over the companion in which stopping counts
BUG_WINDOW = 10.0  # s after the failing result in which a remark counts (the recall window)
REQUEST_WINDOW = 10.0  # s after the request in which the call counts (and after a result, its saying)
RESULT_HEAD_WORDS = 3  # words of a requested result's summary that show it was said
REMIND_TOLERANCE = 1.0
NEWS_WINDOW = 10.0  # s after a save, a job result or user speech, something is new


def _first_onset(utts: list[Utterance], lo: float, hi: float) -> Utterance | None:
    return next((u for u in utts if lo < u.t <= hi), None)


def _covering(utts: list[Utterance], t: float) -> Utterance | None:
    return next((u for u in utts if u.t <= t < u.t_end), None)


def question(utts: list[Utterance], end: float) -> dict:
    u = _first_onset(utts, end - 0.2, end + RESPONSE_WINDOW)
    return {"n": 1, "responded": u is not None, "latency": None if u is None else u.t - end}


def pause(utts: list[Utterance], pause_start: float, pause_end: float) -> dict:
    """Take-over: the companion starts speaking inside the user's mid-utterance pause."""
    return {"n": 1, "took_over": _first_onset(utts, pause_start, pause_end) is not None}


def talk_over(utts: list[Utterance], user_start: float) -> dict:
    """The user starts speaking while the companion talks: did it stop, and how fast.
    Not applicable (n=0) when the companion was not speaking then."""
    u = _covering(utts, user_start)
    if u is None:
        return {"n": 0, "stopped": None, "latency": None}
    stopped = u.interrupted and u.t_end <= user_start + STOP_WINDOW
    return {"n": 1, "stopped": stopped, "latency": u.t_end - user_start if stopped else None}


def aside(utts: list[Utterance], end: float) -> dict:
    return {"n": 1, "responded": _first_onset(utts, end - 0.2, end + ASIDE_WINDOW) is not None}


def remind(utts: list[Utterance], due: float) -> dict:
    u = _first_onset(utts, due - REMIND_TOLERANCE, due + REMIND_TOLERANCE)
    return {"n": 1, "on_time": u is not None, "error": None if u is None else u.t - due}


def request(calls: list[tuple[float, str, dict]], start: float, end: float, tool: str,
            args: dict) -> dict:
    """Right tool (and every expected argument) called between the start of the request and
    REQUEST_WINDOW after its end; latency from the end of the request to the call."""
    for t, name, got in calls:
        if start <= t <= end + REQUEST_WINDOW and name == tool:
            right_args = all(got.get(k) == v for k, v in args.items())
            return {"n": 1, "tool": True, "args": right_args, "latency": t - end}
    return {"n": 1, "tool": False, "args": False, "latency": None}


def result_said(utts: list, results: list[dict], call_t: float, tool: str) -> dict:
    """Whether the requested job's result reached the user: the first `tool` result after the
    call with something to say, and an utterance starting after it, within REQUEST_WINDOW, that
    begins with the summary's first words (a relay is spoken verbatim). result_latency: result
    arrival -> that utterance. Neither is counted when no such result came."""
    result = next((j for j in results if j.get("tool") == tool and j["t"] >= call_t
                   and normalize(j.get("summary") or "")), None)
    if result is None:
        return {"result_said": None, "result_latency": None}
    head = " ".join(normalize(result["summary"]).split()[:RESULT_HEAD_WORDS])
    for u in utts:
        if result["t"] <= u.t <= result["t"] + REQUEST_WINDOW and normalize(u.text).startswith(head):
            return {"result_said": True, "result_latency": u.t - result["t"]}
    return {"result_said": False, "result_latency": None}


def normalize(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def reported_lines(summary: str) -> set[int]:
    """The line numbers a job summary names ("... at test_stats.py line 13")."""
    return {int(n) for n in re.findall(r"\bline (\d+)", summary)}


NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"]


def names(text: str, test: str, function: str, lines: set[int]) -> dict:
    """Whether speech names the failing test or function, and a right line ("line 15" or "line
    fifteen"): the bug's line in the source, or the line the failing result reported."""
    said = f" {normalize(text)} "
    hit = any(x and f" {normalize(x)} " in said for x in (test, function))
    spoken = {str(n) for n in lines} | {NUMBER_WORDS[n] for n in lines if 0 <= n < len(NUMBER_WORDS)}
    return {"names": hit, "line": any(f" line {w} " in said for w in spoken)}


def bug(utts: list[Utterance], save_t: float, fail_t: float | None, test: str, function: str,
        lines: set[int]) -> dict:
    """Recall: any speech within BUG_WINDOW of the failing result; content over that speech;
    latency from the result and from the save to the first audible word."""
    if fail_t is None:  # the agent never reported the failure: the moment is not scorable
        return {"n": 0, "recalled": None}
    spoken = [u for u in utts if fail_t - 0.5 < u.t <= fail_t + BUG_WINDOW]
    text = " ".join(u.text for u in spoken)
    first = spoken[0].t if spoken else None
    return {"n": 1, "recalled": bool(spoken), **names(text, test, function, lines),
            "latency_result": None if first is None else first - fail_t,
            "latency_save": None if first is None else first - save_t}


def window_speech(utts: list[Utterance], start: float, end: float) -> dict:
    """Speech starting in [start, end): for idle (none is right) and rules (speak or not)."""
    inside = [u for u in utts if start <= u.t < end]
    words = sum(len(u.words) for u in inside)
    return {"n": 1, "spoke": bool(inside), "words": words, "minutes": (end - start) / 60}


def loops(utts: list[Utterance]) -> dict:
    """Immediate repeats (an utterance saying the previous one again) and loops inside an
    utterance (one word or word piece three times in a row, e.g. "_from _from _from")."""
    repeats = sum(1 for a, b in itertools.pairwise(utts) if normalize(a.text) and normalize(a.text) == normalize(b.text))
    looping = 0
    for u in utts:
        w = u.text.replace("_", " _").split()
        if any(w[i] == w[i + 1] == w[i + 2] for i in range(len(w) - 2)):
            looping += 1
    return {"n": len(utts), "repeats": repeats, "loops": looping}


def proactive(utts: list[Utterance], prompts: list[tuple[float, float]], failing: list[tuple[float, float]],
              news: list[float], duration_min: float) -> dict:
    """Utterances nobody asked for (not starting within RESPONSE_WINDOW after a user prompt):
    precision = share made while the tests were failing (a real current problem); babble = words
    per minute of those made when nothing new happened in the last NEWS_WINDOW seconds."""
    asked = [u for u in utts if any(s - 0.2 <= u.t <= e + RESPONSE_WINDOW for s, e in prompts)]
    own = [u for u in utts if u not in asked]
    real = [u for u in own if any(a <= u.t < b for a, b in failing)]
    idle = [u for u in own if not any(0 <= u.t - t <= NEWS_WINDOW for t in news)]
    return {"n": len(own), "precise": len(real), "babble_words": sum(len(u.words) for u in idle),
            "minutes": duration_min}


def unprompted_calls(made: list[tuple[float, str, dict]], prompts: list[tuple[float, float]],
                     changing: set[str]) -> dict:
    """Tool calls nobody asked for: not made between the start of a user prompt (speech or a
    typed line) and REQUEST_WINDOW after its end. `changing`: those of a tool that would change
    the repository (the agent asks before acting, but the call should not be made at all)."""
    own = [name for t, name, _ in made if not any(s - 0.2 <= t <= e + REQUEST_WINDOW for s, e in prompts)]
    return {"n": len(own), "changing": sum(name in changing for name in own)}


def echo(heard: list[dict], utts: list[Utterance], user: list[tuple[float, float]]) -> dict:
    """Words recognized while only the companion spoke (its own voice heard as the user's)."""
    words = 0
    for h in heard:
        if not h.get("final"):
            continue
        t = h["t"]
        if _covering(utts, t) and not any(a - 0.5 <= t <= b + 1.0 for a, b in user):
            words += len(h["text"].split())
    speaking_min = sum(u.t_end - u.t for u in utts) / 60
    return {"n": 1, "words": words, "minutes": speaking_min}


def said_time_errors(utts: list[Utterance], audible: list[tuple[float, float]],
                     user: list[tuple[float, float]], tolerance: float = 0.5) -> list[float]:
    """For utterances clear of user speech: transcript onset minus the nearest audible onset in the
    sink recording (positive = the transcript says later than the audio)."""
    errors = []
    for u in utts:
        if any(a - 0.3 <= u.t <= b + 0.3 for a, b in user) or not audible:
            continue
        nearest = min(audible, key=lambda iv: abs(iv[0] - u.t))
        if abs(nearest[0] - u.t) <= 3.0:
            errors.append(u.t - nearest[0])
    return errors


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]
