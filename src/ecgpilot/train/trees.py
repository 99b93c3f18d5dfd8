"""Gradient-boosted trees on the whole-record features, added to an exported network ensemble.

The networks read 2.5-s windows and see the record features only through their last layer.
A second, different kind of model on the same features (one boosted-tree model per output,
scikit-learn's histogram gradient boosting, fitted on folds 1-8) makes errors the networks do
not; its logit is added to theirs with one weight per task chosen on fold 9:

    logit = networks(windows, features) + w[task] * (bias + sum of the trees(features))

The trees go into the same ONNX file as one ``TreeEnsemble`` node (ONNX-ML opset 5) that
reads the graph's standardised ``features`` input, so serving still runs one ONNX Runtime
session and nothing else. scikit-learn is needed only here (the ``train`` extra).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["TreeConfig", "WEIGHT_GRID", "fit_trees", "tree_logits", "trees_to_onnx", "add_trees_onnx",
           "choose_weights", "boost_model"]

WEIGHT_GRID: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5)  # per-task weights tried on fold 9
ML_DOMAIN, ML_OPSET = "ai.onnx.ml", 5
_LEQ = 0  # TreeEnsemble node mode BRANCH_LEQ: x <= split goes to the "true" child


@dataclass(frozen=True)
class TreeConfig:
    """Settings of the boosted trees (one model per output, the same settings for all).

    The defaults were chosen on fold 9 among a few settings whose ONNX size keeps the whole
    model under 5 MB (benchmarks/results/trees.md)."""

    iterations: int = 100
    leaves: int = 7
    learning_rate: float = 0.1
    min_samples_leaf: int = 20
    l2: float = 1.0
    seed: int = 20261203

    def __post_init__(self) -> None:
        if self.iterations < 1 or self.leaves < 2 or self.min_samples_leaf < 1:
            raise ValueError(f"trees need iterations >= 1, leaves >= 2 and min_samples_leaf >= 1; got {self}")
        if not 0 < self.learning_rate <= 1 or self.l2 < 0:
            raise ValueError(f"trees need 0 < learning_rate <= 1 and l2 >= 0; got {self}")

    @property
    def tag(self) -> str:
        """Short name for the model version: ``gbt100x15``."""
        return f"gbt{self.iterations}x{self.leaves}"


def fit_trees(x: np.ndarray, y: np.ndarray, config: TreeConfig = TreeConfig(), progress: bool = False) -> list[Any]:
    """One fitted ``HistGradientBoostingClassifier`` per column of the multi-hot ``y``
    (records × outputs), on the features ``x`` (records × features, as the ONNX graph reads them).
    A column with no positive (or no negative) record gets ``None``: its tree logit is 0."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2 or y.ndim != 2 or len(x) != len(y):
        raise ValueError(f"x must be (records, features) and y (records, outputs); got {x.shape} and {y.shape}")
    cols: Any = range(y.shape[1])
    if progress:
        try:
            from tqdm import tqdm

            cols = tqdm(cols, desc="boosted trees")
        except ImportError:  # pragma: no cover
            pass
    models: list[Any] = []
    for j in cols:
        t = y[:, j] > 0.5
        if t.all() or not t.any():
            models.append(None)
            continue
        m = HistGradientBoostingClassifier(max_iter=config.iterations, learning_rate=config.learning_rate,
                                           max_leaf_nodes=config.leaves, min_samples_leaf=config.min_samples_leaf,
                                           l2_regularization=config.l2, early_stopping=False,
                                           random_state=config.seed)
        models.append(m.fit(x, t.astype(np.int64)))
    return models


def tree_logits(models: Sequence[Any], x: np.ndarray) -> np.ndarray:
    """The raw (logit) score of every model on ``x``: (records, outputs); 0 for ``None``."""
    x = np.asarray(x, dtype=np.float32)
    out = np.zeros((len(x), len(models)))
    for j, m in enumerate(models):
        if m is not None:
            out[:, j] = m.decision_function(x)
    return out


def _float32_at_most(t: float) -> float:
    """The largest float32 <= ``t``: for float32 inputs ``x <= t`` and ``x <= that`` agree."""
    t32 = np.float32(t)
    if float(t32) > t:
        t32 = np.nextafter(t32, np.float32(-np.inf))
    return float(t32)


