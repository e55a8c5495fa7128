"""TurnLoop: every micro-turn, send the chunk to the model session and emit its decisions.

Timing is the model's job: this loop never decides whether to speak, it only carries chunks in
and ModelAction events out (DESIGN §1); the speech policy, the Speaker and the agent consume them. Nothing the user did is lost on the way: a chunk the server could
not take is held and sent with the next one, a chunk too large for one request goes in pieces,
and a session lost to a crash is re-primed with the pinned prefix plus a compacted summary of
recent turns that fits the window by construction.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace

from companion.core.clock import MicroTurnClock
from companion.core.events import Event, JobEvent, ModelAction, ModelTurn, StreamState
from companion.core.protocol import (
    Action,
    Chunk,
    SerializedChunk,
    parse_output,
    serialize_chunk,
)
from companion.model.link import ModelLink
from companion.model.recent_turns import RecentTurn, RecentTurns, merge_chunks
from companion.model.session_client import RETRY_AFTER_CAP, ServerError, TurnResult, encode_features
from companion.model.turn_grammar import TurnGrammar
from companion.model.turn_pieces import TurnPiece, halve_at_a_line, split_in_two

# protocol 2 emits one whole utterance in a turn: room for 24 words (an action ends far sooner;
# a turn that still hits the cap is a valid grammar prefix and is parsed as it stands)
V2_MAX_NEW_TOKENS = 96
# Re-prime budget in approximate tokens: with the real tokenizer's worst ratio on code (~1.5x)
# it stays well inside the embedded server's 900-token window; a 413 halves it anyway.
RECENT_BUDGET = 240
# Priming appends the pinned prefix (up to ~2k tokens) and the recent summary without decoding:
# a large model on CPU may take seconds of prefill there, so these get longer than the client's
# per-turn timeout (which a micro-turn should never need); a timeout would cost a reconnect.
PREFILL_TIMEOUT_S = 60.0
MAX_SPLITS = 8  # halvings of one turn before it is given up (2**8 pieces)
# File changes over a chunk's file budget go with the next chunk, up to this many; a larger
# flood (a generator writing 30k files) is summarized in one line instead.
DEFER_FILES = 64


class PartlySent(ServerError):
    """The server refused a turn after some of its pieces went in: `remaining` did not."""

    def __init__(self, error: ServerError, remaining: list[TurnPiece]) -> None:
        super().__init__(str(error), error.status, error.retry_after)
        self.remaining = remaining


class TurnLoop:
    """The stage after the clock: its input is the clock's chunks (`next_chunk`), its output the
    model's decisions as events."""

    consumes = ()  # chunks come from the clock it was given
    emits = (ModelTurn, ModelAction, StreamState)

    def __init__(
        self,
        clock: MicroTurnClock,
        link: ModelLink,
        emit: Callable[[Event], None],
        prefix: Callable[[], str],
        *,
        max_new_tokens: int = 8,
        observe: Callable[[Chunk, SerializedChunk], None] | None = None,
        grammar: str | None = None,
        speaking: Callable[[], bool] | None = None,
        unsaid: Callable[[JobEvent], bool] | None = None,
    ) -> None:
        self.clock = clock
        self.link = link
        self._emit = emit
        self._prefix = prefix
        self.max_new_tokens = max_new_tokens
        self._observe = observe
        self.grammar = grammar  # the v2 action grammar, sent as `ebnf` when the model is v2
        self.allowed = TurnGrammar(grammar, speaking)  # what each turn's action grammar allows
        self.relays = self.allowed.relays
        # job results the user's rules keep out of the conversation (a save's unasked lint
        # finding): the TUI shows them; the model is not shown them (relayable.py says why)
        self._unsaid = unsaid
        self._recent = RecentTurns()
        self._needs_prefix = True
        self._output_open = False
        self._held: Chunk | None = None  # a chunk not yet delivered: goes with the next one
        # the pieces of a turn the server stopped taking half-way: they go first next turn, so
        # what the session already took is never appended twice
        self._rest: list[TurnPiece] = []
        self._rest_of: tuple[Chunk, SerializedChunk] | None = None
        self.turns = 0
        self.skipped = 0
        self.held_turns = 0
        self._retry_at = float("-inf")  # a 429 asked not to send before this (clock time)
        self.latency_ms: deque[float] = deque(maxlen=300)

    @property
    def protocol(self) -> int:
        return getattr(self.link, "protocol", 1)

    def recent_summary(self, budget: int) -> str:
        return self._recent.summary(budget)

    async def _prime(self) -> None:
        """A new session's first turns: the pinned prefix, then recent context after a crash.

        Each goes as its own request that decodes nothing, so the prefix is the session's pinned
        first turn (kept through window eviction); a prefix the server refuses as too large
        (413) goes in pieces cut at lines, each extending the pin, instead of reconnecting every
        turn. The recent context is a summary within RECENT_BUDGET; a 413 halves the budget
        (down to none) instead of reconnecting.
        """
        client = self.link.client
        assert client is not None, "connect the model link first"
        pieces, pin = [self._prefix()], None  # the session's first request is pinned anyway
        while pieces:  # a prefix over the server's request limit goes in pieces, all pinned
            try:
                await client.generate(pieces[0], max_new_tokens=0, timeout_s=PREFILL_TIMEOUT_S,
                                      pin=pin)
            except ServerError as exc:
                halves = halve_at_a_line(pieces[0]) if exc.status == 413 else None
                if halves is None:
                    raise
                pieces[0:1] = halves
                continue
            pieces.pop(0)
            pin = True
        budget = RECENT_BUDGET
        while budget >= 16:
            recent = self.recent_summary(budget)
            if not recent:
                break
            try:
                await client.generate(recent, max_new_tokens=0, timeout_s=PREFILL_TIMEOUT_S)
                break
            except ServerError as exc:
                if exc.status != 413:
                    raise
                budget //= 2
        self._needs_prefix = False

    async def _generate(self, piece: TurnPiece, decode: bool, grammar: str | None) -> TurnResult:
        client = self.link.client
        assert client is not None
        features = encode_features(piece.audio, piece.patches) if self.link.accepts_features \
            else None
        v2 = self.protocol == 2
        max_new = (V2_MAX_NEW_TOKENS if v2 else self.max_new_tokens) if decode else 0
        return await client.generate(piece.text, features=features,
                                     ebnf=grammar if v2 and decode else None,
                                     logit_bias=self.link.logit_bias if v2 and decode else None,
                                     max_new_tokens=max_new)

    async def _send(self, piece: TurnPiece, decode: bool, grammar: str | None = None) -> TurnResult:
        """Append one turn, decoding after its last piece (under `grammar`, for v2); a piece the
        server finds too large (413) goes as two smaller ones. A refusal after some pieces went
        in raises PartlySent with the pieces that did not."""
        queue: list[tuple[TurnPiece, int]] = [(piece, 0)]  # (piece, times split)
        sent = False
        while True:
            current, splits = queue[0]
            try:
                result = await self._generate(current, decode and len(queue) == 1, grammar)
            except ServerError as exc:
                parts = split_in_two(current) if exc.status == 413 and splits < MAX_SPLITS else []
                if not parts or (len(parts) == 1 and parts[0].text == current.text):
                    if sent:
                        raise PartlySent(exc, [p for p, _ in queue]) from exc
                    raise
                queue[0:1] = [(part, splits + 1) for part in parts]
                continue
            sent = True
            queue.pop(0)
            if not queue:
                return result

    async def _send_rest(self) -> None:
        """The rest of a turn the server stopped taking half-way, before anything newer."""
        while self._rest:
            try:
                await self._send(self._rest[0], decode=False)
            except PartlySent as exc:
                self._rest[0:1] = exc.remaining
                raise ServerError(str(exc), exc.status, exc.retry_after) from exc
            self._rest.pop(0)
        if self._rest_of is not None:  # all of that turn has reached the model now
            self.relays.saw(self.relays.refs_in(self._rest_of[0].jobs))
            if self._observe is not None:
                self._observe(*self._rest_of)
        self._rest_of = None

    def _deferred(self, chunk: Chunk, serialized: SerializedChunk) -> Chunk | None:
        """Changes that did not fit the chunk wait for the next turn (as if just happened)."""
        if not serialized.deferred:
            return None
        return Chunk(tick=chunk.tick + chunk.ticks,
                     t=round(chunk.t + self.clock.period * chunk.ticks, 6), ticks=0,
                     files=serialized.deferred)

    async def step(self, chunk: Chunk) -> list[Action]:
        """One micro-turn: append the chunk (with any held one), decode, emit the decisions.

        A turn the server cannot take now (busy, full, gone) is held and merged into the next;
        a lost session or server triggers recovery and a re-prime.
        """
        if self._held is not None:
            chunk = merge_chunks(self._held, chunk)
        if self._unsaid is not None and chunk.jobs:
            chunk = replace(chunk, jobs=tuple(e for e in chunk.jobs if not self._unsaid(e)))
        if self.clock.now() < self._retry_at:  # the server asked for a pause: nothing is sent
            self._held = chunk
            self.held_turns += 1
            return []
        features = self.link.accepts_features
        protocol = self.protocol
        serialized = serialize_chunk(chunk, features=features, defer_files=DEFER_FILES,
                                     protocol=protocol)
        plain = serialized.text if not features else serialize_chunk(
            chunk, features=False, defer_files=DEFER_FILES, protocol=protocol).text
        text = ("<|end|>" if self._output_open else "") + serialized.text
        shown = self.relays.refs_in(chunk.jobs)
        grammar = self.allowed.for_turn(self.turns, chunk, shown)
        try:
            if self._needs_prefix:
                await self._prime()
            await self._send_rest()
            result = await self._send(TurnPiece(text, serialized.audio, serialized.patches),
                                      decode=True, grammar=grammar)
        except ServerError as exc:
            if isinstance(exc, PartlySent):  # some of this turn is in: only the rest waits
                self._rest, self._rest_of = exc.remaining, (chunk, serialized)
                self._held = self._deferred(chunk, serialized)
                self._output_open = False  # its first piece (and any <|end|>) went in
            else:
                self._held = chunk
            self.held_turns += 1
            reason = str(exc).splitlines()[0]
            if exc.status in (409, 413, 429) and not self._needs_prefix:
                self.skipped += 1
                if exc.status == 429 and exc.retry_after:
                    wait = min(exc.retry_after, RETRY_AFTER_CAP)
                    self._retry_at = self.clock.now() + wait
                    reason += f"; next try in {wait:g} s (Retry-After)"
                self._emit(StreamState(time.monotonic(), "model", "degraded",
                                       f"micro-turn {chunk.tick} held for the next: {reason}"))
                return []
            self._needs_prefix = True
            self._output_open = False
            await self.link.recover(reason)
            return []
        self._held = self._deferred(chunk, serialized)
        self.relays.saw(shown)
        if self._observe is not None:  # what reached the model, once it has
            self._observe(chunk, serialized)
        actions, ended = parse_output(result.text, self.protocol)
        finish = result.finish_reason
        stopped = isinstance(finish, dict) and finish.get("type") == "stop"
        self._output_open = not (ended or stopped)
        answer = plain + result.text.removesuffix("<|end|>") + "<|end|>"
        self._recent.append(RecentTurn(answer, tuple(c.path for c in chunk.files[:8])))
        self.turns += 1
        self.latency_ms.append(result.latency_ms)
        stats = self.clock.stats()
        files = tuple(f.path for f in chunk.files)
        for action in actions:
            self.allowed.decided(self.turns - 1, action)
            now = time.monotonic()
            self._emit(ModelTurn(now, chunk.tick, action.kind, action.text or action.job,
                                 result.latency_ms, stats.late_ticks))
            self._emit(ModelAction(now, chunk.tick, action, chunk.t, files))
        return actions

    async def run(self) -> None:
        """Tick until cancelled."""
        while True:
            chunk = await self.clock.next_chunk()
            await self.step(chunk)
