"""The oracle sometimes plays a model that missed the stop turn of a talk-over: it keeps playing
over the user for a few turns, which weigh nothing in the rows, then stops, which is a target.
Without these, training never shows the state a late model is in, so it cannot learn to recover."""

from __future__ import annotations

import pytest

from model_server.training.tokenizer import train_tokenizer
from companion.core.protocol import SPECIAL_TOKENS_V2
from model_server.training.v2.code_runs import load_projects
from model_server.training.v2.data import session_rows, turn_text
from model_server.training.v2.sessions import SessionSim


@pytest.fixture(scope="module")
def projects():
    return load_projects(split="train", limit=3)


@pytest.fixture(scope="module")
def sessions(projects):
    sims = [SessionSim(seed, projects, 600) for seed in range(10)]
    return [(sim, sim.run(features=True)) for sim in sims]


def _talk_overs(session):
    """[(tags of the turns from the talk-over's stop window start to its stop)] per stop."""
    out = []
    for i, turn in enumerate(session.turns):
        if turn.tag == "stop":
            j = i
            while j > 0 and session.turns[j - 1].tag == "missed_stop":
                j -= 1
            out.append((i - j, turn.needs, i))
    return out


def test_some_talk_overs_stop_late_never_after_the_user_stopped(sessions):
    stops = [s for _, session in sessions for s in _talk_overs(session)]
    assert len(stops) >= 8
    late = [missed for missed, _, _ in stops if missed]
    assert late and len(late) < len(stops)  # some on time, some late
    for sim, session in sessions:
        for missed, over, i in _talk_overs(session):
            speech = next(s for s in sim.spoken if s.start == over)
            assert i <= speech.end + 1  # still while (or just after) the user speaks
        tags = [t.tag for t in session.turns]
        for a, b in zip(tags, tags[1:]):
            # a missed run ends in a stop, or in the utterance's own end; never in letting it play
            assert a != "missed_stop" or b not in ("playing", "quiet", "event")


def test_missed_turns_weigh_nothing_and_the_late_stop_is_a_target(sessions):
    session = next(s for _, s in sessions if any(m for m, _, _ in _talk_overs(s)))
    texts = [session.prefix + "".join(i.text + o for i, o in (turn_text(t, False) for t in session.turns))]
    tokenizer = train_tokenizer(texts, 1024, SPECIAL_TOKENS_V2)
    rows = session_rows(session, tokenizer, 100_000, features=False)  # one row: every label seen
    (row,) = rows
    assert row.tags["missed_stop"] >= 1
    weights = []  # (tag, weight of the turn's output tokens), in turn order
    at = len(tokenizer.encode(session.prefix, add_special_tokens=False).ids)
    for turn in session.turns:
        chunk, target = turn_text(turn, False)
        n_in = len(tokenizer.encode(chunk.text, add_special_tokens=False).ids)
        n_out = len(tokenizer.encode(target, add_special_tokens=False).ids)
        weights.append((turn.tag, sum(row.weight[at + n_in:at + n_in + n_out])))
        at += n_in + n_out
    assert at == len(row.ids)
    assert all(w == 0 for tag, w in weights if tag == "missed_stop")
    assert all(w > 0 for tag, w in weights if tag in ("stop", "playing"))


def test_text_only_a_talk_over_is_stopped_only_once_its_words_show(projects):
    """Without dMel a talk-over shows only as the recognizer's words: a stop before them would
    teach stopping for no visible reason (and so at backchannels); the turns before weigh 0."""
    stops = 0
    for seed in range(10):
        sim = SessionSim(seed, projects, 600)
        session = sim.run(features=False)
        for missed, over, i in _talk_overs(session):
            speech = next(s for s in sim.spoken if s.start == over)
            assert speech.first_heard is not None and speech.first_heard <= i
            assert i <= max(speech.end + 1, speech.first_heard)
            stops += 1
    assert stops >= 8
