"""Simulated coding sessions at 200 ms resolution, built from the product's own code paths.

Saves are real project versions diffed by FileWatch's `describe_change`, each diff recorded in the
agent's ChangeLog as `record_save` does; the agent's test, lint and git jobs are SessionAgent's
(session_agent: real runs, summarized as `ToolJobs` does); the user's speech is real TTS in a
training voice, its words the real recognizer's; the mic carries room noise, keystrokes and the
echo of the companion's own speech; screen reading is the live ScreenReader's ScreenText /
ScreenError events over real tracebacks of the running code and real editor views (screen_runs).
`oracle.decide` labels every tick.
"""
from __future__ import annotations

import random
from collections import defaultdict

import numpy as np

from companion.core.events import (
    MICRO_TURN_S,
    FileChanged,
    JobEvent,
    ScreenError,
    ScreenPatches,
    ScreenText,
    TypedText,
    UserWords,
)
from companion.core.protocol import Action, Chunk, system_prefix
from companion.streams.dmel import BLOCK, SAMPLE_RATE, DMelStream
from companion.streams.file_content import FileContent, describe_change
from model_server.training.features import screen_tile
from model_server.training.v2 import oracle
from model_server.training.v2 import rules as rules_mod
from model_server.training.v2.code_runs import Project, Version
from model_server.training.v2.playback import Playback
from model_server.training.v2.screen_runs import SessionScreen
from model_server.training.v2.session_agent import SessionAgent
from model_server.training.v2.session_records import Pending, Session, Spoken, Turn
from model_server.training.v2.speech import Utterance, utterance
from model_server.training.v2.speech_cache import level_for, voices_for
from tools.catalog import default_registry

TICK = MICRO_TURN_S  # one micro-turn (companion.core.events)
SYSTEM_TEXT = ("You are a pair-programming companion. Each turn, choose one action: stay silent, "
               "speak briefly, stop, relay a job's result, or call a tool.")


# When the recognizer's words reach a turn, after the start of the 200 ms block they were decoded
# at the end of (their UserWords' t): that block recorded (0.2 s), then decoded (about 0.1 s on one
# thread). Placing them at the block's start showed the words a turn before the live companion
# has them, so the model learned to answer a turn after the words settle: one turn (0.2 s) late
# live (CompanionBench: a question's final at 4.87 s, the reply decided at 5.2 s).
HEARD_AFTER_S = 0.3


