"""Benchmark: ScreenWatch's CPU at 2 fps on 1920x1080, static and scrolling, against raw mss grabs.

Run inside a display (e.g. `source scripts/headless-env.sh && headless_env_up`):
    python -m benchmarks.screen_capture [--seconds 10] [--fps 2]
CPU is this process's CPU time over wall time, in % of one core; the X server's own work for
each grab (and xterm's for scrolling) is in other processes and not counted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from companion.core.events import ScreenPatches
from companion.streams.screen import ScreenWatch, _open_mss
from companion.streams.x11_windows import X11Windows

_CODE = (
    "def parse_header(line: str) -> tuple[str, str]:\n"
    "    key, sep, value = line.partition(':')\n"
    "    if not sep:\n"
    "        raise ValueError(f'no colon in header line {line!r}')\n"
    "    return key.strip().lower(), value.strip()\n\n"
)


def _cpu_percent(run, seconds: float) -> float:
    cpu, wall = time.process_time(), time.perf_counter()
    run(seconds)
    return 100.0 * (time.process_time() - cpu) / (time.perf_counter() - wall)


def _raw_grabs(fps: float):
    def run(seconds: float) -> None:
        grabber = _open_mss()
        area = grabber.monitors[1]
        end = time.perf_counter() + seconds
        next_tick = time.perf_counter()
        while time.perf_counter() < end:
            grabber.grab(area)
            next_tick += 1 / fps
            time.sleep(max(0.0, next_tick - time.perf_counter()))
        grabber.close()

    return run


def _screen_watch(fps: float, stats: dict):
    def run(seconds: float) -> None:
        events: list = []
        watch = ScreenWatch(events.append, fps=fps)
        watch.start()
        time.sleep(seconds)
        watch.stop()
        sent = [e for e in events if isinstance(e, ScreenPatches)]
        stats.update(
            frames=watch.frames,
            events=len(sent),
            patches=sum(len(e.patches) for e in sent),
            dropped=sum(e.dropped for e in sent),
        )

    return run


def _scrolling_xterm(workdir: Path) -> subprocess.Popen:
    source = workdir / "editor.py"
    source.write_text(_CODE)
    # numbered lines so that scrolled frames never repeat; 10 lines every 100 ms scroll every frame
    printer = (
        "import itertools, sys, time\n"
        f"lines = open({str(source)!r}).read().splitlines()\n"
        "for n in itertools.count():\n"
        "    print(f'{n:6d}  {lines[n % len(lines)]}', flush=n % 10 == 9)\n"
        "    if n % 10 == 9: time.sleep(0.1)\n"
    )
    # 320x83 cells of the default 6x13 font cover 1920x1080
    return subprocess.Popen(
        ["xterm", "-geometry", "320x83+0+0", "-e", sys.executable, "-c", printer],
        stderr=subprocess.DEVNULL,
    )


def _title_lookup_ms(calls: int = 50) -> float:
    """CPU per frame of finding excluded windows by title (ScreenWatch does it before each grab)."""
    windows = X11Windows()
    try:
        cpu = time.process_time()
        for _ in range(calls):
            windows.rects_matching(["password"])
        return 1000 * (time.process_time() - cpu) / calls
    finally:
        windows.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each measurement")
    parser.add_argument("--fps", type=float, default=2.0)
    args = parser.parse_args(argv)
    if not os.environ.get("DISPLAY"):
        print(
            "screen_capture: no display (DISPLAY is not set); run it inside scripts/headless-env.sh",
            file=sys.stderr,
        )
        return 2
    area = _open_mss().monitors[1]
    print(
        f"screen {area['width']}x{area['height']}, {args.fps:g} fps, {args.seconds:g} s per case, "
        f"{os.cpu_count()} cores (shared machine: numbers are noisy)"
    )
    rows = []
    title_ms = _title_lookup_ms()
    stats: dict = {}
    rows.append(
        (
            "static",
            _cpu_percent(_raw_grabs(args.fps), args.seconds),
            _cpu_percent(_screen_watch(args.fps, stats), args.seconds),
            dict(stats),
        )
    )
    if shutil.which("xterm") is None:
        print("screen_capture: xterm not installed; the scrolling case is skipped", file=sys.stderr)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            editor = _scrolling_xterm(Path(tmp))
            try:
                time.sleep(1.0)
                stats = {}
                rows.append(
                    (
                        "scrolling editor",
                        _cpu_percent(_raw_grabs(args.fps), args.seconds),
                        _cpu_percent(_screen_watch(args.fps, stats), args.seconds),
                        dict(stats),
                    )
                )
                title_ms = _title_lookup_ms()  # with the xterm's windows on screen
            finally:
                editor.kill()
                editor.wait()
    print(
        f"{'case':<18}{'raw grab %core':>16}{'ScreenWatch %core':>20}{'diff cost':>11}"
        "  frames/events/patches/dropped"
    )
    for name, raw, watch, s in rows:
        print(
            f"{name:<18}{raw:>15.2f}%{watch:>19.2f}%{watch - raw:>10.2f}%  "
            f"{s['frames']}/{s['events']}/{s['patches']}/{s['dropped']}"
        )
    print(
        f"window-title exclusion adds {title_ms:.3f} ms CPU per frame "
        f"({title_ms * args.fps / 10:.3f}% of a core at {args.fps:g} fps)"
    )
    worst = max(watch for _, _, watch, _ in rows)
    print(f"target < 5% of one core: {'met' if worst < 5 else 'NOT met'} (worst {worst:.2f}%)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
