"""Export the best checkpoint of one run, or an ensemble of runs, to ONNX with its metadata
(fold-9 thresholds and calibration)."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ecgpilot.datasets.ptbxl import load_ptbxl
from ecgpilot.model import AGGREGATES, aggregate_windows
from ecgpilot.model.calibration import MIN_F1, apply_platt, f1_at, f1_threshold, fit_platt
from ecgpilot.model.features import BEAT_NAMES
from ecgpilot.paths import package_dir, shared_data_dir
from ecgpilot.train.loop import (
    TEST_FOLD,
    VAL_FOLD,
    TrainConfig,
    _write_atomically,
    prepare,
    record_features,
    standardise,
    task_aucs,
    window_logits,
)
from ecgpilot.train.net import ECGEnsemble, ECGResNet

__all__ = ["export_model", "refit_model", "fit_on_fold9", "combine", "to_onnx", "MODEL_NAME", "statement_descriptions"]

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


def _load_member(run_dir: Path) -> tuple[ECGResNet, dict[str, Any], TrainConfig, int]:
    """The best network of one training run, its meta.json, config and best epoch (1-based)."""
    meta = json.loads((run_dir / "meta.json").read_text())
    cfg = TrainConfig(**meta["config"])
    fnorm = meta.get("features")
    ck = torch.load(run_dir / "best.pt", weights_only=False, map_location="cpu")
    model = ECGResNet(len(meta["outputs"]), width=cfg.width, kernel=cfg.kernel,
                      n_features=len(fnorm["names"]) if fnorm else 0)
    model.load_state_dict(ck["model"])
    return model.eval(), meta, cfg, int(ck["epoch"]) + 1


def combine(members: list[tuple[ECGResNet, dict[str, Any]]]) -> tuple[nn.Module, dict[str, list] | None]:
    """One network from one or more trained members, and the feature spec it reads.

    One member is returned as is. Several become an :class:`ECGEnsemble` reading the union
    of their features (each feature standardised with the statistics of the first member
    that has it). Members must share outputs, signal normalisation and training data.
    """
    (first, m0), rest = members[0], members[1:]
    for _, m in rest:
        for key in ("outputs", "norm", "data_sha256"):
            if m[key] != m0[key]:
                raise ValueError(f"ensemble members differ in {key!r}; they must be trained on the same data")
        if m.get("config", {}).get("window") != m0.get("config", {}).get("window"):
            raise ValueError("ensemble members differ in their window length; they must read the same windows")
    if not rest:
        return first, m0.get("features")
    specs = [m.get("features") or {"names": [], "mean": [], "std": []} for _, m in members]
    union: dict[str, tuple[float, float]] = {}  # name -> (mean, SD) of the first member that has it
    for f in specs:
        for n, mu, sd in zip(f["names"], f["mean"], f["std"]):
            union.setdefault(n, (mu, sd))
    names = list(union)
    columns, scales, shifts = [], [], []
    for f in specs:
        columns.append([names.index(n) for n in f["names"]])
        # member input = (raw - mu_k) / sd_k = u * sd_u / sd_k + (mu_u - mu_k) / sd_k, u the ensemble input
        scales.append([union[n][1] / sd for n, sd in zip(f["names"], f["std"])])
        shifts.append([(union[n][0] - mu) / sd for n, mu, sd in zip(f["names"], f["mean"], f["std"])])
    net = ECGEnsemble([m for m, _ in members], columns, scales, shifts).eval()
    spec: dict[str, list[Any]] = {"names": names, "mean": [union[n][0] for n in names],
                                  "std": [union[n][1] for n in names]}
    return net, (spec if names else None)


WEIGHT_STORAGE = ("float32", "float16", "int8")


def to_onnx(net: nn.Module, path: Path, window: int, n_features: int, weights: str = "float32") -> None:
    """Export ``net`` (inputs ``ecg`` (n, 12, window) and, with ``n_features``, ``features``;
    output ``logits``), its 1-D convolutions run as 2-D ones.

    ``weights``: how the file stores the weights. ``"float16"`` halves the file; ``"int8"``
    (per output channel, symmetric) quarters the matrices and stores the rest as float16.
    Both are expanded back to float32 when the session loads them (float32 arithmetic).
    """
    if weights not in WEIGHT_STORAGE:
        raise ValueError(f"weights must be one of {', '.join(WEIGHT_STORAGE)}; got {weights!r}")
    dummy: tuple[torch.Tensor, ...] = (torch.zeros(1, 12, window),)
    names, axes = ["ecg"], {"ecg": {0: "batch"}, "logits": {0: "batch"}}
    if n_features:
        dummy, names = dummy + (torch.zeros(1, n_features),), names + ["features"]
        axes["features"] = {0: "batch"}
    torch.onnx.export(net, dummy, str(path), input_names=names, output_names=["logits"],
                      dynamic_axes=axes, opset_version=17, dynamo=False)
    _conv1d_as_2d(path)
    if weights != "float32":
        _store_compact(path, int8=weights == "int8")


_SHAPE_FREE_OPS = {"Conv", "Relu", "Add", "Mul", "Div", "Sub", "Gemm", "Gather", "Concat", "Constant", "Cast",
                   "Identity", "ReduceMean", "ReduceMax"}


def _conv1d_as_2d(path: Path) -> None:
    """Rewrite the 1-D convolutions of an exported network as 2-D ones over a (1, samples)
    image: the same arithmetic, about 15 % faster in ONNX Runtime on one CPU core, whose
    blocked-layout convolution kernels only serve 2-D convolutions. The input ``ecg`` keeps its
    (n, 12, samples) shape; the time pooling becomes a pooling over the last two axes. A graph
    with any other operator is left unchanged."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    g = model.graph
    if any(n.op_type not in _SHAPE_FREE_OPS for n in g.node):
        return
    inits = {i.name: i for i in g.initializer}
    alias = {n.output[0]: n.input[0] for n in g.node if n.op_type in ("Identity", "Cast")}
    done: set[str] = set()
    for n in g.node:
        if n.op_type == "Conv":
            name = n.input[1]
            while name not in inits and name in alias:
                name = alias[name]
            if name not in done:
                w = inits[name]
                w.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(w)[:, :, None, :], w.name))
                done.add(name)
            for a in n.attribute:
                v = list(a.ints)
                if a.name == "kernel_shape" or a.name in ("strides", "dilations"):
                    a.ints[:] = [1] + v
                elif a.name == "pads":
                    a.ints[:] = [0, v[0], 0, v[1]]
        elif n.op_type in ("ReduceMean", "ReduceMax"):
            for a in n.attribute:
                if a.name == "axes" and list(a.ints) == [2]:
                    a.ints[:] = [2, 3]
        n.input[:] = ["ecg_2d" if i == "ecg" else i for i in n.input]
    g.initializer.append(numpy_helper.from_array(np.array([2], dtype=np.int64), "ecg_2d_axis"))
    g.node.insert(0, helper.make_node("Unsqueeze", ["ecg", "ecg_2d_axis"], ["ecg_2d"], name="ecg_as_image"))
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def _store_compact(path: Path, int8: bool = False, min_size: int = 64) -> None:
    """Rewrite the float32 initializers of at least ``min_size`` values as float16 + Cast, or,
    with ``int8``, those of two or more axes (convolution and dense weights) as int8 with one
    float32 scale per output channel (axis 0): Cast + Mul, folded back to float32 constants
    when the session loads."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    g = model.graph
    nodes, keep = [], []
    for init in g.initializer:
        arr = numpy_helper.to_array(init)
        if arr.dtype != np.float32 or arr.size < min_size:
            keep.append(init)
        elif int8 and arr.ndim >= 2:
            peak = np.abs(arr).reshape(arr.shape[0], -1).max(axis=1)
            scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
            shape = (arr.shape[0],) + (1,) * (arr.ndim - 1)
            q = np.clip(np.rint(arr / scale.reshape(shape)), -127, 127).astype(np.int8)
            keep += [numpy_helper.from_array(q, init.name + "_int8"),
                     numpy_helper.from_array(scale.reshape(shape), init.name + "_scale")]
            nodes += [helper.make_node("Cast", [init.name + "_int8"], [init.name + "_unscaled"],
                                       to=onnx.TensorProto.FLOAT, name=init.name + "_to_fp32"),
                      helper.make_node("Mul", [init.name + "_unscaled", init.name + "_scale"], [init.name],
                                       name=init.name + "_rescale")]
        else:
            keep.append(numpy_helper.from_array(arr.astype(np.float16), init.name + "_fp16"))
            nodes.append(helper.make_node("Cast", [init.name + "_fp16"], [init.name], to=onnx.TensorProto.FLOAT,
                                          name=init.name + "_to_fp32"))
    del g.initializer[:]
    g.initializer.extend(keep)
    nodes += list(g.node)
    del g.node[:]
    g.node.extend(nodes)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def export_model(run_dir: Path | Sequence[Path], target_dir: Path | None = None, version: str | None = None,
                 stride: int | None = None, weights: str | None = None, aggregate: str | None = None,
                 compute: str = "float32") -> Path:
    """Write ``<target>/ptbxl_classifier.onnx`` and ``.json`` from ``run_dir/best.pt``, or from
    several run folders as one ensemble (mean of the logits).

    ``stride``: step between the serving windows (default: the training runs' own).
    ``weights``: storage of the weights (:data:`WEIGHT_STORAGE`; default float32 for one
    network, float16 for an ensemble). Calibration and thresholds are fitted on fold 9 on the
    output of the exported ONNX file itself, so they account for the storage's rounding.
    ``aggregate``: how the windows of a record are combined (:data:`AGGREGATES`; default:
    the one with the best fold-9 mean macro-AUC, see :func:`fit_on_fold9`).
    ``compute``: ``"int8"`` quantises the convolutions (:mod:`ecgpilot.train.quantize`;
    ``weights`` must then be None).
    """
    from ecgpilot.train.quantize import QUANTISED_STORAGE, VERSION_SUFFIX, check_compute, quantize_for

    _check_aggregate(aggregate)
    check_compute(compute)
    if compute == "int8" and weights is not None:
        raise ValueError(f"weights={weights!r} does not apply to a quantised model (its convolutions are int8)")
    if stride is not None and int(stride) <= 0:
        raise ValueError(f"stride must be a positive number of samples; got {stride}")
    if weights is not None and weights not in WEIGHT_STORAGE:
        raise ValueError(f"weights must be one of {', '.join(WEIGHT_STORAGE)}; got {weights!r}")
    torch.set_num_threads(1)
    dirs = [Path(run_dir)] if isinstance(run_dir, (str, Path)) else [Path(d) for d in run_dir]
    loaded = [_load_member(d) for d in dirs]
    net, fnorm = combine([(m, meta) for m, meta, _, _ in loaded])
    _, meta, cfg, best_epoch = loaded[0]
    outputs = [tuple(o) for o in meta["outputs"]]
    mean, scale = meta["norm"]["mean"], meta["norm"]["scale"]
    stride = int(cfg.stride if stride is None else stride)

    data = load_ptbxl()
    target = target_dir or package_dir() / "model"
    target.mkdir(parents=True, exist_ok=True)
    onnx_path = target / f"{MODEL_NAME}.onnx"
    storage = weights or ("float16" if len(loaded) > 1 else "float32")
    quantisation = None
    if compute == "int8":
        with tempfile.TemporaryDirectory() as tmp:
            plain = Path(tmp) / "float.onnx"
            to_onnx(net, plain, cfg.window, len(fnorm["names"]) if fnorm else 0)
            pp = {"mean": mean, "scale": scale, "window": cfg.window, "stride": stride, "features": fnorm}
            quantisation = quantize_for(plain, onnx_path, data, pp)
        storage = QUANTISED_STORAGE
    else:
        to_onnx(net, onnx_path, cfg.window, len(fnorm["names"]) if fnorm else 0, weights=storage)
    fit = fit_on_fold9(onnx_path, data, outputs, cfg.window, stride, mean, scale, fnorm, aggregate)
    shared = shared_data_dir()
    desc = statement_descriptions(shared / "ptbxl") if shared else {}
    kinds = [_kind(m.get("features")) for _, m, _, _ in loaded]
    today = dt.date.today().isoformat()
    if len(loaded) == 1:
        default_version = f"ptbxl-resnet1d{kinds[0]}-w{cfg.width}-{today}-e{best_epoch}"
    else:
        default_version = (f"ptbxl-ens{len(loaded)}-resnet1d-{'+'.join(k.lstrip('-') or 'signal' for k in kinds)}"
                           f"-w{cfg.width}-{today}-e{'+e'.join(str(e) for *_, e in loaded)}")
    version = version or default_version + (VERSION_SUFFIX if compute == "int8" else "")
    members = [{"run": d.name, "config": m["config"], "best_epoch": e,
                "features": len(m["features"]["names"]) if m.get("features") else 0}
               for d, (_, m, _, e) in zip(dirs, loaded)]
    info = {
        "name": MODEL_NAME,
        "version": version,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "onnx_sha256": _sha256(onnx_path),
        "training_data_sha256": meta["data_sha256"],
        "training": {"folds_train": [1, 2, 3, 4, 5, 6, 7, 8], "fold_select": VAL_FOLD, "fold_test": TEST_FOLD,
                     "seed": cfg.seed, "epochs": cfg.epochs, "best_epoch": best_epoch,
                     "config": meta["config"], "n_train": meta["n_train"],
                     **({"ensemble": "mean of the members' logits", "members": members} if len(loaded) > 1 else {})},
        "preprocessing": {"fs": 100.0, "units": "uV", "leads": list(data_leads()), "duration_s": 10.0,
                          "window": cfg.window, "stride": stride, "aggregate": fit["aggregate"],
                          "mean": mean, "scale": scale,
                          **({"features": fnorm} if fnorm else {}),
                          "missing_lead": "zero after normalisation (at most one lead)"},
        **_fitted(fit, outputs, desc),
        "weights_storage": storage,
        "compute": compute,
        **({"quantisation": quantisation} if quantisation else {}),
    }
    (target / f"{MODEL_NAME}.json").write_text(json.dumps(info, indent=1, ensure_ascii=False))
    return onnx_path


def _check_aggregate(aggregate: str | None) -> None:
    """``None`` (choose on fold 9) or one of :data:`AGGREGATES`, else ValueError."""
    if aggregate is not None and aggregate not in AGGREGATES:
        raise ValueError(f"aggregate must be one of {', '.join(AGGREGATES)}; got {aggregate!r}")


def choose_aggregate(logits: np.ndarray, y: np.ndarray, outputs: list[tuple[str, str]],
                     candidates: Sequence[str] = AGGREGATES) -> tuple[str, dict[str, dict[str, float]]]:
    """The window aggregate of ``candidates`` whose per-record probabilities (from window
    ``logits`` (records, windows, outputs)) have the best mean of the tasks' macro-AUCs
    against ``y`` (ties to the first), and every candidate's per-task macro-AUCs."""
    scores = {a: task_aucs(y, aggregate_windows(logits, a, axis=1), outputs) for a in candidates}
    best = max(candidates, key=lambda a: (float(np.mean(list(scores[a].values()))), -list(candidates).index(a)))
    return best, scores


def fit_on_fold9(onnx_path: Path, data: Any, outputs: list[tuple[str, str]], window: int, stride: int,
                 mean: float, scale: float, fnorm: dict[str, list] | None,
                 aggregate: str | None = None) -> dict[str, Any]:
    """Everything fitted on fold 9 from the output of the exported file ``onnx_path``.

    The window aggregate (``None``: each of :data:`AGGREGATES` is scored and the best fold-9
    mean of the four tasks' macro-AUCs wins, ties to the first), then per statement Platt
    calibration and the F1 threshold; fold-10 macro-AUCs are computed for the record only.
    """
    y = data.targets(outputs)
    va, te = data.folds(VAL_FOLD), data.folds(TEST_FOLD)
    fva = fte = None
    if fnorm:
        fall = record_features(data, fnorm["names"])
        fva, fte = standardise(fall[va], fnorm["mean"], fnorm["std"]), standardise(fall[te], fnorm["mean"], fnorm["std"])
    served = _OnnxNet(onnx_path)  # what the app will run: calibration sees the stored weights' rounding
    lva = window_logits(served, prepare(data, va, mean, scale), window, stride, feats=fva)
    chosen, scores = choose_aggregate(lva, y[va], outputs, AGGREGATES if aggregate is None else (aggregate,))
    pva = aggregate_windows(lva, chosen, axis=1)
    pte = aggregate_windows(window_logits(served, prepare(data, te, mean, scale), window, stride, feats=fte),
                            chosen, axis=1)
    calib = [fit_platt(y[va, j], pva[:, j]) for j in range(len(outputs))]
    cva = apply_platt(pva, np.array([c[0] for c in calib]), np.array([c[1] for c in calib]))
    thresholds = [f1_threshold(y[va, j], cva[:, j]) for j in range(len(outputs))]
    return {"aggregate": chosen, "aggregate_fold9": {a: round(float(np.mean(list(v.values()))), 5) for a, v in scores.items()},
            "calib": calib, "thresholds": thresholds,
            "f1s": [f1_at(y[va, j], cva[:, j], thresholds[j]) for j in range(len(outputs))],
            "fold9": task_aucs(y[va], pva, outputs), "fold10": task_aucs(y[te], pte, outputs)}


def _fitted(fit: dict[str, Any], outputs: list[tuple[str, str]], desc: dict[str, str]) -> dict[str, Any]:
    """The sidecar entries that :func:`fit_on_fold9` decides."""
    f1s, thresholds, calib = fit["f1s"], fit["thresholds"], fit["calib"]
    return {
        "outputs": [{"task": t, "code": c, "description": desc.get(c, c),
                     "threshold": thresholds[j], "platt_a": calib[j][0], "platt_b": calib[j][1],
                     "fold9_f1": round(f1s[j], 4), "decides": f1s[j] >= MIN_F1}
                    for j, (t, c) in enumerate(outputs)],
        "metrics": {"fold9_macro_auc": fit["fold9"], "fold10_macro_auc": fit["fold10"]},
        "aggregate_rule": "the window aggregate with the best fold-9 mean of the four tasks' macro-AUCs "
                          "(aggregate_fold9_mean_auc)",
        "aggregate_fold9_mean_auc": fit["aggregate_fold9"],
        "threshold_rule": "per statement, maximises F1 of the calibrated probability on fold 9; a statement "
                          f"whose best fold-9 F1 is below {MIN_F1} has no usable threshold (decides: false) and is "
                          "never flagged present",
        "calibration": "per statement Platt scaling on logit(p), fitted on fold 9",
    }


def exported_model(model_dir: Path | None = None) -> tuple[Path, Path, dict[str, Any]]:
    """The ONNX file, sidecar path and sidecar of the model exported in ``model_dir`` (default:
    the package's); FileNotFoundError if either file is missing, ValueError if the file does
    not match the sha256 its sidecar records."""
    target = Path(model_dir) if model_dir is not None else package_dir() / "model"
    onnx_path, meta_path = target / f"{MODEL_NAME}.onnx", target / f"{MODEL_NAME}.json"
    if not onnx_path.exists() or not meta_path.exists():
        raise FileNotFoundError(f"no exported model in {target}: {onnx_path.name} and {meta_path.name} are needed")
    info = json.loads(meta_path.read_text())
    if info.get("onnx_sha256") != _sha256(onnx_path):
        raise ValueError(f"{onnx_path} does not match the sha256 recorded in {meta_path.name}; re-export it")
    return onnx_path, meta_path, info


def refit_model(model_dir: Path | None = None, aggregate: str | None = None, version: str | None = None,
                compute: str | None = None) -> Path:
    """Re-fit, on fold 9, what :func:`export_model` fitted for an exported model (window
    aggregate, calibration, thresholds; fold-10 AUCs recorded), without training: the ONNX
    file is unchanged, its ``.json`` sidecar rewritten. The version gains the aggregate's
    name when the aggregate changes (``version`` overrides).

    ``compute="int8"``: first quantise the model's convolutions (:mod:`ecgpilot.train.quantize`),
    rewriting the ONNX file too (version suffix ``-q8``); a quantised model cannot go back to
    float32."""
    from ecgpilot.train.quantize import QUANTISED_STORAGE, VERSION_SUFFIX, check_compute, is_quantised, quantize_for

    _check_aggregate(aggregate)
    if compute is not None:
        check_compute(compute)
    onnx_path, meta_path, info = exported_model(model_dir)
    quantised_already = is_quantised(onnx_path)
    if compute == "float32" and quantised_already:
        raise ValueError(f"{onnx_path.name} has quantised convolutions: it cannot be turned back into float32; "
                         "re-export or re-extend the float model instead")
    torch.set_num_threads(1)
    data = load_ptbxl()
    if info["training_data_sha256"] != data.data_sha256:
        raise ValueError("the PTB-XL data in ../shared differs from the model's training data "
                         f"(sha256 {data.data_sha256[:12]}… vs {info['training_data_sha256'][:12]}…)")
    pp = info["preprocessing"]
    outputs = [(o["task"], o["code"]) for o in info["outputs"]]
    before = pp.get("aggregate", "max")
    with tempfile.TemporaryDirectory() as tmp:
        served = onnx_path
        if compute == "int8" and not quantised_already:
            served = Path(tmp) / "quantised.onnx"
            info["quantisation"] = quantize_for(onnx_path, served, data, pp)
            info.update({"onnx_sha256": _sha256(served), "weights_storage": QUANTISED_STORAGE,
                         "compute": "int8", "version": info["version"] + VERSION_SUFFIX})
        fit = fit_on_fold9(served, data, outputs, pp["window"], pp["stride"], pp["mean"], pp["scale"],
                           pp.get("features"), aggregate)
        desc = {o["code"]: o["description"] for o in info["outputs"]}
        info.update(_fitted(fit, outputs, desc))
        info["preprocessing"]["aggregate"] = fit["aggregate"]
        if version:
            info["version"] = version
        elif fit["aggregate"] != before:
            info["version"] = f"{info['version']}-{fit['aggregate'].replace('_', '')}"
        info["refitted"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        if served != onnx_path:  # the ONNX first: a crash in between leaves a sha256 mismatch load_model refuses
            _write_atomically(onnx_path, lambda p: shutil.copyfile(served, p))
        _write_atomically(meta_path, lambda p: p.write_text(json.dumps(info, indent=1, ensure_ascii=False)))
    return meta_path


class _OnnxNet(nn.Module):
    """An exported ONNX file behind the ``model(x, features)`` call of :func:`predict_records`."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        from ecgpilot.model import onnxruntime_without_telemetry

        ort = onnxruntime_without_telemetry()

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]

    def forward(self, x: torch.Tensor, feats: torch.Tensor | None = None) -> torch.Tensor:
        feed = {"ecg": x.numpy()}
        if "features" in self.inputs:
            if feats is None:
                raise ValueError("this ONNX model needs its record features")
            feed["features"] = feats.numpy()
        return torch.from_numpy(self.session.run(["logits"], feed)[0])


def _kind(fnorm: dict[str, Any] | None) -> str:
    if not fnorm:
        return ""
    return "-rrbeat" if any(k in BEAT_NAMES for k in fnorm["names"]) else "-rr"


def data_leads() -> tuple[str, ...]:
    from ecgpilot.datasets.ptbxl import LEADS

    return LEADS


