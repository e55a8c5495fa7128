"""Voice benchmark on real devices (run inside the headless environment): `python -m benchmarks.voice_loopback`.

The PulseAudio null sink's monitor is the default input, so everything the Speaker plays is
recorded back by AudioIn, like laptop speakers into a laptop mic. LoopbackRig wires the parts the
way the runtime does (Speaker reference -> EchoCanceller <- AudioIn) and keeps both the raw and the
echo-cancelled mic blocks; the functional tests use it too.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import tempfile
import threading
import time
import wave
from pathlib import Path

import numpy as np

from companion.core.events import AudioBlock, Event, SelfSpeech, UserWords
from companion.streams.audio import AudioIn
from companion.streams.dmel import DMelStream
from companion.voice.asr import SpeechRecognizer
from companion.voice.echo import EchoCanceller
from companion.voice.speaker import Speaker
from companion.voice.tts import EspeakVoice

AUDIBLE = 10 ** (-45 / 20)  # 5 ms RMS envelope above -45 dBFS counts as sound
ENV = 80  # samples per envelope step (5 ms)


class _Tap:
    """AudioIn's echo filter: keeps the raw block, returns the cancelled one (both for measuring)."""

    def __init__(self, canceller: EchoCanceller) -> None:
        self.canceller, self.raw, self.cpu = canceller, [], 0.0

    def process(self, t: float, samples: np.ndarray) -> np.ndarray:
        self.raw.append((t, samples.copy()))
        start = time.thread_time()
        clean = self.canceller.process(t, samples)
        self.cpu += time.thread_time() - start
        return clean


class InputStalled(RuntimeError):
    """AudioIn delivered less audio than the time that passed (PulseAudio stalls under load)."""


class UserVoice:
    """"The user" talking into the same sink through `paplay` (its own PulseAudio client, so not
    part of the Speaker's reference), with an espeak-ng voice unlike the companion's."""

    def __init__(self, workdir: Path) -> None:
        self._dir = workdir
        self._procs: list[subprocess.Popen] = []

    def say(self, text: str) -> float:
        """Start playing `text`; returns its duration in seconds."""
        path = self._dir / f"user{len(self._procs)}.wav"
        subprocess.run(["espeak-ng", "-v", "en-us+m3", "-s", "150", "-a", "80", "-w", str(path), text],
                       check=True)
        with wave.open(str(path)) as w:
            seconds = w.getnframes() / w.getframerate()
        self._procs.append(subprocess.Popen(["paplay", str(path)]))
        return seconds

    def close(self) -> None:
        for proc in self._procs:
            proc.wait(timeout=10)


class LoopbackRig:
    """AudioIn + Speaker on the default devices, recording blocks and events with their times."""

    def __init__(self, voice: EspeakVoice | None = None) -> None:
        self.events: list[Event] = []
        self.blocks: list[AudioBlock] = []
        self._lock = threading.Lock()
        self.canceller = EchoCanceller()
        self.tap = _Tap(self.canceller)
        self.audio = AudioIn(self._sink, echo=self.tap)
        self.speaker = Speaker(self._sink, voice=voice, reference=self.canceller.add_reference)
        self._tmp = tempfile.TemporaryDirectory(prefix="companion-bench-")
        self.user = UserVoice(Path(self._tmp.name))

    def _sink(self, event: Event) -> None:
        with self._lock:
            (self.blocks if isinstance(event, AudioBlock) else self.events).append(event)

    def start(self, settle: float = 2.5) -> None:
        """Open both streams and wait out PulseAudio's start-up stall (about 1.5 s)."""
        self.audio.start()
        self.speaker.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            time.sleep(0.2)
            with self._lock:
                recent = [b.t for b in self.blocks[-5:]]
            if len(recent) == 5 and time.monotonic() - recent[-1] < 0.5 and recent[0] > time.monotonic() - 1.6:
                break
        time.sleep(settle)

    def close(self) -> None:
        self.user.close()
        self.speaker.close()
        self.audio.stop()
        self._tmp.cleanup()

    def blocks_between(self, start: float, end: float, cancelled: bool) -> list[tuple[float, np.ndarray]]:
        with self._lock:
            pairs = [(b.t, b.samples) for b in self.blocks] if cancelled else list(self.tap.raw)
        return [(t, x) for t, x in pairs if start - 0.2 < t < end]

    def self_speech(self, since: float) -> list[SelfSpeech]:
        with self._lock:
            return [e for e in self.events if isinstance(e, SelfSpeech) and e.t_end >= since]

    def recording(self, start: float, end: float, cancelled: bool = False) -> tuple[np.ndarray, float]:
        """Mic samples from the blocks overlapping [start, end]: (samples, time of the first)."""
        with self._lock:
            pairs = [(b.t, b.samples) for b in self.blocks] if cancelled else list(self.tap.raw)
        pairs = [(t, x) for t, x in pairs if t + 0.2 > start and t < end]
        if not pairs:
            raise InputStalled(f"no audio recorded between {start:.2f} and {end:.2f}")
        gaps = [b[0] - a[0] for a, b in itertools.pairwise(pairs) if b[0] - a[0] > 0.25]
        if gaps or pairs[0][0] > start + 0.2 or pairs[-1][0] < end - 0.6:
            raise InputStalled(f"the input device stalled: {len(pairs) * 0.2:.1f} s of audio for "
                               f"{end - start:.1f} s, gaps {[round(g, 2) for g in gaps]}")
        return np.concatenate([x for _, x in pairs]), pairs[0][0]

    def speak_and_wait(self, text: str, stop_after: float | None = None,
                       tail: float = 0.8) -> tuple[float, float | None, float]:
        """Say `text`; stop after `stop_after` s if given; returns (t_say, t_stop, t_done)."""
        t_say = time.monotonic()
        self.speaker.say(text)
        t_stop = None
        if stop_after is not None:
            time.sleep(stop_after)
            t_stop = time.monotonic()
            self.speaker.stop()
        else:
            time.sleep(0.5)
            while self.speaker.speaking:
                time.sleep(0.05)
        time.sleep(tail)
        return t_say, t_stop, time.monotonic()


