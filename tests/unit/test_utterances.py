"""What protocol-2 actions say: relays speak the latest summary of a known job; speech is capped."""

from __future__ import annotations

import logging

from companion.core.events import JobEvent
from companion.rules.utterances import MAX_SPEAK_CHARS, JobSummaries, cap_utterance


def test_relay_text_is_the_latest_summary_of_that_job(caplog):
    jobs = JobSummaries(keep=2)
    jobs.remember(JobEvent(1.0, "job-3", "tests", "progress", "2 of 5 tests done"))
    jobs.remember(JobEvent(2.0, "job-3", "tests", "result", "test_median fails on line 11"))
    jobs.remember(JobEvent(2.0, "job-4", "lint", "started", ""))  # nothing to say: not kept
    assert jobs.relay_text("j3") == "test_median fails on line 11"
    with caplog.at_level(logging.WARNING, "companion.rules.utterances"):
        assert jobs.relay_text("j4") == "" and jobs.relay_text("j99") == ""
    assert "relay of j99 ignored" in caplog.text


def test_old_jobs_are_forgotten():
    jobs = JobSummaries(keep=2)
    for n in range(1, 4):
        jobs.remember(JobEvent(n, f"job-{n}", "tests", "result", f"summary {n}"))
    assert jobs.relay_text("j1") == "" and jobs.relay_text("j3") == "summary 3"


def test_cap_is_24_words_and_a_character_limit_cut_at_a_word():
    assert cap_utterance(" ".join(map(str, range(40)))).split() == [str(n) for n in range(24)]
    long_words = " ".join(["abcdefghijklmnopqrs"] * 20)
    capped = cap_utterance(long_words)
    assert len(capped) <= MAX_SPEAK_CHARS and capped.endswith("abcdefghijklmnopqrs")
    assert cap_utterance("  the  test\nfails ") == "the test fails"
