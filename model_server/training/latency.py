"""Micro-turn latency of a model directory with the training forward on CPU (DESIGN §4 budget: 200 ms).

    python -m model_server.training.latency --model model_server/weights/embedded --context 512

Measures one micro-turn as the server runs it: append a 32-token chunk to a KV cache holding
`context` tokens, then decode 4 tokens one by one. The baseline in the same run is a full
re-prefill of the whole sequence without a cache, which is what a server without streaming
sessions would pay per turn.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from model_server.training.qwen2_train import Qwen2ForTraining


def _median_ms(fn, repeats: int) -> tuple[float, float, float]:
    """Median wall, process-CPU and p99 wall milliseconds per call.

    On a shared machine wall time includes waiting for a core; CPU time is the work itself.
    """
    fn()  # warm-up
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    p99 = statistics.quantiles(wall, n=100, method="inclusive")[98] if len(wall) > 1 else wall[0]
    return statistics.median(wall), statistics.median(cpu), p99


@torch.no_grad()
def measure(model: Qwen2ForTraining, context: int, chunk: int = 32, decode: int = 4,
            repeats: int = 10) -> dict:
    vocab = model.config.vocab_size
    gen = torch.Generator().manual_seed(0)
    prefix = torch.randint(0, vocab, (1, context), generator=gen)
    new = torch.randint(0, vocab, (1, chunk), generator=gen)
    embed = model.model.embed_tokens
    _, cache = model.extend(embed(prefix))

    def micro_turn() -> None:
        logits, kv = model.extend(embed(new), cache)
        for _ in range(decode):
            token = logits[:, -1:].argmax(-1)
            logits, kv = model.extend(embed(token), kv)

    def re_prefill() -> None:
        model(torch.cat((prefix, new), dim=1))

    turn_ms, turn_cpu, turn_p99 = _median_ms(micro_turn, repeats)
    full_ms, full_cpu, _ = _median_ms(re_prefill, repeats)
    return {"context": context, "chunk": chunk, "decode": decode,
            "micro_turn_wall_ms": round(turn_ms, 1), "micro_turn_cpu_ms": round(turn_cpu, 1),
            "micro_turn_p99_wall_ms": round(turn_p99, 1),
            "re_prefill_wall_ms": round(full_ms, 1), "re_prefill_cpu_ms": round(full_cpu, 1),
            "re_prefill_over_micro_turn_cpu": round(full_cpu / max(turn_cpu, 1e-3), 2),
            "threads": torch.get_num_threads()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--context", type=int, nargs="+", default=[512, 2048])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=10)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = Qwen2ForTraining.load(args.model)
    for context in args.context:
        print(measure(model, context, repeats=args.repeats), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
