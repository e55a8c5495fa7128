"""The teacher-forced probe counts decisions and content the way its docstring says: a model that
predicts every next token scores 1, one that always says silence scores only on silence, and a
relay whose job id is wrong has the right decision but not the right content."""

from __future__ import annotations

from collections import Counter

import numpy as np

from model_server.training.v2.probe import probe_row, summarize

NAMES = {0: "<|out|>", 1: "<|end|>", 2: "<|silence|>", 3: "<|relay|>", 4: "j", 5: "3", 6: "7",
         7: "<|t|>", 8: "<|call|>", 9: "tests", 10: '", "args', 11: "all", 12: "affected"}
OUT, END = 0, 1
# three turns: silence; relay j3; call tests (the call's weight is 0: its input is out of the row)
IDS = np.array([7, OUT, 2, END, 7, OUT, 3, 4, 5, END, 7, OUT, 8, 9, END, 7])
WEIGHT = np.array([0, 0, 1, 1, 0, 0, 8, 3, 3, 3, 0, 0, 0, 0, 0, 0], dtype=np.float32)


def run(pred: np.ndarray) -> dict:
    counts: Counter = Counter()
    probe_row(IDS, WEIGHT, pred, OUT, END, NAMES.__getitem__, counts)
    return summarize(counts)


def test_a_perfect_model_decides_and_says_everything_right():
    got = run(np.append(IDS[1:], END))
    assert got["<|silence|>"] == {"n": 1, "decided": 1.0}
    assert got["<|relay|>"] == {"n": 1, "decided": 1.0, "content_given_kind": 1.0}
    assert "<|call|>" not in got  # unweighted turns are not counted


def test_always_silent_and_a_wrong_job_id_are_told_apart():
    silent = run(np.full(len(IDS), 2))
    assert silent["<|silence|>"]["decided"] == 1.0 and silent["<|relay|>"]["decided"] == 0.0
    assert silent["chosen"] == {"<|silence|>": 2}
    wrong_id = np.append(IDS[1:], END)
    wrong_id[7] = 6  # after "j" the model says 7, the label 3
    got = run(wrong_id)
    assert got["<|relay|>"] == {"n": 1, "decided": 1.0, "content_given_kind": 0.0}


def test_a_call_with_the_right_tool_and_wrong_arguments_counts_the_tool_only():
    ids = np.array([7, OUT, 8, 9, 10, 11, END, 7])  # <|call|> tests ", "args all
    weight = np.array([0, 0, 8, 3, 3, 3, 3, 0], dtype=np.float32)
    counts: Counter = Counter()
    pred = np.append(ids[1:], END)
    pred[4] = 12  # "affected" where the label says "all"
    probe_row(ids, weight, pred, OUT, END, NAMES.__getitem__, counts)
    assert summarize(counts)["<|call|>"] == {"n": 1, "decided": 1.0, "content_given_kind": 0.0,
                                             "tool_given_kind": 1.0}
    pred[2] = 4  # and a wrong tool
    counts.clear()
    probe_row(ids, weight, pred, OUT, END, NAMES.__getitem__, counts)
    assert summarize(counts)["<|call|>"]["tool_given_kind"] == 0.0


def test_evaluate_write_puts_the_metrics_in_the_model_card(tmp_path, monkeypatch):
    import json

    from model_server.training.v2 import evaluate

    async def fake(model, sessions, ticks, text_only, server_args):
        return {"silence_quiet": 0.98, "request_tool_and_args": 0.1}

    monkeypatch.setattr(evaluate, "evaluate", fake)
    (tmp_path / "training.json").write_text(json.dumps({"steps": 7}))
    assert evaluate.main(["--model", str(tmp_path), "--sessions", "2", "--write"]) == 0
    card = json.loads((tmp_path / "training.json").read_text())
    assert card["steps"] == 7 and card["evaluation"]["silence_quiet"] == 0.98
    assert "--sessions 2" in card["evaluation"]["command"]
