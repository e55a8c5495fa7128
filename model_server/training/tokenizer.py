"""The interaction model's tokenizer: a byte-level BPE trained on generated sessions.

The protocol's special tokens take the first ids, in `SPECIAL_TOKENS` order, so `<|t|>` is id 1
for every model trained here. Saved as tokenizer.json (the `tokenizers` format) with a
tokenizer_config.json so `transformers.AutoTokenizer` loads it too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from companion.core.protocol import SPECIAL_TOKENS


def train_tokenizer(texts: Iterable[str], vocab_size: int = 4096,
                    special: tuple[str, ...] = SPECIAL_TOKENS) -> Tokenizer:
    """Train a byte-level BPE on `texts`; special tokens get ids 0..len(special)-1."""
    if vocab_size < 256 + len(special):
        raise ValueError(f"vocab_size {vocab_size} is below the 256 bytes + "
                         f"{len(special)} special tokens a byte-level BPE needs")
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(special),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  min_frequency=2, show_progress=False)
    tokenizer.train_from_iterator(texts, trainer)
    check_special_ids(tokenizer, special)
    return tokenizer


def check_special_ids(tokenizer: Tokenizer, special: tuple[str, ...] = SPECIAL_TOKENS) -> None:
    """Raise if a special token is missing or not at its fixed id."""
    for expected, token in enumerate(special):
        got = tokenizer.token_to_id(token)
        if got != expected:
            raise ValueError(f"special token {token} has id {got}, expected {expected}")


def special_ids(tokenizer: Tokenizer, special: tuple[str, ...] = SPECIAL_TOKENS) -> dict[str, int]:
    return {token: tokenizer.token_to_id(token) for token in special}


def save_tokenizer(tokenizer: Tokenizer, directory: Path, max_length: int,
                   special: tuple[str, ...] = SPECIAL_TOKENS) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(directory / "tokenizer.json"))
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": max_length,
        "eos_token": "<|end|>",
        "additional_special_tokens": list(special),
        "clean_up_tokenization_spaces": False,
    }
    (directory / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")


def load_tokenizer(directory: Path, special: tuple[str, ...] = SPECIAL_TOKENS) -> Tokenizer:
    path = Path(directory) / "tokenizer.json"
    if not path.is_file():
        raise FileNotFoundError(f"no tokenizer.json in {directory}")
    tokenizer = Tokenizer.from_file(str(path))
    check_special_ids(tokenizer, special)
    return tokenizer
