"""Scoring for the hearing benchmark: spoken-form normalization, word errors, exact commands.

Recognizers write "parser.py", "10" and "test_parse_header" where the reference says "parser dot
py", "ten" and "test parse header". Both sides are brought to the spoken form before counting,
so a recognizer is not charged for writing code the way code is written.
"""

from __future__ import annotations

import re

from benchmarks.voice_loopback import word_errors  # one Levenshtein for both voice benchmarks

_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
         "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
         "eighteen", "nineteen"]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def number_words(n: int) -> str:
    """0..9999 in words ("forty two"); larger numbers digit by digit."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        rest = n % 100
        return _ONES[n // 100] + " hundred" + ("" if rest == 0 else " " + number_words(rest))
    if n < 10000:
        rest = n % 1000
        return number_words(n // 1000) + " thousand" + ("" if rest == 0 else " " + number_words(rest))
    return " ".join(_ONES[int(d)] for d in str(n))


def spoken_form(text: str) -> list[str]:
    """Lower-case words as a person would say them."""
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)  # camelCase
    text = text.lower()
    text = re.sub(r"(?<=[a-z0-9])\.(?=[a-z0-9])", " dot ", text)  # parser.py
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)  # 1,000
    text = re.sub(r"\d+", lambda m: f" {number_words(int(m.group()))} ", text)
    text = re.sub(r"[_\-/]", " ", text)
    text = re.sub(r"[^a-z' ]", " ", text)
    return [w.strip("'") for w in text.split() if w.strip("'")]


class Score:
    """Accumulates WER and exact-command counts over (reference, hypothesis) pairs."""

    def __init__(self) -> None:
        self.errors = self.words = self.exact = self.phrases = 0
        self.misses: list[tuple[str, str]] = []

    def add(self, reference: str, hypothesis: str) -> None:
        ref, hyp = spoken_form(reference), spoken_form(hypothesis)
        errors = word_errors(ref, hyp)
        self.errors += errors
        self.words += len(ref)
        self.phrases += 1
        self.exact += errors == 0
        if errors:
            self.misses.append((reference, hypothesis))

    @property
    def wer(self) -> float:
        return self.errors / max(1, self.words)

    @property
    def exact_rate(self) -> float:
        return self.exact / max(1, self.phrases)
