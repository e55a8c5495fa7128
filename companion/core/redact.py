"""Secret redaction: keys, tokens, passwords and private keys never reach the model (DESIGN §12).

Two passes, measured on the corpus in tests/fixtures/redaction_corpus.py by
benchmarks/redaction.py: detect-secrets' plugins and filters first (companion/core/secret_scan.py),
then the project's patterns for what it misses (companion/core/secret_patterns.py). In env-style
files every assigned value is masked. Anything that shortens text (a clip to a token budget)
must come after redaction — `redact_then_clip` — or a token cut at the edge leaks in part.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import PurePosixPath

from companion.core.secret_patterns import MASK, Span, assignment_spans, mask_spans, token_spans
from companion.core.secret_scan import detected_spans, mask_detected

__all__ = ["MASK", "is_env_file", "mask_detected", "redact", "redact_patterns", "redact_then_clip"]

# In env files every value is a secret candidate.
_ENV_LINE = re.compile(
    r"^(?P<prefix>[+\- ]?\s*(?:export\s+)?[A-Za-z_][A-Za-z0-9_]*\s*=\s*)(?P<value>\S.*)$",
    re.MULTILINE)
# Files that only hold environment assignments: .env, .env.local, prod.env, .env.example,
# prod.env.example, .envrc (direnv), env.sh and *.env.sh (sourced by shells).
_ENV_NAME = re.compile(r"^(?:\.env(?:\..+)?|.+\.env(?:\.[\w-]+)?|\.envrc|(?:.+[._-])?env\.sh)$")


def is_env_file(path: str) -> bool:
    return bool(_ENV_NAME.match(PurePosixPath(path).name))


def _pattern_spans(text: str, path: str | None) -> list[Span]:
    spans = token_spans(text) + assignment_spans(text)
    if path is not None and is_env_file(path):
        spans += [m.span("value") for m in _ENV_LINE.finditer(text)]
    return spans


def redact_patterns(text: str, *, path: str | None = None) -> str:
    """The project's own patterns alone (a benchmark candidate by itself)."""
    return mask_spans(text, _pattern_spans(text, path))


def redact(text: str, *, path: str | None = None) -> str:
    """Mask secrets in text; with the path of an env file, mask every assigned value.

    Both passes find spans in the original text and the union is masked, so one pass's mask
    never hides a shape from the other (a PEM header masked alone would leave the key body).
    """
    if not text:
        return text
    return mask_spans(text, detected_spans(text, path) + _pattern_spans(text, path))


def redact_then_clip(text: str, clip: Callable[[str], tuple[str, bool]], *,
                     path: str | None = None) -> tuple[str, bool]:
    """Redact the whole text, then shorten it: a secret cut in half by the clip cannot leak."""
    return clip(redact(text, path=path))
