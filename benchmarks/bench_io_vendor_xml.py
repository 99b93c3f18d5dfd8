"""GE MUSE and Philips Sierra XML readers: read time per file and decoding agreement.

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_io_vendor_xml.py [--repeat 20]

For every sample file under ``../shared/data/format-samples``: median wall time of
``read_ecg`` over ``--repeat`` runs, and the largest |III - (II - I)| in µV. For the Philips
file that also exists as an HL7 aECG converted by Philips software, the per-lead
max / RMS difference (counts of 5 µV) between our XLI decoding and that conversion.
"""

from __future__ import annotations

import argparse
import base64
import time
from pathlib import Path

import numpy as np
from lxml import etree

from ecgpilot import read_ecg
from ecgpilot.io._xli import decode_xli
from ecgpilot.io.sierra import restore_limb_leads
from ecgpilot.leads import STANDARD_12
from ecgpilot.paths import shared_data_dir


def converted_agreement(folder: Path) -> list[tuple[str, int, float]]:
    ns = {"h": "urn:hl7-org:v3"}
    root = etree.parse(str(folder / "ad4d3d80-d165_1-04_converted.xml")).getroot()
    ref = {}
    for seq in root.find(".//h:component/h:series", ns).iterfind(
        "h:component/h:sequenceSet/h:component/h:sequence", ns
    ):
        digits = seq.findtext("h:value/h:digits", namespaces=ns)
        if digits:
            lead = seq.find("h:code", ns).get("code").removeprefix("MDC_ECG_LEAD_").replace("AV", "aV")
            ref[lead] = np.array(digits.split(), dtype=np.int64)
    pw = etree.parse(str(folder / "ad4d3d80-d165_1-04_orig.xml")).getroot().find(".//{*}parsedwaveforms")
    chunks = decode_xli(base64.b64decode("".join(pw.text.split())), 5500)
    ours = restore_limb_leads(dict(zip(STANDARD_12, chunks)))
    return [
        (lead, int(np.abs(ours[lead] - ref[lead]).max()), float(np.sqrt(np.mean((ours[lead] - ref[lead]) ** 2.0))))
        for lead in STANDARD_12
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    data = shared_data_dir()
    if data is None:
        raise SystemExit("shared data not found")
    base = data / "format-samples"
    files = sorted((base / "ge-muse-xml").rglob("*.xml")) + sorted(
        p for p in (base / "philips-sierra-xml").rglob("*") if p.is_file() and "converted" not in p.name
    )
    print("| file | format | leads x samples | read time (ms, median) | max abs(III-(II-I)) µV | device HR |")
    print("|---|---|---|---|---|---|")
    for path in files:
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            rec = read_ecg(path)
            times.append(time.perf_counter() - t0)
        i, ii = rec.lead("I").astype(float), rec.lead("II").astype(float)
        err = float(np.abs(rec.lead("III") - (ii - i)).max())
        print(
            f"| {path.name} | {rec.source.format} | {rec.n_leads} x {rec.n_samples} | "
            f"{1000 * np.median(times):.1f} | {err:.1f} | {rec.source.device_measurements.get('heart_rate_bpm')} |"
        )
    print("\nXLI decoding vs Philips-converted aECG (counts of 5 µV):\n")
    print("| lead | max abs diff | RMS diff |")
    print("|---|---|---|")
    for lead, mx, rms in converted_agreement(base / "philips-sierra-xml" / "1_04"):
        print(f"| {lead} | {mx} | {rms:.2f} |")


if __name__ == "__main__":
    main()
