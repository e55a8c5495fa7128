"""`python -m model_server.training`: regenerate the v2 data and weights (see the embedded TRAINING.md).

    python -m model_server.training all --data /work/cache/training/data --out /work/ckpt/v2 \\
        --export model_server/weights/embedded
    python -m model_server.training data   --data DIR --shards N      # data only (resumable)
    python -m model_server.training train  --data DIR --out DIR [--resume]
    python -m model_server.training export --data DIR --out DIR --export DIR
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from model_server.training.v2.data import ROWS_PER_SHARD

DEFAULT_TOKENS = 33_000_000  # over 10x v1's 3.1 M


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m model_server.training", description=__doc__.splitlines()[0])
    p.add_argument("command", choices=("all", "data", "train", "export"))
    p.add_argument("--data", default="/work/cache/training/data", help="data directory (outside the repo)")
    p.add_argument("--out", default="/work/ckpt/v2", help="checkpoint directory (outside the repo)")
    p.add_argument("--export", default="", help="write the servable model here (all, export)")
    p.add_argument("--tokens", type=int, default=DEFAULT_TOKENS)
    p.add_argument("--shards", type=int, default=0, help="data: shards to write; train: shards to read, cycled over when "
                   "fewer than --tokens needs (default: enough for --tokens)")
    p.add_argument("--first-shard", type=int, default=0,
                   help="data: write shards from this index on; train: read shards [first, --shards), so a "
                        "fine-tune on new data (sessions of new seeds) skips the shards an earlier run read")
    p.add_argument("--init", default="", help="train: start from these model weights, a checkpoint file or "
                   "an exported model directory such as the shipped one (a fresh optimizer and schedule: "
                   "a fine-tune); ignored when --resume finds OUT/ckpt.pt")
    p.add_argument("--size", default="base", help="tiny | small | base | large")
    p.add_argument("--seq-len", type=int, default=2048)
    p.add_argument("--context", type=int, default=4096)
    p.add_argument("--vocab", type=int, default=4096)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--lr", type=float, default=1.5e-3)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--content-weight", type=float, default=1.0,
                   help="train: scale the loss weight of an action's content (tool and args, job id, "
                        "words) over the shards' ACT_WEIGHT")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--compile", action="store_true", help="torch.compile the forward")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue from OUT/ckpt.pt")
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--save-every", type=int, default=50)
    p.add_argument("--stop-after", type=int, default=0, help="train only this many steps in this call")
    p.add_argument("--data-nice", type=int, default=5,
                   help="all: the data generator child's niceness above this process's own (nice is "
                        "relative: under `nice -n 19` the child is at 19 too)")
    args = p.parse_args(argv)
    args.steps = max(1, args.tokens // (args.batch * args.seq_len))
    args.shards = args.shards or args.first_shard + -(-args.steps * args.batch // ROWS_PER_SHARD)
    if args.first_shard >= args.shards:
        p.error(f"--first-shard {args.first_shard} leaves no shard below --shards {args.shards}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    data = Path(args.data)
    if args.command in ("data", "all"):
        from model_server.training.v2.prepare import prepare

        first = 2 if args.command == "all" else args.shards
        prepare(data, min(args.first_shard + first, args.shards), args.vocab, args.seq_len, args.first_shard)
        if args.command == "all" and args.shards > first:  # the rest beside the trainer, at low priority
            child = subprocess.Popen(["nice", "-n", str(args.data_nice), sys.executable, "-m", "model_server.training", "data",
                                      "--data", str(data), "--shards", str(args.shards),
                                      "--first-shard", str(args.first_shard),
                                      "--seq-len", str(args.seq_len), "--vocab", str(args.vocab)])
            print(f"data generator pid {child.pid}", flush=True)
    if args.command in ("train", "all"):
        from model_server.training.v2.trainer import train

        train(args)
    if args.command in ("export", "all") and args.export:
        from model_server.training.v2.export import export

        export(Path(args.out), data, Path(args.export), args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
