"""Every oracle target is a protocol-2 output the serving side reads back and decoding can
produce: `parse_output(protocol=2)` returns the same action, and the action grammar's xgrammar
matcher (model_server/grammar.py, the server's own backend) accepts its tokens to the end."""

from __future__ import annotations

import pytest

from companion.core.protocol import SPECIAL_TOKENS_V2, Action, format_output, parse_output
from companion.model.action_grammar import default_action_grammar
from model_server.grammar import GrammarBackend
from model_server.training.tokenizer import train_tokenizer
from model_server.training.v2 import lines
from model_server.training.v2.code_runs import load_projects
from model_server.training.v2.data import turn_text
from model_server.training.v2.sessions import SessionSim


@pytest.fixture(scope="module")
def sessions():
    projects = load_projects(split="train", limit=3)
    return [SessionSim(seed, projects, 500).run(features=False) for seed in range(6)]


def _targets(sessions) -> dict[str, Action]:
    out = {turn_text(t, features=False)[1]: t.act for s in sessions for t in s.turns}
    for _, tool, args in lines.REQUESTS + lines.REMINDER_REQUESTS + lines.typed_requests("median"):  # every call it makes
        act = Action("call", tool=tool, args=dict(args))
        out[format_output([act], protocol=2)] = act
    return out


def test_every_target_parses_back_to_its_action(sessions):
    targets = _targets(sessions)
    assert {a.kind for a in targets.values()} == {"silence", "speech", "stop", "relay", "call"}
    for text, act in targets.items():
        (parsed,), ended = parse_output(text, protocol=2)
        assert ended and not parsed.error, text
        assert (parsed.kind, parsed.job, parsed.tool, parsed.args) == \
            (act.kind, act.job, act.tool, act.args), text
        if act.kind == "speech":
            assert parsed.text == act.text and parsed.whole


def test_every_target_is_accepted_by_the_action_grammar(sessions):
    texts = [s.prefix + "".join(i.text + o for i, o in (turn_text(t, False) for t in s.turns))
             for s in sessions]
    tokenizer = train_tokenizer(texts, 1024, SPECIAL_TOKENS_V2)
    end = tokenizer.token_to_id("<|end|>")
    backend = GrammarBackend(tokenizer, tokenizer.get_vocab_size(), (end,))
    compiled = backend.compile("ebnf", default_action_grammar())
    for text in _targets(sessions):
        ids = tokenizer.encode(text, add_special_tokens=False).ids
        assert ids[-1] == end, text
        state = backend.state(compiled, (end,))
        for i, tok in enumerate(ids):
            assert state.accept(tok), f"{text!r}: token {i} {tokenizer.decode([tok])!r} refused"
        assert state.terminated, text
    # and the matcher is exact: a target the grammar forbids is refused
    state = backend.state(compiled, (end,))
    bad = tokenizer.encode("<|relay|>job-3<|end|>", add_special_tokens=False).ids
    assert not all(state.accept(t) for t in bad)


def test_a_question_about_the_code_gets_the_failure_or_an_honest_reply():
    """The model cannot read behaviour off the code: a question about it is answered with the
    failing result that bears on it when there is one, else with what it can do instead."""
    from types import SimpleNamespace

    from model_server.training.v2 import oracle

    failing = SimpleNamespace(rules=SimpleNamespace(brief=False), failing_job="job-3", last_said=None)
    assert oracle.answer(failing, "code") == oracle.relay("job-3")
    passing = SimpleNamespace(rules=SimpleNamespace(brief=False), failing_job=None, last_said=None)
    reply = oracle.answer(passing, "code")
    assert reply.kind == "speech" and "can't tell" in reply.text and "tests" in reply.text
    brief = SimpleNamespace(rules=SimpleNamespace(brief=True), failing_job=None, last_said=None)
    assert len(oracle.answer(brief, "code").text) < len(reply.text)
    assert len(lines.QUESTIONS["code"]) >= 10
