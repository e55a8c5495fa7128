"""The OCR engines the benchmark compares, behind one `read(rgb) -> OcrText` call.

Tesseract is companion's own wrapper (companion/streams/ocr_engine.py); rapidocr (ONNX models
inside its pinned wheel) gets the same line structure here by grouping its boxes by height.
"""

from __future__ import annotations

import numpy as np

from companion.streams.ocr_engine import OcrLine, OcrText, TesseractOCR


class RapidOCREngine:
    def __init__(self) -> None:
        from rapidocr_onnxruntime import RapidOCR

        # one thread, like Tesseract here: the CPU numbers compare like with like
        self._ocr = RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1)

    def read(self, rgb: np.ndarray) -> OcrText:
        result, _ = self._ocr(np.ascontiguousarray(rgb[..., ::-1]))  # it expects OpenCV's BGR
        boxes = sorted(((float(np.mean([p[1] for p in box])), float(box[0][0]), text, float(conf))
                        for box, text, conf in (result or [])))
        lines: list[list] = []
        for cy, x, text, conf in boxes:
            if lines and abs(lines[-1][0][0] - cy) < 8:
                lines[-1].append((cy, x, text, conf))
            else:
                lines.append([(cy, x, text, conf)])
        out = []
        for line in lines:
            line.sort(key=lambda b: b[1])
            out.append(OcrLine(" ".join(b[2] for b in line), float(np.mean([b[3] for b in line])),
                               int(line[0][0])))
        return OcrText(tuple(out))

    def close(self) -> None:
        pass


ENGINES = {"tesseract": TesseractOCR, "rapidocr": RapidOCREngine}
