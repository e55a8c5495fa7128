"""SessionAgent: the background agent of a simulated session, its jobs as BackgroundAgent's events.

On-save and requested test runs are real `run_tests` runs of the changed lines, localized by
`build_report` and summarized by `companion.agent.summaries` with a live `TestMemory`, exactly as
`ToolJobs.tests` does; lint and git results are the agent's own (code_runs, git_runs). Each job's
JobEvents land in the session's ticks, its summary in `summary_of`, and the relay it asks for in
the session's pending items.
"""

from __future__ import annotations

from collections import defaultdict

from companion.agent.reminders import parse_request, reminder_delay, reminder_summary
from companion.agent.summaries import (
    LintMemory,
    TestMemory,
    summarize_lint,
    summarize_progress,
    summarize_tests,
)
from companion.core.events import MICRO_TURN_S, JobEvent
from companion.core.protocol import job_ref
from companion.core.redact import redact
from companion.model.relayable import unasked_save_lint
from model_server.training.v2.code_runs import Project, Version, lint_version, saved_run
from model_server.training.v2.git_runs import call_key, git_results
from model_server.training.v2.session_records import Pending
from tools.catalog import REMIND
from tools.changed_lines import ChangeLog
from tools.lint import LEFTOVER_CODES, keep_leftovers, leftovers_first
from tools.registry import ToolError
from tools.test_runner import TestRun

TICK = MICRO_TURN_S  # one micro-turn (companion.core.events)


GIT_SLOW_P = 0.2  # a git call whose result misses the turn after the call


