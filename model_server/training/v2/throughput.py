"""Training throughput on this CPU: tokens/s of one optimizer step, plain vs bf16 autocast vs compile.

    python -m model_server.training.v2.throughput --size small --batch 2 --seq-len 2048

All variants train the same model on the same random rows in one run (fp32 eager is the baseline
the others are reported against); on a shared machine, compare only numbers from the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import time

import numpy as np
import torch

from companion.core.protocol import SPECIAL_TOKENS_V2
from model_server.training.train import output_loss
from model_server.training.v2.trainer import build_model


def _rows(batch: int, seq_len: int, vocab: int) -> tuple:
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(len(SPECIAL_TOKENS_V2), vocab, (batch, seq_len), generator=gen)
    weight = (torch.rand(batch, seq_len, generator=gen) < 0.1).float()
    return ids, weight, np.zeros((0, 320), np.uint8), np.zeros((0, 40, 40, 3), np.uint8), np.zeros((0, 2), np.int64)


def measure(variant: str, args) -> float:
    special = {tok: i for i, tok in enumerate(SPECIAL_TOKENS_V2)}
    model = build_model(args.size, args.vocab, 4096, special, 0)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    hidden = torch.compile(model.hidden) if variant == "compile" else model.hidden
    ids, weight, audio, patches, xy = _rows(args.batch, args.seq_len, args.vocab)
    cast = torch.autocast("cpu", dtype=torch.bfloat16) if variant == "bf16" else contextlib.nullcontext()

    def step() -> None:
        with cast:
            loss = output_loss(hidden(ids, audio, patches, xy), model.decoder, ids, weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()  # warm-up (compiles)
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    return args.steps * ids.numel() / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", default="small")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--seq-len", type=int, default=2048)
    p.add_argument("--vocab", type=int, default=4096)
    p.add_argument("--steps", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--variants", default="fp32,bf16,compile")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    base = None
    for variant in args.variants.split(","):
        rate = measure(variant, args)
        base = base or rate
        print(f"{args.size} {variant}: {rate:.0f} tokens/s ({rate / base:.2f}x fp32)", flush=True)


if __name__ == "__main__":
    main()
