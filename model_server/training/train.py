"""Train the embedded interaction model on generated sessions, on CPU, within a time budget.

    python -m model_server.training.train --out model_server/weights/embedded --minutes 15

Writes config.json + model.safetensors (Hugging Face Qwen2 format), tokenizer.json,
frontend.json + frontend.safetensors and training.json (seeds, steps, losses, git commit).
`python -m model_server.training.evaluate` then adds the evaluation and TRAINING.md.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from model_server.models.frontend import FrontendConfig, InteractionFrontend, embed_features
from model_server.training import phrases
from model_server.training.data import Example, corpus_texts, example_for
from model_server.training.qwen2_train import Qwen2Config, Qwen2ForTraining
from model_server.training.tokenizer import (
    load_tokenizer,
    save_tokenizer,
    special_ids,
    train_tokenizer,
)


class InteractionModel(torch.nn.Module):
    """Decoder plus front-end, trained together (encoder-free early fusion)."""

    def __init__(self, decoder: Qwen2ForTraining, frontend: InteractionFrontend, special: dict[str, int]):
        super().__init__()
        self.decoder = decoder
        self.frontend = frontend
        self.special = special

    def hidden(self, ids: torch.Tensor, audio: np.ndarray, patches: np.ndarray, patch_xy: np.ndarray
               ) -> torch.Tensor:
        """(B, T) ids with their placeholders' features in order -> (B, T, hidden) final states."""
        embeds = self.decoder.model.embed_tokens(ids)
        pos, rows = embed_features(self.frontend, ids, audio, (patches, patch_xy), self.special)
        flat = embeds.reshape(-1, embeds.shape[-1]).index_copy(0, pos, rows.to(embeds.dtype))
        return self.decoder.hidden_states(flat.view_as(embeds))


def collate(examples: list[Example], pad_id: int) -> tuple[torch.Tensor, torch.Tensor, np.ndarray, np.ndarray, np.ndarray]:
    length = max(len(e) for e in examples)
    ids = torch.full((len(examples), length), pad_id, dtype=torch.long)
    weight = torch.zeros((len(examples), length), dtype=torch.float32)
    for row, e in enumerate(examples):
        ids[row, :len(e)] = torch.from_numpy(e.ids)
        weight[row, :len(e)] = torch.from_numpy(e.weight)
    audio = np.concatenate([e.audio for e in examples])
    patches = np.concatenate([e.patches for e in examples])
    xy = np.concatenate([e.patch_xy for e in examples])
    return ids, weight, audio, patches, xy


def output_loss(hidden: torch.Tensor, decoder: Qwen2ForTraining, ids: torch.Tensor, weight: torch.Tensor
                ) -> torch.Tensor:
    """Weighted cross-entropy on output tokens only: position i predicts token i+1 where i+1 is a target.

    Logits are computed only at those positions (a tenth of the sequence), through the tied embedding.
    """
    w = weight[:, 1:]
    mask = w > 0
    logits = hidden[:, :-1][mask] @ decoder.model.embed_tokens.weight.T
    losses = torch.nn.functional.cross_entropy(logits.float(), ids[:, 1:][mask], reduction="none")
    return (losses * w[mask]).sum() / w[mask].sum()


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10, check=False)
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def build(args: argparse.Namespace, vocab_size: int, special: dict[str, int]) -> InteractionModel:
    config = Qwen2Config(vocab_size=vocab_size, hidden_size=args.hidden, intermediate_size=args.intermediate,
                         num_hidden_layers=args.layers, num_attention_heads=args.heads,
                         num_key_value_heads=args.kv_heads, max_position_embeddings=args.context,
                         eos_token_id=special["<|end|>"])
    frontend = InteractionFrontend(FrontendConfig(hidden_size=args.hidden, audio_inner=128, stage2=32))
    return InteractionModel(Qwen2ForTraining(config), frontend, special)


