"""Repository changes: a preview changes nothing; only apply acts, and exactly as previewed."""

from __future__ import annotations

import pytest

from benchmarks.sample_project import fix_bug, git
from tools import git_ops
from tools.git_changes import prepare_change
from tools.registry import ToolError


def head(root) -> str:
    return git(root, "rev-parse", "HEAD").strip()


def test_commit_preview_changes_nothing_and_apply_commits_exactly_that(sample_project):
    repo = git_ops.open_repo(sample_project)
    fix_bug(sample_project)
    (sample_project / "util.py").write_text("# also changed, but not asked for\n")
    (sample_project / "notes.md").write_text("new file\n")
    before = head(sample_project)
    change = prepare_change(
        repo, "git_commit", {"message": "fix the off-by-one", "paths": ["parse.py", "notes.md"]}
    )
    assert head(sample_project) == before
    assert git(sample_project, "diff", "--cached", "--name-only") == ""  # nothing staged
    assert change.preview["stat"] == "2 files changed, +2 -1"
    assert "fix the off-by-one" in change.summary and "on main" in change.summary
    result = change.apply()
    assert git(sample_project, "rev-parse", "HEAD~1").strip() == before
    assert git(sample_project, "log", "-1", "--format=%s").strip() == "fix the off-by-one"
    committed = git(sample_project, "show", "--name-only", "--format=", "HEAD").split()
    assert sorted(committed) == ["notes.md", "parse.py"] == result["files"]
    assert git(sample_project, "status", "--porcelain").strip() == "M util.py"


def test_commit_all_tracked_changes_and_nothing_to_commit(sample_project):
    repo = git_ops.open_repo(sample_project)
    with pytest.raises(ToolError, match="nothing to commit: no changes to tracked files"):
        prepare_change(repo, "git_commit", {"message": "m", "paths": None})
    with pytest.raises(ToolError, match="no such file or no changes to commit in it: nope.py"):
        prepare_change(repo, "git_commit", {"message": "m", "paths": ["nope.py"]})
    with pytest.raises(ToolError, match=r"commit: \.\./x is outside the repository"):
        prepare_change(repo, "git_commit", {"message": "m", "paths": ["../x"]})
    fix_bug(sample_project)
    (sample_project / "untracked.txt").write_text("stays out\n")
    prepare_change(repo, "git_commit", {"message": "all", "paths": None}).apply()
    assert git(sample_project, "show", "--name-only", "--format=", "HEAD").split() == ["parse.py"]


def test_changes_after_the_preview_are_refused(sample_project):
    repo = git_ops.open_repo(sample_project)
    fix_bug(sample_project)
    before = head(sample_project)
    change = prepare_change(repo, "git_commit", {"message": "m", "paths": None})
    (sample_project / "util.py").write_text("edited after the preview\n")
    with pytest.raises(ToolError, match="changes moved since the preview; nothing was committed"):
        change.apply()
    assert head(sample_project) == before


def test_detached_head_commit_is_flagged(sample_project):
    git(sample_project, "checkout", "-q", "--detach", "HEAD")
    fix_bug(sample_project)
    change = prepare_change(
        git_ops.open_repo(sample_project), "git_commit", {"message": "m", "paths": None}
    )
    assert "detached" in change.summary
    assert change.preview["notes"] == ["HEAD is detached: the commit will not be on any branch"]


def test_merge_conflict_blocks_commit_switch_and_stash(conflicted_repo):
    repo = git_ops.open_repo(conflicted_repo)
    for tool, args in [
        ("git_commit", {"message": "m", "paths": None}),
        ("git_switch", {"name": "other"}),
        ("git_stash_push", {"message": None}),
    ]:
        with pytest.raises(
            ToolError, match="merge in progress with unresolved conflicts in util.py"
        ):
            prepare_change(repo, tool, args)


def test_branch_create_switch_and_stash_round_trip(sample_project):
    repo = git_ops.open_repo(sample_project)
    with pytest.raises(ToolError, match="not a valid branch name: 'bad..name'"):
        prepare_change(repo, "git_branch_create", {"name": "bad..name", "switch": False})
    with pytest.raises(ToolError, match="branch 'main' already exists"):
        prepare_change(repo, "git_branch_create", {"name": "main", "switch": False})
    change = prepare_change(repo, "git_branch_create", {"name": "feature", "switch": True})
    assert repo.active_branch.name == "main"
    change.apply()
    assert repo.active_branch.name == "feature"
    with pytest.raises(ToolError, match="already on branch 'feature'"):
        prepare_change(repo, "git_switch", {"name": "feature"})
    with pytest.raises(ToolError, match="no branch named 'nope'"):
        prepare_change(repo, "git_switch", {"name": "nope"})
    prepare_change(repo, "git_switch", {"name": "main"}).apply()
    assert repo.active_branch.name == "main"

    with pytest.raises(ToolError, match="the stash is empty"):
        prepare_change(repo, "git_stash_pop", {})
    fix_bug(sample_project)
    stash = prepare_change(repo, "git_stash_push", {"message": "wip fix"})
    assert stash.preview["stat"] == "1 file changed, +1 -1"
    assert git(sample_project, "status", "--porcelain").strip() == "M parse.py"
    stash.apply()
    assert git(sample_project, "status", "--porcelain").strip() == ""
    assert git_ops.stash_list(repo)["stashes"][0]["message"] == "On main: wip fix"
    pop = prepare_change(repo, "git_stash_pop", {})
    assert "wip fix" in pop.summary
    pop.apply()
    assert git(sample_project, "status", "--porcelain").strip() == "M parse.py"
    assert git_ops.stash_list(repo) == {"stashes": []}


def test_empty_repository_changes(empty_repo):
    repo = git_ops.open_repo(empty_repo)
    with pytest.raises(ToolError, match="no commits yet: make a first commit"):
        prepare_change(repo, "git_branch_create", {"name": "x", "switch": False})
    with pytest.raises(ToolError, match="no commits yet: git cannot stash"):
        prepare_change(repo, "git_stash_push", {"message": None})
    (empty_repo / "first.txt").write_text("hello\n")
    change = prepare_change(repo, "git_commit", {"message": "first", "paths": ["first.txt"]})
    assert change.apply()["files"] == ["first.txt"]
    assert git(empty_repo, "log", "--format=%s").strip() == "first"
