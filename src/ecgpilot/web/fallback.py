"""Minimal stand-ins used only while ``ecgpilot.interpret`` / ``ecgpilot.render`` are absent.

They keep the app usable (simple proposal from the classifier, plain ECG-paper SVG,
one-page PDF); the real modules replace them automatically when installed.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from ecgpilot.record import ECGRecord

__all__ = ["interpretation", "ecg_svg", "report_pdf"]


def interpretation(analysis: dict[str, Any], lang: str = "fr") -> dict[str, Any]:
    """Statements from the classifier's present labels, urgency ``routine``."""
    ai = analysis.get("ai") or {}
    statements = [
        {"id": f"ai-{s['code']}", "category": s.get("task", "ai"), "text": s.get("description") or s["code"],
         "confidence": s.get("calibrated_probability", s.get("probability")), "evidence": [], "urgency": "routine"}
        for s in ai.get("statements", []) if s.get("present")
    ]
    m = analysis.get("measurements") or {}
    if m.get("heart_rate_bpm") is not None:
        hr = round(m["heart_rate_bpm"])
        text = f"Fréquence cardiaque {hr} bpm" if lang == "fr" else f"Heart rate {hr} bpm"
        statements.insert(0, {"id": "rate", "category": "rate", "text": text, "confidence": None,
                              "evidence": ["heart_rate_bpm"], "urgency": "normal"})
    return {"statements": statements, "urgency": {"level": "routine", "reasons": []}, "rules_version": "web-fallback-0"}


def ecg_svg(record: ECGRecord, *, analysis: dict[str, Any] | None = None) -> str:
    """Each lead on its own strip over 1 mm / 5 mm ECG paper (25 mm/s, 10 mm/mV)."""
    row_mm, left = 25.0, 12.0
    width = left + record.n_samples / record.fs * 25.0
    height = row_mm * record.n_leads
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="ecg" viewBox="0 0 {width:.1f} {height:.1f}" '
             f'width="{width:.1f}mm" height="{height:.1f}mm" data-mm-per-s="25" data-mm-per-mv="10">',
             f'<rect width="{width:.1f}" height="{height:.1f}" fill="#fff"/>']
    for x in np.arange(0, width, 1.0):
        major = round(x) % 5 == 0
        parts.append(f'<line x1="{x:.0f}" y1="0" x2="{x:.0f}" y2="{height:.0f}" stroke="{"#f08080" if major else "#fbd0d0"}" stroke-width="{0.2 if major else 0.08}"/>')
    for y in np.arange(0, height, 1.0):
        major = round(y) % 5 == 0
        parts.append(f'<line x1="0" y1="{y:.0f}" x2="{width:.0f}" y2="{y:.0f}" stroke="{"#f08080" if major else "#fbd0d0"}" stroke-width="{0.2 if major else 0.08}"/>')
    step = max(1, int(record.fs // 250))
    t_mm = left + np.arange(0, record.n_samples, step) / record.fs * 25.0
    for i, lead in enumerate(record.leads):
        base = row_mm * (i + 0.5)
        y = base - record.signal[i, ::step] / 1000.0 * 10.0
        pts = " ".join(f"{a:.2f},{b:.2f}" for a, b in zip(t_mm, y))
        parts.append(f'<text x="1" y="{base - 3:.1f}" font-size="3.5" font-family="sans-serif">{lead}</text>')
        parts.append(f'<polyline fill="none" stroke="#000" stroke-width="0.25" points="{pts}"/>')
    parts.append("</svg>")
    return "".join(parts)


def report_pdf(record: ECGRecord | None, analysis: dict[str, Any] | None, interpretation: dict[str, Any] | None,
               report: dict[str, Any] | None = None, lang: str = "fr") -> bytes:
    """A one-page A4 report (patient, statements, urgency, signature or DRAFT watermark)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    report = report or {}
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    w, h = A4
    c.setTitle("ECG report")
    if not report.get("signed_at"):
        c.saveState()
        c.setFont("Helvetica-Bold", 72)
        c.setFillGray(0.85)
        c.translate(w / 2, h / 2)
        c.rotate(45)
        c.drawCentredString(0, 0, "BROUILLON" if lang == "fr" else "DRAFT")
        c.restoreState()
    y = h - 60
    c.setFont("Helvetica-Bold", 14)
    c.drawString(50, y, "Compte rendu ECG" if lang == "fr" else "ECG report")
    c.setFont("Helvetica", 10)
    p = report.get("patient") or {}
    for line in (f"Patient : {p.get('family_name') or ''} {p.get('given_names') or ''}",
                 f"Né(e) le : {p.get('birth_date') or ''}   INS : {p.get('ins') or ''}"):
        y -= 18
        c.drawString(50, y, line)
    y -= 24
    for s in report.get("statements", []):
        c.drawString(60, y, f"- {s}")
        y -= 14
    y -= 10
    c.drawString(50, y, f"Urgence : {report.get('urgency') or ''}")
    y -= 18
    if report.get("signed_at"):
        c.drawString(50, y, f"Signé par {report.get('doctor')} le {report.get('signed_at')}")
    c.showPage()
    c.save()
    return buf.getvalue()
