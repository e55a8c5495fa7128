"""The oracle policy: the label of every 200 ms turn (documented in ORACLE.md).

Priority each turn: stop when talked over (two turns into the user's speech; a backchannel is
never a talk-over) > let our own utterance play > wait while the user speaks (thinking pauses
count as speaking) > what is due: a reply to the user (call, answer, acknowledgement), a
requested result, a reminder, an unprompted result (rules and cooldown permitting) > silence.
"""

from __future__ import annotations

from model_server.training.v2.actions import Act, job_id
from model_server.training.v2.playback import Playback, companion_speech

STOP_AFTER = 2  # turns of user speech over ours before stopping (1-2 turns: 0.2-0.4 s)
_PRIORITY = {"respond": 0, "relay_req": 1, "remind": 2, "relay_auto": 3}


def answer(sim, topic: str) -> Act:
    """The reply to a question, from the session's state; facts come only as relays."""
    brief = sim.rules.brief
    if topic in ("status", "news") and sim.failing_job is not None:
        return Act("relay", job=job_id(sim.failing_job))
    if topic == "status":
        return Act("speak", text="yes." if brief else "yes, the tests pass.")
    if topic == "news":
        return Act("speak", text="nothing new." if brief else "nothing new; the tests pass.")
    if topic == "repeat":
        if sim.last_said is not None:
            return sim.last_said
        return Act("speak", text="nothing yet." if brief else "I haven't said anything yet.")
    if topic == "hear":
        return Act("speak", text="yes." if brief else "yes, I'm here.")
    return Act("speak", text="tests, lint and git." if brief else
               "I can run tests, lint and git for you, and tell you when something breaks.")


def _talked_over(sim, k: int, pb: Playback) -> int | None:
    for s in sim.spoken:
        if s.kind != "backchannel" and pb.start <= s.start and s.start + STOP_AFTER <= k <= s.end + 1:
            return s.start
    return None


def _say(sim, k: int, act: Act) -> None:
    from model_server.training.v2.episodes import during_playback

    text = act.text if act.kind == "speak" else sim.summary_of["job-" + act.job[1:]]
    sim.playing = Playback(k + 1, text, companion_speech(text), sim.echo_gain)
    sim.last_said = act
    during_playback(sim, sim.playing)


def _due(sim, k: int):
    due = [p for p in sim.pending if p.due <= k and p.kind in _PRIORITY]
    return sorted(due, key=lambda p: (_PRIORITY[p.kind], p.due))


def decide(sim, k: int, chunk) -> tuple[Act, str, int]:
    """(action, tag, tick the label depends on) for turn k; applies the action's effects."""
    pb = sim.playing
    active = pb is not None and pb.cut is None and k < pb.end
    if active:
        over = _talked_over(sim, k, pb)
        if over is not None:
            pb.cut = k + 1
            return Act("stop"), "stop", over
        return Act("silence"), "playing", -1
    if k in sim.busy:
        return Act("silence"), "listening", -1
    for p in _due(sim, k):
        act = _act_for(sim, k, p)
        if act is None:
            continue
        sim.pending.remove(p)
        if act.kind in ("speak", "relay"):
            _say(sim, k, act)
        tag = {"respond": "reply", "relay_req": "relay_requested", "remind": "reminder",
               "relay_auto": "relay_" + p.data.get("topic", "")}[p.kind]
        if act.kind == "call":
            tag = "call"
        return act, tag, p.since
    inputs = chunk.files or chunk.jobs or chunk.typed or chunk.words
    return Act("silence"), ("event" if inputs else "quiet"), -1


def _act_for(sim, k: int, p) -> Act | None:
    """The action a due item asks for now, or None (dropped or not yet: see the cooldown)."""
    if p.kind == "respond":
        if "call" in p.data:
            tool, args = p.data["call"]
            sim.call_result(k, tool, args)
            return Act("call", tool=tool, args=dict(args))
        if "answer" in p.data:
            return answer(sim, p.data["answer"])
        sim.pending.remove(p)  # an acknowledgement: skipped under the brevity rule
        return None if sim.rules.brief else _keep(sim, p, Act("speak", text="okay."))
    if p.kind == "relay_req":
        return Act("relay", job=job_id(p.data["job"]))
    if p.kind == "remind":
        return Act("speak", text=f"time to {p.data['what']}.")
    allowed = sim.rules.failures if p.data["topic"] == "failures" else sim.rules.recoveries
    if not allowed:
        sim.pending.remove(p)
        return None
    if (k - sim.last_auto) * 0.2 < sim.rules.cooldown_s:
        return None
    sim.last_auto = k
    return Act("relay", job=job_id(p.data["job"]))


def _keep(sim, p, act: Act) -> Act:
    sim.pending.append(p)  # decide() removes it once the act is taken
    return act
