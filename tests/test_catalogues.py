"""The one FR/EN message catalogue (issue 25 §4, ``ecgpilot.messages``: ``fr.toml`` and ``en.toml``):
every key exists in both languages, no text is empty, the placeholders a text formats (``{lead}``,
``{n}`` …) are the same in both, a missing key or language is a clear error, and no text table is
left in the code."""

from __future__ import annotations

import ast
import logging
import string
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from ecgpilot import messages
from ecgpilot.errors import ConfigError

PACKAGE = Path(messages.__file__).resolve().parents[1]     # src/ecgpilot


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


#: Sections whose English text is also the API's and the logs' message (``str()`` of the refusal), with the ids
#: and states a French page leaves out: there the two languages may format different fields, and
#: :func:`test_every_refusal_is_said_with_the_fields_of_both_texts` checks instead that each ``.said(key, …)``
#: call of the code passes every field of both texts.
OWN_FIELDS = ("web.refusal", "store.health")


def _same_shape(fr: Any, en: Any, where: str) -> list[str]:
    """Differences between the French and English trees (sections key by key, texts by placeholders, except
    in the sections of :data:`OWN_FIELDS`)."""
    if isinstance(fr, Mapping) and isinstance(en, Mapping):
        out = [f"{_join(where, k)}: only in {'fr' if k in fr else 'en'}" for k in sorted(set(fr) ^ set(en))]
        for k in fr:
            if k in en:
                out += _same_shape(fr[k], en[k], _join(where, k))
        return out
    if isinstance(fr, str) and isinstance(en, str):
        if not fr.strip() or not en.strip():
            return [f"{where}: empty text"]
        a, b = _fields(fr), _fields(en)
        if a != b and where.rpartition(".")[0] not in OWN_FIELDS:
            return [f"{where}: placeholders {sorted(a)} (fr) vs {sorted(b)} (en)"]
        return []
    return [f"{where}: {type(fr).__name__} (fr) vs {type(en).__name__} (en)"]


def test_every_key_in_both_languages_same_placeholders_no_empty_text():
    assert not _same_shape(messages.catalogue("fr"), messages.catalogue("en"), "")


def test_the_catalogue_has_one_file_per_language_and_only_texts():
    files = sorted(p.name for p in resources.files("ecgpilot.messages").iterdir() if p.name.endswith(".toml"))
    assert files == sorted(f"{lg}.toml" for lg in messages.LANGS)

    def leaves(node: Mapping[str, Any]) -> list[Any]:
        return [x for v in node.values() for x in (leaves(v) if isinstance(v, Mapping) else [v])]

    values = leaves(messages.catalogue("fr"))
    assert len(values) > 500 and all(isinstance(v, str) for v in values)
    assert set(messages.catalogue("fr")) == {"web", "reading", "analysis", "pdf", "quality", "tracing", "pilot",
                                             "ins", "compare", "store"}


def test_the_check_finds_a_missing_translation():
    assert _same_shape({"x": "a {n}"}, {"x": "b"}, "") == ["x: placeholders ['n'] (fr) vs [] (en)"]
    assert _same_shape({"a": "x", "b": "y"}, {"a": "x"}, "") == ["b: only in fr"]
    assert _same_shape({"s": {"a": "x"}}, {"s": {"a": " "}}, "") == ["s.a: empty text"]
    assert _same_shape({"web": {"refusal": {"a": "x"}}}, {"web": {"refusal": {"a": "x {id}"}}}, "") == []
    assert _same_shape({"web": {"other": {"a": "x"}}}, {"web": {"other": {"a": "x {id}"}}}, "") == \
        ["web.other.a: placeholders [] (fr) vs ['id'] (en)"]


def test_lookups_return_the_texts_verbatim():
    assert messages.text("web.login", "fr") == "Connexion"
    assert messages.text("web.login", "en") == "Log in"
    assert messages.text("quality.reason.flat", "fr", lead="V2") == \
        "Dérivation V2 plate (électrode débranchée ou mauvais contact ?)."
    assert messages.section("pdf", "en")["levels"]["soon"] == "cardiology advice soon"
    assert messages.text("web.ev_ref", "fr") == "IA \\ réf."          # a backslash survives TOML


