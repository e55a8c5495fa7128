"""Grammar-constrained decoding with xgrammar: SGLang's `ebnf` / `regex` / `json_schema` params.

One `GrammarCompiler` per tokenizer caches compiled grammars by their text, so a session that
sends the same grammar every turn compiles it once. Each request gets its own `GrammarState`
(an xgrammar matcher and a bitmask): the sampler masks the logits with it before choosing a
token (greedy and sampled alike), and the stop check advances it with the chosen token.

Our server also keeps a tokenizer's special tokens canonical: where a grammar allows the text
of a special token (`<|silence|>`), the ordinary tokens that spell a prefix of that text (`<`,
`<|`) are masked, so the model emits the one special token it was trained on. SGLang's xgrammar
backend does not; there the text is the same, only the token ids can differ.
"""

from __future__ import annotations

import json
import re
import threading
import time

import numpy as np
import torch

from model_server.core import RequestError

GRAMMAR_FIELDS = ("ebnf", "regex", "json_schema")
CACHE_LIMIT_BYTES = 64 * 2**20


class GrammarState:
    """One request's position in its grammar: mask the next logits, accept the chosen token."""

    def __init__(self, matcher, vocab_size: int, prefix_ids: dict[int, tuple[int, ...]]):
        import xgrammar as xgr

        self.matcher = matcher
        self.vocab_size = vocab_size
        self.bitmask = xgr.allocate_token_bitmask(1, vocab_size)
        self._bits = self.bitmask.numpy().view(np.uint8)  # shares the bitmask's memory
        # special token id -> the ordinary ids that spell a prefix of its text
        self._prefix_ids = {s: np.array(ids) for s, ids in prefix_ids.items() if ids}
        self._specials = np.array(list(self._prefix_ids)) if self._prefix_ids else None
        self.mask_s = 0.0  # time spent masking and accepting, for the benchmark
        self.steps = 0

    def mask(self, logits: torch.Tensor) -> torch.Tensor:
        """fp32 logits [vocab] with every token the grammar forbids set to -inf (a new tensor).

        The bitmask is unpacked with numpy rather than xgrammar's apply_token_bitmask_inplace,
        whose CPU path took ~0.1 ms per token for a 4096-token vocabulary (bench_grammar)."""
        t0 = time.perf_counter()
        self.matcher.fill_next_token_bitmask(self.bitmask)
        allowed = np.unpackbits(self._bits, bitorder="little")[: self.vocab_size].astype(bool)
        if self._specials is not None:
            for special in self._specials[allowed[self._specials]]:
                allowed[self._prefix_ids[special]] = False
        out = logits.detach().float().cpu().clone()
        if not allowed.any():  # never sample from all -inf (NaN): accept() fails, the request aborts
            self.mask_s += time.perf_counter() - t0
            return out
        out[: self.vocab_size].masked_fill_(torch.from_numpy(~allowed), float("-inf"))
        out[self.vocab_size:] = float("-inf")
        self.mask_s += time.perf_counter() - t0
        return out

    def accept(self, token: int) -> bool:
        """Advance by the sampled token; False if the grammar rejects it."""
        t0 = time.perf_counter()
        ok = self.matcher.accept_token(token)
        self.mask_s += time.perf_counter() - t0
        self.steps += 1
        return bool(ok)

    @property
    def terminated(self) -> bool:
        return self.matcher.is_terminated()


