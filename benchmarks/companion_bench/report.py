"""The CompanionBench report: moment records and run measures into one table (markdown), results.json."""

from __future__ import annotations

import json
import math
from pathlib import Path

from benchmarks.companion_bench.metrics import percentile

SYSTEMS = ("on", "off", "silence-700", "smart-turn", "relay-all")
HEADERS = {"on": "companion (gates on)", "off": "as the model decided (gates off)",
           "silence-700": "(a) silence 700 ms", "smart-turn": "(b) Smart-Turn v3.2", "relay-all": "(c) relay all"}


def _rate(records: list[dict], key: str) -> tuple[float | None, int]:
    used = [r for r in records if r.get("n") and r.get(key) is not None]
    return (sum(bool(r[key]) for r in used) / len(used) if used else None), len(used)


def _p50(records: list[dict], key: str) -> tuple[float | None, int]:
    values = [r[key] for r in records if r.get("n") and r.get(key) is not None]
    return percentile(values, 50), len(values)


def moment_rows(moments: list[dict]) -> list[tuple[str, str, dict]]:
    """(metric, better, {system: (value, n)})."""
    spec = [
        ("question", "responded", _rate, "question: response rate", "↑"),
        ("question", "latency", _p50, "question: latency end of speech → first audio, p50 (s)", "↓"),
        ("pause", "took_over", _rate, "pause 0.6–1.5 s: take-over rate (TOR)", "↓"),
        ("backchannel", "stopped", _rate, "backchannel: stop rate", "↓"),
        ("interrupt", "stopped", _rate, "interruption: stop rate", "↑"),
        ("interrupt", "latency", _p50, "interruption: stop latency p50 (s)", "↓"),
        ("aside", "responded", _rate, "aside / background speech: response rate", "↓"),
        ("bug", "recalled", _rate, "bug: recall (spoke within 10 s of the failing result)", "↑"),
        ("bug", "names", _rate, "bug: names the failing test or function", "↑"),
        ("bug", "line", _rate, "bug: names the line", "↑"),
        ("bug", "latency_result", _p50, "bug: failing result → first audible word, p50 (s)", "↓"),
        ("bug", "latency_save", _p50, "bug: save → first audible word, p50 (s)", "↓"),
        ("request", "tool", _rate, "request: right tool", "↑"),
        ("request", "args", _rate, "request: right tool and arguments", "↑"),
        ("request", "latency", _p50, "request: end of request → call, p50 (s)", "↓"),
        ("request", "result_said", _rate, "request: its result said (within 10 s)", "↑"),
        ("request", "result_latency", _p50, "request: result → said, p50 (s)", "↓"),
        ("remind", "on_time", _rate, "reminder: on time (± 1 s)", "↑"),
        ("rule", "right", _rate, "rules: behaviour matches the rule", "↑"),
        ("idle", "right", _rate, "idle: stayed silent", "↑"),
    ]
    rows = []
    for kind, key, agg, label, better in spec:
        cells = {}
        for system in SYSTEMS:
            records = [r for r in moments if r["kind"] == kind and r["gates"] == system]
            if records:
                cells[system] = agg(records, key)
        rows.append((label, better, cells))
    for typed, label in ((False, "request (spoken): right tool"), (True, "request (typed): right tool")):
        cells = {}
        for system in ("on", "off"):
            records = [r for r in moments if r["kind"] == "request" and r["gates"] == system
                       and r.get("typed") == typed]
            if records:
                cells[system] = _rate(records, "tool")
        rows.append((label, "↑", cells))
    relay = [r for r in moments if r["kind"] == "relay-precision"]
    if relay:
        n = sum(r["n"] for r in relay)
        rows.append(("relay-all: share of relayed results that are failures", "↑",
                     {"relay-all": ((sum(r["precise"] for r in relay) / n) if n else None, n)}))
    return rows


