"""Speech text hygiene: code, traces, paths, URLs and identifiers are never read verbatim."""

import pytest

from companion.voice.speech_text import speakable, split_identifier


@pytest.mark.parametrize("text, spoken", [
    ("The test in tests/unit/test_parse.py failed.", "The test in test parse dot py failed."),
    ("Look at /home/dev/project/src/companion/streams/audio_in.py line 42",
     "Look at audio in dot py line 42"),
    ("Call `parse_header` in HTTPServerError", "Call parse header in HTTP server error"),
    ("See https://github.com/foo/bar/issues/12 for details.", "See a link for details."),
    ("Here:\n```python\ndef f(x):\n    return x+1\n```\nThat fixes it.",
     "Here: (code shown on screen). That fixes it."),
    (("Traceback (most recent call last):\n  File \"a.py\", line 3, in <module>\n    f()\n"
      "IndexError: list index out of range\nSo the index is off."),
     "an error trace ending in index error. So the index is off."),
    ("Commit 3f2a9c1e8b7d4e is fine", "Commit a hash is fine"),
    ("x != y and a >= b", "x not equal to y and a at least b"),
    ("the getUserName function", "the get user name function"),
    ("call os.getcwd() now", "call os dot getcwd now"),
    ("it took 1234567890 ms", "it took a long number ms"),
    ("It has 42 tests and 3.5 seconds.", "It has 42 tests and 3.5 seconds."),
    ("C:\\Users\\dev\\main.py crashed", "main dot py crashed"),
    ("open www.example.com/docs now", "open a link now"),
    ("the kebab-case-name option", "the kebab case name option"),
    ("plain words stay as they are", "plain words stay as they are"),
])
def test_speakable(text, spoken):
    assert speakable(text) == spoken


@pytest.mark.parametrize("name, words", [
    ("parse_header", "parse header"),
    ("HTTPServerError", "HTTP server error"),
    ("getURLForID", "get URL for ID"),
    ("__init__", "init"),
    ("MAX_PHRASE_WORDS", "MAX PHRASE WORDS"),
    ("x2y", "x2y"),
])
def test_split_identifier(name, words):
    assert split_identifier(name) == words


def test_nothing_code_like_survives_a_mixed_message():
    text = ("Fix ```\nfor i in range(n): pass\n``` in /srv/app/very/long/path/module_name.py, "
            "see http://x.io/a?b=c")
    spoken = speakable(text)
    for fragment in ("range(", "/srv", "http", "```", "_"):
        assert fragment not in spoken
    assert "module name dot py" in spoken
