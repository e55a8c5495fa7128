"""Data preparation: real runs, speech, the tokenizer, then shards in order (resumable: done ones stay).

    python -m model_server.training data --data /work/cache/training/data --shards 40
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

from tokenizers import Tokenizer

from companion.core.protocol import SPECIAL_TOKENS_V2
from model_server.training.tokenizer import load_tokenizer, save_tokenizer, train_tokenizer
from model_server.training.v2 import speech_cache
from model_server.training.v2.code_runs import load_projects
from model_server.training.v2.data import make_shard, turn_text
from model_server.training.v2.sessions import SessionSim

TOKENIZER_SESSIONS = 24


def tokenizer_for(data: Path, projects: list, vocab: int, seq_len: int) -> Tokenizer:
    """The data directory's tokenizer, trained once on serialized sessions (seeds past any shard's)."""
    tok_dir = data / "tokenizer"
    if (tok_dir / "tokenizer.json").is_file():
        return load_tokenizer(tok_dir, SPECIAL_TOKENS_V2)

    def texts():
        for i in range(TOKENIZER_SESSIONS):
            seed = 10_000_000 + i
            features = random.Random(seed).random() >= 0.5
            session = SessionSim(seed, projects, 600).run(features)
            pairs = (turn_text(t, features) for t in session.turns)
            yield session.prefix + "".join(chunk.text + target for chunk, target in pairs)

    tokenizer = train_tokenizer(texts(), vocab, SPECIAL_TOKENS_V2)
    save_tokenizer(tokenizer, tok_dir, seq_len, SPECIAL_TOKENS_V2)
    return tokenizer


def prepare(data: Path, shards: int, vocab: int, seq_len: int, first: int = 0) -> None:
    started = time.monotonic()
    speech_cache.main()
    projects = load_projects(split="train")
    print(f"{len(projects)} training projects ({time.monotonic() - started:.0f}s)", flush=True)
    (data / "meta.json").parent.mkdir(parents=True, exist_ok=True)
    (data / "meta.json").write_text(json.dumps({"seq_len": seq_len, "vocab": vocab,
                                                "projects": [p.name for p in projects]}) + "\n")
    tokenizer = tokenizer_for(data, projects, vocab, seq_len)
    for index in range(first, shards):
        t = time.monotonic()
        make_shard(index, projects, tokenizer, seq_len, data / "shards")
        print(f"shard {index} in {time.monotonic() - t:.0f}s", flush=True)
