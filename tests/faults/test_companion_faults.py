"""Faults on the companion's side (issue 12): a companion killed with SIGKILL takes its model
server child with it, and a real flood of created files with one real edit among them reaches
the model as that edit plus one summary line, with model turns going on."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.faults.conftest import alive, children_of, delivered, wait_until

pytestmark = pytest.mark.slow


def test_a_killed_companion_takes_its_server_down(companion):
    c = companion()
    c.wait_live(turns=1)
    server = c.server_pid()
    assert alive(server)
    # the spare (a loaded `model_server --standby`) must not outlive the companion either
    kids = wait_until(lambda: len(children_of(c.proc.pid)) >= 2 and children_of(c.proc.pid), 60,
                      "the spare server")
    c.proc.send_signal(signal.SIGKILL)
    c.proc.wait()
    killed = time.monotonic()
    for pid in kids:
        wait_until(lambda pid=pid: not alive(pid), 10, f"the orphaned server {pid} to exit")
    print(f"server and spare gone {time.monotonic() - killed:.2f} s after the companion's kill -9")


def test_a_flood_of_created_files_does_not_hide_a_real_edit(repo, companion):
    c = companion()
    c.wait_live()
    before = len(c.model_turns())
    # 3000 real files by default (30k take ~2 min to write on a loaded 2-core machine; the
    # unit test in test_chunk_budget.py serializes 30k); FAULTS_FLOOD_FILES=30000 for the full one
    n = int(os.environ.get("FAULTS_FLOOD_FILES", "3000"))
    gen = repo / "gen"
    t0 = time.monotonic()
    for d in range(100):
        (gen / f"d{d}").mkdir(parents=True)
        for i in range(d, n, 100):
            (gen / f"d{d}" / f"f{i}.py").write_text(f"VALUE_{i} = {i}\n")
        if d == 50:  # the real edit, in the middle of the flood
            (repo / "walk.py").write_text("def walk(xs):\n    return xs[1:]\n")
    print(f"wrote {n} files in {time.monotonic() - t0:.1f} s")
    wait_until(lambda: delivered(c, "+    return xs[1:]"), 90, "the real edit to reach a turn")
    wait_until(lambda: any("more file changes" in t["text"] for t in c.turns()), 90,
               "the flood's summary line")
    wait_until(lambda: len(c.model_turns()) >= before + 10, 60, "model turns to go on")
    assert max(len(t["text"]) for t in c.turns()) < 8000  # every turn stayed within its cap
