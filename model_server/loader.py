"""Load a HF-format decoder LM: safetensors + config.json (+ tokenizer.json) from a local
directory, the Hugging Face hub cache, or (online, huggingface_hub installed) a download."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open

from model_server.feature_embeds import load_frontend
from model_server.models.config import ModelConfig
from model_server.models.decoder import DecoderWeights, build_weights

DTYPES = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16,
          "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16}
DOWNLOAD_PATTERNS = ["*.json", "*.safetensors", "tokenizer*", "*.txt"]


class ModelNotFound(Exception):
    """No usable weights for the requested model; the message says what to fetch and where."""


@dataclass(frozen=True, slots=True)
class LoadedModel:
    config: ModelConfig
    weights: DecoderWeights
    tokenizer: object | None  # tokenizers.Tokenizer
    dtype: torch.dtype
    device: torch.device
    path: Path
    frontend: tuple | None = None  # (InteractionFrontend, placeholder ids) for feature models

    def encode(self, text: str) -> list[int]:
        if self.tokenizer is None:
            raise ValueError(f"model at {self.path} has no tokenizer.json; send input_ids")
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    @property
    def decode(self):
        """decode(ids, skip_special_tokens) -> str, or None without a tokenizer."""
        if self.tokenizer is None:
            return None
        return lambda ids, skip: self.tokenizer.decode(ids, skip_special_tokens=skip)


def hub_cache_dir() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface"
    return Path(home) / "hub"


def cached_snapshot(repo_id: str, cache: Path) -> Path | None:
    """The hub cache's snapshot dir for repo_id (refs/main, else the newest), if it has a config."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    ref = repo / "refs" / "main"
    candidates = []
    if ref.is_file():
        candidates.append(repo / "snapshots" / ref.read_text().strip())
    if (repo / "snapshots").is_dir():
        candidates += sorted((repo / "snapshots").iterdir(), key=lambda p: p.stat().st_mtime,
                             reverse=True)
    return next((c for c in candidates if (c / "config.json").is_file()), None)


EMBEDDED_DIR = Path(__file__).resolve().parent / "weights" / "embedded"


def resolve_model_dir(model: str) -> Path:
    """'embedded' (the shipped model), a local dir, else the hub cache, else a download."""
    if model == "embedded":
        if not (EMBEDDED_DIR / "config.json").is_file():
            raise ModelNotFound(f"the embedded model is missing from {EMBEDDED_DIR}: reinstall "
                                "companion, or train it: python -m model_server.training.train")
        return EMBEDDED_DIR
    local = Path(model).expanduser()
    if local.is_dir():
        if not (local / "config.json").is_file():
            raise ModelNotFound(f"{local} has no config.json: expected a Hugging Face model "
                                "directory (config.json, *.safetensors, tokenizer.json)")
        return local
    cache = hub_cache_dir()
    snap = cached_snapshot(model, cache)
    if snap is not None:
        return snap
    offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false")
    where = (f"download it with `huggingface-cli download {model}` (it lands in {cache}), or "
             f"put config.json, *.safetensors and tokenizer.json in a directory and pass "
             f"--model <that directory>")
    if offline:
        raise ModelNotFound(f"model {model!r} is not in the Hugging Face cache {cache} and "
                            f"HF_HUB_OFFLINE is set: {where}")
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise ModelNotFound(f"model {model!r} is not a directory nor in {cache}, and "
                            f"huggingface_hub is not installed to fetch it: {where}") from None
    try:  # snapshot_download shows a tqdm progress bar per file
        return Path(snapshot_download(model, allow_patterns=DOWNLOAD_PATTERNS))
    except Exception as e:  # network down, unknown repo, auth: all end the same way for the user
        raise ModelNotFound(f"could not download {model!r} ({type(e).__name__}: {e}); "
                            f"{where}") from e


def read_tensors(model_dir: Path, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    # HF names shards model*.safetensors; other safetensors beside them (our interaction model's
    # frontend.safetensors) belong to other modules
    files = sorted(model_dir.glob("model*.safetensors")) or sorted(
        f for f in model_dir.glob("*.safetensors") if f.name != "frontend.safetensors")
    if not files:
        raise ModelNotFound(f"{model_dir} has no *.safetensors weights")
    tensors = {}
    for f in files:
        with safe_open(str(f), framework="pt") as st:
            for name in st.keys():  # noqa: SIM118 (safe_open is not iterable)
                tensors[name] = st.get_tensor(name).to(dtype)
    return tensors


def load_model(model: str, device: str = "cpu", dtype: str | None = None) -> LoadedModel:
    """Load config, weights and tokenizer; dtype defaults to the checkpoint's (else float32)."""
    model_dir = resolve_model_dir(model)
    hf = json.loads((model_dir / "config.json").read_text())
    cfg = ModelConfig.from_hf(hf)
    name = dtype or hf.get("dtype") or hf.get("torch_dtype") or "float32"
    if name not in DTYPES:
        raise ValueError(f"unsupported dtype {name!r}; choose one of {sorted(DTYPES)}")
    torch_dtype = DTYPES[name]
    if torch.device(device).type == "cpu" and torch_dtype == torch.float16:
        torch_dtype = torch.float32  # fp16 GEMMs are slow or missing on CPU
    tensors = {k: v.to(device) for k, v in read_tensors(model_dir, torch_dtype).items()}
    weights = build_weights(cfg, tensors)
    tokenizer = None
    if (model_dir / "tokenizer.json").is_file():
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))

    frontend = load_frontend(model_dir, tokenizer, torch_dtype, torch.device(device))
    return LoadedModel(cfg, weights, tokenizer, torch_dtype, torch.device(device), model_dir,
                       frontend)
