"""Writes a checkpoint as the servable model directory (HF Qwen2 decoder, front-end, tokenizer, prompt)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from companion.core.protocol import SPECIAL_TOKENS_V2
from model_server.training.tokenizer import load_tokenizer, save_tokenizer, special_ids
from model_server.training.v2.sessions import SYSTEM_TEXT
from model_server.training.v2.trainer import build_model
from tools.catalog import default_registry


def serving_prompt() -> dict:
    """The prefix texts training used (rules as v2/rules.py renders them: one "- " line each,
    "Rules: none." without any), and the protocol version the companion must speak."""
    return {"protocol": 2, "system": SYSTEM_TEXT, "rules_heading": "Rules:\n",
            "rule_bullet": "- ", "no_rules": "Rules: none.",
            "tools": default_registry().describe(), "default_rules": []}


def export(ckpt_dir: Path, data: Path, target: Path, args) -> None:
    state = torch.load(ckpt_dir / "ckpt.pt", weights_only=False)
    tokenizer = load_tokenizer(data / "tokenizer", SPECIAL_TOKENS_V2)
    model = build_model(args.size, tokenizer.get_vocab_size(), args.context,
                        special_ids(tokenizer, SPECIAL_TOKENS_V2), args.seed)
    model.load_state_dict(state["model"])
    target.mkdir(parents=True, exist_ok=True)
    model.decoder.save(target)
    model.frontend.save(target)
    save_tokenizer(tokenizer, target, args.seq_len, SPECIAL_TOKENS_V2)
    (target / "prompt.json").write_text(json.dumps(serving_prompt(), indent=2) + "\n")
    meta = {"protocol": 2, "steps": state["step"], "tokens_seen": state["meta"]["tokens"],
            "train_seconds": round(state["meta"]["seconds"], 1), "size": args.size,
            "seq_len": args.seq_len, "batch": args.batch, "loss_log": state["meta"]["log"]}
    base = state["meta"].get("init")
    if base is not None:  # a fine-tune (--init): what the weights it started from had seen
        meta["fine_tune_of"] = base
        meta["tokens_seen_total"] = base.get("tokens_seen_total", base["tokens_seen"]) + meta["tokens_seen"]
    (target / "training.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"exported step {state['step']} to {target}", flush=True)
