"""Pages of the pilot's evaluation: the protocol (admin: create, randomise, register; evaluator: read), the
evaluator's indicators with plots, and the GP's 30-day follow-up (due list, form) with a worklist reminder.

Routes only: the rules live in :mod:`ecgpilot.pilot.service` (each change audited there). Texts: French
first, English second, in :data:`TEXT` (``pt(key, lang)`` in the templates).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from ecgpilot.errors import ConfigError, RecordError
from ecgpilot.store.models import User
from ecgpilot.web.app import db_session, study_or_404
from ecgpilot.web.pages import checked_form, page_user, render

__all__ = ["router", "install", "TEXT", "pt", "ai_allowed_for"]

router = APIRouter(include_in_schema=False)

TEXT: dict[str, dict[str, str]] = {
    "pilot": {"fr": "Expérimentation", "en": "Pilot"},
    "protocols": {"fr": "Protocoles d'évaluation", "en": "Evaluation protocols"},
    "no_protocol": {"fr": "Aucun protocole pour le moment.", "en": "No protocol yet."},
    "design": {"fr": "Plan", "en": "Design"},
    "stepped_wedge": {"fr": "en escalier (stepped wedge)", "en": "stepped wedge"},
    "parallel": {"fr": "en grappes parallèles", "en": "parallel cluster"},
    "start_month": {"fr": "Premier mois (AAAA-MM)", "en": "First month (YYYY-MM)"},
    "period_months": {"fr": "Mois par période", "en": "Months per period"},
    "n_periods": {"fr": "Nombre de périodes", "en": "Number of periods"},
    "baseline_months": {"fr": "Mois de référence avant (relevés de l'Assurance Maladie)", "en": "Baseline months before (insurer's extract)"},
    "name": {"fr": "Nom", "en": "Name"},
    "create": {"fr": "Créer / modifier le brouillon", "en": "Create / update the draft"},
    "status_draft": {"fr": "brouillon", "en": "draft"},
    "status_registered": {"fr": "enregistré (figé)", "en": "registered (frozen)"},
    "seed": {"fr": "Graine du tirage", "en": "Randomisation seed"},
    "randomise": {"fr": "Tirer au sort (stratifié sur la taille du cabinet)", "en": "Randomise (stratified by practice size)"},
    "register": {"fr": "Enregistrer et figer", "en": "Register and freeze"},
    "register_help": {"fr": "Avant la première période ; ensuite, ni le protocole ni l'allocation ne changent.",
                      "en": "Before the first period; afterwards neither the protocol nor the allocation can change."},
    "allocation": {"fr": "Allocation", "en": "Allocation"},
    "practice": {"fr": "Cabinet", "en": "Practice"},
    "stratum": {"fr": "Strate", "en": "Stratum"},
    "ai_from": {"fr": "IA active à partir de la période", "en": "AI on from period"},
    "never": {"fr": "jamais (contrôle)", "en": "never (control)"},
    "outcomes": {"fr": "Critères de jugement", "en": "Outcomes"},
    "indicators": {"fr": "Indicateurs", "en": "Indicators"},
    "primary": {"fr": "Critère principal : ECG par médecin et par mois (IA active − inactive)",
                "en": "Primary outcome: ECGs per GP per month (AI on − off)"},
    "rate_ratio": {"fr": "Rapport de taux (Poisson, GEE)", "en": "Rate ratio (Poisson GEE)"},
    "ci": {"fr": "IC 95 %", "en": "95% CI"},
    "arm_ai_on": {"fr": "IA active", "en": "AI on"},
    "arm_ai_off": {"fr": "IA inactive (contrôle)", "en": "AI off (control)"},
    "costs": {"fr": "Coûts (perspective Assurance Maladie, 30 jours)", "en": "Costs (insurer's perspective, 30 days)"},
    "per_ecg": {"fr": "Coût par ECG", "en": "Cost per ECG"},
    "icer": {"fr": "Coût par nouveau diagnostic supplémentaire (RDCR)", "en": "Cost per additional new diagnosis (ICER)"},
    "budget": {"fr": "Impact budgétaire (5 ans, scénario moyen)", "en": "Budget impact (5 years, medium scenario)"},
    "plots": {"fr": "Graphiques", "en": "Plots"},
    "no_data": {"fr": "Pas encore assez de données.", "en": "Not enough data yet."},
    "missing": {"fr": "Les analyses demandent un module absent de cette installation :",
                "en": "The analyses need a module this installation lacks:"},
    "followups": {"fr": "Suivis à 30 jours", "en": "30-day follow-ups"},
    "followups_due": {"fr": "suivi(s) à 30 jours à remplir", "en": "30-day follow-up(s) to complete"},
    "no_followup_due": {"fr": "Aucun suivi à remplir.", "en": "No follow-up to complete."},
    "followup_of": {"fr": "Suivi à 30 jours de l'ECG", "en": "30-day follow-up of ECG"},
    "signed_days_ago": {"fr": "signé il y a (jours)", "en": "signed days ago"},
    "fill": {"fr": "Remplir", "en": "Fill in"},
    "optional": {"fr": "Chaque réponse est facultative ; laissez vide ce que vous ne savez pas. Aucune donnée d'identité.",
                 "en": "Every answer is optional; leave empty what you do not know. No identity data."},
    "referred": {"fr": "Adressé à un cardiologue ?", "en": "Referred to a cardiologist?"},
    "referral_kind": {"fr": "Comment ?", "en": "How?"},
    "rk_consultation": {"fr": "consultation", "en": "consultation"},
    "rk_tele_expertise": {"fr": "téléexpertise", "en": "tele-expertise"},
    "rk_emergency": {"fr": "urgences", "en": "emergency department"},
    "seen_on": {"fr": "Vu par le cardiologue le", "en": "Seen by the cardiologist on"},
    "emergency": {"fr": "Transfert aux urgences ?", "en": "Emergency transfer?"},
    "hospitalised": {"fr": "Hospitalisé ?", "en": "Hospitalised?"},
    "diagnosis": {"fr": "Diagnostic final", "en": "Final diagnosis"},
    "diagnosis_text": {"fr": "Précision (texte libre, sans identité)", "en": "Details (free text, no identity)"},
    "new_diagnosis": {"fr": "Nouveau diagnostic grâce à cet ECG ?", "en": "New diagnosis thanks to this ECG?"},
    "treatment_changed": {"fr": "Traitement modifié du fait de l'ECG ?", "en": "Treatment changed because of the ECG?"},
    "yes": {"fr": "oui", "en": "yes"},
    "no": {"fr": "non", "en": "no"},
    "unknown": {"fr": "ne sait pas", "en": "unknown"},
    "save": {"fr": "Enregistrer", "en": "Save"},
    "saved": {"fr": "Suivi enregistré.", "en": "Follow-up saved."},
}


def pt(key: str, lang: str) -> str:
    """The pilot text ``key`` in ``lang`` (French when missing; the key itself when unknown)."""
    entry = TEXT.get(key)
    return key if entry is None else (entry.get(lang) or entry["fr"])


def install(app: FastAPI) -> None:
    """Register the pilot's pages on ``app``: its tables (created when absent), the template helpers
    (``pt``, ``pilot_due(user)`` for the worklist reminder) and the routes."""
    from ecgpilot.pilot import followup
    from ecgpilot.store.pilot import ensure_pilot_schema

    ensure_pilot_schema(app.state.engine)
    env = app.state.templates.env
    env.globals["pt"] = pt
    env.globals["pilot_diagnoses"] = followup.DIAGNOSES

    def pilot_due(user: User | None) -> int:
        from ecgpilot.pilot import service

        if user is None or user.role != "gp":
            return 0
        with app.state.sessions() as db:
            return len(service.due_followups(db, user))

    env.globals["pilot_due"] = pilot_due
    app.include_router(router)


def ai_allowed_for(request: Request, user: User, when: date | None = None) -> bool:
    """Whether the AI reading runs for ``user``'s upload: the setting and the stop switches, the instance's and
    the practice's (:func:`ecgpilot.web.app.ai_allowed`) first, then the registered pilot protocol of the user's
    practice (:func:`ecgpilot.pilot.service.ai_on_for_practice`: off in the control arm, on in the AI arm, no say
    outside the pilot). Meant to replace ``ai_allowed(request, user)`` at the upload call sites."""
    from ecgpilot.pilot.service import ai_on_for_practice
    from ecgpilot.web.app import ai_allowed

    if not ai_allowed(request, user):
        return False
    with request.app.state.sessions() as db:
        on = ai_on_for_practice(db, user.practice_id, when or date.today())
    return True if on is None else on


def _actor(user: User) -> Any:
    from ecgpilot.pilot.service import Actor

    return Actor(str(user.id), user.role)


def _roles(user: User, *roles: str) -> None:
    if user.role not in roles:
        raise HTTPException(403, f"role {user.role!r} has no access to this pilot page; it is for {', '.join(roles)}.")


def _inline(svg: str) -> str:
    """matplotlib's SVG without its XML prolog, to sit inside the page."""
    i = svg.find("<svg")
    return svg[i:] if i >= 0 else ""


