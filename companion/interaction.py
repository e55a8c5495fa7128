"""InteractionLoop: every micro-turn, send the chunk to the model session and act on its answer.

Timing is the model's job: this loop never decides whether to speak, it only carries chunks in
and actions out (DESIGN §1). It keeps the last turns as text so that a session lost to a server
crash can be re-primed with the pinned prefix plus recent context.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Callable

from companion.clock import MicroTurnClock
from companion.events import Event, ModelTurn, StreamState
from companion.model_link import ModelLink
from companion.protocol import Action, Chunk, SerializedChunk, parse_output, serialize_chunk
from companion.session_client import ServerError, encode_features

RECENT_TURNS = 24  # re-prime context after a crash: about five seconds of conversation
# protocol 2 emits one whole utterance in a turn: room for 24 words (an action ends far sooner;
# a turn that still hits the cap is a valid grammar prefix and is parsed as it stands)
V2_MAX_NEW_TOKENS = 96


class InteractionLoop:
    def __init__(
        self,
        clock: MicroTurnClock,
        link: ModelLink,
        emit: Callable[[Event], None],
        act: Callable[[Action, Chunk], None],
        prefix: Callable[[], str],
        *,
        max_new_tokens: int = 8,
        observe: Callable[[Chunk, SerializedChunk], None] | None = None,
        grammar: str | None = None,
    ) -> None:
        self.clock = clock
        self.link = link
        self._emit = emit
        self._act = act
        self._prefix = prefix
        self.max_new_tokens = max_new_tokens
        self._observe = observe
        self.grammar = grammar  # the v2 action grammar, sent as `ebnf` when the model is v2
        self._recent: deque[str] = deque(maxlen=RECENT_TURNS)
        self._needs_prefix = True
        self._output_open = False
        self.turns = 0
        self.skipped = 0
        self.latency_ms: deque[float] = deque(maxlen=300)

    @property
    def protocol(self) -> int:
        return getattr(self.link, "protocol", 1)

    def _turn_input(self, chunk: Chunk) -> tuple[str, dict | None, str]:
        features, protocol = self.link.accepts_features, self.protocol
        serialized = serialize_chunk(chunk, features=features, protocol=protocol)
        if self._observe is not None:
            self._observe(chunk, serialized)
        text = serialized.text
        plain = text if not features else serialize_chunk(chunk, features=False,
                                                          protocol=protocol).text
        if self._output_open:  # the last output hit max_new_tokens before <|end|>
            text = "<|end|>" + text
        wire = encode_features(serialized.audio, serialized.patches) if features else None
        return text, wire, plain

    async def _prime(self) -> None:
        """A new session's first turns: the pinned prefix, then recent context after a crash.

        Each goes as its own request that decodes nothing, so the prefix is the session's pinned
        first turn (kept through window eviction) and no request exceeds the chunk limit.
        """
        client = self.link.client
        assert client is not None, "connect the model link first"
        await client.generate(self._prefix(), max_new_tokens=0)
        recent = "".join(self._recent)
        if recent:
            await client.generate(recent, max_new_tokens=0)
        self._needs_prefix = False

    async def step(self, chunk: Chunk) -> list[Action]:
        """One micro-turn: append the chunk, decode, act.

        A turn the server refuses (too large, busy) is skipped with a visible state; a lost
        session or server triggers recovery and a re-prime.
        """
        text, features, plain = self._turn_input(chunk)
        try:
            if self._needs_prefix:
                await self._prime()
            assert self.link.client is not None
            v2 = self.protocol == 2
            result = await self.link.client.generate(
                text, features=features, ebnf=self.grammar if v2 else None,
                max_new_tokens=V2_MAX_NEW_TOKENS if v2 else self.max_new_tokens)
        except ServerError as exc:
            reason = str(exc).splitlines()[0]
            if exc.status in (409, 413, 429) and not self._needs_prefix:
                self.skipped += 1
                self._emit(StreamState(time.monotonic(), "model", "degraded",
                                       f"micro-turn {chunk.tick} skipped: {reason}"))
                return []
            self._needs_prefix = True
            self._output_open = False
            await self.link.recover(reason)
            return []
        actions, ended = parse_output(result.text, self.protocol)
        finish = result.finish_reason
        stopped = isinstance(finish, dict) and finish.get("type") == "stop"
        self._output_open = not (ended or stopped)
        self._recent.append(plain + result.text.removesuffix("<|end|>") + "<|end|>")
        self.turns += 1
        self.latency_ms.append(result.latency_ms)
        stats = self.clock.stats()
        for action in actions:
            self._emit(ModelTurn(time.monotonic(), chunk.tick, action.kind,
                                 action.text or action.job, result.latency_ms,
                                 stats.late_ticks))
            self._act(action, chunk)
        return actions

    async def run(self) -> None:
        """Tick until cancelled."""
        while True:
            chunk = await self.clock.next_chunk()
            await self.step(chunk)
