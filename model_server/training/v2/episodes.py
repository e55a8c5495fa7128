"""What the simulated developer does next: save an edit, ask, request, think aloud, talk aside,
run the code in a terminal (a real traceback on screen), look at a file in the editor.

Episodes only write future inputs into the SessionSim (speech, typing, saves); labels are the
oracle's. Edits walk each project through real versions: the clean code, mutmut mutants (most
break tests, some survive: harmless), the same mutant touched again (an unchanged failure), and
the fix back to clean (the test passes again).
"""

from __future__ import annotations

from model_server.training.v2 import lines
from model_server.training.v2.leftovers import leftover_kind
from model_server.training.v2.oracle import hold
from model_server.training.v2.screen_runs import editor_view, run_script, script_for, terminal_text
from model_server.training.v2.session_records import Pending
from model_server.training.v2.sessions import SessionSim

# episode kind -> weight. Shards 0-71 of the shipped data had edit 40, spoken_request 14,
# typed_request 6, question 11, thinking 6, idle 6, run_script 10, look 6: the model then learned
# *that* a request wants a call far sooner than *which* call (probe.py), so requests, questions
# and thinking pauses are denser since (shards 72-119: edit 34, spoken 20, typed 12, question 16,
# aside 7, reminder 4). Shards 120 on (the fine-tune on the fine-tuned recognizer's words): more
# requests and asides still (CompanionBench: right tool 0.5, asides answered 0.75), reminders
# as remind calls (shards 120-183: edit 34, spoken 24, question 17, aside 9). Shards 184 on: more
# questions, which the fine-tune on shards 120-179 answered less often (CompanionBench 0.23).
# Shards 234 on (a fine-tune of r4): asides more often and from 36 lines instead of 12 (r4
# answered 3 of CompanionBench's 4 asides; its offline aside answer rate rose 0.33 -> 0.86).
# Shards 273 on (a fine-tune of r5): asides 14 -> 20 (r5 called a tool after all 4 of
# CompanionBench's asides), and edits from a passing state are a leftover (print, TODO,
# unused import or variable, which the on-save lint names) 35 % of the time instead of 25 %.
WEIGHTS = {"edit": 28, "spoken_request": 22, "typed_request": 14, "question": 22, "thinking": 9,
           "filler": 5, "aside": 20, "musing": 6, "reminder": 7, "idle": 5, "run_script": 8, "look": 5}


def maybe_episode(sim: SessionSim, k: int) -> None:
    if k < sim.next_episode or k in sim.busy or k > sim.n - 20:
        return
    if any(p.kind == "respond" for p in sim.pending):
        return
    kind = sim.rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
    _EPISODES[kind](sim, k)
    sim.next_episode = k + sim.rng.randint(6, 35)


def _edit(sim: SessionSim, k: int) -> None:
    project = sim.rng.choice(sim.projects)
    now = sim.current[project.name]
    failing = [v for v in project.mutants if v.run.failures]
    surviving = [v for v in project.mutants if not v.run.failures]
    roll = sim.rng.random()
    if now.run.failures:
        touched = [v for v in project.touched if v.source.startswith(now.source)]
        if roll < 0.55:
            version = project.clean
        elif roll < 0.8 and touched:
            version = touched[0]
        else:
            version = sim.rng.choice(failing)
    elif now.label.startswith("leftover") and roll < 0.4:  # the print or TODO goes again
        version = project.clean
    else:
        if roll < 0.5 and failing:
            version = sim.rng.choice(failing)
        elif roll < 0.85 and project.leftovers:  # a print, TODO or lint: relayed only under its rule
            asked = [v for v in project.leftovers if leftover_kind(v.label) in sim.rules.leftovers]
            version = sim.rng.choice(asked if asked and sim.rng.random() < 0.7 else project.leftovers)
        elif surviving:
            version = sim.rng.choice(surviving)
        else:
            return
    if version.source != now.source:
        sim.save(k, project, version)


def _response_due(spoken) -> int:
    """After its end, once the recognizer's words have settled (they lag the audio): at most
    three turns (0.6 s) of waiting for late words."""
    return max(spoken.end + 1, min(spoken.last_change or spoken.end, spoken.end + 3))


def _respond_at(sim: SessionSim, spoken, data: dict) -> None:
    if spoken.first_heard is None:
        return  # the recognizer heard nothing: nothing in the input asks for an answer
    sim.pending.append(Pending(_response_due(spoken), "respond", spoken.start, data))


def _spoken_request(sim: SessionSim, k: int) -> None:
    text, tool, args = sim.rng.choice(lines.REQUESTS + lines.SPOKEN_REQUEST_VARIANTS)
    _respond_at(sim, sim.say(k, "request", text), {"call": (tool, args)})


def _typed_request(sim: SessionSim, k: int) -> None:
    # reminders are typed too: the call copies the typed line, as it copies heard words
    options = lines.REQUESTS + lines.typed_requests(sim.projects[0].name) + lines.REMINDER_REQUESTS
    # half the time said another way; typing costs no synthesis, so any combination may come
    text, tool, args = lines.request_variant(sim.rng) if sim.rng.random() < 0.5 else sim.rng.choice(options)
    sim.keystrokes(k, len(text) * 0.12)
    sim.typed[k].append(text)
    sim.pending.append(Pending(k, "respond", k, {"call": (tool, args)}))


