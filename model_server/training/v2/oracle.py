"""The oracle policy: the label of every 200 ms turn (documented in ORACLE.md).

Priority each turn: stop when talked over (two turns into the user's speech; a backchannel is
never a talk-over; in MISSED_STOP_P of talk-overs the stop comes 1-4 turns late, the turns
before it unlabelled, so the model also learns to stop when it has let a talk-over run on) > let
our own utterance play > wait while the user speaks (thinking pauses count as speaking) > what
is due: a reply to the user (call, answer, acknowledgement), a requested result (a reminder is
one: the remind tool's), an unprompted result (rules and cooldown permitting) > silence.
"""

from __future__ import annotations

from companion.core.chunk_budget import clip
from companion.core.events import MICRO_TURN_S as TICK
from companion.core.protocol import SEE_TEXT_TOKENS, Action, format_output, job_ref
from companion.core.redact import redact_then_clip
from companion.streams.screen_summary import compose_summary
from model_server.training.v2.playback import Playback, companion_speech
from model_server.training.v2.session_records import Pending

HELD_TURNS = 2  # turns of a hold (see hold())
STOP_AFTER = 2  # turns of user speech over ours before stopping (1-2 turns: 0.2-0.4 s)
# A model that misses the stop turn finds itself still playing over the user, a state an oracle
# that always stops on time never shows it; these talk-overs show it (its missed turns weigh 0).
MISSED_STOP_P, MISSED_STOP_TURNS = 0.4, (1, 4)
_PRIORITY = {"respond": 0, "relay_req": 1, "relay_auto": 3, "hold": 3}  # a hold: its `like`'s
STALE_TURNS = 50  # a remark on a save's leftover (or its hold) not made within 10 s is dropped
SILENCE, STOP = Action("silence"), Action("stop")


def speak(text: str) -> Action:
    """A protocol-2 utterance: one whole sentence said in the turn that decides it."""
    return Action("speech", text=text, whole=True)


def relay(agent_job_id: str) -> Action:
    """Relay the job's composed summary; the id is the one the model saw (`job-3` -> `j3`)."""
    return Action("relay", job=job_ref(agent_job_id))


def answer(sim, topic: str) -> Action:
    """The reply to a question, from the session's state; facts come only as relays."""
    brief = sim.rules.brief
    if topic in ("status", "news", "code") and sim.failing_job is not None:
        return relay(sim.failing_job)
    if topic == "code":
        return speak("not sure; I can run its tests." if brief else
                     "I can't tell that from here; I can run its tests if you like.")
    if topic == "status":
        return speak("yes." if brief else "yes, the tests pass.")
    if topic == "news":
        return speak("nothing new." if brief else "nothing new; the tests pass.")
    if topic == "repeat":
        if sim.last_said is not None:
            return sim.last_said
        return speak("nothing yet." if brief else "I haven't said anything yet.")
    if topic == "hear":
        return speak("yes." if brief else "yes, I'm here.")
    return speak("tests, lint and git." if brief else
               "I can run tests, lint and git for you, and tell you when something breaks.")


def screen_error_speech(error) -> str:
    """What to say about a new ScreenError: its summary, or the longest shortening of it (no
    function, no message, no "which you changed …", then just the exception) that the utterance
    grammar accepts and whose every word the model's `<|see|>error …` line shows; "" if none."""
    visible, _ = redact_then_clip(f"error {error.summary or error.exception + ' ' + error.message}",
                                  lambda t: clip(t, SEE_TEXT_TOKENS))
    seen = {w.strip(",.") for w in visible.split()}
    candidates, s = [error.summary], error.summary
    if error.function:
        s = s.replace(f", in {error.function}", "", 1)
        candidates.append(s)
    message = " ".join(error.message.split()[:8])
    if message:
        s = s.replace(f" {message}", "", 1)
        candidates.append(s)
    if ", which you changed" in s:
        s = s[:s.index(", which you changed")]
        candidates.append(s)
    candidates.append(compose_summary(error.language, error.exception, "", "", 0))
    for text in candidates:
        if not text or not all(w.strip(",.") in seen for w in text.split()):
            continue
        try:
            format_output([speak(text)], protocol=2)
        except ValueError:
            continue
        return text
    return ""


