"""Starts watchdog's native observer for FileWatch, or says why not and falls back to polling."""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from companion.core.events import StreamStatus


class ForwardEvents(FileSystemEventHandler):
    """Hands every watchdog event, unfiltered, to one function (runs on watchdog's thread)."""

    def __init__(self, receive: Callable[[FileSystemEvent], None]) -> None:
        self._receive = receive

    def dispatch(self, event: FileSystemEvent) -> None:
        self._receive(event)


@dataclass(frozen=True, slots=True)
class StartedObserver:
    observer: BaseObserver | None  # None when even polling could not start
    mode: str  # "inotify" (the platform's native watcher), "polling" or ""
    status: StreamStatus
    reason: str


def start_observer(
    root: Path,
    handler: FileSystemEventHandler,
    factory: Callable[[], BaseObserver],
    poll_interval_s: float,
) -> StartedObserver:
    """A running recursive observer on `root`; polling (status degraded) if the native one fails.

    Running out of inotify watches or instances raises OSError from schedule() or start();
    the reason names the sysctl to raise, so the user can fix it rather than guess.
    """
    observer = factory()
    try:
        observer.schedule(handler, str(root), recursive=True)
        observer.start()
    except OSError as exc:
        # a half-started observer may fail to stop; it is being replaced anyway
        with contextlib.suppress(Exception):
            observer.stop()
        reason = f"{_limit_message(exc)}; polling every {poll_interval_s:g} s"
        observer = PollingObserver(timeout=poll_interval_s)
        try:
            observer.schedule(handler, str(root), recursive=True)
            observer.start()
        except OSError as poll_exc:
            return StartedObserver(
                None, "", "unavailable", f"{reason}; polling failed too: {poll_exc}"
            )
        return StartedObserver(observer, "polling", "degraded", reason)
    return StartedObserver(observer, "inotify", "live", f"watching {root}")


def _limit_message(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        limit = _sysctl("max_user_watches")
        return f"inotify watch limit reached (fs.inotify.max_user_watches={limit})"
    if exc.errno == errno.EMFILE:
        limit = _sysctl("max_user_instances")
        return f"inotify instance limit reached (fs.inotify.max_user_instances={limit})"
    return f"native file watching failed: {exc}"


def _sysctl(name: str) -> str:
    try:
        return Path("/proc/sys/fs/inotify", name).read_text().strip()
    except OSError:
        return "unknown"
