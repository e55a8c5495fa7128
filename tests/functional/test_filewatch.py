"""FileWatch on real temporary git repositories: exact kinds and diffs for how editors save."""

from __future__ import annotations

import errno
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest
from watchdog.observers import Observer

from companion.core.events import FileChanged, StreamState
from companion.streams import files as files_module
from companion.streams.files import FileWatch


class Collected:
    """A thread-safe sink that tests can poll with a deadline."""

    def __init__(self) -> None:
        self.events: list = []
        self._lock = threading.Lock()

    def __call__(self, event) -> None:
        with self._lock:
            self.events.append(event)

    def changes(self) -> list[FileChanged]:
        with self._lock:
            return [e for e in self.events if isinstance(e, FileChanged)]

    def states(self) -> list[StreamState]:
        with self._lock:
            return [e for e in self.events if isinstance(e, StreamState)]

    def wait_change(self, path: str, timeout: float = 10.0) -> FileChanged:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.changes():
                if event.path == path:
                    return event
            time.sleep(0.02)
        raise AssertionError(
            f"no FileChanged for {path!r} within {timeout} s; got {self.changes()}"
        )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "a.py").write_text("x = 1\ny = 2\n")
    (tmp_path / ".gitignore").write_text("*.log\nbuild/\n")
    return tmp_path


@pytest.fixture
def watch(repo: Path):
    sink = Collected()
    fw = FileWatch(repo, sink, debounce_s=0.15)
    fw.start()
    assert fw.wait_scanned(10)
    yield fw, sink
    fw.stop()


def test_temp_file_rename_save_is_one_modified_event(repo, watch):
    _fw, sink = watch
    tmp = repo / ".a.py.swp123"
    tmp.write_text("x = 1\n")
    with open(tmp, "a") as f:  # editors write in several bursts
        f.write("y = 3\n")
    os.replace(tmp, repo / "a.py")
    (repo / "marker.txt").write_text("m\n")
    sink.wait_change("marker.txt")
    time.sleep(0.3)  # let any straggling event settle so that noise would be seen
    changes = [c for c in sink.changes() if c.path != "marker.txt"]
    assert changes == [
        FileChanged(
            t=changes[0].t,
            path="a.py",
            kind="modified",
            diff="--- a/a.py\n+++ b/a.py\n@@ -1,2 +1,2 @@\n x = 1\n-y = 2\n+y = 3\n",
        )
    ]


def test_burst_of_writes_is_debounced_into_one_event(repo, watch):
    _fw, sink = watch
    for i in range(5):
        (repo / "a.py").write_text(f"x = {i}\ny = 2\n")
        time.sleep(0.02)
    event = sink.wait_change("a.py")
    time.sleep(0.4)
    assert [c.path for c in sink.changes()] == ["a.py"]
    assert event.diff == "--- a/a.py\n+++ b/a.py\n@@ -1,2 +1,2 @@\n-x = 1\n+x = 4\n y = 2\n"


def test_create_delete_and_move(repo, watch):
    _fw, sink = watch
    (repo / "new.py").write_text("print('hi')")
    created = sink.wait_change("new.py")
    assert created.kind == "created"
    assert created.diff == (
        "--- /dev/null\n+++ b/new.py\n@@ -0,0 +1 @@\n+print('hi')\n\\ No newline at end of file\n"
    )
    os.rename(repo / "a.py", repo / "pkg_a.py")
    moved = sink.wait_change("pkg_a.py")
    assert (moved.kind, moved.old_path, moved.diff) == ("moved", "a.py", "")
    (repo / "new.py").unlink()
    deleted = [c for c in sink.changes() if c.kind == "deleted"] or [None]
    deadline = time.monotonic() + 10
    while deleted[0] is None and time.monotonic() < deadline:
        time.sleep(0.02)
        deleted = [c for c in sink.changes() if c.kind == "deleted"] or [None]
    assert deleted[0] is not None and deleted[0].path == "new.py"
    assert deleted[0].diff == (
        "--- a/new.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-print('hi')\n\\ No newline at end of file\n"
    )


