"""Secret redaction: keys, tokens, passwords and private keys never reach the model (DESIGN §12)."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

MASK = "[REDACTED]"

# Well-known credential shapes. Each pattern matches the secret itself, not its surroundings.
_TOKEN_PATTERNS = [
    re.compile(r"-----BEGIN (?:[A-Z ]+ )?PRIVATE KEY-----.*?(?:-----END (?:[A-Z ]+ )?PRIVATE KEY-----|\Z)",
               re.DOTALL),
    re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),  # AWS access key id
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"),  # GitHub tokens
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{40,}\b"),
    re.compile(r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_\-]{20,}\b"),  # OpenAI / Anthropic style keys
    re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b"),  # Slack
    re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b"),  # Google API key
    re.compile(r"\b(?:hf|glpat)[_-][A-Za-z0-9_\-]{20,}\b"),  # Hugging Face, GitLab
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b"),  # JWT
    re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"),  # user:password@ in URLs
]

# `name = value` where the name says it is a secret; the value is masked, the name kept.
_ASSIGNMENT = re.compile(
    r"""(?P<name>\b[\w.-]*(?:secret|passw(?:or)?d|passwd|token|api[_-]?key|apikey|access[_-]?key|
         private[_-]?key|credential|auth)[\w.-]*)
        (?P<sep>\s*[:=]\s*|\s*=>\s*)
        (?:(?P<quote>["'])(?P<quoted>[^"'\n]{4,})(?P=quote)
          |(?P<bare>[A-Za-z0-9_\-+/=@#$%^&*!~]{4,})(?![\w(.\[]))""",
    re.IGNORECASE | re.VERBOSE,
)

# In env files every value is a secret candidate.
_ENV_LINE = re.compile(r"^(?P<prefix>[+\- ]?\s*(?:export\s+)?[A-Za-z_][A-Za-z0-9_]*\s*=\s*)(?P<value>.+)$",
                       re.MULTILINE)


def is_env_file(path: str) -> bool:
    name = PurePosixPath(path).name
    return name == ".env" or name.startswith(".env.") or name.endswith(".env")


def redact(text: str, *, path: str | None = None) -> str:
    """Mask secrets in text; with the path of an env file, mask every assigned value."""
    if not text:
        return text
    if path is not None and is_env_file(path):
        text = _ENV_LINE.sub(lambda m: m.group("prefix") + MASK, text)
    for pattern in _TOKEN_PATTERNS:
        text = pattern.sub(MASK, text)

    def mask_value(m: re.Match[str]) -> str:
        if MASK in m.group(0):
            return m.group(0)
        quote = m.group("quote") or ""
        return f"{m.group('name')}{m.group('sep')}{quote}{MASK}{quote}"

    return _ASSIGNMENT.sub(mask_value, text)