def envelope(x: np.ndarray) -> np.ndarray:
    n = len(x) // ENV
    return np.sqrt(np.mean(np.square(x[:n * ENV].reshape(n, ENV)), axis=1))


def sound_times(x: np.ndarray, t0: float) -> np.ndarray:
    """Times (start of each 5 ms step) at which the recording is audible."""
    env = envelope(x)
    return t0 + np.flatnonzero(env > AUDIBLE) * ENV / 16000


def recognize(blocks: list[tuple[float, np.ndarray]]) -> tuple[list[UserWords], float]:
    """Run the recognizer over (t, samples) blocks: its words and its CPU ms per block."""
    words: list = []
    asr = SpeechRecognizer(words.append)
    cpu = 0.0
    for t, x in blocks:
        start = time.thread_time()
        asr.feed(AudioBlock(t, x, 0.0, np.zeros((16, 80), np.uint8)))
        cpu += time.thread_time() - start
    asr.flush()
    return [w for w in words if isinstance(w, UserWords)], 1000 * cpu / max(1, len(blocks))


def erle_db(raw: np.ndarray, cancelled: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(raw.astype(np.float64) ** 2) /
                               max(np.sum(cancelled.astype(np.float64) ** 2), 1e-20)))


def _dmel_cost_ms(blocks: int = 200) -> float:
    x = np.random.default_rng(0).standard_normal(3200).astype(np.float32) * 0.1
    stream = DMelStream()
    start = time.thread_time()
    for _ in range(blocks):
        stream.push(x)
    return 1000 * (time.thread_time() - start) / blocks


def main(argv: list[str] | None = None) -> int:
    rig = LoopbackRig()
    rig.start()
    try:
        report = run_benchmark(rig)
    finally:
        rig.close()
    for key, value in report.items():
        print(f"{key:58s} {value}")
    return 0


SENTENCE = ("I looked at the failing test. The header parser reads one byte past the end "
            "of the buffer, so the last field is garbage. I will run the suite again.")
COMMAND = "one two three four five"


def run_benchmark(rig: LoopbackRig) -> dict[str, str]:
    """Record every scenario first, then analyse: the recognizer's CPU load would otherwise starve
    the audio callbacks (GIL) while the devices are still running."""
    own = rig.speak_and_wait(SENTENCE)
    talk = double_talk(rig)
    cut = rig.speak_and_wait(SENTENCE, stop_after=1.2)
    out: dict[str, str] = {}
    out.update(own_speech(rig, *own))
    out.update(talk())
    for voice in ("en-us", "en-us+m3"):
        accuracy, finals = asr_accuracy(voice)
        out[f"ASR word accuracy, {len(PHRASES)} phrases, espeak-ng {voice}"] = (
            f"{100 * accuracy:.0f}%  {finals}")
    out["dMel CPU per 200 ms block (ms)"] = f"{_dmel_cost_ms():.2f}"
    out["AEC CPU per 200 ms block (ms)"] = f"{1000 * rig.tap.cpu / max(1, len(rig.tap.raw)):.1f}"
    t_say, t_stop, t_done = cut
    raw, t0 = rig.recording(t_say, t_done)
    out["stop latency, stop() to last audio in the recording (ms)"] = (
        f"{1000 * (sound_times(raw, t0)[-1] - t_stop):.0f}")
    last = [e for e in rig.self_speech(t_say) if e.interrupted]
    if last:
        out["stop: last played words / unspoken"] = f"{last[-1].text!r} / {last[-1].unspoken[:40]!r}"
    out["output underflows during the run"] = str(rig.speaker.underflows)
    return out


