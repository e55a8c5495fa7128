"""Runs one scenario live: the real `companion --headless` in a temporary git copy of the scenario's
repository, user speech played into the headless sink at scripted times, the sink recorded.

Everything the metrics need is written to the scenario's output directory: the companion's
transcript (docs/transcript.md), `timeline.json` (what the runner did, in the session's stream
clock, with each utterance's audible start and end found in the recording) and `sink.wav`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.companion_bench.scenario import Scenario, Step, parse_voice
from benchmarks.companion_bench.sink_audio import (
    RATE,
    ClipPlayer,
    SinkRecorder,
    locate_clip,
    speech_intervals,
)
from benchmarks.companion_bench.voices import synthesize

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 90.0
SPEAKING_LEVEL = 0.01  # RMS in the sink while no user clip plays: the companion is talking


class RunError(RuntimeError):
    """The runner could not run a scenario (companion did not start, no audio, ...)."""


@dataclass
class RunResult:
    scenario: Scenario
    gates: str
    out: Path
    transcript: Path
    timeline: dict
    recording: np.ndarray  # the sink from stream time 0, at RATE
    clips: dict  # step id -> the user's clip


def _git(repo: Path, *args: str) -> None:
    env = dict(os.environ, GIT_AUTHOR_NAME="Bench User", GIT_AUTHOR_EMAIL="bench@example.com",
               GIT_COMMITTER_NAME="Bench User", GIT_COMMITTER_EMAIL="bench@example.com")
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)


def make_repo(scenario: Scenario, parent: Path) -> Path:
    repo = parent / "repo"
    shutil.copytree(scenario.project, repo, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    for rel, content in scenario.files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(content, encoding="utf-8")
    if scenario.rules is not None:
        (repo / ".companion.toml").write_text(scenario.rules, encoding="utf-8")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", f"{scenario.name}: starting point")
    return repo


def apply_save(repo: Path, step: Step) -> None:
    target = repo / step.path
    if step.content is not None:
        text = step.content
    else:
        text = target.read_text(encoding="utf-8")
        for old, new in step.replace:
            if old not in text:
                raise RunError(f"save {step.path}: {old!r} is not in the file")
            text = text.replace(old, new, 1)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime stime cutime cstime


class _Tail:
    """Reads the transcript as the companion writes it."""

    def __init__(self, path: Path) -> None:
        self.path, self.pos, self.lines, self._partial = path, 0, [], ""

    def poll(self) -> list[dict]:
        if not self.path.exists():
            return []
        with self.path.open(encoding="utf-8") as f:
            f.seek(self.pos)
            data = f.read()
            self.pos = f.tell()
        data, new = self._partial + data, []
        *complete, self._partial = data.split("\n")
        for line in complete:
            if line.strip():
                new.append(json.loads(line))
        self.lines.extend(new)
        return new


def run_scenario(scenario: Scenario, out: Path, server: str, token: str | None, *,
                 gates_on: bool = True, server_pid: int | None = None) -> RunResult:
    out.mkdir(parents=True, exist_ok=True)
    clips = {s.id: synthesize(*parse_voice(s.voice), s.text, s.pause) for s in scenario.steps
             if s.action == "say"}
    with tempfile.TemporaryDirectory(prefix="companion-bench-") as tmp:
        repo = make_repo(scenario, Path(tmp))
        return _run(scenario, out, repo, clips, server, token, gates_on, server_pid)


def _run(scenario, out, repo, clips, server, token, gates_on, server_pid) -> RunResult:
    transcript = out / "transcript.jsonl"
    transcript.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "companion", "--headless", "--no-screen", "--repo", str(repo),
           "--server", server, "--transcript", str(transcript), "--typed-stdin"]
    if token:
        cmd += ["--token", token]
    if not gates_on:
        cmd.append("--gates-off")
    # the user's own rules file must not change what is right: an empty config home
    config_home = repo.parent / "config"
    config_home.mkdir(exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", XDG_CONFIG_HOME=str(config_home))
    recorder, player = SinkRecorder(), ClipPlayer()
    recorder.start()
    player.start()
    log = (out / "companion.log").open("w")
    proc = subprocess.Popen(cmd, cwd=repo, env=env, stdin=subprocess.PIPE, stdout=log, stderr=log,
                            text=True, start_new_session=True)
    tail = _Tail(transcript)
    actions: list[dict] = []
    try:
        ready = _wait_ready(proc, tail)
        t0 = tail.lines[0]["t0_monotonic"]
        server_cpu0 = _cpu_seconds(server_pid) if server_pid else float("nan")
        ready_mono = time.monotonic()
        clock = ready_mono  # when the previous step happened
        for step in scenario.steps:  # in file order: a `when` step waits for what came before
            record = {"id": step.id, "action": step.action, "text": step.text, "voice": step.voice,
                      "path": step.path}
            if step.when == "companion_speaks":
                heard_at = _wait_companion_speaking(recorder, player, proc, clock + step.within)
                record["companion_speaking_at"] = None if heard_at is None else heard_at - t0
                _sleep_until((heard_at or time.monotonic()) + step.at)
            else:
                _sleep_until(ready_mono + step.at)
            now = time.monotonic()
            if step.action == "say":
                player.play(clips[step.id])
            elif step.action == "save":
                apply_save(repo, step)
            elif step.action == "type":
                proc.stdin.write(step.text + "\n")
                proc.stdin.flush()
            record["t_sent"] = now - t0
            actions.append(record)
            clock = now
            tail.poll()
        _sleep_until(ready_mono + scenario.duration)
        companion_cpu = _cpu_seconds(proc.pid)
        server_cpu = _cpu_seconds(server_pid) - server_cpu0 if server_pid else float("nan")
        end_mono = time.monotonic()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()
        player.stop()
        recorder.stop()
    time.sleep(0.05)
    recording = recorder.timeline(t0, end_mono + 0.5)
    _write_wav(out / "sink.wav", recording)
    timeline = {
        "scenario": scenario.name, "gates": "on" if gates_on else "off",
        "ready": ready_mono - t0, "end": end_mono - t0, "ready_stream_t": ready,
        "cpu": {"companion_s": companion_cpu, "server_s": server_cpu, "seconds": end_mono - ready_mono},
        "recorder_overflows": recorder.overflows,
        "steps": [_place(a, clips, recording) for a in actions],
    }
    (out / "timeline.json").write_text(json.dumps(timeline, indent=1), encoding="utf-8")
    return RunResult(scenario, timeline["gates"], out, transcript, timeline, recording, clips)


def _wait_ready(proc: subprocess.Popen, tail: _Tail) -> float:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RunError(f"companion exited with code {proc.returncode} before the model was live")
        for line in tail.poll():
            if line.get("type") == "state" and line.get("stream") == "model" and line.get("status") == "live":
                return line["t"]
        time.sleep(0.05)
    raise RunError(f"the model was not live within {READY_TIMEOUT:.0f} s")


def _wait_companion_speaking(recorder: SinkRecorder, player: ClipPlayer, proc, deadline: float) -> float | None:
    """When the companion is audible in the sink (no user clip playing), or None by the deadline."""
    loud_since = None
    while time.monotonic() < deadline and proc.poll() is None:
        now = time.monotonic()
        level = recorder.level(0.1)
        if level > SPEAKING_LEVEL and not player.busy:
            loud_since = loud_since or now - 0.1
            if now - loud_since >= 0.3:
                return loud_since
        else:
            loud_since = None
        time.sleep(0.02)
    return None


def _sleep_until(t: float) -> None:
    while (left := t - time.monotonic()) > 0:
        time.sleep(min(left, 0.02))


def _place(record: dict, clips: dict[str, np.ndarray], recording: np.ndarray) -> dict:
    """Where a said clip really was in the sink: audible start/end and its voiced parts."""
    record = dict(record)
    record["t"] = record["t_end"] = record["t_sent"]
    if record["action"] != "say":
        return record
    clip = clips[record["id"]]
    start = locate_clip(recording, clip, record["t_sent"])
    record["located"] = start is not None
    if start is None:  # not found in the sink (should not happen): fall back to the send time
        start = record["t_sent"]
    parts = speech_intervals(clip)
    record["t"] = start
    record["t_end"] = start + len(clip) / RATE
    record["parts"] = [[start + a, start + b] for a, b in parts]
    return record


def _write_wav(path: Path, samples: np.ndarray) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype(np.int16).tobytes())


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32) / 32768.0