def test_a_missing_key_or_language_is_a_clear_error():
    with pytest.raises(messages.MissingTextError, match=r"'web\.no_such_key'.*in no language"):
        messages.text("web.no_such_key", "en")
    with pytest.raises(ConfigError, match=r"Unknown language 'de'; accepted: fr, en"):
        messages.text("web.login", "de")
    with pytest.raises(messages.MissingTextError, match="is a section"):
        messages.text("pdf.levels", "fr")


def test_a_key_in_one_language_only_names_the_language_that_has_it(monkeypatch):
    fr = dict(messages.catalogue("fr"))
    fr["web"] = {**fr["web"], "only_french": "Seulement en français"}
    real = messages.catalogue

    def fake(lang: str) -> Mapping[str, Any]:
        return fr if lang == "fr" else real(lang)

    monkeypatch.setattr(messages, "catalogue", fake)
    with pytest.raises(messages.MissingTextError, match=r"'web\.only_french' in 'en' \(the key is only in fr\)"):
        messages.text("web.only_french", "en")


def test_the_web_page_falls_back_to_french_with_a_logged_warning(monkeypatch, caplog):
    """In production a page never fails on a missing text: French (or the key) and a warning."""
    from ecgpilot.web import i18n

    fr = dict(messages.catalogue("fr"))
    fr["web"] = {**fr["web"], "only_french": "Seulement en français"}
    real = messages.catalogue
    monkeypatch.setattr(messages, "catalogue", lambda lang: fr if lang == "fr" else real(lang))
    with caplog.at_level(logging.WARNING, logger="ecgpilot.web.i18n"):
        assert i18n.t("only_french", "en") == "Seulement en français"
        assert i18n.t("nowhere", "en") == "nowhere"
        assert i18n.t("login", "de") == "Connexion"
    assert [r.levelno for r in caplog.records] == [logging.WARNING] * 3
    assert "'web.only_french'" in caplog.records[0].getMessage()
    assert i18n.t("login", "en") == "Log in" and i18n.TEXT["login"]["fr"] == "Connexion"


def test_a_page_asking_for_a_section_gets_the_key_not_an_error(caplog):
    """``t("pilot", lang)`` names a section of the catalogue, not a text: the key and a warning, never a 500
    (the French fallback used to read the section again and raise); a dotted key still reads its text."""
    from ecgpilot.web import i18n

    with caplog.at_level(logging.WARNING, logger="ecgpilot.web.i18n"):
        assert [i18n.t("pilot", lg) for lg in ("en", "fr", "de")] == ["pilot"] * 3
    said = [r.getMessage() for r in caplog.records]     # "de": the unknown language, then the section
    assert len(said) == 4 and sum("'web.pilot' is a section" in m for m in said) == 3
    assert i18n.t("pilot.ci", "en") == "95% CI" and i18n.t("pilot.ci", "fr") == "IC 95 %"


def test_former_tables_are_views_of_the_catalogue():
    from ecgpilot.interpret.catalogue import AI_LABELS_FR, STATEMENT_KINDS, STATEMENTS
    from ecgpilot.pilot import followup
    from ecgpilot.web import i18n

    assert set(STATEMENTS) == set(STATEMENT_KINDS) == set(messages.section("reading.statement", "en"))
    assert STATEMENTS["lbbb"] == ("conduction", "soon", "Bloc de branche gauche complet",
                                  "Complete left bundle branch block")
    assert dict(AI_LABELS_FR)["PRC(S)"] == "extrasystole(s)"
    assert set(i18n.TEXT) == {k for k, v in messages.section("web", "en").items() if isinstance(v, str)}
    assert followup.DIAGNOSES["lvh"] == {"fr": "Hypertrophie ventriculaire gauche", "en": "Left ventricular hypertrophy"}


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


