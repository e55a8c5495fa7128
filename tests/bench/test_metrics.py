"""CompanionBench metrics on hand-made transcripts and timelines with known answers."""

from __future__ import annotations

import json

import pytest

from benchmarks.companion_bench import metrics as m
from benchmarks.companion_bench.report import moment_rows, run_rows, table
from benchmarks.companion_bench.transcript import (
    TranscriptError,
    Utterance,
    calls,
    is_failure,
    read_transcript,
    utterances,
)


def said(t, t_end, text, interrupted=False):
    return {"type": "said", "t": t, "t_end": t_end, "text": text, "interrupted": interrupted, "unspoken": ""}


def test_said_pieces_join_into_utterances_split_by_gaps_and_cuts():
    lines = [said(1.0, 1.2, "two"), said(1.2, 1.6, "tests failed"),  # one utterance
             said(2.5, 2.9, "first"), said(3.0, 3.0, "", True),  # a gap, then cut
             said(3.1, 3.4, "again")]
    utts = utterances(lines)
    assert [(u.t, u.t_end, u.text, u.interrupted) for u in utts] == [
        (1.0, 1.6, "two tests failed", False), (2.5, 2.9, "first", True), (3.1, 3.4, "again", False)]


def test_question_response_and_latency():
    utts = [Utterance(1.0, 2.0, "early"), Utterance(6.5, 7.0, "answer")]
    assert m.question(utts, end=5.0) == {"n": 1, "responded": True, "latency": 1.5}
    assert m.question(utts, end=0.5)["latency"] == 0.5  # the first onset after the end
    assert m.question([Utterance(11.0, 12.0, "late")], end=5.0) == {"n": 1, "responded": False, "latency": None}


def test_pause_take_over_only_inside_the_pause():
    assert m.pause([Utterance(3.2, 3.8, "x")], 3.0, 3.9)["took_over"] is True
    assert m.pause([Utterance(4.0, 4.8, "x")], 3.0, 3.9)["took_over"] is False


def test_talk_over_needs_the_companion_speaking_and_counts_only_cuts_in_time():
    cut = [Utterance(1.0, 3.5, "long", interrupted=True)]
    assert m.talk_over(cut, 3.0) == {"n": 1, "stopped": True, "latency": 0.5}
    late_cut = [Utterance(1.0, 6.0, "long", interrupted=True)]
    assert m.talk_over(late_cut, 3.0)["stopped"] is False
    finished = [Utterance(1.0, 3.5, "long", interrupted=False)]
    assert m.talk_over(finished, 3.0)["stopped"] is False  # ending anyway is not stopping
    assert m.talk_over(cut, 5.0) == {"n": 0, "stopped": None, "latency": None}  # it was quiet


def test_aside_and_remind_windows():
    assert m.aside([Utterance(6.0, 7.0, "x")], end=3.0)["responded"] is True
    assert m.aside([Utterance(7.5, 8.0, "x")], end=3.0)["responded"] is False
    assert m.remind([Utterance(20.6, 21.0, "commit")], due=20.0) == {"n": 1, "on_time": True, "error": pytest.approx(0.6)}
    assert m.remind([Utterance(21.2, 22.0, "commit")], due=20.0)["on_time"] is False


def test_request_right_tool_and_arguments():
    made = [(4.0, "git_status", {}), (6.0, "tests", {"scope": "all"})]
    assert m.request(made, 1.0, 3.0, "tests", {"scope": "all"}) == {"n": 1, "tool": True, "args": True, "latency": 3.0}
    assert m.request(made, 1.0, 3.0, "tests", {"scope": "affected"})["args"] is False
    assert m.request(made, 1.0, 3.0, "lint", {})["tool"] is False
    assert m.request([(14.0, "tests", {})], 1.0, 3.0, "tests", {})["tool"] is False  # too late


def test_unprompted_calls_are_those_outside_every_prompt_window():
    made = [(2.0, "git_status", {}), (5.0, "tests", {}), (30.0, "git_commit", {"message": "x"}),
            (40.0, "git_status", {})]
    got = m.unprompted_calls(made, [(4.0, 6.0)], {"git_commit"})
    assert got == {"n": 3, "changing": 1}  # 5.0 answered the prompt at 4-6
    assert m.unprompted_calls(made, [(0.0, 41.0)], {"git_commit"})["n"] == 0


