"""Evaluate the interaction model on held-out generated sessions and write TRAINING.md.

    python -m model_server.training.evaluate --model model_server/weights/embedded --write

Per micro-turn, teacher-forced on the scripted history, the model's first output token decides
its action (silence / speech / stop / call). Calls are also decoded greedily in full. Reported:
silence accuracy on quiet turns (and while the user speaks, and on harmless events),
interjection recall (speech between the triggering input and the scripted start of the remark),
false interjections per 100 turns, call accuracy, stop-on-talk-over rate.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import torch

from companion.core.protocol import parse_output
from model_server.training.data import example_for
from model_server.training.sessions import INTERJECT_DELAY
from model_server.training.stream import EmbeddedModel

EVAL_SEED = 9_999  # training uses small seeds; held-out sessions come from a different stream
SILENT_TAGS = ("quiet", "playing", "event", "listening")


def _first_kind(token: int, special: dict[str, int]) -> str:
    for kind in ("silence", "stop", "call"):
        if token == special[f"<|{kind}|>"]:
            return kind
    return "silence" if token == special["<|end|>"] else "speech"


@torch.no_grad()
def _greedy_from(model: EmbeddedModel, embeds: torch.Tensor, max_new: int = 32) -> str:
    logits, cache = model.decoder.extend(embeds)
    end = model.special["<|end|>"]
    out = []
    for _ in range(max_new):
        token = int(logits[0, -1].argmax())
        out.append(token)
        if token == end:
            break
        logits, cache = model.decoder.extend(model.decoder.model.embed_tokens(torch.tensor([[token]])), cache)
    return model.tokenizer.decode(out, skip_special_tokens=False)


@torch.no_grad()
def evaluate(model: EmbeddedModel, n_sessions: int = 12, seq_len: int = 2048, seed: int = EVAL_SEED) -> dict:
    counts: Counter = Counter()
    for index in range(n_sessions):
        ex = example_for(seed, index, model.tokenizer, seq_len)
        ids = torch.from_numpy(ex.ids)
        embeds = model.embed(ids, ex.audio, (ex.patches, ex.patch_xy))
        logits = model.decoder(inputs_embeds=embeds)[0]
        kinds = [_first_kind(int(logits[p].argmax()), model.special) for p in ex.out_positions]
        spoke_since_trigger = False
        for turn, (tag, kind) in enumerate(zip(ex.tags, kinds)):
            counts["turns"] += 1
            counts[f"{tag}_n"] += 1
            if tag in SILENT_TAGS:
                counts[f"{tag}_silent"] += kind == "silence"
                counts["false_speech"] += kind == "speech"
            if tag == "pending":
                spoke_since_trigger |= kind == "speech"
            if tag in ("speak_bug", "speak_tool"):
                counts[f"{tag}_hit"] += spoke_since_trigger or kind == "speech"
                counts[f"{tag}_exact"] += kind == "speech"
                if kind == "speech":  # are the first words the scripted ones?
                    text = _greedy_from(model, embeds[:, : ex.out_positions[turn] + 1], max_new=10)
                    counts[f"{tag}_words"] += text == ex.target_texts[turn]
            if tag not in ("pending",):
                spoke_since_trigger = False
            if tag == "stop":
                counts["stop_hit"] += kind == "stop"
            if tag == "call":
                counts["call_first"] += kind == "call"
                text = _greedy_from(model, embeds[:, : ex.out_positions[turn] + 1])
                want, _ = parse_output(ex.target_texts[turn])
                got, _ = parse_output(text)
                counts["call_exact"] += (got[0].kind == "call" and got[0].tool == want[0].tool
                                         and got[0].args == want[0].args)
    return summarize(counts)


def summarize(c: Counter) -> dict:
    def rate(hit: str, n: str) -> float | None:
        return round(c[hit] / c[n], 3) if c[n] else None

    quiet_n = c["quiet_n"] + c["playing_n"]
    return {
        "turns": c["turns"],
        "silence_accuracy_quiet": round((c["quiet_silent"] + c["playing_silent"]) / quiet_n, 4) if quiet_n else None,
        "silence_accuracy_listening": rate("listening_silent", "listening_n"),
        "silence_accuracy_harmless_event": rate("event_silent", "event_n"),
        "false_interjections_per_100_turns": round(100 * c["false_speech"] / max(1, c["turns"]), 2),
        "interjection_recall_bug": rate("speak_bug_hit", "speak_bug_n"),
        "interjection_recall_bug_on_time": rate("speak_bug_exact", "speak_bug_n"),
        "bug_remark_first_words_exact": rate("speak_bug_words", "speak_bug_n"),
        "speak_recall_tool_result": rate("speak_tool_hit", "speak_tool_n"),
        "tool_result_first_words_exact": rate("speak_tool_words", "speak_tool_n"),
        "stop_on_talk_over": rate("stop_hit", "stop_n"),
        "call_first_token": rate("call_first", "call_n"),
        "call_accuracy": rate("call_exact", "call_n"),
        "counts": {k: c[k] for k in ("speak_bug_n", "speak_tool_n", "stop_n", "call_n", "quiet_n",
                                     "playing_n", "listening_n", "event_n")},
        "interjection_window": f"from the triggering input to the scripted start ({INTERJECT_DELAY} ticks "
                               "after a buggy diff, or later if the user was speaking)",
    }


def write_report(directory: Path, metrics: dict, extra: dict | None = None) -> None:
    meta_path = directory / "training.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    meta["evaluation"] = metrics
    if extra:
        meta.update(extra)
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    from model_server.training.report import training_markdown
    (directory / "TRAINING.md").write_text(training_markdown(meta))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="directory with config.json, model.safetensors, ...")
    p.add_argument("--sessions", type=int, default=12)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--write", action="store_true", help="store the numbers in training.json and TRAINING.md")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = EmbeddedModel.load(args.model)
    metrics = evaluate(model, args.sessions)
    print(json.dumps(metrics, indent=2))
    if args.write:
        write_report(Path(args.model), metrics)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
