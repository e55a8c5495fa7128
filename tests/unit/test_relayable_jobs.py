"""Which job ids a relay may name: the newest results shown with something to say, not yet
relayed; and the action grammar spelling out exactly those."""

from __future__ import annotations

from companion.core.events import JobEvent
from companion.model.action_grammar import default_action_grammar, with_relays
from companion.model.relayable import KEPT, RelayableJobs


def job(n: int, phase: str = "result", summary: str = "median returns 1, expected 2") -> JobEvent:
    return JobEvent(1.0, f"job-{n}", "tests", phase, summary, {})


def test_only_shown_results_with_something_to_say_and_not_yet_relayed():
    relays = RelayableJobs()
    shown = relays.refs_in([job(1, "started", "tests started"), job(1, "progress", "0 of 5"),
                                   job(2), job(3, "result", ""), job(4, "error", "git failed"),
                                   job(5, "needs_confirmation", "commit 2 files?")])
    assert shown == ["j2", "j4", "j5"]  # an unchanged failure (no summary) is nothing to say
    assert relays.allowed(also=shown) == ["j2", "j4", "j5"]  # this turn's results count already
    assert relays.allowed() == []  # ... but are only remembered once the turn reached the model
    relays.saw(shown)
    relays.relayed("j4")
    assert relays.allowed() == ["j2", "j5"]  # said once: never relayed again
    relays.saw(["j2"])  # a newer result of job 2 (its summary replaced) comes last
    assert relays.allowed() == ["j5", "j2"]
    relays.saw([f"j{n}" for n in range(10, 10 + KEPT + 3)])
    assert relays.allowed() == [f"j{n}" for n in range(13, 13 + KEPT)]  # the newest KEPT


def test_the_grammar_names_exactly_the_relayable_ids():
    grammar = default_action_grammar()
    two = with_relays(grammar, ["j7", "j12"])
    assert 'relay ::= "<|relay|>" ("j7" | "j12")' in two and "[0-9]{1," not in two.split("relay ::=")[1].split("\n")[0]
    none = with_relays(grammar, [])
    assert "relay" not in none.split("\n")[0] and "relay ::=" not in none
    assert with_relays("root ::= \"x\"", ["j1"]) == "root ::= \"x\""  # not an action grammar


def lint_on_save(n: int, codes: list[str], summary: str = "one new lint finding in spans.py") -> JobEvent:
    return JobEvent(1.0, f"job-{n}", "lint", "result", summary,
                    {"origin": "save", "new_codes": codes, "findings": [{"code": c} for c in codes]})


def test_a_saves_lint_finding_is_said_only_when_a_rule_asks_or_it_is_a_mistake():
    """The rules' built-in default is to speak only about clear mistakes and failing tests:
    CompanionBench's unused import was relayed under 'no lint' and with no rule at all."""
    from companion.model.relayable import unasked_save_lint
    from companion.rules.asked_findings import asked_kinds

    rules: list[str] = []
    unsaid = unasked_save_lint(lambda: asked_kinds(rules))
    jobs = [lint_on_save(1, ["F401"]), lint_on_save(2, ["T201", "F401"]), lint_on_save(3, ["F821"]),
            lint_on_save(4, ["FIX002"]), job(5)]
    asked_for = JobEvent(1.0, "job-6", "lint", "result", "one lint finding", {"origin": "model",
                                                                            "new_codes": ["F401"]})
    started = JobEvent(1.0, "job-1", "lint", "started", "lint started", {"origin": "save"})
    clean = lint_on_save(7, [], summary="")  # a clean lint says nothing and is shown as always

    def said() -> list[str]:
        return [e.job_id for e in [*jobs, asked_for, started, clean] if not unsaid(e)]

    assert said() == ["job-3", "job-5", "job-6", "job-1", "job-7"]  # an undefined name; asked for
    rules[:] = ["Do not bother me about lint or style findings."]
    assert said() == ["job-3", "job-5", "job-6", "job-1", "job-7"]
    rules[:] = ["Tell me when I leave a print() call in the code."]  # read again every time
    assert said() == ["job-2", "job-3", "job-5", "job-6", "job-1", "job-7"]
    rules[:] = ["Point out new TODO comments.", "Warn me about lint and style findings."]
    assert said() == ["job-1", "job-2", "job-3", "job-4", "job-5", "job-6", "job-1", "job-7"]
