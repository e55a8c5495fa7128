"""Core types of the engine: EngineOptions, SamplingParams, Req (one generate call), Batch."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """Limits and modes of one engine; validated on construction."""

    kv_budget_mb: float = 256.0
    block_size: int = 16
    max_sessions: int = 16
    max_chunk_tokens: int = 512
    max_step_tokens: int = 2048
    window_tokens: int = 4096  # default unpinned window of a session
    session_ttl_s: float = 600.0
    attention_backend: str = "torch"
    batch_invariant: bool = False
    split_size: int = 256

    def __post_init__(self) -> None:
        for name in ("kv_budget_mb", "max_sessions", "max_chunk_tokens", "max_step_tokens",
                     "window_tokens", "session_ttl_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.split_size % self.block_size:
            raise ValueError("split_size must be a multiple of block_size")


class RequestError(Exception):
    """A request the server must refuse: carries the HTTP status and, for 429, a Retry-After."""

    def __init__(self, status: int, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


SAMPLING_FIELDS = ("max_new_tokens", "temperature", "top_p", "top_k", "min_p", "stop",
                   "stop_token_ids", "no_stop_trim", "skip_special_tokens", "ignore_eos",
                   "sampling_seed", "spaces_between_special_tokens", "n", "logit_bias",
                   "ebnf", "regex", "json_schema")  # the last three: model_server/grammar.py


@dataclass(frozen=True, slots=True)
class SamplingParams:
    """How to pick tokens and when to stop; the field names and defaults follow SGLang."""

    max_new_tokens: int = 128
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = -1
    stop: tuple[str, ...] = ()
    stop_token_ids: tuple[int, ...] = ()
    no_stop_trim: bool = False
    skip_special_tokens: bool = True
    ignore_eos: bool = False
    sampling_seed: int = 0
    # (token id, added to its logit) pairs; SGLang's {"<id>": bias} map, applied before the grammar
    logit_bias: tuple[tuple[int, float], ...] = ()
    ebnf: str | None = None  # grammar-constrained decoding, compiled by model_server/grammar.py
    regex: str | None = None
    json_schema: str | None = None

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> ValueError:
            return ValueError(f"sampling_params.{name}: {why}, got {getattr(self, name)!r}")

        if not isinstance(self.max_new_tokens, int) or isinstance(self.max_new_tokens, bool) \
                or self.max_new_tokens < 0:
            raise bad("max_new_tokens", "must be an integer >= 0")
        for name in ("temperature", "top_p"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise bad(name, "must be a finite number")
        if self.temperature < 0:
            raise bad("temperature", "must be >= 0 (0 means greedy)")
        if not 0 < self.top_p <= 1:
            raise bad("top_p", "must be in (0, 1]")
        if not isinstance(self.top_k, int) or isinstance(self.top_k, bool) \
                or self.top_k == 0 or self.top_k < -1:
            raise bad("top_k", "must be -1 (off) or an integer >= 1")
        if not all(isinstance(s, str) and s for s in self.stop):
            raise bad("stop", "must be a non-empty string or a list of them")
        if not all(isinstance(t, int) and not isinstance(t, bool) and t >= 0
                   for t in self.stop_token_ids):
            raise bad("stop_token_ids", "must be a list of token ids >= 0")
        for name in ("no_stop_trim", "skip_special_tokens", "ignore_eos"):
            if not isinstance(getattr(self, name), bool):
                raise bad(name, "must be true or false")
        if not isinstance(self.sampling_seed, int) or isinstance(self.sampling_seed, bool) \
                or not 0 <= self.sampling_seed < 2**63:
            raise bad("sampling_seed", "must be an integer in [0, 2**63)")
        for name in ("ebnf", "regex", "json_schema"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, str) or not v.strip()):
                raise bad(name, "must be a non-empty string")
        if not all(isinstance(t, int) and not isinstance(t, bool) and t >= 0
                   and isinstance(b, float) and math.isfinite(b) for t, b in self.logit_bias):
            raise bad("logit_bias", "must map token ids >= 0 to finite numbers")

    def check_vocab(self, vocab: int) -> None:
        """Raise ValueError if `logit_bias` names a token outside the model's vocabulary."""
        if any(t >= vocab for t, _ in self.logit_bias):
            raise ValueError(f"sampling_params.logit_bias: token ids must be in [0, {vocab})")

    @classmethod
    def from_json(cls, obj: Any) -> SamplingParams:
        """Parse the `sampling_params` object of a /generate body; raises ValueError."""
        if obj is None:
            return cls()
        if not isinstance(obj, dict):
            raise TypeError("sampling_params must be a JSON object")
        unknown = sorted(set(obj) - set(SAMPLING_FIELDS))
        if unknown:
            raise ValueError(f"sampling_params: unknown field(s) {unknown}; "
                             f"supported: {list(SAMPLING_FIELDS)}")
        if obj.get("n", 1) != 1:
            raise ValueError("sampling_params.n: only n=1 is supported")
        kw = {k: v for k, v in obj.items() if k not in ("n", "spaces_between_special_tokens")
              and v is not None}
        if "logit_bias" in kw:
            kw["logit_bias"] = _logit_bias(kw["logit_bias"])
        if isinstance(kw.get("json_schema"), dict):  # SGLang takes a string; an object is clear
            kw["json_schema"] = json.dumps(kw["json_schema"])
        for name in ("stop", "stop_token_ids"):
            if name in kw:
                v = kw[name]
                if isinstance(v, (str, int)) and not isinstance(v, bool):
                    v = [v]
                if not isinstance(v, list):
                    raise ValueError(f"sampling_params.{name} must be a list")
                kw[name] = tuple(v)
        return cls(**kw)


