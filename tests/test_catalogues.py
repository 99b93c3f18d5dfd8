"""Every FR/EN text table says the same things in both languages (issue 25 §4's check, whatever table holds
the text): the web catalogue, the pilot's pages and diagnoses, the reading's statements and labels, the
analysis and PDF labels, the quality messages, the tracing's legend. Each key exists in both languages,
no text is empty, and the placeholders a text formats (``{lead}``, ``{n}`` …) are the same in both."""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

import pytest

LANGS = ("fr", "en")


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def _same_shape(fr: Any, en: Any, where: str) -> list[str]:
    """Differences between the French and English values (dicts compared key by key, strings by placeholders)."""
    if isinstance(fr, Mapping) and isinstance(en, Mapping):
        out = [f"{where}.{k}: only in {'fr' if k in fr else 'en'}" for k in set(fr) ^ set(en)]
        for k in set(fr) & set(en):
            out += _same_shape(fr[k], en[k], f"{where}.{k}")
        return out
    if isinstance(fr, str) and isinstance(en, str):
        if not fr.strip() or not en.strip():
            return [f"{where}: empty text"]
        if "{" in fr or "{" in en:
            try:
                a, b = _fields(fr), _fields(en)
            except ValueError:
                return []   # a literal brace (not a template)
            if a != b:
                return [f"{where}: placeholders {sorted(a)} (fr) vs {sorted(b)} (en)"]
        return []
    if type(fr) is not type(en):
        return [f"{where}: {type(fr).__name__} (fr) vs {type(en).__name__} (en)"]
    return []


def _by_key(table: Mapping[str, Mapping[str, Any]], name: str) -> list[str]:
    """Tables keyed by text id, each holding {"fr": …, "en": …}."""
    out = []
    for key, entry in table.items():
        missing = [lg for lg in LANGS if lg not in entry]
        if missing:
            out.append(f"{name}.{key}: no {', '.join(missing)}")
            continue
        out += _same_shape(entry["fr"], entry["en"], f"{name}.{key}")
    return out


def _by_lang(table: Mapping[str, Any], name: str) -> list[str]:
    """Tables keyed by language first ({"fr": {...}, "en": {...}})."""
    assert set(table) == set(LANGS), f"{name}: languages {sorted(table)}"
    return _same_shape(table["fr"], table["en"], name)


def test_web_catalogue():
    from ecgpilot.web import i18n

    assert not _by_key(i18n.TEXT, "web.i18n.TEXT")


def test_pilot_texts():
    pytest.importorskip("statsmodels", reason="the [pilot] extra is not installed")
    from ecgpilot.pilot import followup
    from ecgpilot.web import pilot_routes

    assert not _by_key(pilot_routes.TEXT, "web.pilot_routes.TEXT")
    assert not _by_key(followup.DIAGNOSES, "pilot.followup.DIAGNOSES")


def test_reading_texts():
    import ecgpilot.interpret as interp
    from ecgpilot.interpret.catalogue import STATEMENTS

    errors = []
    for sid, (_category, _level, fr, en) in STATEMENTS.items():
        errors += _same_shape(fr, en, f"interpret.STATEMENTS.{sid}")
    errors += _by_lang(interp._T, "interpret._T") + _by_lang(interp._FMT, "interpret._FMT")
    assert not errors, errors


def test_every_ai_code_of_the_shipped_model_has_a_french_label():
    """A French page never shows the model's English description (``interpret.ai_labels('fr')``: the
    statement's French text, or the AI-only French label)."""
    import json

    from ecgpilot.interpret import ai_labels
    from ecgpilot.model import default_model_path

    meta = json.loads(default_model_path().with_suffix(".json").read_text())
    codes = {o["code"] for o in meta["outputs"]}
    fr = ai_labels("fr")
    assert codes <= set(fr), sorted(codes - set(fr))
    assert all(fr[c].strip() for c in codes)


def test_analysis_pdf_quality_and_tracing_texts():
    from ecgpilot import analysis
    from ecgpilot.render import pdf, svg
    from ecgpilot.signal import quality

    errors = _by_lang(analysis._LABELS, "analysis._LABELS") + _by_lang(pdf._TXT, "render.pdf._TXT")
    errors += _by_lang(svg._LEGEND, "render.svg._LEGEND") + _by_lang(svg._MEASURE_WORDS, "render.svg._MEASURE_WORDS")
    for code, pair in quality._TEXT.items():
        errors += _same_shape(pair[0], pair[1], f"signal.quality._TEXT.{code}")
    assert not errors, errors


def test_the_check_finds_a_missing_translation():
    assert _by_key({"x": {"fr": "a {n}", "en": "b"}}, "t") == ["t.x: placeholders ['n'] (fr) vs [] (en)"]
    assert _by_key({"x": {"fr": "a"}}, "t") == ["t.x: no en"]
    assert _by_lang({"fr": {"a": "x", "b": "y"}, "en": {"a": "x"}}, "t") == ["t.b: only in fr"]
