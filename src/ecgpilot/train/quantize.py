"""8-bit integer convolutions for an exported network (static post-training quantisation).

ONNX Runtime runs a quantised convolution (``QLinearConv``: uint8 activations, int8 weights
with one scale per output channel) two to three times faster than a float32 one on one CPU
core, so an ensemble of three or more networks fits the 10-ms budget. Quantisation:

* activation ranges are calibrated (min/max) on the serving windows of
  :data:`CALIBRATION_RECORDS` training records (folds 1–8, drawn with :data:`CALIBRATION_SEED`),
  never on fold 9 or 10;
* weights use 7 of their 8 bits (``reduce_range``), so that CPUs without VNNI instructions
  (AVX2 ``vpmaddubsw``) cannot saturate their 16-bit intermediate sums: the same file gives the
  same scores on every x86 CPU;
* the first convolution of each member (its stem, reading the raw ECG whose amplitudes are
  heavy-tailed) stays float32, as do the dense layers and the feature branch.

Calibration, thresholds and the window aggregate are then fitted on fold 9 on the quantised
file's own output (:func:`ecgpilot.train.export.fit_on_fold9`).
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

__all__ = ["COMPUTE", "CALIBRATION_RECORDS", "CALIBRATION_SEED", "QUANTISED_STORAGE", "VERSION_SUFFIX",
           "calibration_feeds", "quantize_onnx", "quantize_for", "is_quantised", "has_quantised_convolutions",
           "check_compute"]

COMPUTE = ("float32", "int8")
CALIBRATION_RECORDS = 256
CALIBRATION_SEED = 0
KEEP_FLOAT = r"(^|/)stem(/|$)"  # node names left in float32
QUANTISED_STORAGE = "int8 (quantised convolutions)"  # the sidecar's weights_storage of a quantised model
VERSION_SUFFIX = "-q8"  # appended to the version of a quantised model


def check_compute(compute: str) -> None:
    """ValueError unless ``compute`` is one of :data:`COMPUTE`."""
    if compute not in COMPUTE:
        raise ValueError(f"compute must be one of {', '.join(COMPUTE)}; got {compute!r}")


def has_quantised_convolutions(model: Any) -> bool:
    """True when the loaded ONNX ``model`` has quantised (``QLinearConv``) convolutions."""
    return any(n.op_type == "QLinearConv" for n in model.graph.node)


def is_quantised(path: Path) -> bool:
    """:func:`has_quantised_convolutions` of the ONNX file at ``path``."""
    import onnx

    return has_quantised_convolutions(onnx.load(str(path)))


def calibration_feeds(data: Any, preprocessing: dict[str, Any], n: int = CALIBRATION_RECORDS,
                      seed: int = CALIBRATION_SEED) -> list[dict[str, np.ndarray]]:
    """ONNX inputs of ``n`` training-fold records drawn with ``seed``: per record, its serving
    windows (``ecg``, normalised as ``preprocessing`` says) and, if the model reads them, its
    standardised features repeated per window."""
    from ecgpilot.train.loop import prepare, record_features, standardise, windows

    if n < 1:
        raise ValueError(f"the calibration needs at least one record; got {n}")
    train = np.concatenate([data.folds(k) for k in range(1, 9)])
    idx = np.sort(np.random.default_rng(seed).choice(train, size=min(n, train.size), replace=False))
    x = windows(prepare(data, idx, preprocessing["mean"], preprocessing["scale"]),
                preprocessing["window"], preprocessing["stride"]).astype(np.float32)
    spec = preprocessing.get("features")
    f = (standardise(record_features(data, spec["names"])[idx], spec["mean"], spec["std"]).astype(np.float32)
         if spec else None)
    feeds = []
    for i in range(idx.size):
        feed = {"ecg": x[i]}
        if f is not None:
            feed["features"] = np.repeat(f[i:i + 1], x.shape[1], axis=0)
        feeds.append(feed)
    return feeds


class _Feeds:
    """The ``CalibrationDataReader`` protocol of onnxruntime.quantization over a list of feeds."""

    def __init__(self, feeds: Iterable[dict[str, np.ndarray]]) -> None:
        self._it: Iterator[dict[str, np.ndarray]] = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)


def quantize_onnx(src: Path, dst: Path, feeds: list[dict[str, np.ndarray]]) -> dict[str, Any]:
    """Write to ``dst`` the network ``src`` with its convolutions in 8-bit integers (static,
    calibrated on ``feeds``, see the module docstring). Returns what the sidecar records."""
    import onnx
    from ecgpilot.model import onnxruntime_without_telemetry

    onnxruntime_without_telemetry()   # before onnxruntime.quantization initialises ONNX Runtime
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from ecgpilot.train.extend import expand_storage

    if not feeds:
        raise ValueError("the calibration needs at least one input")
    model = onnx.load(str(src))
    if has_quantised_convolutions(model):
        raise ValueError(f"{Path(src).name} is already quantised (its convolutions are 8-bit)")
    expand_storage(model)  # float16/int8 storage back to float32 initializers
    with tempfile.TemporaryDirectory() as tmp:
        plain, ready = Path(tmp) / "plain.onnx", Path(tmp) / "ready.onnx"
        onnx.save(model, str(plain))
        quant_pre_process(str(plain), str(ready))
        keep = [n.name for n in onnx.load(str(ready)).graph.node if re.search(KEEP_FLOAT, n.name)]
        quantize_static(str(ready), str(dst), _Feeds(feeds), quant_format=QuantFormat.QOperator,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
                        reduce_range=True, op_types_to_quantize=["Conv"], nodes_to_exclude=keep,
                        calibrate_method=CalibrationMethod.MinMax)
    quantised = sum(n.op_type == "QLinearConv" for n in onnx.load(str(dst)).graph.node)
    if quantised == 0:
        raise ValueError(f"{src} has no convolution to quantise")
    return {"compute": "int8", "method": "static, min/max, per output channel, 7-bit weights (reduce_range)",
            "quantised_convolutions": quantised, "float_nodes": keep}


def quantize_for(src: Path, dst: Path, data: Any, preprocessing: dict[str, Any]) -> dict[str, Any]:
    """:func:`quantize_onnx` calibrated on the default :func:`calibration_feeds` of ``data``
    (PTB-XL) for a model read as ``preprocessing`` says; returns the sidecar's record of it."""
    info = quantize_onnx(src, dst, calibration_feeds(data, preprocessing))
    return dict(info, calibration={"records": CALIBRATION_RECORDS, "folds": list(range(1, 9)),
                                   "seed": CALIBRATION_SEED, "inputs": "the serving windows of each record"})
