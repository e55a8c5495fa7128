"""Word times for the fine-tune: teach the alignment heads where each word is.

The engine's word times come from CTranslate2's `align`: the cross-attention of the model's
alignment heads (config.json's `alignment_heads`) for the transcript decoded without the prompt,
`<|startoftranscript|> <|notimestamps|> t1 … tn`, where the query at each position is the one
that predicts the next token, re-normalized over the audio's own frames (not the window's
padding); dynamic time warping over those rows gives each token its frames.
Training the encoder and cross-attention for words alone moves those heads (the first fine-tune
put some word starts 0.26 s off), so the loss here keeps them on the words: for every transcript
token whose word time espeak-ng reported, the attention mass each alignment head puts inside that
word's frames (± SLACK_FRAMES), as −log of it, averaged over heads and tokens.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

FRAME_SECONDS = 0.02  # one encoder position
SLACK_FRAMES = 2


def alignment_heads(base_dir: Path) -> list[tuple[int, int]]:
    return [(int(layer), int(head)) for layer, head in json.loads((base_dir / "config.json").read_text())["alignment_heads"]]


def said_count(written_word: str) -> int:
    """How many spoken words a written one is: "test_parse_args." is 3, "parser.py" is 3."""
    return len(written_word.strip(".,?!").replace(".py", " dot py").replace("_", " ").split())


def token_frames(tokenizer, written: str, words: list[list[float]] | None) -> tuple[list[int], list[tuple[int, int]]] | None:
    """The transcript's tokens and, for each, its word's encoder frames [start, end); None when
    there are no word times or the written words do not account for the spoken ones."""
    if not words:
        return None
    written_words = written.split()
    if sum(said_count(w) for w in written_words) != len(words):
        return None
    spans, k = [], 0
    for w in written_words:
        n = said_count(w)
        spans.append((words[k][0], words[k + n - 1][1]) if n else None)
        k += n
    tokens = tokenizer.encode(" " + written)
    ends, at = [], 0  # the written word each token starts in, by character offset
    for t in tokens:
        at += len(tokenizer.decode([t]))
        ends.append(at)
    starts = [0, *ends[:-1]]
    word_starts = []
    pos = 0
    for w in written_words:
        pos = (" " + written).index(w, pos)
        word_starts.append(pos)
        pos += len(w)
    frames = []
    for s in starts:
        index = max(0, sum(1 for ws in word_starts if ws <= s + 1) - 1)
        span = spans[index]
        if span is None:
            return None
        frames.append((int(span[0] / FRAME_SECONDS), math.ceil(span[1] / FRAME_SECONDS)))
    return tokens, frames


def head_attention(model, encoder_out: torch.Tensor, token_rows: list[list[int]], heads: list[tuple[int, int]],
                   start: list[int], pad: int) -> torch.Tensor:
    """Cross-attention of the alignment heads for `start + tokens` of each row: (rows, heads,
    positions, frames). The query at len(start) - 1 + k predicts token k (k = len(tokens): the end)."""
    width = len(start) + max(len(t) for t in token_rows)
    inputs = torch.full((len(token_rows), width), pad)
    for r, tokens in enumerate(token_rows):
        inputs[r, :len(start) + len(tokens)] = torch.tensor([*start, *tokens])
    out = model.model.decoder(input_ids=inputs, encoder_hidden_states=encoder_out, output_attentions=True)
    return torch.stack([out.cross_attentions[layer][:, head] for layer, head in heads], 1)


def alignment_loss(model, encoder_out: torch.Tensor, items: list[tuple[list[int], list[tuple[int, int]]] | None],
                   content: list[int], heads: list[tuple[int, int]], start: list[int], pad: int) -> torch.Tensor | None:
    """Mean −log(attention mass inside the word's frames, of the mass on the audio's `content`
    frames) over alignment heads and timed tokens, for the batch rows that have word times (None
    when no row has)."""
    rows = [i for i, item in enumerate(items) if item is not None]
    if not rows:
        return None
    attn = head_attention(model, encoder_out[rows], [items[i][0] for i in rows], heads, start, pad)
    inside = torch.zeros((len(rows), attn.shape[2], attn.shape[3]))
    audio = torch.zeros((len(rows), 1, 1, attn.shape[3]))
    for r, i in enumerate(rows):
        audio[r, ..., :content[i]] = 1.0
        for k, (a, b) in enumerate(items[i][1]):
            inside[r, len(start) - 1 + k, max(0, a - SLACK_FRAMES):b + SLACK_FRAMES] = 1.0
    mass = (attn * inside[:, None]).sum(-1) / (attn * audio).sum(-1).clamp_min(1e-9)  # rows, heads, q
    timed = inside.sum(-1) > 0  # rows, q
    return -(mass.clamp_min(1e-6).log() * timed[:, None]).sum() / (timed.sum() * len(heads))
