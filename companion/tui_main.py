"""Starts the TUI on the real runtime: the default `companion` command."""

from __future__ import annotations

import argparse

from companion.app import CompanionApp
from companion.headless import options_from_args
from companion.runtime import Runtime


def run_tui(args: argparse.Namespace) -> int:
    runtime = Runtime(options_from_args(args, use_model=True))
    app = CompanionApp(runtime, runtime.policy.store, theme=args.theme)
    app.run()
    return app.return_code or 0
