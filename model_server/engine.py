"""The engine: admission of requests into sessions, the step (one batched forward), and the
step loop thread the HTTP server submits work to."""

from __future__ import annotations

import concurrent.futures
import functools
import logging
import queue
import threading
import time
from dataclasses import dataclass

import torch

from model_server.attention import select_attention
from model_server.core import EngineOptions, Req, RequestError
from model_server.kv_cache import BlockPool, KVCache, evict_rows
from model_server.loader import LoadedModel
from model_server.models.decoder import forward
from model_server.models.layers import RopeTable
from model_server.sampler import check_stop, make_generator, sample
from model_server.scheduler import Scheduler, build_batch
from model_server.session import Session, SessionTable, drop_turns

log = logging.getLogger("model_server.engine")

LINEAR_TILE = 16  # rows per GEMM call in batch-invariant mode


@dataclass(slots=True)
class StepStats:
    steps: int = 0
    step_s: float = 0.0  # whole steps
    forward_s: float = 0.0  # the model forward inside them


class EngineCore:
    """Sessions, KV cache and scheduler, driven synchronously: add_request(), step()."""

    def __init__(self, model: LoadedModel, opts: EngineOptions):
        self.model, self.opts, self.cfg = model, opts, model.config
        per_block = KVCache.bytes_per_block(self.cfg, opts.block_size, model.dtype)
        num_blocks = max(1, int(opts.kv_budget_mb * 2**20) // per_block)
        self.kv = KVCache.create(self.cfg, num_blocks, opts.block_size, model.dtype, model.device)
        self.pool = BlockPool(num_blocks)
        self.sessions = SessionTable(self.pool, opts.block_size, opts.max_sessions,
                                     opts.session_ttl_s, opts.window_tokens)
        self.scheduler = Scheduler(opts.max_step_tokens)
        self.attention = functools.partial(
            select_attention(opts.attention_backend, opts.batch_invariant),
            split_size=opts.split_size)
        self.tile = LINEAR_TILE if opts.batch_invariant else 0
        self.max_position = self.cfg.max_position
        self.rope = RopeTable.create(self.cfg.head_dim, self.cfg.rope_theta, self.cfg.rope_scaling,
                                     self.max_position, torch.float32, model.device)
        self.stats = StepStats()

    def has_work(self) -> bool:
        return self.scheduler.has_work()

    def add_request(self, req: Req) -> None:
        """Admit req into its session, or raise RequestError and change nothing it owns."""
        if req.session_id is None:
            s = self.sessions.open(temporary=True)
            req.session_id = s.id
            try:
                self._admit(req, s)
            except RequestError:
                self.sessions.close(s.id)
                raise
        else:
            self._admit(req, self.sessions.get(req.session_id))

    def _admit(self, req: Req, s: Session) -> None:
        if s.busy:
            raise RequestError(409, f"session {s.id!r} is still running request "
                                    f"{s.last_rid!r}; wait for it before appending")
        if s.last_rid is not None and req.prev_rid != s.last_rid:
            raise RequestError(400, f"session_params.rid {req.prev_rid!r} is not the last "
                                    f"request of session {s.id!r} ({s.last_rid!r}); a "
                                    "streaming session only appends to its last turn")
        if s.last_rid is None and req.prev_rid is not None:
            raise RequestError(400, f"session_params.rid {req.prev_rid!r}: session {s.id!r} "
                                    "has no request yet; send rid null for its first turn")
        n_input = len(req.input_ids)
        if n_input > self.opts.max_chunk_tokens:
            raise RequestError(413, f"chunk of {n_input} tokens is over the limit of "
                                    f"{self.opts.max_chunk_tokens} tokens per request")
        pin = req.pin if req.pin is not None else s.kv_len == 0 and not s.pending
        if pin and s.kv_len > s.pinned_len:
            raise RequestError(400, "session_params.pin: only a session that holds nothing "
                                    "but its pinned prefix can pin more")
        feed = s.pending + req.input_ids
        writes = len(feed) + max(req.sampling.max_new_tokens - 1, 0)
        if not pin:
            if writes > s.window:
                raise RequestError(413, f"chunk ({len(feed)} tokens) + max_new_tokens "
                                        f"({req.sampling.max_new_tokens}) is over the "
                                        f"session window of {s.window} tokens")
            self._make_room(s, writes)
        if s.kv_len + writes > self.max_position:
            raise RequestError(413, f"session would reach {s.kv_len + writes} positions, over "
                                    f"the model's {self.max_position}")
        generator = make_generator(req.sampling)
        self.sessions.reserve(s, s.kv_len + writes)
        req.prompt_tokens = s.total_tokens + n_input
        req.cached_tokens = s.evicted_tokens + s.kv_len
        if pin:
            s.pinned_len = s.kv_len + len(feed)
        else:
            s.turn_starts.append(s.kv_len)
        req.feed, req.feed_embed_offset = feed, len(s.pending)
        s.pending = []
        s.busy, s.last_rid, s.last_use = True, req.rid, time.monotonic()
        req.generator = generator
        self.scheduler.add(req)

    def _make_room(self, s: Session, incoming: int) -> None:
        span = s.eviction_for(incoming)
        if span is None:
            return
        evict_rows(self.kv, s.blocks, span[0], span[1], s.kv_len, self.rope)
        drop_turns(s, *span)
        self.sessions.trim(s)

    def step(self) -> list[Req]:
        """Run one batched forward over all pending work; return the requests it finished."""
        t0 = time.perf_counter()
        reqs = self.scheduler.next_step()
        sessions = [self.sessions.sessions[r.session_id] for r in reqs]
        batch, spans = build_batch(reqs, sessions, self.kv.block_size, self.model.device)
        t1 = time.perf_counter()
        with torch.inference_mode():
            logits = forward(self.model.weights, self.cfg, batch, self.kv.k, self.kv.v, self.rope,
                             self.attention, self.tile)
        t2 = time.perf_counter()
        finished = []
        for req, s, (a, b) in zip(reqs, sessions, spans):
            extend = not req.output_ids
            s.kv_len += len(req.feed)
            s.kv_tokens += req.feed
            req.kv_tokens, req.evicted_tokens = s.kv_len, s.evicted_tokens
            if req.return_logits:
                req.logits.append(logits[a:b].cpu())
            if extend and req.sampling.max_new_tokens == 0:
                req.finish_reason = {"type": "length", "length": 0}
            else:
                token = sample(logits[b - 1], req.sampling, req.generator, req.grammar)
                req.output_ids.append(token)
                check_stop(req, token, self.cfg.eos_token_ids, self.model.decode)
                req.feed = [token]
            if req.on_token is not None:
                try:
                    req.on_token(req)
                except Exception:  # a gone client must not fail the other sessions' step
                    log.exception("on_token callback failed for request %s", req.rid)
            if req.finished:
                self._finish(req, s)
                finished.append(req)
        self.scheduler.after_step(reqs)
        self.stats.steps += 1
        self.stats.forward_s += t2 - t1
        self.stats.step_s += time.perf_counter() - t0
        return finished

    def _finish(self, req: Req, s: Session) -> None:
        s.pending = req.output_ids[-1:]
        s.busy, s.last_use = False, time.monotonic()
        self.sessions.trim(s)
        if s.temporary:
            self.sessions.close(s.id)

    def close_session(self, session_id: str) -> list[Req]:
        """Close a session; a request it was running ends with finish_reason abort."""
        s = self.sessions.get(session_id)
        aborted = []
        for q in (self.scheduler.waiting, self.scheduler.running):
            for req in [r for r in q if r.session_id == session_id]:
                self.scheduler.remove(req)
                req.finish_reason = {"type": "abort", "message": "session closed"}
                aborted.append(req)
        s.busy = False
        self.sessions.close(session_id)
        return aborted

    def expire_idle(self) -> list[str]:
        return self.sessions.expire(time.monotonic())


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
        self._stop.set()
        self._inbox.put(None)
        self._thread.join(timeout=10)

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
                self._step()

    def _step(self) -> None:
        try:
            finished = self.core.step()
        except Exception as e:  # a bug or out of memory: fail what was running, keep serving
            log.exception("engine step failed")
            for req in list(self.core.scheduler.waiting) + list(self.core.scheduler.running):
                self.core.scheduler.remove(req)
                s = self.core.sessions.sessions.get(req.session_id)
                if s is not None:
                    s.busy = False
                fut = self._futures.pop(id(req), None)
                if fut is not None:
                    fut.set_exception(RuntimeError(f"engine step failed: {e}"))
            return
        for req in finished:
            self._futures.pop(id(req)).set_result(req)
