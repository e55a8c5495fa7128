"""Sessions into training rows: serialized turns, loss weights, feature rows; packed into shards.

A row is what the serving session holds at some moment: the pinned prefix, then as many whole
consecutive turns as fit in `seq_len` (the runtime evicts old turns the same way). A long session
fills several rows back to back, so rows are full and padding is under one turn. A label that
depends on input from before the row's first turn (a relay of a result evicted from the window)
gets zero weight, as do the turns where the oracle plays a model that missed a stop; a held
silence (the oracle keeping quiet where an action would come if the input asked for one) weighs
as much as that action's decision. Whole sessions are text-only (features dropped) with TEXT_ONLY_P, so the same
weights serve recognizer words alone.
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from companion.core.protocol import format_output, serialize_chunk
from companion.model.turn_loop import DEFER_FILES
from model_server.training.v2.session_records import Session
from model_server.training.v2.sessions import SessionSim

AUDIO_ROW = 320
TILE = 40
TEXT_ONLY_P = 0.3
SESSION_TICKS = 900  # three minutes
ROWS_PER_SHARD = 64
DECISION_WEIGHT, ACT_WEIGHT = 8.0, 3.0


@dataclass(slots=True)
class Row:
    ids: list[int]
    weight: list[float]
    audio: list[np.ndarray]
    patches: list[np.ndarray]
    xy: list[tuple[int, int]]
    tags: Counter


def _encode(tokenizer: Tokenizer, text: str) -> list[int]:
    return tokenizer.encode(text, add_special_tokens=False).ids


def turn_text(turn, features: bool):
    """(the turn's serialized input, its target text): the call TurnLoop.step makes
    (serialize_chunk with its DEFER_FILES, protocol 2) and the serving side's format_output."""
    chunk = serialize_chunk(turn.chunk, features=features, defer_files=DEFER_FILES, protocol=2)
    if chunk.deferred:  # the simulator saves one file a turn, which always fits or is summarized
        raise ValueError(f"turn at {turn.chunk.t}: file changes deferred to the next turn")
    return chunk, format_output([turn.act], protocol=2)


def session_rows(session: Session, tokenizer: Tokenizer, seq_len: int, features: bool) -> list[Row]:
    prefix = _encode(tokenizer, session.prefix)
    if len(prefix) >= seq_len // 2:
        raise ValueError(f"prefix of {len(prefix)} tokens leaves too little of seq_len {seq_len}")
    rows: list[Row] = []
    row, first_tick = None, 0
    for k, turn in enumerate(session.turns):
        chunk, target = turn_text(turn, features)
        inp, out = _encode(tokenizer, chunk.text), _encode(tokenizer, target)
        if row is None or len(row.ids) + len(inp) + len(out) > seq_len:
            if row is not None:
                rows.append(row)
            row, first_tick = Row(list(prefix), [0.0] * len(prefix), [], [], [], Counter()), k
        seen = turn.needs < 0 or turn.needs >= first_tick
        if turn.tag == "missed_stop":  # the oracle playing a late model: context, not a target
            w = [0.0] * len(out)
        elif turn.act.kind == "silence" and turn.tag.startswith("held_"):
            w = [DECISION_WEIGHT] + [1.0] * (len(out) - 1)  # keeping quiet is the decision here
        elif turn.act.kind == "silence":
            w = [1.0] * len(out)
        else:
            w = [DECISION_WEIGHT] + [ACT_WEIGHT] * (len(out) - 1)
        row.ids += inp + out
        row.weight += [0.0] * len(inp) + ([x * seen for x in w])
        row.audio.append(chunk.audio)
        row.patches += [p.pixels for p in chunk.patches]
        row.xy += [(p.x, p.y) for p in chunk.patches]
        row.tags[turn.tag if seen else "unseen"] += 1
    if row is not None and len(row.ids) > len(prefix):
        rows.append(row)
    return rows


def make_shard(index: int, projects: list, tokenizer: Tokenizer, seq_len: int, out_dir: Path,
               rows: int = ROWS_PER_SHARD) -> Path:
    """Shard `index`: the same projects, tokenizer and index give the same shard."""
    path = out_dir / f"shard-{index:05d}.npz"
    if path.is_file():
        return path
    got: list[Row] = []
    stats = Counter()
    n = 0
    while len(got) < rows:
        seed = index * 1000 + n
        n += 1
        features = random.Random(seed).random() >= TEXT_ONLY_P
        session = SessionSim(seed, projects, SESSION_TICKS).run(features)
        new = session_rows(session, tokenizer, seq_len, features)
        got += new
        stats["sessions"] += 1
        stats["text_only_rows" if not features else "feature_rows"] += len(new)
        stats.update(Counter(f"act_{t.act.kind}" for t in session.turns))
    got = got[:rows]
    for r in got:
        stats.update({f"tag_{k}": v for k, v in r.tags.items()})
    pad = tokenizer.token_to_id("<|end|>")
    ids = np.full((rows, seq_len), pad, np.int32)
    weight = np.zeros((rows, seq_len), np.float16)
    for i, r in enumerate(got):
        ids[i, :len(r.ids)] = r.ids
        weight[i, :len(r.weight)] = r.weight
    audio = [np.concatenate(r.audio) if r.audio else np.zeros((0, AUDIO_ROW), np.uint8) for r in got]
    patches = [np.stack(r.patches) if r.patches else np.zeros((0, TILE, TILE, 3), np.uint8) for r in got]
    stats["tokens"] = int(sum(len(r.ids) for r in got))
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / f".shard-{index:05d}.{os.getpid()}.tmp.npz"  # two writers never share one
    np.savez(tmp, ids=ids, weight=weight,
             audio=np.concatenate(audio), audio_n=np.array([len(a) for a in audio]),
             patches=np.concatenate(patches), patch_n=np.array([len(p) for p in patches]),
             xy=np.array([xy for r in got for xy in r.xy], np.int64).reshape(-1, 2),
             stats=np.array(json.dumps(stats)))
    tmp.replace(path)
    return path


def load_shard(path: Path) -> dict:
    with np.load(path) as z:
        shard = {k: z[k] for k in z.files}
    shard["audio_at"] = np.concatenate([[0], np.cumsum(shard["audio_n"])])
    shard["patch_at"] = np.concatenate([[0], np.cumsum(shard["patch_n"])])
    shard["stats"] = json.loads(str(shard["stats"]))
    return shard


def shard_row(shard: dict, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(ids, weight, audio rows, patches, patch xy) of row i."""
    a0, a1 = shard["audio_at"][i], shard["audio_at"][i + 1]
    p0, p1 = shard["patch_at"][i], shard["patch_at"][i + 1]
    return (shard["ids"][i].astype(np.int64), shard["weight"][i].astype(np.float32),
            shard["audio"][a0:a1], shard["patches"][p0:p1], shard["xy"][p0:p1])
