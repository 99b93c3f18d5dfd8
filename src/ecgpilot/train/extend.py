"""Grow an exported ensemble with newly trained members, without the old members' checkpoints.

The exported ONNX file is the only copy of a shipped network once its training run is gone.
:func:`extend_model` keeps that file's graph as it is, adds the new members' graph beside it
and returns the mean of the logits of all the members: ``(n_old * old + n_new * new) / n``.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ecgpilot.datasets.ptbxl import load_ptbxl
from ecgpilot.train.export import (
    MODEL_NAME,
    WEIGHT_STORAGE,
    _check_aggregate,
    _fitted,
    _load_member,
    _sha256,
    _store_compact,
    combine,
    exported_model,
    fit_on_fold9,
    to_onnx,
)
from ecgpilot.train.loop import TrainConfig, _write_atomically
from ecgpilot.train.quantize import (
    QUANTISED_STORAGE,
    VERSION_SUFFIX,
    check_compute,
    has_quantised_convolutions,
    quantize_for,
)

__all__ = ["extend_model", "grow_onnx", "extend_onnx", "expand_storage"]


def expand_storage(model: Any) -> None:
    """Turn the float16 / int8 weights that :func:`~ecgpilot.train.export.to_onnx` stores
    (initializer → Cast [→ Mul by a per-channel scale]) back into float32 initializers, in place.

    Only Cast and Mul nodes whose inputs are all initializers are folded: exactly what the
    session does when it loads the file, so the graph computes the same values."""
    from onnx import numpy_helper

    g = model.graph
    arrays = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    kept = []
    for n in g.node:
        if n.op_type == "Cast" and n.input[0] in arrays:
            arrays[n.output[0]] = arrays[n.input[0]].astype(np.float32)
        elif n.op_type == "Mul" and all(i in arrays for i in n.input):
            arrays[n.output[0]] = (arrays[n.input[0]] * arrays[n.input[1]]).astype(np.float32)
        else:
            kept.append(n)
    used = {i for n in kept for i in n.input} | {o.name for o in g.output}
    del g.node[:]
    g.node.extend(kept)
    del g.initializer[:]
    g.initializer.extend(numpy_helper.from_array(a, name) for name, a in arrays.items() if name in used)


def _same_stats(base: dict[str, list] | None, extra: dict[str, list] | None) -> list[int]:
    """The columns of the base model's feature input that the extra graph reads, in its
    order; ValueError if a feature is missing or standardised differently."""
    if not extra or not extra.get("names"):
        return []
    if not base:
        raise ValueError("the new members read record features but the model they extend reads none")
    where = {n: j for j, n in enumerate(base["names"])}
    cols = []
    for n, mu, sd in zip(extra["names"], extra["mean"], extra["std"]):
        if n not in where:
            raise ValueError(f"the new members read the feature {n!r}, which the model they extend does not have")
        j = where[n]
        if not (np.isclose(base["mean"][j], mu, rtol=1e-6, atol=1e-9) and np.isclose(base["std"][j], sd, rtol=1e-6)):
            raise ValueError(f"feature {n!r} is standardised differently (mean {mu} / SD {sd} against "
                             f"{base['mean'][j]} / {base['std'][j]}): the members were not trained on the same data")
        cols.append(j)
    return cols


def extend_onnx(base: Path, n_base: int, extra: Path, n_extra: int, out: Path, columns: list[int],
                weights: str = "float32") -> None:
    """Write to ``out`` one graph whose ``logits`` are the member-weighted mean of the
    ``logits`` of ``base`` (an ensemble of ``n_base`` members) and of ``extra`` (``n_extra``
    members), both reading the same ``ecg`` input; ``extra`` reads the ``columns`` of the
    base's ``features`` input (none: it reads no features). ``weights``: storage of the result."""
    import onnx
    from onnx import compose, helper, numpy_helper

    if weights not in WEIGHT_STORAGE:
        raise ValueError(f"weights must be one of {', '.join(WEIGHT_STORAGE)}; got {weights!r}")
    if n_base < 1 or n_extra < 1:
        raise ValueError(f"member counts must be positive; got {n_base} and {n_extra}")
    a, b = onnx.load(str(base)), onnx.load(str(extra))
    if has_quantised_convolutions(a):
        raise ValueError(f"{Path(base).name} has quantised (8-bit) convolutions and cannot grow: extend the float "
                         "model it was quantised from, then quantise the result (--compute int8)")
    for m in (a, b):
        expand_storage(m)
    # a model extended before already holds "grow1_" names: every grow step takes a fresh prefix
    taken = {x for n in a.graph.node for x in (*n.input, *n.output, n.name)} | {i.name for i in a.graph.initializer}
    step = 1
    while any(name.startswith(f"grow{step}_") for name in taken):
        step += 1
    p = f"grow{step}_"
    b = compose.add_prefix(b, p)
    ga, gb = a.graph, b.graph
    for n in ga.node:
        n.output[:] = [f"{p}base_logits" if o == "logits" else o for o in n.output]
    glue = [helper.make_node("Identity", ["ecg"], [f"{p}ecg"], name=f"{p}ecg_in")]
    inits = list(ga.initializer) + list(gb.initializer)
    if any(i.name == f"{p}features" for i in gb.input):
        if not columns or not any(i.name == "features" for i in ga.input):
            raise ValueError("the new members read features: give the base model's columns they read")
        inits.append(numpy_helper.from_array(np.asarray(columns, dtype=np.int64), f"{p}feature_columns"))
        glue.append(helper.make_node("Gather", ["features", f"{p}feature_columns"], [f"{p}features"], axis=1,
                                     name=f"{p}features_in"))
    total = float(n_base + n_extra)
    inits += [numpy_helper.from_array(np.array(n_base / total, dtype=np.float32), f"{p}base_weight"),
              numpy_helper.from_array(np.array(n_extra / total, dtype=np.float32), f"{p}new_weight")]
    tail = [helper.make_node("Mul", [f"{p}base_logits", f"{p}base_weight"], [f"{p}base_part"], name=f"{p}base_share"),
            helper.make_node("Mul", [f"{p}logits", f"{p}new_weight"], [f"{p}new_part"], name=f"{p}new_share"),
            helper.make_node("Add", [f"{p}base_part", f"{p}new_part"], ["logits"], name=f"{p}member_mean")]
    graph = helper.make_graph(list(ga.node) + glue + list(gb.node) + tail, "ecgpilot_ensemble",
                              list(ga.input), list(ga.output), inits)
    merged = helper.make_model(graph, opset_imports=list(a.opset_import), ir_version=a.ir_version)
    onnx.checker.check_model(merged)
    onnx.save(merged, str(out))
    if weights != "float32":
        _store_compact(out, int8=weights == "int8")


