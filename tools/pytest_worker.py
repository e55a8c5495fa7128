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
    import pytest  # noqa: F401 — the point is to have it loaded before the fork
    import _pytest.python  # noqa: F401
    import _pytest.assertion.rewrite  # noqa: F401

    for name in modules:
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
