"""Pages every user has: their account (RPPS, MSSanté address, API tokens), the model card; and the evaluator's
pseudonymised indicators and CSV."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from ecgpilot.errors import ConfigError, RecordError
from ecgpilot.store.models import User
from ecgpilot.store.users import DEFAULT_TOKEN_DAYS, MAX_TOKEN_DAYS, token_state
from ecgpilot.web import i18n
from ecgpilot.web.deps import checked_form, db_session, engine, lang_of, page_user, pseudonym_key, require_role
from ecgpilot.web.routes.views import render
from ecgpilot.web.services import accounts, evaluation, practice
from ecgpilot.web.services.common import URGENCY_LEVELS
from ecgpilot.web.services.model_card import card_facts, model_card_text

__all__ = ["router", "evaluator_only", "evaluation_csv_response"]

router = APIRouter(include_in_schema=False)


# ------------------------------------------------------------------ account ---------

def _account_page(request: Request, db: Session, user: User, status_code: int = 200, **extra: Any) -> Response:
    """The account page: identifiers, and the API tokens (state, expiry, last use; revoke, create)."""
    tokens = [(t, token_state(t)) for t in reversed(accounts.tokens(db, user))]
    ctx: dict[str, Any] = {"user": user, "saved": False, "error": None, "form": {}, "tokens": tokens, "token": None,
                           "token_error": None, "token_days": DEFAULT_TOKEN_DAYS, "token_max_days": MAX_TOKEN_DAYS}
    ctx.update(extra)
    return render(request, "account.html", ctx, status_code)


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    return _account_page(request, db, user)


@router.post("/account/token", response_class=HTMLResponse)
async def new_token(request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    """A new API token (label, lifetime in days), shown once on the page; audited."""
    form = await checked_form(request)
    raw = str(form.get("days", "") or DEFAULT_TOKEN_DAYS).strip()
    try:
        token, _row = accounts.new_token(db, user, label=str(form.get("label", "")),
                                         days=int(raw) if raw.isdigit() else -1, via="web")
    except ConfigError:
        return _account_page(request, db, user, 422, token_error=i18n.t("token_days_bad", lang_of(request)))
    return _account_page(request, db, user, token=token)


@router.post("/account/tokens/{token_id}/revoke", response_class=HTMLResponse)
async def revoke_token(token_id: int, request: Request, db: Session = Depends(db_session),
                       user: User = Depends(page_user)) -> Response:
    """Revoke one of one's own API tokens (at once; audited)."""
    await checked_form(request)
    accounts.revoke_token(db, user, token_id, via="web")
    return RedirectResponse("/account#tokens", status_code=303)


@router.post("/account", response_class=HTMLResponse)
async def save_account(request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    """The doctor's RPPS (11 digits, Luhn key) and MSSanté address; a refusal keeps what was typed."""
    form = await checked_form(request)
    typed = {k: str(form.get(k, "")) for k in ("rpps", "mssante_address")}
    try:
        rpps = practice.check_rpps(typed["rpps"], lang_of(request))
        addr = typed["mssante_address"].strip() or None
        if addr is not None:
            addr = practice.one_address(addr)
    except RecordError as exc:
        return _account_page(request, db, user, 422, error=str(exc), form=typed)
    accounts.update_identifiers(db, user, rpps, addr)
    return _account_page(request, db, user, saved=True)


# ------------------------------------------------------------------ model card ------

@router.get("/model-card", response_class=HTMLResponse)
def model_card(request: Request, user: User = Depends(page_user)) -> Response:
    """The AI's model card as a GP reads it (intended use, users, data, performance with the external
    and subgroup results, limits, the human-oversight rule, the version), for every user."""
    page = f"model_card.{lang_of(request)}.html"   # prose with its markup: one template per language (docs/i18n.md)
    return render(request, page, {"user": user, "facts": card_facts(model_card_text())})


@router.get("/model-card/technical", response_class=HTMLResponse)
def model_card_technical(request: Request, user: User = Depends(page_user)) -> Response:
    """The technical model card (``MODEL_CARD.md``) as written."""
    return render(request, "model_card_technical.html", {"user": user, "text": model_card_text()})


# ------------------------------------------------------------------ evaluation ------

def evaluator_only(user: User) -> User:
    """403 unless the user is an evaluator (the pilot's indicators)."""
    return require_role(user, "evaluator", "has no access to the evaluation; it is for the pilot's evaluators.")


@router.get("/evaluation", response_class=HTMLResponse)
def evaluation_page(request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    evaluator_only(user)
    ind = evaluation.indicators(db, engine(request), pseudonym_key(request))
    return render(request, "evaluation.html", {"user": user, "ind": ind, "levels": URGENCY_LEVELS})


def evaluation_csv_response(request: Request, db: Session, user: User) -> Response:
    """The pseudonymised per-study CSV for an evaluator, audited as an export."""
    evaluator_only(user)
    text = evaluation.export_csv(db, user, pseudonym_key(request))
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="ecgpilot-evaluation.csv"'})


@router.get("/evaluation.csv")
def evaluation_csv(request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    return evaluation_csv_response(request, db, user)
