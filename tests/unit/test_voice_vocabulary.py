"""The recognizer's vocabulary prompt: the repository's names, recent first-class, secrets and ignored files never."""

import subprocess

from companion.voice.vocabulary import TOOL_WORDS, gather_names, prompt_text, repository_prompt


def _git(root, *args):
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def test_names_come_from_tracked_files_recent_ones_last(tmp_path):
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "config", "user.email", "t@example.com")
    _git(tmp_path, "config", "user.name", "t")
    (tmp_path / "old_module.py").write_text("def ancient_helper():\n    pass\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "old")
    (tmp_path / "parser.py").write_text("def parse_header(buf):\n    return buf\n\ndef _private():\n    pass\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_parser.py").write_text("def test_parse_header_reads_the_length():\n    pass\n")
    (tmp_path / ".env").write_text("API_KEY=abc\n")
    (tmp_path / "untracked_secret.py").write_text("def not_tracked_yet():\n    pass\n")
    (tmp_path / "keys.py").write_text("def ghp_" + "A" * 36 + "():\n    pass\n"
                                      "def key_9f8e7d6c5b4a39281706f5e4d3c2():\n    pass\n")
    _git(tmp_path, "add", "parser.py", "tests", ".env", "keys.py")
    _git(tmp_path, "commit", "-qm", "parser")
    names = gather_names(tmp_path)
    assert {"parse_header", "test_parse_header_reads_the_length", "parser.py", "test_parser.py",
            "old_module.py"} <= set(names)
    assert names.index("parse_header") > names.index("old_module.py")  # recent work last
    assert "_private" not in names and "not_tracked_yet" not in names
    assert not [n for n in names if n.startswith(("ghp_", "key_")) or ".env" in n]
    assert names.index("ancient_helper") < names.index("parse_header")


def test_outside_a_repository_only_tool_words(tmp_path):
    assert repository_prompt(tmp_path) == prompt_text([])
    assert prompt_text([]).startswith(", ".join(TOOL_WORDS))
