"""Training examples: generated sessions serialized through companion.core.protocol and tokenized.

Every input is written by `serialize_chunk(features=True)` and every target by `format_output`,
exactly as the serving runtime writes and parses them, so train and serve agree on the format.
An example is a pinned prefix followed by as many whole micro-turns as fit in `max_len` tokens.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from tokenizers import Tokenizer

from companion.core.protocol import FRAMES_PER_AUDIO_TOKEN, format_output, serialize_chunk
from model_server.training.features import DMEL_BINS, TILE
from model_server.training.sessions import Session, generate_session

AUDIO_ROW = FRAMES_PER_AUDIO_TOKEN * DMEL_BINS


@dataclass(slots=True)
class Example:
    """One training sequence with its feature rows, and per-turn bookkeeping for evaluation."""

    ids: np.ndarray  # int64 (T,)
    is_target: np.ndarray  # bool (T,): the token belongs to a micro-turn's output
    weight: np.ndarray  # float32 (T,): loss weight of each target token (0 elsewhere)
    audio: np.ndarray  # uint8 (n_audio, 320), one row per <|audio|> in order
    patches: np.ndarray  # uint8 (n_patches, 40, 40, 3), one per <|patch|> in order
    patch_xy: np.ndarray  # int64 (n_patches, 2): pixel (x, y) of each tile
    out_positions: list[int]  # per turn: index of its <|out|> token
    tags: list[str]  # per turn: Turn.tag
    target_texts: list[str]  # per turn: the target output text

    def __len__(self) -> int:
        return len(self.ids)


def session_parts(session: Session) -> Iterator[tuple[str, str]]:
    """(input text, target text) per turn; the first item is the prefix with no target."""
    yield session.prefix, ""
    for turn in session.turns:
        yield serialize_chunk(turn.chunk, features=True).text, format_output(turn.actions)


def corpus_texts(seed: int, n_sessions: int, n_turns: int = 200) -> Iterator[str]:
    """Text to train the tokenizer on: whole serialized sessions."""
    for index in range(n_sessions):
        session = generate_session(seed * 1_000_003 + index, n_turns)
        yield "".join(inp + out for inp, out in session_parts(session))


def _encode(tokenizer: Tokenizer, text: str) -> list[int]:
    return tokenizer.encode(text, add_special_tokens=False).ids


def build_example(session: Session, tokenizer: Tokenizer, max_len: int, act_weight: float = 3.0,
                  decision_weight: float = 8.0) -> Example:
    """The prefix and the leading turns of `session` that fit in `max_len` tokens.

    Outputs other than silence (speech, stop, call) are rare; their tokens weigh `act_weight`
    in the loss, and their first token (the decision to act) `decision_weight`, so a short CPU
    run learns them.
    """
    ids = _encode(tokenizer, session.prefix)
    if len(ids) >= max_len:
        raise ValueError(f"the pinned prefix alone is {len(ids)} tokens, over max_len {max_len}")
    is_target = [False] * len(ids)
    weight = [0.0] * len(ids)
    audio, patches, patch_xy, out_positions, tags, target_texts = [], [], [], [], [], []
    for turn in session.turns:
        chunk = serialize_chunk(turn.chunk, features=True)
        target = format_output(turn.actions)
        inp, out = _encode(tokenizer, chunk.text), _encode(tokenizer, target)
        if len(ids) + len(inp) + len(out) > max_len:
            break
        out_positions.append(len(ids) + len(inp) - 1)
        ids += inp + out
        is_target += [False] * len(inp) + [True] * len(out)
        if turn.actions[0].kind == "silence":
            weight += [0.0] * len(inp) + [1.0] * len(out)
        else:  # the first token is the decision to act at all: the hardest and rarest to learn
            weight += [0.0] * len(inp) + [decision_weight] + [act_weight] * (len(out) - 1)
        audio.append(chunk.audio)
        patches += [p.pixels for p in chunk.patches]
        patch_xy += [(p.x, p.y) for p in chunk.patches]
        tags.append(turn.tag)
        target_texts.append(target)
    return Example(
        ids=np.asarray(ids, dtype=np.int64),
        is_target=np.asarray(is_target, dtype=bool),
        weight=np.asarray(weight, dtype=np.float32),
        audio=(np.concatenate(audio) if audio else np.zeros((0, AUDIO_ROW), np.uint8)),
        patches=(np.stack(patches) if patches else np.zeros((0, TILE, TILE, 3), np.uint8)),
        patch_xy=np.asarray(patch_xy, dtype=np.int64).reshape(-1, 2),
        out_positions=out_positions, tags=tags, target_texts=target_texts,
    )


def example_for(seed: int, index: int, tokenizer: Tokenizer, max_len: int) -> Example:
    """Example `index` of the stream for `seed`: the same inputs give the same example."""
    session = generate_session(seed * 1_000_003 + index, n_turns=max_len // 6)
    return build_example(session, tokenizer, max_len)
