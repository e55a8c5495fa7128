"""`python -m model_server --standby`: loads, says so, listens only when told `start`, and exits
when its stdin closes (the companion no longer needs the spare)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def spawn() -> subprocess.Popen:
    env = {**os.environ, "MODEL_SERVER_TOKEN": "standby-test-token", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "model_server", "--model", "embedded",
                             "--port", "0", "--standby"], cwd=ROOT, env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_standby_listens_only_after_start_and_then_serves():
    proc = spawn()
    try:
        assert proc.stdout.readline().strip() == "model_server: standby"
        time.sleep(0.3)
        assert proc.poll() is None  # waiting, not listening: nothing more was printed
        started = time.monotonic()
        proc.stdin.write("start\n")
        proc.stdin.flush()
        line = proc.stdout.readline().strip()
        took = time.monotonic() - started
        assert line.startswith("model_server: listening on http://127.0.0.1:"), line
        url = line.split()[3]
        request = urllib.request.Request(url + "/get_model_info",
                                         headers={"Authorization": "Bearer standby-test-token"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert "model_path" in json.load(answer)
        print(f"standby -> listening in {took * 1000:.0f} ms")
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_standby_exits_quietly_when_its_stdin_closes():
    proc = spawn()
    try:
        assert proc.stdout.readline().strip() == "model_server: standby"
        proc.stdin.close()
        assert proc.wait(timeout=15) == 0
        assert "listening" not in proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
