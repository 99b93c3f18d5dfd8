"""Our WFDB reader (no ``wfdb`` package) against ``wfdb.rdrecord``/``wfdb.rdheader``, sample for sample.

Real records of every dataset under ../shared/data that holds WFDB files (LUDB and QTDB: format 16;
CinC 2017: ``.mat`` signal files, format ``16+24``, ISO base dates; MIT-BIH: format 212 with no
baseline in the gain field), the CinC 2020 fixture (record named ``E00271.mat``), and records written
here in the formats, layouts and header variants no dataset here has (8, 61, 80, 160, 24, 32, 310, 311;
byte offsets; several samples per frame; skew; two signal files of different formats). Digital values
must be equal; physical values equal to wfdb's float64 ``p_signal`` (the same arithmetic), and
``read_ecg``'s float32 µV equal to it within float32 rounding.

The records with header variants ``wfdb`` refuses (CinC 2017's ``2014-05-08 05:05:15`` base date,
CinC 2020's ``E00271.mat`` record name) are given to ``wfdb`` through a copy of the header whose
record line is cut to ``<name> <n_signals> <fs> <n_samples>``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import extract_members

from ecgpilot import read_ecg
from ecgpilot.errors import CorruptFileError
from ecgpilot.io._wfdb_signal import physical, read_digital
from ecgpilot.io.wfdb import read_header
from ecgpilot.paths import shared_data_dir

wfdb = pytest.importorskip("wfdb", reason="the wfdb package (the [test] extra) is the reference here")

DATA = shared_data_dir()
FIXTURE = Path(__file__).parent / "fixtures" / "cinc2020"
UV = {"mV": 1000.0, "uV": 1.0, "V": 1e6}


def _wfdb_name(hea: Path, tmp: Path) -> str:
    """A record name wfdb reads: the header itself, or a copy with its record line cut to 4 fields."""
    lines = hea.read_text().splitlines()
    first = lines[0].split()
    if len(first) == 4 and "." not in first[0]:
        return str(hea.with_suffix(""))
    folder = tmp / hea.stem
    folder.mkdir()
    (folder / hea.name).write_text("\n".join([" ".join([hea.stem, *first[1:4]]), *lines[1:]]) + "\n")
    for line in lines[1:]:
        if line.strip() and not line.startswith("#"):
            name = line.split()[0]
            if not (folder / name).exists():
                (folder / name).symlink_to((hea.parent / name).resolve())
    return str(folder / hea.stem)


def _compare(hea: Path, tmp: Path, *, via_read_ecg: bool = True) -> None:
    name = _wfdb_name(hea, tmp)
    ref_h = wfdb.rdheader(name)
    ours = read_header(hea)
    assert ours.fs == ref_h.fs and ours.n_samples == ref_h.sig_len
    assert [s.file_name for s in ours.signals] == ref_h.file_name
    assert [str(s.fmt) for s in ours.signals] == ref_h.fmt
    assert [s.gain for s in ours.signals] == ref_h.adc_gain
    assert [s.baseline for s in ours.signals] == ref_h.baseline
    assert [s.units for s in ours.signals] == ref_h.units
    assert [s.description for s in ours.signals] == ref_h.sig_name
    assert [s.checksum for s in ours.signals] == ref_h.checksum
    assert [s.byte_offset or None for s in ours.signals] == [b or None for b in ref_h.byte_offset]
    assert [s.samples_per_frame for s in ours.signals] == [k or 1 for k in ref_h.samps_per_frame]
    assert list(ours.comments) == ref_h.comments

    channels = list(range(len(ours.signals)))
    digital, _ = read_digital(ours, hea.parent, channels)
    ref_d = wfdb.rdrecord(name, physical=False).d_signal.T
    assert digital.shape == ref_d.shape
    np.testing.assert_array_equal(digital, ref_d)
    ref_p = wfdb.rdrecord(name).p_signal.T
    np.testing.assert_array_equal(physical(digital, list(ours.signals)), ref_p)
    if via_read_ecg:
        rec = read_ecg(hea)
        keep = [i for i, s in enumerate(ours.signals) if s.description not in rec.source.extra.get("skipped_signals", [])]
        expected = ref_p[keep] * np.array([UV[ours.signals[i].units] for i in keep])[:, None]
        np.testing.assert_allclose(rec.signal, expected, rtol=2**-23, atol=0)
        assert rec.fs == float(ref_h.fs) and rec.n_samples == ref_h.sig_len


def _need(*parts: str) -> Path:
    if DATA is None or not (DATA.joinpath(*parts)).exists():
        pytest.skip(f"../shared/data/{'/'.join(parts)} is absent (set ECGPILOT_DATA)")
    return DATA.joinpath(*parts)


@pytest.mark.parametrize("n", [1, 2, 21, 50, 77, 100, 123, 150, 181, 200])
def test_ludb_format_16_with_baselines(n: int, tmp_path: Path) -> None:
    _compare(_need("ludb", "data", f"{n}.hea"), tmp_path)


@pytest.mark.parametrize("name", ["sel114", "sel14046", "sel16273", "sel803", "sele0107"])
def test_qtdb_format_16(name: str, tmp_path: Path) -> None:
    _compare(_need("qtdb", f"{name}.hea"), tmp_path)


@pytest.mark.parametrize("name", ["A00001", "A00002", "A00050", "A00100", "A00200", "A04805"])
def test_cinc2017_mat_16_plus_24_and_iso_date(name: str, tmp_path: Path) -> None:
    hea = _need("cinc2017-subset", f"{name}.hea")
    _compare(hea, tmp_path)
    import scipy.io  # a third reading: the MATLAB v4 'val' matrix as scipy loads it

    digital, _ = read_digital(read_header(hea), hea.parent, [0])
    np.testing.assert_array_equal(digital, scipy.io.loadmat(str(hea.with_suffix(".mat")))["val"])


def test_cinc2020_record_named_with_its_mat_suffix(tmp_path: Path) -> None:
    _compare(FIXTURE / "E00271.hea", tmp_path)


MITDB = ("100", "102", "203", "208", "232")


@pytest.fixture(scope="module")
def mitdb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tarball = _need("mitdb", "mitdb.tar.xz")
    out = tmp_path_factory.mktemp("mitdb_vs_wfdb")
    extract_members(tarball, {f"{r}{ext}" for r in MITDB for ext in (".hea", ".dat")}, out)
    return out


@pytest.mark.parametrize("record", MITDB)
def test_mitdb_format_212(record: str, mitdb: Path, tmp_path: Path) -> None:
    _compare(mitdb / f"{record}.hea", tmp_path)


# -- records written here: the formats and layouts no dataset here has ---------------------------


def _encode(fmt: int, x: np.ndarray) -> bytes:
    """``x`` (flat samples, frame after frame) in WFDB format ``fmt`` (signal(5)), written independently."""
    x = x.astype(np.int64)
    if fmt == 16:
        return x.astype("<i2").tobytes()
    if fmt == 61:
        return x.astype(">i2").tobytes()
    if fmt == 80:
        return (x + 128).astype("u1").tobytes()
    if fmt == 160:
        return (x + 32768).astype("<u2").tobytes()
    if fmt == 32:
        return x.astype("<i4").tobytes()
    if fmt == 8:  # x holds the differences here
        return x.astype("i1").tobytes()
    if fmt == 24:
        u = x & 0xFFFFFF
        return np.stack([u & 0xFF, (u >> 8) & 0xFF, u >> 16], axis=1).astype("u1").tobytes()
    if fmt == 212:
        u = np.concatenate([x & 0xFFF, np.zeros(len(x) % 2, np.int64)]).reshape(-1, 2)
        b = np.stack([u[:, 0] & 0xFF, (u[:, 0] >> 8) | ((u[:, 1] >> 8) << 4), u[:, 1] & 0xFF], axis=1)
        return b.astype("u1").tobytes()[: int(np.ceil(len(x) * 1.5))]
    u = np.concatenate([x & 0x3FF, np.zeros(-len(x) % 3, np.int64)]).reshape(-1, 3)
    if fmt == 310:
        w0 = (u[:, 0] << 1) | ((u[:, 2] & 0x1F) << 11)
        w1 = (u[:, 1] << 1) | ((u[:, 2] >> 5) << 11)
        return np.stack([w0, w1], axis=1).astype("<u2").tobytes()
    assert fmt == 311
    return (u[:, 0] | (u[:, 1] << 10) | (u[:, 2] << 20)).astype("<u4").tobytes()


def _write(folder: Path, name: str, n: int, signals: list[dict]) -> Path:
    """A record of ``n`` frames; each signal: file, fmt, values (n*spf), optional spf/skew/offset/desc/units."""
    lines = [f"{name} {len(signals)} 500 {n}"]
    files: dict[str, list[dict]] = {}
    for s in signals:
        files.setdefault(s["file"], []).append(s)
    for fname, sigs in files.items():
        frames = np.concatenate([s["values"].reshape(n, s.get("spf", 1)) for s in sigs], axis=1).reshape(-1)
        if sigs[0]["fmt"] == 8:
            per = [np.diff(s["values"], prepend=s["init"]).reshape(n, s.get("spf", 1)) for s in sigs]
            frames = np.concatenate(per, axis=1).reshape(-1)
        offset = sigs[0].get("offset", 0)
        (folder / fname).write_bytes(b"\x55" * offset + _encode(sigs[0]["fmt"], frames))
    for i, s in enumerate(signals):
        fmt = f"{s['fmt']}" + (f"x{s['spf']}" if s.get("spf", 1) > 1 else "") + (f":{s['skew']}" if s.get("skew") else "")
        fmt += f"+{s['offset']}" if s.get("offset") else ""
        checksum = (int(s["values"].sum()) + 32768) % 65536 - 32768
        init = s.get("init", int(s["values"][0]))
        lines.append(f"{s['file']} {fmt} {s.get('gain', '250.5(-7)')}/{s.get('units', 'mV')} 12 0 {init} {checksum} 0 "
                     f"{s.get('desc', ('I', 'II', 'V1', 'V2')[i])}")
    (folder / f"{name}.hea").write_text("\n".join(lines) + "\n# a comment\n")
    return folder / f"{name}.hea"


_RANGE = {8: 40, 16: 30000, 61: 30000, 80: 120, 160: 30000, 212: 2000, 24: 8_000_000, 32: 2**31 - 2, 310: 500, 311: 500}


@pytest.mark.parametrize("fmt", sorted(_RANGE))
@pytest.mark.parametrize("n", [999, 1000, 1001])  # every remainder of the 2- and 3-sample groups
def test_every_format_written_here(fmt: int, n: int, tmp_path: Path) -> None:
    rng = np.random.default_rng(fmt * 10 + n)
    lim = _RANGE[fmt]
    signals = []
    for i in range(3):
        v = rng.integers(-lim + 1, lim, size=n)
        if fmt == 8:  # first differences must fit in 8 bits
            v = np.cumsum(rng.integers(-60, 61, size=n)) + 5 * i
        gain = f"{np.abs(v).max() / 5:.3f}({-7 * i})"  # 5 mV at most: a plausible ECG for read_ecg
        signals.append({"file": "r.dat", "fmt": fmt, "values": v, "gain": gain,
                        "init": int(v[0]) - 3 if fmt == 8 else int(v[0])})
    hea = _write(tmp_path, "r", n, signals)
    digital, _ = read_digital(read_header(hea), tmp_path, [0, 1, 2])
    np.testing.assert_array_equal(digital, np.stack([s["values"] for s in signals]))  # what was written
    _compare(hea, tmp_path)


def test_byte_offset_two_files_and_units(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 777
    signals = [
        {"file": "a.dat", "fmt": 16, "offset": 37, "values": rng.integers(-3000, 3000, n), "units": "uV", "gain": "1"},
        {"file": "a.dat", "fmt": 16, "offset": 37, "values": rng.integers(-3000, 3000, n)},
        {"file": "b.dat", "fmt": 212, "values": rng.integers(-2000, 2000, n), "gain": "0"},  # gain 0: 200
        {"file": "b.dat", "fmt": 212, "values": rng.integers(-2000, 2000, n), "units": "V", "gain": "1e6", "desc": "V2"},
    ]
    _compare(_write(tmp_path, "r", n, signals), tmp_path)


def test_several_samples_per_frame_are_averaged_like_wfdb(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    n = 500
    signals = [
        {"file": "r.dat", "fmt": 16, "spf": 2, "values": rng.integers(-3000, 3000, 2 * n)},
        {"file": "r.dat", "fmt": 16, "values": rng.integers(-3000, 3000, n)},
        {"file": "r.dat", "fmt": 16, "spf": 3, "values": rng.integers(-3000, 3000, 3 * n)},
    ]
    hea = _write(tmp_path, "r", n, signals)
    digital, stored = read_digital(read_header(hea), tmp_path, [0, 1, 2])
    two = signals[0]["values"].reshape(n, 2)
    np.testing.assert_array_equal(digital[0], np.trunc(two.sum(axis=1) / 2))  # mean, toward zero
    np.testing.assert_array_equal(stored[2], signals[2]["values"])  # the checksum's samples
    _compare(hea, tmp_path)


def test_skewed_signal_matches_wfdb_and_its_missing_tail_is_refused(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    n = 600
    signals = [{"file": "r.dat", "fmt": 16, "values": rng.integers(-3000, 3000, n)},
               {"file": "r.dat", "fmt": 16, "skew": 4, "values": rng.integers(-3000, 3000, n)}]
    hea = _write(tmp_path, "r", n, signals)
    _compare(hea, tmp_path, via_read_ecg=False)
    digital, _ = read_digital(read_header(hea), tmp_path, [0, 1])
    np.testing.assert_array_equal(digital[1, :-4], signals[1]["values"][4:])
    with pytest.raises(CorruptFileError, match="4 samples are marked invalid"):
        read_ecg(hea)


def test_reading_needs_neither_wfdb_nor_pandas() -> None:
    """The serving install has no wfdb (nor pandas): importing the readers and the analysis, and reading
    a WFDB record, must not import them."""
    hea = FIXTURE / "E00271.hea"
    code = (
        "import sys, ecgpilot.io, ecgpilot.analysis\n"
        f"rec = ecgpilot.io.read_ecg({str(hea)!r})\n"
        "assert rec.n_samples == 1000, rec\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'wfdb', 'pandas', 'matplotlib'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
