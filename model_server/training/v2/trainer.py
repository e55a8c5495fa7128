"""The v2 training loop on CPU: fixed-size rows from shards, AdamW, cosine schedule, exact resume.

Row r of the stream is row r % ROWS_PER_SHARD of shard first + r // ROWS_PER_SHARD; step s trains
rows [s*batch, (s+1)*batch). Given fewer shards than the steps need, the stream cycles over
[first, n_shards), each pass after the first in a new shard order (a fixed permutation per pass,
so resume stays exact). `--init` starts a fine-tune from another run's weights (new optimizer,
new schedule), typically with `--first-shard` past the shards that run read.
A checkpoint holds the model, the optimizer and the step, so `--resume` continues the very same
trajectory (a test checks the losses match an uninterrupted run). A shard not written yet is
waited for (the data generator runs beside the trainer).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch

from companion.core.protocol import SPECIAL_TOKENS_V2
from model_server.models.frontend import FrontendConfig, InteractionFrontend
from model_server.training.qwen2_train import Qwen2Config, Qwen2ForTraining
from model_server.training.tokenizer import load_tokenizer, special_ids
from model_server.training.train import InteractionModel, output_loss
from model_server.training.v2.data import ACT_WEIGHT, ROWS_PER_SHARD, load_shard, shard_row

SIZES = {  # name -> (hidden, intermediate, layers, heads, kv_heads)
    "tiny": (64, 176, 2, 2, 1),  # tests only
    "small": (256, 704, 6, 4, 2),  # v1's shape
    "base": (384, 1024, 8, 6, 2),
    "large": (512, 1408, 8, 8, 2),
}


def build_model(size: str, vocab: int, context: int, special: dict[str, int], seed: int) -> InteractionModel:
    torch.manual_seed(seed)
    hidden, inter, layers, heads, kv = SIZES[size]
    config = Qwen2Config(vocab_size=vocab, hidden_size=hidden, intermediate_size=inter,
                         num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv,
                         max_position_embeddings=context, eos_token_id=special["<|end|>"])
    frontend = InteractionFrontend(FrontendConfig(hidden_size=hidden, audio_inner=128, stage2=32))
    return InteractionModel(Qwen2ForTraining(config), frontend, special)


@functools.cache
def _pass_order(epoch: int, n_shards: int) -> np.ndarray:
    """The shard order of pass `epoch` (> 0) over n_shards: the same on every run and resume."""
    return np.random.default_rng(epoch).permutation(n_shards)


class RowStream:
    """Rows by global index from the shard directory, waiting for shards still being written."""

    def __init__(self, shards: Path, wait_s: float = 3600.0, n_shards: int = 0, first: int = 0):
        self.dir, self.wait_s, self.n_shards, self.first = shards, wait_s, n_shards, first
        self.cache: tuple[int, dict] | None = None

    def shard_of(self, r: int) -> tuple[int, int]:
        """(shard index, row in it) of stream row r; pass p > 0 over [first, n_shards) reads them
        permuted."""
        index, i = divmod(r, ROWS_PER_SHARD)
        count = self.n_shards - self.first
        if self.n_shards and index >= count:
            epoch, index = divmod(index, count)
            index = _pass_order(epoch, count)[index]
        return self.first + int(index), i

    def row(self, r: int):
        index, i = self.shard_of(r)
        if self.cache is None or self.cache[0] != index:
            path = self.dir / f"shard-{index:05d}.npz"
            waited = 0.0
            while not path.is_file():
                if waited >= self.wait_s:
                    raise FileNotFoundError(f"{path} did not appear within {self.wait_s:.0f}s")
                time.sleep(5.0)
                waited += 5.0
            self.cache = (index, load_shard(path))
        return shard_row(self.cache[1], i)

    def batch(self, start: int, n: int):
        rows = [self.row(start + j) for j in range(n)]
        ids = torch.from_numpy(np.stack([r[0] for r in rows]))
        weight = torch.from_numpy(np.stack([r[1] for r in rows]))
        return (ids, weight, np.concatenate([r[2] for r in rows]),
                np.concatenate([r[3] for r in rows]), np.concatenate([r[4] for r in rows]))


def lr_at(step: int, total: int, args) -> float:
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    progress = min(1.0, (step - args.warmup) / max(1, total - args.warmup))
    return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def _save(path: Path, model, opt, step: int, meta: dict) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "meta": meta}, tmp)
    os.replace(tmp, path)


def provenance(path: str | Path, state: dict | None = None) -> dict:
    """What a checkpoint's weights have seen: its run, and the chain of runs it was fine-tuned
    from (a run before this was recorded named its base by path only: read from there)."""
    state = state if state is not None else torch.load(path, weights_only=False)
    prior = state["meta"].get("init")
    if isinstance(prior, str):
        prior = provenance(prior) if Path(prior).is_file() else {"checkpoint": prior}
    before = (prior or {}).get("tokens_seen_total", (prior or {}).get("tokens_seen", 0))
    return _run_record(path, state["step"], state["meta"]["tokens"], state["meta"]["tokens"] + before,
                       round(state["meta"]["seconds"], 1), state["meta"]["log"], prior)


def _run_record(path, steps, tokens, total, seconds, log, prior) -> dict:
    """One run of a provenance chain (also what an exported model's training.json holds)."""
    return {"checkpoint": str(path), "steps": steps, "tokens_seen": tokens, "tokens_seen_total": total,
            "train_seconds": seconds, "loss_log": log, "fine_tune_of": prior}


def load_init(model: InteractionModel, path: Path) -> dict:
    """Loads a fine-tune's starting weights into model; returns their provenance. path is a
    checkpoint file (ckpt.pt) or an exported model directory (the shipped weights: their
    training.json tells what they had seen), so a fine-tune needs no checkpoint kept around."""
    if not path.is_dir():
        base = torch.load(path, weights_only=False)
        model.load_state_dict(base["model"])
        return provenance(path, base)
    model.decoder.load_state_dict(Qwen2ForTraining.load(path).state_dict())
    model.frontend.load_state_dict(InteractionFrontend.load(path).state_dict())
    card = json.loads((path / "training.json").read_text())
    return _run_record(path, card["steps"], card["tokens_seen"],
                       card.get("tokens_seen_total", card["tokens_seen"]), card["train_seconds"],
                       card["loss_log"], card.get("fine_tune_of"))


def train(args: argparse.Namespace) -> list[float]:
    """Train to args.steps (resuming from out/ckpt.pt with --resume); returns this call's losses."""
    torch.set_num_threads(args.threads)
    data, out = Path(args.data), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = load_tokenizer(data / "tokenizer", SPECIAL_TOKENS_V2)
    special = special_ids(tokenizer, SPECIAL_TOKENS_V2)
    model = build_model(args.size, tokenizer.get_vocab_size(), args.context, special, args.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.1)
    ckpt, step, meta = out / "ckpt.pt", 0, {"tokens": 0, "seconds": 0.0, "log": []}
    if args.resume and ckpt.is_file():
        state = torch.load(ckpt, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step, meta = state["step"], state["meta"]
        print(f"resumed at step {step} ({meta['tokens']} tokens)", flush=True)
    elif args.init:
        meta["init"] = load_init(model, Path(args.init))
        print(f"fine-tuning from {args.init}", flush=True)
    elif args.resume:
        print(f"no checkpoint at {ckpt}: starting from scratch", flush=True)
    hidden = torch.compile(model.hidden) if args.compile else model.hidden
    stream = RowStream(data / "shards", n_shards=args.shards, first=args.first_shard)
    losses: list[float] = []
    t_last, tok_last = time.monotonic(), 0
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model {args.size}: {n_params / 1e6:.2f}M parameters; target {args.steps} steps of "
          f"{args.batch}x{args.seq_len}", flush=True)
    while step < args.steps and (args.stop_after == 0 or len(losses) < args.stop_after):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, args.steps, args)
        ids, weight, audio, patches, xy = stream.batch(step * args.batch, args.batch)
        if args.content_weight != 1.0:  # what an action says (tool, args, job id, words) weighs more
            weight = torch.where(weight == ACT_WEIGHT, weight * args.content_weight, weight)
        t0 = time.monotonic()
        loss = output_loss(hidden(ids, audio, patches, xy), model.decoder, ids, weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        step += 1
        meta["tokens"] += int(ids.numel())
        meta["seconds"] += time.monotonic() - t0
        tok_last += int(ids.numel())
        if step % args.log_every == 0:
            now = time.monotonic()
            rate = tok_last / (now - t_last)
            mean = sum(losses[-args.log_every:]) / args.log_every
            meta["log"].append([step, round(mean, 4), round(rate)])
            print(f"step {step} loss {mean:.4f} lr {opt.param_groups[0]['lr']:.2e} "
                  f"{rate:.0f} tok/s tokens {meta['tokens']}", flush=True)
            t_last, tok_last = now, 0
        if args.save_every and step % args.save_every == 0:
            _save(ckpt, model, opt, step, meta)
    _save(ckpt, model, opt, step, meta)
    (out / "train_args.json").write_text(json.dumps(vars(args), indent=1) + "\n")
    return losses
