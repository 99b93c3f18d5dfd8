"""The model card a GP can read: facts taken from ``MODEL_CARD.md`` (its performance and subgroup
tables, the external LUDB check, the urgency sensitivity) and from the model's sidecar (version,
date, sha256), laid out in French or English by ``model_card.fr.html`` / ``model_card.en.html``. One source for the numbers:
the technical card; this module only reads it."""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["markdown_tables", "card_facts", "model_card_text"]


def markdown_tables(text: str) -> list[list[list[str]]]:
    """Every pipe table of a Markdown text, as rows of cells (header first, the ``---`` row dropped)."""
    tables: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in text.splitlines() + [""]:
        s = line.strip()
        if s.startswith("|") and s.endswith("|"):
            cells = [c.strip() for c in s[1:-1].split("|")]
            if not all(re.fullmatch(r":?-+:?", c) for c in cells):
                current.append(cells)
        elif current:
            tables.append(current)
            current = []
    return tables


def _sidecar() -> dict[str, Any]:
    from ecgpilot.model import default_model_path

    path = default_model_path().with_suffix(".json")
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def card_facts(text: str) -> dict[str, Any]:
    """What the GP page shows, read from the technical card ``text`` and the model's sidecar:
    ``performance`` (task rows: ecgpilot with CI, best 2021), ``subgroups`` (header + rows),
    ``ludb`` (statement, AUC, n), ``urgency`` (the emergency sensitivity sentence's numbers),
    ``version``, ``created``, ``sha256``."""
    tables = markdown_tables(text)
    perf = next((t for t in tables if t and t[0][:2] == ["task", "ecgpilot (95 % CI)"]), [])
    sub = next((t for t in tables if t and t[0][:2] == ["statement", "all"]), [])
    ludb = re.findall(r"([A-Z/]{2,})\s+([01]\.\d\d)\s+\(n=(\d+)\)", text.split("External check (LUDB)", 1)[-1][:900])
    m = re.search(r"(\d+) of (\d+) reference emergencies \(sensitivity ([\d.]+), 95 % CI ([\d.]+)–([\d.]+);\s+"
                  r"specificity ([\d.]+)", text)
    side = _sidecar()
    from ecgpilot import __version__
    from ecgpilot.interpret import RULES_VERSION

    return {
        "performance": [{"task": r[0], "ours": r[1], "ref": r[2], "diff": r[3]} for r in perf[1:] if len(r) >= 4],
        "subgroups": {"header": sub[0], "rows": sub[1:]} if sub else None,
        "ludb": [{"code": c, "auc": a, "n": int(n)} for c, a, n in ludb],
        "urgency": ({"found": int(m.group(1)), "of": int(m.group(2)), "sens": m.group(3), "lo": m.group(4),
                     "hi": m.group(5), "spec": m.group(6)} if m else None),
        "version": side.get("version"), "created": str(side.get("created", ""))[:10],
        "sha256": str(side.get("onnx_sha256", ""))[:12], "app_version": __version__, "rules_version": RULES_VERSION,
    }


def model_card_text() -> str:
    """``MODEL_CARD.md``: packaged with the wheel, or the repository's copy in a checkout."""
    from importlib import resources
    from pathlib import Path

    from ecgpilot.errors import RecordError

    packaged = resources.files("ecgpilot").joinpath("MODEL_CARD.md")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    repo = Path(__file__).resolve().parents[4] / "MODEL_CARD.md"
    if repo.is_file():
        return repo.read_text(encoding="utf-8")
    raise RecordError("MODEL_CARD.md is missing from this installation; reinstall ecgpilot.")
