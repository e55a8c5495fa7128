"""The pinned prefix (system text, the user's rules, tools) and its token budget on the model.

The prefix goes to the server as one request, so it must fit the embedded server's per-request
limit (`--max-chunk-tokens` that companion/model/link.py gives it); over it, the server answers
413 and the companion never gets a model turn. The rules loader checks this budget, so
`companion rules check` and the running companion refuse the same files.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from companion.core.protocol import approx_tokens, system_prefix
from companion.rules.config_errors import ConfigProblem

PREFIX_TOKEN_LIMIT = 2048  # = model_link's --max-chunk-tokens for the embedded server
EMBEDDED_DIR = Path(__file__).resolve().parents[2] / "model_server" / "weights" / "embedded"


def pinned_prefix(rule_texts: list[str], prompt: dict[str, Any] | None,
                  system_text: str, rules_text: str, tools_text: str) -> str:
    """The prefix as the runtime sends it: a model that ships the prompt it was trained with
    (get_model_info's `prompt`) gets that wording with the rules' texts, each after the prompt's
    `rule_bullet` and, with none, its `no_rules` line; any other gets ours."""
    if isinstance(prompt, dict) and {"system", "tools", "rules_heading"} <= prompt.keys():
        texts = rule_texts or list(prompt.get("default_rules", []))
        bullet = prompt.get("rule_bullet", "")
        rules = (prompt["rules_heading"] + "\n".join(bullet + t for t in texts) if texts
                 else prompt.get("no_rules", prompt["rules_heading"]))
        return system_prefix(prompt["system"], rules, prompt["tools"])
    return system_prefix(system_text, rules_text, tools_text)


@lru_cache(maxsize=1)
def embedded_prompt() -> dict[str, Any] | None:
    try:
        return json.loads((EMBEDDED_DIR / "prompt.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@lru_cache(maxsize=1)
def _tokenizer():
    try:
        from tokenizers import Tokenizer
        return Tokenizer.from_file(str(EMBEDDED_DIR / "tokenizer.json"))
    except Exception:  # noqa: BLE001 (missing or unreadable tokenizer): fall back to the estimate
        return None


def count_tokens(text: str) -> int:
    """Tokens of `text` for the embedded model (its own tokenizer), else an estimate."""
    tokenizer = _tokenizer()
    if tokenizer is None:
        return approx_tokens(text)
    return len(tokenizer.encode(text, add_special_tokens=False).ids)


def embedded_prefix_tokens(rules) -> int:
    texts = [rule.text.strip() for rule in rules.rules]
    return count_tokens(pinned_prefix(texts, embedded_prompt(), "", "", ""))


def prefix_budget_problems(rules, files: list[str]) -> list[ConfigProblem]:
    """A problem at the rule that takes the prefix over the limit, or none.

    Only the embedded model is checked: its prompt and limit are known here; another server's
    limit is known only once it answers.
    """
    if rules.model.server != "embedded" or embedded_prompt() is None:
        return []
    total = embedded_prefix_tokens(rules)
    if total <= PREFIX_TOKEN_LIMIT:
        return []
    texts = [rule.text.strip() for rule in rules.rules]
    crossing = next((i for i in range(1, len(texts) + 1) if count_tokens(
        pinned_prefix(texts[:i], embedded_prompt(), "", "", "")) > PREFIX_TOKEN_LIMIT), None)
    costs = sorted(((count_tokens(t), r.name) for t, r in zip(texts, rules.rules)), reverse=True)
    longest = ", ".join(f'"{name}" ({n})' for n, name in costs[:3])
    message = (f"the pinned prefix (system text, rules, tools) would be {total} tokens, "
               f"{total - PREFIX_TOKEN_LIMIT} over the embedded model's limit of "
               f"{PREFIX_TOKEN_LIMIT}: the model would never get a turn. Shorten, merge or remove "
               f"rules to save {total - PREFIX_TOKEN_LIMIT} tokens (longest: {longest})")
    if crossing is None:  # the system text and tools alone are over: nothing in the file helps
        return [ConfigProblem(files[-1], 1, "rule", message)]
    rule = rules.rules[crossing - 1]
    line = _rule_line(Path(rule.source), rule.name)
    return [ConfigProblem(rule.source, line, f"rule {rule.name!r}",
                          f"from this rule on, {message}")]


def _rule_line(path: Path, name: str) -> int:
    try:
        source = path.read_text(encoding="utf-8")
    except OSError:
        return 1
    found = re.search(r"^\s*name\s*=\s*[\"']" + re.escape(name) + r"[\"']", source, re.MULTILINE)
    return source.count("\n", 0, found.start()) + 1 if found else 1


def prefix_budget_line(rules) -> str:
    """One line for `companion rules check`: how much of the budget the prefix takes."""
    if rules.model.server != "embedded" or embedded_prompt() is None:
        return "pinned prefix: not checked (the limit of a server other than the embedded one " \
               "is known only when it answers)"
    total = embedded_prefix_tokens(rules)
    return (f"pinned prefix: {total} of {PREFIX_TOKEN_LIMIT} tokens "
            f"({PREFIX_TOKEN_LIMIT - total} left for more rules)")
