"""The rules panel: the active rules, the file each came from, the gates, and snooze/quiet state."""

from __future__ import annotations

from pathlib import Path

from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from companion.rules.schema import Rules
from companion.rules.store import gates_text


class RulesPanel(VerticalScroll):
    """Redrawn whenever the rules reload, the rules file breaks, or the hold state changes."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "rules"
        self.body = Static()

    def compose(self):
        yield self.body

    def show(self, rules: Rules | None, error: str = "", hold: str = "") -> None:
        parts: list[str | tuple[str, str]] = []
        if hold:
            parts += [(f"⏸ {hold}", "bold $warning"), "\n\n"]
        if error:
            parts += [("rules file invalid, previous rules kept:\n", "bold $error"),
                      (error, "$error"), "\n\n"]
        if rules is None:
            parts.append(("no rules loaded (no runtime or rules store)", "$text-muted"))
            self.body.update(Content.assemble(*parts))
            return
        for rule in rules.rules:
            parts += [(rule.name, "bold $primary"), (f" [{rule.severity}]", "$text-muted"),
                      (f"  {Path(rule.source).name}" if rule.source else "", "$text-muted"),
                      "\n", rule.text.strip(), "\n"]
            if rule.paths:
                parts += [(f"  paths: {', '.join(rule.paths)}", "$text-muted"), "\n"]
        if not rules.rules:
            parts += [("no [[rule]] entries: `companion init` writes an example", "$text-muted"),
                      "\n"]
        for trigger in rules.on_save:
            lint = ", ".join(trigger.lint) or "no lint"
            parts += ["\n", ("on save ", "bold"), ", ".join(trigger.paths),
                      (f": tests {trigger.tests}, {lint}", "$text-muted")]
        parts += ["\n\n", (gates_text(rules.gates), "$text-muted")]
        self.body.update(Content.assemble(*parts))
