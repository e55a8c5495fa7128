"""A serialized micro-turn cut into pieces that each fit the server: split at part boundaries,
and a single part that is still too large clipped, with its feature rows kept in step.

Sent one after another into the same session (all but the last decoding nothing), the pieces
append exactly the chunk's text, so a turn the server refuses as too large (413) still reaches
the model instead of being skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from companion.core.events import Patch

# the tags that open a part of a chunk (docs/protocol.md); "<|out|>" closes it
_PART = re.compile(r"(?=<\|(?:hear|see|file|tool|user|self|out)\|>)")


@dataclass(slots=True, eq=False)
class TurnPiece:
    text: str
    audio: np.ndarray  # rows for this piece's <|audio|> placeholders, in order
    patches: list[Patch] = field(default_factory=list)  # for its <|patch|> placeholders


def _with_rows(texts: list[str], whole: TurnPiece) -> list[TurnPiece]:
    """Hand each text the feature rows of its own placeholders (they come in text order)."""
    out, a, p = [], 0, 0
    for text in texts:
        na, np_ = text.count("<|audio|>"), text.count("<|patch|>")
        out.append(TurnPiece(text, whole.audio[a:a + na], whole.patches[p:p + np_]))
        a, p = a + na, p + np_
    return out


def split_in_two(piece: TurnPiece) -> list[TurnPiece]:
    """Two pieces cut at the part boundary nearest the middle, or one clipped piece when the
    text is a single part (its head kept, marked <|more|>; placeholders never cut in half)."""
    parts = [p for p in _PART.split(piece.text) if p]
    if len(parts) >= 2:
        sizes = np.cumsum([len(p) for p in parts])
        cut = int(np.argmin(np.abs(sizes[:-1] - sizes[-1] / 2))) + 1
        return _with_rows(["".join(parts[:cut]), "".join(parts[cut:])], piece)
    text = piece.text
    keep = len(text) // 2
    while keep > 0 and re.search(r"<(\|([a-z]*\|?)?)?$", text[:keep]):  # inside a special token
        keep -= 1
    if keep <= 16:
        return [piece]  # nothing left to take off
    return _with_rows([text[:keep] + "<|more|>"], piece)


def halve_at_a_line(text: str) -> list[str] | None:
    """Two pieces of a text cut after the newline nearest its middle (a pre-token boundary, so
    both tokenize as the whole did); None when it has no line break to cut at."""
    breaks = [i + 1 for i, ch in enumerate(text[:-1]) if ch == "\n" and text[i + 1] != "\n"]
    if not breaks:
        return None
    cut = min(breaks, key=lambda i: abs(i - len(text) / 2))
    return [text[:cut], text[cut:]]
