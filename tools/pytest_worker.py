"""The warm pytest worker: pytest and the project's third-party imports loaded once, a fork per run.

Run as a script under the project's interpreter (stdlib and pytest only; tools/warm_runner.py
copies it to a temporary directory and starts it):

    python companion_pytest_worker.py SOCKET ROOT MODULE...

It imports pytest and the MODULEs with the project directory kept off sys.path, refuses to
serve (prints "UNSAFE reason") when a project module got imported anyway or a thread is running
(a fork would copy it half-alive), then prints "READY" and serves one connection per run: a JSON
line {"args", "cwd", "env", "path_head"} in; out comes "\\0companion:PID n", the run's output,
and "\\0companion:EXIT code". Each run is a fresh grandchild in its own session (so the client
can kill its whole group) that imports the project's modules itself. The worker exits when its
stdin closes, so it never outlives the companion.
"""

from __future__ import annotations

import importlib
import json
import os
import select
import signal
import socket
import sys
import threading

SENTINEL = "\0companion:"


def _inside(path: str | None, root: str) -> bool:
    return bool(path) and os.path.realpath(path).startswith(root + os.sep)


def preload(root: str, modules: list[str]) -> str:
    """Import pytest and `modules` without the project on sys.path; "" or why it is unsafe."""
    sys.path[:] = [p for p in sys.path if p and os.path.realpath(p) != root
                   and not _inside(p, root) and p != os.path.dirname(os.path.abspath(__file__))]
    from importlib.metadata import entry_points

    import pytest  # noqa: F401 — the point is to have it loaded before the fork
    from _pytest.config import default_plugins

    # what every run imports anyway: pytest's own plugins, and what installed pytest11 plugins
    # import — not the plugins themselves: pytest rewrites their asserts when it imports them
    eps = list(entry_points(group="pytest11"))
    plugins = [ep.value.split(":")[0] for ep in eps]
    # pytest marks every module of a distribution with a pytest11 plugin for assert rewriting;
    # importing one of those early would change how its asserts behave, so they are left alone
    rewritten = {p.split(".")[0] for p in plugins}
    for ep in eps:
        for file in (ep.dist.files or []) if ep.dist else []:
            parts = str(file).split("/")
            if parts[0].endswith((".dist-info", ".egg-info", ".data")) or parts[0] == "..":
                continue
            rewritten.add(parts[0].removesuffix(".py"))
    preload = [f"_pytest.{name}" for name in default_plugins]
    preload += _imports_of(plugins, rewritten)
    preload = _clean(preload + [m for m in modules if m not in rewritten], rewritten)
    for name in preload:
        try:
            importlib.import_module(name)
        except BaseException:  # noqa: BLE001 — a module that cannot load is left to the child
            sys.modules.pop(name, None)
    for name, module in list(sys.modules.items()):
        if _inside(getattr(module, "__file__", None), root):
            return f"{name} is the project's own code but was imported while preloading"
    if threading.active_count() != 1:
        return f"preloading started {threading.active_count() - 1} thread(s)"
    return ""


def _clean(candidates: list[str], rewritten: set[str]) -> list[str]:
    """The candidates whose import pulls in no module pytest would rewrite, found by importing
    them in forked probes (a module imported here cannot be un-imported)."""
    remaining = list(candidates)
    while True:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            bad = -1
            for i, name in enumerate(remaining):
                try:
                    importlib.import_module(name)
                except BaseException:  # noqa: BLE001, S110 — the real preload skips it too
                    pass
                if any(m.split(".")[0] in rewritten for m in sys.modules):
                    bad = i
                    break
            os.write(write_end, str(bad).encode())
            os._exit(0)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as handle:
            answer = handle.read()
        os.waitpid(pid, 0)
        bad = int(answer or b"-1")
        if bad < 0:
            return remaining
        del remaining[bad]


def _imports_of(modules: list[str], exclude: set[str]) -> list[str]:
    """Top-level modules imported by `modules`' source files (without importing them)."""
    import ast
    import importlib.util

    found: list[str] = []
    for name in modules:
        # find_spec of a dotted name imports its package, so the file is found by hand
        top, *rest = name.split(".")
        try:
            spec = importlib.util.find_spec(top)
            path = spec.origin  # type: ignore[union-attr]
            if rest:
                search = next(iter(spec.submodule_search_locations))  # type: ignore[union-attr]
                base = os.path.join(search, *rest)
                path = base + ".py" if os.path.exists(base + ".py") else base + "/__init__.py"
            with open(path, "rb") as handle:
                tree = ast.parse(handle.read())
        except Exception:  # noqa: BLE001, S112 — an unreadable plugin just preloads nothing
            continue
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module.split(".")[0]]
            found += [n for n in names if n not in exclude and n not in found]
    return found


def run_child(conn: socket.socket, request: dict) -> None:
    """In the forked grandchild: become the run, as `python -m pytest ARGS` in `cwd` would be."""
    os.setsid()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    conn.sendall(f"{SENTINEL}PID {os.getpid()}\n".encode())
    fd = conn.fileno()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)  # as the cold run's stdin
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    # `python -m` puts the working directory first; PYTHONPATH entries come next
    sys.path[:0] = [request["cwd"], *request["path_head"]]
    sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
    sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)
    import pytest

    sys.argv = [os.path.join(os.path.dirname(pytest.__file__), "__main__.py"), *request["args"]]
    code = 1
    try:
        code = int(pytest.main(request["args"]))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def handle(conn: socket.socket) -> None:
    """In the forked handler: read the request, fork the run, report how it ended."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            os._exit(0)
        data += chunk
    request = json.loads(data)
    pid = os.fork()
    if pid == 0:
        run_child(conn, request)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    try:
        conn.sendall(f"\n{SENTINEL}EXIT {code}\n".encode())
    finally:
        os._exit(0)


def serve(path: str) -> None:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(8)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # handlers are reaped by the kernel
    print("READY", flush=True)
    while True:
        ready, _, _ = select.select([server, sys.stdin], [], [])
        if sys.stdin in ready and not sys.stdin.buffer.read1(1):
            return  # the companion went away
        if server in ready:
            conn, _ = server.accept()
            if os.fork() == 0:
                server.close()
                handle(conn)
            conn.close()


def main() -> None:
    path, root, *modules = sys.argv[1:]
    reason = preload(os.path.realpath(root), modules)
    if reason:
        print(f"UNSAFE {reason}", flush=True)
        return
    serve(path)


if __name__ == "__main__":
    main()