def _tables(models: Sequence[Any]) -> dict[str, Any]:
    """The flat node and leaf tables of a ``TreeEnsemble`` node for ``models`` (one target each)."""
    roots, feat, split, t_id, t_leaf, f_id, f_leaf, miss = ([] for _ in range(8))  # type: list[Any], list[Any], list[Any], list[Any], list[Any], list[Any], list[Any], list[Any]
    leaf_target: list[int] = []
    leaf_weight: list[float] = []
    bias = np.zeros(len(models))
    for target, m in enumerate(models):
        if m is None:
            continue
        bias[target] = float(np.ravel(m._baseline_prediction)[0])
        for (pred,) in m._predictors:
            nodes = pred.nodes
            if nodes["is_categorical"].any():
                raise ValueError("categorical splits are not supported in the ONNX export")
            if nodes[0]["is_leaf"]:  # a tree without a split: a constant
                bias[target] += float(nodes[0]["value"])
                continue
            split_index: dict[int, int] = {}
            leaf_index: dict[int, int] = {}
            for i, nd in enumerate(nodes):  # number the splits and leaves of this tree
                if nd["is_leaf"]:
                    leaf_index[i] = len(leaf_weight)
                    leaf_target.append(target)
                    leaf_weight.append(float(nd["value"]))
                else:
                    split_index[i] = len(feat) + len(split_index)
            roots.append(split_index[0])
            for i, nd in enumerate(nodes):
                if nd["is_leaf"]:
                    continue
                left, right = int(nd["left"]), int(nd["right"])
                feat.append(int(nd["feature_idx"]))
                split.append(_float32_at_most(float(nd["num_threshold"])))
                t_leaf.append(int(left in leaf_index))
                t_id.append(leaf_index[left] if left in leaf_index else split_index[left])
                f_leaf.append(int(right in leaf_index))
                f_id.append(leaf_index[right] if right in leaf_index else split_index[right])
                miss.append(int(nd["missing_go_to_left"]))
    return {"roots": roots, "feat": feat, "split": split, "t_id": t_id, "t_leaf": t_leaf, "f_id": f_id,
            "f_leaf": f_leaf, "miss": miss, "leaf_target": leaf_target, "leaf_weight": leaf_weight, "bias": bias}


def trees_to_onnx(models: Sequence[Any], features: str, output: str, prefix: str = "trees_") -> tuple[list, list]:
    """ONNX nodes and initializers computing ``output`` (records × outputs, float32) = the raw
    score of every model from the float32 tensor named ``features``; the trees use the
    ONNX-ML ``TreeEnsemble`` operator (opset 5)."""
    from onnx import helper, numpy_helper

    tb = _tables(models)
    inits = [numpy_helper.from_array(tb["bias"].astype(np.float32), f"{prefix}bias")]
    if not tb["roots"]:  # no tree has a split: only the constants
        nodes = [helper.make_node("Gather", [features, f"{prefix}zero_col"], [f"{prefix}col0"], axis=1),
                 helper.make_node("Mul", [f"{prefix}col0", f"{prefix}zero"], [f"{prefix}zeros"]),
                 helper.make_node("Add", [f"{prefix}zeros", f"{prefix}bias"], [output])]
        inits += [numpy_helper.from_array(np.array([0], np.int64), f"{prefix}zero_col"),
                  numpy_helper.from_array(np.zeros(1, np.float32), f"{prefix}zero")]
        return nodes, inits
    ens = helper.make_node(
        "TreeEnsemble", [features], [f"{prefix}sum"], domain=ML_DOMAIN, name=f"{prefix}ensemble",
        n_targets=len(models), aggregate_function=1, post_transform=0, tree_roots=tb["roots"],
        nodes_featureids=tb["feat"],
        nodes_splits=numpy_helper.from_array(np.asarray(tb["split"], np.float32)),
        nodes_modes=numpy_helper.from_array(np.full(len(tb["feat"]), _LEQ, np.uint8)),
        nodes_truenodeids=tb["t_id"], nodes_trueleafs=tb["t_leaf"],
        nodes_falsenodeids=tb["f_id"], nodes_falseleafs=tb["f_leaf"],
        nodes_missing_value_tracks_true=tb["miss"],
        leaf_targetids=tb["leaf_target"],
        leaf_weights=numpy_helper.from_array(np.asarray(tb["leaf_weight"], np.float32)))
    add = helper.make_node("Add", [f"{prefix}sum", f"{prefix}bias"], [output], name=f"{prefix}with_bias")
    return [ens, add], inits


