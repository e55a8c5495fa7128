"""The pure parts of bug reports: changed lines through later edits, value phrases, words."""

from __future__ import annotations

import difflib

import pytest

from companion.agent.bug_report import ago, fit_words
from companion.agent.explain_request import first_sentence
from tools.changed_lines import ChangeLog, diff_changes
from tools.failure_values import (
    assertion_phrase,
    clean_message,
    item_difference,
    speakable_value,
    values_phrase,
)


def diff(old: str, new: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True), "a/f", "b/f"))


def test_changed_lines_follow_later_edits_and_deletions():
    v1 = "".join(f"line{i}\n" for i in range(1, 11))
    v2 = v1.replace("line5\n", "LINE5\n")
    log = ChangeLog()
    log.record("f.py", diff(v1, v2), t=1.0)
    assert log.lines("f.py") == {5: 1.0}
    v3 = "new0\nnew1\n" + v2  # two lines inserted above push line 5 to 7
    log.record("f.py", diff(v2, v3), t=2.0)
    assert log.lines("f.py") == {1: 2.0, 2: 2.0, 7: 1.0}
    v4 = v3.replace("LINE5\n", "")  # the changed line deleted: its neighbours now carry it
    log.record("f.py", diff(v3, v4), t=3.0)
    assert log.lines("f.py") == {1: 2.0, 2: 2.0, 6: 3.0, 7: 3.0}
    log.clear()
    assert log.snapshot() == {}


def test_diff_changes_maps_context_and_marks_added_lines():
    moved, added = diff_changes(diff("a\nb\nc\n", "a\nX\nb\nc\n"))
    assert added == {2} and moved[1] == 1 and moved[2] == 3 and moved[3] == 4


@pytest.mark.parametrize(("message", "compare", "source", "said"), [
    ("assert 1 == 2\n +  where 1 = median([3, 1, 2])", {"op": "==", "left": "1", "right": "2"},
     "assert median([3, 1, 2]) == 2", "median returns 1 for [3, 1, 2], expected 2"),
    ("assert 2 == 1\n +  where 1 = median([3, 1, 2])", {"op": "==", "left": "2", "right": "1"},
     "assert 2 == median([3, 1, 2])", "median returns 1 for [3, 1, 2], expected 2"),
    # pytest explained a string diff instead of printing `where`: the call comes from the source
    ("assert 'b' == 'c'\n  \n  - c\n  + b", {"op": "==", "left": "'b'", "right": "'c'"},
     'assert parse_header("a,b,c") == "c"', "parse_header returns 'b' for 'a,b,c', expected 'c'"),
    ("assert 5 < 3", {"op": "<", "left": "5", "right": "3"}, "assert size < 3",
     "size is 5, expected less than 3"),
    ("assert 3 > 5", {"op": ">", "left": "3", "right": "5"}, "assert 3 > size",
     "size is 5, expected less than 3"),
    ("assert False\n +  where False = is_sorted([2, 1])", None, "assert is_sorted([2, 1])",
     "is_sorted returns False for [2, 1]"),
])
def test_assertion_phrases(message, compare, source, said):
    assert assertion_phrase(message, compare, source) == said


def test_values_fall_back_to_type_and_cleaned_message():
    message = "No such file: '/home/me/proj/data/input.csv' in <proj.Loader object at 0x7f3a>"
    said = values_phrase(None, "builtins.FileNotFoundError", message, function="load")
    assert said == "load raises FileNotFoundError: No such file: 'input.csv' in a proj.Loader"
    assert values_phrase({"message": "boom", "compare": None}, "AssertionError", "") == (
        "assertion failed: boom")  # raise AssertionError("boom")
    assert values_phrase({"message": "", "compare": None}, "AssertionError", "") == ""
    custom = {"message": "median wrong\nassert 1 == 2", "compare": None}
    assert values_phrase(custom, "AssertionError", "") == "assertion failed: median wrong"


def test_long_values_are_named_not_read():
    assert speakable_value("[" + ", ".join(map(str, range(100))) + "]") == "a long list"
    assert speakable_value("'" + "x" * 80 + "'") == "a long string"
    assert speakable_value("(1, 2)") == "(1, 2)"
    assert clean_message("a " * 30).endswith("…") and len(clean_message("a " * 30).split()) == 12


def test_ago_and_word_caps():
    assert [ago(1), ago(4), ago(61), ago(4000)] == [
        "just now", "four seconds ago", "one minute ago", "over an hour ago"]
    assert fit_words("one two three", 2) == "one two…"
    assert first_sentence("The index is off by one. Use -1.") == "The index is off by one."
    assert len(first_sentence("word " * 40).split()) == 25


def test_long_sequences_that_differ_in_a_place_or_two_are_said_by_the_places():
    got = "(0.4000000000000001, 0.6200000000000001, 0.18000000000000002)"
    want = "(0.4000000000000001, 0.6200000000000001, 0.38000000000000006)"
    message = f"assert {got} == {want}\n +  where {got} = hls_to_rgb(0.3, 0.4, 0.5)"
    assert assertion_phrase(message, {"op": "==", "left": got, "right": want}) == (
        "hls_to_rgb returns 0.18 as item 3 for 0.3, 0.4, 0.5, expected 0.38")
    # one float a hair apart keeps the digits that tell them apart
    assert item_difference("[0.30000000000000004, 1.0, 2.0, 3.0, 4.0]", "[0.3, 1.0, 2.0, 3.0, 4.0]") == (
        "0.30000000000000004 as item 1", "0.3")
    assert item_difference("[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]", "[1, 2, 0, 4, 5, 6, 7, 8, 9, 10, 11, 0]") == (
        "3 as item 3 and 12 as item 12", "0 and 0")
    # three or more places: the first, and how many; other lengths: the lengths
    assert item_difference("[1, 2, 3]", "[0, 0, 0]") == ("1 as item 1, 3 items wrong", "0")
    assert item_difference("(1, 2, 3)", "(1, 2)") == ("(1, 2, 3)", "(1, 2)")  # short: said as they are
    assert item_difference("[]", "[" + ", ".join(["'(()())'"] * 4) + "]") == ("[]", "4 items")
    long_list = "[" + ", ".join(map(str, range(40))) + "]"
    other = "[" + ", ".join(map(str, range(1, 41))) + "]"
    assert assertion_phrase(f"assert {long_list} == {other}", {"op": "==", "left": long_list, "right": other}) == (
        "got 0 as item 1, 40 items wrong, expected 1")
    hsv = "(0.24, 0.5, 0.6000000000000001, 1.0)"
    message = f"assert {hsv} == (0.667, 0.5, 0.6, 0.9)\n +  where {hsv} = rgb_to_hsv(0.2, 0.4, 0.6)"
    assert assertion_phrase(message, {"op": "==", "left": hsv, "right": "(0.667, 0.5, 0.6, 0.9)"}) == (
        "rgb_to_hsv returns 0.24 as item 1, 3 items wrong, for 0.2, 0.4, 0.6, expected 0.667")
    # other types, equal sequences, or an item too long to say: named by kind as before
    assert item_difference("(1, 2)", "[1, 3]") is None
    assert item_difference("[1, 2]", "[1, 2]") is None
    assert item_difference("['" + "x" * 40 + "', 1, 2]", "['y', 0, 0]") is None