def _logit_bias(obj: Any) -> tuple[tuple[int, float], ...]:
    """SGLang's `logit_bias`, {"<token id>": bias}, as sorted (id, bias) pairs; raises ValueError."""
    if not isinstance(obj, dict):
        raise ValueError('sampling_params.logit_bias must be an object {"<token id>": bias}')
    pairs = []
    for key, bias in obj.items():
        try:
            token = int(key)
        except (TypeError, ValueError):
            raise ValueError(f"sampling_params.logit_bias: key {key!r} is not a token id") from None
        if isinstance(bias, bool) or not isinstance(bias, (int, float)):
            raise ValueError(f"sampling_params.logit_bias[{key!r}] must be a number, got {bias!r}")
        pairs.append((token, float(bias)))
    return tuple(sorted(pairs))


@dataclass(slots=True, eq=False)
class Req:
    """One generate call: the tokens to append to a session, how to sample, and its progress."""

    rid: str
    input_ids: list[int]
    sampling: SamplingParams
    session_id: str | None = None  # None: a one-off request in a temporary session
    prev_rid: str | None = None  # session_params.rid: the turn this one continues
    pin: bool | None = None  # pin this input into the session's prefix (None: if first turn)
    embed_positions: tuple[int, ...] = ()  # indices into input_ids replaced by embed_rows
    embed_rows: torch.Tensor | None = None  # [len(embed_positions), hidden]
    return_logits: bool = False  # keep fp32 logits of every row this request computes
    on_token: Callable[[Req], None] | None = None  # called on the engine thread per new token
    # progress, filled by the engine
    output_ids: list[int] = field(default_factory=list)
    prompt_tokens: int = 0
    cached_tokens: int = 0
    feed: list[int] = field(default_factory=list)  # tokens the next step feeds
    feed_embed_offset: int = 0  # index in feed where input_ids[0] sits
    finish_reason: dict | None = None
    error: str | None = None  # why the request failed (a server fault: answered as a 500)
    kv_tokens: int = 0  # the session's KV length after the latest step
    evicted_tokens: int = 0  # the session's tokens evicted from its window so far
    text: str = ""
    logits: list[torch.Tensor] = field(default_factory=list)
    generator: torch.Generator | None = None
    grammar: Any = None  # model_server.grammar.GrammarState when the request is constrained

    def __post_init__(self) -> None:
        assert self.input_ids or self.embed_rows is not None, "a request needs input"
        if self.embed_rows is not None:
            assert self.embed_rows.dim() == 2 and \
                self.embed_rows.shape[0] == len(self.embed_positions), \
                "embed_rows must have one row per embed position"

    @property
    def finished(self) -> bool:
        return self.finish_reason is not None


@dataclass(frozen=True, slots=True)
class Batch:
    """The tensors of one engine step: every session's new tokens packed (docs/kv_layout.md)."""

    input_ids: torch.Tensor  # int64 [T]
    positions: torch.Tensor  # int64 [T]
    slots: torch.Tensor  # int64 [T]: flat KV row (block * block_size + offset) to write
    block_tables: torch.Tensor  # int32 [B, max_blocks], -1 padded
    cu_q_lens: torch.Tensor  # int32 [B + 1]
    kv_lens: torch.Tensor  # int32 [B], including this step's tokens
    logits_index: torch.Tensor  # int64 [R]: rows whose logits the step returns
    embed_index: torch.Tensor | None = None  # int64 [E]: rows whose embedding is replaced
    embed_rows: torch.Tensor | None = None  # [E, hidden]

    def __post_init__(self) -> None:
        t = self.input_ids.shape[0]
        assert self.positions.shape[0] == t and self.slots.shape[0] == t
        assert self.cu_q_lens.shape[0] == self.kv_lens.shape[0] + 1 == \
            self.block_tables.shape[0] + 1
        assert (self.embed_index is None) == (self.embed_rows is None)
