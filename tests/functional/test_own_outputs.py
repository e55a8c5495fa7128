"""The companion never watches its own transcript, recording or logs, wherever they are: a real
`companion --headless --transcript` run inside the repository sees the user's edit and nothing
of what it writes itself."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.sample_project import make_sample_project
from companion.core.events import FileChanged
from companion.core.ignore import IgnoreRules
from companion.record.recorder import read_recording

ROOT = Path(__file__).resolve().parents[2]


def test_own_outputs_are_ignored_by_their_real_path(tmp_path):
    repo = make_sample_project(tmp_path / "proj")
    (repo / "out").mkdir()
    alias = tmp_path / "alias"
    alias.symlink_to(repo / "out")  # named through a symlink outside the repository
    rules = IgnoreRules(repo, own_outputs=[alias / "t.jsonl", repo / "rec", tmp_path / "elsewhere"])
    assert rules.is_ignored("out/t.jsonl") and rules.is_ignored("rec/events.jsonl")
    assert rules.is_ignored("rec", is_dir=True)
    assert not rules.is_ignored("out/other.jsonl") and not rules.is_ignored("parse.py")


def _scanned(transcript: Path) -> bool:
    """The file stream reported its initial scan ("watching N files") in the transcript."""
    try:
        return '"reason": "watching ' in transcript.read_text() and ' files"' in transcript.read_text()
    except OSError:
        return False


def test_headless_transcript_and_recording_inside_the_repo_are_never_watched(tmp_path):
    repo = make_sample_project(tmp_path / "proj")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COMPANION_CONFIG_DIR": str(tmp_path / "cfg"),
           "COMPANION_LOG_DIR": str(repo / "logs")}
    # no model server listens on port 9: the model link keeps reporting that it reconnects,
    # so the transcript (and the recording of every event) keep changing during the run
    process = subprocess.Popen(
        [sys.executable, "-m", "companion", "--headless", "--repo", str(repo),
         "--transcript", str(repo / "t.jsonl"), "--record", str(repo / "rec"),
         "--no-mic", "--no-screen", "--no-voice", "--server", "http://127.0.0.1:9",
         "--seconds", "10"],
        cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _scanned(repo / "t.jsonl"):
            time.sleep(0.1)
        (repo / "util.py").write_text("def shout(text):\n    return text.upper() + '!!'\n")
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err[-2000:]
    assert (repo / "t.jsonl").stat().st_size > 0  # the transcript was written while watched
    changed = {e.path for e in read_recording(repo / "rec") if isinstance(e, FileChanged)}
    assert "util.py" in changed  # the user's edit is seen
    assert not {p for p in changed if p == "t.jsonl" or p.startswith(("rec/", "logs/"))}, changed
