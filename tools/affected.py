"""Which test files a change affects: those named after the changed module or importing it.

Imports are read with `ast` (nothing is executed) and followed transitively through the project's
own modules, so `tests/test_api.py` counts as affected by `src/pkg/parse.py` when it imports
`pkg.api`, which imports `pkg.parse`. Parsed imports are cached by file mtime.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path, PurePosixPath

SKIP_DIRS = {
    ".git",
    ".hg",
    ".venv",
    "venv",
    "env",
    "node_modules",
    "__pycache__",
    "build",
    "dist",
    "site-packages",
    ".tox",
    ".nox",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
}
MAX_FILE_BYTES = 1_000_000
MAX_FILES = 5000


def is_test_file(rel: str) -> bool:
    name = PurePosixPath(rel).name
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


def dotted_name(rel: str) -> tuple[str, ...]:
    """`src/pkg/parse.py` → ("src", "pkg", "parse"); a package's `__init__.py` is the package."""
    parts = PurePosixPath(rel).with_suffix("").parts
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return tuple(parts)


class ImportIndex:
    """The Python files under a root and the modules each imports (cached by mtime)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self._cache: dict[str, tuple[float, frozenset[tuple[str, ...]]]] = {}

    def python_files(self) -> list[str]:
        found: list[str] = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(
                d for d in dirnames if d not in SKIP_DIRS and not d.startswith(".")
            )
            for name in sorted(filenames):
                if name.endswith(".py"):
                    found.append(Path(dirpath, name).relative_to(self.root).as_posix())
                    if len(found) >= MAX_FILES:
                        return found
        return found

    def imports_of(self, rel: str) -> frozenset[tuple[str, ...]]:
        """Every dotted module name the file imports (for `from a import b`: a and a.b)."""
        path = self.root / rel
        try:
            stat = path.stat()
        except OSError:
            return frozenset()
        cached = self._cache.get(rel)
        if cached and cached[0] == stat.st_mtime:
            return cached[1]
        names: set[tuple[str, ...]] = set()
        if stat.st_size <= MAX_FILE_BYTES:
            try:
                tree = ast.parse(path.read_bytes(), filename=rel)
            except (SyntaxError, ValueError):
                tree = None
            if tree is not None:
                names = _imported_names(tree, dotted_name(rel), rel.endswith("__init__.py"))
        result = frozenset(names)
        self._cache[rel] = (stat.st_mtime, result)
        return result


def _imported_names(tree: ast.AST, here: tuple[str, ...], is_package: bool) -> set[tuple[str, ...]]:
    names: set[tuple[str, ...]] = set()
    package = here if is_package else here[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names.add(tuple(alias.name.split(".")))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
            else:
                base = ()
            module = base + (tuple(node.module.split(".")) if node.module else ())
            if module:
                names.add(module)
            for alias in node.names:
                if alias.name != "*":
                    names.add(module + (alias.name,))
    return names


def _refers_to(imported: tuple[str, ...], target: tuple[str, ...]) -> bool:
    """`pkg.parse` refers to `src/pkg/parse.py`: the import is a suffix of the file's dotted path.

    Suffix matching is what makes src-layout and `sys.path` tweaks work without knowing them.
    """
    return bool(imported) and len(imported) <= len(target) and target[-len(imported) :] == imported


def affected_tests(index: ImportIndex, changed: list[str]) -> list[str]:
    """Test files (relative POSIX paths) affected by the changed files, in a stable order."""
    files = index.python_files()
    tests = [f for f in files if is_test_file(f)]
    changed = [PurePosixPath(c).as_posix() for c in changed]
    chosen: set[str] = {c for c in changed if is_test_file(c) and (index.root / c).is_file()}

    py_changed = [c for c in changed if c.endswith(".py")]
    # modules reached so far: the changed ones, then everything that imports one of them
    reached = {dotted_name(c) for c in py_changed}
    frontier = set(reached)
    modules = {f: dotted_name(f) for f in files if not is_test_file(f)}
    while frontier:
        new: set[tuple[str, ...]] = set()
        for rel, mod in modules.items():
            if mod in reached:
                continue
            if any(_refers_to(imp, tgt) for imp in index.imports_of(rel) for tgt in frontier):
                new.add(mod)
        reached |= new
        frontier = new

    stems = {dotted_name(c)[-1] for c in py_changed if dotted_name(c)}
    for test in tests:
        name = PurePosixPath(test).stem
        named_after = name.removeprefix("test_") in stems or name.removesuffix("_test") in stems
        if named_after or any(
            _refers_to(imp, tgt) for imp in index.imports_of(test) for tgt in reached
        ):
            chosen.add(test)
    return sorted(chosen)
