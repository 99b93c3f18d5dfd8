"""``ecgpilot pilot …``: protocol create/show/register, randomise, import-activity, tariffs, analyse, simulate.

Thin: parses arguments, opens the database, calls :mod:`ecgpilot.pilot.service` and
:mod:`ecgpilot.pilot.evaluate`, commits. Pseudonyms use the key derived from the web app's secret
(``<data-dir>/secret_key``), the same derivation as the evaluator's pages, so both give the same pseudonyms.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from ecgpilot.errors import ConfigError

__all__ = ["add_pilot_commands", "pseudonym_key", "DESIGN_CHOICES", "UPTAKE_CHOICES"]

# the same as protocol.DESIGNS and costs.UPTAKE_SCENARIOS (a test checks), so that building the parser stays light
DESIGN_CHOICES = ("stepped_wedge", "parallel")
UPTAKE_CHOICES = ("slow", "medium", "fast")


def pseudonym_key(secret: str) -> bytes:
    """The key of the evaluator's pseudonyms from the app's secret (as ``web.deps.pseudonym_key``)."""
    return hashlib.sha256(f"ecgpilot-pseudonyms:{secret}".encode()).digest()


def _key(args: argparse.Namespace) -> bytes:
    secret = os.environ.get("ECGPILOT_SECRET_KEY")
    if not secret:
        path = Path(args.data_dir) / "secret_key"
        if not path.is_file():
            raise ConfigError(f"no pseudonym key: {path} does not exist; give --data-dir (the web app's data folder) "
                              "or set ECGPILOT_SECRET_KEY.")
        secret = path.read_text().strip()
    return pseudonym_key(secret)


def _open(args: argparse.Namespace) -> tuple[Any, Any]:
    from sqlalchemy.orm import Session

    from ecgpilot import audit
    from ecgpilot.store.pilot import ensure_pilot_schema

    engine = audit.open_audit(args.db, must_exist=True)
    ensure_pilot_schema(engine)
    return engine, Session(engine, expire_on_commit=False)


def _actor(args: argparse.Namespace) -> Any:
    from ecgpilot.pilot.service import Actor

    return Actor(args.actor, "evaluator")


def _cmd_protocol(args: argparse.Namespace) -> int:
    from ecgpilot.pilot import protocol as proto
    from ecgpilot.pilot import service

    _engine, db = _open(args)
    with db:
        if args.protocol_command == "create":
            if args.file:
                p = proto.Protocol.from_dict(json.loads(Path(args.file).read_text(encoding="utf-8")))
            else:
                p = proto.Protocol(name=args.name, design=args.design, start_month=args.start_month,
                                   period_months=args.period_months, n_periods=args.n_periods,
                                   strata_by=args.strata_by, baseline_months=args.baseline_months)
            row = service.save_protocol(db, p, _actor(args))
            db.commit()
            print(f"protocol {p.name!r} saved (draft), sha256 {row.content_sha256}")
        elif args.protocol_command == "show":
            p, row = service.load_protocol(db, args.name)
            al, st = service.allocation_of(db, row)
            print(json.dumps({"protocol": p.to_dict(), "status": row.status, "protocol_sha256": row.content_sha256,
                              "seed": row.seed, "allocation_sha256": row.allocation_sha256,
                              "registration_sha256": row.registration_sha256,
                              "registered_at": str(row.registered_at) if row.registered_at else None,
                              "allocation": [{"practice_id": k, "stratum": st[k], "crossover_period": v}
                                             for k, v in sorted(al.items())]}, indent=2, ensure_ascii=False))
        else:
            h = service.register_protocol(db, args.name, _actor(args))
            db.commit()
            print(f"protocol {args.name!r} registered and frozen; registration sha256 {h}")
    return 0


def _cmd_randomise(args: argparse.Namespace) -> int:
    import csv

    from ecgpilot.pilot import service

    _engine, db = _open(args)
    with db:
        if args.strata:
            with open(args.strata, encoding="utf-8") as f:
                strata = {int(r["practice_id"]): r["stratum"] for r in csv.DictReader(f)}
        else:
            strata = service.practice_sizes(db)
        al = service.randomise_practices(db, args.name, args.seed, strata, _actor(args))
        db.commit()
    for pid, c in sorted(al.items()):
        print(f"practice {pid}\tstratum {strata[pid]}\tAI on from period {c if c is not None else 'never'}")
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from ecgpilot.pilot import service

    data = Path(args.file).read_bytes()
    _engine, db = _open(args)
    with db:
        summary = service.import_activity(db, data, _key(args), _actor(args))
        db.commit()
    print(f"imported {summary['rows']} rows ({summary['doctors']} doctors, {summary['first_month']}…{summary['last_month']}, "
          f"{summary['acts']} ECG acts), file sha256 {summary['source_sha256']}")
    return 0


def _tariffs(args: argparse.Namespace) -> Any:
    from ecgpilot.pilot import costs

    if getattr(args, "tariffs", None):
        return costs.Tariffs.from_dict(json.loads(Path(args.tariffs).read_text(encoding="utf-8")))
    return costs.DEFAULT_TARIFFS


def _cmd_tariffs(args: argparse.Namespace) -> int:
    from ecgpilot.pilot import costs

    text = json.dumps(costs.DEFAULT_TARIFFS.to_dict(), indent=2, ensure_ascii=False)
    if args.write:
        Path(args.write).write_text(text + "\n", encoding="utf-8")
        print(f"default tariffs written to {args.write}: edit the values, keep the sources, pass it with --tariffs")
    else:
        print(text)
    return 0


def _cmd_analyse(args: argparse.Namespace) -> int:
    from ecgpilot import audit
    from ecgpilot.pilot import evaluate, service

    key = _key(args)
    engine, db = _open(args)
    with db:
        p, row = service.load_protocol(db, args.name)
        al, st = service.allocation_of(db, row)
        if not al:
            raise ConfigError(f"protocol {args.name!r} has no allocation; randomise it first.")
        panel = service.volume_panel(db, p, al, key)
        rows = service.study_rows(db, p, al, key)
        tariffs = _tariffs(args)
        res = evaluate.evaluate(p, al, panel, rows, tariffs, n_gps=args.n_gps, uptake=args.uptake, seed=args.seed,
                                gp_sensitivity=args.gp_sensitivity)
        res["registration"] = {"status": row.status, "registration_sha256": row.registration_sha256,
                               "allocation_sha256": row.allocation_sha256, "seed": row.seed}
        labels = {pid: service.practice_label(pid, key) for pid in al}
        written = evaluate.write_outputs(Path(args.out), res, p, al, panel, rows, tariffs, labels, st,
                                         res["registration"])
        audit.append(engine, actor_id=args.actor, actor_role="evaluator", action="export", target=f"pilot_protocol:{row.id}",
                     details={"pilot": "analysis_export", "pseudonymised": True, "files": len(written["written"])})
    _print_summary(res)
    print(f"written to {args.out}: {', '.join(written['written'])}")
    return 0


def _print_summary(res: dict[str, Any]) -> None:
    lmm = res["primary"].get("lmm")
    if lmm:
        print(f"primary (ECG per GP per month, AI on − off): {lmm['estimate']:.2f} "
              f"[95% CI {lmm['ci_low']:.2f}; {lmm['ci_high']:.2f}], {lmm['n_clusters']} practices, {lmm['n_obs']} GP-months")
    gp = res["primary"].get("lmm_gp")
    if gp:
        print(f"sensitivity, random GP within practice: {gp['estimate']:.2f} [95% CI {gp['ci_low']:.2f}; {gp['ci_high']:.2f}]")
    pois = res["primary"].get("poisson")
    if pois:
        print(f"rate ratio: {pois['estimate']:.3f} [95% CI {pois['ci_low']:.3f}; {pois['ci_high']:.3f}]")
    if res["primary"].get("error"):
        print(f"primary analysis: {res['primary']['error']}")


def _cmd_simulate(args: argparse.Namespace) -> int:
    from ecgpilot.pilot import analysis
    from ecgpilot.pilot import protocol as proto
    from ecgpilot.pilot.simulate import simulate_volume_panel

    p = proto.Protocol(name="simulation", start_month=args.start_month, period_months=args.period_months,
                       n_periods=args.n_periods, baseline_months=args.baseline_months)
    practices = [proto.Practice(i, "small" if i % 3 else "large") for i in range(1, args.practices + 1)]
    al = proto.randomise(p, practices, args.seed)
    panel = simulate_volume_panel(p, al, gps_per_practice=args.gps, base_rate=args.base_rate, effect=args.effect,
                                  seed=args.seed)
    e = analysis.stepped_wedge_lmm(panel[panel["period"].notna()])
    covered = e.ci_low <= args.effect <= e.ci_high
    print(f"simulated effect {args.effect:+.2f} ECG/GP/month; estimated {e.estimate:+.2f} "
          f"[95% CI {e.ci_low:+.2f}; {e.ci_high:+.2f}] — {'covered' if covered else 'NOT covered'}")
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        panel.to_csv(Path(args.out) / "simulated_volume.csv", index=False)
    return 0 if covered else 1


def _cmd_simulate_app(args: argparse.Namespace) -> int:
    # the one pilot command that reaches into the web app: it drives the real app in-process, as a GP's software would
    from ecgpilot.web.pilot_simulate import simulate_pilot

    r = simulate_pilot(Path(args.data_dir), Path(args.records), practices=args.practices, gps=args.gps,
                       n_periods=args.n_periods, per_month=args.per_month, effect=args.effect, seed=args.seed,
                       use_ai=not args.no_ai)
    print(f"{r.uploads} uploads through the API, {r.signed} signed, {r.opinions} tele-expertise answers, "
          f"{r.followups} follow-ups")
    _print_summary(r.results)
    print(f"simulated effect {r.effect:+.2f}: {'covered' if r.covered else 'NOT covered'} by the 95% CI")
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "results.json").write_text(json.dumps(r.results, indent=2, default=str), encoding="utf-8")
    return 0 if r.covered else 1


def add_pilot_commands(subparsers: Any) -> None:
    """Add ``ecgpilot pilot …`` to the CLI's subparsers (imports nothing heavy: the commands import what they use)."""

    p = subparsers.add_parser("pilot", help="the pilot's evaluation: protocol, randomisation, activity, analysis")
    sub = p.add_subparsers(dest="pilot_command", required=True)

    def common(q: argparse.ArgumentParser, key: bool = False) -> None:
        q.add_argument("--db", required=True, help="the app's database URL or SQLite file")
        q.add_argument("--actor", default="cli-evaluator", help="who acts (audit trail)")
        if key:
            q.add_argument("--data-dir", default="ecgpilot-data", help="the web app's data folder (its secret_key "
                           "gives the pseudonym key; or set ECGPILOT_SECRET_KEY)")

    pr = sub.add_parser("protocol", help="create, show or register (freeze) a protocol")
    psub = pr.add_subparsers(dest="protocol_command", required=True)
    c = psub.add_parser("create", help="create or update a draft protocol (from --file JSON or options)")
    common(c)
    c.add_argument("--file", help="protocol JSON (keys of ecgpilot.pilot.protocol.Protocol)")
    c.add_argument("--name", default="pilot")
    c.add_argument("--design", choices=DESIGN_CHOICES, default="stepped_wedge")
    c.add_argument("--start-month", default="2027-01", help="YYYY-MM, first month of period 0")
    c.add_argument("--period-months", type=int, default=3)
    c.add_argument("--n-periods", type=int, default=5)
    c.add_argument("--strata-by", default="size")
    c.add_argument("--baseline-months", type=int, default=12)
    for name, hlp in (("show", "the protocol, its hashes and its allocation"), ("register", "freeze protocol and allocation")):
        q = psub.add_parser(name, help=hlp)
        common(q)
        q.add_argument("--name", default="pilot")
    pr.set_defaults(func=_cmd_protocol)

    r = sub.add_parser("randomise", help="seeded stratified allocation of practices (draft protocol)")
    common(r)
    r.add_argument("--name", default="pilot")
    r.add_argument("--seed", type=int, required=True)
    r.add_argument("--strata", help="CSV practice_id,stratum (default: small/large by number of GPs)")
    r.set_defaults(func=_cmd_randomise)

    i = sub.add_parser("import-activity", help="import the insurer's activity CSV (doctor,month,ecg_acts,ccam_code)")
    common(i, key=True)
    i.add_argument("file")
    i.set_defaults(func=_cmd_import)

    t = sub.add_parser("tariffs", help="print or write the default tariff table (to edit)")
    t.add_argument("--write", help="file to write the JSON to")
    t.set_defaults(func=_cmd_tariffs)

    a = sub.add_parser("analyse", help="primary analysis, indicators, costs; results.json, plots and dataset in --out")
    common(a, key=True)
    a.add_argument("--name", default="pilot")
    a.add_argument("--out", required=True)
    a.add_argument("--tariffs", help="tariff table JSON (pilot tariffs --write)")
    a.add_argument("--n-gps", type=int, default=50_000, help="GPs of the national roll-out (budget impact)")
    a.add_argument("--uptake", choices=UPTAKE_CHOICES, default="medium")
    a.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    a.add_argument("--gp-sensitivity", action="store_true",
                   help="also fit the model with a random GP intercept within the practice (slower)")
    a.set_defaults(func=_cmd_analyse)

    s = sub.add_parser("simulate", help="simulate a stepped-wedge volume panel with a known effect and check it is recovered")
    s.add_argument("--practices", type=int, default=24)
    s.add_argument("--gps", type=int, default=3)
    s.add_argument("--effect", type=float, default=2.0)
    s.add_argument("--base-rate", type=float, default=10.0)
    s.add_argument("--start-month", default="2027-01")
    s.add_argument("--period-months", type=int, default=3)
    s.add_argument("--n-periods", type=int, default=5)
    s.add_argument("--baseline-months", type=int, default=6)
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--out")
    s.set_defaults(func=_cmd_simulate)

    sa = sub.add_parser("simulate-app", help="run a small pilot through the real app's API with LUDB records and a known "
                        "effect; check the evaluation recovers it")
    sa.add_argument("--data-dir", required=True, help="an empty folder for the simulated instance")
    sa.add_argument("--records", default="../shared/data/ludb", help="the LUDB folder (data/ and ludb.csv)")
    sa.add_argument("--practices", type=int, default=6)
    sa.add_argument("--gps", type=int, default=2)
    sa.add_argument("--n-periods", type=int, default=4)
    sa.add_argument("--per-month", type=float, default=3.0)
    sa.add_argument("--effect", type=float, default=2.0)
    sa.add_argument("--seed", type=int, default=1)
    sa.add_argument("--no-ai", action="store_true", help="the instance's AI off (faster; the volume effect is simulated)")
    sa.add_argument("--out")
    sa.set_defaults(func=_cmd_simulate_app)
