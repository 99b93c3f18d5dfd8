"""Reader fuzzing (short budget) and the robustness contract of ``read_ecg``.

* a seeded campaign of 20 mutated files per format (``benchmarks/bench_fuzz.py``, run in its own
  interpreter; each case in a forked child with a memory and a time cap) has no foreign exception,
  hang, memory blow-up or absurd "valid" record; the long campaign is the benchmark
  (``benchmarks/results/fuzz.md``);
* the harness's caps and classifier work (a tiny time cap is a hang, a tiny memory cap a blow-up);
* ``read_ecg`` lets out only ecgpilot's errors, whatever a reader raises;
* the plausibility rule (``ecgpilot.io._limits.check_plausible``) refuses what no amplifier
  produces and keeps DC offsets and pacing spikes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import DATA, data_file

from ecgpilot.errors import CorruptFileError, ReadError
from ecgpilot.io import read_ecg, reader_module

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))
import bench_fuzz  # noqa: E402

CASES_PER_FORMAT = 20


@pytest.mark.skipif(DATA is None, reason="shared ECG data (../shared/data or $ECGPILOT_DATA) is not available")
def test_short_fuzz_campaign_has_no_foreign_exception_hang_blowup_or_absurd_record() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / "bench_fuzz.py"), "--cases", str(CASES_PER_FORMAT), "--json",
         "--time-cap", "20", "--rss-budget-mb", "400"],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert set(report["summary"]) == set(bench_fuzz.SEEDS)
    for fmt, counts in report["summary"].items():
        assert sum(counts.values()) == CASES_PER_FORMAT, (fmt, counts)
    bad = [r for r in report["results"] if r["outcome"] in bench_fuzz.BAD]
    assert not bad, "\n".join(f"{r['fmt']} #{r['case']} {r['seed_file']} {r['mutation']}: {r['outcome']}: "
                              f"{r['detail']}" for r in bad)


def test_mutations_are_seeded_and_bounded() -> None:
    data = bytes(range(256)) * 40
    for kind in bench_fuzz.MUTATIONS:
        a = bench_fuzz.mutate(data, np.random.default_rng([1, 2]), kind)
        b = bench_fuzz.mutate(data, np.random.default_rng([1, 2]), kind)
        assert a == b, kind
        assert 0 < len(a[0]) <= 2 * len(data) + 110_000, kind  # long_run adds at most 10^5, text_token 10^4
    with pytest.raises(ValueError, match="unknown mutation 'x'"):
        bench_fuzz.mutate(data, np.random.default_rng(0), "x")


def test_scp_crc_fixup_makes_a_mutated_file_pass_the_crc_check(tmp_path: Path) -> None:
    src = data_file("format-samples", "ecgtoolkit-examples", "Example.scp").read_bytes()
    bad = bytearray(src)
    bad[-100] ^= 0x10  # inside section 7 (measurements): CRCs now wrong, samples untouched
    path = tmp_path / "a.scp"
    path.write_bytes(bytes(bad))
    with pytest.raises(CorruptFileError, match="CRC"):
        read_ecg(path)
    path.write_bytes(bench_fuzz.fix_scp_crcs(bytes(bad)))
    assert read_ecg(path).n_samples == 5000


def test_classifier_flags_absurd_records() -> None:
    ok = np.zeros((2, 1000))
    ok[0, ::100] = 3000.0
    assert bench_fuzz._absurd(SimpleNamespace(signal=ok, fs=500.0)) is None
    huge = ok.copy()
    huge[1, 5] = 3e32
    assert "from the median" in bench_fuzz._absurd(SimpleNamespace(signal=huge, fs=500.0))
    wide = ok.copy()
    wide[1, :50] = 60_000.0  # one lead saturated: kept
    assert bench_fuzz._absurd(SimpleNamespace(signal=wide, fs=500.0)) is None
    wide[0, 500:550] = -60_000.0  # every lead: a wrong scale
    assert "beyond 50 mV" in bench_fuzz._absurd(SimpleNamespace(signal=wide, fs=500.0))
    assert "samples" in bench_fuzz._absurd(SimpleNamespace(signal=ok[:, :2], fs=500.0))


@pytest.mark.skipif(DATA is None, reason="shared ECG data is not available")
def test_harness_caps_catch_a_hang_and_a_memory_blowup() -> None:
    path = data_file("format-samples", "dicom", "waveform_ecg.dcm")
    assert bench_fuzz.run_case(path, time_cap=30.0)[0] == "valid"
    assert bench_fuzz.run_case(path, time_cap=1e-4)[0] == "hang"
    assert bench_fuzz.run_case(path, time_cap=30.0, mem_cap_mb=1)[0] == "memory"


# -- read_ecg's contract: only ecgpilot's errors ------------------------------------------------


class _LibraryError(Exception):
    """Stands for a third-party library's own exception class."""


@pytest.mark.parametrize("exc", [NotImplementedError("Unknown VR 'UM'"), AttributeError("CodeValue"),
                                 _LibraryError("bad bytes"), RecursionError("deep"), MemoryError()])