def test_a_requested_result_counts_as_said_only_when_its_summary_is_spoken_after_it():
    results = [{"t": 2.0, "tool": "lint", "summary": "lint started", "phase": "result"},  # before the call
               {"t": 4.0, "tool": "tests", "summary": "", "phase": "result"},  # nothing to say
               {"t": 5.0, "tool": "tests", "summary": "all four tests pass", "phase": "result"}]
    relay = Utterance(5.6, 7.0, "All four tests, pass")
    assert m.result_said([relay], results, 3.0, "tests") == {"result_said": True,
                                                           "result_latency": pytest.approx(0.6)}
    assert m.result_said([Utterance(5.6, 6.0, "okay")], results, 3.0, "tests")["result_said"] is False
    assert m.result_said([Utterance(4.5, 6.0, "all four tests pass")], results, 3.0,
                         "tests")["result_said"] is False  # before the result: not its relay
    assert m.result_said([Utterance(15.5, 16.0, "all four tests pass")], results, 3.0,
                         "tests")["result_said"] is False  # too late
    assert m.result_said([relay], results, 3.0, "git_diff") == {"result_said": None, "result_latency": None}


def test_bug_recall_content_and_latency():
    utts = [Utterance(12.0, 14.0, "test median even fails at line fifteen")]
    r = m.bug(utts, save_t=2.0, fail_t=10.0, test="test_median_even", function="median", lines={15})
    assert r == {"n": 1, "recalled": True, "names": True, "line": True,
                 "latency_result": 2.0, "latency_save": 10.0}
    vague = m.bug([Utterance(12.0, 13.0, "something looks off")], 2.0, 10.0, "test_median_even", "median", {15})
    assert (vague["recalled"], vague["names"], vague["line"]) == (True, False, False)
    assert m.bug([Utterance(21.0, 22.0, "median")], 2.0, 10.0, "", "median", set())["recalled"] is False
    assert m.bug([], 2.0, None, "t", "f", {1})["n"] == 0  # no failing result: not scorable


def test_names_is_whole_word_and_accepts_digits_or_words_for_either_line():
    assert m.names("the median function, line 15", "", "median", {15}) == {"names": True, "line": True}
    assert m.names("the medians", "", "median", {15})["names"] is False
    assert m.names("line 150", "", "median", {15})["line"] is False
    assert m.names("see line thirteen", "", "median", {15, 13})["line"] is True
    assert m.reported_lines("test_x fails an assertion at test_stats.py line 13") == {13}


def test_loops_and_repeats():
    utts = [Utterance(0, 1, "test _is _is _is"), Utterance(2, 3, "two tests failed"),
            Utterance(4, 5, "two tests failed,"), Utterance(6, 7, "fix the the bound")]  # 2x is no loop
    assert m.loops(utts) == {"n": 4, "repeats": 1, "loops": 1}


def test_proactive_precision_and_babble():
    utts = [Utterance(3.0, 4.0, "answer to you"),  # within the prompt's response window
            Utterance(20.0, 21.0, "the test fails now"),  # while failing
            Utterance(40.0, 41.0, "just chatting here")]  # nothing new for 10 s
    r = m.proactive(utts, prompts=[(1.0, 2.0)], failing=[(18.0, 25.0)], news=[18.0], duration_min=1.0)
    assert r == {"n": 2, "precise": 1, "babble_words": 3, "minutes": 1.0}


def test_echo_counts_final_words_heard_while_only_it_spoke():
    utts = [Utterance(1.0, 3.0, "two tests failed")]
    heard = [{"t": 2.0, "text": "do this", "final": True}, {"t": 2.1, "text": "do", "final": False},
             {"t": 8.0, "text": "hello", "final": True}]
    assert m.echo(heard, utts, user=[])["words"] == 2
    assert m.echo(heard, utts, user=[(1.5, 2.5)])["words"] == 0  # the user was talking


