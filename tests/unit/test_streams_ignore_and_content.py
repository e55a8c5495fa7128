"""IgnoreRules (git's precedence) and describe_change (two file versions -> FileChanged)."""

from __future__ import annotations

from pathlib import Path

from companion.core.events import FileChanged
from companion.core.ignore import IgnoreRules
from companion.streams.file_content import FileContent, describe_change, read_content


def test_ignore_rules_follow_git_precedence(tmp_path: Path):
    (tmp_path / ".git" / "info").mkdir(parents=True)
    (tmp_path / ".git" / "info" / "exclude").write_text("local.py\n")
    (tmp_path / ".gitignore").write_text("build/\n*.log\n!keep.log\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".gitignore").write_text("*.txt\n!ok.txt\n*.log\n")
    (tmp_path / ".companionignore").write_text("secret*\n")
    rules = IgnoreRules(tmp_path)
    expected = {
        "a.log": True,
        "keep.log": False,
        "build/a.c": True,
        "sub/a.txt": True,
        "sub/ok.txt": False,
        "sub/deep/b.txt": True,
        "a.txt": False,
        "secret.env": True,
        "sub/secret": True,
        "local.py": True,
        "sub/keep.log": True,
        ".git/config": True,
        "src/main.py": False,
    }
    assert {path: rules.is_ignored(path) for path in expected} == expected
    assert rules.is_ignored("build", is_dir=True)
    (tmp_path / "sub" / ".gitignore").write_text("")
    rules.reload_dir("sub")
    assert not rules.is_ignored("sub/a.txt")


def test_caches_are_ignored_without_a_gitignore_and_a_gitignore_can_take_them_back(tmp_path: Path):
    (tmp_path / ".git").mkdir()
    rules = IgnoreRules(tmp_path)
    ignored = {"__pycache__/m.cpython-311.pyc": True, "pkg/__pycache__/x.pyc": True,
               "old.pyc": True, ".pytest_cache/v/cache/nodeids": True, ".venv/bin/python": True,
               "web/node_modules/a/index.js": True, "pkg/m.py": False, "pycache.md": False}
    assert {path: rules.is_ignored(path) for path in ignored} == ignored
    (tmp_path / ".gitignore").write_text("!*.pyc\n")
    rules.reload_dir("")
    assert not rules.is_ignored("old.pyc")
    assert rules.is_ignored("__pycache__/m.cpython-311.pyc")  # its directory stays ignored, as in git


def test_read_content_classifies_files(tmp_path: Path):
    (tmp_path / "t.py").write_text("a\nb\n")
    (tmp_path / "b.bin").write_bytes(b"ab\x00cd")
    (tmp_path / "big.txt").write_text("x\n" * 1000)
    (tmp_path / "l1.txt").write_bytes(b"\xe9t\xe9\n")
    assert read_content(str(tmp_path / "t.py")) == FileContent.of_text("a\nb\n")
    assert read_content(str(tmp_path / "b.bin")).binary
    big = read_content(str(tmp_path / "big.txt"), size_cap=100)
    assert (big.over_cap, big.text, big.lines) == (True, None, 1000)
    latin = read_content(str(tmp_path / "l1.txt"))
    assert (latin.encoding, latin.text) == ("latin-1", "\xe9t\xe9\n")
    assert read_content(str(tmp_path / "missing")) is None
    assert read_content(str(tmp_path)) is None  # a directory is not a file


def test_describe_change_kinds_and_notes():
    old, new = FileContent.of_text("a\n"), FileContent.of_text("b\n")
    assert describe_change(1.0, "f", old, old) is None
    assert describe_change(1.0, "f", None, None) is None
    assert describe_change(1.0, "f", old, new) == FileChanged(
        t=1.0, path="f", kind="modified", diff="--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n"
    )
    gone = describe_change(1.0, "f", FileContent(size=9, binary=True, fingerprint=b"1"), None)
    assert (gone.kind, gone.diff, gone.note) == ("deleted", "", "binary file deleted (9 bytes)")
    unreadable = describe_change(1.0, "f", old, FileContent(size=5, error="Permission denied"))
    assert (unreadable.kind, unreadable.diff, unreadable.note) == (
        "modified",
        "",
        "unreadable: Permission denied",
    )
    scanning = describe_change(1.0, "f", None, new, unknown_old=True)
    assert scanning.kind == "modified" and scanning.diff.startswith("--- a/f\n+++ b/f\n")
    assert "initial scan" in scanning.note


def test_limit_messages_name_the_sysctl_to_raise():
    import errno

    from companion.streams.file_observer import _limit_message

    watches = Path("/proc/sys/fs/inotify/max_user_watches").read_text().strip()
    instances = Path("/proc/sys/fs/inotify/max_user_instances").read_text().strip()
    assert _limit_message(OSError(errno.ENOSPC, "x")) == (
        f"inotify watch limit reached (fs.inotify.max_user_watches={watches})"
    )
    assert _limit_message(OSError(errno.EMFILE, "x")) == (
        f"inotify instance limit reached (fs.inotify.max_user_instances={instances})"
    )
    assert _limit_message(OSError(errno.EACCES, "Permission denied")) == (
        "native file watching failed: [Errno 13] Permission denied"
    )
