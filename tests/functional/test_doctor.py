"""`companion doctor`: every part OK in the headless environment; the right lines without devices."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from companion.doctor import check_display, check_git, check_inotify, run_checks

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def doctor(env: dict, cwd: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "companion", "doctor"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60,
                          )


@pytest.mark.headless
def test_everything_is_ok_in_the_headless_environment():
    checks = {c.part: c for c in run_checks(__import__("pathlib").Path(ROOT))}
    not_ok = {part: c.detail for part, c in checks.items() if c.status != "ok"}
    assert not_ok == {}
    out = doctor(dict(os.environ, PYTHONPATH=ROOT, COLUMNS="120"), ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "essentials OK" in out.stdout and "DEGRADED" not in out.stdout


def test_no_display_and_no_audio_are_degraded_not_fatal(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env |= {"PYTHONPATH": ROOT, "COLUMNS": "200", "PULSE_SERVER": "unix:/nonexistent",
            "AUDIODEV": "null"}
    out = doctor(env, str(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "unavailable: no display (DISPLAY is not set)" in out.stdout
    assert "not a git repository" in out.stdout
    assert out.stdout.count("DEGRADED") >= 2


def test_display_check_names_an_unreachable_display(monkeypatch):
    monkeypatch.setenv("DISPLAY", ":4242")
    check = check_display()
    assert check.status == "degraded" and "unavailable" in check.detail


def test_git_and_inotify_checks(tmp_path):
    assert check_git(tmp_path).status == "degraded"
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    assert check_git(tmp_path).status == "ok"
    (tmp_path / "src" / "deep").mkdir(parents=True)
    (tmp_path / "node_modules" / "x").mkdir(parents=True)
    inotify = check_inotify(tmp_path)
    assert inotify.status == "ok" and inotify.detail.startswith("3 directories")
