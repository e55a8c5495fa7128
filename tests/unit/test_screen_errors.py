"""Error recognition in screen text: each language's real output, OCR noise, and code that only mentions errors."""

from __future__ import annotations

import pytest

from companion.streams.screen_errors import Frame, find_errors

PYTHON = """$ python app.py
Traceback (most recent call last):
  File "/home/dev/proj/app.py", line 42, in <module>
    main()
  File "/home/dev/proj/app.py", line 38, in main
    print(users[0]["user_id"])
          ~~~~~~~~^^^^^^^^^^^
KeyError: 'user_id'
$ """

NODE = """/home/dev/web/server.js:12
    return user.name.toUpperCase();
                     ^

TypeError: Cannot read properties of undefined (reading 'toUpperCase')
    at greet (/home/dev/web/server.js:12:22)
    at Object.<anonymous> (/home/dev/web/server.js:20:1)
    at Module._compile (node:internal/modules/cjs/loader:1256:14)

Node.js v18.19.0"""

RUST = """   Compiling demo v0.1.0 (/home/dev/demo)
error[E0308]: mismatched types
  --> src/main.rs:14:22
   |
14 |     let count: u32 = "three";
   |                ---   ^^^^^^^ expected `u32`, found `&str`"""

RUST_PANIC = """thread 'main' panicked at src/parse.rs:31:10:
called `Option::unwrap()` on a `None` value
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace"""

GO = """panic: runtime error: index out of range [5] with length 3

goroutine 1 [running]:
main.pick(...)
\t/home/dev/tool/main.go:9
main.main()
\t/home/dev/tool/main.go:14 +0x1d
exit status 2"""

GCC = "src/list.c:27:5: error: use of undeclared identifier 'lenght'"
TSC = "src/app.ts(12,7): error TS2322: Type 'string' is not assignable to type 'number'."
PYTEST = """    def test_median():
>       assert median([3, 1, 2]) == 2
E       AssertionError: assert 1 == 2
E        +  where 1 = median([3, 1, 2])

tests/test_stats.py:11: AssertionError
=========================== short test summary info ============================
FAILED tests/test_stats.py::test_median - AssertionError: assert 1 == 2"""


@pytest.mark.parametrize("text, language, exception, file, line", [
    (PYTHON, "python", "KeyError", "/home/dev/proj/app.py", 38),
    (NODE, "node", "TypeError", "/home/dev/web/server.js", 12),
    (RUST, "rust", "E0308", "src/main.rs", 14),
    (RUST_PANIC, "rust", "panic", "src/parse.rs", 31),
    (GO, "go", "panic", "/home/dev/tool/main.go", 9),
    (GCC, "compiler", "error", "src/list.c", 27),
    (TSC, "compiler", "TS2322", "src/app.ts", 12),
    ("HTTP/1.1 500 Internal Server Error", "http", "HTTP 500", "", 0),
    ("404 Not Found", "http", "HTTP 404", "", 0),
    ("curl: (22) The requested URL returned error: 502", "http", "HTTP 502", "", 0),
])
def test_each_kind_is_found_with_its_innermost_location(text, language, exception, file, line):
    errors = find_errors(text)
    assert [(e.language, e.exception) for e in errors][:1] == [(language, exception)]
    assert (errors[0].file, errors[0].line) == (file, line)


def test_python_traceback_keeps_every_frame_and_the_message():
    (error,) = find_errors(PYTHON)
    assert error.message == "'user_id'"
    assert error.frames == (Frame("/home/dev/proj/app.py", 42, "<module>"),
                            Frame("/home/dev/proj/app.py", 38, "main"))


def test_node_frames_run_outermost_first_like_python():
    (error,) = find_errors(NODE)
    assert error.frames[-1] == Frame("/home/dev/web/server.js", 12, "greet")
    assert error.message == "Cannot read properties of undefined (reading 'toUpperCase')"


def test_pytest_output_is_one_error_per_failure_location():
    errors = find_errors(PYTEST)
    first = errors[0]
    assert (first.language, first.exception, first.file, first.line) == \
        ("test", "AssertionError", "tests/test_stats.py", 11)
    assert errors[0].message == "assert 1 == 2"


def test_ocr_noise_curly_quotes_double_spaces_and_capital_line():
    noisy = ('Traceback (most  recent call last):\n'
             '  File "/srv/app.py",  Line 7,  in load user\n'
             "KeyError:  ‘user id’")
    (error,) = find_errors(noisy)
    assert (error.exception, error.message, error.line) == ("KeyError", "'user id'", 7)
    assert error.frames[-1].function == "load_user"


def test_pytest_location_with_an_underscore_read_as_a_space():
    text = ("tests/test stats.py:11: AssertionError\n"
            "FAILED tests/test_stats.py::test_ median - assert 1 == 2")
    errors = find_errors(text)
    assert [(e.file, e.line) for e in errors] == [("tests/test_stats.py", 11)]


def test_the_same_error_twice_on_screen_is_one():
    assert len(find_errors(PYTHON + "\n" + PYTHON)) == 1


CODE_THAT_MENTIONS_ERRORS = [
    ("""class ParseError(ValueError):\n    pass\n\ndef load(path):\n    try:\n        return read(path)\n"""
     """    except KeyError:\n        raise ParseError(f"no such key in {path}")\n"""),
    """KeyError\nValueError: is what this raises\nreturn Error("bad")""",
    """if (!res.ok) throw new TypeError("bad response: " + res.status);\nconsole.error(err);""",
    """// handles error[E0308] in the docs\nfn main() -> Result<(), Error> {\n    Ok(())\n}""",
    """    if status == 404:\n        return "Not Found"\n    log.error("500 errors: %d", n)""",
    """# see File "x.py", line 3 in the docs\nprint("Traceback (most recent call last):")""",
    """func main() {\n\tpanic("not implemented")\n}""",
    """assert response.status_code == 500, "HTTP/1.1 500 expected"\n""",
]


@pytest.mark.parametrize("text", CODE_THAT_MENTIONS_ERRORS)
def test_code_that_merely_mentions_errors_is_not_an_error(text):
    assert find_errors(text) == []