class SessionSim:
    """One session, generated deterministically from a seed over the given projects."""

    def __init__(self, seed: int, projects: list[Project], n_ticks: int):
        self.rng = random.Random(seed)
        self.np_rng = np.random.default_rng(seed)
        self.n = n_ticks
        self.t0 = round(self.rng.uniform(0, 600) / TICK) * TICK
        self.rules = rules_mod.sample_rules(self.rng)
        self.features = True  # run() sets it: whether the session shows dMel and tiles
        self.prefix = system_prefix(SYSTEM_TEXT, rules_mod.render(self.rules, self.rng),
                                    default_registry().describe())
        self.projects = self.rng.sample(projects, min(2, len(projects)))
        self.current: dict[str, Version] = {p.name: p.clean for p in self.projects}
        self.screen = SessionScreen(self)  # the live ScreenReader over this session's repository
        self.agent = SessionAgent(self)  # its jobs' events, memories and change log
        floor_db = self.rng.uniform(-68, -50)
        self.mic = self.np_rng.normal(0, 10 ** (floor_db / 20), (n_ticks + 60) * BLOCK).astype(np.float32)
        self.echo_gain = 10 ** (self.rng.uniform(-34, -18) / 20)  # residual echo after the canceller
        self.words: dict[int, list[UserWords]] = defaultdict(list)
        self.typed: dict[int, list[str]] = defaultdict(list)
        self.files: dict[int, list[FileChanged]] = defaultdict(list)
        self.jobs: dict[int, list[JobEvent]] = defaultdict(list)
        self.busy: set[int] = set()  # ticks the user is mid-utterance (thinking pauses included)
        self.spoken: list[Spoken] = []
        self.pending: list[Pending] = []
        self.playing: Playback | None = None
        self.last_said: Action | None = None
        self.summary_of: dict[str, str] = {}  # job ref (j3) -> its spoken summary (what a relay says)
        self.failing_job: str | None = None  # the job whose summary names the current failure
        self.last_auto = -10_000  # tick of the last unprompted remark (cooldown rule)
        self.jobs_made = 0
        self.next_episode = self.rng.randint(3, 15)
        self.dmel = DMelStream()

    # --- inputs ---------------------------------------------------------------------------------

    def t(self, k: int) -> float:
        return round(self.t0 + k * TICK, 1)

    def say(self, k: int, kind: str, text: str, meta: dict | None = None) -> Spoken:
        voice = self.rng.choice(voices_for(text))
        utt: Utterance = utterance(voice, text, level_for(voice, text))
        start = k * BLOCK + self.rng.randrange(BLOCK)
        end = min(start + len(utt.samples), len(self.mic))
        self.mic[start:end] += utt.samples[:end - start]
        first = last = None
        previous = ""
        heard = []
        for t_rel, words, final in utt.heard:  # t_rel: the start of the block they came from
            tick = int((start / SAMPLE_RATE + t_rel + HEARD_AFTER_S) / TICK)
            if tick < self.n:
                self.words[tick].append(UserWords(self.t(tick), words, final))
                heard.append((tick, words))
                first = tick if first is None else min(first, tick)
                last = tick if words != previous else last
                previous = words
        spoken = Spoken(k, (end - 1) // BLOCK, kind, text, meta or {}, first, last, tuple(heard))
        self.busy.update(range(spoken.start, spoken.end + 1))
        self.spoken.append(spoken)
        return spoken

    def keystrokes(self, k: int, seconds: float) -> None:
        """Keyboard clicks into the mic over the `seconds` before tick k."""
        lo = max(0, k * BLOCK - int(seconds * SAMPLE_RATE))
        for at in range(lo, k * BLOCK, int(SAMPLE_RATE * self.rng.uniform(0.12, 0.3))):
            n = 80
            click = self.np_rng.normal(0, 10 ** (self.rng.uniform(-45, -32) / 20), n)
            self.mic[at:at + n] += (click * np.exp(-np.arange(n) / 15)).astype(np.float32)

    def save(self, k: int, project: Project, version: Version) -> None:
        """The user saves `version`: FileWatch's diff, then the agent's on-save test run."""
        before = self.current[project.name]
        self.keystrokes(k, self.rng.uniform(0.5, 3.0))
        change = describe_change(self.t(k), f"{project.name}.py", FileContent.of_text(before.source),
                                 FileContent.of_text(version.source))
        if change is None:
            return
        self.files[k].append(change)
        self.screen.on_event(change)  # the hub delivers FileChanged to the ScreenReader too
        self.agent.record_save(change.path, change.diff, self.t(k))  # ToolJobs.record_save
        self.current[project.name] = version
        # the agent starts its on-save jobs as the save arrives: live, the diff, both jobs'
        # starts and the lint's result share a turn (CompanionBench: save 2.28 s, started 2.29 s,
        # lint result 2.32 s); a turn later showed the model a state the product never is in
        self.agent.run_tests(k, project, version, everything=False, requested_by=None)
        self.agent.run_lint(k, project, version)  # a leftover the rules ask about is relayed

    # --- one tick -----------------------------------------------------------------------------

    def chunk(self, k: int, features: bool) -> Chunk:
        t = self.t(k)
        block = self.mic[k * BLOCK:(k + 1) * BLOCK].copy()
        self_speech = ()
        if self.playing is not None:
            echo = self.playing.echo(k)
            if echo is not None:
                block += echo
            said = self.playing.self_speech(k, t)
            self_speech = (said,) if said is not None else ()
        from companion.core.events import AudioBlock
        from companion.streams.audio import level_dbfs

        audio = (AudioBlock(t, block, level_dbfs(block), self.dmel.push(block)),)
        screen = ()
        if features and self.np_rng.random() < 0.1:
            tiles = tuple(screen_tile(self.np_rng) for _ in range(int(self.np_rng.integers(1, 6))))
            screen = (ScreenPatches(t=t, frame=k, width=1920, height=1080, patches=tiles),)
        jobs = tuple(self.jobs.get(k, ()))
        read = self.screen.read(k, t)
        screen_errors = tuple(e for e in read if isinstance(e, ScreenError))
        for error in screen_errors:
            self.screen_error(k, error)
        return Chunk(tick=round(t / TICK), t=t, audio=audio, words=tuple(self.words.get(k, ())),
                     screen=screen, files=tuple(self.files.get(k, ())), jobs=jobs,
                     typed=tuple(TypedText(t, x) for x in self.typed.get(k, ())), self_speech=self_speech,
                     screen_text=tuple(e for e in read if isinstance(e, ScreenText)),
                     screen_errors=screen_errors)

    def screen_error(self, k: int, error: ScreenError) -> None:
        """A new error read on screen: said like a new test failure (its summary, as far as the
        input shows it and the utterance grammar allows), two turns later, if the user is quiet."""
        say = oracle.screen_error_speech(error)
        if not say:
            return
        project = next((p.name for p in self.projects if error.file.endswith(f"{p.name}.py")), "")
        self.pending.append(Pending(k + 2, "relay_auto", k, {"say": say, "project": project,
                                                             "topic": "screen"}))

    def run(self, features: bool) -> Session:
        from model_server.training.v2.episodes import maybe_episode

        self.features = features  # the oracle labels a talk-over's stop by what the input shows
        turns = []
        for k in range(self.n):
            maybe_episode(self, k)
            chunk = self.chunk(k, features)
            act, tag, needs = oracle.decide(self, k, chunk)
            turns.append(Turn(chunk, act, tag, needs))
        return Session(self.prefix, turns, self.rules)

