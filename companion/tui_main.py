"""Starts the TUI on the real runtime: the default `companion` command."""

from __future__ import annotations

import argparse
import time

from companion.core.events import AudioUnderruns
from companion.headless import options_from_args
from companion.native_stderr import NativeStderr
from companion.runtime import Runtime
from companion.tui.app import CompanionApp


def run_tui(args: argparse.Namespace) -> int:
    runtime = Runtime(options_from_args(args, use_model=True))
    app = CompanionApp(runtime, runtime.policy.store, theme=args.theme)

    def xruns(total: int) -> None:
        runtime.emit(AudioUnderruns(time.monotonic(), "native", total))

    # the audio libraries' C code prints to fd 2, which is the TUI's terminal: send it to the log
    with NativeStderr(on_xruns=xruns):
        app.run()
    return app.return_code or 0
