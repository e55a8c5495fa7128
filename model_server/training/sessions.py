"""Scripted coding sessions at micro-turn resolution: what happened each 200 ms, and what to do.

A session is simulated tick by tick. Episodes (a buggy or clean edit, a spoken or typed request,
thinking aloud) write future inputs; each tick the companion's target follows fixed rules:
stop when the user talks over its speech, never speak while the user speaks, delegate a request
once it is heard, say the next few words of a pending remark, else stay silent. Its own speech
comes back as `SelfSpeech` in later ticks, as the speaker would play it.
"""

from __future__ import annotations

import random
from collections import defaultdict, deque
from dataclasses import dataclass, field

import numpy as np

from companion.core.events import (
    MICRO_TURN_S,
    FileChanged,
    JobEvent,
    ScreenPatches,
    SelfSpeech,
    TypedText,
    UserWords,
)
from companion.core.protocol import Action, Chunk, system_prefix
from model_server.training import phrases
from model_server.training.code_corpus import make_file
from model_server.training.edits import Edit, clean_edit, plant_bug, revert
from model_server.training.features import audio_block, screen_tile

INTERJECT_DELAY = 2  # ticks between a buggy diff and the remark about it (a human needs a moment)
TURN_S = MICRO_TURN_S  # one micro-turn (companion.core.events)


@dataclass(slots=True)
class Turn:
    """One micro-turn: the input chunk, the target actions, and a tag for evaluation."""

    chunk: Chunk
    actions: list[Action]
    tag: str  # quiet | playing | event | listening | pending | speak_bug | speak_tool | speak_more | stop | call
    trigger: int = -1  # for speak_* and call: the tick of the input that caused it


@dataclass(slots=True)
class Session:
    prefix: str
    turns: list[Turn]


@dataclass(slots=True)
class _Remark:
    ready: int
    text: str
    tag: str
    trigger: int


@dataclass(slots=True)
class _State:
    energy: set[int] = field(default_factory=set)
    words: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    files: dict[int, list[FileChanged]] = field(default_factory=lambda: defaultdict(list))
    jobs: dict[int, list[JobEvent]] = field(default_factory=lambda: defaultdict(list))
    typed: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    remarks: list[_Remark] = field(default_factory=list)
    calls: list[tuple[int, str, dict, int, bool]] = field(default_factory=list)  # ready, tool, args, trigger, typed
    pieces: deque = field(default_factory=deque)
    playing: deque = field(default_factory=deque)  # (finish tick, word)
    cut: bool = False


