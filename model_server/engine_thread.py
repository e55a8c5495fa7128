"""Engine: the engine core's step loop on its own thread. The HTTP server hands it work through
a queue and gets concurrent.futures results back; a request in flight always gets an answer
(its result, its error, or 503 at shutdown), never a hang."""

from __future__ import annotations

import concurrent.futures
import logging
import queue
import threading
from typing import TYPE_CHECKING

from model_server.core import Req, RequestError

if TYPE_CHECKING:
    from model_server.engine import EngineCore

log = logging.getLogger("model_server.engine")


class Engine:
    """The step loop on its own thread. Other threads (the asyncio server) hand it work
    through a queue and get concurrent.futures.Future results back."""

    def __init__(self, core: EngineCore, idle_poll_s: float = 1.0):
        self.core = core
        self._inbox: queue.Queue = queue.Queue()
        self._futures: dict[int, concurrent.futures.Future] = {}
        self._idle_poll_s = idle_poll_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="model_server-engine",
                                        daemon=True)

    def start(self) -> Engine:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the loop; requests still in flight end with an error at once (a prompt
        shutdown: no HTTP handler is left waiting for a step that will never run)."""
        self._stop.set()
        self._inbox.put(None)
        self._thread.join(timeout=10)
        for fut in list(self._futures.values()):
            if not fut.done():
                fut.set_exception(RequestError(503, "the server is shutting down"))
        self._futures.clear()
        while True:
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                break
            fut = item[2] if item is not None else None
            if item is not None and item[0] == self._admit:
                fut = item[1][1]
            if fut is not None and not fut.done():
                fut.set_exception(RequestError(503, "the server is shutting down"))

    def call(self, fn, *args) -> concurrent.futures.Future:
        """Run fn(*args) on the engine thread between steps."""
        fut: concurrent.futures.Future = concurrent.futures.Future()
        self._inbox.put((fn, args, fut))
        return fut

    def submit(self, req: Req) -> concurrent.futures.Future:
        """Admit req; the future resolves to the finished Req (or a RequestError)."""
        fut: concurrent.futures.Future = concurrent.futures.Future()
        self._inbox.put((self._admit, (req, fut), None))
        return fut

    def _admit(self, req: Req, fut: concurrent.futures.Future) -> None:
        try:
            self.core.add_request(req)
        except Exception as e:  # noqa: BLE001 (RequestError → 4xx; others → 500, never a hang)
            fut.set_exception(e)
            return
        self._futures[id(req)] = fut

    def _close(self, session_id: str) -> None:
        for req in self.core.close_session(session_id):
            self._futures.pop(id(req)).set_result(req)

    def close_session(self, session_id: str) -> concurrent.futures.Future:
        return self.call(self._close, session_id)

    def _run(self, item) -> None:
        fn, args, fut = item
        try:
            result = fn(*args)
        except Exception as e:  # handed to the caller, who turns it into an HTTP error
            if fut is None:
                log.exception("engine command failed")
            else:
                fut.set_exception(e)
            return
        if fut is not None:
            fut.set_result(result)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                item = self._inbox.get(timeout=0 if self.core.has_work() else self._idle_poll_s)
                while item is not None:
                    self._run(item)
                    item = self._inbox.get_nowait()
            except queue.Empty:
                pass
            self.core.expire_idle()
            if self.core.has_work():
                try:
                    self._step()
                except Exception as e:  # (a bug outside the step: never a hang)
                    log.exception("engine loop failed")
                    self._fail_all(f"engine failed: {type(e).__name__}: {e}")

    def _fail_all(self, why: str) -> None:
        sched = self.core.scheduler
        for req in list(sched.waiting) + list(sched.running):
            sched.remove(req)
            s = self.core.sessions.sessions.get(req.session_id)
            if s is not None:
                self.core.sessions.close(s.id)
        for fut in self._futures.values():
            fut.set_exception(RequestError(500, f"{why}; open a new session"))
        self._futures.clear()

    def _step(self) -> None:
        for req in self.core.step():
            fut = self._futures.pop(id(req), None)
            if fut is None:
                continue
            if req.error is not None:
                fut.set_exception(RequestError(500, f"request {req.rid!r} failed: {req.error}"))
            else:
                fut.set_result(req)
