"""The session table: each streaming session's blocks, lengths, pinned prefix, turns and TTL.

A session's sequence is [pinned prefix | window of recent turns]. Positions in the KV are
always 0..kv_len-1: eviction (kv_cache.evict_rows) shifts the kept turns down, so RoPE
positions stay bounded however long the session runs.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from dataclasses import dataclass, field

from model_server.core import RequestError
from model_server.kv_cache import BlockPool


@dataclass(slots=True, eq=False)
class Session:
    id: str
    window: int  # most tokens the unpinned part may hold
    capacity_of_str_len: int = 0
    blocks: list[int] = field(default_factory=list)
    kv_len: int = 0  # tokens with K/V in the cache
    pinned_len: int = 0  # the first pinned_len positions are never evicted
    turn_starts: deque = field(default_factory=deque)  # KV positions where unpinned turns start
    pending: list[int] = field(default_factory=list)  # sampled last turn, K/V not yet written
    kv_tokens: list[int] = field(default_factory=list)  # the token ids now in the KV, in order
    evicted_tokens: int = 0
    last_rid: str | None = None
    busy: bool = False
    temporary: bool = False  # a one-off request's session, closed when it finishes
    last_use: float = field(default_factory=time.monotonic)

    @property
    def total_tokens(self) -> int:
        """Every token the session's sequence ever held (SGLang's prompt + completion)."""
        return self.evicted_tokens + self.kv_len + len(self.pending)

    def eviction_for(self, incoming: int) -> tuple[int, int] | None:
        """The KV range [start, end) of whole oldest turns to drop so that `incoming` more
        tokens fit the window; evicts down to 3/4 of the window so it runs rarely."""
        if self.kv_len + incoming <= self.pinned_len + self.window:
            return None
        target = min(self.pinned_len + self.window - incoming,
                     self.pinned_len + (3 * self.window) // 4)
        start = self.pinned_len
        end = start
        for s in self.turn_starts:
            end = s
            if self.kv_len - (end - start) <= target:
                break
        if self.kv_len - (end - start) > target:
            end = self.kv_len  # every turn must go (the new one alone fills the window)
        return (start, end) if end > start else None


class SessionTable:
    """Open sessions by id, with the limits: max sessions, idle TTL, KV blocks per session."""

    def __init__(self, pool: BlockPool, block_size: int, max_sessions: int, ttl_s: float,
                 default_window: int):
        self.pool = pool
        self.block_size = block_size
        self.max_sessions = max_sessions
        self.ttl_s = ttl_s
        self.default_window = default_window
        self.sessions: dict[str, Session] = {}

    def open(self, session_id: str | None = None, window: int | None = None,
             capacity_of_str_len: int = 0, temporary: bool = False) -> Session:
        if session_id is not None and session_id in self.sessions:
            raise RequestError(400, f"session {session_id!r} is already open")
        live = sum(not s.temporary for s in self.sessions.values())
        if not temporary and live >= self.max_sessions:
            raise RequestError(429, f"too many sessions: {live} of {self.max_sessions} open; "
                                    "close one or retry later", retry_after=5.0)
        s = Session(session_id or uuid.uuid4().hex, window or self.default_window,
                    capacity_of_str_len, temporary=temporary)
        self.sessions[s.id] = s
        return s

    def get(self, session_id: str) -> Session:
        s = self.sessions.get(session_id)
        if s is None:
            raise RequestError(404, f"unknown session {session_id!r} (closed, expired after "
                                    f"{self.ttl_s:.0f} s idle, or never opened)")
        return s

    def close(self, session_id: str) -> None:
        s = self.get(session_id)
        self.pool.release(s.blocks)
        s.blocks = []
        del self.sessions[session_id]

    def expire(self, now: float) -> list[str]:
        """Close sessions idle longer than the TTL (never one with a request running)."""
        old = [s.id for s in self.sessions.values()
               if not s.busy and now - s.last_use > self.ttl_s]
        for sid in old:
            self.close(sid)
        return old

    def reserve(self, s: Session, tokens: int) -> None:
        """Make s own enough blocks for `tokens` positions (raises 429/413, allocates nothing
        on failure)."""
        need = -(-tokens // self.block_size) - len(s.blocks)
        if need > 0:
            s.blocks.extend(self.pool.allocate(need, after=s.blocks[-1] if s.blocks else None))

    def trim(self, s: Session) -> None:
        """Give back blocks past the session's KV length."""
        keep = -(-s.kv_len // self.block_size)
        if len(s.blocks) > keep:
            self.pool.release(s.blocks[keep:])
            del s.blocks[keep:]


def drop_turns(s: Session, start: int, end: int) -> None:
    """Update a session's turn list after its KV range [start, end) was evicted."""
    delta = end - start
    kept = [t - delta for t in s.turn_starts if t >= end]
    s.turn_starts = deque(kept)
    del s.kv_tokens[start:end]
    s.kv_len -= delta
    s.evicted_tokens += delta
