"""Held silences: where the oracle keeps quiet on purpose (an aside, a filler, a nod while it
speaks, a result the rules keep unsaid; a thinking pause is the user's turn, labelled listening), the turns an action would take are labelled and weigh
as much as that action's decision, so declining is learned as firmly as acting."""

from __future__ import annotations

import pytest
from tokenizers import Tokenizer

from model_server.training.v2.code_runs import load_projects
from model_server.training.v2.data import DECISION_WEIGHT, session_rows
from model_server.training.v2.oracle import HELD_TURNS
from model_server.training.v2.sessions import SessionSim

TOKENIZER = "model_server/weights/embedded/tokenizer.json"


@pytest.fixture(scope="module")
def sessions():
    projects = load_projects(split="train", limit=3)
    sims = [SessionSim(seed, projects, 600) for seed in range(6)]
    return [(sim, sim.run(features=seed % 2 == 0)) for seed, sim in enumerate(sims)]


def test_asides_pauses_and_nods_are_held_where_a_reply_or_a_stop_would_come(sessions):
    from model_server.training.v2.episodes import _response_due
    from model_server.training.v2.oracle import STOP_AFTER

    checked = set()
    for sim, session in sessions:
        tags = [t.tag for t in session.turns]
        for s in sim.spoken:
            if s.first_heard is None:
                continue
            if s.kind in ("aside", "filler", "musing"):
                due = _response_due(s)
                held = [k for k in range(due, due + HELD_TURNS) if tags[k] == f"held_{s.kind}"]
                # a reply due at the same turn (a question asked over it) goes first
                if held:
                    checked.add(s.kind)
                    assert all(session.turns[k].act.kind == "silence" for k in held)
                    assert all(session.turns[k].needs == s.start for k in held)
            if s.kind == "backchannel" and sim.features and tags[s.start] == "playing":
                first = s.start + STOP_AFTER
                if tags[first] == "held_backchannel":
                    checked.add("backchannel")
                assert "stop" not in tags[s.start:s.end + 2]  # a nod is never a stop
    assert {"aside", "backchannel"} <= checked, checked


def test_a_held_silence_weighs_as_much_as_the_decision_it_declines(sessions):
    """Its first output token (the action) weighs DECISION_WEIGHT, a plain silence's 1."""
    tokenizer = Tokenizer.from_file(TOKENIZER)
    out_id = tokenizer.token_to_id("<|out|>")
    first_weight: dict[str, set[float]] = {"held": set(), "plain": set()}
    for sim, session in sessions[:2]:
        turns = iter(session.turns)
        for row in session_rows(session, tokenizer, 2048, features=sim.features):
            starts = [p for p, i in enumerate(row.ids[:-1]) if i == out_id]
            assert len(starts) == sum(row.tags.values())  # one output per turn in the row
            for p in starts:
                turn = next(turns)
                if row.weight[p + 1] == 0:  # its input is before the row: not a target
                    continue
                if turn.tag.startswith("held_"):
                    first_weight["held"].add(row.weight[p + 1])
                elif turn.tag == "quiet":
                    first_weight["plain"].add(row.weight[p + 1])
    assert first_weight == {"held": {DECISION_WEIGHT}, "plain": {1.0}}
