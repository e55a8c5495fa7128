"""The fine-tune's word-time loss: tokens get their words' frames, and it supervises the very
attention rows CTranslate2's `align` turns into the engine's word times."""

import numpy as np
import pytest
import torch

from companion.voice.tts import EspeakVoice
from model_server.training.asr.alignment import (
    alignment_loss,
    head_attention,
    said_count,
    token_frames,
)

RATE = 16000


@pytest.fixture(scope="module")
def whisper():
    from companion.voice.whisper_engine import weights_dir
    from model_server.training.asr.finetune import Whisper

    return Whisper(weights_dir())


def test_said_count_spells_identifiers_and_files_as_they_are_said():
    assert [said_count(w) for w in ("Run", "test_parse_args.", "parser.py?", "line", "42")] == [1, 3, 3, 1, 1]


def test_each_token_gets_its_written_words_frames(whisper):
    written = "Run test_parse_args in parser.py."
    said = [[0.5, 0.7], [0.7, 0.9], [0.9, 1.1], [1.1, 1.3], [1.3, 1.4], [1.4, 1.6], [1.6, 1.8], [1.8, 2.0]]
    tokens, frames = token_frames(whisper.tokenizer, written, said)
    assert tokens == whisper.tokenizer.encode(" " + written)
    pieces = [whisper.tokenizer.decode([t]) for t in tokens]
    by_piece = dict(zip(pieces, frames))
    assert by_piece[" Run"] == (25, 35)
    assert by_piece[" in"] == (65, 70)
    test_word = [f for p, f in zip(pieces, frames) if p in (" test", "_", "parse", "args")]
    assert test_word and set(test_word) == {(35, 65)}  # "test parse args": 0.7 .. 1.3 s
    assert frames[-1] == (70, 100)  # the final "." belongs to "parser.py."
    assert token_frames(whisper.tokenizer, written, said[:-1]) is None  # a spoken word unaccounted for
    assert token_frames(whisper.tokenizer, written, None) is None


def _median7(x):
    padded = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(3, 3)], mode="edge")
    return np.median(np.stack([padded[..., i:i + x.shape[-1]] for i in range(7)]), 0)


def _token_starts(cost):
    """Dynamic time warping through `cost` (tokens x frames); each token's first frame."""
    n, m = cost.shape
    total = np.full((n + 1, m + 1), np.inf)
    total[0, 0] = 0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            total[i, j] = cost[i - 1, j - 1] + min(total[i - 1, j - 1], total[i - 1, j], total[i, j - 1])
    i, j, path = n, m, []
    while i > 0 and j > 0:
        path.append((i - 1, j - 1))
        diagonal, up, left = total[i - 1, j - 1], total[i - 1, j], total[i, j - 1]
        if diagonal < up and diagonal < left:  # ties go left, as Whisper's reference DTW does
            i, j = i - 1, j - 1
        elif up < diagonal and up < left:
            i -= 1
        else:
            j -= 1
    starts = {}
    for t, f in reversed(path):
        starts.setdefault(t, f)
    return np.array([starts[t] for t in range(n)])


def test_the_supervised_rows_are_the_ones_ctranslate2_aligns(whisper):
    """Stock weights, float32: CTranslate2's token start frames match (± 1 frame) those from the loss's rows
    put through the same steps (re-normalized over the audio, standardized per head over tokens,
    median filter 7, mean over heads, DTW) — and not from the rows one position later."""
    import ctranslate2
    from faster_whisper import WhisperModel

    from companion.voice.whisper_engine import weights_dir

    ct2 = WhisperModel(str(weights_dir()), device="cpu", compute_type="float32", local_files_only=True)
    tok, model = whisper.tokenizer, whisper.model.eval()
    same = shifted = total = 0
    for text in ("run the tests for the parser module", "why does test parse args fail on empty input",
                 "commit with message fix the off by one"):
        synth = EspeakVoice(voice="en-gb-x-rp", rate=160).synthesize(text)
        x = np.concatenate([np.zeros(5000, np.float32), 0.5 * synth.samples, np.zeros(RATE, np.float32)])
        mel = whisper.features(x)[:, :1000]
        features = np.zeros((1, 80, 1000), np.float32)
        features[0, :, :mel.shape[1]] = mel
        content = mel.shape[1] // 2
        tokens = tok.encode(" " + text)
        aligned = ct2.model.align(ct2.model.encode(ctranslate2.StorageView.from_array(features)),
                                  tok.sot_sequence, [tokens], mel.shape[1], median_filter_width=7)[0]
        path = np.array(aligned.alignments)
        jumps = np.diff(path[:, 0], prepend=-1).astype(bool)
        expected = path[jumps, 1]
        with torch.no_grad():
            encoded = model.model.encoder(torch.from_numpy(features)).last_hidden_state
            attn = head_attention(model, encoded, [tokens], whisper.heads, whisper.align_start, tok.eot)[0].numpy()
        for offset, count in ((len(whisper.align_start) - 1, "same"), (len(whisper.align_start), "shifted")):
            rows = attn[:, offset:offset + len(tokens) + 1, :content]
            if rows.shape[1] < len(tokens) + 1:
                rows = np.concatenate([rows, rows[:, -1:]], 1)
            rows = rows / rows.sum(-1, keepdims=True)
            z = (rows - rows.mean(1, keepdims=True)) / rows.std(1, keepdims=True)
            got = _token_starts(-_median7(z).mean(0))
            exact = int(np.sum(np.abs(got - expected) <= 1))
            same, shifted = (same + exact, shifted) if count == "same" else (same, shifted + exact)
        total += len(expected)
    assert same == total, (same, total)  # every token within one frame (20 ms): float rounding
    assert shifted < 0.5 * total, (shifted, total)


def test_the_loss_is_lower_when_the_words_are_where_the_audio_says(whisper):
    text = "open the file and show me the error"
    synth = EspeakVoice(voice="en-gb-x-rp", rate=150).synthesize(text)
    x = np.concatenate([np.zeros(8000, np.float32), 0.5 * synth.samples, np.zeros(RATE, np.float32)])
    truth = [[0.5 + w.start / RATE, 0.5 + w.end / RATE] for w in synth.words]
    late = [[a + 0.8, b + 0.8] for a, b in truth]
    b = whisper.batch([(x, {"written": "Open the file and show me the error.", "prompt": ""})])
    with torch.no_grad():
        encoded = whisper.encode(b["input_features"])
        losses = [alignment_loss(whisper.model, encoded, [token_frames(whisper.tokenizer, "Open the file and show me the error.", w)],
                                 b["content"], whisper.heads, whisper.align_start, whisper.tokenizer.eot).item()
                  for w in (truth, late)]
    assert losses[0] < losses[1] - 0.5, losses
    assert alignment_loss(whisper.model, encoded, [None], b["content"], whisper.heads, whisper.align_start, 0) is None
