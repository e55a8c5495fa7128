"""WarmRunner: pytest runs forked from a pre-started worker, used only where that equals a cold run.

Start-up (interpreter, pytest, the project's third-party imports) is most of a small project's
test time. The worker (tools/pytest_worker.py) pays it once; each run is a fresh fork that
imports the project's own modules itself. `run` returns None — "run it cold" — whenever
equivalence is not proven: a command other than `<python> -m pytest ...`, a worker that is not
ready or found preloading unsafe, `-W`/`-p`-style interpreter flags in the command, a changed
conftest.py or pytest configuration, changed installed packages, or a different environment.
After such a change the worker is restarted in the background, and this run goes cold.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import json
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from tools.process import KILL_GRACE_S, CappedLog, CommandResult, kill_group

SENTINEL = "\0companion:"
CONFIG_FILES = ("pyproject.toml", "pytest.ini", "setup.cfg", "tox.ini")
_SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".mypy_cache"}
# per-run values, and the outer pytest's "current test" when the companion itself runs under it
_PER_RUN_ENV = ("COMPANION_REPORT_JSON", "COMPANION_CHANGED_LINES", "COMPANION_HANG_DUMP",
                "PYTEST_CURRENT_TEST")


def project_fingerprint(root: Path, python: str) -> tuple:
    """What a warm worker depends on: every conftest.py and pytest config file, and the
    interpreter's installed packages (a site-packages directory changes when one is added)."""
    stats = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in _SKIP_DIRS]
        for name in filenames:
            if name == "conftest.py" or (dirpath == str(root) and name in CONFIG_FILES):
                st = os.stat(os.path.join(dirpath, name))
                stats.append((os.path.join(dirpath, name), st.st_mtime_ns, st.st_size))
    prefix = Path(python).resolve().parent.parent
    for site in prefix.glob("lib/python3*/site-packages"):
        stats.append((str(site), site.stat().st_mtime_ns, 0))
    return tuple(sorted(stats))


def third_party_imports(root: Path, limit: int = 2000) -> list[str]:
    """Top-level modules the project imports that do not live in the project itself."""
    own = {p.stem if p.suffix == ".py" else p.name for p in root.iterdir()}
    names: set[str] = set()
    seen = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in _SKIP_DIRS]
        own.update(dirnames)  # a package anywhere in the tree may be on a configured path
        own.update(f[:-3] for f in filenames if f.endswith(".py"))
        for name in filenames:
            if not name.endswith(".py") or seen >= limit:
                continue
            seen += 1
            try:
                tree = ast.parse(Path(dirpath, name).read_bytes())
            except (SyntaxError, ValueError, OSError):
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names.update(a.name.split(".")[0] for a in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module.split(".")[0])
    return sorted(n for n in names - own if n.isidentifier())


def warm_eligible(argv: list[str] | tuple[str, ...], python: str) -> bool:
    """`<python> -m pytest ...` with no interpreter flags and no `-W error`-style options."""
    if len(argv) < 3 or tuple(argv[1:3]) != ("-m", "pytest") or argv[0] != python:
        return False
    return not any(a.startswith("-W") for a in argv[3:])


