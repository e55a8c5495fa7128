"""pytest's JUnit XML (xunit1) is parsed into node ids and crash locations."""

from __future__ import annotations

import pytest

from tools.junit_report import node_id, parse_junit
from tools.registry import ToolError

# trimmed from a real `pytest --junitxml -o junit_family=xunit1` report
REPORT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="1"
failures="2" skipped="1" tests="5" time="0.564">
<testcase classname="tests.test_parse.TestX" name="test_in_class" file="tests/test_parse.py"
 line="2" time="0.001"><failure message="assert 1 == 2">self = &lt;X&gt;

    def test_in_class(self):
&gt;       assert 1 == 2
E       assert 1 == 2

tests/test_parse.py:4: AssertionError</failure></testcase>
<testcase classname="tests.test_parse" name="test_header" file="tests/test_parse.py" line="4"
 time="0.002"><failure message="IndexError: list index out of range">def test_header():
&gt;       assert parse_header("a,b,c") == "c"

tests/test_parse.py:6:
_ _ _ _ _ _ _ _

    def parse_header(line):
&gt;       return parts[3]
E       IndexError: list index out of range

parse.py:3: IndexError</failure></testcase>
<testcase classname="tests.test_parse" name="test_fixture" file="tests/test_parse.py" line="9"
 time="0.0"><error message="failed on setup with &quot;fixture 'nope' not found&quot;">file
 tests/test_parse.py, line 10
E       fixture 'nope' not found</error></testcase>
<testcase classname="tests.test_parse" name="test_skip[1-2]" file="tests/test_parse.py" line="12"
 time="0.0"><skipped message="no" /></testcase>
<testcase classname="tests.test_parse" name="test_ok" file="tests/test_parse.py" line="6"
 time="0.000" /></testsuite></testsuites>"""


def test_failures_carry_test_id_crash_file_line_and_exception(tmp_path):
    path = tmp_path / "report.xml"
    path.write_text(REPORT)
    report = parse_junit(path)
    assert report.passed == ("tests/test_parse.py::test_ok",)
    assert report.skipped == ("tests/test_parse.py::test_skip[1-2]",)
    in_class, header, setup = report.failures
    assert (in_class.test_id, in_class.file, in_class.line, in_class.exc_type) == (
        "tests/test_parse.py::TestX::test_in_class",
        "tests/test_parse.py",
        4,
        "AssertionError",
    )
    assert in_class.message == "assert 1 == 2"
    assert (header.test_id, header.file, header.line, header.exc_type, header.message) == (
        "tests/test_parse.py::test_header",
        "parse.py",
        3,
        "IndexError",
        "list index out of range",
    )
    assert header.duration == pytest.approx(0.002)
    # no crash line: the test's own definition line (0-based in xunit1) is the location
    assert (setup.kind, setup.exc_type, setup.file, setup.line) == (
        "error",
        "Error",
        "tests/test_parse.py",
        10,
    )
    assert "fixture 'nope' not found" in setup.message


def test_node_id_without_file_falls_back_to_classname():
    assert node_id("tests.test_a", "test_b", None) == "tests.test_a::test_b"
    assert node_id("pkg.tests.test_a.TestC", "test_d", "pkg/tests/test_a.py") == (
        "pkg/tests/test_a.py::TestC::test_d"
    )


def test_unreadable_report_is_a_tool_error(tmp_path):
    path = tmp_path / "broken.xml"
    path.write_text("<testsuites><testcase")
    with pytest.raises(ToolError, match="JUnit report could not be read"):
        parse_junit(path)


# trimmed from a real report: one test module fails to import, another imports a broken module
COLLECTION_ERRORS = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest"
errors="2" failures="0" skipped="0" tests="2" time="0.312">
<testcase classname="" name="tests.test_imp" file="tests/test_imp.py" time="0.000"><error
 message="collection failure">ImportError while importing test module '/p/tests/test_imp.py'.
Traceback:
/usr/lib/python3.11/importlib/__init__.py:126: in import_module
    return _bootstrap._gcd_import(name[level:], package, level)
tests/test_imp.py:1: in &lt;module&gt;
    import nonexistent_mod
E   ModuleNotFoundError: No module named 'nonexistent_mod'</error></testcase>
<testcase classname="" name="tests.test_parse" file="tests/test_parse.py" time="0.000"><error
 message="collection failure">/venv/site-packages/_pytest/python.py:498: in importtestmodule
    mod = import_path(
&lt;frozen importlib._bootstrap&gt;:1204: in _gcd_import
    ???
tests/test_parse.py:1: in &lt;module&gt;
    from parse import parse_header
E     File "/p/parse.py", line 1
E       def parse_header(line:
E                       ^
E   SyntaxError: '(' was never closed</error></testcase></testsuite></testsuites>"""


def test_collection_errors_name_the_module_and_where_the_import_broke(tmp_path):
    path = tmp_path / "report.xml"
    path.write_text(COLLECTION_ERRORS)
    imp, syntax = parse_junit(path, root="/p").failures
    assert (imp.test_id, imp.kind, imp.exc_type, imp.file, imp.line, imp.message) == (
        "tests/test_imp.py",
        "collection",
        "ModuleNotFoundError",
        "tests/test_imp.py",
        1,
        "No module named 'nonexistent_mod'",
    )
    assert (syntax.test_id, syntax.exc_type, syntax.file, syntax.line, syntax.message) == (
        "tests/test_parse.py",
        "SyntaxError",
        "parse.py",
        1,
        "'(' was never closed",
    )