class SessionScript:
    """Generates one session deterministically from a seed."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.np_rng = np.random.default_rng(seed)
        self.t0 = round(self.rng.uniform(0, 900) / TURN_S) * TURN_S
        self.files = [make_file(self.rng, self.rng.randint(2, 4)) for _ in range(self.rng.randint(2, 3))]
        self.bugs: list[Edit] = []
        self.s = _State()
        self.next_episode = self.rng.randint(1, 8)
        self.job_counter = 0

    def prefix(self) -> str:
        rules = self.rng.sample(phrases.RULES, self.rng.randint(2, 5))
        return system_prefix(self.rng.choice(phrases.SYSTEM_TEXTS), "Rules:\n" + "\n".join(rules),
                             phrases.TOOLS_TEXT)

    # --- episodes: each writes future inputs into the state ---------------------------------------

    def _job_id(self) -> str:
        self.job_counter += 1
        return f"job-{self.job_counter}"

    def _auto_run(self, k: int, tool: str) -> None:
        job = self._job_id()
        start, end = k + 1, k + 1 + self.rng.randint(3, 12)
        scope = {"scope": "affected"} if tool == "tests" else {}
        self.s.jobs[start].append(JobEvent(t=0.0, job_id=job, tool=tool, phase="started",
                                           summary=f"running {tool}", data=scope))
        self.s.jobs[end].append(self._result(tool, {}, end, job, requested=False))

    def _result(self, tool: str, args: dict, k: int, job: str, requested: bool) -> JobEvent:
        testable = [b for b in self.bugs if b.kind not in ("unused_variable", "assignment")]
        passed = self.rng.randint(3, 60)
        if tool == "tests":
            event = (phrases.test_failure(testable[:2], self.rng, passed, 0.0, job) if testable
                     else phrases.tests_passed(passed, 0.0, job))
            speak = requested or bool(testable)
        elif tool == "lint":
            unused = [b for b in self.bugs if b.kind == "unused_variable"]
            event, speak = phrases.lint_result(unused, 0.0, job), requested or bool(unused)
        else:
            event = phrases.git_result(tool, args, [f.path for f in self.files], self.rng, 0.0, job)
            speak = True
        if speak:
            self.s.remarks.append(_Remark(k, event.summary, "speak_tool", k))
        return event

    def _speak_words(self, k: int, text: str) -> int:
        """The user says `text` from tick k: energy on those ticks, ASR words one tick later."""
        words = text.split()
        tick = k
        for word in words:
            span = self.rng.randint(1, 3)
            self.s.energy.update(range(tick, tick + span))
            tick += span
            self.s.words[tick].append(word)
        return tick  # the first quiet tick, when the last word arrives

    def _episode(self, k: int) -> None:
        roll = self.rng.random()
        if roll < 0.38:
            source = self.rng.choice(self.files)
            edit = plant_bug(source, self.rng)
            if edit is None:
                return
            self._apply(k, edit)
            self.bugs.append(edit)
            self.s.remarks.append(_Remark(k + INTERJECT_DELAY, edit.remark(), "speak_bug", k))
            if self.rng.random() < 0.5:
                self._auto_run(k, "lint" if edit.kind == "unused_variable" else "tests")
        elif roll < 0.58:
            if self.bugs and self.rng.random() < 0.4:
                bug = self.bugs.pop(self.rng.randrange(len(self.bugs)))
                self._apply(k, revert(bug))
            else:
                index = self.rng.randrange(len(self.files))
                edit = clean_edit(self.files[index], self.rng)
                if edit is not None:
                    self._apply(k, edit)
            if self.rng.random() < 0.4:
                self._auto_run(k, "tests")
        elif roll < 0.78:
            text, tool, args = phrases.request(self.rng)
            heard = self._speak_words(k, text)
            self.s.calls.append((heard, tool, args, heard, False))
        elif roll < 0.87:
            text, tool, args = phrases.request(self.rng)
            self.s.typed[k].append(text)
            self.s.calls.append((k, tool, args, k, True))
        else:
            self._speak_words(k, self.rng.choice(phrases.CHATTER))

    def _apply(self, k: int, edit: Edit) -> None:
        index = next(i for i, f in enumerate(self.files) if f.path == edit.before.path)
        self.bugs = [b if b.after.path != edit.after.path else _rebased(b, edit) for b in self.bugs]
        self.files[index] = edit.after
        self.s.files[k].append(FileChanged(t=0.0, path=edit.after.path, kind="modified", diff=edit.diff))

    # --- the companion's target for one tick -----------------------------------------------------

    def _self_echo(self, k: int) -> tuple[SelfSpeech, ...]:
        t = self.t0 + k * TURN_S
        if self.s.cut:
            self.s.cut = False
            word = self.s.playing[0][1] if self.s.playing else ""
            self.s.playing.clear()
            return (SelfSpeech(t=t, t_end=t + TURN_S, text=word, interrupted=True),)
        said = []
        while self.s.playing and self.s.playing[0][0] <= k:
            said.append(self.s.playing.popleft()[1])
        return (SelfSpeech(t=t, t_end=t + TURN_S, text=" ".join(said)),) if said else ()

    def _say(self, k: int, piece: str) -> Action:
        finish = max(k, self.s.playing[-1][0]) if self.s.playing else k
        for word in piece.split():
            finish += max(1, min(3, round(len(word) / 4)))
            self.s.playing.append((finish, word))
        return Action("speech", text=piece)

    def _decide(self, k: int, has_input: bool) -> tuple[Action, str, int]:
        s = self.s
        active = bool(s.pieces or s.playing)
        if k in s.energy:
            if active:
                s.pieces.clear()
                s.cut = True
                return Action("stop"), "stop", k
            return Action("silence"), "listening", -1
        ready = [c for c in s.calls if c[0] <= k]
        if ready:
            call = ready[0]
            s.calls.remove(call)
            _, tool, args, trigger, _ = call
            self._schedule_result(k, tool, args)
            return Action("call", tool=tool, args=args), "call", trigger
        if s.pieces:
            return self._say(k, s.pieces.popleft()), "speak_more", -1
        due = [r for r in s.remarks if r.ready <= k]
        if due:
            remark = due[0]
            s.remarks.remove(remark)
            s.pieces.extend(phrases.pieces(remark.text))
            if self.rng.random() < 0.2:  # the developer talks over the remark
                self._speak_words(k + self.rng.randint(1, 5), self.rng.choice(phrases.CHATTER))
            return self._say(k, s.pieces.popleft()), remark.tag, remark.trigger
        if s.remarks or s.calls:
            return Action("silence"), "pending", -1
        if s.playing:
            return Action("silence"), "playing", -1
        return Action("silence"), ("event" if has_input else "quiet"), -1

    def _schedule_result(self, k: int, tool: str, args: dict) -> None:
        job = self._job_id()
        start = k + 1
        end = start + self.rng.randint(2, 10)
        self.s.jobs[start].append(JobEvent(t=0.0, job_id=job, tool=tool, phase="started",
                                           summary=f"running {tool}", data=args))
        if tool == "git_commit":
            self.s.jobs[start + 1].append(JobEvent(t=0.0, job_id=job, tool=tool, phase="needs_confirmation",
                                                   summary="commit needs your confirmation", data=args))
            end += 5
        self.s.jobs[end].append(self._result(tool, args, end, job, requested=True))

    def turn(self, k: int) -> Turn:
        if k >= self.next_episode and not self.s.calls and k not in self.s.energy:
            self._episode(k)
            self.next_episode = k + self.rng.randint(2, 12)
            if (self.s.pieces or self.s.playing) and self.rng.random() < 0.3:
                self._speak_words(k + self.rng.randint(0, 4), self.rng.choice(phrases.CHATTER))
        t = self.t0 + k * TURN_S
        s = self.s
        screen = ()
        if self.np_rng.random() < 0.12:
            tiles = tuple(screen_tile(self.np_rng) for _ in range(int(self.np_rng.integers(1, 7))))
            screen = (ScreenPatches(t=t, frame=k, width=1920, height=1080, patches=tiles),)
        files = tuple(FileChanged(t=t, path=f.path, kind=f.kind, diff=f.diff) for f in s.files.pop(k, []))
        jobs = tuple(JobEvent(t=t, job_id=j.job_id, tool=j.tool, phase=j.phase, summary=j.summary,
                              data=j.data) for j in s.jobs.pop(k, []))
        typed = tuple(TypedText(t=t, text=x) for x in s.typed.pop(k, []))
        words = tuple(UserWords(t=t, text=w, final=True) for w in s.words.pop(k, []))
        chunk = Chunk(tick=round(t / TURN_S), t=t, audio=(audio_block(t, k in s.energy, self.np_rng),), words=words,
                      screen=screen, files=files, jobs=jobs, typed=typed, self_speech=self._self_echo(k))
        action, tag, trigger = self._decide(k, bool(files or jobs or typed or words))
        return Turn(chunk, [action], tag, trigger)


def _rebased(bug: Edit, edit: Edit) -> Edit:
    """A bug's record after a later edit of the same file (its line may move; the kind stays)."""
    shift = len(edit.after.lines) - len(edit.before.lines)
    line = bug.line + shift if edit.line < bug.line else bug.line
    line = min(max(1, line), len(edit.after.lines))
    return Edit(bug.before, edit.after, bug.kind, line, bug.func, bug.diff)


def generate_session(seed: int, n_turns: int) -> Session:
    """A session of `n_turns` micro-turns, the same for the same seed."""
    script = SessionScript(seed)
    prefix = script.prefix()
    return Session(prefix, [script.turn(k) for k in range(n_turns)])
