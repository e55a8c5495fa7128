"""Protocol 2's output side: exactly one action per micro-turn, parsed and formatted.

`<|silence|>` | `<|speak|>` + one whole utterance | `<|stop|>` | `<|relay|>` + `j<ID>` |
`<|call|>` + `{"tool": NAME, "args": {...}}`, then `<|end|>` (docs/protocol.md). Under the
action grammar (companion/model/action_grammar.py) every output has this form; without it (a server
that ignored the grammar) anything else becomes silence with `error` saying why, never speech.
"""

from __future__ import annotations

import json
import re

from companion.core.action import (
    MAX_SPEAK_WORDS,
    MAX_STRING_CHARS,
    MAX_WORD_CHARS,
    RELAY,
    SPEAK,
    SPECIAL_TOKENS_V2,
    Action,
    call_action,
)

END = "<|end|>"
_JOB = re.compile(r"j\d+")
_WORD = re.compile(r"[^\x00-\x20<\x7f]{1,%s}".replace("%s", str(MAX_WORD_CHARS)))
# what a string argument may be, as the action grammar spells it (string_char)
STRING_TEXT = re.compile(r"[ !#-;=-\[\]-~]{1,%s}".replace("%s", str(MAX_STRING_CHARS)))


def _outside_grammar(action: Action) -> str:
    """Why a training target would fall outside the action grammar ('' when it is inside)."""
    if action.kind == "speech":
        words = action.text.split()
        if not 1 <= len(words) <= MAX_SPEAK_WORDS:
            return f"an utterance has 1 to {MAX_SPEAK_WORDS} words, got {len(words)}"
        bad = next((w for w in words if not _WORD.fullmatch(w)), None)
        return f"word {bad!r}: at most {MAX_WORD_CHARS} characters, no '<'" if bad else ""
    if action.kind == "call":
        values = list(action.args.values())
        strings = [v for v in values if isinstance(v, str)]
        strings += [x for v in values if isinstance(v, list) for x in v if isinstance(x, str)]
        bad = next((v for v in strings if not STRING_TEXT.fullmatch(v)), None)
        if bad is not None:
            return (f"argument {bad!r}: 1 to {MAX_STRING_CHARS} printable ASCII characters "
                    "without quote, backslash or '<'")
    return ""


def _next_special(text: str) -> int:
    hits = [at for tok in SPECIAL_TOKENS_V2 if (at := text.find(tok)) >= 0]
    return min(hits, default=len(text))


def _action(token: str, rest: str) -> Action:
    if token == "<|silence|>":
        return Action("silence", error=f"text after <|silence|>: {rest[:40]!r}" if rest else "")
    if token == "<|stop|>":
        return Action("stop", error=f"text after <|stop|>: {rest[:40]!r}" if rest else "")
    if token == SPEAK:
        words = rest.strip()
        return Action("speech", text=words, whole=True) if words else \
            Action("silence", error="<|speak|> without words")
    if token == RELAY:
        ref = rest.strip()
        return Action("relay", job=ref) if _JOB.fullmatch(ref) else \
            Action("silence", error=f"<|relay|> needs a job id like j3, got {ref[:40]!r}")
    try:  # <|call|>
        payload, end = json.JSONDecoder().raw_decode(rest.strip())
    except json.JSONDecodeError as exc:
        return Action("call", text=rest, error=f"call is not valid JSON: {exc.msg} at {exc.pos}")
    call = call_action(rest.strip()[:end], payload)
    extra = rest.strip()[end:].strip()
    if extra and not call.error:
        return Action("call", text=call.text, tool=call.tool, args=call.args,
                      error=f"text after the call's JSON: {extra[:40]!r}")
    return call


def parse_output_v2(text: str) -> tuple[list[Action], bool]:
    """Model output (special tokens kept) -> ([the one action], whether `<|end|>` closed it)."""
    ended = END in text
    body = text.split(END, 1)[0].lstrip()
    token = next((t for t in ("<|silence|>", SPEAK, "<|stop|>", RELAY, "<|call|>")
                  if body.startswith(t)), None)
    if token is None:  # empty output (max_new_tokens 0) is silence; anything else is an error
        error = f"no action token at the start of the output: {body[:40]!r}" if body else ""
        return [Action("silence", error=error)], ended
    rest = body[len(token):]
    rest = rest[:_next_special(rest)]  # a second action token ends this one (never two actions)
    return [_action(token, rest)], ended


def format_output_v2(actions: list[Action]) -> str:
    """The output text of one action (training targets use it); inverse of parse_output_v2.

    Raises ValueError for an action the action grammar could not produce (a 25-word
    utterance, a non-ASCII argument), so no training target teaches what decoding forbids."""
    if len(actions) != 1:
        raise ValueError(f"protocol 2 has exactly one action per micro-turn, got {len(actions)}")
    action = actions[0]
    why = _outside_grammar(action)
    if why:
        raise ValueError(f"not a protocol-2 action the grammar allows: {why}")
    if action.kind == "silence":
        body = "<|silence|>"
    elif action.kind == "stop":
        body = "<|stop|>"
    elif action.kind == "speech":
        body = SPEAK + " ".join(action.text.split())
    elif action.kind == "relay":
        if not _JOB.fullmatch(action.job):
            raise ValueError(f"relay needs a job id like j3, got {action.job!r}")
        body = RELAY + action.job
    elif action.kind == "call":
        body = "<|call|>" + json.dumps({"tool": action.tool, "args": action.args},
                                       separators=(", ", ": "))
    else:
        raise ValueError(f"unknown action kind {action.kind!r}")
    return body + END