class WarmRunner:
    """One warm worker for one project root and interpreter; restarted when what it preloaded
    may be stale."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self._proc: asyncio.subprocess.Process | None = None
        self._dir: str | None = None
        self._key: tuple | None = None  # (python, env, fingerprint) the worker was started with
        self._ready = False
        self._starting: asyncio.Task | None = None
        self.unsafe = ""  # why the last worker refused to serve
        self.cold_reason = ""  # why the last run went cold

    async def run(
        self,
        argv: list[str],
        cwd: Path,
        env: dict[str, str],
        config,
        on_line: Callable[[str], None],
        on_start: Callable[[int], None] | None,
        before_kill: Callable[[int], Awaitable[None]] | None = None,
    ) -> CommandResult | None:
        """The run through the worker, or None: run it cold (and the reason is in cold_reason).
        `before_kill(pid)` is awaited on a timeout, before the run is killed."""
        python = argv[0]
        if not warm_eligible(argv, python) or Path(cwd).resolve() != self.root:
            self.cold_reason = "not a plain `python -m pytest` in the project root"
            return None
        base_env = {k: v for k, v in env.items() if k not in _PER_RUN_ENV and k != "PYTHONPATH"}
        key = (python, tuple(sorted(base_env.items())),
               await asyncio.to_thread(project_fingerprint, self.root, python))
        if key != self._key:
            self.cold_reason = "first run" if self._key is None else "configuration changed"
            await self._restart(key, base_env)
            return None
        if not self._ready:
            self.cold_reason = self.unsafe or "the warm worker is still starting"
            return None
        self.cold_reason = ""
        return await self._run(argv, env, config, on_line, on_start, before_kill)

    async def _run(self, argv, env, config, on_line, on_start, before_kill) -> CommandResult | None:
        start = time.monotonic()
        assert self._dir is not None
        try:
            reader, writer = await asyncio.open_unix_connection(os.path.join(self._dir, "sock"))
        except OSError:
            self._ready = False
            self.cold_reason = "the warm worker is gone"
            return None
        path_head = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        request = {"args": argv[3:], "cwd": str(self.root), "env": env, "path_head": path_head}
        writer.write((json.dumps(request) + "\n").encode())
        await writer.drain()
        log = CappedLog(config.output_cap_bytes)
        state = {"pid": 0, "code": None}

        async def read() -> None:
            while raw := await reader.readline():
                line = raw.decode("utf-8", errors="replace").rstrip("\n")
                if line.startswith(SENTINEL + "PID "):
                    state["pid"] = int(line.split()[-1])
                    if on_start is not None:
                        on_start(state["pid"])
                elif line.startswith(SENTINEL + "EXIT "):
                    state["code"] = int(line.split()[-1])
                else:
                    log.add(line + "\n")
                    on_line(line)

        timed_out = False
        task = asyncio.ensure_future(read())
        try:
            await asyncio.wait_for(asyncio.shield(task), config.timeout_s)
        except TimeoutError:
            timed_out = True
            if before_kill is not None:
                await before_kill(state["pid"])
            await self._kill(state["pid"], task)
        except asyncio.CancelledError:
            await asyncio.shield(self._kill(state["pid"], task))
            raise
        finally:
            writer.close()
        if not state["pid"]:
            self._ready = False
            self.cold_reason = "the warm worker did not start the run"
            return None
        code = state["code"]
        output = log.text().removesuffix("\n\n")  # the handler's guard newline before EXIT
        return CommandResult(tuple(argv), None if timed_out else code, output, log.truncated,
                             timed_out, time.monotonic() - start, state["pid"])

    async def _kill(self, pid: int, task: asyncio.Future) -> None:
        if pid:
            kill_group(pid, signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), KILL_GRACE_S)
            kill_group(pid, signal.SIGKILL)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def _restart(self, key: tuple, base_env: dict[str, str]) -> None:
        await self.aclose()
        self._key, self._ready, self.unsafe = key, False, ""
        self._dir = tempfile.mkdtemp(prefix="companion-warm-")
        script = os.path.join(self._dir, "companion_pytest_worker.py")
        shutil.copyfile(Path(__file__).with_name("pytest_worker.py"), script)
        modules = await asyncio.to_thread(third_party_imports, self.root)
        self._proc = await asyncio.create_subprocess_exec(
            key[0], script, os.path.join(self._dir, "sock"), str(self.root), *modules,
            cwd=str(self.root), env=base_env, start_new_session=True,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL)
        self._starting = asyncio.ensure_future(self._await_ready(self._proc))

    async def _await_ready(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        line = (await proc.stdout.readline()).decode(errors="replace").strip()
        if proc is not self._proc:
            return
        if line == "READY":
            self._ready = True
        else:
            self.unsafe = line.removeprefix("UNSAFE ").strip() or "the warm worker failed to start"

    async def wait_ready(self, timeout_s: float = 30.0) -> bool:
        """For tests and benchmarks: wait until a started worker is serving."""
        if self._starting is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._starting), timeout_s)
        return self._ready

    async def aclose(self) -> None:
        proc, self._proc, self._ready = self._proc, None, False
        if self._starting is not None:
            self._starting.cancel()
            self._starting = None
        if proc is not None and proc.returncode is None:
            kill_group(proc.pid, signal.SIGKILL)
            await proc.wait()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

