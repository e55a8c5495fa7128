"""detect-secrets' plugins and filters, line by line, as the first pass of redaction.

detect-secrets (Yelp, pinned in pyproject.toml) is a maintained rule set: provider token shapes,
keyword assignments, high-entropy strings, with heuristic filters for ids, UUIDs, templates and
indirect references. Its settings are one process-wide object, so scans hold a lock.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
from detect_secrets.core.scan import _process_line_based_plugins
from detect_secrets.plugins.base import RegexBasedDetector
from detect_secrets.settings import default_settings, get_settings

_LOCK = threading.Lock()
# Lines longer than this are not scanned by the library (its entropy search is quadratic-ish);
# the project patterns still see them.
MAX_LINE = 4000
# Values the keyword plugin reports that are code, not secrets (a call, an attribute, a name).
_MIN_SECRET = 6
# The entropy plugins flag digests; a hex string of a hash's length, or an `sha512-…` integrity
# value, is a checksum in code, lock files and test data, not a credential.
_DIGEST = re.compile(r"^(?:[0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64}|[0-9a-fA-F]{128}"
                     r"|sha(?:1|256|384|512)[-:].*)$")


@lru_cache(maxsize=1)
def _configure() -> None:
    """Enable every plugin with the default filters, once, for the whole process."""
    with default_settings() as settings:
        config = settings.json()
    get_settings().set(get_settings().configure_plugins(config["plugins_used"]))


def detected(lines: list[str], path: str | None = None, *,
             drop_digests: bool = True) -> dict[int, list[str]]:
    """Line index -> the secret values detect-secrets finds there, longest first.

    This is the library's file-scan path (not its ad-hoc `scan_line`, whose eager search reports
    every word), so the entropy limits and the heuristic filters apply as in `detect-secrets scan`;
    the file name picks the keyword plugin's syntax (Python, YAML, config, ...).
    """
    numbered = [(n, line) for n, line in enumerate(lines, start=1)
                if _MIN_SECRET <= len(line) <= MAX_LINE]
    if not numbered:
        return {}
    with _LOCK:
        _configure()
        found = list(_process_line_based_plugins(numbered, filename=path or "input.txt"))
    out: dict[int, set[str]] = {}
    for secret in found:
        line = lines[secret.line_number - 1]
        value = secret.secret_value or ""
        # a regex plugin whose group is only a prefix (`ghp` of a GitHub token): the whole match
        values = {value} if len(value) >= _MIN_SECRET else set(_whole_matches(secret.type, line))
        if drop_digests:
            values = {value for value in values if not _DIGEST.match(value)}
        out.setdefault(secret.line_number - 1, set()).update(
            value for value in values if len(value) >= _MIN_SECRET and value in line)
    return {i: sorted(values, key=len, reverse=True) for i, values in out.items()}


def _whole_matches(secret_type: str, line: str) -> list[str]:
    """Every whole match of a regex plugin's patterns in the line."""
    plugin = _plugin_classes().get(secret_type)
    if plugin is None or not issubclass(plugin, RegexBasedDetector):
        return []
    return [m.group(0) for regex in plugin().denylist for m in regex.finditer(line)]


@lru_cache(maxsize=1)
def _plugin_classes() -> dict[str, type]:
    return dict(get_mapping_from_secret_type_to_class())


def detected_spans(text: str, path: str | None = None, *,
                   drop_digests: bool = True) -> list[tuple[int, int]]:
    """(start, end) offsets in `text` of every value detect-secrets finds."""
    lines = text.split("\n")
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    spans = []
    for i, secrets in detected(lines, path, drop_digests=drop_digests).items():
        for secret in secrets:
            at = lines[i].find(secret)
            while at >= 0:
                spans.append((starts[i] + at, starts[i] + at + len(secret)))
                at = lines[i].find(secret, at + len(secret))
    return spans


def mask_detected(text: str, path: str | None = None, mask: str = "[REDACTED]") -> str:
    """Every value detect-secrets finds, masked where it occurs: the library alone, as shipped."""
    out, last = [], 0
    for start, end in sorted(detected_spans(text, path, drop_digests=False)):
        if end > last:
            out += [text[last:max(start, last)], mask]
            last = end
    return "".join(out) + text[last:]
