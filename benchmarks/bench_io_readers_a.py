"""Read time of the WFDB, DICOM, HL7 aECG, EDF and CSV readers on the shared real files.

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_io_readers_a.py [--repeat 5]

Prints a Markdown table: median wall time of ``read_ecg`` (detection + decoding) per file.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from ecgpilot import read_ecg
from ecgpilot.paths import shared_data_dir

FILES = (
    "ludb/data/1.hea",
    "cinc2017-subset/A00001.hea",
    "format-samples/dicom/waveform_ecg.dcm",
    "format-samples/ecgtoolkit-examples/Example.dcm",
    "format-samples/hl7-aecg/fda-aecg-python/Example aECG.xml",
    "format-samples/hl7-aecg/liryc-hl7v3-aecg/hl7aecg_example.xml",
    "format-samples/contec-ecg90a/0000050.ECG.edf",
)


def _time(path: Path, repeat: int) -> tuple[float, str]:
    times = []
    rec = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        rec = read_ecg(path)
        times.append(time.perf_counter() - t0)
    assert rec is not None
    return statistics.median(times), f"{rec.source.format}, {rec.n_leads} leads x {rec.n_samples} @ {rec.fs:g} Hz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    data = shared_data_dir()
    if data is None:
        raise SystemExit("shared data not found (../shared/data or $ECGPILOT_DATA)")
    print("| file | what | median read time (ms) |\n|---|---|---|")
    for rel in FILES:
        t, what = _time(data / rel, args.repeat)
        print(f"| {rel} | {what} | {t * 1000:.1f} |")
    with tempfile.TemporaryDirectory() as tmp:  # the Contec CSV with the documented header lines
        src = (data / "format-samples/contec-ecg90a/0000050.ECG.csv").read_text()
        path = Path(tmp) / "contec.csv"
        path.write_text("# fs=800\n# units=uV\nI,II,III,aVR,aVL,aVF,V1,V2,V3,V4,V5,V6\n" + src)
        t, what = _time(path, args.repeat)
        print(f"| contec 0000050.ECG.csv + header | {what} | {t * 1000:.1f} |")


if __name__ == "__main__":
    main()
