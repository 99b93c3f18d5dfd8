"""Batch analysis (``ecgpilot analyze PATHS... --out``) and run comparison (``compare-models``) on real files.

The rows must carry what ``ecgpilot analyze FILE`` computes for the same file; a file that cannot be
read becomes a row with its error; 2 processes (or Ray) give the same rows as 1.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import data_file

from ecgpilot import batch
from ecgpilot.analysis import analyze_file
from ecgpilot.cli import main
from ecgpilot.errors import ConfigError
from ecgpilot.interpret import interpret

pytest.importorskip("pyarrow", reason="the [batch] extra (pyarrow) is not installed")

HOSTILE = "dicom_NotImplementedError_VR_BS__cases2-dicom-00218.dcm"   # a real file no reader can decode


def _files() -> list[str]:
    ludb = [str(data_file("ludb", "data", f"{n}.hea")) for n in (1, 2, 3, 21)]
    return ludb[:2] + [str(data_file("hostile", HOSTILE))] + ludb[2:] + ["/nonexistent/ecg.xml"]


def _same(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


@pytest.fixture(scope="module")
def serial_rows() -> list[dict[str, Any]]:
    return batch.run_batch(_files(), jobs=1, lang="en")


def test_rows_are_what_analyze_gives(serial_rows: list[dict[str, Any]]) -> None:
    files = _files()
    assert [r["file"] for r in serial_rows] == files
    assert set(serial_rows[0]) == set(batch.COLUMNS)
    for row in (r for r in serial_rows if r["ok"]):
        doc = analyze_file(Path(row["file"]))
        doc["reading"] = interpret(doc, lang="en")
        assert row["sha256"] == doc["file"]["sha256"] and row["format"] == "wfdb"
        for m in batch.MEASUREMENTS:
            assert row[m] == doc["measurements"][m], m
        assert json.loads(row["lead_matrix_json"]) == doc["measurements"]["lead_matrix"]
        assert row["statements"] == [s["id"] for s in doc["reading"]["statements"]]
        assert row["urgency"] == doc["reading"]["urgency"]["level"]
        assert row["rules_version"] == doc["reading"]["rules_version"]
        assert row["model_version"] == doc["ai"]["model_version"]
        present = {f"{s['task']}:{s['code']}" for s in doc["ai"]["statements"] if s["present"]}
        assert set(row["ai_present"]) == present
    first = serial_rows[0]   # LUDB 1: sinus bradycardia at 46/min
    assert first["heart_rate_bpm"] == pytest.approx(45.5, abs=1.0)
    assert "sinus_bradycardia_marked" in first["statements"] and "rhythm:SBRAD" in first["ai_present"]
    assert len(json.loads(first["lead_matrix_json"])["leads"]) == 12


def test_unreadable_files_are_rows_with_their_error(serial_rows: list[dict[str, Any]]) -> None:
    hostile, missing = serial_rows[2], serial_rows[-1]
    assert [r["ok"] for r in serial_rows] == [True, True, False, True, True, False]
    assert hostile["error_type"] in ("CorruptFileError", "UnsupportedFormatError") and hostile["error"]
    assert hostile["sha256"] and len(hostile["sha256"]) == 64          # still matchable across runs
    assert hostile["urgency"] is None and hostile["statements"] == [] and hostile["heart_rate_bpm"] is None
    assert missing["error_type"] == "ReadError" and "not found" in missing["error"] and missing["sha256"] is None


def test_two_processes_give_the_same_rows(serial_rows: list[dict[str, Any]]) -> None:
    seen: list[str] = []
    rows = batch.run_batch(_files(), jobs=2, lang="en", on_row=lambda r: seen.append(r["file"]))
    assert _same(rows) == _same(serial_rows)
    assert sorted(seen) == sorted(_files())


def test_parquet_round_trip(serial_rows: list[dict[str, Any]], tmp_path: Path) -> None:
    out = batch.write_parquet(serial_rows, tmp_path / "run.parquet")
    assert batch.read_parquet(out) == serial_rows
    import pyarrow.parquet as pq

    schema = pq.read_schema(out)
    assert schema.metadata[b"ecgpilot.batch_schema"] == batch.BATCH_SCHEMA.encode()
    assert str(schema.field("statements").type) == "list<element: string>"
    with pytest.raises(ConfigError, match=r"must end in \.parquet"):
        batch.write_parquet(serial_rows, tmp_path / "run.csv")


def test_cli_batch_then_compare_models(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The same files with and without the AI: the AI-only statements and the AI outputs are 'removed' in B."""
    files = _files()
    a, b, changes = tmp_path / "a.parquet", tmp_path / "b.parquet", tmp_path / "changes.csv"
    assert main(["analyze", *files, "--out", str(a), "--jobs", "2"]) == 0
    err = capsys.readouterr().err
    assert "6/6 files, 2 errors" in err and "files/s" in err
    assert main(["analyze", *files[:4], "--out", str(b), "--no-ai", "--quiet"]) == 0
    assert main(["compare-models", str(a), str(b), "--out", str(changes)]) == 0
    text = capsys.readouterr().out
    assert "A: 6 rows (2 errors)" in text and "B: 4 rows (1 errors), model -" in text
    assert "matched on sha256: 4; only in A: 1; only in B: 0; without a hash: 1 in A, 0 in B" in text
    rows = {r["file_a"]: r for r in csv.DictReader(changes.open(encoding="utf-8"))}
    assert len(rows) == 5
    ludb2 = rows[files[1]]
    assert ludb2["status"] == "matched" and ludb2["changed"] == "True"
    assert "infarction" in ludb2["statements_removed"].split(";")   # LUDB 2: an AI-only statement
    assert "sub_class:AMI" in ludb2["ai_removed"].split(";") and ludb2["ai_added"] == ""
    assert rows[files[4]]["status"] == "only_a"
    assert rows[files[2]]["status"] == "matched" and rows[files[2]]["changed"] == "False"   # same error


