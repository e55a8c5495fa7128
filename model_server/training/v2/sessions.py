"""Simulated coding sessions at 200 ms resolution, built from the product's own code paths.

Saves are real project versions diffed by FileWatch's `describe_change`, each diff recorded in a
ChangeLog as the agent's `record_save` does; on-save and requested test results are real
`run_tests` runs of the changed lines, localized by `build_report` and summarized by
`companion.agent.summaries` with a live `TestMemory`, exactly as `ToolJobs.tests` does;
lint and git results are the agent's own (git_runs); the user's speech is real TTS in a training
voice, its words the real recognizer's; the mic carries room noise, keystrokes and the echo of
the companion's own speech; screen reading is the live ScreenReader's ScreenText / ScreenError
events over real tracebacks of the running code and real editor views (screen_runs).
`oracle.decide` labels every tick.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from companion.agent.summaries import (
    LintMemory,
    TestMemory,
    summarize_lint,
    summarize_progress,
    summarize_tests,
)
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
from companion.core.protocol import Action, Chunk, job_ref, system_prefix
from companion.core.redact import redact
from companion.streams.dmel import BLOCK, SAMPLE_RATE, DMelStream
from companion.streams.file_content import FileContent, describe_change
from model_server.training.features import screen_tile
from model_server.training.v2 import oracle
from model_server.training.v2 import rules as rules_mod
from model_server.training.v2.code_runs import Project, Version, lint_version, saved_run
from model_server.training.v2.git_runs import call_key, git_results
from model_server.training.v2.playback import Playback
from model_server.training.v2.screen_runs import SessionScreen
from model_server.training.v2.speech import Utterance, utterance
from model_server.training.v2.speech_cache import level_for, voices_for
from tools.catalog import default_registry
from tools.changed_lines import ChangeLog
from tools.registry import ToolError
from tools.test_runner import TestRun

TICK = MICRO_TURN_S  # one micro-turn (companion.core.events)
SYSTEM_TEXT = ("You are a pair-programming companion. Each turn, choose one action: stay silent, "
               "speak briefly, stop, relay a job's result, or call a tool.")


@dataclass(slots=True)
class Spoken:
    """A user utterance placed in the session."""

    start: int  # first tick with its audio
    end: int  # last tick with its audio
    kind: str  # request|question|filler|thinking|backchannel|aside|musing|talk_over|reminder
    text: str
    meta: dict
    first_heard: int | None  # first tick a recognized word arrives (None: heard nothing)
    last_change: int | None  # last tick the recognized text changed (a final equal to it is no change)


@dataclass(slots=True)
class Turn:
    chunk: Chunk
    act: Action  # the oracle's label, written by companion.core.protocol.format_output(protocol=2)
    tag: str
    needs: int  # earliest tick whose input the label depends on (-1: none)


@dataclass(slots=True)
class Session:
    prefix: str
    turns: list[Turn]
    rules: rules_mod.RuleSet


@dataclass(slots=True)
class Pending:
    due: int
    kind: str  # respond | relay_req | relay_auto | remind
    since: int  # tick of the input it answers (for Turn.needs)
    data: dict = field(default_factory=dict)


class SessionSim:
    """One session, generated deterministically from a seed over the given projects."""

    def __init__(self, seed: int, projects: list[Project], n_ticks: int):
        self.rng = random.Random(seed)
        self.np_rng = np.random.default_rng(seed)
        self.n = n_ticks
        self.t0 = round(self.rng.uniform(0, 600) / TICK) * TICK
        self.rules = rules_mod.sample_rules(self.rng)
        self.prefix = system_prefix(SYSTEM_TEXT, rules_mod.render(self.rules, self.rng),
                                    default_registry().describe())
        self.projects = self.rng.sample(projects, min(2, len(projects)))
        self.current: dict[str, Version] = {p.name: p.clean for p in self.projects}
        self.screen = SessionScreen(self)  # the live ScreenReader over this session's repository
        self.memory: dict[str, TestMemory] = defaultdict(TestMemory)
        self.lint_memory = LintMemory()  # one agent, one ToolJobs: one LintMemory for all files
        self.changes = ChangeLog()  # ToolJobs.changes: lines saved since the tests last passed
        for p in self.projects:  # the session starts with the suite known to pass, lint known
            self.memory[p.name].update(p.clean.run)
            clean = lint_version(p.name, p.clean.source)
            self.lint_memory.update(clean["files"], clean["findings"])
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
        for t_rel, words, final in utt.heard:
            tick = int((start / SAMPLE_RATE + t_rel) / TICK)
            if tick < self.n:
                self.words[tick].append(UserWords(self.t(tick), words, final))
                first = tick if first is None else min(first, tick)
                last = tick if words != previous else last
                previous = words
        spoken = Spoken(k, (end - 1) // BLOCK, kind, text, meta or {}, first, last)
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

    def new_job(self) -> str:
        self.jobs_made += 1
        return f"job-{self.jobs_made}"  # the agent's numbering (BackgroundAgent._new_job)

    def emit(self, k: int, job: str, tool: str, phase: str, summary: str, data: dict | None = None,
             origin: str = "model") -> None:
        """A JobEvent at tick k as BackgroundAgent._emit writes it: real tool, phase and data,
        the summary redacted, the payload carrying context_ref and origin."""
        payload = {**(data or {}), "context_ref": {"job_id": job}, "origin": origin}
        self.jobs[k].append(JobEvent(self.t(k), job, tool, phase, redact(summary), payload))

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
        self.changes.record(change.path, change.diff, self.t(k))  # ToolJobs.record_save
        self.current[project.name] = version
        self.run_tests(k + 1, project, version, everything=False, requested_by=None)
        self.run_lint(k + 1, project, version)

    def run_lint(self, k: int, project: Project, version: Version) -> None:
        """The agent's on-save lint job (submitted right after the tests job): ToolJobs.lint's
        result and data, announcing only findings new to this session's LintMemory."""
        job = self.new_job()
        self.emit(k, job, "lint", "started", "lint started", origin="save")
        result = dict(lint_version(project.name, version.source))
        new = self.lint_memory.update(result["files"], result["findings"])
        result["new_findings"] = len(new)
        summary = summarize_lint(new, files=result["files"], everything=False)
        self.summary_of[job_ref(job)] = redact(summary)
        self.emit(k + 1, job, "lint", "result", summary, result, origin="save")

    def run_tests(self, k: int, project: Project, version: Version, everything: bool,
                  requested_by: int | None) -> None:
        job = self.new_job()
        origin = "model" if requested_by is not None else "save"
        self.emit(k, job, "tests", "started", "tests started", origin=origin)
        now = self.t(k)  # ToolJobs.tests: "changed just now" is measured from the run's start
        changes = self.changes.snapshot()
        run, reports = _saved_run_retrying(project, version, changes)
        done = k + 1 + int((run.duration_s + 0.3) / TICK)
        news = self.memory[project.name].update(run, reports)
        summary = summarize_tests(run, news, everything=everything, reports=reports, now=now)
        failed = bool(run.failures)
        self.summary_of[job_ref(job)] = redact(summary)
        if not failed and project is self.projects[0]:
            self.failing_job = None
        elif failed and summary and project is self.projects[0]:
            self.failing_job = job
        self.progress(k, done, job, run, origin)
        data = run.to_dict()  # what ToolJobs.tests returns as the result's data
        for item, report in zip(data["failures"], reports, strict=True):
            item.update(report.to_dict(now))
        if run.report is not None and not run.failures and run.exit_code in (0, 5):
            self.changes.clear()
        data.update(changed=[f"{project.name}.py"], new_failures=[f.test_id for f in news.new],
                    repeated_failures=[f.test_id for f in news.repeated],
                    recovered=list(news.recovered))
        self.emit(done, job, "tests", "result", summary, data, origin=origin)
        for p in self.pending:  # a newer result makes an unsaid one about the same project stale
            if p.kind == "relay_auto" and p.data["project"] == project.name:
                p.kind = "dropped"
        if summary and requested_by is not None:
            self.pending.append(Pending(done, "relay_req", requested_by, {"job": job}))
        elif summary:
            topic = "failures" if news.new else "recoveries"
            self.pending.append(Pending(done + 2, "relay_auto", done,
                                        {"job": job, "project": project.name, "topic": topic}))

    def progress(self, k: int, done: int, job: str, run: TestRun, origin: str) -> None:
        """The agent's progress events of a short run: once pytest has collected (0 of N), then
        at the last test (N of N); the agent throttles the ones between to one per 0.25 s,
        which a sub-second HumanEval run does not reach."""
        counts = run.to_dict()["counts"]
        if run.report is None:
            return
        total = sum(counts.values())
        for tick, n, failed in ((k + 1, 0, 0), (done, total, counts["failed"])):
            data = {"done": n, "total": total, "failed": failed}
            self.emit(min(tick, done), job, "tests", "progress", summarize_progress(n, total, failed),
                      data, origin=origin)

    def call_result(self, k: int, tool: str, args: dict) -> None:
        """The agent runs a call decided in turn k; its result arrives later."""
        project = self.projects[0]
        if tool == "tests":
            self.run_tests(k + 1, project, self.current[project.name], everything=True, requested_by=k)
            return
        job = self.new_job()
        self.emit(k + 1, job, tool, "started", f"{tool.replace('_', ' ')} started")
        phase, summary, data = git_results(project)[call_key(tool, args)]
        done = k + 2 + self.rng.randint(0, 4)
        self.summary_of[job_ref(job)] = redact(summary)
        if phase == "needs_confirmation":
            data = {**data, "confirmation_id": job}
        self.emit(done, job, tool, phase, summary, data)
        if summary:
            self.pending.append(Pending(done, "relay_req", k, {"job": job}))

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

        turns = []
        for k in range(self.n):
            maybe_episode(self, k)
            chunk = self.chunk(k, features)
            act, tag, needs = oracle.decide(self, k, chunk)
            turns.append(Turn(chunk, act, tag, needs))
        return Session(self.prefix, turns, self.rules)


def _saved_run_retrying(project: Project, version: Version, changes: dict, tries: int = 3):
    """saved_run, retried: every version already ran within the timeout when its project was
    built, so a timeout here is the machine's load (the generator runs at nice 19 beside the
    trainer and the test suite), not the code; a shard must not die of it."""
    for _ in range(tries - 1):
        try:
            return saved_run(project.name, version.source, project.test_source, changes)
        except ToolError:
            continue
    return saved_run(project.name, version.source, project.test_source, changes)