def _question(sim: SessionSim, k: int) -> None:
    topic = sim.rng.choice(list(lines.QUESTIONS))
    _respond_at(sim, sim.say(k, "question", sim.rng.choice(lines.QUESTIONS[topic])), {"answer": topic})


def _thinking(sim: SessionSim, k: int) -> None:
    first, second = sim.rng.choice(lines.THINKING)
    part = sim.say(k, "thinking", first)
    gap = part.end + 1 + sim.rng.randint(4, 11)  # a 0.8-2.2 s pause the companion must wait through
    sim.busy.update(range(part.end + 1, gap))
    request = next((r for r in lines.REQUESTS if r[0] == second), None)
    questions = {q: topic for topic, qs in lines.QUESTIONS.items() for q in qs}
    kind = "request" if request else "question" if second in questions else "musing"
    spoken = sim.say(gap, kind, second)
    if request:
        _respond_at(sim, spoken, {"call": request[1:]})
    elif second in questions:
        _respond_at(sim, spoken, {"answer": questions[second]})


def _simple(kind: str, texts: tuple[str, ...]):
    """Talk that asks for nothing (an aside, a filler, musing): held where a reply would come."""
    def episode(sim: SessionSim, k: int) -> None:
        _held_reply(sim, sim.say(k, kind, sim.rng.choice(texts)))
    return episode


def _held_reply(sim: SessionSim, spoken) -> None:
    if spoken.first_heard is not None:  # heard nothing: nothing in the input to decline
        hold(sim, _response_due(spoken), spoken.start, spoken.kind)


def _reminder(sim: SessionSim, k: int) -> None:
    """A reminder is a request: the remind tool's result, relayed, is the reminder (on time)."""
    text, tool, _ = sim.rng.choice(lines.REMINDER_REQUESTS)
    spoken = sim.say(k, "reminder", text)
    # the call copies the request as the model has heard it by then, errors and all: the agent
    # reads it (a misheard time becomes its error, relayed like any result)
    heard = [words for tick, words in spoken.heard if tick <= _response_due(spoken)]
    if heard:
        _respond_at(sim, spoken, {"call": (tool, {"request": heard[-1]})})


def _run_script(sim: SessionSim, k: int) -> None:
    """The developer runs a test's body as a script in the terminal: against a failing version
    the real traceback settles on screen a few turns later; sometimes the same error is read
    again (run again, scrolled, redrawn), which the reader does not report twice."""
    broken = [p for p in sim.projects if sim.current[p.name].run.failures]
    # mostly the code that is broken (that is when one runs it to see), sometimes any
    project = sim.rng.choice(broken if broken and sim.rng.random() < 0.8 else sim.projects)
    version = sim.current[project.name]
    failures = [f.test_id for f in version.run.failures]
    test_id = sim.rng.choice(failures) if failures else f"test_{project.name}.py::test_{project.name}_1"
    script = script_for(project.name, project.test_source, test_id)
    if script is None:
        return
    stderr = run_script(project.name, version.source, script)
    command = f"python try_{project.name}.py"
    sim.keystrokes(k, len(command) * 0.08)
    at = k + sim.rng.randint(3, 6)  # run, settle (0.5 s), OCR
    confidence = round(sim.rng.uniform(0.75, 0.97), 3)
    text = terminal_text(project.name, stderr, sim.screen.shown_root, sim.rng) if stderr \
        else f"$ {command}\n$ "
    sim.screen.schedule(at, text, sim.screen.terminal, confidence)
    if stderr and sim.rng.random() < 0.4:
        sim.screen.schedule(at + sim.rng.randint(5, 40), text, sim.screen.terminal, confidence)


def _look(sim: SessionSim, k: int) -> None:
    """The developer looks at the module or its tests in the editor: a context line, when it
    changed and at most every 3 s (the reader's rule)."""
    project = sim.rng.choice(sim.projects)
    if sim.rng.random() < 0.75:
        file, source = f"{project.name}.py", sim.current[project.name].source
    else:
        file, source = f"test_{project.name}.py", project.test_source
    sim.screen.schedule(k + sim.rng.randint(2, 4), editor_view(source, sim.rng), sim.screen.editor_title(file),
                        round(sim.rng.uniform(0.8, 0.97), 3))


_EPISODES = {
    "edit": _edit, "spoken_request": _spoken_request, "typed_request": _typed_request,
    "question": _question, "thinking": _thinking, "filler": _simple("filler", lines.FILLERS),
    "aside": _simple("aside", lines.ASIDES), "musing": _simple("musing", lines.MUSING),
    "reminder": _reminder, "idle": lambda sim, k: None, "run_script": _run_script, "look": _look,
}


def during_playback(sim: SessionSim, playback) -> None:
    """The developer may nod along (a backchannel) or talk over the companion."""
    length = playback.end - playback.start
    if length < 4:
        return
    roll = sim.rng.random()
    at = playback.start + sim.rng.randint(2, max(2, length - 2))
    if roll < 0.3 and at not in sim.busy:
        sim.say(at, "backchannel", sim.rng.choice(lines.BACKCHANNELS))
    elif roll < 0.55 and at not in sim.busy:
        if sim.rng.random() < 0.6:
            sim.say(at, "talk_over", sim.rng.choice(lines.TALK_OVER))
        else:
            topic = sim.rng.choice(list(lines.QUESTIONS))
            spoken = sim.say(at, "question", sim.rng.choice(lines.QUESTIONS[topic]))
            spoken.meta["talk_over"] = True
            _respond_at(sim, spoken, {"answer": topic})