def test_compare_runs_counts_urgency_moves() -> None:
    def row(sha: str, urgency: str | None, statements: list[str], ok: bool = True) -> dict[str, Any]:
        return {"sha256": sha, "file": f"{sha}.xml", "ok": ok, "urgency": urgency, "statements": statements,
                "ai_present": [], "error": None if ok else "bad", "model_version": "m1", "rules_version": "r1"}

    a = [row("x", "routine", ["sinus_rhythm"]), row("y", "emergency", ["stemi"]), row("z", "normal", []),
         row("w", None, [], ok=False)]
    b = [row("x", "soon", ["sinus_rhythm", "lbbb"]), row("y", "soon", []), row("z", "normal", []),
         row("v", "normal", [])]
    result = batch.compare_runs(a, b)
    s = result["summary"]
    assert (s["matched"], s["only_a"], s["only_b"], s["changed"]) == (3, 1, 1, 2)
    assert (s["urgency_raised"], s["urgency_lowered"]) == (1, 1)
    assert s["urgency_transitions"] == {"emergency -> soon": 1, "routine -> soon": 1}
    assert s["statements_added"] == {"lbbb": 1} and s["statements_removed"] == {"stemi": 1}
    by = {r["sha256"]: r for r in result["records"]}
    assert by["x"]["urgency_change"] == "raised" and by["y"]["urgency_change"] == "lowered"
    text = batch.format_comparison(result)
    assert "urgency raised 1, lowered 1" in text and "emergency -> soon x1" in text


def test_expand_paths_searches_folders_for_ecg_files(tmp_path: Path) -> None:
    hea = data_file("ludb", "data", "1.hea")
    for suffix in (".hea", ".dat"):
        shutil.copy(hea.with_suffix(suffix), tmp_path / f"1{suffix}")
    (tmp_path / "sub").mkdir()
    shutil.copy(hea, tmp_path / "sub" / "1.hea")
    (tmp_path / "notes.txt").write_text("not an ECG")
    assert batch.expand_paths([tmp_path, tmp_path / "1.hea"]) == [str(tmp_path / "1.hea"),
                                                                   str(tmp_path / "sub" / "1.hea")]


def test_bad_options_are_refused_naming_the_accepted_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="engine 'spark' is not known; accepted: local, ray"):
        batch.run_batch(["x.hea"], engine="spark")
    with pytest.raises(ConfigError, match="at least 1"):
        batch.run_batch(["x.hea"], jobs=0)
    assert main(["analyze", "a.hea", "b.hea"]) == 2            # a batch needs --out
    assert main(["compare-models", str(tmp_path / "nope.parquet"), str(tmp_path / "b.parquet")]) == 2


@pytest.mark.slow
def test_ray_engine_gives_the_same_rows(serial_rows: list[dict[str, Any]]) -> None:
    ray = pytest.importorskip("ray", reason="Ray (the [scale] extra) is not installed")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        rows = batch.run_batch(_files(), engine="ray", lang="en")
    finally:
        ray.shutdown()
    assert _same(rows) == _same(serial_rows)


def test_a_worker_that_dies_becomes_error_rows() -> None:
    """Worker processes killed mid-batch (SIGKILL, as the kernel's out-of-memory killer does) do not stop
    the batch: the files they could not finish become error rows, the others keep their results."""
    import multiprocessing
    import signal

    files = [str(data_file("ludb", "data", f"{n}.hea")) for n in range(1, 9)]
    killed: list[int] = []

    def kill_workers(row: dict[str, Any]) -> None:
        if not killed:
            for child in multiprocessing.active_children():
                os.kill(child.pid, signal.SIGKILL)
                killed.append(child.pid)

    rows = batch.run_batch(files, jobs=2, on_row=kill_workers)
    assert killed and [r["file"] for r in rows] == files
    lost = [r for r in rows if not r["ok"]]
    assert lost and sum(r["ok"] for r in rows) >= 1
    for r in lost:
        assert r["error_type"] == "BrokenProcessPool" and "stopped before returning a result" in r["error"]
        assert r["sha256"] and len(r["sha256"]) == 64 and set(r) == set(batch.COLUMNS)
    again = batch.run_batch(files[:2], jobs=2)       # a new pool works
    assert all(r["ok"] for r in again)


def test_a_folder_alone_is_a_batch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hea = data_file("ludb", "data", "21.hea")
    for suffix in (".hea", ".dat"):
        shutil.copy(hea.with_suffix(suffix), tmp_path / f"21{suffix}")
    assert main(["analyze", str(tmp_path)]) == 2                       # a folder needs --out
    assert "give --out RESULTS.parquet" in capsys.readouterr().err
    out = tmp_path / "r.parquet"
    assert main(["analyze", str(tmp_path), "--out", str(out), "--no-ai"]) == 0
    rows = batch.read_parquet(out)
    assert [r["name"] for r in rows] == ["21.hea"] and rows[0]["ok"] and rows[0]["model_version"] is None
