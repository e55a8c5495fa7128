"""`python -m model_server.training.asr`: fine-tune the recognizer (Whisper tiny.en) on coding talk.

    python -m model_server.training.asr clips  --data DIR --shards 40 [--first 0] [--step 1]
    python -m model_server.training.asr train  --data DIR --out DIR --shards 40 --steps 600 [--resume]
    python -m model_server.training.asr export --out DIR --version v5
    python -m model_server.training.asr all    --data DIR --out DIR   (clips, train, export)
Data and checkpoints live outside the repository; export writes the shipped tensors file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from companion.voice.tuned_weights import TUNED_FILE
from companion.voice.whisper_engine import weights_dir
from model_server.training.asr.clips import build_shard
from model_server.training.asr.finetune import export, train

DEV_SHARD = 9000  # clips for the dev loss: same voices and kinds of text, never trained on


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m model_server.training.asr", description=__doc__.splitlines()[0])
    p.add_argument("command", choices=("clips", "train", "export", "all"))
    p.add_argument("--data", type=Path, default=Path("/work/asr/clips"))
    p.add_argument("--out", type=Path, default=Path("/work/asr/ckpt"))
    p.add_argument("--shards", type=int, default=40)
    p.add_argument("--first", type=int, default=0, help="clips: first shard to write")
    p.add_argument("--step", type=int, default=1, help="clips: write every step-th shard (run N in parallel)")
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=3e-5)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--trains", choices=("acoustic", "all"), default="acoustic",
                   help="acoustic: encoder and cross-attention only (the decoder's language model stays stock)")
    p.add_argument("--align-weight", type=float, default=0.5,
                   help="weight of the loss that keeps the alignment heads on espeak-ng's word times")
    p.add_argument("--init", type=Path, default=None,
                   help="train: start from an earlier run's weights_stepNNNNN.pt instead of the stock weights")
    p.add_argument("--save-every", type=int, default=50)
    p.add_argument("--ckpt", type=Path, default=None, help="export: this checkpoint (default: the latest)")
    p.add_argument("--version", default="v5")
    args = p.parse_args(argv)

    if args.command in ("clips", "all"):
        for k in [*range(args.first, args.shards, args.step), DEV_SHARD][:None if args.first == 0 else -1]:
            print("clips", build_shard(args.data, k), flush=True)
    if args.command in ("train", "all"):
        train(weights_dir(), args.data, args.out, shards=list(range(args.shards)), dev_shard=DEV_SHARD,
              steps=args.steps, batch=args.batch, lr=args.lr, resume=args.resume or args.command == "all",
              trains=args.trains, save_every=args.save_every, align_weight=args.align_weight,
              init=args.init)
    if args.command in ("export", "all"):
        print(export(args.ckpt or args.out / "asr_ckpt.pt", weights_dir(), TUNED_FILE, args.version))
    return 0


if __name__ == "__main__":
    sys.exit(main())
