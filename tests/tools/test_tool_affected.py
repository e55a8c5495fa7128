"""Affected tests: named after the changed module, or importing it directly or transitively."""

from __future__ import annotations

import os

from tools.affected import ImportIndex, affected_tests


def write(root, rel, text=""):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def make_src_layout(root):
    write(root, "src/pkg/__init__.py")
    write(root, "src/pkg/parse.py", "def parse_header(line): ...\n")
    write(root, "src/pkg/api.py", "from pkg.parse import parse_header\n")
    write(root, "src/pkg/cli.py", "from . import api\n")
    write(root, "src/pkg/other.py", "import json\n")
    write(root, "tests/test_api.py", "import pkg.api\n")
    write(root, "tests/test_cli.py", "from pkg import cli\n")
    write(root, "tests/test_other.py", "from pkg.other import x\n")
    write(root, "tests/test_parse.py", "print('named after parse, imports nothing')\n")
    write(root, "tests/unit/parse_test.py", "")
    write(root, "tests/test_broken.py", "def (:\n")  # a syntax error must not stop the scan
    write(root, ".venv/lib/test_parse.py", "import pkg.parse\n")  # never scanned


def test_direct_transitive_and_named_tests_are_found(tmp_path):
    make_src_layout(tmp_path)
    index = ImportIndex(tmp_path)
    assert affected_tests(index, ["src/pkg/parse.py"]) == [
        "tests/test_api.py",
        "tests/test_cli.py",
        "tests/test_parse.py",
        "tests/unit/parse_test.py",
    ]
    assert affected_tests(index, ["src/pkg/other.py"]) == ["tests/test_other.py"]
    assert affected_tests(index, ["src/pkg/cli.py"]) == ["tests/test_cli.py"]


def test_a_changed_test_file_is_its_own_affected_test(tmp_path):
    make_src_layout(tmp_path)
    index = ImportIndex(tmp_path)
    assert affected_tests(index, ["tests/test_other.py"]) == ["tests/test_other.py"]
    assert affected_tests(index, ["README.md"]) == []


def test_import_cache_follows_edits(tmp_path):
    make_src_layout(tmp_path)
    index = ImportIndex(tmp_path)
    assert "tests/test_other.py" not in affected_tests(index, ["src/pkg/parse.py"])
    path = tmp_path / "tests/test_other.py"
    path.write_text("from pkg.parse import parse_header\n")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert "tests/test_other.py" in affected_tests(index, ["src/pkg/parse.py"])
