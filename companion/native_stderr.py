"""Native stderr to the log: what C libraries print (ALSA, PortAudio, JACK) never reaches the TUI.

ALSA prints "ALSA lib pcm.c:8570:(snd_pcm_recover) underrun occurred" with fprintf(stderr) from
PortAudio's audio thread, at any moment, straight onto the terminal the TUI draws on. No call
can be wrapped to catch that, so while the TUI runs, file descriptor 2 itself points at a pipe
whose reader appends every line to the native log and counts underruns. Python keeps its own
stderr: `sys.stderr`, `sys.__stderr__` (Textual draws on it) and logging's stream handlers are
moved to a duplicate of the original descriptor, so Python-level output goes where it went before.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Self

import platformdirs

NATIVE_LOG = "native-stderr.log"
# ALSA's "underrun occurred" and "overrun occurred", PortAudio's "output underflow", JACK's xrun
_XRUN_WORDS = (b"underrun", b"overrun", b"underflow", b"xrun")
EMIT_INTERVAL_S = 0.25  # a burst of underruns updates the counter at most this often


def log_dir() -> Path:
    """Where the companion writes its logs; COMPANION_LOG_DIR overrides it (tests, portable)."""
    override = os.environ.get("COMPANION_LOG_DIR")
    return Path(override) if override else Path(platformdirs.user_log_dir("companion"))


class NativeStderr:
    """While started, C-level writes to fd 2 go to `log_path`; `on_xruns(total)` hears of underruns.

    Use as a context manager around the TUI. Not reentrant; one per process.
    """

    def __init__(self, log_path: Path | None = None,
                 on_xruns: Callable[[int], None] | None = None) -> None:
        self.log_path = log_path or log_dir() / NATIVE_LOG
        self.on_xruns = on_xruns
        self.lines = 0
        self.xruns = 0
        self._saved_fd: int | None = None
        self._terminal: io.TextIOWrapper | None = None
        self._swapped: list[tuple[object, str, object]] = []  # (owner, attribute, old value)
        self._reader: threading.Thread | None = None
        self._last_emit = 0.0
        self._trailing: threading.Timer | None = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        for stream in (sys.stderr, sys.__stderr__):
            if stream is not None:
                stream.flush()
        self._saved_fd = os.dup(2)
        encoding = getattr(sys.__stderr__, "encoding", None) or "utf-8"
        self._terminal = io.TextIOWrapper(io.FileIO(os.dup(self._saved_fd), "w"),
                                          encoding=encoding, errors="backslashreplace",
                                          line_buffering=True)
        self._move_python_stderr()
        read_fd, write_fd = os.pipe()
        os.dup2(write_fd, 2)
        os.close(write_fd)
        self._reader = threading.Thread(target=self._pump, args=(read_fd,),
                                        name="native-stderr", daemon=True)
        self._reader.start()

    def stop(self) -> None:
        if self._saved_fd is None:
            return
        # restoring fd 2 closes our pipe's last write end (children that inherited it may
        # keep theirs; the reader then ends with them, and it is a daemon)
        os.dup2(self._saved_fd, 2)
        os.close(self._saved_fd)
        self._saved_fd = None
        for owner, attribute, old in reversed(self._swapped):
            if isinstance(owner, logging.StreamHandler):
                owner.setStream(old)
            else:
                setattr(owner, attribute, old)
        self._swapped.clear()
        if self._reader is not None:
            self._reader.join(timeout=1.0)
        if self._terminal is not None:
            self._terminal.flush()

    def _move_python_stderr(self) -> None:
        """Point Python's stderr users that write to fd 2 at the saved terminal descriptor."""
        old = {id(s) for s in (sys.stderr, sys.__stderr__) if s is not None}
        for attribute in ("stderr", "__stderr__"):
            self._swapped.append((sys, attribute, getattr(sys, attribute)))
            setattr(sys, attribute, self._terminal)
        loggers = [logging.getLogger()] + [
            logger for logger in logging.Logger.manager.loggerDict.values()
            if isinstance(logger, logging.Logger)]
        for logger in loggers:
            for handler in logger.handlers:
                if (type(handler) is logging.StreamHandler
                        and id(handler.stream) in old):
                    self._swapped.append((handler, "stream", handler.stream))
                    handler.setStream(self._terminal)

    def _pump(self, read_fd: int) -> None:
        with open(read_fd, "rb") as pipe, open(self.log_path, "ab") as log:
            for line in pipe:  # ends when every write end is closed
                log.write(time.strftime("%Y-%m-%dT%H:%M:%S ").encode() + line)
                log.flush()
                self.lines += 1
                if any(word in line.lower() for word in _XRUN_WORDS):
                    self.xruns += 1
                    self._report(final=False)
        self._report(final=True)

    def _report(self, *, final: bool) -> None:
        if self.on_xruns is None:
            return
        wait = self._last_emit + EMIT_INTERVAL_S - time.monotonic()
        if wait > 0 and not final:  # throttled: a timer reports the burst's last count
            if self._trailing is None or not self._trailing.is_alive():
                self._trailing = threading.Timer(wait, self._report, kwargs={"final": True})
                self._trailing.daemon = True
                self._trailing.start()
            return
        self._last_emit = time.monotonic()
        try:
            self.on_xruns(self.xruns)
        except Exception:  # a broken listener must not stop the log
            logging.getLogger(__name__).exception("xrun listener failed")
