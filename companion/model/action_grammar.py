"""The protocol-v2 action grammar (EBNF) generated from the tool registry, for constrained decoding.

Sent as `sampling_params.ebnf` with every v2 micro-turn, to our server and to SGLang alike (both
compile it with xgrammar), so each output is exactly one well-formed action: silence, a short
utterance, stop, a relay of a job id, or a call of a registered tool whose arguments pass the
registry's spec. `<|end|>` is not in the grammar: it is the model's stop token, which xgrammar
allows once the action is complete.

Call JSON is the exact text `format_output` writes (`{"tool": NAME, "args": {...}}`, arguments
in registry order, `", "` and `": "` separators). Strings are printable ASCII without `"`, `\\`
or `<` and without escapes, so training targets must keep to that (tests check they do).
"""

from __future__ import annotations

from companion.core.action import MAX_SPEAK_WORDS, MAX_STRING_CHARS, MAX_WORD_CHARS
from companion.core.protocol_v2 import STRING_TEXT
from tools.catalog import default_registry
from tools.registry import Arg, ToolRegistry, ToolSpec

MAX_ARRAY_ITEMS = 4
MAX_DIGITS = 6  # unbounded integers (line numbers) get at most this many digits
ENUMERATE_INTEGERS = 1000  # a bounded range this small may list its values

_HEADER = r'''root ::= silence | speak | stop | relay | call
silence ::= "<|silence|>"
stop ::= "<|stop|>"
speak ::= "<|speak|>" word (" " word){0,SPEAK_MORE}
word ::= [^\x00-\x20<\x7f]{1,WORD_CHARS}
relay ::= "<|relay|>" "j" [0-9]{1,DIGITS}
string_char ::= [ !#-;=-\[\]-~]
name_char ::= [ !#-,.-;=-\[\]-~]
'''.replace("SPEAK_MORE", str(MAX_SPEAK_WORDS - 1)).replace(
    "WORD_CHARS", str(MAX_WORD_CHARS)).replace("DIGITS", str(MAX_DIGITS))


def _lit(text: str) -> str:
    """An EBNF string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _at_most(hi: str, first: bool = True) -> str:
    """EBNF for the len(hi)-digit decimals <= hi (a leading digit >= 1 when `first`): a smaller
    digit here and anything after it, or this digit and the rest bounded the same way."""
    lo, head, rest = (1 if first else 0), int(hi[0]), len(hi) - 1
    alts = [f"[{lo}-{head - 1}]" + " [0-9]" * rest] if head > lo else []
    alts.append(_lit(hi[0]) + (f" ({_at_most(hi[1:], first=False)})" if rest else ""))
    return " | ".join(alts)


def _int_range(lo: int, hi: int) -> str:
    """EBNF for the decimal integers lo..hi (no leading zeros): one alternative per digit
    count, a digit class where the range covers that count whole, a bound digit by digit where
    only the top is cut, else the values listed."""
    alts = []
    for digits in range(len(str(lo)), len(str(hi)) + 1):
        floor = 10 ** (digits - 1) if digits > 1 else 0
        first, last = max(lo, floor), min(hi, 10 ** digits - 1)
        if first == floor and last == 10 ** digits - 1:
            head = "[0-9]" if digits == 1 else "[1-9]"
            alts.append(head + (" [0-9]" * (digits - 1)))
        elif first == 1 and last == 9:
            alts.append("[1-9]")
        elif first == floor and digits > 1:
            alts.append(_at_most(str(last)))
        else:
            alts += [_lit(str(n)) for n in range(first, last + 1)]
    return " | ".join(alts)


def _int_value(arg: Arg) -> tuple[str, str]:
    lo = 0 if arg.minimum is None else arg.minimum
    if lo >= 0 and arg.maximum is not None and (arg.maximum - lo <= ENUMERATE_INTEGERS
                                                or lo <= 10):  # small bottom: spelled by digits
        return f"int_{lo}_{arg.maximum}", _int_range(lo, arg.maximum)
    if lo >= 1:  # no leading zeros; validation checks any other bound
        return "int_positive", f"[1-9] [0-9]{{0,{MAX_DIGITS - 1}}}"
    return "int_natural", f'"0" | [1-9] [0-9]{{0,{MAX_DIGITS - 1}}}'


_ANY_HEARD = f'heard_string ::= "\\"" string_char{{1,{MAX_STRING_CHARS}}} "\\""'


def _string_value(arg: Arg) -> tuple[str, str]:
    if arg.heard:  # any text until with_heard() names the words this turn may copy
        return "heard_string", _ANY_HEARD.partition(" ::= ")[2]
    if arg.enum:
        return "enum_" + "_".join(arg.enum), " | ".join(_lit(f'"{v}"') for v in arg.enum)
    # never empty (an optional argument is left out instead); names handed to git must not
    # read as options
    first, tag = ("name_char", "name") if arg.no_leading_dash else ("string_char", "text")
    return f"{tag}_string", f'"\\"" {first} string_char{{0,{MAX_STRING_CHARS - 1}}} "\\""'


def _value(arg: Arg, rules: dict[str, str]) -> str:
    """The name of the rule for `arg`'s JSON value, added to `rules` (shared between tools)."""
    if arg.type == "boolean":
        name, body = "bool", '"true" | "false"'
    elif arg.type == "integer":
        name, body = _int_value(arg)
    elif arg.type == "string":
        name, body = _string_value(arg)
    else:
        item = _value(Arg(arg.name, arg.items or "string", "", required=True,
                          no_leading_dash=arg.no_leading_dash), rules)
        name = f"array_of_{item}"
        body = f'"[" ({item} (", " {item}){{0,{MAX_ARRAY_ITEMS - 1}}})? "]"'
    rules[name] = body
    return name


