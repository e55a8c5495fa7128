"""The `companion` command line: parses arguments and hands off to the part that does the work."""

from __future__ import annotations

import argparse

from companion import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="companion",
        description="A local-first pair-programming companion that watches, listens and interjects.",
    )
    parser.add_argument("--version", action="version", version=f"companion {__version__}")
    return parser


def main(argv: list[str] | None = None) -> int:
    build_parser().parse_args(argv)
    return 0
