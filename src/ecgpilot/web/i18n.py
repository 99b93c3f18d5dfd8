"""Every text of the web interface, French first, English second: the ``web`` section of the one
message catalogue (:mod:`ecgpilot.messages`, ``messages/fr.toml`` and ``en.toml``)."""

from __future__ import annotations

import logging

from ecgpilot import messages
from ecgpilot.errors import ConfigError

__all__ = ["LANGS", "TEXT", "pick_lang", "t", "error_text"]

LANGS = messages.LANGS

#: ``{key: {"fr": …, "en": …}}``: a read-only view of the catalogue's ``web`` section (the templates' ``texts``).
TEXT = messages.Bilingual("web")

_log = logging.getLogger(__name__)


def t(key: str, lang: str) -> str:
    """The text ``key`` in ``lang``. A page never fails on a missing text: it shows the French text
    (or, missing in French too or naming a section such as ``pilot``, the key itself) and logs a warning
    naming the key; the catalogue test (tests/test_catalogues.py) keeps that from happening."""
    try:
        return messages.text(f"web.{key}", lang)
    except messages.MissingTextError as exc:
        _log.warning("%s", exc)
        if lang != "fr":
            try:
                return messages.text(f"web.{key}", "fr")
            except messages.MissingTextError:   # not in French either, or a section (``t("pilot", lang)``)
                pass
        return key
    except ConfigError as exc:   # a language the catalogue does not have
        _log.warning("%s", exc)
        return t(key, "fr")


def error_text(status: int, lang: str) -> str:
    """A plain sentence for an HTTP refusal ``status`` (what happened, what to do) in ``lang``."""
    key = f"error_text_{status}"
    if key not in TEXT:
        key = "error_text_500" if status >= 500 else "error_text_422"
    return t(key, lang)


def pick_lang(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """Language from ``?lang=``, then the cookie, then ``Accept-Language``; French by default."""
    for value in (query, cookie):
        if value in LANGS:
            return value
    best, best_q = "fr", -1.0
    for part in (accept_language or "").split(","):
        tag, _, q = part.strip().partition(";q=")
        code = tag.split("-")[0].strip().lower()
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            continue
        if code in LANGS and weight > best_q:
            best, best_q = code, weight
    return best