class GrammarBackend:
    """xgrammar's tokenizer info and compiler for one loaded model's tokenizer."""

    def __init__(self, tokenizer, vocab_size: int, stop_ids: tuple[int, ...]):
        import xgrammar as xgr
        from transformers import PreTrainedTokenizerFast

        self._xgr = xgr
        hf = PreTrainedTokenizerFast(tokenizer_object=tokenizer)
        self.vocab_size = vocab_size
        self.stop_ids = tuple(stop_ids)
        self.info = xgr.TokenizerInfo.from_huggingface(hf, vocab_size=vocab_size,
                                                       stop_token_ids=list(stop_ids))
        # bounded: a client sending ever-new grammars must not grow the server without limit
        self.compiler = xgr.GrammarCompiler(self.info, max_threads=1, cache_enabled=True,
                                            cache_limit_bytes=CACHE_LIMIT_BYTES)
        self._prefix_ids = _special_prefix_ids(tokenizer)
        self.compile_s = 0.0

    def compile(self, kind: str, source) -> object:
        """A compiled grammar (cached by text); RequestError 400 with xgrammar's message."""
        t0 = time.perf_counter()
        try:
            if kind == "ebnf":
                compiled = self.compiler.compile_grammar(source)
            elif kind == "regex":
                compiled = self.compiler.compile_regex(source)
            else:
                text = source if isinstance(source, str) else json.dumps(source)
                # no free whitespace: a small model could pad forever (SGLang's
                # --constrained-json-disable-any-whitespace)
                compiled = self.compiler.compile_json_schema(text, any_whitespace=False)
        except Exception as e:  # noqa: BLE001 (xgrammar's parse errors: RuntimeError, ValueError, its own)
            # drop xgrammar's "[12:00:00] /project/cpp/grammar_parser.cc:820: " log prefix
            message = re.sub(r"^\[[\d:]+\] \S+:\d+: ", "", " ".join(str(e).split()))
            raise RequestError(400, f"sampling_params.{kind}: invalid grammar: "
                                    f"{message[:500]}") from None
        self.compile_s += time.perf_counter() - t0
        return compiled

    def state(self, compiled, stop_ids: tuple[int, ...]) -> GrammarState:
        # without stop tokens (ignore_eos) the request ends where the grammar is complete
        matcher = self._xgr.GrammarMatcher(compiled, override_stop_tokens=list(stop_ids) or None,
                                           terminate_without_stop_token=not stop_ids)
        return GrammarState(matcher, self.vocab_size, self._prefix_ids)


def _special_prefix_ids(tokenizer) -> dict[int, tuple[int, ...]]:
    """special id -> ordinary token ids whose text is a proper prefix of the special's text."""
    specials = {t.content: i for i, t in tokenizer.get_added_tokens_decoder().items()
                if t.special}
    if not specials:
        return {}
    prefixes = {text[:n] for text in specials for n in range(1, len(text))}
    ordinary = {}
    for tok_id in range(tokenizer.get_vocab_size()):
        if tok_id in specials.values():
            continue
        text = tokenizer.decode([tok_id], skip_special_tokens=False)
        if text in prefixes:
            ordinary[tok_id] = text
    return {sid: tuple(i for i, t in ordinary.items() if text.startswith(t))
            for text, sid in specials.items()}


_BACKENDS: dict[int, GrammarBackend] = {}
_LOCK = threading.Lock()


def backend_for(model) -> GrammarBackend:
    """The (cached) backend of a LoadedModel; RequestError 400 if it has no tokenizer."""
    if model.tokenizer is None:
        raise RequestError(400, "grammar-constrained decoding needs the model's tokenizer.json")
    with _LOCK:
        key = id(model.tokenizer)
        if key not in _BACKENDS:
            _BACKENDS[key] = GrammarBackend(model.tokenizer, model.config.vocab_size,
                                            tuple(model.config.eos_token_ids))
        return _BACKENDS[key]


def grammar_for_request(sampling, model) -> GrammarState | None:
    """The GrammarState a request's sampling params ask for, or None (at most one kind)."""
    given = [(k, getattr(sampling, k)) for k in GRAMMAR_FIELDS if getattr(sampling, k) is not None]
    if not given:
        return None
    if len(given) > 1:
        raise RequestError(400, "send only one of sampling_params.ebnf, regex, json_schema")
    backend = backend_for(model)
    compiled = backend.compile(*given[0])
    stops = tuple(dict.fromkeys((() if sampling.ignore_eos else backend.stop_ids)
                                + tuple(sampling.stop_token_ids)))
    return backend.state(compiled, stops)
