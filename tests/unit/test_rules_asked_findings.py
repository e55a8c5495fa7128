"""What the user's rules ask to hear about among a save's lint findings: the rule texts the
training oracle honours mean to the runtime what they mean to the oracle."""

from __future__ import annotations

from companion.rules.asked_findings import asked_kinds
from model_server.training.v2 import rules as training_rules


def test_the_training_rules_ask_for_what_the_oracle_relays_and_nothing_else():
    for kind, texts in training_rules._LEFTOVER_TEXTS.items():
        for text in texts:
            assert asked_kinds([text]) == {kind}, text
    others = [t for texts in [*training_rules._TEXTS.values(), *training_rules._COOLDOWN.values()]
              for t in texts] + list(training_rules._FILLER)
    for text in others:
        assert asked_kinds([text]) == frozenset(), text


def test_a_rule_that_declines_asks_for_nothing_and_rules_add_up():
    assert asked_kinds(["Do not bother me about lint or style findings."]) == frozenset()
    assert asked_kinds(["Don\u2019t mention TODOs."]) == frozenset()
    assert asked_kinds(["Tell me when I leave a print() call in the code."]) == {"print"}
    assert asked_kinds(["Point out debugging leftovers."]) == {"print", "todo"}
    assert asked_kinds(["Point out new TODO comments.", "Warn me about unused imports."]) == {"todo", "lint"}
    assert asked_kinds(["Interrupt me when I write an off-by-one error in a loop or a slice.",
                        "Tell me when the tests I touched start failing, in one sentence."]) == frozenset()
