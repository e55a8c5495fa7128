"""The `companion` command line: parses arguments and hands off to the part that does the work."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from companion import __version__

SUBCOMMANDS = ("doctor", "serve", "record", "replay", "init", "rules")


def add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repo", type=Path, default=Path.cwd(),
                        help="repository to watch (default: the current directory)")
    parser.add_argument("--server", metavar="URL",
                        help="use a running model server (ours or SGLang) instead of the embedded one")
    parser.add_argument("--token", default=os.environ.get("COMPANION_SERVER_TOKEN"),
                        help="bearer token for --server (default: $COMPANION_SERVER_TOKEN); on "
                             "the command line it shows in `ps`: prefer the variable or "
                             "--token-file")
    parser.add_argument("--token-file", type=Path, metavar="PATH",
                        help="read the bearer token for --server from the first line of PATH")
    parser.add_argument("--protocol", type=int, choices=(1, 2),
                        help="interaction protocol of a --server model that does not declare one "
                             "in get_model_info (SGLang); docs/protocol.md")
    parser.add_argument("--model", default="embedded",
                        help="model for the embedded server: 'embedded' or a local HF model directory")
    parser.add_argument("--mic-file", type=Path, metavar="WAV",
                        help="play a WAV file at real-time pace instead of the microphone")
    parser.add_argument("--no-mic", action="store_true", help="do not listen")
    parser.add_argument("--no-screen", action="store_true", help="do not watch the screen")
    parser.add_argument("--no-voice", action="store_true", help="do not speak (text only)")
    parser.add_argument("--record", type=Path, metavar="DIR",
                        help="also write every event to DIR (nothing is written otherwise)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="companion",
        description="A local-first pair-programming companion that watches, listens and interjects. "
                    "Run it inside your repository.",
        epilog=f"subcommands: {', '.join(SUBCOMMANDS)} (companion SUBCOMMAND --help)",
    )
    parser.add_argument("--version", action="version", version=f"companion {__version__}")
    add_run_options(parser)
    parser.add_argument("--headless", action="store_true",
                        help="no TUI: one JSON line per micro-turn and per model output")
    parser.add_argument("--transcript", type=Path, metavar="FILE",
                        help="with --headless: write the JSON lines to FILE instead of stdout")
    parser.add_argument("--seconds", type=float, help="with --headless: stop after this long")
    parser.add_argument("--gates-off", action="store_true",
                        help="with --headless: play every fragment the model speaks, ignoring the "
                             "speech rules' gates (for measuring the model itself, e.g. CompanionBench)")
    parser.add_argument("--typed-stdin", action="store_true",
                        help="with --headless: each line on stdin is text the user typed")
    parser.add_argument("--theme", help="TUI theme: companion-dark, companion-light, companion-contrast, a Textual theme or your own")
    return parser


def build_subcommand_parser(command: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"companion {command}")
    if command == "doctor":
        parser.description = "Check the display, audio, voice, model, git and file watching."
        parser.add_argument("--repo", type=Path, default=Path.cwd())
    elif command == "record":
        parser.description = "Perceive without the model and write every event to DIR."
        parser.add_argument("dir", type=Path)
        add_run_options(parser)
        parser.add_argument("--seconds", type=float, help="stop after this long (default: Ctrl-C)")
    elif command == "replay":
        parser.description = "Feed a recording through the micro-turn clock; print one JSON line a turn."
        parser.add_argument("dir", type=Path)
        parser.add_argument("--realtime", action="store_true", help="at the recorded pace")
        parser.add_argument("--text", action="store_true",
                            help="serialize for text models (no feature placeholders)")
    elif command == "init":
        parser.description = "Write a commented default .companion.toml into the repository."
        parser.add_argument("path", type=Path, nargs="?", default=Path(".companion.toml"))
    elif command == "rules":
        parser.description = "Validate rules files and print the effective merged rules."
        parser.add_argument("action", choices=["check"])
        parser.add_argument("file", type=Path, nargs="?")
    return parser


async def _replay(args: argparse.Namespace) -> int:
    # deferred: each subcommand loads only its own stack (numpy, the runtime, textual)
    from companion.record.recorder import RecordingError
    from companion.record.replay import chunk_record, replay_chunks
    try:
        async for chunk, serialized in replay_chunks(args.dir, realtime=args.realtime,
                                                     features=not args.text):
            print(json.dumps(chunk_record(chunk, serialized)), flush=True)
    except RecordingError as exc:
        print(f"companion replay: {exc}", file=sys.stderr)
        return 2
    return 0


def run_subcommand(command: str, argv: list[str]) -> int:
    if command == "serve":
        # The server runs in its own process (the TUI process never imports torch), and the
        # wrapper must not outlive it or be outlived: it dies with us (see parent_watch).
        env = dict(os.environ, MODEL_SERVER_PARENT_PID=str(os.getpid()))
        return subprocess.call([sys.executable, "-m", "model_server", *argv], env=env)
    args = build_subcommand_parser(command).parse_args(argv)
    if command == "doctor":
        from companion.doctor import doctor_command  # deferred: rich and each part's checks
        return doctor_command(args.repo)
    if command == "replay":
        return asyncio.run(_replay(args))
    if command == "record":
        problem = resolve_token(args, argv)
        if problem:
            print(problem, file=sys.stderr)
            return 2
        from companion.headless import run_headless  # deferred: the whole runtime
        return run_headless(args, record_only=True)
    if command == "init":
        from companion.rules.store import init_command  # deferred: textual (themes)
        return init_command(args.path)
    from companion.rules.store import check_command  # deferred: textual (themes)
    return check_command(args.file)


def resolve_token(args: argparse.Namespace, argv: list[str]) -> str | None:
    """The --server token: from --token-file, else --token / $COMPANION_SERVER_TOKEN; warns
    on stderr when it was given on the command line (visible in `ps`). None if all is well,
    else the error message."""
    if getattr(args, "token_file", None) is not None:
        try:
            token = args.token_file.read_text(encoding="utf-8").splitlines()[:1]
        except (OSError, UnicodeDecodeError) as exc:
            return f"companion: cannot read --token-file {args.token_file}: {exc}"
        if not token or not token[0].strip():
            return f"companion: --token-file {args.token_file} is empty: put the token on its first line"
        args.token = token[0].strip()
    elif any(a == "--token" or a.startswith("--token=") for a in argv):
        print("companion: warning: --token on the command line is visible to every user in `ps`; "
              "use $COMPANION_SERVER_TOKEN or --token-file", file=sys.stderr)
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in SUBCOMMANDS:
        return run_subcommand(argv[0], argv[1:])
    args = build_parser().parse_args(argv)
    problem = resolve_token(args, argv)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    if args.headless:
        from companion.headless import run_headless  # deferred: the whole runtime
        return run_headless(args)
    from companion.tui_main import run_tui  # deferred: textual and the whole runtime
    return run_tui(args)
