"""v2 behaviour evaluation: held-out sessions decoded turn by turn through the live streaming path.

    python -m model_server.training.v2.evaluate --model DIR [--sessions 4] [--ticks 900]

Sessions are simulated over the every-8th HumanEval problems training never sees
(`load_projects(split="eval")`, seeds from EVAL_SEED). Each turn goes through the companion's own
TurnLoop and ModelLink to our model server (`python -m model_server --model DIR`): the
pinned prefix, `serialize_chunk(protocol=2)`, the action grammar as `ebnf`, greedy decoding, the
reply parsed by `parse_output(protocol=2)`. The model's outputs stay in its context; the inputs
follow the oracle's script (what the companion said, and so its echo, is the oracle's).

Metrics, per oracle label (ORACLE.md), W = windows in 200 ms turns:
- silence on quiet / harmless-event / user-speaking / own-utterance-playing turns;
- relay recall after a new failure: the model relays that job (`relay jN`) from the result's
  arrival to 10 turns after the oracle's relay; delay in turns from the arrival (oracle's beside);
- screen-error recall: the model speaks the error (its exception name among the words) from the
  `ScreenError`'s arrival to 10 turns after the oracle's utterance; delay as for relays;
- leftover recall under its rule: the model relays the on-save lint naming the print or TODO,
  in the relay window above; unasked lint relays: the share of on-save lint results with
  findings that the oracle does not relay (no rule asks) which the model relays anyway;
- requested-result and recovery relay recall (same window; a requested one counts from the
  request); requests: a call with the oracle's tool and args within 2 turns before to 5 after
  the oracle's call (and with the right tool only);
- stop when talked over: `stop` on the oracle's stop turn or the next;
- backchannel stop rate: a stop while a backchannel is heard over our utterance (to 2 after);
- aside response rate: speak / relay / call from an aside's start to 15 turns after its end;
- babble: speak / relay with no oracle speak / relay / call / reply within 10 turns, per minute
  (count and words, a relay counting its summary's words).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
from collections import Counter, defaultdict
from pathlib import Path

from companion.core.clock import MicroTurnClock
from companion.core.protocol import job_ref
from companion.model.action_grammar import default_action_grammar
from companion.model.link import ModelLink
from companion.model.turn_loop import TurnLoop
from model_server.training.v2.code_runs import load_projects
from model_server.training.v2.sessions import TICK, SessionSim

EVAL_SEED = 77_000_000  # training shards use seeds below 1e7, the tokenizer 1e7 + i
QUIET_TAGS = ("quiet", "event", "listening", "playing")
TALKING = ("speech", "relay")
RELAY_LATE, CALL_EARLY, CALL_LATE, ASIDE_AFTER, BABBLE_NEAR = 10, 2, 5, 15, 10


async def decode_session(link: ModelLink, prefix: str, chunks) -> list:
    """The model's one action per chunk, through the live TurnLoop (grammar on)."""
    got: list = []
    loop = TurnLoop(MicroTurnClock(), link, lambda e: None,
                           lambda: prefix, grammar=default_action_grammar())
    await link.client.close_session()  # a fresh session per simulated session
    await link.client.open()
    for chunk in chunks:
        actions = await loop.step(chunk)
        got.append(actions[0] if actions else None)
    return got


