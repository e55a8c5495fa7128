"""The screens the screen-reading benchmark renders: errors of each kind and code that only mentions errors.

Each scene is the exact text a window shows and the errors it holds as (language, file, line).
Written for this benchmark (none of it is training data).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scene:
    name: str
    text: str
    errors: tuple[tuple[str, str, int], ...]  # (language, file, line) of each error on screen


SCENES = (
    Scene("python-traceback", """$ python billing/app.py
Traceback (most recent call last):
  File "/home/dev/shop/billing/app.py", line 58, in <module>
    report = monthly_report(orders)
  File "/home/dev/shop/billing/app.py", line 31, in monthly_report
    total += order["amount_cents"] / rates[order["currency"]]
KeyError: 'currency'
$ """, (("python", "/home/dev/shop/billing/app.py", 31),)),
    Scene("python-nested", """$ python -m inventory.sync
Traceback (most recent call last):
  File "/usr/lib/python3.11/runpy.py", line 198, in _run_module_as_main
    return _run_code(code, main_globals, None,
  File "/home/dev/shop/inventory/sync.py", line 77, in <module>
    sync_all(load_config("sync.toml"))
  File "/home/dev/shop/inventory/sync.py", line 49, in sync_all
    batch = items[offset:offset + size]
TypeError: unsupported operand type(s) for +: 'int' and 'str'
$ """, (("python", "/home/dev/shop/inventory/sync.py", 49),)),
    Scene("node-stack", """$ node server.js
/home/dev/web/server.js:12
    return user.name.toUpperCase();
                     ^

TypeError: Cannot read properties of undefined (reading 'toUpperCase')
    at greet (/home/dev/web/server.js:12:22)
    at handle (/home/dev/web/routes.js:40:10)
    at Object.<anonymous> (/home/dev/web/server.js:20:1)

Node.js v18.19.0
$ """, (("node", "/home/dev/web/server.js", 12),)),
    Scene("rust-compile", """$ cargo build
   Compiling ledger v0.3.1 (/home/dev/ledger)
error[E0308]: mismatched types
  --> src/ledger.rs:88:27
   |
88 |     let balance: u64 = entry.amount - fee;
   |                  ---   ^^^^^^^^^^^^^^^^^^ expected `u64`, found `i64`
   |                  |
   |                  expected due to this

error: could not compile `ledger` (bin "ledger") due to 1 previous error
$ """, (("rust", "src/ledger.rs", 88),)),
    Scene("go-panic", """$ go run ./cmd/tool
panic: runtime error: index out of range [5] with length 3

goroutine 1 [running]:
main.pick(...)
        /home/dev/tool/cmd/tool/main.go:19
main.main()
        /home/dev/tool/cmd/tool/main.go:27 +0x1d
exit status 2
$ """, (("go", "/home/dev/tool/cmd/tool/main.go", 19),)),
    Scene("c-compile", """$ make
cc -O2 -Wall -c src/list.c -o build/list.o
src/list.c:27:5: error: use of undeclared identifier 'lenght'
    lenght = count_nodes(head);
    ^
1 error generated.
make: *** [Makefile:9: build/list.o] Error 1
$ """, (("compiler", "src/list.c", 27),)),
    Scene("pytest-failure", """$ pytest -q tests/test_stats.py
F.                                                                  [100%]
=================================== FAILURES ===================================
_________________________________ test_median __________________________________

    def test_median():
>       assert median([3, 1, 2]) == 2
E       assert 1 == 2
E        +  where 1 = median([3, 1, 2])

tests/test_stats.py:11: AssertionError
=========================== short test summary info ============================
FAILED tests/test_stats.py::test_median - assert 1 == 2
1 failed, 1 passed in 0.03s""", (("test", "tests/test_stats.py", 11),)),
    Scene("http-500", """$ curl -i http://localhost:8000/api/orders
HTTP/1.1 500 Internal Server Error
content-type: text/html; charset=utf-8
content-length: 141

<html><title>500 Internal Server Error</title>
<h1>Internal Server Error</h1>
$ """, (("http", "", 0),)),
    # screens with no error: code and logs that merely contain the word "Error"
    Scene("code-errors-class", """class ParseError(ValueError):
    \"\"\"Raised when a config line cannot be parsed.\"\"\"


def parse_line(line: str) -> tuple[str, str]:
    try:
        key, value = line.split("=", 1)
    except ValueError:
        raise ParseError(f"no '=' in {line!r}")
    if not key.strip():
        raise KeyError("empty key")
    return key.strip(), value.strip()
""", ()),
    Scene("code-rust-error-type", """use std::fmt;

#[derive(Debug)]
pub enum LedgerError {
    Overdrawn { needed: u64 },
    UnknownAccount(String),
}

impl fmt::Display for LedgerError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "ledger error: {:?}", self)
    }
}
""", ()),
    Scene("log-no-errors", """$ make test
ok   shop/billing     0.412s
ok   shop/inventory   0.233s
Errors: 0, Warnings: 2
TypeError handling covered by test_types.py
All 48 checks passed (error rate 0.00%)
$ """, ()),
    Scene("js-throws", """export async function load(url) {
  const res = await fetch(url);
  if (!res.ok) {
    throw new TypeError(`bad response: ${res.status}`);
  }
  return res.json().catch((error) => {
    console.error("Error: could not parse", error);
    return null;
  });
}
""", ()),
)