def test_any_exception_inside_a_reader_becomes_a_corrupt_file_error(exc: Exception, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.csv"
    path.write_text("# fs=500\n# units=uV\nI,II\n" + "1,2\n" * 100)

    def boom(p: Path) -> None:
        raise exc

    monkeypatch.setattr(reader_module("csv"), "read", boom)
    with pytest.raises(CorruptFileError, match=r"'a\.csv'.* csv") as info:
        read_ecg(path)
    assert info.value.__cause__ is exc


# -- the plausibility rule ---------------------------------------------------------------------


def _csv(tmp_path: Path, lead_ii: np.ndarray, name: str = "a_rule.csv", fs: int = 500,
         lead_i: np.ndarray | None = None) -> Path:
    n = lead_ii.size
    if lead_i is None:
        lead_i = 100.0 * np.sin(np.arange(n) / 10.0)
    rows = "".join(f"{a:.1f},{b:.1f}\n" for a, b in zip(lead_i, lead_ii))
    path = tmp_path / name
    path.write_text(f"# fs={fs}\n# units=uV\nI,II\n" + rows)
    return path


def test_a_sample_beyond_one_volt_is_refused(tmp_path: Path) -> None:
    ii = np.zeros(2000)
    ii[700] = 1.5e6
    with pytest.raises(CorruptFileError, match=r"lead II reaches 1\.5e\+06 µV .*MAX_ABS_UV"):
        read_ecg(_csv(tmp_path, ii))


def test_every_lead_beyond_50_mv_is_refused_one_saturated_lead_is_kept(tmp_path: Path) -> None:
    """A lead off saturates at its rail (CinC 2011 phone ECGs: up to 181 mV, 11 of 12 leads) and is the
    quality gate's business; every lead beyond 50 mV is a wrong gain, unit or scale."""
    ii = np.zeros(2000)
    ii[:30] = 60_000.0  # 1.5 % of lead II
    assert read_ecg(_csv(tmp_path, ii)).n_samples == 2000
    i = np.zeros(2000)
    i[1000:1022] = -70_000.0  # 1.1 % of lead I
    with pytest.raises(CorruptFileError, match=r"every lead has more than 1% of its samples beyond 50000 µV "
                                               r".*lead I: 1\.1%"):
        read_ecg(_csv(tmp_path, ii, lead_i=i))


def test_dc_offset_and_pacing_spikes_are_kept(tmp_path: Path) -> None:
    ii = 300_000.0 + 500.0 * np.sin(np.arange(5000) / 20.0)  # 300 mV electrode offset
    ii[::1000] += 80_000.0  # 0.1 % of samples: 80 mV pacing spikes
    rec = read_ecg(_csv(tmp_path, ii))
    assert rec.n_samples == 5000 and float(rec.lead("II").max()) >= 379_000.0


@pytest.mark.parametrize(("n", "fs"), [(2, 500), (9, 500), (12, 1000)])
def test_a_recording_of_a_few_samples_is_refused(n: int, fs: int, tmp_path: Path) -> None:
    with pytest.raises(CorruptFileError, match=r"at least 10 samples and 0\.02 s"):
        read_ecg(_csv(tmp_path, np.zeros(n), fs=fs))


def test_csv_with_thousands_of_columns_is_refused_by_its_width(tmp_path: Path) -> None:
    path = tmp_path / "a_wide.csv"
    path.write_text("# fs=500\n# units=uV\n" + ",".join(["I"] * 5000) + "\n" + ",".join(["1"] * 5000) + "\n")
    from ecgpilot.io.csv import MAX_COLUMNS

    with pytest.raises(ReadError, match=rf"5,000 columns; an ECG table has at most {MAX_COLUMNS} "):
        read_ecg(path)


def test_csv_directive_with_a_long_run_of_spaces_is_read_in_linear_time(tmp_path: Path) -> None:
    """The former directive pattern backtracked quadratically on such a line (minutes for 1 MB)."""
    path = tmp_path / "a_spaces.csv"
    path.write_text("# fs=500\n# units=uV\n# note=a" + " " * 1_000_000 + "b\nI,II\n" + "1,2\n" * 100)
    assert read_ecg(path).n_samples == 100


def test_muse_absurd_amplitude_units_per_bit_is_refused_not_usable(tmp_path: Path) -> None:
    """Issue 23: LeadAmplitudeUnitsPerBit=1e30 was read as a valid ECG and got a reading."""
    import re

    src = data_file("format-samples", "ge-muse-xml", "braveheart", "example1.xml").read_text(encoding="utf-8",
                                                                                            errors="replace")
    bad = re.sub(r"<LeadAmplitudeUnitsPerBit>[^<]*</LeadAmplitudeUnitsPerBit>",
                 "<LeadAmplitudeUnitsPerBit>1e30</LeadAmplitudeUnitsPerBit>", src)
    path = tmp_path / "a_units.xml"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(CorruptFileError, match=r"µV from its baseline, beyond the 1000000 µV \(1 V, MAX_ABS_UV\)"):
        read_ecg(path)


def test_wfdb_samples_per_frame_count_in_the_budget(tmp_path: Path) -> None:
    """'16x100000' made wfdb allocate 954 MiB for a 120 kB file; the frame size is now in the budget and in
    the signal file's expected length."""
    import shutil

    src = data_file("ludb", "data", "1.hea")
    shutil.copyfile(src.with_suffix(".dat"), tmp_path / "1.dat")
    lines = src.read_text().splitlines()
    for spf, match in (("100000", r"MAX_SAMPLES"), ("2", r"need 130000 bytes: the file is truncated")):
        lines_x = [lines[0], lines[1].replace("1.dat 16 ", f"1.dat 16x{spf} ", 1), *lines[2:]]
        (tmp_path / "1.hea").write_text("\n".join(lines_x) + "\n")
        with pytest.raises(CorruptFileError, match=match):
            read_ecg(tmp_path / "1.hea")


def test_xli_chunk_declaring_more_samples_than_its_bytes_can_expand_to_is_refused() -> None:
    from ecgpilot.io._xli import HEADER, decode_xli

    payload = HEADER.pack(100, 1, 0) + bytes(100)
    with pytest.raises(CorruptFileError, match=r"expand 100 bytes into 1,000,000 samples.*MAX_SAMPLES_PER_COMPRESSED_BYTE"):
        decode_xli(payload, 1_000_000)
