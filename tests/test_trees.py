"""Boosted trees added to an exported model (ecgpilot.train.trees): the ONNX export computes
what scikit-learn computes, the merged graph adds them to the networks with the fold-9 weights,
and ``ecgpilot train --trees`` refuses what it cannot do."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")
onnx = pytest.importorskip("onnx")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from ecgpilot.train.trees import (  # noqa: E402
    TreeConfig,
    _float32_at_most,
    add_trees_onnx,
    choose_weights,
    fit_trees,
    tree_logits,
    trees_to_onnx,
)


def _run(model: onnx.ModelProto, feed: dict[str, np.ndarray]) -> np.ndarray:
    import onnxruntime as ort

    s = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return s.run(None, feed)[0]


def _trees_graph(models, n_features: int) -> onnx.ModelProto:
    nodes, inits = trees_to_onnx(models, "features", "out")
    g = helper.make_graph(nodes, "t", [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, n_features])],
                          [helper.make_tensor_value_info("out", TensorProto.FLOAT, [None, len(models)])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 5)])
    onnx.checker.check_model(m)
    return m


@pytest.fixture(scope="module")
def toy():
    """Features with an interaction, a rounded (tied-values) column and a rare output; labels
    that trees can learn, one output never positive."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 6)).astype(np.float32)
    x[:, 3] = np.round(x[:, 3])
    y = np.stack([x[:, 0] + x[:, 3] * x[:, 1] > 0.5, x[:, 2] > 2.0, np.zeros(3000, bool)], 1).astype(np.float32)
    return x, y, fit_trees(x, y, TreeConfig(iterations=40, leaves=7))


def test_onnx_trees_compute_what_sklearn_computes(toy) -> None:
    x, y, models = toy
    assert models[2] is None  # no positive record: no model, logit 0
    want = tree_logits(models, x)
    assert np.all(want[:, 2] == 0)
    np.testing.assert_allclose(_run(_trees_graph(models, 6), {"features": x}), want, atol=1e-5)
    # on the split values themselves (float32 rounding of the float64 thresholds)
    edges = np.array([nd["num_threshold"] for (p,) in models[0]._predictors for nd in p.nodes if not nd["is_leaf"]])
    probe = np.repeat(x[:1], len(edges), 0)
    feats = [int(nd["feature_idx"]) for (p,) in models[0]._predictors for nd in p.nodes if not nd["is_leaf"]]
    probe[np.arange(len(edges)), feats] = edges.astype(np.float32)
    np.testing.assert_allclose(_run(_trees_graph(models, 6), {"features": probe}), tree_logits(models, probe),
                               atol=1e-5)
    # the trees learnt the labels (a test that can fail: AUC far above chance)
    from ecgpilot.model.metrics import roc_auc

    assert roc_auc(y[:, 0], want[:, 0]) > 0.95


def test_trees_without_splits_are_constants() -> None:
    x = np.ones((200, 3), np.float32)  # nothing to split on
    y = np.zeros((200, 1), np.float32)
    y[:20] = 1
    models = fit_trees(x, y, TreeConfig(iterations=5, leaves=3))
    got = _run(_trees_graph(models, 3), {"features": x})
    np.testing.assert_allclose(got, tree_logits(models, x), atol=1e-6)
    np.testing.assert_allclose(got, np.log(0.1 / 0.9), atol=1e-4)  # the prior log-odds of 20/200


def test_float32_at_most() -> None:
    a = np.float32(1.0)
    b = np.nextafter(a, np.float32(2))
    mid = (float(a) + float(b)) / 2  # rounds to even (could be b); x = b must not pass x <= mid
    t = _float32_at_most(mid)
    assert t == float(a) and not (float(b) <= t)
    assert _float32_at_most(float(a)) == float(a)