def run_rows(runs: list[dict]) -> list[tuple[str, str, dict]]:
    rows = []
    for system in ("on", "off"):
        mine = [r for r in runs if r["gates"] == system]
        if not mine:
            continue
        own = sum(r["proactive"]["n"] for r in mine)
        precise = sum(r["proactive"]["precise"] for r in mine)
        minutes = sum(r["proactive"]["minutes"] for r in mine)
        babble = sum(r["proactive"]["babble_words"] for r in mine)
        utts = sum(r["loops"]["n"] for r in mine)
        echo_words = sum(r["echo"]["words"] for r in mine)
        echo_min = sum(r["echo"]["minutes"] for r in mine)
        errors = [abs(e) for r in mine for e in r["said_errors"]]
        lat = [x for r in mine for x in r["cost"]["latency_ms"]]
        called = sum(r["calls"]["n"] for r in mine)
        changing = sum(r["calls"]["changing"] for r in mine)
        ticks = sum(r["cost"]["ticks"] for r in mine)
        late = sum(r["cost"]["late_ticks"] for r in mine)
        cells = [
            ("proactive speech: precision (made while tests were failing)", "↑", (precise / own) if own else None, own),
            ("babble: words per minute said with nothing new", "↓", babble / minutes if minutes else None, len(mine)),
            ("unprompted tool calls per 10 minutes", "↓", 10 * called / minutes if minutes else None, len(mine)),
            ("unprompted calls of a tool that changes the repository", "↓", changing, len(mine)),
            ("immediate repeats per utterance", "↓", sum(r["loops"]["repeats"] for r in mine) / utts if utts else None, utts),
            ("loops per utterance (a word 3× in a row)", "↓", sum(r["loops"]["loops"] for r in mine) / utts if utts else None, utts),
            ("echo: user words recognized while only it spoke, per minute of its speech", "↓",
             echo_words / echo_min if echo_min else None, len(mine)),
            ("audible time: abs(transcript − recording) p50 (s)", "↓", percentile(errors, 50), len(errors)),
            ("audible time: abs(transcript − recording) p90 (s)", "↓", percentile(errors, 90), len(errors)),
            ("audible time: share off by > 50 ms", "↓", (sum(e > 0.05 for e in errors) / len(errors)) if errors else None, len(errors)),
            ("cost: model latency per turn p50 (ms)", "↓", percentile(lat, 50), len(lat)),
            ("cost: model latency per turn p99 (ms)", "↓", percentile(lat, 99), len(lat)),
            ("cost: late ticks per model turn", "↓", late / ticks if ticks else None, ticks),
            ("cost: companion CPU (cores)", "↓", _mean([r["cost"]["companion_cpu"] for r in mine]), len(mine)),
            ("cost: model server CPU (cores)", "↓", _mean([r["cost"]["server_cpu"] for r in mine]), len(mine)),
        ]
        for label, better, value, n in cells:
            row = next((r for r in rows if r[0] == label), None)
            if row is None:
                row = (label, better, {})
                rows.append(row)
            row[2][system] = (value, n)
    return rows


def _mean(values: list[float]) -> float | None:
    values = [v for v in values if not math.isnan(v)]
    return sum(values) / len(values) if values else None


def _fmt(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"


def table(rows: list[tuple[str, str, dict]]) -> str:
    head = ["metric", "better", "companion (gates on)", "n", "gates off (model)", "n",
            "(a) silence 700 ms", "(b) Smart-Turn v3.2", "(c) relay all", "ratio vs baseline"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, better, cells in rows:
        on, on_n = cells.get("on", (None, 0))
        off, off_n = cells.get("off", (None, 0))
        base = {k: cells.get(k, (None, 0))[0] for k in ("silence-700", "smart-turn", "relay-all")}
        letters = {"silence-700": "a", "smart-turn": "b", "relay-all": "c"}
        ratios = [f"{letters[k]}: {on / v:.2f}" for k, v in base.items()
                  if on is not None and v not in (None, 0)]
        out.append("| " + " | ".join([label, better, _fmt(on), str(on_n) if on_n else "–", _fmt(off),
                                      str(off_n) if off_n else "–", _fmt(base["silence-700"]),
                                      _fmt(base["smart-turn"]), _fmt(base["relay-all"]),
                                      ", ".join(ratios) or "–"]) + " |")
    return "\n".join(out)


def write_results(out: Path, moments: list[dict], runs: list[dict], meta: dict) -> str:
    rows = moment_rows(moments) + run_rows(runs)
    text = table(rows)
    (out / "results.json").write_text(json.dumps(
        {"meta": meta, "rows": [{"metric": r[0], "better": r[1],
                                 "values": {k: {"value": v[0], "n": v[1]} for k, v in r[2].items()}}
                                for r in rows],
         "moments": moments, "runs": runs}, indent=1, default=str), encoding="utf-8")
    (out / "table.md").write_text(text + "\n", encoding="utf-8")
    return text
