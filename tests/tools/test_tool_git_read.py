"""Read-only git tools on real temporary repositories, including the awkward states."""

from __future__ import annotations

import pytest

from benchmarks.sample_project import git
from tools import git_ops
from tools.registry import ToolError


def test_outside_a_repository_every_tool_says_so(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(ToolError, match=f"^not a git repository: {plain}$"):
        git_ops.open_repo(plain)
    with pytest.raises(ToolError, match="not a git repository"):
        git_ops.open_repo(tmp_path / "missing")


def test_status_diff_and_binary_files(sample_project):
    repo = git_ops.open_repo(sample_project)
    (sample_project / "parse.py").write_text("changed\n")
    (sample_project / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary")
    (sample_project / "new.txt").write_text("untracked\n")
    git(sample_project, "add", "logo.png")
    status = git_ops.status(repo)
    assert status["branch"] == "main" and not status["detached"]
    assert status["staged"] == [{"path": "logo.png", "change": "A"}]
    assert status["unstaged"] == [{"path": "parse.py", "change": "M"}]
    assert status["untracked"] == ["new.txt"]
    staged = git_ops.diff(repo, staged=True)
    assert staged["binary_files"] == ["logo.png"]
    assert staged["files"] == [{"path": "logo.png", "added": 0, "deleted": 0, "binary": True}]
    assert "Binary files /dev/null and b/logo.png differ" in staged["text"]
    against_head = git_ops.diff(repo, ref="HEAD")
    assert [f["path"] for f in against_head["files"]] == ["logo.png", "parse.py"]
    with pytest.raises(ToolError, match="unknown revision 'v9.9'"):
        git_ops.diff(repo, ref="v9.9")


def test_log_show_blame_and_branches(sample_project):
    repo = git_ops.open_repo(sample_project)
    (sample_project / "util.py").write_text("def shout(text):\n    return text\n")
    git(sample_project, "commit", "-qam", "simplify shout")
    log = git_ops.log(repo, n=5)
    assert [c["subject"] for c in log["commits"]] == [
        "simplify shout",
        "sample project with a planted bug",
    ]
    shown = git_ops.show(repo, "HEAD~1")
    assert shown["subject"] == "sample project with a planted bug" and len(shown["files"]) == 5
    blame = git_ops.blame(repo, "util.py", 1, 2)
    # line 1 ("def shout(text):") survived from the first commit; line 2 is new
    assert [(b["line"], b["summary"]) for b in blame["lines"]] == [
        (1, "sample project with a planted bug"),
        (2, "simplify shout"),
    ]
    assert blame["lines"][0]["author"] == "Sample Dev" and blame["lines"][0]["committed"]
    (sample_project / "util.py").write_text("def shout(text):\n    return text * 2\n")
    edited = git_ops.blame(repo, "util.py", 2, 2)["lines"]
    assert [(b["line"], b["committed"]) for b in edited] == [(2, False)]
    with pytest.raises(ToolError, match="end line 1 is before start line 2"):
        git_ops.blame(repo, "util.py", 2, 1)
    with pytest.raises(ToolError, match="blame: no such file: nope.py"):
        git_ops.blame(repo, "nope.py", 1, 1)
    with pytest.raises(ToolError, match="git blame failed: .*has only 2 lines"):
        git_ops.blame(repo, "util.py", 5, 6)
    assert [b["name"] for b in git_ops.branches(repo)["branches"]] == ["main"]


def test_detached_head(sample_project):
    git(sample_project, "checkout", "-q", "--detach", "HEAD")
    repo = git_ops.open_repo(sample_project)
    status = git_ops.status(repo)
    assert status["detached"] and status["branch"] is None and len(status["head"]) == 8
    assert git_ops.branches(repo)["detached"]


def test_empty_repository(empty_repo):
    repo = git_ops.open_repo(empty_repo)
    (empty_repo / "a.txt").write_text("a\n")
    git(empty_repo, "add", "a.txt")
    status = git_ops.status(repo)
    assert status["branch"] == "main" and status["head"] is None
    assert status["staged"] == [{"path": "a.txt", "change": "A"}]
    assert git_ops.log(repo) == {"commits": [], "note": "no commits yet"}
    assert git_ops.diff(repo, staged=True)["files"][0]["path"] == "a.txt"
    assert git_ops.stash_list(repo) == {"stashes": []}
    with pytest.raises(ToolError, match="^no commits yet$"):
        git_ops.show(repo)
    with pytest.raises(ToolError, match="no commits yet: nothing to blame"):
        git_ops.blame(repo, "a.txt", 1, 1)


def test_merge_conflict_state(conflicted_repo):
    repo = git_ops.open_repo(conflicted_repo)
    status = git_ops.status(repo)
    assert status["in_progress"] == "merge"
    assert status["conflicted"] == ["util.py"]
