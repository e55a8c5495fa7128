"""Tie the server's life to the process that started it (the companion): when the parent dies,
even by SIGKILL, the server gets SIGTERM and exits instead of holding its memory forever.

Two mechanisms: Linux's PR_SET_PDEATHSIG (via prctl through ctypes, immediate), and a watcher
thread that polls the parent pid (any POSIX system; also covers the case where the parent
died before prctl ran). Enabled by MODEL_SERVER_PARENT_PID, which the companion sets.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import threading

PR_SET_PDEATHSIG = 1
ENV = "MODEL_SERVER_PARENT_PID"


def _set_pdeathsig(sig: int) -> bool:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) == 0
    except (OSError, AttributeError):  # not Linux / no prctl: the watcher alone
        return False


def _watch(parent: int, period_s: float) -> None:
    stop = threading.Event()
    while not stop.wait(period_s):
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGTERM)
            return


def tie_to_parent(period_s: float = 0.5) -> int | None:
    """If MODEL_SERVER_PARENT_PID is set, die with that process; return its pid (or None)."""
    value = os.environ.get(ENV, "")
    if not value.isdigit():
        return None
    parent = int(value)
    _set_pdeathsig(signal.SIGTERM)
    if os.getppid() != parent:  # it died before we got here
        os.kill(os.getpid(), signal.SIGTERM)
    threading.Thread(target=_watch, args=(parent, period_s), name="parent-watch",
                     daemon=True).start()
    return parent
