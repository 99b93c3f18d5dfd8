"""Who sees what of a study: full access, pseudonymised access (evaluators: no name, birth date, INS, nor
text a doctor typed) or none (admins), and the redacted documents pseudonymised access gets."""

from __future__ import annotations

import copy
from typing import Any

from ecgpilot.store.models import Study, User

__all__ = ["ACCESS", "access_of", "require_identified_access", "redacted_analysis", "redacted_draft", "redacted_report",
           "identity", "WITHHELD", "PSEUDONYMISED"]

# ------------------------------------------------------------------ access ----------

#: who sees a study of their own practice, and how (anyone else: not at all, except a cardiologist
#: asked for an opinion, through the request: :mod:`ecgpilot.web.services.care`)
ACCESS = {"gp": "full", "cardiologist": "full", "evaluator": "pseudonymised", "admin": None}


def access_of(user: User) -> str | None:
    """``"full"``, ``"pseudonymised"`` (no name, birth date, INS) or ``None`` for the user's practice's studies."""
    return ACCESS.get(user.role)


PSEUDONYMISED = "—"


def require_identified_access(user: User) -> None:
    """Refuse documents that carry the patient's identity (PDF, CDA, FHIR) to pseudonymised access."""
    if access_of(user) != "full":
        raise PermissionError(f"role {user.role!r} has pseudonymised access only; this document carries the patient's "
                              "identity. Use the evaluation indicators and the pseudonymised CSV instead.")


def redacted_analysis(analysis: dict[str, Any] | None) -> dict[str, Any] | None:
    """The analysis document for pseudonymised access, built from an allow-list: quality,
    measurements, AI output, the recording's technical traits, the device's own measurements and
    statements, and of the patient only sex and age. No file name, path, free text or identity."""
    if not analysis:
        return analysis
    rec = analysis.get("record") or {}
    src = rec.get("source") or {}
    pat = rec.get("patient") or {}
    return copy.deepcopy({
        "schema": analysis.get("schema"), "ecgpilot_version": analysis.get("ecgpilot_version"),
        "file": {"format": (analysis.get("file") or {}).get("format")},
        "record": {**{k: rec.get(k) for k in ("format", "fs", "n_samples", "duration_s", "leads", "units")},
                   "source": {k: src.get(k) for k in ("format", "manufacturer", "device", "device_measurements",
                                                      "device_statements")},
                   "patient": {k: pat.get(k) for k in ("sex", "age_years")}},
        "quality": analysis.get("quality"), "measurements": analysis.get("measurements"), "ai": analysis.get("ai"),
    })


WITHHELD = "[texte libre masqué / free text withheld]"
"""What pseudonymised access (evaluators) sees in place of text a doctor typed: it can name the patient."""


def redacted_draft(draft: dict[str, Any] | None) -> dict[str, Any] | None:
    """The draft for pseudonymised access: the AI's own statement texts and every decision kept; text a
    doctor typed (free-text statements, edited wording) withheld (:data:`WITHHELD`)."""
    if not draft:
        return draft
    out = copy.deepcopy(draft)
    for st in out.get("statements") or []:
        if st.get("origin") != "ai":
            st["text"] = WITHHELD
        elif st.get("text") != st.get("ai_text"):
            st["text"] = WITHHELD
    return out


def redacted_report(content: dict[str, Any]) -> dict[str, Any]:
    """A signed report's content without the patient identity and without text a doctor typed (for
    pseudonymised access): the kept statements that are not the AI's wording are withheld."""
    out = dict(content)
    decisions = redacted_draft({"statements": out.get("decisions") or []}) or {"statements": []}
    out["decisions"] = decisions["statements"]
    ai_texts = {d.get("ai_text") for d in content.get("decisions") or [] if d.get("origin") == "ai"
                and d.get("decision") == "confirmed"}
    out["statements"] = [t if t in ai_texts else WITHHELD for t in out.get("statements") or []]
    p = dict(out.get("patient") or {})
    out["patient"] = {"family_name": None, "given_names": None, "birth_date": None, "sex": p.get("sex"), "ins": None,
                      "ins_status": p.get("ins_status"), "pseudonymised": True}
    return out


def identity(study: Study, *, pseudonymised: bool = False) -> dict[str, Any]:
    """The patient identity fields; with ``pseudonymised`` only sex and the INS status remain."""
    if pseudonymised:
        return {"family_name": None, "given_names": None, "birth_date": None, "sex": study.sex, "ins": None,
                "ins_status": study.ins_status, "pseudonymised": True}
    return {"family_name": study.family_name, "given_names": study.given_names,
            "birth_date": study.birth_date.isoformat() if study.birth_date else None, "sex": study.sex,
            "ins": study.ins, "ins_status": study.ins_status}
