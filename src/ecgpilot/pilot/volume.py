"""ECG volume per GP per month (the primary outcome): the insurer's activity extract and the app's studies.

The insurer's extract, one CSV layout (comma or semicolon separated, UTF-8, header required)::

    doctor,month,ecg_acts,ccam_code
    10003456783,2026-01,14,DEQP003
    PS-7f3a…,2026-02,9,DEQP003

``doctor``: the RPPS (11 digits, Luhn key) or the insurer's pseudonym (``PS-`` then 6 to 64 letters,
digits, ``-`` or ``_``); ``month``: ``YYYY-MM``; ``ecg_acts``: integer 0…10 000; ``ccam_code``: ``DEQP003``
(12-lead ECG). :func:`parse_activity_csv` checks every row and refuses the whole file when any row is
wrong, each error naming the row, the column, the bad value and the accepted values. RPPS numbers are
pseudonymised (:func:`ecgpilot.audit.pseudonymise`, keyed) before anything is stored.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from ecgpilot import audit
from ecgpilot.errors import ConfigError
from ecgpilot.pilot.protocol import Protocol, ai_on, month_index, month_str, period_of

__all__ = ["COLUMNS", "CCAM_ECG", "ActivityRow", "ActivityImportError", "parse_activity_csv", "doctor_key",
           "rpps_is_valid", "build_panel", "MAX_ACTS", "pseudonym", "practice_funnel"]

COLUMNS = ("doctor", "month", "ecg_acts", "ccam_code")
CCAM_ECG = "DEQP003"
MAX_ACTS = 10_000
_PSEUDONYM = re.compile(r"^PS-[A-Za-z0-9_-]{6,64}$")
_MAX_ERRORS_SHOWN = 50


class ActivityImportError(ConfigError):
    """The activity file was refused; ``errors`` lists every bad cell (row, column, value, accepted)."""

    def __init__(self, message: str, errors: list[dict[str, str | int]]) -> None:
        super().__init__(message)
        self.errors = errors


@dataclass(frozen=True)
class ActivityRow:
    """One validated row: the doctor as given (RPPS or pseudonym), month, number of acts, CCAM code."""

    row: int
    doctor: str
    month: str
    ecg_acts: int
    ccam_code: str


def rpps_is_valid(s: str) -> bool:
    """11 digits whose last is the Luhn key of the first ten (the RPPS rule)."""
    if not (len(s) == 11 and s.isascii() and s.isdigit()):
        return False
    total = 0
    for i, ch in enumerate(reversed(s[:10])):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return (10 - total % 10) % 10 == int(s[10])


def pseudonym(prefix: str, value: str, key: bytes) -> str:
    """``prefix`` + the keyed pseudonym of ``value`` (:func:`ecgpilot.audit.pseudonymise`, 16 hex characters)."""
    return prefix + audit.pseudonymise(value, key).removeprefix("p:")


def doctor_key(doctor: str, key: bytes) -> str:
    """The stored pseudonym: an RPPS becomes its keyed hash (``R-`` + 16 hex); an insurer pseudonym is kept."""
    return pseudonym("R-", f"rpps:{doctor}", key) if rpps_is_valid(doctor) else doctor


def parse_activity_csv(data: bytes | str, *, first_month: str | None = None, last_month: str | None = None) -> list[ActivityRow]:
    """Validate the whole extract and return its rows, or raise :class:`ActivityImportError` listing every bad cell.

    ``first_month``/``last_month`` (``YYYY-MM``, optional) bound the accepted months.
    """
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ActivityImportError(f"the activity file is not UTF-8 (byte {exc.start}); export it as UTF-8 CSV.",
                                      [{"row": 0, "column": "", "value": "", "accepted": "UTF-8 text"}]) from None
    else:
        text = data.removeprefix("\ufeff")
    if not text.strip():
        raise ActivityImportError("the activity file is empty; expected a header "
                                  f"{','.join(COLUMNS)} and one row per doctor and month.",
                                  [{"row": 0, "column": "", "value": "", "accepted": ",".join(COLUMNS)}])
    first_line = text.splitlines()[0]
    delim = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delim)
    header = [h.strip().lower() for h in next(reader)]
    if header != list(COLUMNS):
        raise ActivityImportError(f"row 1 (header): columns {header} are not the expected {list(COLUMNS)} (in this order).",
                                  [{"row": 1, "column": "header", "value": delim.join(header), "accepted": ",".join(COLUMNS)}])
    lo = month_index(first_month) if first_month else None
    hi = month_index(last_month) if last_month else None
    errors: list[dict[str, str | int]] = []
    rows: list[ActivityRow] = []
    seen: dict[tuple[str, str], int] = {}

    def bad(row: int, column: str, value: str, accepted: str) -> None:
        errors.append({"row": row, "column": column, "value": value, "accepted": accepted})

    for n, cells in enumerate(reader, start=2):
        if not cells or all(not c.strip() for c in cells):
            continue
        if len(cells) != len(COLUMNS):
            bad(n, "(row)", delim.join(cells), f"{len(COLUMNS)} cells: {','.join(COLUMNS)}")
            continue
        doctor, month, acts, code = (c.strip() for c in cells)
        ok = True
        if not (rpps_is_valid(doctor) or _PSEUDONYM.match(doctor)):
            bad(n, "doctor", doctor, "an RPPS (11 digits, last one the Luhn key) or a pseudonym PS-xxxxxx (6–64 letters, digits, - or _)")
            ok = False
        try:
            mi = month_index(month)
            if (lo is not None and mi < lo) or (hi is not None and mi > hi):
                bad(n, "month", month, f"a month from {first_month or '…'} to {last_month or '…'}")
                ok = False
        except ConfigError:
            bad(n, "month", month, "YYYY-MM (e.g. 2026-03)")
            ok = False
        if not (acts.isascii() and acts.isdigit() and int(acts) <= MAX_ACTS):
            bad(n, "ecg_acts", acts, f"a whole number from 0 to {MAX_ACTS}")
            ok = False
        if code.upper() != CCAM_ECG:
            bad(n, "ccam_code", code, f"{CCAM_ECG} (12-lead ECG; other acts are not part of this extract)")
            ok = False
        if not ok:
            continue
        k = (doctor, month)
        if k in seen:
            bad(n, "doctor+month", f"{doctor} {month}", f"one row per doctor and month (already on row {seen[k]})")
            continue
        seen[k] = n
        rows.append(ActivityRow(n, doctor, month, int(acts), CCAM_ECG))
    if errors:
        shown = "; ".join(f"row {e['row']}, column {e['column']}: {e['value']!r} (accepted: {e['accepted']})"
                          for e in errors[:_MAX_ERRORS_SHOWN])
        more = f"; and {len(errors) - _MAX_ERRORS_SHOWN} more" if len(errors) > _MAX_ERRORS_SHOWN else ""
        raise ActivityImportError(f"the activity file was refused, nothing imported: {len(errors)} error(s): {shown}{more}.",
                                  errors)
    if not rows:
        raise ActivityImportError("the activity file has a header but no rows; nothing imported.",
                                  [{"row": 2, "column": "(row)", "value": "", "accepted": "at least one row"}])
    return rows


def _month_of(ts: datetime) -> str:
    return f"{ts.year:04d}-{ts.month:02d}"


def build_panel(protocol: Protocol, allocation: Mapping[int, int | None], gp_practice: Mapping[str, int],
                app_events: Iterable[tuple[str, datetime]], insurer: Iterable[tuple[str, str, int]],
                gp_months: Iterable[tuple[str, str]] | None = None) -> pd.DataFrame:
    """The GP × month panel of the primary outcome.

    ``gp_practice``: GP pseudonym → practice id (only GPs of allocated practices are kept);
    ``app_events``: (GP pseudonym, time of the ECG) for each study; ``insurer``: (GP pseudonym, month, acts).
    ``gp_months``: (GP, month) pairs known to be active (e.g. the GP's account existed) even without ECG.
    Months from ``baseline_months`` before the start to the end of the last period; between a GP's first and
    last month with data, a month absent from both sources counts as 0 ECG. ``n_ecg`` is the insurer's
    count when present (it counts every act billed, with or without the app), else the app's. Columns: see
    :data:`ecgpilot.pilot.dataset.DICTIONARY` (table ``volume``).
    """
    first = month_index(protocol.start_month) - protocol.baseline_months
    last = month_index(protocol.end_month)
    app: dict[tuple[str, int], int] = {}
    for gp, ts in app_events:
        m = ts.year * 12 + ts.month - 1
        if gp in gp_practice and first <= m <= last:
            app[(gp, m)] = app.get((gp, m), 0) + 1
    ins: dict[tuple[str, int], int] = {}
    for gp, month, n in insurer:
        m = month_index(month)
        if gp in gp_practice and first <= m <= last:
            ins[(gp, m)] = ins.get((gp, m), 0) + int(n)
    keys = set(app) | set(ins) | {(g, month_index(mm)) for g, mm in (gp_months or ())}
    spans: dict[str, tuple[int, int]] = {}
    for g, m in keys:
        a, b = spans.get(g, (m, m))
        spans[g] = (min(a, m), max(b, m))
    rows = []
    for g, (a, b) in sorted(spans.items()):
        pid = gp_practice[g]
        if pid not in allocation:
            continue
        for m in range(a, b + 1):
            month = month_str(m)
            n_app = app.get((g, m))
            n_ins = ins.get((g, m))
            p = period_of(protocol, month)
            rows.append({"gp": g, "practice": pid, "month": month, "period": p,
                         "crossover_period": allocation[pid],
                         "ai_on": int(bool(ai_on(protocol, allocation, pid, month))),
                         "n_app": 0 if n_app is None else n_app, "n_insurer": n_ins,
                         "n_ecg": n_ins if n_ins is not None else (n_app or 0),
                         "source": "insurer" if n_ins is not None else "app"})
    cols = ["gp", "practice", "month", "period", "crossover_period", "ai_on", "n_app", "n_insurer", "n_ecg", "source"]
    df = pd.DataFrame(rows, columns=cols)
    df["n_insurer"] = df["n_insurer"].astype("Int64")
    df["crossover_period"] = df["crossover_period"].astype("Int64")
    df["period"] = df["period"].astype("Int64")
    return df


def practice_funnel(panel: pd.DataFrame, z: tuple[float, float] = (1.96, 3.09)) -> list[dict[str, object]]:
    """Funnel plot data (Spiegelhalter 2005): for each practice, its GP-months ``n`` and mean ECGs per GP-month,
    against the overall mean λ with Poisson limits λ ± z·√(λ/n) at 95 % and 99.8 %; ``outside`` flags a
    practice beyond the 99.8 % limits. Over the pilot's periods only (baseline months left out)."""
    df = panel[panel["period"].notna() & (panel["period"] >= 0)]
    if df.empty:
        return []
    lam = float(df["n_ecg"].sum()) / len(df)
    out = []
    for pid, g in df.groupby("practice"):
        n = len(g)
        mean = float(g["n_ecg"].sum()) / n
        half95, half998 = (zz * (lam / n) ** 0.5 for zz in z)
        out.append({"practice": pid, "n": n, "mean": mean, "centre": lam, "lo95": lam - half95, "hi95": lam + half95,
                    "lo998": lam - half998, "hi998": lam + half998,
                    "outside": bool(mean < lam - half998 or mean > lam + half998)})
    return out
