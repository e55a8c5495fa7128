"""A real-code project for the bug-report benchmark: stdlib modules with regression tests.

Three pure-Python standard-library modules are copied from the running interpreter (colorsys
whole; bisect and heapq without the lines that swap in their C accelerators) under `mini_*`
names so they never collide with the stdlib copies pytest itself has imported. Each test asserts
one call's result, computed here by the real stdlib, so every test is a comparison with a known
expected value. Not CompanionBench's scenario code (benchmarks/heldout.py).
"""

from __future__ import annotations

import bisect
import colorsys
import heapq
import inspect
from pathlib import Path

from benchmarks.sample_project import git

BISECT_CASES = [
    ("bisect_left", ([1, 2, 2, 3, 5], 2), {}), ("bisect_left", ([1, 2, 2, 3, 5], 4), {}),
    ("bisect_left", ([1, 3, 5, 7], 0), {}), ("bisect_left", ([1, 3, 5, 7], 9), {}),
    ("bisect_left", ([1, 3, 5, 7, 9], 5), {"lo": 1, "hi": 4}),
    ("bisect_left", ([(1, "a"), (2, "b"), (4, "c")], 2), {"key": "first"}),
    ("bisect_right", ([1, 2, 2, 3, 5], 2), {}), ("bisect_right", ([1, 2, 2, 3, 5], 0), {}),
    ("bisect_right", ([1, 3, 5, 7], 7), {}), ("bisect_right", ([1, 3, 5, 7, 9], 5), {"lo": 2}),
    ("bisect_right", ([(1, "a"), (2, "b"), (4, "c")], 2), {"key": "first"}),
]
INSORT_CASES = [("insort_left", [1, 2, 4], 3), ("insort_right", [1, 2, 2, 4], 2),
                ("insort_left", [], 1), ("insort_right", [5, 6], 9)]
HEAP_INPUTS = [[5, 3, 8, 1, 9, 2, 7], [4, 4, 1, 0, 3], [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]]
COLOR_CASES = [
    ("rgb_to_yiq", (0.2, 0.4, 0.6)), ("yiq_to_rgb", (0.5, 0.1, -0.1)),
    ("yiq_to_rgb", (0.9, 0.5, 0.5)), ("yiq_to_rgb", (0.1, -0.6, 0.5)),
    ("rgb_to_hls", (0.2, 0.4, 0.6)), ("rgb_to_hls", (0.9, 0.1, 0.3)), ("rgb_to_hls", (0.5, 0.5, 0.5)),
    ("rgb_to_hls", (0.8, 0.7, 0.1)), ("rgb_to_hls", (0.1, 0.9, 0.95)),
    ("hls_to_rgb", (0.3, 0.4, 0.5)), ("hls_to_rgb", (0.7, 0.8, 0.6)), ("hls_to_rgb", (0.1, 0.5, 0.0)),
    ("hls_to_rgb", (0.95, 0.2, 0.9)),
    ("rgb_to_hsv", (0.2, 0.4, 0.6)), ("rgb_to_hsv", (0.9, 0.1, 0.3)), ("rgb_to_hsv", (0.0, 0.0, 0.0)),
    ("rgb_to_hsv", (0.8, 0.7, 0.1)), ("rgb_to_hsv", (0.1, 0.9, 0.95)),
    ("hsv_to_rgb", (0.05, 0.5, 0.8)), ("hsv_to_rgb", (0.25, 0.5, 0.8)), ("hsv_to_rgb", (0.45, 0.5, 0.8)),
    ("hsv_to_rgb", (0.6, 0.5, 0.8)), ("hsv_to_rgb", (0.75, 0.5, 0.8)), ("hsv_to_rgb", (0.95, 0.5, 0.8)),
    ("hsv_to_rgb", (0.3, 0.0, 0.4)),
]


def _module_source(module, stop: str | None = None) -> str:
    text = inspect.getsource(module)
    return text[: text.index(stop)] if stop else text


def _call(name: str, args: tuple, kwargs: dict) -> str:
    parts = [repr(a) for a in args]
    parts += ["key=first" if k == "key" else f"{k}={v!r}" for k, v in kwargs.items()]
    return f"{name}({', '.join(parts)})"