def test_move_with_edit_reports_moved_with_diff(repo, watch):
    _fw, sink = watch
    os.rename(repo / "a.py", repo / "b.py")
    (repo / "b.py").write_text("x = 1\ny = 20\n")
    moved = sink.wait_change("b.py")
    assert (moved.kind, moved.old_path) == ("moved", "a.py")
    assert moved.diff == "--- a/a.py\n+++ b/b.py\n@@ -1,2 +1,2 @@\n x = 1\n-y = 2\n+y = 20\n"


def test_directory_move_moves_its_files(repo, watch):
    _fw, sink = watch
    (repo / "pkg").mkdir()
    (repo / "pkg" / "m.py").write_text("m = 1\n")
    assert sink.wait_change("pkg/m.py").kind == "created"
    os.rename(repo / "pkg", repo / "lib")
    moved = sink.wait_change("lib/m.py")
    assert (moved.kind, moved.old_path) == ("moved", "pkg/m.py")


def test_binary_huge_and_latin1_files(repo, watch):
    _fw, sink = watch
    (repo / "blob.bin").write_bytes(b"\x00\x01\x02" * 100)
    binary = sink.wait_change("blob.bin")
    assert (binary.kind, binary.diff, binary.note) == (
        "created",
        "",
        "binary file changed (300 bytes)",
    )
    big = "".join(f"line {i}\n" for i in range(40000))
    (repo / "big.txt").write_text(big)
    huge = sink.wait_change("big.txt")
    assert huge.diff == ""
    assert huge.note == (
        f"file over the 256 KB cap changed ({len(big)} bytes): no diff; "
        "absent before, 40000 lines after"
    )
    (repo / "big.txt").unlink()
    deadline = time.monotonic() + 10
    while not [c for c in sink.changes() if c.kind == "deleted"] and time.monotonic() < deadline:
        time.sleep(0.02)
    (gone,) = [c for c in sink.changes() if c.kind == "deleted"]
    assert (gone.path, gone.diff) == ("big.txt", "")
    assert gone.note == (
        f"file over the 256 KB cap deleted ({len(big)} bytes): no diff; "
        "40000 lines before, absent after"
    )
    (repo / "cafe.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    latin = sink.wait_change("cafe.txt")
    assert latin.note == "not UTF-8: decoded as latin-1"
    assert latin.diff == "--- /dev/null\n+++ b/cafe.txt\n@@ -0,0 +1 @@\n+caf\xe9\n"


def test_ignored_files_are_neither_reported_nor_read(repo, monkeypatch):
    read: list[str] = []
    real_read = files_module.read_content

    def recording_read(path, *args, **kwargs):
        read.append(os.path.relpath(path, repo))
        return real_read(path, *args, **kwargs)

    monkeypatch.setattr(files_module, "read_content", recording_read)
    (repo / "build").mkdir()
    (repo / "build" / "out.o").write_text("before\n")
    (repo / "sub").mkdir()
    (repo / "sub" / ".gitignore").write_text("*.tmp\n")
    (repo / ".companionignore").write_text("secrets/\n")
    (repo / "secrets").mkdir()
    (repo / "secrets" / "key.pem").write_text("private\n")
    sink = Collected()
    fw = FileWatch(repo, sink)
    fw.start()
    try:
        assert fw.wait_scanned(10)
        (repo / "app.log").write_text("noise\n")
        (repo / "build" / "out.o").write_text("after\n")
        (repo / "sub" / "x.tmp").write_text("tmp\n")
        (repo / "secrets" / "key.pem").write_text("changed\n")
        (repo / "sub" / "kept.py").write_text("k\n")
        sink.wait_change("sub/kept.py")
        time.sleep(0.3)
    finally:
        fw.stop()
    assert [c.path for c in sink.changes()] == ["sub/kept.py"]
    ignored = {"app.log", "build/out.o", "sub/x.tmp", "secrets/key.pem"}
    assert ignored.isdisjoint(read), f"ignored files were read: {ignored & set(read)}"
    assert not any(p.startswith(".git/") for p in read)


def test_symlink_loops_neither_hang_nor_crash(repo):
    (repo / "loop").symlink_to(repo, target_is_directory=True)
    (repo / "ping").symlink_to(repo / "pong")
    (repo / "pong").symlink_to(repo / "ping")
    sink = Collected()
    fw = FileWatch(repo, sink)
    fw.start()
    try:
        assert fw.wait_scanned(10)
        assert fw.watched_files == 2  # a.py and .gitignore; symlinks are not read
        (repo / "a.py").write_text("x = 1\n")
        assert sink.wait_change("a.py").kind == "modified"
    finally:
        fw.stop()


class _OutOfWatches(Observer):
    def schedule(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "inotify watch limit reached")


def test_inotify_limit_falls_back_to_polling_and_says_so(repo):
    sink = Collected()
    fw = FileWatch(repo, sink, observer_factory=_OutOfWatches, poll_interval_s=0.25)
    fw.start()
    try:
        limit = Path("/proc/sys/fs/inotify/max_user_watches").read_text().strip()
        assert sink.states()[0] == StreamState(
            t=sink.states()[0].t,
            stream="files",
            status="degraded",
            reason=f"inotify watch limit reached (fs.inotify.max_user_watches={limit}); "
            "polling every 0.25 s",
        )
        assert fw.mode == "polling"
        assert fw.wait_scanned(10)
        (repo / "a.py").write_text("x = 1\ny = 3\n")
        assert sink.wait_change("a.py").kind == "modified"
    finally:
        fw.stop()


def test_pause_drops_events_but_resume_diffs_from_current_content(repo, watch):
    fw, sink = watch
    fw.pause()
    (repo / "a.py").write_text("x = 1\ny = 5\n")
    deadline = time.monotonic() + 10
    while fw._snapshot["a.py"].text != "x = 1\ny = 5\n" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sink.changes() == []
    fw.resume()
    (repo / "a.py").write_text("x = 1\ny = 6\n")
    event = sink.wait_change("a.py")
    assert event.diff == "--- a/a.py\n+++ b/a.py\n@@ -1,2 +1,2 @@\n x = 1\n-y = 5\n+y = 6\n"
    assert [s.status for s in sink.states()][-2:] == ["paused", "live"]


@pytest.mark.slow
def test_twenty_thousand_files_start_fast_and_see_a_change(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    for d in range(200):
        folder = tmp_path / f"pkg{d:03d}"
        folder.mkdir()
        for i in range(100):
            (folder / f"mod{i:03d}.py").write_text(f"VALUE = {i}\n")
    sink = Collected()
    fw = FileWatch(tmp_path, sink)
    fw.start()
    try:
        began = time.monotonic()
        assert fw.wait_scanned(30)
        print(
            f"20,000 files: start() {fw.start_seconds:.3f} s, "
            f"scan {time.monotonic() - began:.2f} s more"
        )
        assert fw.watched_files == 20000
        (tmp_path / "pkg123" / "mod045.py").write_text("VALUE = 46\n")
        event = sink.wait_change("pkg123/mod045.py")
        assert event.diff.endswith("-VALUE = 45\n+VALUE = 46\n")
    finally:
        fw.stop()


def test_bad_root_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="is not a directory"):
        FileWatch(tmp_path / "missing", lambda e: None)


def test_editing_gitignore_updates_what_is_watched(repo, watch):
    fw, sink = watch
    (repo / "notes.log").write_text("ignored\n")
    (repo / "marker.py").write_text("")
    sink.wait_change("marker.py")  # notes.log has settled, as an ignored file
    (repo / ".gitignore").write_text("build/\n")  # *.log no longer ignored
    sink.wait_change(".gitignore")
    deadline = time.monotonic() + 10
    while "notes.log" not in fw._snapshot and time.monotonic() < deadline:
        time.sleep(0.02)
    (repo / "notes.log").write_text("ignored\nnow watched\n")
    event = sink.wait_change("notes.log")
    assert event.diff == "--- a/notes.log\n+++ b/notes.log\n@@ -1 +1,2 @@\n ignored\n+now watched\n"
    (repo / ".gitignore").write_text("*.py\n")
    deadline = time.monotonic() + 10
    while "a.py" in fw._snapshot and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "a.py" not in fw._snapshot


def test_the_scan_reports_how_many_files_are_watched(repo, watch):
    _fw, sink = watch
    (repo / "app.log").write_text("ignored\n")
    counted = [s for s in sink.states() if s.count is not None]
    # a.py and .gitignore; the ignored log never counts
    assert counted and counted[-1].count == 2 and counted[-1].reason == "watching 2 files"
