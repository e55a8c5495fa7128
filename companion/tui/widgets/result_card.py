"""A background job's result as a collapsible card: test failures, lint findings, git diffs,
explanations.

A failure shows what came out, the line it is pinned on (highlighted when it is a line you
changed) and, collapsed, the traceback through the project's code."""

from __future__ import annotations

import json
from typing import Any

from rich.console import RenderableType
from rich.syntax import Syntax
from textual.content import Content
from textual.widgets import Collapsible, Static

from companion.tui.widgets.transcript_line import Entry, clock

DIFF_LINES_SHOWN = 400  # a huge diff is cut in the card; the model got its own summary


def _where(item: dict[str, Any]) -> str:
    path = item.get("file") or item.get("path") or "?"
    line = item.get("line")
    return f"{path}:{line}" if line is not None else str(path)


def _failure(item: dict[str, Any]) -> list[Static | Collapsible]:
    """One failure: what came out, the line it is pinned on (highlighted when you changed it),
    and the traceback through the project's code, collapsed."""
    name = item.get("test") or item.get("test_id") or item.get("id") or item.get("name") or "test"
    error = item.get("exception") or item.get("exc_type") or item.get("type") or "failed"
    message = str(item.get("message", "")).strip()
    head = [(_where(item), "bold"), "  ", (str(name), "italic")]
    said = item.get("values") or ""
    body = [Content.assemble(*head, "\n    ", (str(error), "bold $error"),
                             f": {message}" if message else "")]
    if said:
        body.append(Content.assemble("    ", (said, "bold")))
    loc = item.get("location") or {}
    if loc:
        changed = loc.get("changed_at") is not None
        where = f"{loc.get('file')}:{loc.get('line')}" + (
            f" in {loc['function']}" if loc.get("function") else "")
        note = {"changed": "you changed this line", "executed": "you changed this line; the "
                "test ran it", "syntax": f"syntax error near {loc.get('token', '')}",
                "hang": "it was spinning here"}.get(loc.get("how"), "")
        body.append(Content.assemble("  → ", (where, "bold"), f"  {note}" if note else ""))
        if loc.get("source"):
            style = "bold $text-warning on $warning-muted" if changed else "$text-muted"
            body.append(Content.assemble("      ", (str(loc["source"]), style)))
    parts: list[Static | Collapsible] = [Static(Content("\n").join(body))]
    frames = item.get("frames") or []
    if len(frames) > 1:
        lines = [Content.assemble(("● " if f.get("changed") else "  "),
                                  (f"{f['file']}:{f['line']}", "bold" if f.get("changed") else ""),
                                  f" in {f['function']}") for f in frames]
        parts.append(Collapsible(Static(Content("\n").join(lines)),
                                 title=f"traceback ({len(frames)} frames)", collapsed=True))
    return parts


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


def card_body(data: dict[str, Any]) -> list[Static | Collapsible]:
    """The structured part of a job result, in the most readable form its shape allows."""
    parts: list[Static] = []
    for item in data.get("failures") or []:
        parts.extend(_failure(item))
    if isinstance(data.get("answer"), str) and data["answer"]:
        parts.append(Static(Content(data["answer"])))
    if data.get("findings"):
        parts.append(Static(_findings(data["findings"])))
    if isinstance(data.get("diff"), str) and data["diff"]:
        parts.append(Static(_diff(data["diff"])))
    if isinstance(data.get("preview"), str) and data["preview"]:
        parts.append(Static(Content(data["preview"])))
    if not parts:
        rest = {k: v for k, v in data.items()
                if k not in ("failures", "findings", "diff", "answer")}
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