def _bisect_tests() -> str:
    out = ["from mini_bisect import bisect_left, bisect_right, insort_left, insort_right\n\n",
           "def first(pair):\n    return pair[0]\n"]
    for i, (name, args, kwargs) in enumerate(BISECT_CASES):
        real = {k: (lambda p: p[0]) if k == "key" else v for k, v in kwargs.items()}
        expected = getattr(bisect, name)(*args, **real)
        out.append(f"\n\ndef test_{name}_{i}():\n    assert {_call(name, args, kwargs)} == {expected!r}\n")
    for i, (name, items, x) in enumerate(INSORT_CASES):
        expected = list(items)
        getattr(bisect, name)(expected, x)
        out.append(f"\n\ndef test_{name}_{i}():\n    a = {items!r}\n    {name}(a, {x!r})\n"
                   f"    assert a == {expected!r}\n")
    return "".join(out)


def _heap_tests() -> str:
    out = [("from mini_heapq import heapify, heappop, heappush, heappushpop, heapreplace, merge, "
            "nlargest, nsmallest\n\n\ndef drain(heap):\n"
            "    return [heappop(heap) for _ in range(len(heap))]\n")]
    for i, items in enumerate(HEAP_INPUTS):
        h = list(items)
        heapq.heapify(h)
        out.append(f"\n\ndef test_heapify_{i}():\n    h = {items!r}\n    heapify(h)\n    assert h == {h!r}\n")
        out.append(f"\n\ndef test_heap_sort_{i}():\n    h = []\n    for x in {items!r}:\n"
                   f"        heappush(h, x)\n    assert drain(h) == {sorted(items)!r}\n")
        for n in (1, 3):
            out.append(f"\n\ndef test_nsmallest_{i}_{n}():\n    assert nsmallest({n}, {items!r}) == "
                       f"{heapq.nsmallest(n, items)!r}\n")
            out.append(f"\n\ndef test_nlargest_{i}_{n}():\n    assert nlargest({n}, {items!r}) == "
                       f"{heapq.nlargest(n, items)!r}\n")
        h = sorted(items)
        out.append(f"\n\ndef test_heappushpop_{i}():\n    h = {h!r}\n    assert heappushpop(h, 6) == "
                   f"{heapq.heappushpop(list(h), 6)!r}\n")
        out.append(f"\n\ndef test_heapreplace_{i}():\n    h = {h!r}\n    assert heapreplace(h, 6) == "
                   f"{heapq.heapreplace(list(h), 6)!r}\n")
    merged = list(heapq.merge([1, 4, 7], [2, 5, 8], [3, 6]))
    out.append(f"\n\ndef test_merge():\n    assert list(merge([1, 4, 7], [2, 5, 8], [3, 6])) == {merged!r}\n")
    return "".join(out)


def _color_tests() -> str:
    names = sorted({name for name, _ in COLOR_CASES})
    out = [f"from mini_colorsys import {', '.join(names)}\n"]
    for i, (name, args) in enumerate(COLOR_CASES):
        expected = getattr(colorsys, name)(*args)
        out.append(f"\n\ndef test_{name}_{i}():\n    assert {name}{args!r} == {expected!r}\n")
    return "".join(out)


PYPROJECT = '[tool.pytest.ini_options]\npythonpath = ["."]\ntestpaths = ["tests"]\n'


def make_project(root: str | Path) -> Path:
    """Write and commit the project; returns its root."""
    root = Path(root)
    (root / "tests").mkdir(parents=True, exist_ok=True)
    files = {
        "mini_bisect.py": _module_source(bisect, "\n# Overwrite above definitions"),
        "mini_heapq.py": _module_source(heapq, "\n# If available, use C implementation"),
        "mini_colorsys.py": _module_source(colorsys),
        "pyproject.toml": PYPROJECT,
        "tests/test_mini_bisect.py": _bisect_tests(),
        "tests/test_mini_heapq.py": _heap_tests(),
        "tests/test_mini_colorsys.py": _color_tests(),
    }
    for rel, text in files.items():
        (root / rel).write_text(text)
    git(root, "init", "-q", "-b", "main")
    git(root, "-c", "user.name=Bench", "-c", "user.email=bench@example.com", "add", "-A")
    git(root, "-c", "user.name=Bench", "-c", "user.email=bench@example.com",
        "-c", "commit.gpgsign=false", "commit", "-q", "-m", "stdlib modules with tests")
    return root
