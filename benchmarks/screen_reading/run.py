"""Benchmark: screen reading under Xvfb — OCR accuracy, error recall/precision, file:line, latency, CPU.

    python -m benchmarks.screen_reading.run [--quick] [--json out.json]

Renders every scene (scenes.py) in a real xterm and in an editor-like Tk window at three font
sizes, dark and light; reads each capture with each engine (engines.py; rapidocr only at the
11 pt default unless --rapidocr-all-sizes: it is ~20x slower). Then, per engine, the
live path (ScreenWatch at 2 fps -> ScreenReader) times each error from the moment it is printed
to its ScreenError, and a 40 s scripted session (typing in the editor, a terminal printing a
build log, a traceback, fast scrolling) measures OCR CPU against ScreenWatch alone, same run.
Starts its own Xvfb; needs xterm and xdotool (scripts/setup.sh --test).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from rapidfuzz.distance import Levenshtein

from benchmarks.screen_reading.engines import ENGINES
from benchmarks.screen_reading.scenes import SCENES, Scene
from companion.core.events import ScreenError
from companion.streams.screen import ScreenWatch
from companion.streams.screen_errors import _QUOTES, find_errors
from companion.streams.screen_text import ScreenReader

SIZES = (9, 11, 14)  # points; 11 is the default terminal size in the targets
THEMES = {"dark": ("black", "white"), "light": ("white", "black")}
EDITOR_SCENES = ("python-traceback", "rust-compile", "code-errors-class", "code-rust-error-type",
                 "log-no-errors", "js-throws")


def start_xvfb() -> subprocess.Popen:
    n = 150
    while Path(f"/tmp/.X11-unix/X{n}").exists() or Path(f"/tmp/.X{n}-lock").exists():
        n += 1
    os.environ["DISPLAY"] = f":{n}"
    proc = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", "1920x1080x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(50):
        if subprocess.run(["xdpyinfo"], capture_output=True, check=False).returncode == 0:
            return proc
        time.sleep(0.1)
    raise RuntimeError("Xvfb did not start")


def window_rect(title: str) -> tuple[int, int, int, int]:
    wid = subprocess.run(["xdotool", "search", "--sync", "--onlyvisible", "--name", f"^{re.escape(title)}$"],
                         capture_output=True, text=True, timeout=20, check=True).stdout.split()[0]
    geo = dict(line.split("=") for line in subprocess.run(
        ["xdotool", "getwindowgeometry", "--shell", wid], capture_output=True, text=True, check=True).stdout.split())
    return int(geo["X"]), int(geo["Y"]), int(geo["WIDTH"]), int(geo["HEIGHT"])


def show(kind: str, path: Path, size: int, theme: str, title: str, command: str | None = None,
         edit: bool = False, geometry: str = "110x24+0+0") -> subprocess.Popen:
    if kind == "terminal":
        bg, fg = THEMES[theme]
        shell = command or f"cat {path}; sleep 600"
        return subprocess.Popen(["xterm", "-T", title, "-geometry", geometry, "-fa", "DejaVu Sans Mono",
                                 "-fs", str(size), "-bg", bg, "-fg", fg, "+sb", "-e", "sh", "-c", shell])
    args = [sys.executable, "-m", "benchmarks.screen_reading.editor_window", str(path), str(size), theme]
    return subprocess.Popen(args + (["--edit"] if edit else []), env={**os.environ, "PYTHONPATH": os.getcwd()})


def grab(rect) -> np.ndarray:
    import mss
    with mss.MSS() as sct:
        shot = sct.grab({"left": rect[0], "top": rect[1], "width": rect[2], "height": rect[3]})
        return np.frombuffer(shot.raw, np.uint8).reshape(shot.height, shot.width, 4)[..., 2::-1].copy()


def flat(text: str) -> str:
    lines = (" ".join(line.translate(_QUOTES).split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def char_accuracy(ocr: str, truth: str) -> float:
    truth, ocr = flat(truth), flat(ocr)
    return max(0.0, 1.0 - Levenshtein.distance(ocr, truth) / max(1, len(truth)))


def score_errors(found, scene: Scene) -> dict:
    want = list(scene.errors)
    got = [(e.language, e.file, e.line) for e in found]
    hits = sum(1 for w in want if any(g[0] == w[0] for g in got))
    exact = sum(1 for w in want if w in got)
    correct = sum(1 for g in got if any(g[0] == w[0] for w in want))
    return {"expected": len(want), "found": len(got), "hits": hits, "exact": exact, "correct": correct}


def static_grid(engines: dict, work: Path, quick: bool, slow_sizes: tuple[int, ...]) -> list[dict]:
    rows = []
    sizes = (11,) if quick else SIZES
    for kind in ("terminal", "editor"):
        scenes = SCENES if kind == "terminal" else [s for s in SCENES if s.name in EDITOR_SCENES]
        for size in sizes:
            for theme in THEMES:
                for scene in scenes:
                    path = work / f"{scene.name}.{'txt' if kind == 'terminal' else 'py'}"
                    path.write_text(scene.text)
                    title = f"{path.name} - editor" if kind == "editor" else f"bench {scene.name}"
                    proc = show(kind, path, size, theme, title)
                    try:
                        rect = window_rect(title)
                        time.sleep(0.8)
                        pixels = grab(rect)
                    finally:
                        proc.terminate()
                        proc.wait()
                    for name, engine in engines.items():
                        if name != "tesseract" and size not in slow_sizes:
                            continue
                        cpu, wall = time.process_time(), time.perf_counter()
                        text = engine.read(pixels).text
                        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                        rows.append({"engine": name, "window": kind, "size": size, "theme": theme,
                                     "scene": scene.name, "accuracy": char_accuracy(text, scene.text),
                                     "cpu_s": cpu, "wall_s": wall, "pixels": int(pixels.shape[0] * pixels.shape[1]),
                                     **score_errors(find_errors(text), scene)})
    return rows


class Collect:
    def __init__(self):
        self.events, self.cond = [], threading.Condition()

    def __call__(self, event):
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()

    def wait_error(self, timeout: float):
        end = time.monotonic() + timeout
        with self.cond:
            while time.monotonic() < end:
                errors = [e for e in self.events if isinstance(e, ScreenError)]
                if errors:
                    return errors[0]
                self.cond.wait(end - time.monotonic())
        return None


def live_latency(engine_name: str, work: Path) -> list[dict]:
    rows = []
    for scene in [s for s in SCENES if s.errors]:
        path, go = work / f"live-{scene.name}.txt", work / f"go-{scene.name}-{engine_name}"
        path.write_text(scene.text)
        title = f"live {scene.name} {engine_name}"
        proc = show("terminal", path, 11, "dark", title,
                    command=f"while [ ! -e {go} ]; do sleep 0.02; done; cat {path}; sleep 600")
        sink = Collect()
        reader = watch = None
        try:
            rect = window_rect(title)
            reader = ScreenReader(sink, work, mode="errors", engine=ENGINES[engine_name])
            watch = ScreenWatch(sink, fps=2, region=rect, frame_sink=reader.on_frame)
            reader.start()
            watch.start()
            reader.ready.wait(60)
            time.sleep(1.5)  # the first frames are the reference
            t0 = time.monotonic()
            go.touch()
            error = sink.wait_error(10.0)
        finally:
            if watch:
                watch.stop()
            if reader:
                reader.stop()
            proc.terminate()
            proc.wait()
        rows.append({"engine": engine_name, "scene": scene.name,
                     "latency_s": None if error is None else error.t - t0,
                     "file_line_ok": error is not None and (error.language, error.file, error.line) in
                     [(w[0], w[1], w[2]) for w in scene.errors]})
    return rows


SESSION_TERMINAL = r"""sleep 3
for i in $(seq 1 30); do echo "[build] compiling module_$i.c ... ok"; sleep 0.25; done
sleep 4; cat {traceback}; sleep 5
seq 1 400 | sed 's/^/log line /'; sleep 6
for i in $(seq 1 12); do echo "test_case_$i PASSED"; sleep 0.5; done
sleep 600"""


def session_cpu(engine_name: str | None, work: Path, seconds: float = 40.0) -> dict:
    """A scripted session; engine None = ScreenWatch alone (the baseline)."""
    tb = work / "session-tb.txt"
    tb.write_text(SCENES[0].text)
    script = work / "session.sh"
    script.write_text(SESSION_TERMINAL.format(traceback=tb))
    code = work / "notes.py"
    code.write_text("import math\n\n\n")
    tag = engine_name or "baseline"
    term = show("terminal", script, 11, "dark", f"session {tag}", command=f"sh {script}",
                geometry="100x30+960+0")
    editor = show("editor", code, 11, "light", f"{code.name} - editor", edit=True)
    sink = Collect()
    reader = None
    try:
        window_rect(f"session {tag}")
        wid = subprocess.run(["xdotool", "search", "--sync", "--onlyvisible", "--name", "notes.py - editor"],
                             capture_output=True, text=True, timeout=20, check=True).stdout.split()[0]
        if engine_name:
            reader = ScreenReader(sink, work, mode="all", engine=ENGINES[engine_name])
            reader.start()
            reader.ready.wait(60)
        watch = ScreenWatch(sink, fps=2, region=(0, 0, 1920, 1080),
                            frame_sink=reader.on_frame if reader else None)
        time.sleep(2.0)
        cpu0, t0 = time.process_time(), time.monotonic()
        watch.start()
        typing = "def mean(values):\n    total = sum(values)\n    return total / len(values)\n\n"
        subprocess.Popen(["xdotool", "type", "--window", wid, "--delay", "180", typing * 2])
        time.sleep(seconds)
        watch.stop()
        cpu, wall = time.process_time() - cpu0, time.monotonic() - t0
    finally:
        if reader:
            reader.stop()
        for proc in (term, editor):
            proc.terminate()
            proc.wait()
    return {"engine": tag, "cpu_s": cpu, "wall_s": wall,
            "ocr_thread_cpu_s": reader.cpu_seconds if reader else 0.0,
            "regions": reader.regions_read if reader else 0,
            "screen_errors": sum(isinstance(e, ScreenError) for e in sink.events)}


def summarize(rows, latency, sessions) -> str:
    out = ["| engine | window | size | theme | char accuracy | recall | precision | file:line exact | CPU s / read |",
           "|---|---|---|---|---|---|---|---|---|"]
    keys = sorted({(r["engine"], r["window"], r["size"], r["theme"]) for r in rows},
                  key=lambda k: (k[0] != "tesseract", k[1] != "terminal", k[2], k[3]))
    for key in keys:
        group = [r for r in rows if (r["engine"], r["window"], r["size"], r["theme"]) == key]
        out.append("| {} | {} | {} pt | {} | {:.3f} | {} | {} | {} | {:.2f} |".format(
            *key, np.mean([r["accuracy"] for r in group]), *_rates(group),
            np.mean([r["cpu_s"] for r in group])))
    out += ["", "| engine | all renders: char accuracy | recall | precision | file:line exact | CPU s / read (median) |",
            "|---|---|---|---|---|---|"]
    for engine in dict.fromkeys(r["engine"] for r in rows):
        group = [r for r in rows if r["engine"] == engine]
        out.append("| {} | {:.3f} | {} | {} | {} | {:.2f} |".format(
            engine, np.mean([r["accuracy"] for r in group]), *_rates(group),
            np.median([r["cpu_s"] for r in group])))
    out += ["", "| engine | printed → ScreenError, median s | max s | found | file:line right |", "|---|---|---|---|---|"]
    for engine in dict.fromkeys(r["engine"] for r in latency):
        group = [r for r in latency if r["engine"] == engine]
        times = [r["latency_s"] for r in group if r["latency_s"] is not None]
        out.append("| {} | {} | {} | {}/{} | {}/{} |".format(
            engine, f"{np.median(times):.2f}" if times else "-", f"{max(times):.2f}" if times else "-",
            len(times), len(group), sum(r["file_line_ok"] for r in group), len(group)))
    base = next((s for s in sessions if s["engine"] == "baseline"), None)
    out += ["", "| 40 s session | process CPU % of a core | OCR CPU % (minus baseline) | OCR thread % | regions read | ScreenErrors |",
            "|---|---|---|---|---|---|"]
    for s in sessions:
        extra = (s["cpu_s"] - base["cpu_s"]) / s["wall_s"] * 100 if base and s is not base else 0.0
        out.append(f"| {s['engine']} | {s['cpu_s'] / s['wall_s'] * 100:.1f} | {extra:.1f} | "
                   f"{s['ocr_thread_cpu_s'] / s['wall_s'] * 100:.1f} | {s['regions']} | {s['screen_errors']} |")
    return "\n".join(out)


def _rates(group) -> tuple[str, str, str]:
    expected, found = sum(r["expected"] for r in group), sum(r["found"] for r in group)
    hits, exact, correct = (sum(r[k] for r in group) for k in ("hits", "exact", "correct"))
    recall = f"{hits / expected:.2f}" if expected else "-"
    precision = f"{correct / found:.2f}" if found else "1.00"
    return recall, precision, (f"{exact / expected:.2f}" if expected else "-")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="11 pt only, shorter session")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--engines", default="tesseract,rapidocr")
    parser.add_argument("--rapidocr-all-sizes", action="store_true",
                        help="rapidocr at every size (default: the 11 pt default only; ~20x slower)")
    args = parser.parse_args()
    for tool in ("Xvfb", "xterm", "xdotool", "xdpyinfo"):
        if not shutil.which(tool):
            sys.exit(f"screen-reading benchmark: {tool} is missing (scripts/setup.sh --test)")
    xvfb = start_xvfb()
    names = args.engines.split(",")
    try:
        with tempfile.TemporaryDirectory(prefix="screen-bench-") as tmp:
            work = Path(tmp)
            engines = {name: ENGINES[name]() for name in names}
            rows = static_grid(engines, work, args.quick,
                               SIZES if args.rapidocr_all_sizes else (11,))
            latency = [row for name in names for row in live_latency(name, work)]
            seconds = 20.0 if args.quick else 40.0
            sessions = [session_cpu(None, work, seconds)] + [session_cpu(n, work, seconds) for n in names]
    finally:
        xvfb.terminate()
    print(summarize(rows, latency, sessions))
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "latency": latency, "sessions": sessions}, indent=1))


if __name__ == "__main__":
    main()
