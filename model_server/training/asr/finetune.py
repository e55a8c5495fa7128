"""Fine-tune Whisper tiny.en on the clips: resumable, CPU, the shipped weights as the starting point.

The model is `transformers`' Whisper with the shipped CTranslate2 weights loaded into it
(`hf_mapping.to_hf`), at the product's windows: a batch is padded as the engine pads its longest
clip (`whisper_engine.window_frames`), with a minimum drawn per step from TRAIN_MINIMUMS, so the
weights hear as well in a short window as in a 10 s one (at most 1000 mel frames, 500 encoder
positions); the glossary prompt after `<|startofprev|>`, and the loss on the transcript only.
Token embeddings (tied to the output layer) and both position tables stay frozen; by default only
the acoustic layers train (ACOUSTIC). A checkpoint is written every `save_every` steps, with the
trained tensors alone beside it; `resume` continues from it. With `align_weight`, the loss also
keeps the alignment heads on the words espeak-ng timed (`alignment.py`), so word times stay right.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
from pathlib import Path

import numpy as np
import torch

from companion.voice.ct2_file import parse_model, read_model
from companion.voice.whisper_engine import MIN_FRAMES, window_frames
from model_server.training.asr.alignment import alignment_heads, alignment_loss, token_frames
from model_server.training.asr.clips import load_shard
from model_server.training.asr.hf_mapping import from_hf, to_hf

WINDOW_FRAMES = 1000  # the longest window trained: clips are at most 9.5 s
# The engine's shortest window, drawn per training step: stock Whisper (and a fine-tune trained
# only at 10 s) hears a 4-6 s window much worse than a 10 s one, and the encoder's cost grows with it.
TRAIN_MINIMUMS = (400, 500, 600, 800, 1000)
FROZEN = ("model.decoder.embed_tokens.weight", "model.decoder.embed_positions.weight",
          "model.encoder.embed_positions.weight", "proj_out.weight")
# "acoustic": only what hears trains — the encoder and the decoder's cross-attention; the decoder's
# language model (self-attention, feed-forward, norms) stays stock, so synthetic training text
# cannot shift what the recognizer expects people to say.
ACOUSTIC = ("model.encoder.", ".encoder_attn.", ".encoder_attn_layer_norm.")


class Whisper:
    """The trainable model with the engine's tokenizer and feature extractor."""

    def __init__(self, base_dir: Path, trains: str = "acoustic") -> None:
        from faster_whisper.feature_extractor import FeatureExtractor
        from faster_whisper.tokenizer import Tokenizer
        from tokenizers import Tokenizer as HfTokenizer
        from transformers import WhisperConfig, WhisperForConditionalGeneration

        config = WhisperConfig(
            vocab_size=51864, num_mel_bins=80, encoder_layers=4, decoder_layers=4,
            encoder_attention_heads=6, decoder_attention_heads=6, d_model=384, encoder_ffn_dim=1536,
            decoder_ffn_dim=1536, max_source_positions=WINDOW_FRAMES // 2, max_target_positions=448,
            pad_token_id=50256, bos_token_id=50257, eos_token_id=50256, decoder_start_token_id=50257,
            attn_implementation="eager")  # the alignment loss reads cross-attention weights
        self.model = WhisperForConditionalGeneration(config)
        state = to_hf(read_model(base_dir / "model.bin"), 4)
        state["model.encoder.embed_positions.weight"] = state["model.encoder.embed_positions.weight"][:WINDOW_FRAMES // 2]
        self.model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
        for name, p in self.model.named_parameters():
            p.requires_grad = name not in FROZEN and (trains == "all" or any(a in name for a in ACOUSTIC))
        self.tokenizer = Tokenizer(HfTokenizer.from_file(str(base_dir / "tokenizer.json")), multilingual=False)
        self.features = FeatureExtractor()
        self.heads = alignment_heads(base_dir)
        self.align_start = [*self.tokenizer.sot_sequence, self.tokenizer.no_timestamps]

    def encode(self, features: torch.Tensor) -> torch.Tensor:
        """The encoder over a window of any length up to WINDOW_FRAMES, as CTranslate2 runs it
        (transformers' own forward insists on its full position table)."""
        enc = self.model.model.encoder
        x = torch.nn.functional.gelu(enc.conv2(torch.nn.functional.gelu(enc.conv1(features)))).permute(0, 2, 1)
        x = x + enc.embed_positions.weight[:x.shape[1]]
        x = torch.nn.functional.dropout(x, p=enc.dropout, training=enc.training)
        for layer in enc.layers:
            x = layer(x, None)
            x = x[0] if isinstance(x, tuple) else x
        return enc.layer_norm(x)

    def loss(self, clips: list[tuple[np.ndarray, dict]], align_weight: float,
             minimum: int = MIN_FRAMES) -> tuple[torch.Tensor, float, float, int]:
        """Transcript loss plus `align_weight` × the alignment loss, in the window the engine
        would use with `minimum`; returns (total, words, align, transcript tokens)."""
        b = self.batch(clips, minimum)
        encoded = self.encode(b["input_features"])
        words = self.model(encoder_outputs=(encoded,), decoder_input_ids=b["decoder_input_ids"], labels=b["labels"]).loss
        align = None
        if align_weight > 0:
            items = [token_frames(self.tokenizer, meta["written"], meta.get("words")) for _, meta in clips]
            align = alignment_loss(self.model, encoded, items, b["content"], self.heads, self.align_start,
                                   self.tokenizer.eot)
        total = words if align is None else words + align_weight * align
        tokens = int((b["labels"] != -100).sum())
        return total, words.item(), float("nan") if align is None else align.item(), tokens

    def sequence(self, written: str, prompt: str) -> tuple[list[int], int]:
        """Decoder tokens as the engine builds them, plus where the transcript's first token is."""
        tok = self.tokenizer
        head = [tok.sot_prev, *tok.encode(" " + prompt)[-120:]] if prompt else []
        head += [*tok.sot_sequence, tok.no_timestamps]
        return head + tok.encode(" " + written) + [tok.eot], len(head)

    def batch(self, clips: list[tuple[np.ndarray, dict]], minimum: int = MIN_FRAMES) -> dict[str, torch.Tensor]:
        features = [self.features(audio)[:, :WINDOW_FRAMES] for audio, _ in clips]
        width = min(WINDOW_FRAMES, window_frames(max(m.shape[1] for m in features), minimum))
        mels = np.zeros((len(clips), 80, width), np.float32)
        seqs, content = [], []
        for i, (mel, (_, meta)) in enumerate(zip(features, clips, strict=True)):
            mels[i, :, :mel.shape[1]] = mel  # width >= every clip's frames (window_frames pads past)
            content.append(mel.shape[1] // 2)  # encoder positions holding audio, as the engine's align counts
            seqs.append(self.sequence(meta["written"], meta["prompt"]))
        width = max(len(s) for s, _ in seqs) - 1
        inputs = torch.full((len(clips), width), self.tokenizer.eot)
        labels = torch.full((len(clips), width), -100)
        for i, (seq, start) in enumerate(seqs):
            inputs[i, :len(seq) - 1] = torch.tensor(seq[:-1])
            labels[i, start - 1:len(seq) - 1] = torch.tensor(seq[start:])
        return {"input_features": torch.from_numpy(mels), "decoder_input_ids": inputs, "labels": labels,
                "content": content}

    def trained_state(self) -> dict[str, torch.Tensor]:
        trained = {n for n, p in self.model.named_parameters() if p.requires_grad}
        return {k: v for k, v in self.model.state_dict().items() if k in trained}


def _clips(data: Path, shards: list[int]) -> list[tuple[np.ndarray, dict]]:
    out = []
    for k in shards:
        out += load_shard(data / f"clips_{k:04d}.npz")
    return out


def train(base_dir: Path, data: Path, out: Path, *, shards: list[int], dev_shard: int, steps: int,
          batch: int = 8, lr: float = 3e-5, warmup: int = 50, save_every: int = 100, resume: bool = False,
          threads: int = 2, trains: str = "acoustic", align_weight: float = 0.0,
          init: Path | None = None) -> Path:
    """Run (or continue) fine-tuning; returns the checkpoint path. `init`: start from an earlier
    run's trained tensors (a weights_stepNNNNN.pt) instead of the stock weights."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    whisper = Whisper(base_dir, trains)
    model = whisper.model
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, 0.5 * (1 + math.cos(math.pi * min(1.0, s / steps)))))
    ckpt, step = out / "asr_ckpt.pt", 0
    out.mkdir(parents=True, exist_ok=True)
    if resume and ckpt.exists():
        saved = torch.load(ckpt, weights_only=False)
        model.load_state_dict(saved["model"], strict=False)
        opt.load_state_dict(saved["opt"])
        sched.load_state_dict(saved["sched"])
        step = saved["step"]
    elif init is not None:
        model.load_state_dict(torch.load(init, weights_only=False)["model"], strict=False)
    clips, dev = _clips(data, shards), _clips(data, [dev_shard])[:96]
    log = (out / "train.log").open("a")
    if step == 0:
        _log_dev(log, 0, *evaluate(whisper, dev, batch))
    per_pass, t0, pass_no, perm = max(1, len(clips) // batch), time.time(), -1, []
    while step < steps:
        if step // per_pass != pass_no:  # one order per pass, from the pass number: resumable
            pass_no, perm = step // per_pass, list(range(len(clips)))
            random.Random(f"pass-{pass_no}").shuffle(perm)
        i = (step % per_pass) * batch
        model.train()
        minimum = random.Random(f"window-{step}").choice(TRAIN_MINIMUMS)
        loss, words, align, _ = whisper.loss([clips[j] for j in perm[i:i + batch]], align_weight, minimum)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        if step % 10 == 0:
            log.write(json.dumps({"step": step, "loss": round(words, 4), "align": round(align, 4),
                                  "lr": sched.get_last_lr()[0], "s": round(time.time() - t0, 1)}) + "\n")
            log.flush()
        if step % save_every == 0 or step == steps:
            _log_dev(log, step, *evaluate(whisper, dev, batch))
            torch.save({"model": whisper.trained_state(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                        "step": step}, out / "asr_ckpt.tmp")
            (out / "asr_ckpt.tmp").rename(ckpt)
            torch.save({"model": whisper.trained_state(), "step": step}, out / f"weights_step{step:05d}.pt")
    return ckpt


def _log_dev(log, step: int, dev_loss: float, dev_align: float) -> None:
    log.write(json.dumps({"step": step, "dev_loss": round(dev_loss, 4), "dev_align": round(dev_align, 4)}) + "\n")
    log.flush()


@torch.no_grad()
def evaluate(whisper: Whisper, clips: list[tuple[np.ndarray, dict]], batch: int) -> tuple[float, float]:
    """Dev transcript loss (per token) and alignment loss (per batch with word times)."""
    whisper.model.eval()
    total = n = 0.0
    aligns = []
    for i in range(0, len(clips), batch):
        _, words, align, tokens = whisper.loss(clips[i:i + batch], 1.0)
        total += words * tokens
        n += tokens
        if not math.isnan(align):
            aligns.append(align)
    return total / max(1.0, n), float(np.mean(aligns)) if aligns else float("nan")


def export(ckpt: Path, base_dir: Path, out_file: Path, version: str) -> dict[str, int]:
    """Write the tensors training changed (float16, CTranslate2 names) and the base's sha256 to
    `out_file`. A checkpoint holds only trained tensors; the rest come from the base unchanged."""
    from safetensors.numpy import save_file

    base_bytes = (base_dir / "model.bin").read_bytes()
    base = parse_model(base_bytes)
    state = to_hf(base, 4)
    saved = torch.load(ckpt, weights_only=False)
    state.update({k: v.float().numpy() for k, v in saved["model"].items()})
    tensors = {k: v.astype(np.float16) for k, v in from_hf(state, 4).items()
               if not np.array_equal(v.astype(np.float16), base.variables[k])}
    for k, v in tensors.items():
        if base.variables[k].shape != v.shape:
            raise ValueError(f"{k}: trained shape {v.shape} != base {base.variables[k].shape}")
    out_file.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out_file), metadata={
        "base_sha256": hashlib.sha256(base_bytes).hexdigest(), "version": version, "step": str(saved["step"])})
    return {"tensors": len(tensors), "parameters": int(sum(v.size for v in tensors.values()))}