def add_trees_onnx(base: Path, models: Sequence[Any], weights: np.ndarray, out: Path) -> None:
    """Write to ``out`` the graph of ``base`` whose ``logits`` become
    ``base logits + weights * tree logits``; the trees read the base's ``features`` input.
    ``weights``: one per output (0 leaves an output as the networks give it)."""
    import onnx
    from onnx import helper, numpy_helper

    g = onnx.load(str(base))
    if not any(i.name == "features" for i in g.graph.input):
        raise ValueError(f"{Path(base).name} reads no record features: trees need them")
    if any(n.domain == ML_DOMAIN for n in g.graph.node):
        raise ValueError(f"{Path(base).name} already holds trees; add trees to the model it was made from")
    weights = np.asarray(weights, dtype=np.float32)
    n_out = g.graph.output[0].type.tensor_type.shape.dim[-1].dim_value
    if weights.shape != (len(models),) or (n_out and n_out != len(models)):
        raise ValueError(f"need one tree model and one weight per output ({n_out}); got {len(models)} models "
                         f"and weights of shape {weights.shape}")
    for n in g.graph.node:
        n.output[:] = ["trees_base_logits" if o == "logits" else o for o in n.output]
    nodes, inits = trees_to_onnx(models, "features", "trees_logits")
    inits.append(numpy_helper.from_array(weights, "trees_weight"))
    nodes += [helper.make_node("Mul", ["trees_logits", "trees_weight"], ["trees_part"], name="trees_share"),
              helper.make_node("Add", ["trees_base_logits", "trees_part"], ["logits"], name="trees_plus_networks")]
    g.graph.node.extend(nodes)
    g.graph.initializer.extend(inits)
    g.opset_import.append(helper.make_opsetid(ML_DOMAIN, ML_OPSET))
    g.ir_version = max(g.ir_version, 10)
    onnx.checker.check_model(g)
    onnx.save(g, str(out))


def _record_logits(window_logits: np.ndarray, how: str) -> np.ndarray:
    """A record's logit from its windows' (records, windows, outputs), as ``aggregate_windows``."""
    from ecgpilot.model import AGGREGATES

    if how == "max":
        return window_logits.max(axis=1)
    if how == "mean_logit":
        return window_logits.mean(axis=1)
    raise ValueError(f"window aggregate must be one of {', '.join(AGGREGATES)}; got {how!r}")


def choose_weights(base: np.ndarray, trees: np.ndarray, y: np.ndarray, outputs: Sequence[tuple[str, str]],
                   grid: Sequence[float] = WEIGHT_GRID) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Per task, the weight of ``grid`` whose record logits ``base + w * trees`` have the best
    macro-AUC against ``y`` (ties to the smaller weight), and every weight's macro-AUC per task."""
    from ecgpilot.datasets.ptbxl import TASKS
    from ecgpilot.model.metrics import macro_auc

    chosen: dict[str, float] = {}
    scores: dict[str, dict[str, float]] = {}
    for task in TASKS:
        cols = [j for j, (t, _) in enumerate(outputs) if t == task]
        if not cols:
            continue
        s = {f"{w:g}": float(macro_auc(y[:, cols], base[:, cols] + w * trees[:, cols])) for w in grid}
        scores[task] = {k: round(v, 5) for k, v in s.items()}
        chosen[task] = float(max(grid, key=lambda w: (s[f"{w:g}"], -w)))
    return chosen, scores