def lr_at(step: int, progress: float, args: argparse.Namespace) -> float:
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def train(args: argparse.Namespace) -> dict:
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    started = time.monotonic()
    if args.init:  # continue training a saved model: its tokenizer, decoder and front-end
        tokenizer = load_tokenizer(Path(args.init))
        special = special_ids(tokenizer)
        model = InteractionModel(Qwen2ForTraining.load(args.init).train(),
                                 InteractionFrontend.load(args.init).train(), special)
    else:
        tokenizer = train_tokenizer(corpus_texts(args.seed, args.tokenizer_sessions), args.vocab)
        special = special_ids(tokenizer)
        model = build(args, tokenizer.get_vocab_size(), special)
    save_tokenizer(tokenizer, out, args.context)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"tokenizer {tokenizer.get_vocab_size()} ids in {time.monotonic() - started:.0f}s; "
          f"model {n_params / 1e6:.2f}M parameters", flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.1)
    budget = args.minutes * 60.0
    t0 = time.monotonic()
    losses: list[tuple[int, float]] = []
    step, index, running = 0, args.first_example, []
    while (args.steps and step < args.steps) or (not args.steps and time.monotonic() - t0 < budget):
        progress = step / args.steps if args.steps else (time.monotonic() - t0) / budget
        for group in opt.param_groups:
            group["lr"] = lr_at(step, progress, args)
        batch = [example_for(args.seed, index + i, tokenizer, args.seq_len) for i in range(args.batch)]
        index += args.batch
        ids, weight, audio, patches, xy = collate(batch, special["<|end|>"])
        loss = output_loss(model.hidden(ids, audio, patches, xy), model.decoder, ids, weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        running.append(loss.item())
        step += 1
        if step % args.log_every == 0:
            mean = sum(running) / len(running)
            losses.append((step, round(mean, 4)))
            running = []
            print(f"step {step} loss {mean:.4f} lr {opt.param_groups[0]['lr']:.2e} "
                  f"elapsed {time.monotonic() - t0:.0f}s", flush=True)
        if args.save_every and step % args.save_every == 0:  # a usable checkpoint if the run is cut short
            _save(model, out, _meta(args, step, index, t0, losses, model))
    meta = _meta(args, step, index, t0, losses, model)
    _save(model, out, meta)
    return meta


def _save(model: InteractionModel, out: Path, meta: dict) -> None:
    model.decoder.save(out)
    model.frontend.save(out)
    (out / "training.json").write_text(json.dumps(meta, indent=2) + "\n")
    (out / "prompt.json").write_text(json.dumps(phrases.serving_prompt(), indent=2) + "\n")


def _meta(args: argparse.Namespace, step: int, index: int, t0: float, losses: list, model: InteractionModel
          ) -> dict:
    return {
        "data_seed": args.seed, "steps": step, "examples": index - args.first_example,
        "first_example": args.first_example, "cpu_seconds": round(time.process_time(), 1), "seq_len": args.seq_len,
        "batch": args.batch, "tokens_seen": (index - args.first_example) * args.seq_len, "lr": args.lr,
        "train_seconds": round(time.monotonic() - t0, 1), "threads": args.threads,
        "parameters": {"decoder": sum(p.numel() for p in model.decoder.parameters()),
                       "frontend": sum(p.numel() for p in model.frontend.parameters())},
        "final_loss": losses[-1][1] if losses else None, "loss_curve": losses, "git_commit": git_commit(),
        "command": " ".join(["python -m model_server.training.train"] + sys.argv[1:]),
        "continued_from": args.init or None,
        "previous_run": _previous_meta(args.init),
    }


def _previous_meta(init: str) -> dict | None:
    path = Path(init) / "training.json" if init else None
    if path is None or not path.is_file():
        return None
    meta = json.loads(path.read_text())
    meta.pop("evaluation", None)
    return meta


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="directory for the weights")
    p.add_argument("--minutes", type=float, default=15.0, help="training time budget")
    p.add_argument("--steps", type=int, default=0, help="train exactly this many steps (overrides --minutes)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--vocab", type=int, default=4096)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--intermediate", type=int, default=704)
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--kv-heads", type=int, default=2)
    p.add_argument("--context", type=int, default=4096, help="max_position_embeddings")
    p.add_argument("--seq-len", type=int, default=1536)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--lr", type=float, default=1.5e-3)
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--tokenizer-sessions", type=int, default=300)
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--save-every", type=int, default=0, help="write a checkpoint every N steps")
    p.add_argument("--init", default="", help="continue from the model saved in this directory")
    p.add_argument("--first-example", type=int, default=0,
                   help="index of the first generated example (continue past those already seen)")
    args = p.parse_args(argv)
    if args.seq_len > args.context:
        p.error(f"--seq-len {args.seq_len} is over --context {args.context}")
    return args


def main(argv: list[str] | None = None) -> int:
    meta = train(parse_args(argv))
    print(json.dumps({k: v for k, v in meta.items() if k != "loss_curve"}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