def _language_dicts(path: Path) -> list[ast.Dict]:
    """The dict literals keyed by both "fr" and "en" (a table of texts per language, or one entry of it)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Dict):
            keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
            if {"fr", "en"} <= keys:
                out.append(node)
    return out


def _language_tables(path: Path) -> list[int]:
    return [node.lineno for node in _language_dicts(path)]


def test_the_detector_finds_a_language_table(tmp_path):
    src = tmp_path / "m.py"
    src.write_text('X = 1\nT = {"fr": {"a": "b"}, "en": {"a": "c"}}\nY = {"fr": 1}\n')
    assert _language_tables(src) == [2]


def _inline_pairs(path: Path) -> list[int]:
    """Lines of FR/EN pairs written in the code: a ``{"fr": …, "en": …}`` dict, a call of a method named
    ``fr`` with two arguments (the former ``ctx.fr("…", "…")``), a call given the language and two texts
    (the former ``_msg(lang, "…", "…")`` of the web services), a call given a French text as ``fr=``
    (the former ``Conflict("English…", fr="Français…")`` refusals; ``fr=fault.fr``, passing an exception's
    own words on, is not a text), or a conditional expression on the language
    (``lang == "fr"``, or a flag named ``fr``) whose two branches are texts."""
    lines = _language_tables(path)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "fr" \
                and len(node.args) == 2:
            lines.append(node.lineno)
        elif isinstance(node, ast.Call) and any(isinstance(x, ast.Name) and x.id == "lang" for x in node.args) \
                and sum(_is_text(x) for x in node.args) >= 2:
            lines.append(node.lineno)
        elif isinstance(node, ast.Call) and any(k.arg == "fr" and _holds_text(k.value) for k in node.keywords):
            lines.append(node.lineno)
        elif isinstance(node, ast.IfExp) and ("lang" in ast.unparse(node.test) or ast.unparse(node.test) == "fr") \
                and _is_text(node.body) and _is_text(node.orelse):
            lines.append(node.lineno)
    return sorted(lines)


def _is_text(node: ast.expr) -> bool:
    """A string literal (or f-string) of words, not a name or punctuation (``"message_fr"``, ``" : "``)."""
    parts = [node] if isinstance(node, ast.Constant) else node.values if isinstance(node, ast.JoinedStr) else []
    literal = "".join(p.value for p in parts if isinstance(p, ast.Constant) and isinstance(p.value, str))
    return sum(c.isalpha() for c in literal) >= 3 and not literal.isidentifier()


def _holds_text(node: ast.expr) -> bool:
    """Whether an expression is, or is built from, a text (``"…" + f"…"``, ``("…" if x else "…")``); a text
    a call gives back (``messages.text(…)``) is not written here."""
    if isinstance(node, ast.BinOp):
        return _holds_text(node.left) or _holds_text(node.right)
    if isinstance(node, ast.IfExp):
        return _holds_text(node.body) or _holds_text(node.orelse)
    return _is_text(node)


def test_the_pair_detector_finds_each_kind_of_inline_pair(tmp_path):
    src = tmp_path / "m.py"
    src.write_text('a = ctx.fr("oui", "yes")\n'
                   'b = f"Nouveau : {x}" if lang == "fr" else f"New: {x}"\n'
                   'c = {"fr": "oui", "en": "yes"}\n'
                   'sep = " : " if lang == "fr" else ": "\n'          # typography, not a text
                   'm = "message_fr" if lang == "fr" else "message_en"\n'   # a field name
                   'd = ctx.say("note.axis", axis=3)\n'
                   'e = _msg(lang, f"Compte {n} introuvable.", f"account {n} not found.")\n'
                   'f = _msg(lang, "account_unknown", n=3)\n'
                   'g = Conflict(f"study {s} is signed.", fr="Le compte rendu est signé.")\n'
                   'h = X(f"over {n} bytes", fr=(f"Le dépôt fait {n}, " if n else "Le dépôt dépasse ") + "la limite")\n'
                   'i = type(f)(f"cannot be written: {f}", fr=f.fr)\n'          # the fault's own French, passed on
                   'j = Conflict.said("no_file")\n'
                   'k = Invalid(msg, fr="Choisissez un cardiologue.")\n'
                   'm = cls(text("web.refusal.x", "en"), fr=text(f"web.refusal.{key}", "fr"))\n')   # read, not written
    assert _inline_pairs(src) == [1, 2, 3, 7, 9, 10, 13]
    assert not _inline_pairs(PACKAGE / "messages" / "__init__.py")


#: The only modules of the package allowed to hold a FR/EN pair, each because what it holds is not a text
#: of the interface (path under src/ecgpilot -> why). Empty: every table and ``lang == "fr"`` sentence
#: the scan can see is in the catalogue. Still outside it, and invisible to this scan (see docs/i18n.md):
#: the CDA export's French-only measure names (``export/cda.py`` ``_MEASURE_FR``, one language, the
#: document is fr-FR), the pilot's evaluation report and plots (one document carrying both languages side
#: by side, ``pilot/report.py``, ``pilot/plots.py``) and the French tariff names of ``pilot.costs``.
NOT_UI_TEXT: dict[str, str] = {}


def test_no_text_table_or_inline_pair_left_anywhere_in_the_package():
    """The whole package (src/ecgpilot/**, the catalogue's loader aside): no ``{"fr": …, "en": …}`` table,
    no ``ctx.fr("…", "…")`` and no ``"…" if lang == "fr" else "…"`` sentence outside :data:`NOT_UI_TEXT`."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith("messages/") or rel in NOT_UI_TEXT:
            continue
        lines = _inline_pairs(path)
        if lines:
            found[rel] = lines
    assert not found, found
    assert all((PACKAGE / rel).exists() and why.strip() for rel, why in NOT_UI_TEXT.items())


def test_the_scan_sees_the_web_package(tmp_path):
    """The scan walks the routes and services too (the former home of the pilot's and history's tables)."""
    scanned = {p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")}
    assert {"web/routes/pilot.py", "web/services/history.py", "web/services/identity.py",
            "web/services/studies.py", "ins.py", "export/cda.py"} <= scanned


def test_the_reading_evidence_comes_from_the_catalogue():
    """The rules' evidence and notes are catalogue texts (``Context.say``), formatted the same in both
    languages; a P–QRS relation the catalogue does not name is shown as it is."""
    from ecgpilot.interpret.context import AIStatement, build_context
    from ecgpilot.interpret import THRESHOLDS
    from ecgpilot.interpret.rules.rhythm import _rhythm_ev

    doc = {"measurements": {"heart_rate_bpm": 72.0, "rhythm": {"av_relation": "wenckebach",
                                                               "p_before_qrs_share": 0.5}}}
    fr, en = (build_context(doc, lg, THRESHOLDS) for lg in ("fr", "en"))
    assert fr.say("evidence.rate", hr=72.4) == "fréquence 72/min" and en.say("evidence.rate", hr=72.4) == "rate 72/min"
    s = AIStatement("LBBB_X", 0.8734, True, 0.5, "some block")
    assert en.ev_ai(s)["text"] == "some block (calibrated AI probability 0.87)"
    assert fr.ev_ai(s)["text"] == "some block (probabilité IA calibrée 0.87)"
    assert [e["text"] for e in _rhythm_ev(fr)] == [
        "onde P avant 50 % des QRS", "relation P-QRS : allongement progressif de PR puis onde P bloquée"]
    odd = build_context({"measurements": {"rhythm": {"av_relation": "3:2"}}}, "en", THRESHOLDS)
    assert [e["text"] for e in _rhythm_ev(odd)] == ["P-QRS relation: 3:2"]
    assert not hasattr(fr, "fr")
    with pytest.raises(messages.MissingTextError, match=r"'reading\.note\.nothing'"):
        fr.say("note.nothing")


def test_ins_and_compare_texts_come_from_the_catalogue():
    from ecgpilot import compare, ins

    assert ins.status_label("validee", "en") == "Validated" and ins.STATUS_LABELS["recuperee"]["fr"] == "Récupérée"
    with pytest.raises(ins.InsError) as err:
        ins.normalize_ins("1234567890123AB")
    assert err.value.message("fr") == "La clé de l'INS « 1234567890123AB » (« AB ») doit être formée de deux chiffres."
    assert str(err.value) == err.value.message("en") == "INS '1234567890123AB': the key 'AB' must be two digits."
    assert ins.InsiUnavailable("x").fr.startswith("Le téléservice INSi n'est pas joignable")
    prev = {"measurements": {"heart_rate_bpm": 60.0}}
    now = {"measurements": {"heart_rate_bpm": 90.0}}
    texts = [c["text"] for lg in ("fr", "en") for c in compare.serial_changes(prev, None, now, None, lg)]
    assert texts == ["FC 60 → 90 /min (+30)", "HR 60 → 90 /min (+30)"]


def test_a_text_may_have_a_field_named_key_or_lang():
    assert messages.text("ins.error.key", "en", value="1", key="45", expected="11").startswith("INS '1': key 45 ")


def test_the_web_services_texts_come_from_the_catalogue():
    """The pilot pages, the history sentences, the identity check, the refusal to sign, the password
    refusals and the INS identity documents: verbatim catalogue texts, French for ``fr``, English else."""
    from types import SimpleNamespace

    from ecgpilot import ins
    from ecgpilot.store.models import StudyEvent
    from ecgpilot.web.routes import pilot
    from ecgpilot.web.services import history, identity, studies

    assert pilot.pt("ci", "fr") == "IC 95 %" and pilot.pt("ci", "en") == "95% CI"
    assert set(pilot.TEXT) == set(messages.section("web.pilot", "fr")) and pilot.TEXT["never"]["en"] == "never (control)"
    event = StudyEvent(action="statement", before={"text": "A"}, after={"decision": "pending", "text": "A"})
    assert history.sentence(event, "dr X", "fr") == "Dr X a remis « à décider » l'énoncé « A »"
    assert history.sentence(event, "dr X", "en") == "Dr X set back to “to decide” the statement “A”"
    changed = StudyEvent(action="identity", before={"sex": "F", "zz": 1}, after={"sex": "M", "zz": 2})
    assert history.sentence(changed, "x", "de") == "X changed the patient's identity (sex, zz)"
    study = SimpleNamespace(family_name="D", given_names=None, birth_date=None, sex="F", ins=None)
    assert identity.missing_traits(study, "qualifiee", "fr") == ["prénoms", "date de naissance", "INS"]
    check = {"by_name": "Dr X", "at": "2026-01-02T03:04:05", "id_document": "cni", "insi": "teleservice"}
    assert identity.check_summary(check, "fr") == ("Vérifiée par Dr X le 2026-01-02 03:04 UTC : carte nationale "
                                                   "d'identité ; Appel du téléservice INSi depuis ecgpilot.")
    assert identity.check_summary(check, "en") == ("Verified by Dr X on 2026-01-02 03:04 UTC: national identity "
                                                   "card ; INSi teleservice called from ecgpilot.")   # " ; " in both, as before
    assert list(ins.ID_DOCUMENTS) == ["cni", "passeport", "titre_sejour", "livret_famille", "acte_naissance"]
    assert ins.ID_DOCUMENTS["passeport"] == {"fr": "Passeport", "en": "Passport"}
    assert list(ins.INSI_SOURCES) == ["teleservice", "practice_software"]
    draft = {"statements": [{"id": "a", "decision": "pending", "text": "T"}, {"id": "b", "decision": "pending",
                                                                             "text": "U"}], "urgency": {}}
    assert str(studies.not_ready(draft, "fr")).startswith(
        "Le compte rendu n'est pas signé : 2 énoncé(s) à décider (« T » ; « U ») et l'urgence à choisir. ")
    assert str(studies.not_ready(draft, "en")).startswith(
        "The report is not signed: 2 statement(s) to decide (“T”; “U”) and the urgency to choose. ")


def _said_calls(path: Path) -> list[tuple[int, list[str], set[str] | None]]:
    """The ``X.said(key, field=…)`` calls of a module: line, the keys (a constant, or both branches of a
    conditional expression) and the field names passed (``None`` for a ``**fields`` splat)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "said" \
                and node.args:
            first = node.args[0]
            branches = [first.body, first.orelse] if isinstance(first, ast.IfExp) else [first]
            keys = [b.value for b in branches if isinstance(b, ast.Constant) and isinstance(b.value, str)]
            if len(keys) != len(branches):
                keys = ["<not a constant: " + ast.unparse(first) + ">"]
            names = {k.arg for k in node.keywords if k.arg is not None}
            out.append((node.lineno, keys, None if any(k.arg is None for k in node.keywords) else names))
    return out


def _said_problems(package: Path) -> list[str]:
    """Each ``.said(key, …)`` call of the package against the catalogue (``store/`` reads ``store.health``, the
    rest ``web.refusal``): the key exists in both languages and the call passes every field of both texts;
    and every key of those sections is said somewhere."""
    problems, used = [], set()
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package).as_posix()
        where = "store.health" if rel.startswith("store/") else "web.refusal"
        for line, keys, names in _said_calls(path):
            for key in keys:
                used.add(f"{where}.{key}")
                texts = [messages.section(where, lg).get(key) for lg in messages.LANGS]
                if not all(isinstance(t, str) for t in texts):
                    problems.append(f"{rel}:{line}: no text {where}.{key} in every language")
                elif names is None:
                    problems.append(f"{rel}:{line}: {key} said with **fields (name them)")
                elif missing := set().union(*(_fields(t) for t in texts)) - names:
                    problems.append(f"{rel}:{line}: {key} lacks the field(s) {sorted(missing)}")
    every = {f"{where}.{k}" for where in OWN_FIELDS for k in messages.section(where, "fr")}
    problems += [f"{key}: never said" for key in sorted(every - used)]
    return problems


def test_every_refusal_is_said_with_the_fields_of_both_texts():
    """``Conflict.said("key", id=…)`` formats both languages with the same fields: a field of either text
    that a call does not pass would be a ``KeyError`` (an error 500) instead of the refusal."""
    assert not _said_problems(PACKAGE)


def test_the_said_check_finds_a_missing_field_key_or_unused_text(tmp_path):
    pkg = tmp_path / "ecgpilot"
    (pkg / "web").mkdir(parents=True)
    (pkg / "store").mkdir()
    (pkg / "web" / "a.py").write_text('Conflict.said("amend_unsigned", id=3)\n'
                                      'Invalid.said("no_file" if x else "no_such_refusal")\n'
                                      'Invalid.said("no_rpps", **kw)\n'
                                      'Invalid.said(key)\n')
    (pkg / "store" / "b.py").write_text('StorageFull.said("full", detail="")\n')
    problems = _said_problems(pkg)
    assert problems[:4] == ["web/a.py:1: amend_unsigned lacks the field(s) ['status']",
                            "web/a.py:2: no text web.refusal.no_such_refusal in every language",
                            "web/a.py:3: no_rpps said with **fields (name them)",
                            "web/a.py:4: no text web.refusal.<not a constant: key> in every language"]
    assert "store.health.full: never said" not in problems and "store.health.damaged: never said" in problems
    assert "web.refusal.no_file: never said" not in problems


def test_the_refusals_come_from_the_catalogue_verbatim():
    """A refusal says the catalogue's texts: English for ``str()`` and the API, French on the French page;
    a byte count is a French size in French (``{n:size}``)."""
    from ecgpilot.store.health import storage_full
    from ecgpilot.web.services.common import Conflict
    from ecgpilot.web.services.upload import Size, group_upload

    err = Conflict.said("amend_unsigned", id=3, status="to_read")
    assert str(err) == err.message("en") == "study 3 is to_read; only a signed study can be amended."
    assert err.message("fr") == "Ce compte rendu n'est pas signé : il se modifie directement, sans amendement."
    with pytest.raises(Exception) as big:
        group_upload([("a.scp", b"1" * 300_000)], max_bytes=200_000)
    assert str(big.value) == "upload of 300000 bytes is over the limit of 200000 bytes."
    assert big.value.message("fr").startswith("Le dépôt fait 0,3 Mo, au-delà de la limite de 0,2 Mo : ")
    assert f"{Size(2_500_000)} {Size(2_500_000):size} {Size(512):size}" == "2500000 2,5 Mo 512 octets"
    assert str(storage_full("disk")).startswith("storage full: nothing was lost, the change was not made (disk). ")
    assert storage_full().message("fr").startswith("Stockage plein : rien n'a été perdu")


def test_no_template_writes_its_texts_once_per_language_with_if_fr():
    """Short texts are catalogue keys (``t("key", lang)``), prose with its markup one template per language
    (``model_card.fr.html``, ``model_card.en.html``): no ``{% if fr %}…{% else %}…{% endif %}`` block of texts
    (typography chosen by language, ``{{ " :" if lang == "fr" else ":" }}``, stays)."""
    import re

    block = re.compile(r"""\{%-?\s*(?:if|set)\s+(?:fr\b|lang\s*==\s*["']fr["'])""")
    templates = PACKAGE / "web" / "templates"
    found = {p.name: n for p in sorted(templates.glob("*.html")) if (n := len(block.findall(p.read_text())))}
    assert not found, found
    assert block.search('{% if fr %}Oui{% else %}Yes{% endif %}') and block.search('{% set fr = lang == "fr" %}')
    ids = {lg: re.findall(r'id="([^"]+)"', (templates / f"model_card.{lg}.html").read_text()) for lg in messages.LANGS}
    assert ids["fr"] == ids["en"] and "mc-urgency" in ids["fr"]      # the same page, section by section
