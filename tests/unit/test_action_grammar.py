"""The v2 action grammar: generated from the tool registry, it accepts exactly the actions
`format_output` writes for registered tools with valid arguments (checked with xgrammar)."""

from __future__ import annotations

import json

import pytest
import xgrammar as xgr
from tokenizers import Tokenizer

from companion.core.protocol import Action, format_output
from companion.model.action_grammar import MAX_SPEAK_WORDS, action_grammar, default_action_grammar
from model_server.loader import EMBEDDED_DIR
from tools.catalog import default_registry
from tools.registry import Arg, ToolRegistry, ToolSpec

SAMPLE = {"string": "src/stats.py", "integer": 3, "boolean": True, "array": ["src/stats.py"]}


@pytest.fixture(scope="module")
def compiler():
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_file(str(EMBEDDED_DIR / "tokenizer.json")))
    return xgr.GrammarCompiler(xgr.TokenizerInfo.from_huggingface(tok, stop_token_ids=[15]))


def accepts(compiler, grammar: str, output: str) -> bool:
    matcher = xgr.GrammarMatcher(compiler.compile_grammar(grammar))
    return matcher.accept_string(output.removesuffix("<|end|>")) and matcher.is_completed()


def value(arg: Arg):
    if arg.enum:
        return arg.enum[-1]
    if arg.type == "integer":
        return max(arg.minimum or 0, min(SAMPLE["integer"], arg.maximum or 10**6))
    return SAMPLE[arg.type]


def calls(spec: ToolSpec) -> list[dict]:
    """The smallest and the fullest valid argument objects of a tool."""
    return [{a.name: value(a) for a in spec.args if a.required},
            {a.name: value(a) for a in spec.args}]


@pytest.mark.parametrize("name", default_registry().names())
def test_every_registered_tool_is_callable_with_valid_args(compiler, name):
    registry = default_registry()
    grammar = default_action_grammar()
    for args in calls(registry.get(name)):
        out = format_output([Action("call", tool=name, args=args)], protocol=2)
        assert accepts(compiler, grammar, out), out
        registry.parse_call(out)  # and the registry agrees it is valid


@pytest.mark.parametrize("output", [
    "<|silence|>", "<|stop|>", "<|relay|>j3", "<|speak|>the median test fails on line 11.",
    "<|speak|>" + " ".join(["word"] * MAX_SPEAK_WORDS),
])
def test_the_non_call_actions_are_accepted(compiler, output):
    assert accepts(compiler, default_action_grammar(), output)


@pytest.mark.parametrize("output", [
    '<|call|>{"tool": "rm", "args": {}}',  # not registered
    '<|call|>{"tool": "git_blame", "args": {"start": 3}}',  # required path missing
    '<|call|>{"tool": "tests", "args": {"scope": "everything"}}',  # not in the enum
    '<|call|>{"tool": "git_log", "args": {"n": 101}}',  # over the maximum
    '<|call|>{"tool": "git_log", "args": {"n": 0}}',  # under the minimum
    '<|call|>{"tool": "git_switch", "args": {"name": "--force"}}',  # would read as an option
    '<|call|>{"tool": "git_status", "args": {"verbose": true}}',  # unknown argument
    '<|call|>{"tool": "git_commit", "args": {"message": ""}}',  # empty required string
    '<|call|>{"tool": "tests"}',  # no args object
    "<|speak|>" + " ".join(["word"] * (MAX_SPEAK_WORDS + 1)),  # over 24 words
    "<|speak|>",  # no words
    "<|speak|> leading space",
    "<|relay|>job-3",
    "<|silence|><|silence|>",  # one action per turn
    "hello",
])
def test_anything_else_is_rejected(compiler, output):
    assert not accepts(compiler, default_action_grammar(), output)


def test_the_grammar_follows_the_registry(compiler):
    registry = ToolRegistry([ToolSpec("deploy", "ship it", (
        Arg("env", "string", "where", required=True, enum=("dev", "prod")),
        Arg("dry_run", "boolean", "only show"),
    ), changes_repository=True)])
    grammar = action_grammar(registry)
    ok = format_output([Action("call", tool="deploy", args={"env": "prod", "dry_run": False})], 2)
    assert accepts(compiler, grammar, ok)
    assert not accepts(compiler, grammar, '<|call|>{"tool": "tests", "args": {}}')
    assert "tests" not in grammar and "call_deploy" in grammar


def test_the_grammar_text_is_deterministic():
    """Sent every turn: the same text, so servers' compile caches hit."""
    assert default_action_grammar() == default_action_grammar()
    assert json.dumps(default_action_grammar())  # a plain string, sendable as JSON


@pytest.mark.parametrize("lo, hi", [(1, 100), (0, 9), (1, 9), (0, 100), (5, 12), (3, 250),
                                    (10, 99), (1, 1), (1, 3600), (0, 1009), (1, 2190)])
def test_integer_ranges_are_exact(compiler, lo, hi):
    from companion.model.action_grammar import _int_range

    grammar = compiler.compile_grammar(f"root ::= {_int_range(lo, hi)}")
    accepted = []
    for n in range(0, 4200):
        matcher = xgr.GrammarMatcher(grammar)
        if matcher.accept_string(str(n)) and matcher.is_completed():
            accepted.append(n)
    assert accepted == list(range(lo, hi + 1))


def test_a_copied_argument_is_one_of_the_heard_texts_whole(compiler):
    from companion.model.action_grammar import with_heard

    heard = ["Remind me in ten seconds.", "Remind me in ten seconds to commit this."]
    grammar = with_heard(default_action_grammar(), heard + ["<|self|>x", "", 'say "hi"'])
    for text in heard:  # each whole; none a string argument could not be
        out = format_output([Action(kind="call", tool="remind", args={"request": text})], protocol=2)
        assert accepts(compiler, grammar, out.removesuffix("<|end|>")), out
    for made_up in ("Remind me in five seconds to reply.", "Remind me in ten", "say hi"):
        out = format_output([Action(kind="call", tool="remind", args={"request": made_up})], protocol=2)
        assert not accepts(compiler, grammar, out.removesuffix("<|end|>")), made_up
    # nothing heard yet: any text, as before; other tools' strings are untouched either way
    anything = '<|call|>{"tool": "remind", "args": {"request": "remind me in a minute to go"}}'
    assert accepts(compiler, with_heard(default_action_grammar(), []), anything)
    commit = '<|call|>{"tool": "git_commit", "args": {"message": "fix the loop"}}'
    assert accepts(compiler, grammar, commit)