def score(sim: SessionSim, session, got: list, c: Counter, delays: dict) -> None:
    """Add one session's counts (see the module docstring for each definition)."""
    turns = session.turns
    kinds = [a.kind if a is not None else "skipped" for a in got]
    talk_labels = [k for k, t in enumerate(turns) if t.act.kind in (*TALKING, "call")]
    for k, turn in enumerate(turns):
        c["turns"] += 1
        if turn.tag in QUIET_TAGS or turn.tag.startswith("held_"):  # oracle.hold: quiet on purpose
            c[f"{turn.tag}_n"] += 1
            c[f"{turn.tag}_silent"] += kinds[k] == "silence"
        c["skipped"] += kinds[k] == "skipped"
        c["parse_errors"] += bool(got[k] is not None and got[k].error)
        if turn.tag in ("relay_failures", "relay_requested", "relay_recoveries", "relay_leftover"):
            arrived = max(turn.needs, 0)
            hit = next((j for j in range(arrived, min(len(turns), k + RELAY_LATE + 1))
                        if kinds[j] == "relay" and got[j].job == turn.act.job), None)
            c[f"{turn.tag}_n"] += 1
            c[f"{turn.tag}_hit"] += hit is not None
            delays[f"{turn.tag}_oracle"].append(k - arrived)
            if hit is not None:
                delays[f"{turn.tag}_model"].append(hit - arrived)
        if turn.tag == "relay_screen":
            arrived = max(turn.needs, 0)
            words = turn.act.text.split()
            exception = words[words.index("raised") + 1] if "raised" in words[:-1] else turn.act.text
            hit = next((j for j in range(arrived, min(len(turns), k + RELAY_LATE + 1))
                        if kinds[j] == "speech" and exception in got[j].text), None)
            c["relay_screen_n"] += 1
            c["relay_screen_hit"] += hit is not None
            delays["relay_screen_oracle"].append(k - arrived)
            if hit is not None:
                delays["relay_screen_model"].append(hit - arrived)
        if turn.tag == "stop":
            c["stop_n"] += 1
            c["stop_hit"] += "stop" in kinds[k:k + 2]
        if turn.tag == "call":
            c["call_n"] += 1
            window = range(max(0, k - CALL_EARLY), min(len(turns), k + CALL_LATE + 1))
            c["call_hit"] += any(kinds[j] == "call" and got[j].tool == turn.act.tool
                                 and got[j].args == turn.act.args for j in window)
            c["call_tool"] += any(kinds[j] == "call" and got[j].tool == turn.act.tool for j in window)
        if kinds[k] in TALKING and not any(abs(j - k) <= BABBLE_NEAR for j in talk_labels):
            c["babble"] += 1
            said = got[k].text if kinds[k] == "speech" else sim.summary_of.get(got[k].job, "")
            c["babble_words"] += len(said.split())
        c["model_" + kinds[k]] += 1
        c["oracle_" + turn.act.kind] += 1
    _score_save_lint(turns, got, c)
    for s in sim.spoken:
        if s.kind == "backchannel" and turns[min(s.start, len(turns) - 1)].tag in ("playing", "stop"):
            c["backchannel_n"] += 1
            c["backchannel_stop"] += "stop" in kinds[s.start:s.end + 3]
        if s.kind == "aside":
            c["aside_n"] += 1
            c["aside_reply"] += any(x in (*TALKING, "call") for x in kinds[s.start:s.end + ASIDE_AFTER + 1])


def _score_save_lint(turns: list, got: list, c: Counter) -> None:
    """On-save lint results with something to say that the oracle leaves unsaid, and how many
    of them the model relays."""
    said = {t.act.job for t in turns if t.act.kind == "relay"}
    quiet = {job_ref(j.job_id) for t in turns for j in t.chunk.jobs
             if j.tool == "lint" and j.phase == "result" and j.summary
             and j.data.get("origin") == "save"} - said
    c["lint_unasked_n"] += len(quiet)
    c["lint_unasked_relayed"] += len({a.job for a in got if a is not None and a.kind == "relay"} & quiet)