def _tool_rules(spec: ToolSpec, values: dict[str, str]) -> list[str]:
    """Rules for one tool's call: `args` with optional arguments left out, order kept.

    `{tool}_k` starts the object at argument k (no comma yet); `{tool}_more_k` continues after
    at least one argument was written (each argument then opens with ", ").
    """
    name, n = spec.name, len(spec.args)
    rules = [f'call_{name} ::= {_lit(chr(34) + name + chr(34))} ", \\"args\\": {{" '
             + (f'{name}_0 "}}"' if n else '"}"')]
    opening = True  # `{tool}_k` exists while every argument before k is optional
    for k, arg in enumerate(spec.args):
        pair = f"{_lit(chr(34) + arg.name + chr(34) + ': ')} {_value(arg, values)}"
        nxt = f" {name}_more_{k + 1}" if k + 1 < n else ""
        first, more = f"{pair}{nxt}", f'", " {pair}{nxt}'
        if not arg.required:
            first += f" | {name}_{k + 1}" if k + 1 < n else ' | ""'
            more += f" | {name}_more_{k + 1}" if k + 1 < n else ' | ""'
        if opening:
            rules.append(f"{name}_{k} ::= {first}")
        opening = opening and not arg.required
        if k > 0:
            rules.append(f"{name}_more_{k} ::= {more}")
    return rules


def action_grammar(registry: ToolRegistry) -> str:
    """The EBNF of one v2 action (root rule `root`) for the tools of `registry`."""
    specs = [registry.get(name) for name in registry.names()]
    if not specs:
        return _HEADER.replace(" | call", "")
    lines = [_HEADER.rstrip("\n"),
             'call ::= "<|call|>" "{\\"tool\\": " (' +
             " | ".join(f"call_{s.name}" for s in specs) + ') "}"']
    values: dict[str, str] = {}
    for spec in specs:
        lines += _tool_rules(spec, values)
    lines += [f"{name} ::= {body}" for name, body in values.items()]
    return "\n".join(lines) + "\n"


_ANY_RELAY = 'relay ::= "<|relay|>" "j" [0-9]{1,' + str(MAX_DIGITS) + '}'


def with_relays(grammar: str, refs: list[str]) -> str:
    """`grammar` whose relay names only `refs` (companion.model.relayable); with none, a relay
    is not an action this turn at all. xgrammar compiles such a variant in milliseconds. A
    grammar without action_grammar()'s relay rule is returned as it is."""
    if _ANY_RELAY not in grammar:
        return grammar
    if not refs:
        return grammar.replace("root ::= silence | speak | stop | relay", "root ::= silence | speak | stop", 1) \
            .replace(_ANY_RELAY + "\n", "", 1)
    return grammar.replace(_ANY_RELAY, 'relay ::= "<|relay|>" (' + " | ".join(_lit(r) for r in refs) + ")", 1)


def with_heard(grammar: str, texts: list[str]) -> str:
    """`grammar` whose copied arguments (Arg.heard: remind's request) may only be one of `texts`,
    the user's recent words as the model saw them, whole: a small model copies the start of a
    request and then writes a memorized one ("remind me in five seconds to reply to reply…"); held
    to the heard words it can only choose which. With no usable text the rule stays any text."""
    usable = [t for t in dict.fromkeys(texts) if STRING_TEXT.fullmatch(t)]  # what any string may be
    if _ANY_HEARD not in grammar or not usable:
        return grammar
    body = " | ".join(_lit(f'"{text}"') for text in usable)
    return grammar.replace(_ANY_HEARD, f"heard_string ::= {body}", 1)


def after_a_call(grammar: str) -> str:
    """`grammar` for the turn right after a call: anything but another call. Training shows the
    job's "started" next turn; live, a long call (remind's copied request, 0.2-0.3 s of decoding)
    misses that turn's window, and the model, seeing no sign of its call, made it again."""
    head, sep, rest = grammar.partition("\n")
    if not head.startswith("root ::= ") or not head.endswith(" | call"):
        return grammar
    return head.removesuffix(" | call") + sep + rest


def while_speaking(grammar: str) -> str:
    """`grammar` for a turn while the companion's own utterance plays: let it play (silence) or
    stop, the only actions training shows there, so an utterance is never queued behind itself.
    A grammar with another root is returned as it is."""
    head, sep, rest = grammar.partition("\n")
    return "root ::= silence | stop" + sep + rest if head.startswith("root ::= silence | speak") else grammar


def default_action_grammar() -> str:
    """The action grammar of the tools the companion's agent runs."""
    return action_grammar(default_registry())