def test_said_time_errors_skip_overlaps_with_the_user():
    utts = [Utterance(1.00, 2.0, "a"), Utterance(5.03, 6.0, "b"), Utterance(9.0, 10.0, "c")]
    errors = m.said_time_errors(utts, audible=[(1.02, 2.0), (5.0, 6.0), (9.0, 10.0)], user=[(8.8, 9.5)])
    assert errors == [pytest.approx(-0.02), pytest.approx(0.03)]


def test_calls_and_failures_from_lines():
    lines = [{"type": "model", "t": 1.0, "action": "call", "text": '{"tool": "tests", "args": {"scope": "all"}}'},
             {"type": "model", "t": 2.0, "action": "call", "text": '{"tool": "git_diff", "git_from'}]
    assert calls(lines) == [(1.0, "tests", {"scope": "all"}), (2.0, "?", {})]
    assert is_failure({"type": "job", "tool": "tests", "phase": "result", "summary": "one test failed in x"})
    assert not is_failure({"type": "job", "tool": "tests", "phase": "result", "summary": "all 6 tests passed"})
    assert not is_failure({"type": "job", "tool": "lint", "phase": "result", "summary": "1 error"})
    # the composed bug report does not say "fail": the status from the result's data decides
    report = "median returns 3 for [3, 1, 2], expected 2, stats.py line 5, changed just now"
    assert is_failure({"type": "job", "tool": "tests", "phase": "result", "summary": report,
                       "status": "failed"})
    assert not is_failure({"type": "job", "tool": "tests", "phase": "result",
                           "summary": "the failing test passes again", "status": "done"})
    assert is_failure({"type": "job", "tool": "tests", "phase": "error",
                       "summary": "test_root hangs: stopped after 8 seconds, spinning at a.py line 3"})


def test_read_transcript_needs_the_schema_1_header(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps({"type": "state", "t": 0}) + "\n")
    with pytest.raises(TranscriptError, match="no session header"):
        read_transcript(path)
    path.write_text(json.dumps({"type": "session", "schema": 2}) + "\n")
    with pytest.raises(TranscriptError, match="schema 2"):
        read_transcript(path)


def test_report_rates_ratios_and_cost_rows():
    moments = [{"kind": "question", "gates": "on", "n": 1, "responded": True, "latency": 2.0},
               {"kind": "question", "gates": "on", "n": 1, "responded": False, "latency": None},
               {"kind": "question", "gates": "silence-700", "n": 1, "responded": True, "latency": 0.8},
               {"kind": "interrupt", "gates": "on", "n": 0, "stopped": None, "latency": None}]
    rows = {label: cells for label, _, cells in moment_rows(moments)}
    assert rows["question: response rate"]["on"] == (0.5, 2)
    assert rows["question: response rate"]["silence-700"] == (1.0, 1)
    assert rows["interruption: stop rate"]["on"] == (None, 0)  # not applicable is not a miss
    text = table(moment_rows(moments))
    assert "| question: latency end of speech → first audio, p50 (s) | ↓ | 2 | 1 | – | – | 0.8 |" in text
    assert "a: 2.50" in text  # 2.0 s against the baseline's 0.8 s
    run = {"gates": "on", "proactive": {"n": 4, "precise": 1, "babble_words": 30, "minutes": 2.0},
           "loops": {"n": 4, "repeats": 2, "loops": 1}, "echo": {"words": 3, "minutes": 0.5},
           "calls": {"n": 1, "changing": 0},
           "said_errors": [0.01, -0.2, 0.03], "cost": {"latency_ms": [10, 20, 30, 40], "late_ticks": 5,
                                                        "ticks": 50, "companion_cpu": 0.5, "server_cpu": 0.25}}
    runs = {label: cells for label, _, cells in run_rows([run])}
    assert runs["proactive speech: precision (made while tests were failing)"]["on"] == (0.25, 4)
    assert runs["babble: words per minute said with nothing new"]["on"] == (15.0, 1)
    assert runs["unprompted tool calls per 10 minutes"]["on"] == (5.0, 1)  # 1 call in 2 minutes
    assert runs["audible time: share off by > 50 ms"]["on"] == (pytest.approx(1 / 3), 3)
    assert runs["cost: late ticks per model turn"]["on"] == (0.1, 50)
    assert runs["echo: user words recognized while only it spoke, per minute of its speech"]["on"] == (6.0, 1)