def _protocol_ctx(db: Session) -> list[dict[str, Any]]:
    from ecgpilot.pilot import plots, service
    from ecgpilot.pilot import protocol as proto
    from ecgpilot.store.pilot import PilotProtocol

    out = []
    for row in db.scalars(select(PilotProtocol).order_by(PilotProtocol.id)):
        p = proto.Protocol.from_dict(row.content)
        al, st = service.allocation_of(db, row)
        diagram = _inline(plots.stepped_wedge_diagram(proto.schedule(p, al))) if al and plots.available() else None
        out.append({"row": row, "p": p, "allocation": sorted(al.items()), "strata": st, "diagram": diagram})
    return out


@router.get("/pilot", response_class=HTMLResponse)
def protocol_page(request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    """Protocols, their hashes and allocations (evaluator, admin); the admin creates, randomises, registers."""
    _roles(user, "evaluator", "admin")
    return render(request, "pilot/protocol.html", {"user": user, "protocols": _protocol_ctx(db), "error": None})


def _protocol_error(request: Request, db: Session, user: User, exc: Exception) -> Response:
    db.rollback()
    return render(request, "pilot/protocol.html", {"user": user, "protocols": _protocol_ctx(db), "error": str(exc)}, 400)


@router.post("/pilot/protocol")
async def protocol_save(request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    from ecgpilot.pilot import protocol as proto
    from ecgpilot.pilot import service

    _roles(user, "admin")
    form = await checked_form(request)
    try:
        p = proto.Protocol(name=str(form.get("name", "")).strip(), design=str(form.get("design", "")),
                           start_month=str(form.get("start_month", "")).strip(),
                           period_months=_int(form, "period_months"), n_periods=_int(form, "n_periods"),
                           baseline_months=_int(form, "baseline_months"))
        service.save_protocol(db, p, _actor(user))
        db.commit()
    except (ConfigError, RecordError) as exc:
        return _protocol_error(request, db, user, exc)
    return RedirectResponse("/pilot", status_code=303)


def _int(form: Any, key: str) -> int:
    raw = str(form.get(key, "")).strip()
    if not raw.lstrip("-").isdigit():
        raise ConfigError(f"{key} {raw!r} is not a whole number.")
    return int(raw)


@router.post("/pilot/{protocol_id}/randomise")
async def protocol_randomise(protocol_id: int, request: Request, db: Session = Depends(db_session),
                             user: User = Depends(page_user)) -> Response:
    from ecgpilot.pilot import service
    from ecgpilot.store.pilot import PilotProtocol

    _roles(user, "admin")
    form = await checked_form(request)
    row = db.get(PilotProtocol, protocol_id)
    if row is None:
        raise HTTPException(404, f"protocol {protocol_id} not found.")
    try:
        service.randomise_practices(db, row.name, _int(form, "seed"), service.practice_sizes(db), _actor(user))
        db.commit()
    except (ConfigError, RecordError) as exc:
        return _protocol_error(request, db, user, exc)
    return RedirectResponse("/pilot", status_code=303)


@router.post("/pilot/{protocol_id}/register")
async def protocol_register(protocol_id: int, request: Request, db: Session = Depends(db_session),
                            user: User = Depends(page_user)) -> Response:
    from ecgpilot.pilot import service
    from ecgpilot.store.pilot import PilotProtocol

    _roles(user, "admin")
    await checked_form(request)
    row = db.get(PilotProtocol, protocol_id)
    if row is None:
        raise HTTPException(404, f"protocol {protocol_id} not found.")
    try:
        service.register_protocol(db, row.name, _actor(user))
        db.commit()
    except (ConfigError, RecordError) as exc:
        return _protocol_error(request, db, user, exc)
    return RedirectResponse("/pilot", status_code=303)


@router.get("/pilot/{protocol_id}/indicators", response_class=HTMLResponse)
def indicators_page(protocol_id: int, request: Request, db: Session = Depends(db_session),
                    user: User = Depends(page_user)) -> Response:
    """The evaluator's results: primary effect, indicators per arm with Wilson CIs, costs, plots (SVG inline)."""
    from ecgpilot.pilot import evaluate, followup, plots, service
    from ecgpilot.pilot import protocol as proto
    from ecgpilot.store.pilot import PilotProtocol
    from ecgpilot.web.care_pages import pseudonym_key

    _roles(user, "evaluator")
    row = db.get(PilotProtocol, protocol_id)
    if row is None:
        raise HTTPException(404, f"protocol {protocol_id} not found.")
    p = proto.Protocol.from_dict(row.content)
    al, _st = service.allocation_of(db, row)
    key = pseudonym_key(request)
    res, figs = None, {}
    try:
        import statsmodels  # noqa: F401
    except ImportError:   # a serving install without the [pilot] extra: say so instead of failing
        return render(request, "pilot/indicators.html", {"user": user, "row": row, "res": None, "figs": {},
                                                         "missing": "statsmodels ([pilot] extra)"})
    if al:
        panel = service.volume_panel(db, p, al, key)
        rows = service.study_rows(db, p, al, key)
        res = evaluate.evaluate(p, al, panel, rows, n_resamples=500)
        if plots.available() and len(panel):
            starts = [proto.month_str(proto.month_index(p.start_month) + k * p.period_months) for k in range(p.n_periods)]
            figs["volume"] = _inline(plots.volume_by_arm(panel, starts))
            figs["funnel"] = _inline(plots.funnel(res["funnel"]))
            figs["indicators"] = _inline(plots.indicator_forest(
                res["indicators"], ["referral", "tele_expertise", "emergency", "new_diagnosis", "treatment_changed"]))
            if res["drift_agreement"]:
                figs["drift"] = _inline(plots.p_chart_plot(res["drift_agreement"], "AI / doctor agreement"))
            pairs = [(r.get("ai_urgency"), r.get("overread_urgency")) for r in rows if r.get("arm") == "ai_on"]
            figs["confusion"] = _inline(plots.confusion_heatmap(pairs, followup.URGENCY_LEVELS, "AI vs over-read"))
            if "icer" in res:
                figs["plane"] = _inline(plots.cost_effect_plane(res["icer"]["replicates"],
                                                                (res["icer"]["delta_effect"], res["icer"]["delta_cost_per_ecg"])))
            figs["tornado"] = _inline(plots.tornado(res["sensitivity"]))
    return render(request, "pilot/indicators.html", {"user": user, "row": row, "res": res, "figs": figs, "missing": None})


@router.get("/pilot/followups", response_class=HTMLResponse)
def followups_page(request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    """The GP's signed ECGs whose 30-day follow-up is due."""
    from ecgpilot.pilot import service

    _roles(user, "gp")
    return render(request, "pilot/followups.html", {"user": user, "due": service.due_followups(db, user)})


def _followup_ctx(db: Session, study_id: int) -> dict[str, Any]:
    from ecgpilot.store.pilot import PilotFollowUp

    return {"f": db.scalar(select(PilotFollowUp).where(PilotFollowUp.study_id == study_id))}


@router.get("/pilot/followup/{study_id}", response_class=HTMLResponse)
def followup_form(study_id: int, request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    _roles(user, "gp", "cardiologist")
    study_or_404(db, user, study_id)
    return render(request, "pilot/followup.html", {"user": user, "study_id": study_id, "error": None, "saved": False,
                                                   **_followup_ctx(db, study_id)})


@router.post("/pilot/followup/{study_id}")
async def followup_save(study_id: int, request: Request, db: Session = Depends(db_session),
                        user: User = Depends(page_user)) -> Response:
    from ecgpilot.pilot import service

    _roles(user, "gp", "cardiologist")
    study_or_404(db, user, study_id)
    form = await checked_form(request)
    fields = ("referred", "referral_kind", "seen_on", "emergency", "hospitalised", "diagnosis", "diagnosis_text",
              "new_diagnosis", "treatment_changed")
    values = {k: str(form.get(k) or "") for k in fields}
    try:
        service.save_followup(db, study_id, user, values, date.today())
        db.commit()
    except (ConfigError, RecordError) as exc:
        db.rollback()
        return render(request, "pilot/followup.html", {"user": user, "study_id": study_id, "error": str(exc),
                                                       "saved": False, **_followup_ctx(db, study_id)}, 400)
    return render(request, "pilot/followup.html", {"user": user, "study_id": study_id, "error": None, "saved": True,
                                                   **_followup_ctx(db, study_id)})
