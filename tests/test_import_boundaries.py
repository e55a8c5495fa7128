"""The package graph of DESIGN §3 and §13, checked on the source: who may import what.

Four checks, all on the AST (nothing is imported):
- process boundaries: `companion` never imports torch, triton, model_server or kernels; the
  engine side never imports textual;
- the package DAG: every import between the project's packages is an edge declared in `LAYERS`
  (each package lists the packages it may import; the declared graph has no cycle);
- no import cycle between modules at run time (function-level imports count, imports under
  `if TYPE_CHECKING:` do not);
- a project import inside a function is allowed only where it defers a heavy or optional
  dependency (a device stack, torch), said by a `# deferred: <why>` comment on the import or the
  line above it. (Third-party imports inside functions are that deferral itself.)
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ("companion", "model_server", "kernels", "tools", "themes", "benchmarks")

FORBIDDEN = {
    "companion": {"torch", "triton", "model_server", "kernels", "benchmarks", "tests"},
    "model_server": {"textual", "benchmarks", "tests"},
    "kernels": {"textual", "companion", "benchmarks", "tests"},
    "tools": {"textual", "torch", "triton", "benchmarks", "tests"},
    "themes": {"companion", "textual"},
}

# Each package and the project packages it may import (its own modules always). A module belongs
# to the longest package named here that contains it. In data-path order (docs/structure.md).
LAYERS: dict[str, set[str]] = {
    "themes": set(),
    "kernels": set(),
    # the wire contract and what never reaches the model: events, the token protocol, the clock,
    # the hub, redaction and ignore rules
    "companion.core": set(),
    # the agent's tools redact what they report and read only what the ignore rules allow
    "tools": {"companion.core"},
    "companion.audio": set(),
    # the screen reader pins a screen traceback with the agent's localization (tools/localize.py)
    "companion.streams": {"companion.core", "companion.audio", "tools"},
    "companion.voice": {"companion.core", "companion.audio"},
    "companion.model": {"companion.core", "tools"},  # the action grammar comes from the registry
    "companion.agent": {"companion.core", "companion.rules", "tools"},
    "companion.rules": {"companion.core", "themes"},
    "companion.record": {"companion.core"},
    # the composition root (runtime, perception, headless, cli, doctor) builds every stage
    "companion": {"companion.core", "companion.streams", "companion.voice", "companion.model",
                  "companion.agent", "companion.rules", "companion.record", "companion.tui"},
    "companion.tui": {"companion.core", "companion.rules"},
    # the engine: nothing from companion (the wire format reaches it as token ids and JSON)
    "model_server": {"kernels"},  # the triton backend, through importlib when selected
    # training data comes from the product's own code paths (DESIGN §7): it may use the
    # companion's stages, never its TUI or composition root
    "model_server.training": {"model_server", "companion.core", "companion.audio",
                              "companion.streams", "companion.voice", "companion.model",
                              "companion.agent", "tools"},
}


# model_server/training is being rewritten beside this layout (training data v2); until that
# lands, its deferred imports and its one cycle are listed here rather than edited under it.
TRAINING_DEFERRED = {
    "model_server/training/__main__.py",  # each subcommand loads only its own stack (torch)
    "model_server/training/evaluate.py",
    "model_server/training/v2/oracle.py",  # breaks the episodes -> sessions cycle below
    "model_server/training/v2/sessions.py",
    "model_server/training/v2/speech.py",  # espeak-ng and the recognizer load on first use
}
# function-level imports that break cycles through episodes (episodes imports sessions at the top)
KNOWN_CYCLE_BREAKS = {("model_server.training.v2.sessions", "model_server.training.v2.episodes"),
                      ("model_server.training.v2.oracle", "model_server.training.v2.episodes")}


@dataclass(frozen=True, slots=True)
class Import:
    module: str  # the imported module, absolute
    line: int
    in_function: bool
    deferred: bool
    type_only: bool  # under `if TYPE_CHECKING:`  # a `# deferred: why` comment on the line or the one above


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, root: Path = ROOT) -> Iterator[Import]:
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def deferred(lineno: int) -> bool:
        """A `# deferred:` comment on the import or above the run of imports it belongs to."""
        if "# deferred:" in lines[lineno - 1]:
            return True
        above = lineno - 2
        while above >= 0 and lines[above].strip().startswith(("from ", "import ")):
            if "# deferred:" in lines[above]:
                return True
            above -= 1
        return above >= 0 and lines[above].strip().startswith("# deferred:")

    def visit(node: ast.AST, in_function: bool, type_only: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            typing = type_only or (isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(
                child.test))
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield Import(alias.name, child.lineno, in_function, deferred(child.lineno),
                                 type_only)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[:len(package.split(".")) - child.level + 1]
                    base = ".".join(anchor + ([child.module] if child.module else []))
                for alias in child.names:  # `from pkg import module` imports pkg.module
                    yield Import(f"{base}.{alias.name}" if base else alias.name, child.lineno,
                                 in_function, deferred(child.lineno), type_only)
            yield from visit(child, inside, typing)

    yield from visit(ast.parse(source, filename=str(path)), False, False)


def project_files() -> list[Path]:
    return sorted(p for top in PROJECT for p in (ROOT / top).rglob("*.py"))


def resolve(imported: str, modules: set[str]) -> str | None:
    """The project module an import names (`from pkg import name` may name a module or not)."""
    while imported:
        if imported in modules:
            return imported
        imported = imported.rpartition(".")[0]
    return None


def layer_of(module: str) -> str | None:
    """The longest package in LAYERS that holds `module`."""
    holders = [layer for layer in LAYERS if module == layer or module.startswith(layer + ".")]
    return max(holders, key=len, default=None)


def module_graph() -> tuple[dict[str, set[str]], dict[str, list[tuple[Import, str]]]]:
    """Module -> the project modules it imports at run time; and each module's project imports
    (type-only ones too)."""
    files = {module_name(p): p for p in project_files()}
    graph: dict[str, set[str]] = {m: set() for m in files}
    found: dict[str, list[tuple[Import, str]]] = {m: [] for m in files}
    for name, path in files.items():
        for imp in imports_of(path):
            target = resolve(imp.module, set(files))
            if target is not None and target != name:
                if not imp.type_only:
                    graph[name].add(target)
                found[name].append((imp, target))
    return graph, found


def top_level_names(path: Path) -> set[str]:
    return {imp.module.split(".")[0] for imp in imports_of(path)}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_does_not_import_across_its_boundary(package):
    offenders = []
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package}/ has no Python files"
    for path in files:
        if package == "model_server" and "training" in path.relative_to(ROOT).parts:
            continue  # the training package is checked by the DAG below
        bad = top_level_names(path) & FORBIDDEN[package]
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert not offenders, "\n".join(offenders)


def test_declared_package_graph_is_acyclic():
    assert find_cycle({layer: {d for d in deps if d != layer} for layer, deps in LAYERS.items()}) \
        is None


def test_every_import_between_packages_is_a_declared_edge():
    _, found = module_graph()
    offenders = []
    for name, imports in found.items():
        source = layer_of(name)
        if source is None or source == "benchmarks":
            continue
        for imp, target in imports:
            target_layer = layer_of(target)
            if target_layer is None or target_layer == source or target_layer in LAYERS[source]:
                continue
            offenders.append(f"{name}:{imp.line} imports {target} ({source} -> {target_layer})")
    assert not offenders, "undeclared package edges:\n" + "\n".join(offenders)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` as a path that returns to its start, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycle_between_modules():
    graph, _ = module_graph()
    for source, target in KNOWN_CYCLE_BREAKS:
        graph[source].discard(target)
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_function_level_imports_only_defer_heavy_dependencies():
    offenders = []
    for path in project_files():
        relative = path.relative_to(ROOT)
        if relative.parts[0] == "benchmarks" or relative.as_posix() in TRAINING_DEFERRED:
            continue
        for imp in imports_of(path):
            if imp.in_function and not imp.deferred and imp.module.split(".")[0] in PROJECT:
                offenders.append(f"{path.relative_to(ROOT)}:{imp.line} imports {imp.module}")
    assert not offenders, ("imports inside functions without a `# deferred: why` comment:\n"
                           + "\n".join(offenders))


def test_checker_sees_imports(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import torch.nn\nfrom textual.app import App\nfrom . import sibling\n\n"
                      "def f():\n    # deferred: heavy\n    import numpy\n    x = 1\n    import json\n")
    found = list(imports_of(sample, tmp_path))
    assert {imp.module.split(".")[0] for imp in found if not imp.in_function} == \
        {"torch", "textual", "sibling"}
    assert [(imp.module, imp.deferred) for imp in found if imp.in_function] == \
        [("numpy", True), ("json", False)]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None

