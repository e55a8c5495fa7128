"""Benchmark: what grammar-constrained decoding costs per micro-turn on the embedded model.

Three streaming sessions on one engine get the same turns, interleaved in the same run:
`free` decodes as protocol 1 does (greedy, stop at <|end|>, up to 32 tokens), `grammar` under the
v2 action grammar (xgrammar bitmask before each token), and `same-len` decodes freely exactly as
many tokens as the grammar turn did (ignore_eos), so grammar minus same-len is the mask's cost at
equal work. Prints ms per turn, tokens per turn, the grammar's own time per token (fill bitmask +
apply + accept), and the compile time cold and cached.

    python -m benchmarks.bench_grammar [--turns 200] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from companion.core.events import JobEvent, TypedText
from companion.core.protocol import Chunk, serialize_chunk, system_prefix
from companion.model.action_grammar import default_action_grammar
from model_server.core import EngineOptions, Req, SamplingParams
from model_server.engine import EngineCore
from model_server.grammar import backend_for, grammar_for_request
from model_server.loader import EMBEDDED_DIR, load_model


def turn_texts(n: int) -> list[str]:
    """Mostly empty turns, a job result and a typed request now and then (a quiet session)."""
    out = []
    for tick in range(n):
        t = tick * 0.2
        jobs = (JobEvent(t, f"job-{tick}", "tests", "result", "test_median fails on line 11",
                         {"failures": [{"line": 11}]}),) if tick % 25 == 10 else ()
        typed = (TypedText(t, "run the tests please"),) if tick % 40 == 20 else ()
        out.append(serialize_chunk(Chunk(tick, t, jobs=jobs, typed=typed), features=False).text)
    return out


def run_turn(core: EngineCore, session: str, prev: str | None, text: str,
             params: SamplingParams) -> tuple[Req, float]:
    req = Req(f"{session}-{time.perf_counter_ns()}", core.model.encode(text), params, session,
              prev_rid=prev)
    t0 = time.perf_counter()
    req.grammar = grammar_for_request(params, core.model)
    core.add_request(req)
    while not req.finished:
        core.step()
    return req, (time.perf_counter() - t0) * 1000


def mask_cost_us(model, grammar: str, prefix: str, n: int = 500) -> tuple[float, float]:
    """(matcher creation, one mask) in microseconds, with the matcher advanced over `prefix`:
    the embedded v1 model always answers silence, so utterance states are timed directly."""
    params = SamplingParams(ebnf=grammar)
    t0 = time.perf_counter()
    for _ in range(n):
        state = grammar_for_request(params, model)
    create = (time.perf_counter() - t0) / n * 1e6
    for token in model.encode(prefix):
        assert state.accept(token), prefix
    logits = torch.randn(model.config.vocab_size)
    t0 = time.perf_counter()
    for _ in range(n):
        state.mask(logits)
    return create, (time.perf_counter() - t0) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--turns", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model("embedded")
    core = EngineCore(model, EngineOptions(max_chunk_tokens=2048, window_tokens=900))
    grammar = default_action_grammar()
    t0 = time.perf_counter()
    backend = backend_for(model)
    setup_ms = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    backend.compile("ebnf", grammar)
    cold_ms = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    backend.compile("ebnf", grammar)
    cached_ms = (time.perf_counter() - t0) * 1000

    prompt = json.loads((EMBEDDED_DIR / "prompt.json").read_text())
    prefix = system_prefix(prompt["system"], prompt["rules_heading"] +
                           "\n".join(prompt["default_rules"]), prompt["tools"])
    free = SamplingParams(max_new_tokens=32, temperature=0.0, stop=("<|end|>",),
                          no_stop_trim=True, skip_special_tokens=False)
    constrained = SamplingParams(max_new_tokens=96, temperature=0.0, stop=("<|end|>",),
                                 no_stop_trim=True, skip_special_tokens=False, ebnf=grammar)
    rows = {"free": [], "grammar": [], "same-len": []}
    prev = {}
    for name in rows:
        s = core.sessions.open(temporary=False)
        prev[name] = (s.id, run_turn(core, s.id, None, prefix,
                                     SamplingParams(max_new_tokens=0))[0].rid)
    grammar_s = grammar_tokens = 0
    for text in turn_texts(args.turns):
        for name, params in (("free", free), ("grammar", constrained), ("same-len", None)):
            if params is None:
                n = rows["grammar"][-1][1]
                params = SamplingParams(max_new_tokens=n, temperature=0.0, ignore_eos=True)
            sid, rid = prev[name]
            req, ms = run_turn(core, sid, rid, text, params)
            prev[name] = (sid, req.rid)
            rows[name].append((ms, len(req.output_ids)))
            if req.grammar is not None:
                grammar_s += req.grammar.mask_s
                grammar_tokens += req.grammar.steps

    print(f"embedded model, {args.turns} turns per session, torch threads {args.threads}")
    print(f"grammar setup (xgrammar tokenizer info): {setup_ms:.0f} ms; compile cold "
          f"{cold_ms:.0f} ms, cached {cached_ms:.3f} ms")
    mean = {}
    for name, data in rows.items():
        ms = [m for m, _ in data]
        mean[name] = statistics.fmean(ms)
        print(f"{name:8s} ms/turn p50 {statistics.median(ms):6.1f}  p99 "
              f"{sorted(ms)[int(0.99 * (len(ms) - 1))]:6.1f}  mean {mean[name]:6.1f}  "
              f"tokens/turn {sum(n for _, n in data) / len(data):5.2f}")
    for where, prefix in (("the turn's first token", ""),
                          ("inside an utterance", "<|speak|>the median test"),
                          ("inside a call's string",
                           '<|call|>{"tool": "git_commit", "args": {"message": "fix the')):
        create, mask = mask_cost_us(model, grammar, prefix)
        print(f"mask at {where}: {mask:.0f} us (matcher creation {create:.0f} us)")
    extra = mean["grammar"] - mean["same-len"]
    print(f"grammar vs same-len: +{extra:.2f} ms/turn ({mean['grammar'] / mean['same-len']:.2f}x);"
          f" grammar's own time {1000 * grammar_s / max(grammar_tokens, 1):.3f} ms/token "
          f"({grammar_tokens} tokens)")


if __name__ == "__main__":
    main()
