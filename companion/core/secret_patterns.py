"""The project's own secret patterns: what detect-secrets misses on the redaction corpus.

detect-secrets drops whole lines whose right-hand side is a call (`OpenAI(api_key="…")`), reports
only part of some tokens, and has no rule for quoted JSON keys, opaque bearer tokens, URL
passwords without a user, PGP blocks, Stripe restricted keys, Slack webhooks and more; each
pattern here closes one such class, measured by benchmarks/redaction.py.
"""

from __future__ import annotations

import re

MASK = "[REDACTED]"

# Each matches the secret itself (or, with a `secret` group, the part to mask).
TOKEN_PATTERNS: tuple[re.Pattern[str], ...] = tuple(re.compile(p, f) for p, f in (
    # PEM and PGP private keys, also inside a JSON string with escaped newlines
    ((r"-----BEGIN (?:[A-Z0-9 ]+ )?PRIVATE KEY(?: BLOCK)?-----.*?"
     r"(?:-----END (?:[A-Z0-9 ]+ )?PRIVATE KEY(?: BLOCK)?-----|\Z)"), re.DOTALL),
    (r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b", 0),  # AWS access key id
    (r"\bgh[pousr]_[A-Za-z0-9]{30,}\b", 0),  # GitHub
    (r"\bgithub_pat_[A-Za-z0-9_]{40,}\b", 0),
    (r"\bglpat-[A-Za-z0-9_\-]{20,}\b", 0),  # GitLab
    (r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_\-]{20,}", 0),  # OpenAI / Anthropic
    (r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,}\b", 0),  # Stripe secret and restricted keys
    (r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b", 0),  # Slack tokens
    (r"https://hooks\.slack\.com/services/[A-Za-z0-9_/]+", 0),  # Slack webhooks
    (r"\bAIza[0-9A-Za-z_\-]{35}", 0),  # Google API key
    (r"\bhf_[A-Za-z0-9]{20,}\b", 0),  # Hugging Face
    (r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*", 0),  # JWT, signature too
    (r"\bSG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}", 0),  # SendGrid
    (r"\bnpm_[A-Za-z0-9]{36}\b", 0),
    (r"\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{20,}", 0),
    (r"\b\d{8,10}:AA[A-Za-z0-9_\-]{30,}", 0),  # Telegram bot
    (r"\b[0-9a-f]{32}-us\d{1,2}\b", 0),  # Mailchimp
    (r"\bsq0(?:atp|csp)-[A-Za-z0-9_\-]{22,}", 0),  # Square
    (r"\bshp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}\b", 0),  # Shopify
    (r"\bdo[por]_v1_[a-f0-9]{64}\b", 0),  # DigitalOcean
    (r"\bSK[0-9a-fA-F]{32}\b", 0),  # Twilio API key
    (r"(?<=AccountKey=)[^;\s\"']+", 0),  # Azure storage connection strings
    # passwords in URLs (user:pass@, :pass@) and tokens used as the user (https://TOKEN@host)
    (r"(?<=://)[^/\s:@\"']*:[^/\s@\"']+(?=@)", 0),
    (r"(?<=://)[A-Za-z0-9_\-]{20,}(?=@)", 0),
    # Authorization-style headers: the credential after the scheme word
    ((r"\b(?:Authorization|Proxy-Authorization)[\"']?\s*[:=]\s*[\"']?(?:f[\"'])?"
     r"(?:Bearer|Basic|Token|Digest|Bot)\s+(?P<secret>[^\s\"'`$<{]{8,})"), re.IGNORECASE),
    # a bare 40-character AWS-style secret: mixed case and digits, nothing around it
    ((r"(?:^[+-]|(?<![A-Za-z0-9/+=]))(?P<secret>(?=[A-Za-z0-9/+]*[A-Z])(?=[A-Za-z0-9/+]*[a-z])"
     r"(?=[A-Za-z0-9/+]*\d)[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"), re.MULTILINE),
    # CLI flags, netrc, XML elements, and a secret said in words
    ((r"--(?:password|passwd|pass|api[-_]?key|api[-_]?token|token|secret|auth[-_]?token)"
     r"(?:=|\s+)(?P<secret>[^\s\"'$<{-][^\s\"']{3,})"), re.IGNORECASE),
    (r"\b(?:machine|login)\b.*?\bpassword\s+(?P<secret>\S+)", 0),
    ((r"<(?P<tag>[\w:-]*(?:password|passwd|secret|token|api[_-]?key)[\w:-]*)>"
     r"(?P<secret>[^<\s]{4,})</(?P=tag)>"), re.IGNORECASE),
    ((r"\b(?:password|passphrase|passcode|pin|token|secret)\s+(?:is|was)\s+"
     r"(?P<secret>(?=\S*[\d!@#$%^&*])\S{6,})"), re.IGNORECASE),
))

# `name = value`, `"name": "value"`, `'name' => 'value'` where the name says it is a secret.
ASSIGNMENT = re.compile(
    r"""(?P<name>\b[\w.-]*(?:secret|passw(?:or)?d|passwd|token|api[_-]?key|apikey|access[_-]?key|
         private[_-]?key|credentials?|auth)[\w.-]*)
        (?P<close>["'\]]{0,2})
        (?P<sep>\s*(?::=|=>|[:=])\s*)
        (?:(?P<prefix>[bfr]?)(?P<quote>["'])(?P<quoted>[^"'\n]{4,})(?P=quote)
          |(?P<bare>[A-Za-z0-9_\-+/=@#$%^&*!~.]{4,}?)(?=[\s,;}\])"'<]|$))""",
    re.IGNORECASE | re.VERBOSE,
)
# Values that are code, types or placeholders, not secrets.
_NOT_SECRET = re.compile(
    r"""^(?:none|null|nil|true|false|undefined|str|bytes|int|float|bool|any|optional|
         secretstr|string|changeme|xxx+|\*+|bearer|basic|token|digest)$""", re.IGNORECASE | re.VERBOSE)
_TEMPLATED = re.compile(r"^(?:\$|<.*>$|\{|%\(|\{\{)")


def _is_code(value: str, sep: str) -> bool:
    """A bare value that is a variable, attribute or literal rather than a secret."""
    if _NOT_SECRET.match(value) or _TEMPLATED.match(value) or value.startswith(MASK):
        return True
    if "." in value and re.fullmatch(r"[A-Za-z_][\w.]*", value):
        return True  # settings.SECRET_KEY, os.environ
    # after `=` a plain word is a name (self.token = token); after `:` it is a YAML value
    return "=" in sep and re.fullmatch(r"[A-Za-z_]+", value) is not None


Span = tuple[int, int]


def assignment_spans(text: str) -> list[Span]:
    """Where the values of secret-named assignments are."""
    spans = []
    for m in ASSIGNMENT.finditer(text):
        group = "quoted" if m.group("quote") else "bare"
        value = m.group(group)
        if _TEMPLATED.match(value) or (group == "bare" and _is_code(value, m.group("sep"))):
            continue
        spans.append(m.span(group))
    return spans


def token_spans(text: str) -> list[Span]:
    """Where provider tokens, key blocks, URL passwords and header credentials are."""
    spans = []
    for pattern in TOKEN_PATTERNS:
        for m in pattern.finditer(text):
            has_secret = "secret" in pattern.groupindex and m.group("secret") is not None
            spans.append(m.span("secret") if has_secret else m.span())
    return spans


def mask_spans(text: str, spans: list[Span]) -> str:
    """Replace every span (overlaps merged) with the mask."""
    out, last = [], 0
    for start, end in sorted(spans):
        if end <= last:
            continue
        start = max(start, last)
        out += [text[last:start], MASK]
        last = end
    return "".join(out) + text[last:]