def own_speech(rig: LoopbackRig, t_say: float, _stop: float | None, t_done: float) -> dict[str, str]:
    out = {}
    raw, t0 = rig.recording(t_say, t_done)
    clean, _ = rig.recording(t_say, t_done, cancelled=True)
    out["TTS latency, say() to first audio in the recording (ms)"] = (
        f"{1000 * (sound_times(raw, t0)[0] - t_say):.0f}")
    words = rig.self_speech(t_say)
    out["TTS latency, say() to first word at the DAC (ms)"] = f"{1000 * (words[0].t - t_say):.0f}"
    half = len(raw) // 2
    out["ERLE on own speech, whole first utterance (dB)"] = f"{erle_db(raw, clean):.1f}"
    out["ERLE on own speech, its second half (dB)"] = f"{erle_db(raw[half:], clean[half:]):.1f}"
    false_raw, asr_ms = recognize(rig.blocks_between(t_say, t_done, cancelled=False))
    false_clean, _ = recognize(rig.blocks_between(t_say, t_done, cancelled=True))
    count = lambda ws: len(" ".join(w.text for w in ws if w.final).split())
    out["false user words during self-speech, no AEC (baseline)"] = (
        f"{count(false_raw)}  {[w.text for w in false_raw if w.final]}")
    out["false user words during self-speech, with AEC"] = (
        f"{count(false_clean)}  {[w.text for w in false_clean if w.final]}")
    out["ASR CPU per 200 ms block (ms)"] = f"{asr_ms:.1f}"
    return out


PHRASES = ["open the file", "run the tests", "stop talking please", "what time is it",
           "show me the git diff", "one two three four five", "i think that is a good idea",
           "hello world", "please stop", "read the error message"]


def word_errors(ref: list[str], hyp: list[str]) -> int:
    """Levenshtein distance between two word lists."""
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def asr_accuracy(voice: str) -> tuple[float, list[str]]:
    """Word accuracy (1 - WER) of the streaming recognizer on PHRASES spoken by an espeak-ng
    voice, each after a 0.6 s pause, after one warm-up phrase (cepstral-mean adaptation)."""
    tts = EspeakVoice(voice=voice, rate=150)
    gap = np.zeros(9600, np.float32)
    parts = [gap, 0.3 * tts.synthesize("this is a warm up sentence").samples]
    for phrase in PHRASES:
        parts += [gap, 0.3 * tts.synthesize(phrase).samples]
    x = np.concatenate(parts + [np.zeros(16000, np.float32)])
    x = np.concatenate([x, np.zeros(-len(x) % 3200, np.float32)])
    words, _ = recognize([(i / 16000, x[i:i + 3200]) for i in range(0, len(x), 3200)])
    finals = [w.text for w in words if w.final][1:]
    ref = " ".join(PHRASES).split()
    errors = word_errors(ref, " ".join(finals).split())
    return 1.0 - errors / len(ref), finals


def double_talk(rig: LoopbackRig):
    """The user says a command alone (the recognizer adapts), then again over the companion.
    Records now; returns the analysis to run later."""
    start = time.monotonic()
    time.sleep(rig.user.say(COMMAND) + 1.0)
    mid = time.monotonic()
    rig.speaker.say(SENTENCE)
    time.sleep(1.0)
    time.sleep(rig.user.say(COMMAND) + 0.5)
    rig.speaker.stop()
    time.sleep(0.8)
    end = time.monotonic()

    def analyse() -> dict[str, str]:
        result = {}
        for label, cancelled in (("no AEC", False), ("with AEC", True)):
            words, _ = recognize(rig.blocks_between(start, end, cancelled))
            alone = [w.text for w in words if w.final and w.t < mid]
            over = [w.text for w in words if w.final and w.t >= mid]
            result[f"user command alone / over own speech, {label}"] = f"{alone} / {over}"
        return result

    return analyse


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
