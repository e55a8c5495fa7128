"""Benchmark: what the new default gates change for today's protocol-1 weights, live.

Runs `companion --headless` on the embedded model twice over the same scripted minute, once with
the new defaults (quiet hours, snooze, cooldown) and once with the old turn-taking harness
switched back on (`never_while_user_speaks = true`, `max_per_10min = 6`): a held-out espeak
voice talks through `--mic-file` while a bug is planted in the sample project (on-save tests
fail). Prints, per run, the model's speech turns, the utterances it started, how many the
gates held, and the speech turns that fell within 0.8 s of a recognized word.

    python -m benchmarks.bench_v1_gates [--seconds 60]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

from benchmarks.sample_project import make_sample_project, plant_bug
from companion.voice.tts import EspeakVoice

VOICE = "en-us+f4"  # held out from training (benchmarks/heldout.py)
LINES = ["okay so I am going to look at the header parser now",
         "hmm let me think about this for a second",
         "can you run the tests please",
         "I think the loop bound is wrong somewhere in here",
         "what did the last test run say",
         "alright I will fix it after lunch"]
OLD_HARNESS = "[gates]\nnever_while_user_speaks = true\nmax_per_10min = 6\n"


def speech_wav(path: Path, seconds: float) -> None:
    """The lines spoken in turn with pauses between them, padded with silence to `seconds`."""
    voice = EspeakVoice(VOICE)
    parts, rate = [], None
    for line in LINES:
        syn = voice.synthesize(line)
        rate = syn.sample_rate
        parts += [np.asarray(syn.samples, dtype=np.float32), np.zeros(int(rate * 4.0), np.float32)]
    audio = np.concatenate(parts)[: int(rate * seconds)]
    audio = np.pad(audio, (0, max(0, int(rate * seconds) - len(audio))))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(audio, -1, 1) * 32767).astype(np.int16).tobytes())


def run(repo: Path, wav: Path, seconds: float, rules: str) -> list[dict]:
    (repo / ".companion.toml").write_text(rules)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, "-m", "companion", "--headless", "--repo", str(repo),
                             "--mic-file", str(wav), "--no-screen", "--no-voice"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    time.sleep(seconds * 0.3)
    plant_bug(repo)  # on-save tests fail while the voice keeps talking
    time.sleep(seconds * 0.7 + 10)  # model start-up included
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def summarize(lines: list[dict]) -> dict:
    heard = [ln["t"] for ln in lines if ln["type"] == "heard"]
    actions = [ln for ln in lines if ln["type"] == "model"]
    speech = [a for a in actions if a["action"] == "speech"]
    starts = [b for a, b in zip([None, *actions], actions)
              if b["action"] == "speech" and (a is None or a["action"] != "speech")]
    held = [ln for ln in lines if ln["type"] == "state" and "interjection held" in ln["reason"]]
    near = [s for s in speech if any(0 <= s["t"] - h < 0.8 for h in heard)]
    return {"turns": sum(ln["type"] == "turn" for ln in lines), "speech_turns": len(speech),
            "utterances": len(starts), "held": len(held), "heard_finals": len(heard),
            "speech_within_0.8s_of_words": len(near),
            "failing_jobs": sum(ln["type"] == "job" and ln["phase"] == "result" for ln in lines)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "voice.wav"
        speech_wav(wav, args.seconds)
        results = {}
        for name, rules in (("new defaults", ""), ("old harness", OLD_HARNESS)):
            repo = make_sample_project(Path(tmp) / name.replace(" ", "_"))
            results[name] = summarize(run(repo, wav, args.seconds, rules))
    print(f"embedded protocol-1 model, {args.seconds:.0f} s, voice espeak-ng {VOICE}")
    keys = list(next(iter(results.values())))
    print(f"{'':28s}" + "".join(f"{k:>14s}" for k in results))
    for k in keys:
        print(f"{k:28s}" + "".join(f"{r[k]:>14}" for r in results.values()))


if __name__ == "__main__":
    main()
