"""The AI reader: PTB-XL multi-label classifier served with ONNX Runtime only (no PyTorch).

``classify(record)`` returns the ``ai`` object of the analysis document
(docs/analysis-schema.md). The model file and its JSON sidecar (version, training data
hash, preprocessing, fold-9 thresholds and Platt calibration, recorded fold-10 AUCs)
ship inside this package.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit

from ecgpilot.errors import ModelError
from ecgpilot.model.calibration import apply_platt
from ecgpilot.model.preprocess import model_input
from ecgpilot.record import ECGRecord

__all__ = ["Classifier", "load_model", "classify", "default_model_path", "aggregate_windows", "AGGREGATES",
           "onnxruntime_without_telemetry"]

# How the windows of one record become its probability: "max", the largest window
# probability; "mean_logit", the sigmoid of the windows' mean logit.
AGGREGATES = ("max", "mean_logit")

_LOCK = threading.Lock()
_CACHE: dict[Path, "Classifier"] = {}


def onnxruntime_without_telemetry() -> Any:
    """The ``onnxruntime`` module with Microsoft's usage telemetry off: ONNX Runtime's official Linux wheels
    (1.29 and later) otherwise create a persistent device identifier and queue usage events for upload
    (its Privacy.md). Health data stays at home and so does usage: ``ORT_DISABLE_TELEMETRY=1`` is set
    before ONNX Runtime initialises (an operator's own value is kept), and the non-essential events are
    switched off through the API as well. Every ecgpilot import of onnxruntime goes through here."""
    import os

    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    import onnxruntime as ort

    if hasattr(ort, "disable_telemetry_events"):
        ort.disable_telemetry_events()
    return ort


def default_model_path() -> Path:
    """The ONNX model shipped in the package."""
    return Path(__file__).resolve().parent / "ptbxl_classifier.onnx"


def aggregate_windows(logits: NDArray, how: str, axis: int = 0) -> NDArray[np.float64]:
    """Record probabilities from per-window ``logits`` along ``axis`` (:data:`AGGREGATES`)."""
    z = np.asarray(logits, dtype=np.float64)
    if how == "max":
        return expit(z.max(axis=axis))
    if how == "mean_logit":
        return expit(z.mean(axis=axis))
    raise ModelError(f"window aggregate must be one of {', '.join(AGGREGATES)}; got {how!r}.")


@dataclass
class Classifier:
    """An ONNX Runtime session plus its metadata."""

    path: Path
    meta: dict[str, Any]
    session: Any

    @property
    def version(self) -> str:
        return str(self.meta["version"])

    @property
    def feature_spec(self) -> dict[str, Any] | None:
        """Names, training mean and SD of the whole-record features, or None (signal-only model)."""
        return self.meta["preprocessing"].get("features")

    @property
    def aggregate(self) -> str:
        """How window outputs become the record's (:data:`AGGREGATES`; sidecar default "max")."""
        return str(self.meta["preprocessing"].get("aggregate", "max"))

    def predict_windows(self, x: NDArray[np.float32], features: NDArray | None = None) -> NDArray[np.float64]:
        """Sigmoid probabilities for a batch of normalised windows ``(n, 12, window)``
        (see :meth:`predict_logits`)."""
        return expit(self.predict_logits(x, features))

    def predict_logits(self, x: NDArray[np.float32], features: NDArray | None = None) -> NDArray[np.float64]:
        """Logits for a batch of normalised windows ``(n, 12, window)``.

        ``features``: the raw :func:`~ecgpilot.model.features.model_features` of the record
        the windows come from, ``(n_features,)`` for all windows or ``(n, n_features)``;
        required when the model was trained with them.
        """
        if x.ndim != 3 or x.shape[1:] != (12, int(self.meta["preprocessing"]["window"])):
            raise ModelError(
                f"model input must have shape (n, 12, {self.meta['preprocessing']['window']}); got {x.shape}."
            )
        feed = {"ecg": np.ascontiguousarray(x, dtype=np.float32)}
        spec = self.feature_spec
        if spec is not None:
            n_f = len(spec["names"])
            if features is None:
                raise ModelError(f"model {self.version} needs the record's {n_f} whole-record features; none given.")
            f = np.asarray(features, dtype=np.float64)
            f = np.broadcast_to(f, (x.shape[0], n_f)) if f.shape == (n_f,) else f
            if f.shape != (x.shape[0], n_f):
                raise ModelError(f"features must have shape ({n_f},) or ({x.shape[0]}, {n_f}); got {f.shape}.")
            feed["features"] = ((f - np.asarray(spec["mean"])) / np.asarray(spec["std"])).astype(np.float32)
        return self.session.run(None, feed)[0].astype(np.float64)

    def predict_proba(self, record: ECGRecord) -> tuple[NDArray[np.float64], dict[str, Any]]:
        """Raw probability per output (the windows combined by :attr:`aggregate`) and the
        input description."""
        w, feats, info = model_input(record, self.meta["preprocessing"])
        return aggregate_windows(self.predict_logits(w, feats), self.aggregate, axis=0), info

    def flags(self, calibrated: NDArray) -> NDArray[np.bool_]:
        """Yes/no per output for calibrated probabilities ``(..., n_outputs)``: at or above the
        fold-9 threshold, and never for a statement without a usable threshold (``decides``)."""
        thr = np.array([o["threshold"] for o in self.meta["outputs"]])
        return (np.asarray(calibrated) >= thr) & self.decides

    @property
    def decides(self) -> NDArray[np.bool_]:
        """Per output: whether it has a usable fold-9 threshold (sidecar ``decides``, default true)."""
        return np.array([bool(o.get("decides", True)) for o in self.meta["outputs"]])

    def classify(self, record: ECGRecord) -> dict[str, Any]:
        """The ``ai`` object of the analysis document for one record."""
        p, info = self.predict_proba(record)
        outs = self.meta["outputs"]
        a = np.array([o["platt_a"] for o in outs])
        b = np.array([o["platt_b"] for o in outs])
        cal = apply_platt(p, a, b)
        present, decides = self.flags(cal), self.decides
        statements = [
            {"code": o["code"], "task": o["task"], "description": o["description"],
             "probability": round(float(p[j]), 4), "calibrated_probability": round(float(cal[j]), 4),
             "present": bool(present[j]),
             "threshold": round(float(o["threshold"]), 4) if decides[j] else None}
            for j, o in enumerate(outs)
        ]
        return {"model_version": self.version, "model_sha256": self.meta.get("onnx_sha256"),
                "statements": statements, "input": info}


def load_model(path: str | Path | None = None) -> Classifier:
    """Load (once per path, thread-safe) the ONNX model and its ``.json`` sidecar."""
    p = Path(path) if path is not None else default_model_path()
    with _LOCK:
        if p in _CACHE:
            return _CACHE[p]
        meta_path = p.with_suffix(".json")
        if not p.exists() or not meta_path.exists():
            raise ModelError(
                f"Model file {p} (and its {meta_path.name}) not found. Train and export one with "
                "'ecgpilot train', or reinstall ecgpilot."
            )
        try:
            ort = onnxruntime_without_telemetry()
        except ImportError as exc:  # pragma: no cover - core dependency
            raise ModelError(f"onnxruntime is not installed ({exc}); pip install onnxruntime") from None
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        how = meta.get("preprocessing", {}).get("aggregate", "max")
        if how not in AGGREGATES:
            raise ModelError(f"{meta_path.name}: preprocessing.aggregate must be one of {', '.join(AGGREGATES)}; "
                             f"got {how!r}. Re-export the model with 'ecgpilot train'.")
        digest = hashlib.sha256(p.read_bytes()).hexdigest()
        if meta.get("onnx_sha256") and meta["onnx_sha256"] != digest:
            raise ModelError(f"Model file {p.name} does not match the sha256 recorded in {meta_path.name}.")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        sess = ort.InferenceSession(str(p), sess_options=opts, providers=["CPUExecutionProvider"])
        clf = Classifier(path=p, meta=meta, session=sess)
        _CACHE[p] = clf
        return clf


def classify(record: ECGRecord, model_path: str | Path | None = None) -> dict[str, Any]:
    """Run the shipped classifier on one record (see :meth:`Classifier.classify`)."""
    return load_model(model_path).classify(record)