def _last_stop_turn(sim, s) -> int:
    """The last turn a stop for the talk-over `s` may come: one after its audio; in a text-only
    session (no dMel: the talk-over shows only as the recognizer's words), its first words' turn
    if later (-1 if none came)."""
    if sim.features:
        return s.end + 1
    return -1 if s.first_heard is None else max(s.end + 1, s.first_heard)


def hold(sim, due: int, since: int, topic: str, like: str = "respond") -> None:
    """Keep quiet on purpose where an action would come if the input asked for one: from the
    first turn a `like` item due at `due` would be taken (a reply's, or an unprompted relay's,
    which waits for our speech to end and for the cooldown), for HELD_TURNS turns. Labelled
    silence that weighs as much as the action would (data.py). Without them a held silence
    weighed 1 against 8 for the action it declines, and the models relayed every on-save lint
    finding, answered asides and stopped at backchannels."""
    # a reply is due at once or not at all; an unprompted relay waits, and goes stale like one
    last = due + HELD_TURNS if like == "respond" else since + STALE_TURNS
    sim.pending.append(Pending(due, "hold", since, {"topic": topic, "like": like, "left": HELD_TURNS,
                                                    "last": last}))


def _held(sim, k: int, p) -> tuple[Action, str, int]:
    """Take the hold `p` at turn k: a held silence, and the hold's next turn."""
    if p.data["left"] > 1:
        sim.pending.append(Pending(k + 1, "hold", p.since, {**p.data, "left": p.data["left"] - 1}))
    return SILENCE, "held_" + p.data["topic"], p.since


def _nodded_along(sim, k: int, pb: Playback):
    """The backchannel over `pb` whose turn k is where a talk-over would be stopped (the first
    turn of that window, as a stop is one turn), or None: keeping on playing is the decision."""
    for s in sim.spoken:
        if s.kind != "backchannel" or s.start < pb.start or not (sim.features or s.first_heard):
            continue
        first = s.start + STOP_AFTER  # text-only, no earlier than its words show (_stop_turn)
        first = first if sim.features else max(first, s.first_heard)
        if k == first and k <= _last_stop_turn(sim, s):
            return s
    return None


def _talked_over(sim, k: int, pb: Playback):
    """The user's utterance that talks over `pb` at turn k (a Spoken), or None."""
    for s in sim.spoken:
        if s.kind != "backchannel" and pb.start <= s.start and s.start + STOP_AFTER <= k <= _last_stop_turn(sim, s):
            return s
    return None


def _stop_turn(sim, k: int, over, pb: Playback) -> int:
    """The turn that stops the talk-over `over` (a Spoken): k, its first stop turn (on time), or
    a few turns later, drawn once per talk-over and never past the user's speech. Text-only, it is
    no earlier than the turn its first words arrive: before them nothing in the input shows it
    (a stop there taught the model to stop its own utterances for no reason it could see, and so
    at backchannels too); the turns before are unlabelled, like a missed stop's."""
    if over.start not in pb.stop_at:
        late = sim.rng.randint(*MISSED_STOP_TURNS) if sim.rng.random() < MISSED_STOP_P else 0
        first = k if sim.features else max(k, over.first_heard)
        pb.stop_at[over.start] = min(first + late, _last_stop_turn(sim, over))
    return pb.stop_at[over.start]


def _say(sim, k: int, act: Action) -> None:
    from model_server.training.v2.episodes import during_playback

    text = act.text if act.kind == "speech" else sim.summary_of[act.job]
    sim.playing = Playback(k + 1, text, companion_speech(text), sim.echo_gain)
    sim.last_said = act
    during_playback(sim, sim.playing)