class SessionAgent:
    """The agent of one SessionSim: one ToolJobs' memories and change log, the sim's job events."""

    def __init__(self, sim):
        self.sim = sim
        self.memory: dict[str, TestMemory] = defaultdict(TestMemory)
        self.lint_memory = LintMemory()  # one agent, one ToolJobs: one LintMemory for all files
        self.changes = ChangeLog()  # ToolJobs.changes: lines saved since the tests last passed
        # as TurnLoop live: a save's lint finding the rules keep unsaid never reaches the model
        self.unsaid = unasked_save_lint(lambda: sim.rules.leftovers)
        self.unlinted = ChangeLog()  # ToolJobs.unlinted: lines saved since the last on-save lint
        for p in sim.projects:  # the session starts with the suite known to pass, lint known
            self.memory[p.name].update(p.clean.run)
            clean = lint_version(p.name, p.clean.source)  # no line added yet: no leftover
            self.lint_memory.update(clean["files"], keep_leftovers(clean["findings"], {}))

    def new_job(self) -> str:
        self.sim.jobs_made += 1
        return f"job-{self.sim.jobs_made}"  # the agent's numbering (BackgroundAgent._new_job)

    def emit(self, k: int, job: str, tool: str, phase: str, summary: str, data: dict | None = None,
             origin: str = "model") -> None:
        """A JobEvent at tick k as BackgroundAgent's JobEvents writes it: real tool, phase and
        data, the summary redacted, the payload carrying context_ref and origin."""
        payload = {**(data or {}), "context_ref": {"job_id": job}, "origin": origin}
        event = JobEvent(self.sim.t(k), job, tool, phase, redact(summary), payload)
        if not self.unsaid(event):
            self.sim.jobs[k].append(event)

    def record_save(self, path: str, diff: str, t: float) -> None:
        """ToolJobs.record_save: the saved lines, for a failure's report and the on-save lint."""
        self.changes.record(path, diff, t)
        self.unlinted.record(path, diff, t)

    def run_lint(self, k: int, project: Project, version: Version) -> None:
        """The agent's on-save lint job (submitted right after the tests job): ToolJobs.lint's
        result and data, a print or TODO only where the save added it, announcing only findings
        new to this session's LintMemory. A leftover the rules ask about is relayed."""
        job = self.new_job()
        self.emit(k, job, "lint", "started", "lint started", origin="save")
        result = dict(lint_version(project.name, version.source))
        added = {path: self.unlinted.lines(path) for path in result["files"]}
        result["findings"] = keep_leftovers(result["findings"], added)
        result["count"] = len(result["findings"])
        for path in result["files"]:
            self.unlinted.forget(path)
        new = self.lint_memory.update(result["files"], result["findings"])
        result["new_findings"] = len(new)
        summary = summarize_lint(leftovers_first(new), files=result["files"], everything=False)
        self.sim.summary_of[job_ref(job)] = redact(summary)
        result["new_codes"] = sorted({f["code"] for f in new})  # as ToolJobs.lint
        # ruff on one file takes about 30 ms: live, its result is in the turn the save is in
        self.emit(k, job, "lint", "result", summary, result, origin="save")
        asked = {LEFTOVER_CODES[f["code"]] for f in new if f["code"] in LEFTOVER_CODES}
        if summary and asked & set(self.sim.rules.leftovers):  # the rules ask to hear of it
            self.sim.pending.append(Pending(k + 2, "relay_auto", k,
                                            {"job": job, "project": project.name, "topic": "leftover"}))

    def run_tests(self, k: int, project: Project, version: Version, everything: bool,
                  requested_by: int | None) -> None:
        sim = self.sim
        job = self.new_job()
        origin = "model" if requested_by is not None else "save"
        self.emit(k, job, "tests", "started", "tests started", origin=origin)
        now = sim.t(k)  # ToolJobs.tests: "changed just now" is measured from the run's start
        changes = self.changes.snapshot()
        run, reports = _saved_run_retrying(project, version, changes)
        done = k + 1 + int((run.duration_s + 0.3) / TICK)
        news = self.memory[project.name].update(run, reports)
        summary = summarize_tests(run, news, everything=everything, reports=reports, now=now)
        failed = bool(run.failures)
        sim.summary_of[job_ref(job)] = redact(summary)
        if not failed and project is sim.projects[0]:
            sim.failing_job = None
        elif failed and summary and project is sim.projects[0]:
            sim.failing_job = job
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
        for p in sim.pending:  # a newer result makes an unsaid one about the same project stale
            # (not a remark on a save's leftover: that is about the diff, not the tests)
            if p.kind == "relay_auto" and p.data["project"] == project.name and p.data["topic"] != "leftover":
                p.kind = "dropped"
        if summary and requested_by is not None:
            sim.pending.append(Pending(done, "relay_req", requested_by, {"job": job}))
        elif summary:
            topic = "failures" if news.new else "recoveries"
            sim.pending.append(Pending(done + 2, "relay_auto", done,
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
        sim = self.sim
        project = sim.projects[0]
        if tool == "tests":
            self.run_tests(k + 1, project, sim.current[project.name], everything=True, requested_by=k)
            return
        job = self.new_job()
        self.emit(k + 1, job, tool, "started", f"{tool.replace('_', ' ')} started")
        if tool == REMIND:  # the agent's remind job: it reads the request the same way, and its
            try:  # result is due by the same clock
                seconds, what = parse_request(args["request"])
            except ToolError as exc:
                phase, summary, data, done = "error", str(exc), {"error": str(exc)}, k + 1
            else:
                phase, summary = "result", reminder_summary(what)
                data = {"seconds": seconds, "what": what, "request": args["request"]}
                done = k + 1 + max(1, round(reminder_delay(seconds) / TICK))
        else:
            phase, summary, data = git_results(project)[call_key(tool, args)]
            # a git read takes 10-50 ms: live, its start and result reach the turn after the call
            # together (CompanionBench's transcripts: git_status 9 ms); a slow one the turn after
            done = k + 1 + (sim.rng.random() < GIT_SLOW_P)
        sim.summary_of[job_ref(job)] = redact(summary)
        if phase == "needs_confirmation":
            data = {**data, "confirmation_id": job}
        self.emit(done, job, tool, phase, summary, data)
        if summary:
            sim.pending.append(Pending(done, "relay_req", k, {"job": job}))


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