def _base(n_features: int, n_out: int) -> onnx.ModelProto:
    """A stand-in network: logits = features @ W + mean of the ECG window."""
    w = np.random.default_rng(1).normal(size=(n_features, n_out)).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["features", "W"], ["fw"]),
             helper.make_node("ReduceMean", ["ecg"], ["m"], axes=[1, 2], keepdims=0),
             helper.make_node("Unsqueeze", ["m", "one"], ["m1"]),
             helper.make_node("Add", ["fw", "m1"], ["logits"])]
    g = helper.make_graph(nodes, "base", [helper.make_tensor_value_info("ecg", TensorProto.FLOAT, [None, 12, 250]),
                                          helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, n_features])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [None, n_out])],
                          [numpy_helper.from_array(w, "W"), numpy_helper.from_array(np.array([1], np.int64), "one")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_add_trees_onnx_adds_the_weighted_tree_logits(toy, tmp_path: Path) -> None:
    x, _, models = toy
    base = tmp_path / "base.onnx"
    onnx.save(_base(6, 3), str(base))
    weights = np.array([0.5, 1.0, 0.25])
    add_trees_onnx(base, models, weights, tmp_path / "merged.onnx")
    ecg = np.random.default_rng(2).normal(size=(len(x[:50]), 12, 250)).astype(np.float32)
    feed = {"ecg": ecg, "features": x[:50]}
    want = _run(onnx.load(str(base)), feed) + weights * tree_logits(models, x[:50])
    np.testing.assert_allclose(_run(onnx.load(str(tmp_path / "merged.onnx")), feed), want, atol=1e-5)
    with pytest.raises(ValueError, match="already holds trees"):
        add_trees_onnx(tmp_path / "merged.onnx", models, weights, tmp_path / "twice.onnx")
    with pytest.raises(ValueError, match="one weight per output"):
        add_trees_onnx(base, models, weights[:2], tmp_path / "bad.onnx")
    no_feat = _base(6, 3)
    no_feat.graph.input[1].name = "other"
    for n in no_feat.graph.node:
        n.input[:] = ["other" if i == "features" else i for i in n.input]
    onnx.save(no_feat, str(tmp_path / "nofeat.onnx"))
    with pytest.raises(ValueError, match="reads no record features"):
        add_trees_onnx(tmp_path / "nofeat.onnx", models, weights, tmp_path / "bad.onnx")
    assert not (tmp_path / "bad.onnx").exists() and not (tmp_path / "twice.onnx").exists()


def test_choose_weights_keeps_useless_trees_out() -> None:
    rng = np.random.default_rng(3)
    y = (rng.random((800, 2)) < 0.3).astype(np.float32)
    base = y + rng.normal(0, 1.5, y.shape)  # weak networks
    outputs = [("form", "A"), ("rhythm", "B")]
    trees = np.stack([y[:, 0] + rng.normal(0, 0.5, 800), rng.normal(0, 1, 800)], 1)  # informative, then noise
    chosen, scores = choose_weights(base, trees, y, outputs)
    assert chosen["form"] > 0 and chosen["rhythm"] == 0.0
    assert set(chosen) == {"form", "rhythm"} and scores["form"][f"{chosen['form']:g}"] == max(scores["form"].values())


def test_tree_config_is_checked() -> None:
    with pytest.raises(ValueError, match="iterations"):
        TreeConfig(iterations=0)
    with pytest.raises(ValueError, match="learning_rate"):
        TreeConfig(learning_rate=0)
    assert TreeConfig().tag == "gbt100x7"


def test_train_trees_cli(tmp_path: Path) -> None:
    """``ecgpilot train --trees`` on a tiny exported network with record features: the sidecar
    records the trees and the model they boost, the fold-9 score of the chosen weights is the
    model's recorded fold-9 AUC; a second --trees and bad option combinations are refused."""
    pytest.importorskip("torch")
    from conftest import data_file

    data_file("ptbxl", "signals100.npy.xz")
    from ecgpilot.cli import main
    from ecgpilot.model import load_model
    from ecgpilot.train import loop
    from ecgpilot.train.export import MODEL_NAME, export_model

    run = loop.train(loop.TrainConfig(out_dir=str(tmp_path / "run"), epochs=1, batch_size=32, width=8, limit=256,
                                      features=True, feature_set="rhythm"), progress=False).parent
    export_model(run, tmp_path / "m", weights="float32")
    before = json.loads((tmp_path / "m" / f"{MODEL_NAME}.json").read_text())
    assert main(["train", "--trees", "--tree-iterations", "5", "--tree-leaves", "3",
                 "--export-to", str(tmp_path / "m")]) == 0
    meta = json.loads((tmp_path / "m" / f"{MODEL_NAME}.json").read_text())
    assert meta["version"] == before["version"] + "-gbt5x3"
    assert meta["boosts"] == {"version": before["version"], "onnx_sha256": before["onnx_sha256"]}
    t = meta["trees"]
    assert t["config"]["iterations"] == 5 and t["config"]["leaves"] == 3 and t["split_nodes"] > 0
    assert set(t["weights"]) == {"super_class", "sub_class", "form", "rhythm"}
    for task, w in t["weights"].items():
        by_w = t["fold9_macro_auc_by_weight"][task]
        assert by_w[f"{w:g}"] == max(by_w.values())
        if meta["preprocessing"]["aggregate"] == before["preprocessing"]["aggregate"]:
            assert meta["metrics"]["fold9_macro_auc"][task] == pytest.approx(by_w[f"{w:g}"], abs=2e-4)
    weights = numpy_helper.to_array(next(i for i in onnx.load(str(tmp_path / "m" / f"{MODEL_NAME}.onnx")).graph.initializer
                                         if i.name == "trees_weight"))
    np.testing.assert_allclose(weights, [t["weights"][o["task"]] for o in meta["outputs"]])
    assert load_model(tmp_path / "m" / f"{MODEL_NAME}.onnx").version == meta["version"]
    served = (tmp_path / "m" / f"{MODEL_NAME}.onnx").read_bytes()
    with pytest.raises(SystemExit, match="already has trees"):
        main(["train", "--trees", "--export-to", str(tmp_path / "m")])
    assert (tmp_path / "m" / f"{MODEL_NAME}.onnx").read_bytes() == served
    with pytest.raises(SystemExit, match="cannot be combined"):
        main(["train", "--trees", "--refit", "--export-to", str(tmp_path / "m")])
    with pytest.raises(SystemExit, match="give --trees too"):
        main(["train", "--tree-leaves", "3", "--no-export"])
    with pytest.raises(SystemExit, match="no exported model"):
        main(["train", "--trees", "--export-to", str(tmp_path / "nowhere")])


def test_shipped_model_trees_match_its_sidecar() -> None:
    """When the shipped model holds trees, its graph's per-output weights are the sidecar's."""
    from ecgpilot.model import default_model_path, load_model

    if not default_model_path().exists():
        pytest.skip("the shipped model file is absent (run 'ecgpilot train')")
    clf = load_model()
    if not clf.meta.get("trees"):
        pytest.skip(f"the shipped model {clf.version} has no trees")
    g = onnx.load(str(clf.path))
    w = numpy_helper.to_array(next(i for i in g.graph.initializer if i.name == "trees_weight"))
    np.testing.assert_allclose(w, [clf.meta["trees"]["weights"][o["task"]] for o in clf.meta["outputs"]])
    assert any(n.op_type == "TreeEnsemble" for n in g.graph.node)
    assert clf.version.endswith(TreeConfig(**{k: clf.meta["trees"]["config"][k] for k in ("iterations", "leaves")}).tag)


def test_fit_trees_is_reproducible(toy) -> None:
    x, y, models = toy
    again = fit_trees(x, y, TreeConfig(iterations=40, leaves=7))
    np.testing.assert_array_equal(tree_logits(again, x), tree_logits(models, x))
