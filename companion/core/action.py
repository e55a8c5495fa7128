"""Action: one decision parsed from the model's output, and the special tokens both protocols share."""

from __future__ import annotations

from dataclasses import dataclass, field

SPECIAL_TOKENS: tuple[str, ...] = (
    "<|system|>", "<|t|>", "<|hear|>", "<|audio|>", "<|see|>", "<|patch|>", "<|file|>", "<|tool|>",
    "<|user|>", "<|self|>", "<|cut|>", "<|out|>", "<|silence|>", "<|stop|>", "<|call|>", "<|end|>",
    "<|more|>",
)
SPEAK, RELAY = "<|speak|>", "<|relay|>"
SPECIAL_TOKENS_V2: tuple[str, ...] = SPECIAL_TOKENS + (SPEAK, RELAY)
# what the action grammar (companion.model.action_grammar) lets an action hold
MAX_SPEAK_WORDS = 24  # the contract's "one whole short utterance (<= 24 words)"
MAX_WORD_CHARS = 20
MAX_STRING_CHARS = 72  # a commit message's subject line


@dataclass(frozen=True, slots=True)
class Action:
    """One decision parsed from the model's output for a micro-turn."""

    kind: str  # "silence" | "speech" | "stop" | "call" | "relay" (protocol 2)
    text: str = ""  # speech: the words (v2: one whole utterance); call: the raw JSON
    tool: str = ""
    args: dict = field(default_factory=dict)
    error: str = ""  # call: why the JSON could not be read; v2: why the output was not an action
    job: str = ""  # relay: the job reference (`j3`) whose summary is spoken
    whole: bool = False  # speech: one complete utterance (protocol 2), not a fragment (1)


def call_action(raw: str, payload: object) -> Action:
    if not isinstance(payload, dict) or not isinstance(payload.get("tool"), str):
        return Action("call", text=raw, error='call must be {"tool": name, "args": {...}}')
    args = payload.get("args", {})
    if not isinstance(args, dict):
        return Action("call", text=raw, tool=payload["tool"], error="call args must be an object")
    return Action("call", text=raw, tool=payload["tool"], args=args)