def summarize(c: Counter, delays: dict) -> dict:
    def rate(hit: str, n: str) -> float | None:
        return round(c[hit] / c[n], 3) if c[n] else None

    def median(key: str) -> float | None:
        return statistics.median(delays[key]) if delays.get(key) else None

    minutes = c["turns"] * TICK / 60
    held = tuple(sorted(k.removesuffix("_n") for k in c if k.startswith("held_") and k.endswith("_n")))
    out = {
        "turns": c["turns"], "minutes": round(minutes, 1), "skipped_turns": c["skipped"],
        "parse_errors": c["parse_errors"],
        **{f"silence_{t}": rate(f"{t}_silent", f"{t}_n") for t in QUIET_TAGS + held},
        "relay_recall_new_failure": rate("relay_failures_hit", "relay_failures_n"),
        "relay_delay_turns_new_failure": median("relay_failures_model"),
        "relay_delay_turns_new_failure_oracle": median("relay_failures_oracle"),
        "speak_recall_new_screen_error": rate("relay_screen_hit", "relay_screen_n"),
        "speak_delay_turns_new_screen_error": median("relay_screen_model"),
        "relay_recall_leftover_under_rule": rate("relay_leftover_hit", "relay_leftover_n"),
        "relay_rate_unasked_save_lint": rate("lint_unasked_relayed", "lint_unasked_n"),
        "relay_recall_requested": rate("relay_requested_hit", "relay_requested_n"),
        "relay_recall_recovery": rate("relay_recoveries_hit", "relay_recoveries_n"),
        "request_tool_and_args": rate("call_hit", "call_n"),
        "request_tool_only": rate("call_tool", "call_n"),
        "stop_when_talked_over": rate("stop_hit", "stop_n"),
        "backchannel_stop_rate": rate("backchannel_stop", "backchannel_n"),
        "aside_response_rate": rate("aside_reply", "aside_n"),
        "babble_per_minute": round(c["babble"] / minutes, 2) if minutes else None,
        "babble_words_per_minute": round(c["babble_words"] / minutes, 2) if minutes else None,
    }
    out["counts"] = {k: c[k] for k in sorted(c) if k.endswith("_n") or k.startswith(("model_", "oracle_"))}
    return out


async def evaluate(model: str, sessions: int, ticks: int, text_only: bool, server_args: list[str]) -> dict:
    # the agent's test runs inside use asyncio.run: they must run off this event loop (inside it
    # every held-out project was skipped and the evaluation crashed on an empty list)
    projects = await asyncio.to_thread(load_projects, split="eval")
    if not projects:
        raise SystemExit("no held-out project could be built (see the lines above)")
    link = ModelLink(lambda e: None, model=model, server_args=server_args)
    await link.connect()
    try:
        if link.protocol != 2:
            raise SystemExit(f"{model} declares protocol {link.protocol}; this evaluates protocol 2")
        c: Counter = Counter()
        delays: dict = defaultdict(list)
        for i in range(sessions):
            # the simulator runs the agent's tools with asyncio.run: off this event loop
            sim = await asyncio.to_thread(SessionSim, EVAL_SEED + i, projects, ticks)
            session = await asyncio.to_thread(sim.run, not text_only)
            got = await decode_session(link, session.prefix, [t.chunk for t in session.turns])
            score(sim, session, got, c, delays)
            print(f"session {i + 1}/{sessions}: {json.dumps(summarize(c, delays))}", flush=True)
        return summarize(c, delays)
    finally:
        await link.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="an exported v2 model directory")
    p.add_argument("--sessions", type=int, default=4)
    p.add_argument("--ticks", type=int, default=900, help="turns per session (900 = 3 minutes)")
    p.add_argument("--text-only", action="store_true", help="recognizer words only, no dMel/tiles")
    p.add_argument("--server-arg", action="append", default=[], help="extra model_server flag")
    p.add_argument("--write", action="store_true",
                   help="store the metrics as `evaluation` in MODEL/training.json (the model card's numbers)")
    args = p.parse_args(argv)
    metrics = asyncio.run(evaluate(args.model, args.sessions, args.ticks, args.text_only,
                                   args.server_arg))
    print(json.dumps(metrics, indent=2))
    if args.write:
        card = Path(args.model) / "training.json"
        meta = json.loads(card.read_text()) if card.is_file() else {}
        meta["evaluation"] = {"command": f"python -m model_server.training.v2.evaluate --sessions "
                                         f"{args.sessions} --ticks {args.ticks}"
                                         + (" --text-only" if args.text_only else ""),
                              "seed": EVAL_SEED, **metrics}
        card.write_text(json.dumps(meta, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
