"""Export the best checkpoint to ONNX with its metadata (fold-9 thresholds and calibration)."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from ecgpilot.datasets.ptbxl import load_ptbxl
from ecgpilot.model.calibration import apply_platt, f1_threshold, fit_platt
from ecgpilot.model.features import BEAT_NAMES
from ecgpilot.paths import package_dir, shared_data_dir
from ecgpilot.train.loop import (
    TEST_FOLD,
    VAL_FOLD,
    TrainConfig,
    predict_records,
    prepare,
    record_features,
    standardise,
    task_aucs,
)
from ecgpilot.train.net import ECGResNet

__all__ = ["export_model", "MODEL_NAME", "statement_descriptions"]

MODEL_NAME = "ptbxl_classifier"

# The PTB-XL super- and sub-classes are groups, not SCP statements: their names (Wagner 2020).
_GROUPS = {
    "NORM": "normal ECG", "MI": "myocardial infarction", "STTC": "ST/T change",
    "CD": "conduction disturbance", "HYP": "hypertrophy",
    "AMI": "anterior myocardial infarction", "IMI": "inferior myocardial infarction",
    "LMI": "lateral myocardial infarction", "PMI": "posterior myocardial infarction",
    "ISCA": "ischemia in anterior leads", "ISCI": "ischemia in inferior leads",
    "ISC": "non-specific ischemic", "NST": "non-specific ST changes", "STTC_": "ST/T change",
    "LVH": "left ventricular hypertrophy", "RVH": "right ventricular hypertrophy",
    "LAO/LAE": "left atrial overload/enlargement", "RAO/RAE": "right atrial overload/enlargement",
    "SEHYP": "septal hypertrophy", "AVB": "AV block", "CLBBB": "complete left bundle branch block",
    "CRBBB": "complete right bundle branch block", "ILBBB": "incomplete left bundle branch block",
    "IRBBB": "incomplete right bundle branch block", "IVCD": "non-specific intraventricular conduction disturbance",
    "LAFB/LPFB": "left anterior/posterior fascicular block", "WPW": "Wolff-Parkinson-White syndrome",
}


def statement_descriptions(root: Path) -> dict[str, str]:
    """Code → English description from scp_statements.csv, with the group names."""
    desc = dict(_GROUPS)
    with (root / "scp_statements.csv").open(newline="") as f:
        for row in csv.reader(f):
            if row and row[0] and len(row) > 1:
                desc.setdefault(row[0], row[1])
    return desc


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def export_model(run_dir: Path, target_dir: Path | None = None, version: str | None = None) -> Path:
    """Write ``<target>/ptbxl_classifier.onnx`` and ``.json`` from ``run_dir/best.pt``."""
    torch.set_num_threads(1)
    meta = json.loads((run_dir / "meta.json").read_text())
    cfg = TrainConfig(**meta["config"])
    outputs = [tuple(o) for o in meta["outputs"]]
    mean, scale = meta["norm"]["mean"], meta["norm"]["scale"]
    ck = torch.load(run_dir / "best.pt", weights_only=False)
    fnorm = meta.get("features")
    model = ECGResNet(len(outputs), width=cfg.width, kernel=cfg.kernel, n_features=len(fnorm["names"]) if fnorm else 0)
    model.load_state_dict(ck["model"])
    model.eval()

    data = load_ptbxl()
    y = data.targets(outputs)
    va, te = data.folds(VAL_FOLD), data.folds(TEST_FOLD)
    fva = fte = None
    if fnorm:
        fall = record_features(data, fnorm["names"])
        fva, fte = standardise(fall[va], fnorm["mean"], fnorm["std"]), standardise(fall[te], fnorm["mean"], fnorm["std"])
    pva = predict_records(model, prepare(data, va, mean, scale), cfg.window, cfg.stride, feats=fva)
    pte = predict_records(model, prepare(data, te, mean, scale), cfg.window, cfg.stride, feats=fte)
    calib = [fit_platt(y[va, j], pva[:, j]) for j in range(len(outputs))]
    a = np.array([c[0] for c in calib])
    b = np.array([c[1] for c in calib])
    cva = apply_platt(pva, a, b)
    thresholds = [f1_threshold(y[va, j], cva[:, j]) for j in range(len(outputs))]

    target = target_dir or package_dir() / "model"
    target.mkdir(parents=True, exist_ok=True)
    onnx_path = target / f"{MODEL_NAME}.onnx"
    dummy: tuple[torch.Tensor, ...] = (torch.zeros(1, 12, cfg.window),)
    names, axes = ["ecg"], {"ecg": {0: "batch"}, "logits": {0: "batch"}}
    if fnorm:
        dummy, names = dummy + (torch.zeros(1, len(fnorm["names"])),), names + ["features"]
        axes["features"] = {0: "batch"}
    torch.onnx.export(model, dummy, str(onnx_path), input_names=names, output_names=["logits"],
                      dynamic_axes=axes, opset_version=17, dynamo=False)
    shared = shared_data_dir()
    desc = statement_descriptions(shared / "ptbxl") if shared else {}
    beat = bool(fnorm) and any(k in BEAT_NAMES for k in fnorm["names"])
    kind = "resnet1d-rrbeat" if beat else "resnet1d-rr" if fnorm else "resnet1d"
    version = version or f"ptbxl-{kind}-w{cfg.width}-{dt.date.today().isoformat()}-e{int(ck['epoch']) + 1}"
    info = {
        "name": MODEL_NAME,
        "version": version,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "onnx_sha256": _sha256(onnx_path),
        "training_data_sha256": meta["data_sha256"],
        "training": {"folds_train": [1, 2, 3, 4, 5, 6, 7, 8], "fold_select": VAL_FOLD, "fold_test": TEST_FOLD,
                     "seed": cfg.seed, "epochs": cfg.epochs, "best_epoch": int(ck["epoch"]) + 1,
                     "config": meta["config"], "n_train": meta["n_train"]},
        "preprocessing": {"fs": 100.0, "units": "uV", "leads": list(data_leads()), "duration_s": 10.0,
                          "window": cfg.window, "stride": cfg.stride, "aggregate": "max",
                          "mean": mean, "scale": scale,
                          **({"features": fnorm} if fnorm else {}),
                          "missing_lead": "zero after normalisation (at most one lead)"},
        "outputs": [{"task": t, "code": c, "description": desc.get(c, c),
                     "threshold": thresholds[j], "platt_a": calib[j][0], "platt_b": calib[j][1]}
                    for j, (t, c) in enumerate(outputs)],
        "metrics": {"fold9_macro_auc": task_aucs(y[va], pva, outputs),
                    "fold10_macro_auc": task_aucs(y[te], pte, outputs)},
        "threshold_rule": "per statement, maximises F1 of the calibrated probability on fold 9",
        "calibration": "per statement Platt scaling on logit(p), fitted on fold 9",
    }
    (target / f"{MODEL_NAME}.json").write_text(json.dumps(info, indent=1, ensure_ascii=False))
    return onnx_path


def data_leads() -> tuple[str, ...]:
    from ecgpilot.datasets.ptbxl import LEADS

    return LEADS


