"""`companion doctor`: checks each part of the machine the companion uses and prints a table.

Each check returns OK, degraded (the companion runs without that part) or failed (an
essential part: the companion cannot run). The exit code is 0 when every essential part works.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from companion.voice.asr import EngineUnavailable
from companion.voice.vad import VoiceActivityGate
from companion.voice.whisper_engine import WhisperEngine, weights_dir


@dataclass(frozen=True, slots=True)
class Check:
    part: str
    status: str  # "ok" | "degraded" | "failed"
    detail: str
    essential: bool = False


def check_display() -> Check:
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        return Check("screen capture", "degraded", "unavailable: no display (DISPLAY is not set)")
    try:
        import mss
        with mss.MSS() as grabber:
            monitor = grabber.monitors[1] if len(grabber.monitors) > 1 else grabber.monitors[0]
            grabber.grab({"left": monitor["left"], "top": monitor["top"], "width": 8, "height": 8})
        return Check("screen capture", "ok", f"{monitor['width']}x{monitor['height']} on {os.environ.get('DISPLAY')}")
    except Exception as exc:  # mss raises its own and ctypes errors; any of them means no capture
        return Check("screen capture", "degraded", f"unavailable: {exc}")


def _check_audio(kind: str) -> Check:
    part = "audio input (mic)" if kind == "input" else "audio output (voice)"
    try:
        import sounddevice
    except OSError as exc:  # sounddevice raises OSError when libportaudio2 is missing
        return Check(part, "degraded", f"unavailable: {exc} (install libportaudio2)")
    try:
        device = sounddevice.query_devices(kind=kind)
        return Check(part, "ok", str(device["name"]))
    except sounddevice.PortAudioError:
        return Check(part, "degraded", f"unavailable: no default {kind} device")
    except ValueError as exc:
        return Check(part, "degraded", f"unavailable: {exc}")


def check_tts() -> Check:
    try:
        import espeakng_loader
        ctypes.CDLL(espeakng_loader.get_library_path())
        return Check("voice (espeak-ng)", "ok", Path(espeakng_loader.get_data_path()).name)
    except Exception as exc:
        return Check("voice (espeak-ng)", "degraded", f"text only: {exc}")


def check_hearing() -> Check:
    """Loads the recognizer and the speech gate as the companion would (about a second)."""
    try:
        engine = WhisperEngine(threads=1)
        VoiceActivityGate()
    except (EngineUnavailable, ImportError, OSError, RuntimeError) as exc:
        return Check("hearing (speech recognizer)", "degraded", f"hearing unavailable ({exc})")
    return Check("hearing (speech recognizer)", "ok",
                 f"{engine.name} ({engine.weights}) from {weights_dir().parent.name}, Silero VAD gate")


def check_model() -> Check:
    spec = importlib.util.find_spec("model_server")
    if spec is None or spec.origin is None:
        return Check("model weights", "failed", "the model_server package is not installed", True)
    weights = Path(spec.origin).parent / "weights" / "embedded"
    files = sorted(p.name for p in weights.glob("*.safetensors")) if weights.is_dir() else []
    if not files:
        return Check("model weights", "failed", f"no embedded weights in {weights}", True)
    size = sum(p.stat().st_size for p in weights.glob("*.safetensors")) / 1e6
    return Check("model weights", "ok", f"embedded: {', '.join(files)} ({size:.1f} MB)", True)


def check_torch() -> Check:
    if importlib.util.find_spec("torch") is None:
        return Check("model runtime (torch)", "failed", "torch is not installed (scripts/setup.sh)", True)
    return Check("model runtime (torch)", "ok", "installed; the server runs it in its own process", True)


def check_git(root: Path) -> Check:
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "--show-toplevel"],
                             capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check("git repository", "degraded", f"git unavailable: {exc}")
    if out.returncode != 0:
        return Check("git repository", "degraded", f"not a git repository: {root} (git tools off)")
    return Check("git repository", "ok", out.stdout.strip())


def check_inotify(root: Path) -> Check:
    limit_file = Path("/proc/sys/fs/inotify/max_user_watches")
    if not limit_file.exists():
        return Check("file watching", "degraded", "no inotify: polling every second")
    limit = int(limit_file.read_text().split()[0])
    # counting stops just past the limit: a huge tree need not be walked to know it is too big
    dirs = sum(1 for _ in zip(range(limit + 1), _watched_dirs(root), strict=False))
    if dirs > limit:
        return Check("file watching", "degraded",
                     f"{dirs}+ directories over the inotify limit {limit}: polling instead "
                     f"(raise fs.inotify.max_user_watches)")
    return Check("file watching", "ok", f"{dirs} directories, inotify limit {limit}")


def _watched_dirs(root: Path):
    """Directories the file watch would need, skipping hidden and dependency folders."""
    skip = {"node_modules", "__pycache__", "venv", "target", "build", "dist"}
    for current, dirs, _ in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in skip]
        yield current


def run_checks(root: Path) -> list[Check]:
    checks: list[Callable[[], Check]] = [
        check_model, check_torch, check_display, lambda: _check_audio("input"),
        lambda: _check_audio("output"), check_tts, check_hearing, lambda: check_git(root), lambda: check_inotify(root),
    ]
    return [check() for check in checks]


def doctor_command(root: Path | None = None, console: Console | None = None) -> int:
    console = console or Console()
    results = run_checks((root or Path.cwd()).resolve())
    table = Table(title="companion doctor", show_lines=False)
    table.add_column("part")
    table.add_column("status")
    table.add_column("detail", overflow="fold")
    style = {"ok": "green", "degraded": "yellow", "failed": "bold red"}
    for check in results:
        table.add_row(check.part, f"[{style[check.status]}]{check.status.upper()}[/]", check.detail)
    console.print(table)
    broken = [c.part for c in results if c.essential and c.status == "failed"]
    if broken:
        console.print(f"[bold red]cannot run:[/] {', '.join(broken)}")
        return 1
    console.print("essentials OK" + ("" if all(c.status == "ok" for c in results)
                                     else "; degraded parts run without that stream"))
    return 0
