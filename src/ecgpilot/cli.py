"""Command line: ``ecgpilot what|analyze|compare-models|serve|train ...``.

Every command but ``train`` works on a serving install (no PyTorch); ``train`` needs the ``[train]`` extra.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ecgpilot import __version__
from ecgpilot.errors import ECGPilotError

__all__ = ["main"]


def _cmd_what(args: argparse.Namespace) -> int:
    from ecgpilot.io import detect_format, read_ecg, reader_module

    from ecgpilot.io import resolve_path

    path = resolve_path(args.file)   # also a WFDB record name without extension
    fmt = detect_format(path)
    rec = read_ecg(path, format=fmt)
    info = {"file": str(path), "format": fmt, "description": reader_module(fmt).DESCRIPTION}
    info.update(rec.summary())
    if args.json:
        print(json.dumps(info, indent=2, default=str, ensure_ascii=False))
        return 0
    print(f"{path.name}: {info['description']} [{fmt}]")
    print(f"  leads ({rec.n_leads}): {', '.join(rec.leads)}")
    print(f"  sampling rate: {rec.fs:g} Hz, {rec.n_samples} samples, {rec.duration:.2f} s, units µV")
    if rec.start_time:
        print(f"  start: {rec.start_time.isoformat()}")
    src = rec.source
    if src.manufacturer or src.device:
        print(f"  device: {' '.join(x for x in (src.manufacturer, src.device) if x)}")
    if src.device_measurements:
        items = ", ".join(f"{k}={v:g}" for k, v in src.device_measurements.items())
        print(f"  device measurements: {items}")
    if src.device_statements:
        print(f"  device statements: {'; '.join(src.device_statements)}")
    pat = {k: v for k, v in rec.patient.to_dict().items() if v is not None}
    if pat:
        print(f"  patient: {', '.join(f'{k}={v}' for k, v in pat.items())}")
    return 0


def _cmd_analyze(args: argparse.Namespace) -> int:
    if (args.out is not None or len(args.paths) > 1 or Path(args.paths[0]).is_dir() or args.jobs != 1
            or args.engine != "local"):
        return _cmd_analyze_batch(args)
    from ecgpilot.analysis import analyze_file, format_text
    from ecgpilot.interpret import ai_labels, format_reading, interpret

    doc = analyze_file(Path(args.paths[0]), use_ai=not args.no_ai)
    doc["reading"] = interpret(doc, lang=args.lang)   # the same reading the web page shows
    if args.json:
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        print(format_text(doc, lang=args.lang, ai_labels=ai_labels(args.lang)))
        print()
        print(format_reading(doc["reading"]))
    return 0


def _cmd_analyze_batch(args: argparse.Namespace) -> int:
    from ecgpilot import batch
    from ecgpilot.errors import ConfigError

    if args.out is None:
        raise ConfigError("several files (or --jobs/--engine) make a batch: give --out RESULTS.parquet "
                          "for its table (one row per ECG).")
    if args.json:
        raise ConfigError("--json prints one file's analysis; a batch writes --out RESULTS.parquet instead.")
    batch._pyarrow()   # refuse before hours of work when the table cannot be written
    files = batch.expand_paths(args.paths)
    if not files:
        raise ConfigError(f"no ECG file found in {', '.join(args.paths)} (folders are searched for "
                          f"{', '.join(batch.ECG_SUFFIXES)}).")
    print(f"analysing {len(files)} file(s) with engine {args.engine}, {args.jobs} job(s)", file=sys.stderr)
    bar = None if args.quiet else batch.Progress(len(files))
    rows = batch.run_batch(files, use_ai=not args.no_ai, lang=args.lang, jobs=args.jobs, engine=args.engine,
                           ray_address=args.ray_address, on_row=None if bar is None else (lambda r: bar.update(r["ok"])))
    out = batch.write_parquet(rows, args.out)
    n_err = sum(1 for r in rows if not r["ok"])
    print(f"{len(rows)} rows written to {out} ({len(rows) - n_err} analysed, {n_err} errors)")
    return 0


def _cmd_compare_models(args: argparse.Namespace) -> int:
    from ecgpilot import batch

    result = batch.compare_runs(batch.read_parquet(args.a), batch.read_parquet(args.b))
    print(batch.format_comparison(result, limit=args.limit))
    if args.out:
        print(f"comparison of {len(result['records'])} records written to {batch.write_comparison_csv(result, args.out)}")
    return 0


#: ``serve`` arguments that are not settings (the others are fields of ecgpilot.web.settings.Settings).
_SERVE_NOT_SETTINGS = ("command", "func", "host", "port", "workers")


def _cmd_serve(args: argparse.Namespace) -> int:
    from ecgpilot.web.server import serve

    given = {k: v for k, v in vars(args).items() if k not in _SERVE_NOT_SETTINGS and v is not None}
    return serve(host=args.host, port=args.port, workers=args.workers, **given)


#: Modules of the ``[train]`` extra that ``ecgpilot train`` needs (import name → package).
TRAIN_MODULES: dict[str, str] = {"torch": "torch", "onnx": "onnx", "sklearn": "scikit-learn"}


def _importable(name: str) -> bool:
    """True when module ``name`` can be found, without importing it."""
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _cmd_train(args: argparse.Namespace) -> int:
    from ecgpilot.errors import ConfigError

    missing = [pkg for mod, pkg in TRAIN_MODULES.items() if not _importable(mod)]
    if missing:
        raise ConfigError(
            f"'ecgpilot train' needs the [train] extra; missing: {', '.join(missing)}. Install it with: "
            "pip install '.[train]' (from the source folder; or: bash scripts/setup web,train)"
        )
    from ecgpilot.train.cli import run_train

    return run_train(args)


def _cmd_audit(args: argparse.Namespace) -> int:
    from ecgpilot import audit

    engine = audit.open_audit(args.db, must_exist=True)
    if args.audit_command == "purge":
        key = args.key.encode() if args.key else None
        n = audit.purge(engine, older_than_days=args.days, actor_id=args.actor, key=key)
        print(f"purged {n} entries older than {args.days} days (checkpoint chained)")
        return 0
    ok, lines = audit.verify_instance(engine, data_dir=_data_dir_of(args), key=args.key.encode() if args.key else None,
                                      expected_head=args.expect_head)
    print("\n".join(lines))
    return 0 if ok else 1


def _cmd_check(args: argparse.Namespace) -> int:
    from ecgpilot.store.health import check_instance

    ok, lines = check_instance(args.db, Path(args.data_dir) if args.data_dir else None)
    print("\n".join(lines))
    print("instance OK" if ok else "instance NOT OK: see above")
    return 0 if ok else 1


def _data_dir_of(args: argparse.Namespace) -> Path | None:
    """The data folder holding the signed documents: ``--data-dir``, else the folder of a SQLite database file."""
    if getattr(args, "data_dir", None):
        return Path(args.data_dir)
    db = str(args.db)
    if "://" in db and not db.startswith("sqlite:///"):
        return None
    f = Path(db.removeprefix("sqlite:///"))
    return f.parent if f.is_file() else None


def _cmd_ai(args: argparse.Namespace) -> int:
    from ecgpilot import audit

    engine = audit.open_audit(args.db, must_exist=True)
    if args.state != "status":
        audit.set_ai_enabled(engine, args.state == "on", actor_id=args.actor, actor_role="admin", reason=args.reason)
    print(f"AI reading is {'enabled' if audit.ai_enabled(engine) else 'DISABLED (stop switch)'}")
    return 0


def _cmd_backup(args: argparse.Namespace) -> int:
    from ecgpilot import backup

    if args.backup_command == "create":
        manifest = backup.create_backup(args.db, args.files, args.out)
        print(f"backup written to {args.out}: database + {len(manifest['files'])} files")
    else:
        backup.restore_backup(args.archive, args.db, args.files, overwrite=args.overwrite)
        print(f"restored {args.archive} into {args.db} and {args.files}")
    return 0


def _cmd_db(args: argparse.Namespace) -> int:
    from ecgpilot.store import open_database
    from ecgpilot.store.locks import schema_lock
    from ecgpilot.store.migrate import current_revision, downgrade, head_revision, history, migrate

    if args.db_command == "history":
        print("\n".join(history()))
        return 0
    engine, _ = open_database(args.db if "://" in args.db else f"sqlite:///{Path(args.db).resolve()}")
    try:
        if args.db_command == "upgrade":
            with schema_lock(engine):
                applied = migrate(engine)
            print(f"applied: {', '.join(f'{v:04d}' for v in applied) or 'nothing (already current)'}")
        elif args.db_command == "downgrade":
            downgrade(engine, args.revision)
        print(f"schema revision {current_revision(engine) or 'none'} (this ecgpilot: {head_revision()})")
    finally:
        engine.dispose()
    return 0


def _cmd_user(args: argparse.Namespace) -> int:
    import getpass
    import os

    from ecgpilot.web.server import change_password, create_user

    password = os.environ.get("ECGPILOT_NEW_PASSWORD") or getpass.getpass(f"password for {args.email}: ")
    if args.user_command == "passwd":
        ended = change_password(args.email, password, db=args.db)
        print(f"password of {args.email.strip().lower()} changed; {ended} login session(s) ended")
        return 0
    create_user(args.email, password, name=args.name, role=args.role, practice=args.practice, db=args.db, rpps=args.rpps)
    print(f"account {args.email.strip().lower()} created (role {args.role}, practice {args.practice!r})")
    return 0


def _cmd_outbox(args: argparse.Namespace) -> int:
    from ecgpilot import audit
    from ecgpilot.errors import ConfigError
    from ecgpilot.export import mssante
    from ecgpilot.web.settings import smtp_config_from_env

    engine = mssante.open_outbox(audit.open_audit(args.db, must_exist=True))
    if args.outbox_command == "list":
        rows = mssante.outbox_entries(engine, status=args.status)
        for r in rows:
            err = f"  last error: {r['last_error']}" if r["last_error"] else ""
            print(f"{r['id']:>5}  {r['status']:<8} attempts={r['attempts']} next={r['next_attempt_at'] or '-'} "
                  f"target={r['target'] or '-'}{err}")
        print(f"{len(rows)} message(s)")
        return 0
    if args.outbox_command == "retry":
        mssante.retry_now(engine, args.id)
        print(f"outbox message {args.id} is due again")
        return 0
    smtp = smtp_config_from_env()
    if smtp is None:
        raise ConfigError("ECGPILOT_SMTP_HOST is not set; set the MSSanté server (ECGPILOT_SMTP_HOST, _PORT, _USER, "
                          "_PASSWORD, _CAFILE) before sending.")
    counts = mssante.process_outbox(engine, smtp, audit_actor=(args.actor, "admin"))
    print(f"sent {counts['sent']}, failed {counts['failed']}")
    return 0 if counts["failed"] == 0 else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ecgpilot", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"ecgpilot {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("what", help="identify a file's format and contents")
    p.add_argument("file")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_what)

    p = sub.add_parser("analyze", help="quality verdict, measurements and AI reading of one ECG file, "
                                       "or of many into a Parquet table (--out)")
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="ECG file or WFDB record name; several, or a folder (searched recursively), make a batch")
    p.add_argument("--json", action="store_true",
                   help="print the analysis document with its 'reading' block (docs/analysis-schema.md)")
    p.add_argument("--no-ai", action="store_true", help="skip the classifier")
    p.add_argument("--lang", choices=("fr", "en"), default="fr", help="language of the output and of the reading")
    p.add_argument("--out", default=None, metavar="RESULTS.parquet",
                   help="batch: write one row per ECG (file, sha256, measurements, lead matrix, reading, urgency, "
                        "AI outputs, versions; an unreadable file is a row with its error) to this Parquet file "
                        "(needs the [batch] extra: pyarrow)")
    p.add_argument("--jobs", type=_positive_int, default=1, metavar="N",
                   help="batch: analyse on N local processes (default 1; at most the CPU cores help)")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="batch: local processes (default) or Ray tasks (the [scale] extra; a local Ray instance "
                        "of --jobs CPUs, or the cluster at --ray-address / $RAY_ADDRESS)")
    p.add_argument("--ray-address", default=None, metavar="ADDRESS",
                   help="batch with --engine ray: the Ray cluster to use (e.g. ray://head:10001); the files must be "
                        "readable at the same paths on its workers")
    p.add_argument("--quiet", action="store_true", help="batch: no progress bar on stderr")
    p.set_defaults(func=_cmd_analyze)

    p = sub.add_parser("compare-models", help="compare two batch runs (Parquet files of 'analyze --out') record "
                                              "by record, matched on sha256: urgency and statement changes")
    p.add_argument("a", metavar="A.parquet", help="the reference run (e.g. the model in use)")
    p.add_argument("b", metavar="B.parquet", help="the candidate run (e.g. the new model version)")
    p.add_argument("--out", default=None, metavar="CHANGES.csv", help="also write one CSV row per record")
    p.add_argument("--limit", type=_positive_int, default=50, help="changed records listed on screen (default 50)")
    p.set_defaults(func=_cmd_compare_models)

    p = sub.add_parser("serve", help="start the web app",
                       description="Start the web app. Each option overrides its ECGPILOT_* variable, which overrides "
                                   "the default; every setting, with its variable, is in docs/settings.md.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1, help="app processes on the same database and data folder "
                                                             "(default 1; PostgreSQL advised above 1)")
    # the settings (ecgpilot.web.settings.Settings): dest is the field, None = not given (the variable or the default);
    # --hsts alone: one year (settings.HSTS_DEFAULT_S, checked by tests/test_settings.py)
    g = p.add_argument_group("settings (default: the ECGPILOT_* variable, else the value shown)")
    g.add_argument("--data-dir", dest="data_dir", default=None, metavar="DIR",
                   help="the instance's folder: files, keys, SQLite database ($ECGPILOT_WEB_DATA, ./ecgpilot-data)")
    g.add_argument("--db", dest="database_url", default=None, metavar="URL",
                   help="database URL or SQLite file ($ECGPILOT_DATABASE_URL, which keeps a password out of the "
                        "process's arguments; else DIR/ecgpilot.db)")
    g.add_argument("--secure-cookies", dest="secure_cookies", action=argparse.BooleanOptionalAction, default=None,
                   help="send cookies over HTTPS only (behind an HTTPS proxy; $ECGPILOT_SECURE_COOKIES, off)")
    g.add_argument("--hsts", dest="hsts_max_age_s", nargs="?", const="31536000", default=None,
                   metavar="SECONDS", help="send Strict-Transport-Security (one year when no value; 0 = off; implies "
                                           "--secure-cookies; $ECGPILOT_HSTS_MAX_AGE, off)")
    g.add_argument("--session-idle-s", dest="session_idle_s", default=None, metavar="SECONDS",
                   help="end a login session unused this long ($ECGPILOT_SESSION_IDLE_S, 1800)")
    g.add_argument("--session-max-age-s", dest="session_max_age_s", default=None, metavar="SECONDS",
                   help="end a login session this long after login ($ECGPILOT_SESSION_MAX_AGE_S, 28800)")
    g.add_argument("--login-attempts", dest="login_attempts", default=None, metavar="N",
                   help="failed logins per account before the next ones are slowed ($ECGPILOT_LOGIN_ATTEMPTS, 5)")
    g.add_argument("--login-attempts-per-client", dest="login_attempts_per_client", default=None, metavar="N",
                   help="the same per client address ($ECGPILOT_LOGIN_ATTEMPTS_PER_CLIENT, 20)")
    g.add_argument("--login-window-s", dest="login_window_s", default=None, metavar="SECONDS",
                   help="how long failed logins are counted ($ECGPILOT_LOGIN_WINDOW_S, 900)")
    g.add_argument("--login-max-delay-s", dest="login_max_delay_s", default=None, metavar="SECONDS",
                   help="longest delay imposed after failed logins ($ECGPILOT_LOGIN_MAX_DELAY_S, 60)")
    g.add_argument("--max-upload-bytes", dest="max_upload_bytes", default=None, metavar="SIZE",
                   help="largest upload request, e.g. 20MiB ($ECGPILOT_MAX_UPLOAD_BYTES, 20MiB)")
    g.add_argument("--max-upload-files", dest="max_upload_files", default=None, metavar="N",
                   help="files per upload ($ECGPILOT_MAX_UPLOAD_FILES, 20)")
    g.add_argument("--analysis-workers", dest="analysis_workers", default=None, metavar="N",
                   help="analyses at once per process ($ECGPILOT_ANALYSIS_WORKERS, 2)")
    g.add_argument("--read-timeout-s", dest="read_timeout_s", default=None, metavar="SECONDS",
                   help="time limit to read one uploaded file; 0 = read in-thread, no limit ($ECGPILOT_READ_TIMEOUT_S, 20)")
    g.add_argument("--ai", dest="use_ai", action=argparse.BooleanOptionalAction, default=None,
                   help="run the classifier on uploads ($ECGPILOT_USE_AI, on)")
    g.add_argument("--base-url", dest="base_url", default=None, metavar="URL",
                   help="the app's public URL, for links in notice mails ($ECGPILOT_BASE_URL, none)")
    g.add_argument("--trusted-proxies", dest="trusted_proxies", default=None, metavar="IPS",
                   help="reverse proxies whose X-Forwarded-For is believed (comma-separated IPs or networks; "
                        "$ECGPILOT_TRUSTED_PROXIES, none)")
    g.add_argument("--log-format", dest="log_format", default=None, choices=("text", "json"),
                   help="log lines as text or one JSON object each ($ECGPILOT_LOG_FORMAT, text)")
    p.set_defaults(func=_cmd_serve)

    p = sub.add_parser("train", help="train the classifier on PTB-XL (needs the [train] extra)")
    from ecgpilot.train.cli import add_arguments   # no PyTorch: its options are known on every install

    add_arguments(p)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("audit", help="verify or purge the tamper-evident audit trail")
    asub = p.add_subparsers(dest="audit_command", required=True)
    for name, hlp in (("verify", "walk the hash chain, report the first broken entry"), ("purge", "apply retention")):
        a = asub.add_parser(name, help=hlp)
        a.add_argument("--db", required=True, help="database URL or SQLite file holding audit_log")
        a.add_argument("--key", default=None, help="checkpoint signing key (text)")
        if name == "verify":
            a.add_argument("--data-dir", default=None, help="the app's data folder, to check the signed documents "
                                                            "against their hashes (default: the SQLite file's folder)")
            a.add_argument("--expect-head", default=None, metavar="HASH",
                           help="the head kept outside the database (HASH or SEQ:HASH, from audit-head.json or the "
                                "log): detects removed last entries and a recomputed chain")
        if name == "purge":
            a.add_argument("--days", type=int, required=True, help="delete entries older than this many days")
            a.add_argument("--actor", default="cli-admin", help="who runs the purge (logged)")
    p.set_defaults(func=_cmd_audit)

    p = sub.add_parser("check", help="check the instance: database file, integrity_check, schema, writable, free "
                                     "space, audit trail (exit 1 when something is wrong)")
    p.add_argument("--db", default=None, help="database URL or SQLite file (default: ./ecgpilot-data/ecgpilot.db)")
    p.add_argument("--data-dir", default=None, help="the app's data folder (default: the SQLite file's folder)")
    p.set_defaults(func=_cmd_check)

    p = sub.add_parser("ai", help="AI stop switch: turn the AI reading on/off (audited) or show its state")
    p.add_argument("state", choices=("on", "off", "status"))
    p.add_argument("--db", required=True, help="the app's database URL or SQLite file")
    p.add_argument("--actor", default="cli-admin", help="who changes it (logged)")
    p.add_argument("--reason", default="", help="why (logged)")
    p.set_defaults(func=_cmd_ai)

    p = sub.add_parser("db", help="the database schema (Alembic revisions): upgrade, current, downgrade, history")
    dsub = p.add_subparsers(dest="db_command", required=True)
    for name, what in (("upgrade", "migrate the database to this ecgpilot's revision (the app does it at start)"),
                       ("current", "show the database's schema revision")):
        d = dsub.add_parser(name, help=what)
        d.add_argument("--db", required=True, help="the app's database URL or SQLite file")
    d = dsub.add_parser("downgrade", help="go back to REVISION ('base': no table); drops data: back up first")
    d.add_argument("revision")
    d.add_argument("--db", required=True, help="the app's database URL or SQLite file")
    dsub.add_parser("history", help="list the revisions this ecgpilot ships")
    p.set_defaults(func=_cmd_db)

    p = sub.add_parser("backup", help="create or restore a backup (SQLite or PostgreSQL database + stored files)")
    bsub = p.add_subparsers(dest="backup_command", required=True)
    b = bsub.add_parser("create", help="consistent online backup to a .tar archive with a sha256 manifest")
    b.add_argument("--db", required=True, help="database URL (SQLite or PostgreSQL) or SQLite file")
    b.add_argument("--files", required=True, help="folder of stored files")
    b.add_argument("--out", required=True, help="archive to write (.tar)")
    b = bsub.add_parser("restore", help="check an archive's manifest and restore it")
    b.add_argument("archive")
    b.add_argument("--db", required=True, help="SQLite file or database URL (an empty database) to restore into")
    b.add_argument("--files", required=True, help="folder to restore the files into")
    b.add_argument("--overwrite", action="store_true", help="replace an existing database / files")
    p.set_defaults(func=_cmd_backup)

    p = sub.add_parser("user", help="manage accounts of the web app")
    usub = p.add_subparsers(dest="user_command", required=True)
    u = usub.add_parser("add", help="create an account (password from $ECGPILOT_NEW_PASSWORD or asked)")
    u.add_argument("email")
    u.add_argument("--role", choices=("gp", "cardiologist", "evaluator", "admin"), default="gp")
    u.add_argument("--name", default="", help="display name, 'Given FAMILY' (used as the report's author)")
    u.add_argument("--practice", default="Cabinet", help="practice (created if new)")
    u.add_argument("--rpps", default=None, help="11-digit RPPS number (needed to send reports)")
    u.add_argument("--db", default=None, help="database URL or SQLite file (default: ./ecgpilot-data/ecgpilot.db)")
    u = usub.add_parser("passwd", help="set an account's password (from $ECGPILOT_NEW_PASSWORD or asked) "
                                       "and end its login sessions")
    u.add_argument("email")
    u.add_argument("--db", default=None, help="database URL or SQLite file (default: ./ecgpilot-data/ecgpilot.db)")
    p.set_defaults(func=_cmd_user)

    p = sub.add_parser("outbox", help="MSSanté outbox: list, send due messages (SMTP from ECGPILOT_SMTP_*), retry one")
    osub = p.add_subparsers(dest="outbox_command", required=True)
    o = osub.add_parser("list", help="every message with its state")
    o.add_argument("--status", choices=("pending", "sent", "failed"), default=None)
    o = osub.add_parser("send", help="try every due message now")
    o.add_argument("--actor", default="cli-admin", help="who sends (logged)")
    o = osub.add_parser("retry", help="make a failed message due again")
    o.add_argument("id", type=int)
    for o in osub.choices.values():
        o.add_argument("--db", required=True, help="the app's database URL or SQLite file")
    p.set_defaults(func=_cmd_outbox)
    from ecgpilot.pilot.cli import add_pilot_commands
    add_pilot_commands(sub)
    return parser


def _positive_int(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ECGPilotError as exc:
        print(f"ecgpilot: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # pragma: no cover
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
