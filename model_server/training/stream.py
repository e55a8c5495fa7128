"""Greedy micro-turn decoding over a KV cache with the training forward: for evaluation and tests.

It plays the serving loop in miniature: append the pinned prefix, then per micro-turn append the
serialized chunk (placeholder rows from the front-end), decode up to `max_new` tokens greedily
until `<|end|>`, and keep the output in the cache. The engine does the same on a paged cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer

from companion.core.protocol import Action, Chunk, parse_output, serialize_chunk
from model_server.models.frontend import InteractionFrontend, embed_features
from model_server.training.qwen2_train import KV, Qwen2ForTraining
from model_server.training.tokenizer import load_tokenizer, special_ids


@dataclass(slots=True)
class EmbeddedModel:
    """The shipped model directory loaded for evaluation: decoder, front-end, tokenizer."""

    decoder: Qwen2ForTraining
    frontend: InteractionFrontend
    tokenizer: Tokenizer
    special: dict[str, int]

    @classmethod
    def load(cls, directory: str | Path) -> EmbeddedModel:
        tokenizer = load_tokenizer(Path(directory))
        return cls(Qwen2ForTraining.load(directory), InteractionFrontend.load(directory), tokenizer,
                   special_ids(tokenizer))

    def embed(self, ids: torch.Tensor, audio: np.ndarray, patches) -> torch.Tensor:
        """(t,) ids -> (1, t, hidden) input embeddings with placeholder rows written in."""
        embeds = self.decoder.model.embed_tokens(ids).clone()
        pos, rows = embed_features(self.frontend, ids, audio, patches, self.special)
        embeds[pos] = rows
        return embeds[None]


class GreedyStream:
    """One streaming session: the cache, and greedy decoding of each micro-turn's output."""

    def __init__(self, model: EmbeddedModel, prefix: str, max_new: int = 32):
        self.model = model
        self.max_new = max_new
        self.cache: list[KV] | None = None
        self.length = 0
        self._append(self._encode(prefix), np.zeros((0, 320), np.uint8), [])

    def _encode(self, text: str) -> torch.Tensor:
        return torch.tensor(self.model.tokenizer.encode(text, add_special_tokens=False).ids)

    @torch.no_grad()
    def _append(self, ids: torch.Tensor, audio: np.ndarray, patches) -> torch.Tensor:
        logits, self.cache = self.model.decoder.extend(self.model.embed(ids, audio, patches), self.cache)
        self.length += len(ids)
        return logits[0, -1]

    def turn(self, chunk: Chunk) -> tuple[list[Action], str]:
        """Append one chunk, decode its output greedily; the output stays in the context."""
        serialized = serialize_chunk(chunk, features=True)
        logits = self._append(self._encode(serialized.text), serialized.audio, serialized.patches)
        end = self.model.special["<|end|>"]
        out: list[int] = []
        for _ in range(self.max_new):
            token = int(logits.argmax())
            out.append(token)
            if token == end:
                break
            logits = self._append(torch.tensor([token]), np.zeros((0, 320), np.uint8), [])
        # The context always closes the turn with <|end|>: decoded, or (when max_new ran out)
        # written by the runtime at the start of the next input, as docs/protocol.md says.
        self._append(torch.tensor([end]), np.zeros((0, 320), np.uint8), [])
        text = self.model.tokenizer.decode(out, skip_special_tokens=False)
        actions, _ = parse_output(text)
        return actions, text
