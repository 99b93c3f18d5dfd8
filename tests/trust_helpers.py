"""Shared inputs of the trust/export tests: the sample report and a small real PDF."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path

REPORT = json.loads((Path(__file__).parent / "fixtures" / "trust_report.json").read_text(encoding="utf-8"))


def report(**changes: object) -> dict:
    """A deep copy of the sample report, with top-level or ``patient__key`` changes."""
    r = copy.deepcopy(REPORT)
    for k, v in changes.items():
        if "__" in k:
            part, key = k.split("__", 1)
            r[part][key] = v
        else:
            r[k] = v
    return r


def make_pdf(text: str = "Compte rendu ECG") -> bytes:
    """A one-page PDF written with reportlab."""
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    c.drawString(72, 720, text)
    c.showPage()
    c.save()
    return buf.getvalue()