def boost_model(model_dir: Path | None = None, config: TreeConfig = TreeConfig(), target_dir: Path | None = None,
                version: str | None = None, progress: bool = True) -> Path:
    """Add boosted trees to the exported model in ``model_dir`` (default: the package's) and
    write it to ``target_dir`` (default: ``model_dir``).

    The trees are fitted on folds 1-8 on the record features as the graph reads them; the
    per-task weights (:data:`WEIGHT_GRID`) are chosen on fold 9 with the model's window
    aggregate; then calibration and thresholds are re-fitted on fold 9 on the file as served
    and the fold-10 macro-AUCs recorded."""
    import sklearn

    from ecgpilot.datasets.ptbxl import load_ptbxl
    from ecgpilot.train.export import MODEL_NAME, _OnnxNet, _fitted, _sha256, exported_model, fit_on_fold9
    from ecgpilot.train.loop import (TEST_FOLD, TRAIN_FOLDS, VAL_FOLD, _write_atomically, prepare,
                                     record_features, standardise, window_logits)

    onnx_in, _, info = exported_model(model_dir)
    pp = info["preprocessing"]
    fnorm = pp.get("features")
    if not fnorm:
        raise ValueError(f"the model {info['version']} reads no record features: trees need them")
    if info.get("trees"):
        raise ValueError(f"the model {info['version']} already has trees; add trees to the model it was made from")
    data = load_ptbxl()
    if data.data_sha256 != info["training_data_sha256"]:
        raise ValueError("the PTB-XL data in ../shared differs from the model's training data")
    outputs = [(o["task"], o["code"]) for o in info["outputs"]]
    y = data.targets(outputs)
    f = standardise(record_features(data, fnorm["names"], progress=progress), fnorm["mean"], fnorm["std"])
    tr, va = data.folds(*TRAIN_FOLDS), data.folds(VAL_FOLD)
    models = fit_trees(f[tr], y[tr], config, progress=progress)
    how = pp.get("aggregate", "max")
    lw = window_logits(_OnnxNet(onnx_in), prepare(data, va, pp["mean"], pp["scale"]), pp["window"], pp["stride"],
                       feats=f[va])
    weights, grid_scores = choose_weights(_record_logits(lw, how), tree_logits(models, f[va]), y[va], outputs)
    per_output = np.array([weights[t] for t, _ in outputs])
    target = Path(target_dir) if target_dir is not None else onnx_in.parent
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        merged = Path(tmp) / "with_trees.onnx"
        add_trees_onnx(onnx_in, models, per_output, merged)
        fit = fit_on_fold9(merged, data, outputs, pp["window"], pp["stride"], pp["mean"], pp["scale"], fnorm, how)
        n_split = sum(int((~p[0].nodes["is_leaf"].astype(bool)).sum()) for m in models if m is not None
                      for p in m._predictors)
        out = dict(info)
        out.update({
            "version": version or f"{info['version']}-{config.tag}",
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "onnx_sha256": _sha256(merged),
            "boosts": {"version": info["version"], "onnx_sha256": info["onnx_sha256"]},
            "trees": {"kind": "scikit-learn HistGradientBoostingClassifier per output, fitted on folds "
                              f"{list(TRAIN_FOLDS)} on the standardised record features; logit = networks + "
                              "weight[task] * trees",
                      "config": asdict(config), "scikit_learn": sklearn.__version__, "split_nodes": n_split,
                      "weights": weights, "weight_rule": f"per task, the best fold-{VAL_FOLD} macro-AUC of the "
                      f"weights {list(WEIGHT_GRID)} (ties to the smaller)", "fold9_macro_auc_by_weight": grid_scores,
                      "test_fold": TEST_FOLD},
        })
        out.pop("refitted", None)
        out["preprocessing"] = dict(pp, aggregate=fit["aggregate"])
        out.update(_fitted(fit, outputs, {o["code"]: o["description"] for o in info["outputs"]}))
        onnx_out, meta_out = target / f"{MODEL_NAME}.onnx", target / f"{MODEL_NAME}.json"
        # the ONNX first: a crash in between leaves a sha256 mismatch that load_model refuses
        _write_atomically(onnx_out, lambda p: shutil.copyfile(merged, p))
        _write_atomically(meta_out, lambda p: p.write_text(json.dumps(out, indent=1, ensure_ascii=False)))
    return onnx_out
