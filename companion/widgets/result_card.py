"""A background job's result as a collapsible card: test failures, lint findings, git diffs."""

from __future__ import annotations

import json
from typing import Any

from rich.console import RenderableType
from rich.syntax import Syntax
from textual.content import Content
from textual.widgets import Collapsible, Static

from companion.widgets.transcript_line import Entry, clock

DIFF_LINES_SHOWN = 400  # a huge diff is cut in the card; the model got its own summary


def _where(item: dict[str, Any]) -> str:
    path = item.get("file") or item.get("path") or "?"
    line = item.get("line")
    return f"{path}:{line}" if line is not None else str(path)


def _failures(items: list[dict[str, Any]]) -> Content:
    lines = []
    for item in items:
        name = item.get("test") or item.get("id") or item.get("name") or "test"
        error = item.get("exception") or item.get("type") or "failed"
        message = str(item.get("message", "")).strip()
        lines.append(Content.assemble(
            (_where(item), "bold"), "  ", (str(name), "italic"), "\n    ",
            (str(error), "bold $error"), f": {message}" if message else ""))
    return Content("\n").join(lines)


def _findings(items: list[dict[str, Any]]) -> Content:
    return Content("\n").join(
        Content.assemble((_where(item), "bold"), "  ", (str(item.get("code", "")), "$warning"),
                         f"  {item.get('message', '')}") for item in items)


def _diff(diff: str) -> RenderableType:
    lines = diff.splitlines()
    shown = "\n".join(lines[:DIFF_LINES_SHOWN])
    # Rich's diff lexer in ANSI colours (Textual maps those through the theme's palette). Only
    # the highlighted text is used, not the Syntax panel, so the card keeps the theme's surface.
    text = Syntax(shown, "diff", theme="ansi_dark").highlight(shown)
    text.rstrip()
    if len(lines) > DIFF_LINES_SHOWN:
        text.append(f"\n… {len(lines) - DIFF_LINES_SHOWN} more lines", style="dim")
    return text


def card_body(data: dict[str, Any]) -> list[Static]:
    """The structured part of a job result, in the most readable form its shape allows."""
    parts: list[Static] = []
    if data.get("failures"):
        parts.append(Static(_failures(data["failures"])))
    if data.get("findings"):
        parts.append(Static(_findings(data["findings"])))
    if isinstance(data.get("diff"), str) and data["diff"]:
        parts.append(Static(_diff(data["diff"])))
    if isinstance(data.get("preview"), str) and data["preview"]:
        parts.append(Static(Content(data["preview"])))
    if not parts:
        rest = {k: v for k, v in data.items() if k not in ("failures", "findings", "diff")}
        parts.append(Static(Content(json.dumps(rest, indent=2, default=str) if rest
                                    else "(no details)")))
    return parts


class ResultCard(Collapsible):
    """A tool result in the conversation; collapsed unless it reports a problem."""

    DEFAULT_CSS = """
    ResultCard { height: auto; margin: 0 1 0 1; }
    """

    def __init__(self, entry: Entry) -> None:
        card = entry.card
        phase, tool = card.get("phase", "result"), card.get("tool", "job")
        marker = {"error": "✗", "needs_confirmation": "?", "cancelled": "–"}.get(phase, "✓")
        data = card.get("data", {})
        failed = phase == "error" or bool(data.get("failures") or data.get("findings"))
        if failed and marker == "✓":
            marker = "✗"
        title = f"{clock(entry.t)} {marker} {tool}: {card.get('summary') or phase}"
        open_ = failed or phase == "needs_confirmation"
        super().__init__(*card_body(data), title=title, collapsed=not open_,
                         classes=f"-{phase}" + (" -failed" if failed else ""))
        self.entry = entry

    def refresh_entry(self) -> None:
        """Cards are final when created; nothing to redraw."""
