"""FileWatch: watches a repository with watchdog; one debounced FileChanged (a diff) per save."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from watchdog.events import FileSystemEvent
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from companion.core.events import Event, FileChanged, StreamState, StreamStatus
from companion.core.ignore import IGNORE_FILE_NAMES, IgnoreRules
from companion.streams.file_content import (
    DEFAULT_SIZE_CAP,
    FileContent,
    describe_change,
    read_content,
)
from companion.streams.file_observer import ForwardEvents, start_observer

# A file written continuously (a log) still reports at least this often.
MAX_DELAY_S = 1.0
_CHANGE_TYPES = frozenset({"created", "modified", "deleted", "moved", "closed"})


class FileWatch:
    """Recursive watch on `root`: debounced, ignore-aware diffs against the last content seen.

    Decisions are taken on the state of the disk when a path settles (no event for `debounce_s`),
    not on the raw event sequence, so an editor's temp-file + rename save comes out as one
    `modified` of the real path. Symlinks are not followed or read (no loops, no escaping the repo).
    """

    consumes = ()  # a source
    emits = (FileChanged, StreamState)

    def __init__(
        self,
        root: str | os.PathLike[str],
        sink: Callable[[Event], None],
        *,
        debounce_s: float = 0.15,
        size_cap: int = DEFAULT_SIZE_CAP,
        poll_interval_s: float = 1.0,
        observer_factory: Callable[[], BaseObserver] = Observer,
        clock: Callable[[], float] = time.monotonic,
        own_outputs: Iterable[str | os.PathLike[str]] = (),
    ) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise ValueError(f"FileWatch root {str(root)!r} is not a directory")
        if debounce_s < 0 or size_cap <= 0 or poll_interval_s <= 0:
            raise ValueError(
                f"FileWatch: debounce_s={debounce_s} must be >= 0, size_cap={size_cap} and "
                f"poll_interval_s={poll_interval_s} > 0"
            )
        self._sink, self._clock = sink, clock
        self.debounce_s, self.size_cap, self.poll_interval_s = debounce_s, size_cap, poll_interval_s
        self._observer_factory = observer_factory
        # the companion's transcript, recordings and logs: watching them would feed its own
        # output back to the model, which comments on it, which writes more output
        self.ignore = IgnoreRules(self.root, own_outputs)
        self._snapshot: dict[str, FileContent] = {}
        self._lock = threading.RLock()  # the snapshot and the ignore rules
        self._cond = threading.Condition()  # the pending sets below
        self._pending: dict[str, tuple[float, float]] = {}  # path -> (first, last) event time
        self._pending_dirs: dict[str, tuple[float, float]] = {}
        self._moves: dict[str, str] = {}  # destination -> source, file or directory
        self.scanned = threading.Event()  # set when the initial snapshot is complete
        self._stopping = threading.Event()
        self._paused = False
        self._observer: BaseObserver | None = None
        self._threads: list[threading.Thread] = []
        self.mode = ""  # "inotify" (native) or "polling"
        self.start_seconds = 0.0  # how long start() took (the scan continues in the background)

    @property
    def watched_files(self) -> int:
        return len(self._snapshot)

    def start(self) -> None:
        began = time.perf_counter()
        self._start_observer()
        for target, name in (
            (self._settle_loop, "filewatch-settle"),
            (self._scan, "filewatch-scan"),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        self.start_seconds = time.perf_counter() - began

    def pause(self) -> None:
        """Stop emitting; the snapshot follows the disk so resume diffs from the right text."""
        self._paused = True
        self._state("paused")

    def resume(self) -> None:
        self._paused = False
        self._state("live" if self.mode == "inotify" else "degraded", "resumed")

    def stop(self) -> None:
        self._stopping.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
        with self._cond:
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=5)
        self._state("stopped")

    def wait_scanned(self, timeout: float | None = None) -> bool:
        return self.scanned.wait(timeout)

    def _state(self, status: StreamStatus, reason: str = "", count: int | None = None) -> None:
        self._sink(StreamState(t=self._clock(), stream="files", status=status, reason=reason,
                               count=count))

    def _start_observer(self) -> None:
        started = start_observer(
            self.root,
            ForwardEvents(self._on_fs_event),
            self._observer_factory,
            self.poll_interval_s,
        )
        self._observer, self.mode = started.observer, started.mode
        self._state(started.status, started.reason)

    def _on_fs_event(self, event: FileSystemEvent) -> None:
        """Runs on watchdog's thread: only records which paths to look at once they settle."""
        if event.event_type not in _CHANGE_TYPES or self._stopping.is_set():
            return
        src = self._rel(os.fsdecode(event.src_path))
        dest = self._rel(os.fsdecode(event.dest_path)) if event.event_type == "moved" else None
        if event.is_directory and event.event_type in ("modified", "closed"):
            return
        now = self._clock()
        with self._cond:
            table = self._pending_dirs if event.is_directory else self._pending
            for path in (src, dest):
                if path is not None:
                    first = table.get(path, (now, now))[0]
                    table[path] = (first, now)
            if src is not None and dest is not None:
                self._moves[dest] = src
            self._cond.notify()

    def _rel(self, path: str) -> str | None:
        rel = os.path.relpath(path, self.root)
        if rel == "." or rel.startswith(".." + os.sep) or rel == "..":
            return None
        return rel.replace(os.sep, "/")

    def _settle_loop(self) -> None:
        while not self._stopping.is_set():
            with self._cond:
                now = self._clock()
                due, due_dirs, wait = (
                    self._take_due(self._pending, now),
                    self._take_due(self._pending_dirs, now),
                    None,
                )
                if not due and not due_dirs:
                    deadlines = [
                        self._deadline(v)
                        for v in (*self._pending.values(), *self._pending_dirs.values())
                    ]
                    wait = max(0.0, min(deadlines) - now) if deadlines else None
                    self._cond.wait(wait)
                    continue
                moves = {
                    d: s for d, s in self._moves.items() if d in due or s in due or d in due_dirs
                }
                for dest in moves:
                    del self._moves[dest]
                for dest, src in moves.items():  # both ends of a move settle together
                    for path in (dest, src):
                        for table, out in ((self._pending, due), (self._pending_dirs, due_dirs)):
                            if table.pop(path, None) is not None:
                                out.add(path)
            with self._lock:
                self._settle(due, due_dirs, moves)

    def _deadline(self, times: tuple[float, float]) -> float:
        return min(times[1] + self.debounce_s, times[0] + MAX_DELAY_S)

    def _take_due(self, table: dict[str, tuple[float, float]], now: float) -> set[str]:
        due = {path for path, times in table.items() if self._deadline(times) <= now}
        for path in due:
            del table[path]
        return due

    def _settle(self, paths: set[str], dirs: set[str], moves: dict[str, str]) -> None:
        """Compare each settled path's disk state with the snapshot and emit what changed."""
        for path in paths | {p for m in moves.items() for p in m}:
            if path.rpartition("/")[2] in IGNORE_FILE_NAMES:
                self._reload_ignore(path.rpartition("/")[0], busy=paths)
        file_moves = {d: s for d, s in moves.items() if d not in dirs}
        for dest_dir, src_dir in ((d, s) for d, s in moves.items() if d in dirs):
            for known in [k for k in self._snapshot if k.startswith(src_dir + "/")]:
                file_moves[dest_dir + known[len(src_dir) :]] = known
        for rel_dir in dirs:
            paths |= {k for k in self._snapshot if k.startswith(rel_dir + "/")}
            paths |= set(self.ignore.walk_files(rel_dir))
        now = self._clock()
        done: set[str] = set()
        for dest, src in file_moves.items():
            old = self._snapshot.get(src)
            if (
                old is None
                or dest in self._snapshot
                or os.path.lexists(self.root / src)
                or self.ignore.is_ignored(dest)
            ):
                continue
            new = read_content(str(self.root / dest), self.size_cap)
            if new is None:
                continue
            del self._snapshot[src]
            self._snapshot[dest] = new
            done |= {src, dest}
            self._emit(describe_change(now, dest, old, new, old_path=src, size_cap=self.size_cap))
        for path in sorted((paths | set(file_moves) | set(file_moves.values())) - done):
            old = self._snapshot.get(path)
            new = (
                None
                if self.ignore.is_ignored(path)
                else read_content(str(self.root / path), self.size_cap)
            )
            unknown_old = old is None and new is not None and not self.scanned.is_set()
            if new is None:
                self._snapshot.pop(path, None)
            else:
                self._snapshot[path] = new
            self._emit(
                describe_change(
                    now, path, old, new, unknown_old=unknown_old, size_cap=self.size_cap
                )
            )

    def _reload_ignore(self, rel_dir: str, busy: set[str]) -> None:
        self.ignore.reload_dir(rel_dir)
        for known in [k for k in self._snapshot if self.ignore.is_ignored(k)]:
            del self._snapshot[known]  # newly ignored: forget it, never read it again
        # newly un-ignored: learn its content without reporting it
        for rel in self.ignore.walk_files(rel_dir):
            if rel not in self._snapshot and rel not in busy:
                content = read_content(str(self.root / rel), self.size_cap, count_lines=False)
                if content is not None:
                    self._snapshot[rel] = content

    def _emit(self, event: Event | None) -> None:
        if event is not None and not self._paused:
            self._sink(event)

    def _scan(self) -> None:
        for rel in self.ignore.walk_files(""):
            if self._stopping.is_set():
                return
            # over-cap files are only sized here; their lines are counted when they change
            content = read_content(str(self.root / rel), self.size_cap, count_lines=False)
            with self._cond:
                # changed while we read it: what we read may already be the new version, so let
                # the settle step report it (as changed during the scan) rather than miss it
                changing = rel in self._pending
            with self._lock:
                if content is not None and rel not in self._snapshot and not changing:
                    self._snapshot[rel] = content
        self.scanned.set()
        self._state(
            "live" if self.mode == "inotify" else "degraded",
            f"watching {len(self._snapshot)} files",
            count=len(self._snapshot),
        )
