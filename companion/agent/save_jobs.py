"""SaveJobs: which on-save jobs run when files are saved, and what follows when one finishes.

A burst of saves restarts each on-save job (tests, lint) once for all its files, cancelling a
stale run of the same kind; the paths wait in a pending set until a run that covered them
finishes (so a cancelled run's files are not forgotten). When the affected tests pass and the
rules ask for it, the full suite follows.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from companion.agent.job import Job
from companion.agent.tool_jobs import ToolJobs
from tools.catalog import LINT, TESTS
from tools.lint import LINTED_SUFFIXES


class SaveJobs:
    def __init__(self, root: Path, runner: ToolJobs, submit: Callable[..., str],
                 cancel: Callable[[str, str], bool]) -> None:
        self.root, self.runner = root, runner
        self._submit, self._cancel = submit, cancel
        self._latest: dict[str, str] = {}  # TESTS/LINT -> job id of the latest save run
        self._pending: dict[str, set[str]] = {TESTS: set(), LINT: set()}
        self._pending_all = False

    def on_files_saved(self, saves: list[tuple[str | Path, str]]) -> list[str]:
        """Files were saved together (a burst of (path, diff)): one restart of each on-save job
        for all of them, not one per file (30k generated files must not cost 30k restarts)."""
        wanted: dict[str, dict] = {}
        for path, diff in saves:
            self.runner.record_save(str(path), diff)
            rel = self.runner.relative(str(path))
            plan = self.runner.config.plan_for(rel)
            if plan.tests != "none":
                self._pending[TESTS].add(rel)
                self._pending_all |= plan.tests == "all"
                wanted[TESTS] = {"scope": "all" if self._pending_all else "affected"}
            if plan.lint and rel.endswith(LINTED_SUFFIXES) and (self.root / rel).is_file():
                self._pending[LINT].add(rel)
                wanted[LINT] = {}
        return [self._restart(kind, args) for kind, args in wanted.items()]

    def _restart(self, kind: str, args: dict) -> str:
        previous = self._latest.get(kind)
        if previous:
            self._cancel(previous, "superseded by a newer save")
        if kind == LINT:  # a file deleted since its save has nothing left to lint
            self._pending[kind] = {p for p in self._pending[kind] if (self.root / p).is_file()}
        paths = sorted(self._pending[kind])
        job_id = self._submit(kind, {**args, "paths": paths}, {"saved": paths}, origin="save")
        self._latest[kind] = job_id
        return job_id

    def finished(self, job: Job, ok: bool) -> None:
        """A job ended: if it is the latest save run, its paths are covered; maybe the full
        suite follows."""
        if job.origin != "save" or self._latest.get(job.tool) != job.job_id:
            return
        del self._latest[job.tool]
        self._pending[job.tool] -= set(job.args.get("paths") or [])
        if job.tool == TESTS:
            ran_affected = job.args.get("scope") == "affected"
            self._pending_all = False
            if ok and ran_affected and self.runner.config.tests.full_suite_after:
                full_id = self._submit(TESTS, {"scope": "all"}, {"after": job.job_id}, origin="save")
                self._latest[TESTS] = full_id
