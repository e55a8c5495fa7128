"""Teacher-forced probe of a v2 checkpoint on training rows: does it choose the right action, and
say the right thing once it has?

    python -m model_server.training.v2.probe --ckpt /work/ckpt/v2/ckpt.pt \\
        --data /work/cache/training/data --shards 3 5 --rows 24

For every weighted output in the rows (a turn whose label depends on input inside the row), the
model's argmax after `<|out|>` is compared with the oracle's action token ("decision"), and for
calls, relays and speech the argmax at each following position with the label's next token
("content": all of it right, given the oracle's prefix; for calls also "tool": the tool's name
right, whatever its arguments). Seconds on CPU where the live evaluation
(model_server.training.v2.evaluate) takes minutes; it cannot say what the model does with its own
outputs in context, only whether it has learned the mapping at all (for example whether it copies a
job id from the input: a model that relays the same id every time has not).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from companion.core.protocol import SPECIAL_TOKENS_V2
from model_server.training.tokenizer import load_tokenizer, special_ids
from model_server.training.v2.data import load_shard, shard_row
from model_server.training.v2.trainer import build_model

CONTENT_KINDS = ("<|call|>", "<|relay|>", "<|speak|>")


def probe_row(ids: np.ndarray, weight: np.ndarray, pred: np.ndarray, out_id: int, end_id: int,
              names: Callable[[int], str], counts: Counter) -> None:
    """Add one row's counts; pred[i] is the model's argmax for position i + 1."""
    for p in np.nonzero(ids[:-1] == out_id)[0]:
        if weight[p + 1] == 0:
            continue
        kind = names(int(ids[p + 1]))
        counts[f"{kind} n"] += 1
        counts[f"{kind} decided"] += int(pred[p] == ids[p + 1])
        counts[f"chose {names(int(pred[p]))}"] += 1
        if kind in CONTENT_KINDS:
            q = p + 1
            right, said = True, "" if kind == "<|call|>" else None  # said: the call up to its args
            while q + 1 < len(ids) and ids[q] != end_id:
                right &= bool(pred[q] == ids[q + 1])
                if said is not None:
                    said += names(int(ids[q + 1]))
                    if "args" in said:  # the tool's name is done: count it once
                        counts[f"{kind} tool"] += int(right)
                        said = None
                q += 1
            counts[f"{kind} content"] += int(right)


def summarize(counts: Counter) -> dict:
    kinds = sorted({k.rsplit(" ", 1)[0] for k in counts if k.endswith(" n")})
    out: dict = {}
    for kind in kinds:
        n = counts[f"{kind} n"]
        out[kind] = {"n": n, "decided": round(counts[f"{kind} decided"] / n, 3)}
        if kind in CONTENT_KINDS:
            out[kind]["content_given_kind"] = round(counts[f"{kind} content"] / n, 3)
        if kind == "<|call|>":
            out[kind]["tool_given_kind"] = round(counts[f"{kind} tool"] / n, 3)
    out["chosen"] = {k.removeprefix("chose "): v for k, v in sorted(counts.items()) if k.startswith("chose ")}
    return out


def probe(logits_of: Callable, shards: list[dict], rows: int, out_id: int, end_id: int,
          names: Callable[[int], str]) -> dict:
    """`logits_of(ids, audio, patches, xy)` -> [T, vocab] for one row."""
    counts: Counter = Counter()
    for shard in shards:
        for i in range(min(rows, len(shard["ids"]))):
            ids, weight, audio, patches, xy = shard_row(shard, i)
            with torch.no_grad():
                pred = logits_of(ids, audio, patches, xy).argmax(-1).numpy()
            probe_row(ids, weight, pred, out_id, end_id, names, counts)
    return summarize(counts)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ckpt", required=True, help="a v2 training checkpoint (ckpt.pt)")
    p.add_argument("--data", required=True, help="the data directory (tokenizer, shards)")
    p.add_argument("--shards", type=int, nargs="+", default=[0])
    p.add_argument("--rows", type=int, default=24, help="rows per shard")
    p.add_argument("--size", default="small")
    p.add_argument("--context", type=int, default=4096)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    data = Path(args.data)
    tokenizer = load_tokenizer(data / "tokenizer", SPECIAL_TOKENS_V2)
    model = build_model(args.size, tokenizer.get_vocab_size(), args.context,
                        special_ids(tokenizer, SPECIAL_TOKENS_V2), 0)
    state = torch.load(args.ckpt, weights_only=False)
    model.load_state_dict(state["model"])
    model.eval()
    table = model.decoder.model.embed_tokens.weight.T

    def logits_of(ids, audio, patches, xy):
        return model.hidden(torch.from_numpy(ids)[None], audio, patches, xy)[0] @ table

    shards = [load_shard(data / "shards" / f"shard-{i:05d}.npz") for i in args.shards]
    result = probe(logits_of, shards, args.rows, tokenizer.token_to_id("<|out|>"),
                   tokenizer.token_to_id("<|end|>"), tokenizer.id_to_token)
    print(json.dumps({"step": state["step"], "tokens": state["meta"]["tokens"], **result}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