def _member_width(config: dict[str, Any]) -> str:
    """A member's width for the version, with its kernel when not the default: ``24``, ``24k9``."""
    kernel = config.get("kernel", TrainConfig.kernel)
    return f"{config['width']}" + (f"k{kernel}" if kernel != TrainConfig.kernel else "")


def _member_kind(config: dict[str, Any]) -> str:
    if not config.get("features", True):
        return "signal"
    return "rr" if config.get("feature_set") == "rhythm" else "rrbeat"


def grow_onnx(base: Path, info: dict[str, Any], run_dirs: Sequence[Path], out: Path,
              weights: str | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
    """Write to ``out`` the exported model ``base`` (sidecar ``info``) grown by the best
    networks of ``run_dirs``, after checking that they share its outputs, training data,
    signal normalisation, window and feature standardisation (ValueError naming the
    difference). ``weights``: storage (default int8 from 4 members, else float16).
    Returns the old members, the new members (sidecar entries) and the storage used."""
    if weights is not None and weights not in WEIGHT_STORAGE:
        raise ValueError(f"weights must be one of {', '.join(WEIGHT_STORAGE)}; got {weights!r}")
    if not run_dirs:
        raise ValueError("give at least one training run to add to the model")
    loaded = [_load_member(Path(d)) for d in run_dirs]
    net, fnorm = combine([(m, meta) for m, meta, _, _ in loaded])
    _, meta, cfg, _ = loaded[0]
    pp = info["preprocessing"]
    checks = {"outputs": ([tuple(o) for o in meta["outputs"]], [(o["task"], o["code"]) for o in info["outputs"]]),
              "training data": (meta["data_sha256"], info["training_data_sha256"]),
              "signal normalisation": ((meta["norm"]["mean"], meta["norm"]["scale"]), (pp["mean"], pp["scale"])),
              "window": (cfg.window, pp["window"])}
    for what, (new, old) in checks.items():
        if new != old:
            raise ValueError(f"the new members differ from the model {info['version']} in their {what}; "
                             "they must be trained with the same data and settings")
    columns = _same_stats(pp.get("features"), fnorm)
    old_members = info["training"].get("members") or [
        {"run": "single", "config": info["training"]["config"], "best_epoch": info["training"]["best_epoch"]}]
    new_members = [{"run": Path(d).name, "config": m["config"], "best_epoch": e,
                    "features": len(m["features"]["names"]) if m.get("features") else 0}
                   for d, (_, m, _, e) in zip(run_dirs, loaded)]
    storage = weights or ("int8" if len(old_members) + len(new_members) >= 4 else "float16")
    with tempfile.TemporaryDirectory() as tmp:
        new_onnx = Path(tmp) / "new.onnx"
        to_onnx(net, new_onnx, cfg.window, len(fnorm["names"]) if fnorm else 0)
        extend_onnx(base, len(old_members), new_onnx, len(new_members), out, columns, weights=storage)
    return old_members, new_members, storage


def extend_model(model_dir: Path | None, run_dirs: Sequence[Path], target_dir: Path | None = None,
                 weights: str | None = None, aggregate: str | None = None, version: str | None = None,
                 stride: int | None = None, compute: str = "float32") -> Path:
    """Add the best networks of ``run_dirs`` to the exported model in ``model_dir`` (default:
    the package's) and write the larger ensemble to ``target_dir`` (default: ``model_dir``).

    The members must share outputs, signal normalisation, window and training data with the
    model. ``stride``: step between the serving windows (default: the model's). ``weights``: storage (default int8 from 4 members, else
    float16). ``compute``: ``"int8"`` quantises the convolutions of the grown ensemble
    (:mod:`ecgpilot.train.quantize`). The window aggregate, calibration and thresholds are
    re-fitted on fold 9, on the file as served."""
    _check_aggregate(aggregate)
    check_compute(compute)
    if stride is not None and int(stride) <= 0:
        raise ValueError(f"stride must be a positive number of samples; got {stride}")
    onnx_in, _, info = exported_model(model_dir)
    torch.set_num_threads(1)
    pp = dict(info["preprocessing"], **({"stride": int(stride)} if stride is not None else {}))
    outputs = [(o["task"], o["code"]) for o in info["outputs"]]
    data = load_ptbxl()
    if data.data_sha256 != info["training_data_sha256"]:
        raise ValueError("the PTB-XL data in ../shared differs from the model's training data")
    target = Path(target_dir) if target_dir is not None else onnx_in.parent
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        base_copy, merged = Path(tmp) / "base.onnx", Path(tmp) / "merged.onnx"
        shutil.copyfile(onnx_in, base_copy)  # the target may be the model's own folder
        old_members, new_members, storage = grow_onnx(base_copy, info, run_dirs, merged,
                                                      "float32" if compute == "int8" else weights)
        members = old_members + new_members
        quantisation = None
        if compute == "int8":
            quantised = Path(tmp) / "quantised.onnx"
            quantisation = quantize_for(merged, quantised, data, pp)
            merged, storage = quantised, QUANTISED_STORAGE
        widths = "+".join(dict.fromkeys(_member_width(m["config"]) for m in members))
        fit = fit_on_fold9(merged, data, outputs, pp["window"], pp["stride"], pp["mean"], pp["scale"],
                           pp.get("features"), aggregate)
        kinds = "+".join(_member_kind(m["config"]) for m in members)
        epochs = "+e".join(str(m["best_epoch"]) for m in members)
        out = dict(info)
        out.update({
            "version": version or (f"ptbxl-ens{len(members)}-resnet1d-{kinds}-w{widths}-{dt.date.today()}-e{epochs}"
                                   + (VERSION_SUFFIX if compute == "int8" else "")),
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "onnx_sha256": _sha256(merged),
            "extends": {"version": info["version"], "onnx_sha256": info["onnx_sha256"], "members": len(old_members)},
            "weights_storage": storage,
            "compute": compute,
        })
        out.pop("quantisation", None)
        if quantisation:
            out["quantisation"] = quantisation
        out["training"] = dict(info["training"], ensemble="mean of the members' logits", members=members)
        out["preprocessing"] = dict(pp, aggregate=fit["aggregate"])
        out.update(_fitted(fit, outputs, {o["code"]: o["description"] for o in info["outputs"]}))
        out.pop("refitted", None)
        onnx_out, meta_out = target / f"{MODEL_NAME}.onnx", target / f"{MODEL_NAME}.json"
        # both files land complete (the ONNX first: a crash in between leaves a sha256 mismatch that
        # load_model refuses, never a model served with another model's thresholds)
        _write_atomically(onnx_out, lambda p: shutil.copyfile(merged, p))
        _write_atomically(meta_out, lambda p: p.write_text(json.dumps(out, indent=1, ensure_ascii=False)))
    return onnx_out