def _due(sim, k: int):
    due = [p for p in sim.pending if p.due <= k and p.kind in _PRIORITY]
    return sorted(due, key=lambda p: (_PRIORITY[p.data["like"] if p.kind == "hold" else p.kind], p.due))


def decide(sim, k: int, chunk) -> tuple[Action, str, int]:
    """(action, tag, tick the label depends on) for turn k; applies the action's effects."""
    pb = sim.playing
    active = pb is not None and pb.cut is None and k < pb.end
    if active:
        over = _talked_over(sim, k, pb)
        if over is not None and k < _stop_turn(sim, k, over, pb):
            return SILENCE, "missed_stop", -1  # what a late model did: not a target (weight 0)
        if over is not None:
            pb.cut = k + 1
            return STOP, "stop", over.start
        nod = _nodded_along(sim, k, pb)
        return (SILENCE, "held_backchannel", nod.start) if nod is not None else (SILENCE, "playing", -1)
    if k in sim.busy:
        return SILENCE, "listening", -1
    for p in _due(sim, k):
        act = _act_for(sim, k, p)
        if act is None:
            continue
        sim.pending.remove(p)
        if p.kind == "hold":
            return _held(sim, k, p)
        if act.kind in ("speech", "relay"):
            _say(sim, k, act)
        tag = {"respond": "reply", "relay_req": "relay_requested",
               "relay_auto": "relay_" + p.data.get("topic", "")}[p.kind]
        if act.kind == "call":
            tag = "call"
        return act, tag, p.since
    inputs = (chunk.files or chunk.jobs or chunk.typed or chunk.words or chunk.screen_text
              or chunk.screen_errors)
    return SILENCE, ("event" if inputs else "quiet"), -1


def _act_for(sim, k: int, p) -> Action | None:
    """The action a due item asks for now, or None (dropped or not yet: see the cooldown)."""
    if p.kind == "respond":
        if "call" in p.data:
            tool, args = p.data["call"]
            sim.agent.call_result(k, tool, args)  # its result arrives later (SessionAgent)
            return Action("call", tool=tool, args=dict(args))
        if "answer" in p.data:
            return answer(sim, p.data["answer"])
        sim.pending.remove(p)  # an acknowledgement: skipped under the brevity rule
        return None if sim.rules.brief else _keep(sim, p, speak("okay."))
    if p.kind == "relay_req":
        return relay(p.data["job"])
    if p.kind == "hold":  # taken when its like would be: an unprompted relay's waits for the cooldown
        if k > p.data["last"]:
            sim.pending.remove(p)
            return None
        return None if p.data["like"] == "relay_auto" and _cooling(sim, k) else SILENCE
    topic = p.data["topic"]
    if topic == "leftover" and k - p.since > STALE_TURNS:  # "you left a print" a minute
        sim.pending.remove(p)  # later, out of the blue, is not a remark on that save
        return None  # a leftover is only relayed under its rule (SessionAgent.run_lint)
    allowed = (sim.rules.failures if topic in ("failures", "screen") else
               True if topic == "leftover" else sim.rules.recoveries)
    if not allowed:  # the rules keep it unsaid: when it would have been said is a held turn
        sim.pending.remove(p)
        hold(sim, k, p.since, "rule", like="relay_auto")
        return None
    if _cooling(sim, k):
        return None
    sim.last_auto = k
    if "say" in p.data:  # a screen error has no job to relay: its text is spoken
        return speak(p.data["say"])
    return relay(p.data["job"])


def _cooling(sim, k: int) -> bool:
    """Whether the rules' cooldown still holds back an unprompted remark at turn k."""
    return (k - sim.last_auto) * TICK < sim.rules.cooldown_s


def _keep(sim, p, act: Action) -> Action:
    sim.pending.append(p)  # decide() removes it once the act is taken
    return act
