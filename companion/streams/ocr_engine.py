"""TesseractOCR: screen pixels to lines of text with confidence, through tesserocr (in-process).

Chosen over rapidocr by measurement (benchmarks/screen_reading, docs/benchmarks.md): on terminal
and editor text it is more accurate (keeps spaces and ASCII punctuation) at a fraction of the CPU.
Tesseract's LSTM model is trained on dark text on light paper at print resolution, so a region is
turned grey, inverted when its background is dark, and upscaled before recognition.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Debian's tesseract-ocr-eng (scripts/setup.sh); TESSDATA_PREFIX wins when set.
_TESSDATA_DIRS = ("/usr/share/tesseract-ocr/5/tessdata", "/usr/share/tesseract-ocr/4.00/tessdata",
                  "/usr/share/tessdata", "/usr/local/share/tessdata")


_PAD = 6  # white pixels around each strip
_INK = 160  # below this (after `prepare`) a pixel is text


class OCRUnavailable(RuntimeError):
    """No OCR engine or no English model: screen reading reports itself unavailable."""


@dataclass(frozen=True, slots=True)
class OcrLine:
    text: str  # leading spaces rebuilt from the word positions, so indentation survives
    confidence: float  # 0..1, mean of the words
    y: int  # top of the line in the region's pixels


@dataclass(frozen=True, slots=True)
class OcrText:
    lines: tuple[OcrLine, ...]

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    @property
    def confidence(self) -> float:
        return float(np.mean([ln.confidence for ln in self.lines])) if self.lines else 0.0


def find_tessdata() -> str:
    candidates = [os.environ.get("TESSDATA_PREFIX", ""), *_TESSDATA_DIRS]
    for folder in candidates:
        if folder and (Path(folder) / "eng.traineddata").is_file():
            return folder
    raise OCRUnavailable("no Tesseract English model (eng.traineddata): install the Debian package "
                         "tesseract-ocr-eng (scripts/setup.sh) or set TESSDATA_PREFIX")


def prepare(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> dark-on-light grey."""
    if rgb.ndim != 3 or rgb.shape[2] < 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected (H, W, 3) uint8 RGB pixels, got {rgb.shape} {rgb.dtype}")
    wide = rgb[..., :3].astype(np.uint16)
    grey = ((wide[..., 0] * 77 + wide[..., 1] * 150 + wide[..., 2] * 29) >> 8).astype(np.uint8)
    if np.median(grey) < 128:  # dark theme: the background is the majority of pixels
        grey = 255 - grey
    return np.ascontiguousarray(grey)


def text_rows(grey: np.ndarray, min_height: int = 3) -> list[tuple[int, int]]:
    """(top, bottom) of each band of rows holding ink, separated by blank rows. Columns dark in
    nearly every row (a window border, a gutter rule) are whitened first, in place, so they
    neither join every row into one band nor read as a `|` before each line."""
    dark = grey < _INK
    if grey.shape[0] >= 20:
        rules = dark.mean(axis=0) >= 0.9
        grey[:, rules] = 255
        dark[:, rules] = False
    ink = np.flatnonzero(dark.any(axis=1))
    if not len(ink):
        return []
    breaks = np.flatnonzero(np.diff(ink) > 1)
    starts = np.concatenate(([ink[0]], ink[breaks + 1]))
    ends = np.concatenate((ink[breaks] + 1, [ink[-1] + 1]))
    return [(int(a), int(b)) for a, b in zip(starts, ends) if b - a >= min_height]


class TesseractOCR:
    """One Tesseract instance; use it from one thread (the screen reader's OCR worker)."""

    def __init__(self, *, scale: int = 2, threads: int = 1) -> None:
        # Tesseract's OpenMP pool would spin up a thread per core; one keeps the CPU budget honest
        os.environ.setdefault("OMP_THREAD_LIMIT", str(threads))
        try:
            import tesserocr
        except ImportError as exc:
            raise OCRUnavailable(f"tesserocr is not installed: {exc}") from exc
        from PIL import Image

        self._tesserocr, self._image, self.scale = tesserocr, Image, scale
        self._api = tesserocr.PyTessBaseAPI(path=find_tessdata(), lang="eng",
                                            psm=tesserocr.PSM.SINGLE_BLOCK)
        self._api.SetVariable("preserve_interword_spaces", "1")

    def close(self) -> None:
        self._api.End()

    def read(self, rgb: np.ndarray) -> OcrText:
        """The text of a screen region, line by line, top to bottom."""
        grey = prepare(rgb)
        if grey.size == 0:
            return OcrText(())
        words = []
        for y0, y1 in text_rows(grey):
            strip = grey[y0:y1]
            # cut at the last inked column: a short line alone in a wide blank strip reads as
            # nothing at all (the left edge stays, so columns keep their x for indentation)
            right = int(np.flatnonzero((strip < _INK).any(axis=0))[-1]) + 1
            words += self._strip_words(strip[:, :right], y0)
        return OcrText(_assemble(words, self.scale))

    def _strip_words(self, strip: np.ndarray, top: int) -> list:
        """One band of text rows read on its own: a cursor block or a rule line next to it
        cannot derail the line finder for the rest of the region, as it does on a whole block."""
        padded = np.pad(strip, _PAD, constant_values=255)  # text touching an edge reads badly
        image = self._image.fromarray(padded)
        s = self.scale
        if s > 1:  # bilinear keeps thin strokes (underscores, l vs L) that nearest loses
            image = image.resize((image.width * s, image.height * s), self._image.BILINEAR)
        self._api.SetImage(image)
        shift_y = (top - _PAD) * s
        return [(x - _PAD * s, y + shift_y, x2 - _PAD * s, text, conf, first)
                for x, y, x2, text, conf, first in self._words()]

    def _words(self) -> list[tuple[int, int, int, str, float, bool]]:
        """(x, y, x2, text, confidence, starts a line) for each recognized word."""
        ril = self._tesserocr.RIL
        self._api.Recognize()
        it = self._api.GetIterator()
        words = []
        if it is None:
            return words
        while True:
            try:
                text = it.GetUTF8Text(ril.WORD)
            except RuntimeError:  # tesserocr raises on a word box with no text in it
                text = ""
            box = it.BoundingBox(ril.WORD)
            if text and box:
                words.append((box[0], box[1], box[2], text, it.Confidence(ril.WORD) / 100.0,
                              it.IsAtBeginningOf(ril.TEXTLINE)))
            if not it.Next(ril.WORD):
                return words


def _assemble(words, scale: int) -> tuple[OcrLine, ...]:
    """Words into lines; spaces between and before words from their pixel gaps in character
    widths (a monospace screen's columns), so `    return x` keeps its four spaces."""
    if not words:
        return ()
    # ink is a little narrower than the cell, so this pitch is a slight underestimate and a
    # one-space gap measures ~1.2 pitches: hence the +0.25 before truncating below
    widths = [(x2 - x) / len(t) for x, _, x2, t, _, _ in words if len(t) >= 3]
    char = float(np.median(widths)) if widths else 8.0 * scale
    left = min(w[0] for w in words)
    lines: list[list] = []
    for word in words:
        if word[5] or not lines:
            lines.append([word])
        else:
            lines[-1].append(word)
    out = []
    for line in lines:
        text, end = " " * round((line[0][0] - left) / char), None
        for x, _, x2, t, _, _ in line:
            if end is not None:
                text += " " * max(1, int((x - end) / char + 0.25))
            text, end = text + t, x2
        conf = float(np.mean([w[4] for w in line]))
        out.append(OcrLine(text.rstrip(), max(0.0, min(1.0, conf)), line[0][1] // scale))
    return tuple(out)
