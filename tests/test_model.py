"""The shipped ONNX classifier: recorded fold-10 AUCs, input contract, determinism, export fidelity."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import resample_poly
from scipy.special import expit
from scipy.stats import rankdata

from conftest import data_file
from ecgpilot.errors import ModelError
from ecgpilot.model import Classifier, default_model_path, load_model
from ecgpilot.model.features import model_features_batch
from ecgpilot.model.preprocess import windows
from ecgpilot.record import ECGRecord

LEADS12 = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")


@pytest.fixture(scope="module")
def clf() -> Classifier:
    if not default_model_path().exists():
        pytest.skip("the shipped model file is absent (run 'ecgpilot train')")
    return load_model()


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    """Mann-Whitney AUC (ties averaged), independent of ecgpilot.model.metrics."""
    r = rankdata(s)
    pos = y > 0.5
    n1, n0 = pos.sum(), (~pos).sum()
    return float((r[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def check_model(clf: Classifier, rng: np.random.Generator) -> None:
    """Estimator-style checks any exported classifier must pass."""
    spec = clf.meta["preprocessing"]
    n_out = len(clf.meta["outputs"])
    x = rng.normal(size=(5, 12, spec["window"])).astype(np.float32)
    fs = clf.feature_spec
    f = None
    if fs is not None:
        f = np.asarray(fs["mean"]) + rng.normal(size=(5, len(fs["names"]))) * np.asarray(fs["std"])
        with pytest.raises(ModelError, match="features"):
            clf.predict_windows(x)
        with pytest.raises(ModelError, match="shape"):
            clf.predict_windows(x, f[:, :-1])
        # one feature vector for all windows = the same vector repeated per window
        np.testing.assert_allclose(clf.predict_windows(x, f[0]), clf.predict_windows(x, np.repeat(f[:1], 5, 0)))
    p = clf.predict_windows(x, f)
    assert p.shape == (5, n_out) and np.all((p >= 0) & (p <= 1))
    np.testing.assert_array_equal(p, clf.predict_windows(x, f))  # deterministic
    one_by_one = np.concatenate([clf.predict_windows(x[i: i + 1], None if f is None else f[i: i + 1])
                                 for i in range(5)])
    np.testing.assert_allclose(one_by_one, p, atol=1e-6)  # batch-invariant
    for j, o in enumerate(clf.meta["outputs"]):
        assert 0.0 < o["threshold"] < 1.0, o
        assert isinstance(o["decides"], bool) and (o["fold9_f1"] >= 0.05) == o["decides"], o
        assert o["platt_a"] > 0, f"calibration reverses the ranking of {o['code']}"
    for bad in (x[:, :11], x[:, :, : spec["window"] - 1], x[0]):
        with pytest.raises(ModelError, match="shape"):
            clf.predict_windows(bad, None if f is None else f[0])
    assert clf.aggregate in ("max", "mean_logit")
    np.testing.assert_allclose(expit(clf.predict_logits(x, f)), p)


def test_check_model(clf: Classifier) -> None:
    check_model(clf, np.random.default_rng(0))


def test_metadata(clf: Classifier) -> None:
    meta = clf.meta
    outs = [(o["task"], o["code"]) for o in meta["outputs"]]
    counts = {t: sum(1 for o in outs if o[0] == t) for t in ("super_class", "sub_class", "form", "rhythm")}
    assert counts == {"super_class": 5, "sub_class": 23, "form": 19, "rhythm": 12}
    assert ("super_class", "NORM") in outs and ("sub_class", "NORM") in outs
    assert len(set(outs)) == len(outs) == 59
    assert meta["preprocessing"]["fs"] == 100.0 and list(meta["preprocessing"]["leads"]) == list(LEADS12)
    assert len(meta["training_data_sha256"]) == 64 and isinstance(meta["training"]["seed"], int)
    for task, auc in meta["metrics"]["fold10_macro_auc"].items():
        assert 0.5 < auc <= 1.0, (task, auc)


def test_sha256_mismatch_refused(clf: Classifier, tmp_path: Path) -> None:
    onnx = tmp_path / "m.onnx"
    shutil.copy(clf.path, onnx)
    meta = dict(clf.meta, onnx_sha256="0" * 64)
    onnx.with_suffix(".json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="sha256"):
        load_model(onnx)
    with pytest.raises(ModelError, match="not found"):
        load_model(tmp_path / "absent.onnx")


@pytest.fixture(scope="module")
def fold10():
    data_file("ptbxl", "signals100.npy.xz")
    from ecgpilot.datasets.ptbxl import load_ptbxl

    data = load_ptbxl()
    idx = data.folds(10)
    return data, idx


def test_recorded_fold10_auc(clf: Classifier, fold10) -> None:
    data, idx = fold10
    spec = clf.meta["preprocessing"]
    outs = [(o["task"], o["code"]) for o in clf.meta["outputs"]]
    y = data.targets(outs)[idx]
    raw = np.asarray(data.signals[idx], dtype=np.float32).transpose(0, 2, 1)
    x = (raw - spec["mean"]) / spec["scale"]
    w = np.stack([windows(r, spec["window"], spec["stride"]) for r in x])
    n, k = w.shape[:2]
    f = model_features_batch(raw, 100.0, clf.feature_spec["names"]) if clf.feature_spec else None
    batches = [clf.predict_logits(w[i: i + 64].reshape(-1, 12, spec["window"]),
                                  None if f is None else np.repeat(f[i: i + 64], k, axis=0)).reshape(-1, k, len(outs))
               for i in range(0, n, 64)]
    z = np.concatenate(batches)
    p = expit(z.mean(axis=1)) if spec["aggregate"] == "mean_logit" else expit(z).max(axis=1)  # as in classify()
    recorded = clf.meta["metrics"]["fold10_macro_auc"]
    for task, want in recorded.items():
        cols = [j for j, o in enumerate(outs) if o[0] == task and 0 < y[:, j].sum() < len(y)]
        got = float(np.mean([_auc(y[:, j], p[:, j]) for j in cols]))
        assert abs(got - want) <= 0.005, (task, got, want)


def _record(sig_uV: np.ndarray, fs: float, leads=LEADS12) -> ECGRecord:
    return ECGRecord(signal=np.asarray(sig_uV, dtype=np.float32), fs=fs, leads=tuple(leads))


def test_classify_schema_and_resampling(clf: Classifier, fold10) -> None:
    data, idx = fold10
    sig = np.asarray(data.signals[idx[0]], dtype=np.float32).T  # (12, 1000) µV at 100 Hz
    ai100 = clf.classify(_record(sig, 100.0))
    assert set(ai100) >= {"model_version", "model_sha256", "statements", "input"}
    assert ai100["model_sha256"] == clf.meta["onnx_sha256"]
    st = ai100["statements"][0]
    assert set(st) == {"code", "task", "description", "probability", "calibrated_probability", "present",
                       "threshold"}
    assert ai100["input"]["fs"] == 100.0 and ai100["input"]["leads_missing"] == []
    for s in ai100["statements"]:
        assert s["present"] == (s["threshold"] is not None and s["calibrated_probability"] >= s["threshold"])
    # a statement without a usable fold-9 threshold is never flagged, whatever its probability
    meta = dict(clf.meta, outputs=[dict(o, decides=False) for o in clf.meta["outputs"]])
    mute = Classifier(path=clf.path, meta=meta, session=clf.session).classify(_record(sig, 100.0))
    assert not any(s["present"] for s in mute["statements"])
    assert all(s["threshold"] is None for s in mute["statements"])
    assert [s["probability"] for s in mute["statements"]] == [s["probability"] for s in ai100["statements"]]
    # The same ECG upsampled to 500 Hz (as the readers deliver it) gives nearly the same probabilities.
    ai500 = clf.classify(_record(resample_poly(sig, 5, 1, axis=1), 500.0))
    p100 = np.array([s["probability"] for s in ai100["statements"]])
    p500 = np.array([s["probability"] for s in ai500["statements"]])
    assert np.abs(p100 - p500).max() < 0.05
    # Limb leads III/aVR/aVL/aVF derived from I and II when the file lacks them.
    keep = [0, 1, 6, 7, 8, 9, 10, 11]
    ai8 = clf.classify(_record(sig[keep], 100.0, [LEADS12[i] for i in keep]))
    assert ai8["input"]["leads_missing"] == []
    p8 = np.array([s["probability"] for s in ai8["statements"]])
    assert np.abs(p100 - p8).max() < 0.02


def test_input_contract(clf: Classifier) -> None:
    rng = np.random.default_rng(1)
    sig = rng.normal(scale=100, size=(12, 5000))
    one_missing = clf.classify(_record(sig[[i for i in range(12) if i != 8]], 500.0,
                                       [n for n in LEADS12 if n != "V3"]))
    assert one_missing["input"]["leads_missing"] == ["V3"]
    with pytest.raises(ModelError, match="lacks"):
        clf.classify(_record(sig[:2], 500.0, ["I", "II"]))
    with pytest.raises(ModelError, match="lacks"):
        clf.classify(_record(sig[:1], 500.0, ["II"]))
    with pytest.raises(ModelError, match="at least"):
        clf.classify(_record(sig[:, :1000], 500.0))  # 2 s
    if clf.feature_spec is not None:
        # record features were learnt on 10-s ECGs: a 5-s recording is refused, not misread
        with pytest.raises(ModelError, match="at least 9.0 s"):
            clf.classify(_record(sig[:, :2500], 500.0))
        # no heartbeat to compute the rhythm features from: refused with the reason
        with pytest.raises(ModelError, match="Fewer than 4 heartbeats"):
            clf.classify(_record(np.zeros((12, 5000)), 500.0))


def test_onnx_matches_torch(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    import onnxruntime as ort

    onnx = pytest.importorskip("onnx")
    from ecgpilot.train.export import to_onnx
    from ecgpilot.train.net import ECGResNet

    torch.manual_seed(0)
    x = torch.randn(6, 12, 250)
    f = torch.randn(6, 18)
    for n_features in (0, 18):
        net = ECGResNet(59, width=16, kernel=5, n_features=n_features).eval()
        feed = {"ecg": x.numpy(), **({"features": f.numpy()} if n_features else {})}
        path = tmp_path / f"n{n_features}.onnx"
        to_onnx(net, path, 250, n_features)  # what export_model writes: 1-D convolutions run as 2-D
        graph = onnx.load(str(path)).graph
        convs = [n for n in graph.node if n.op_type == "Conv"]
        assert any(n.op_type == "Unsqueeze" and n.input[0] == "ecg" for n in graph.node) and len(convs) > 10
        assert all(len(i.dims) in (1, 2, 4) for i in graph.initializer)  # no 3-D (1-D conv) weight left
        with torch.no_grad():
            want = net(x, f if n_features else None).numpy()
        got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feed)[0]
        np.testing.assert_allclose(got, want, atol=1e-4)
        if n_features:  # the features really change the output
            with torch.no_grad():
                assert not np.allclose(net(x, torch.zeros_like(f)).numpy(), want, atol=1e-3)


def test_ensemble_export(tmp_path: Path) -> None:
    """Members with different feature sets become one ONNX graph equal to the mean of their
    logits, each member fed its own standardisation; float16 weights halve the file."""
    torch = pytest.importorskip("torch")
    import onnxruntime as ort

    from ecgpilot.train.export import combine, to_onnx
    from ecgpilot.train.net import ECGResNet

    torch.manual_seed(1)
    rng = np.random.default_rng(1)
    names_a, names_b = ["valid", "hr_median_100", "qrs_100ms"], ["hr_median_100", "rr_cv"]
    raw = {n: rng.normal(3.0, 2.0, 6) for n in names_a + names_b}
    base = {"outputs": [["rhythm", "SR"]] * 7, "norm": {"mean": 0.0, "scale": 1.0}, "data_sha256": "x"}
    meta_a = dict(base, features={"names": names_a, "mean": [1.0, 2.0, 3.0], "std": [1.0, 0.5, 2.0]})
    meta_b = dict(base, features={"names": names_b, "mean": [-1.0, 4.0], "std": [3.0, 0.25]})
    meta_c = dict(base, features=None)
    nets = [ECGResNet(7, width=8, n_features=3).eval(), ECGResNet(7, width=8, n_features=2).eval(),
            ECGResNet(7, width=8).eval()]
    ens, spec = combine([(nets[0], meta_a), (nets[1], meta_b), (nets[2], meta_c)])
    assert spec["names"] == ["valid", "hr_median_100", "qrs_100ms", "rr_cv"]
    assert spec["mean"] == [1.0, 2.0, 3.0, 4.0] and spec["std"] == [1.0, 0.5, 2.0, 0.25]

    def own(meta):  # a member's input standardised with its own training statistics
        f = meta["features"]
        return torch.tensor(np.stack([(raw[n] - m) / s for n, m, s in zip(f["names"], f["mean"], f["std"])], 1),
                            dtype=torch.float32)

    x = torch.randn(6, 12, 250)
    u = own(dict(base, features=spec))
    with torch.no_grad():
        want = (nets[0](x, own(meta_a)) + nets[1](x, own(meta_b)) + nets[2](x)) / 3
        got = ens(x, u)
    np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-5)

    full, half, quarter = tmp_path / "fp32.onnx", tmp_path / "fp16.onnx", tmp_path / "int8.onnx"
    to_onnx(ens, full, 250, 4)
    to_onnx(ens, half, 250, 4, weights="float16")
    to_onnx(ens, quarter, 250, 4, weights="int8")
    assert half.stat().st_size < 0.6 * full.stat().st_size
    assert quarter.stat().st_size < 0.75 * half.stat().st_size  # small test nets: biases and scales weigh more
    for path, tol in ((full, 1e-4), (half, 2e-2), (quarter, 5e-2)):
        out = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
            None, {"ecg": x.numpy(), "features": u.numpy()})[0]
        np.testing.assert_allclose(out, want.numpy(), atol=tol)
    with pytest.raises(ValueError, match="float32, float16, int8"):
        to_onnx(ens, tmp_path / "x.onnx", 250, 4, weights="bf16")

    with pytest.raises(ValueError, match="outputs"):
        combine([(nets[0], meta_a), (nets[1], dict(meta_b, outputs=[["rhythm", "AFIB"]] * 7))])
    with pytest.raises(ValueError, match="window"):  # a member trained on other windows would be misfed
        combine([(nets[0], dict(meta_a, config={"window": 250})), (nets[1], dict(meta_b, config={"window": 500}))])


def test_threshold_rule_drops_statements_without_an_operating_point() -> None:
    from ecgpilot.model.calibration import MIN_F1, f1_at, f1_threshold

    rng = np.random.default_rng(5)
    y = np.zeros(2000)
    y[:3] = 1  # 3 positives, as TAB or STE in fold 9
    p = rng.random(2000)
    assert f1_at(y, p, f1_threshold(y, p)) < MIN_F1  # uninformative scores: no usable threshold
    p = 0.5 * p
    p[:3] = 0.9  # the same positives ranked first: a perfect operating point
    t = f1_threshold(y, p)
    assert f1_at(y, p, t) == 1.0 and f1_at(y, p, t) >= MIN_F1
    assert f1_at(y, np.ones(2000), 0.5) == 2 * 3 / (2000 + 3)  # flag everyone: F1 = 2 * tp / (flagged + positives)


def test_platt_recovers_known_parameters() -> None:
    from ecgpilot.model.calibration import apply_platt, fit_platt

    rng = np.random.default_rng(3)
    z = rng.normal(0, 2, 20000)
    p = 1 / (1 + np.exp(-z))
    y = (rng.random(z.size) < 1 / (1 + np.exp(-(0.5 * z - 1.0)))).astype(float)
    a, b = fit_platt(y, p)
    assert abs(a - 0.5) < 0.05 and abs(b + 1.0) < 0.08
    # Labels anti-correlated with the score: the slope stays positive (ranking kept).
    a2, _ = fit_platt(1 - (p > 0.5), p)
    assert a2 > 0
    np.testing.assert_allclose(apply_platt(p, 1.0, 0.0), p, atol=1e-6)


@pytest.mark.slow
def test_training_is_seeded_and_resumable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An interrupted run resumed from last.pt ends with the same weights as an uninterrupted one."""
    torch = pytest.importorskip("torch")
    data_file("ptbxl", "signals100.npy.xz")
    from ecgpilot.train import loop

    def cfg(name: str) -> loop.TrainConfig:
        return loop.TrainConfig(out_dir=str(tmp_path / name), epochs=2, batch_size=32, width=8, limit=96,
                                feature_set="rhythm")

    loop.train(cfg("straight"), progress=False)
    real = loop.predict_records
    calls = {"n": 0}

    def interrupt_second_epoch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(loop, "predict_records", interrupt_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        loop.train(cfg("resumed"), progress=False)
    monkeypatch.setattr(loop, "predict_records", real)
    loop.train(cfg("resumed"), resume=True, progress=False)
    a = torch.load(tmp_path / "straight" / "last.pt", weights_only=False)
    b = torch.load(tmp_path / "resumed" / "last.pt", weights_only=False)
    assert a["epoch"] == b["epoch"] == 1 and len(b["history"]) == 2
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k


def test_train_members_spec() -> None:
    """``ecgpilot train --members``: feature set per member, optional seed and epochs, one folder each."""
    from ecgpilot.train.cli import DEFAULT_MEMBERS, _members

    assert _members(",".join(DEFAULT_MEMBERS), 5) == [("all", 5, "all", None), ("rhythm", 5, "rhythm", None)]
    assert _members("all, all:7", 5) == [("all", 5, "all", None), ("all", 7, "all-s7", None)]
    assert _members("rhythm:7:20,all::20", 5) == [("rhythm", 7, "rhythm-s7-e20", 20), ("all", 5, "all-e20", 20)]
    for bad in ("beat", "all,all", "all:x", "", "all:7:0", "all:7:x", "all:7:20:1"):
        with pytest.raises(SystemExit, match="--members"):
            _members(bad, 5)


def test_train_cli_refuses_bad_options(capsys: pytest.CaptureFixture[str]) -> None:
    from ecgpilot.cli import main

    with pytest.raises(SystemExit, match="not both"):
        main(["train", "--features", "all", "--members", "all,rhythm"])
    for bad in ("0", "-3", "x"):
        with pytest.raises(SystemExit):
            main(["train", "--stride", bad])
        assert "positive whole number" in capsys.readouterr().err
    for bad in ("4", "1", "17", "x"):
        with pytest.raises(SystemExit):
            main(["train", "--kernel", bad])
        assert "odd kernel length from 3 to 15" in capsys.readouterr().err


@pytest.mark.parametrize("bad", [0, -125])
def test_export_refuses_a_non_positive_stride(tmp_path, bad: int) -> None:
    """``export_model(stride=0)`` used to fall back silently to the training stride."""
    pytest.importorskip("torch")
    from ecgpilot.train.export import export_model

    with pytest.raises(ValueError, match="positive number of samples; got"):
        export_model(tmp_path, stride=bad)


def test_training_device_is_checked() -> None:
    torch = pytest.importorskip("torch")
    from ecgpilot.train.loop import training_device

    assert training_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="'cpu' or 'cuda'; got 'gpu'"):
        training_device("gpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="sees no GPU"):
            training_device("cuda")


def test_export_refuses_an_unknown_weight_storage(tmp_path) -> None:
    pytest.importorskip("torch")
    from ecgpilot.train.export import export_model

    with pytest.raises(ValueError, match="float32, float16, int8; got 'bf16'"):
        export_model(tmp_path, weights="bf16")


def test_export_int8_weights_keep_the_scores(tiny_run: Path, tmp_path: Path) -> None:
    """A network exported with int8-stored weights: about a quarter of the float32 file, the
    same fold-9 AUCs within 0.005, its calibration fitted on the ONNX file's own output."""
    from ecgpilot.train.export import MODEL_NAME, export_model

    run = tiny_run
    res = {}
    for storage in ("float32", "int8"):
        export_model(run, tmp_path / storage, weights=storage)
        meta = json.loads((tmp_path / storage / f"{MODEL_NAME}.json").read_text())
        assert meta["weights_storage"] == storage
        res[storage] = (meta, (tmp_path / storage / f"{MODEL_NAME}.onnx").stat().st_size)
    (m32, size32), (m8, size8) = res["float32"], res["int8"]
    assert size8 < 0.4 * size32
    for task, auc in m32["metrics"]["fold9_macro_auc"].items():
        assert m8["metrics"]["fold9_macro_auc"][task] == pytest.approx(auc, abs=0.005), task
    assert [o["code"] for o in m8["outputs"]] == [o["code"] for o in m32["outputs"]]


def test_aggregate_windows_by_hand() -> None:
    from ecgpilot.model import aggregate_windows

    z = np.array([[[0.0, -2.0]], [[2.0, -4.0]], [[4.0, 3.0]]]).transpose(1, 0, 2)  # 1 record, 3 windows, 2 outputs
    np.testing.assert_allclose(aggregate_windows(z, "max", axis=1), [[1 / (1 + np.exp(-4.0)), 1 / (1 + np.exp(-3.0))]])
    np.testing.assert_allclose(aggregate_windows(z, "mean_logit", axis=1), [[1 / (1 + np.exp(-2.0)), 1 / (1 + np.exp(1.0))]])
    with pytest.raises(ModelError, match="max, mean_logit; got 'median'"):
        aggregate_windows(z, "median")


def test_unknown_aggregate_in_the_sidecar_is_refused(clf: Classifier, tmp_path: Path) -> None:
    shutil.copy(clf.path, tmp_path / clf.path.name)
    meta = json.loads(clf.path.with_suffix(".json").read_text())
    meta["preprocessing"]["aggregate"] = "median"
    (tmp_path / clf.path.with_suffix(".json").name).write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="aggregate must be one of max, mean_logit; got 'median'"):
        load_model(tmp_path / clf.path.name)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-epoch signal-only network on 256 records (enough for the export's fold-9 fits)."""
    pytest.importorskip("torch")
    data_file("ptbxl", "signals100.npy.xz")
    from ecgpilot.train import loop

    out = tmp_path_factory.mktemp("tiny") / "run"
    return loop.train(loop.TrainConfig(out_dir=str(out), epochs=1, batch_size=32, width=16, limit=256,
                                       features=False), progress=False).parent


def test_export_chooses_the_window_aggregate_on_fold9(tiny_run: Path, tmp_path: Path) -> None:
    """Without --aggregate the export scores both aggregates on fold 9 and keeps the better;
    --refit re-fits the same file to another aggregate (ONNX untouched, version renamed) and
    records the fold-9 AUCs the export scored for it."""
    from ecgpilot.cli import main
    from ecgpilot.train.export import MODEL_NAME, export_model, refit_model

    export_model(tiny_run, tmp_path / "auto")
    auto = json.loads((tmp_path / "auto" / f"{MODEL_NAME}.json").read_text())
    means = auto["aggregate_fold9_mean_auc"]
    assert set(means) == {"max", "mean_logit"}
    assert auto["preprocessing"]["aggregate"] == max(means, key=lambda a: (means[a], a == "max"))
    got = np.mean(list(auto["metrics"]["fold9_macro_auc"].values()))
    assert got == pytest.approx(means[auto["preprocessing"]["aggregate"]], abs=1e-5)

    export_model(tiny_run, tmp_path / "max", aggregate="max")
    before = json.loads((tmp_path / "max" / f"{MODEL_NAME}.json").read_text())
    onnx_bytes = (tmp_path / "max" / f"{MODEL_NAME}.onnx").read_bytes()
    assert main(["train", "--refit", "--aggregate", "mean_logit", "--export-to", str(tmp_path / "max")]) == 0
    after = json.loads((tmp_path / "max" / f"{MODEL_NAME}.json").read_text())
    assert (tmp_path / "max" / f"{MODEL_NAME}.onnx").read_bytes() == onnx_bytes
    assert after["preprocessing"]["aggregate"] == "mean_logit" and after["version"] == before["version"] + "-meanlogit"
    assert np.mean(list(after["metrics"]["fold9_macro_auc"].values())) == pytest.approx(means["mean_logit"], abs=1e-5)
    assert after["outputs"] != before["outputs"]  # calibration re-fitted
    clf2 = load_model(tmp_path / "max" / f"{MODEL_NAME}.onnx")
    assert clf2.aggregate == "mean_logit"

    with pytest.raises(ValueError, match="max, mean_logit; got 'mode'"):
        refit_model(tmp_path / "max", aggregate="mode")
    (tmp_path / "max" / f"{MODEL_NAME}.onnx").write_bytes(onnx_bytes + b"x")
    with pytest.raises(SystemExit, match="does not match the sha256"):
        main(["train", "--refit", "--export-to", str(tmp_path / "max")])
    with pytest.raises(SystemExit, match="no exported model"):
        main(["train", "--refit", "--export-to", str(tmp_path / "nowhere")])


def test_extend_onnx_is_the_member_weighted_mean(tmp_path: Path) -> None:
    """An exported 2-member ensemble grown by a third network reading a subset of its
    features: the new graph's logits are (2 * old + new) / 3, each part fed as before,
    whatever the old file's weight storage; the grown file grows again; a feature it lacks or
    standardises differently is refused."""
    torch = pytest.importorskip("torch")
    import onnxruntime as ort

    from ecgpilot.train.export import combine, to_onnx
    from ecgpilot.train.extend import _same_stats, extend_onnx
    from ecgpilot.train.net import ECGResNet

    torch.manual_seed(3)
    base = {"outputs": [["rhythm", "SR"]] * 5, "norm": {"mean": 0.0, "scale": 1.0}, "data_sha256": "x"}
    spec_a = {"names": ["a", "b", "c"], "mean": [1.0, 2.0, 3.0], "std": [1.0, 0.5, 2.0]}
    spec_b = {"names": ["b"], "mean": [2.0], "std": [0.5]}
    old, spec = combine([(ECGResNet(5, width=8, n_features=3).eval(), dict(base, features=spec_a)),
                         (ECGResNet(5, width=8).eval(), dict(base, features=None))])
    new = ECGResNet(5, width=8, n_features=2).eval()
    new_spec = {"names": ["c", "a"], "mean": [3.0, 1.0], "std": [2.0, 1.0]}
    cols = _same_stats(spec, new_spec)
    assert cols == [2, 0]
    x, u = torch.randn(4, 12, 250), torch.randn(4, 3)
    with torch.no_grad():
        want = (2 * old(x, u) + new(x, u[:, cols])).numpy() / 3
    to_onnx(new, tmp_path / "new.onnx", 250, 2)
    for storage, tol in (("float32", 1e-4), ("float16", 2e-2)):
        to_onnx(old, tmp_path / "old.onnx", 250, 3, weights=storage)
        out = tmp_path / f"grown_{storage}.onnx"
        extend_onnx(tmp_path / "old.onnx", 2, tmp_path / "new.onnx", 1, out, cols, weights=storage)
        got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(
            None, {"ecg": x.numpy(), "features": u.numpy()})[0]
        np.testing.assert_allclose(got, want, atol=tol)
    # a grown model grows again (fresh names for the second step): (3 * grown + new2) / 4
    new2 = ECGResNet(5, width=6).eval()
    with torch.no_grad():
        want2 = (3 * torch.from_numpy(want) + new2(x)).numpy() / 4
    to_onnx(new2, tmp_path / "new2.onnx", 250, 0)
    extend_onnx(tmp_path / "grown_float32.onnx", 3, tmp_path / "new2.onnx", 1, tmp_path / "grown2.onnx", [])
    got = ort.InferenceSession(str(tmp_path / "grown2.onnx"), providers=["CPUExecutionProvider"]).run(
        None, {"ecg": x.numpy(), "features": u.numpy()})[0]
    np.testing.assert_allclose(got, want2, atol=1e-4)
    assert _same_stats(spec, None) == []
    with pytest.raises(ValueError, match="'d', which the model they extend does not have"):
        _same_stats(spec_b, {"names": ["d"], "mean": [0.0], "std": [1.0]})
    with pytest.raises(ValueError, match="feature 'b' is standardised differently"):
        _same_stats(spec_b, {"names": ["b"], "mean": [2.5], "std": [0.5]})
    with pytest.raises(ValueError, match="reads none"):
        _same_stats(None, spec_b)


def test_train_extend_grows_an_exported_model(tiny_run: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """`ecgpilot train --members ... --extend` adds a newly trained network to an exported
    model whose checkpoint is not used: the result equals the mean of the two exported files'
    logits, its sidecar lists both members and the model it extends, its fits are redone."""
    import onnxruntime as ort

    from ecgpilot.cli import main
    from ecgpilot.train.export import MODEL_NAME, export_model

    export_model(tiny_run, tmp_path / "old", weights="float32")
    export_model(tiny_run, tmp_path / "same", weights="float32")  # the member alone, for the reference
    old_meta = json.loads((tmp_path / "old" / f"{MODEL_NAME}.json").read_text())
    rng = np.random.default_rng(5)
    x = rng.normal(0, 1, (3, 12, 250)).astype(np.float32)

    def logits(path: Path) -> np.ndarray:
        return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"ecg": x})[0]

    base_logits = logits(tmp_path / "old" / f"{MODEL_NAME}.onnx")
    out = tmp_path / "runs"
    # the same seed, so the same 256 records and signal normalisation, but another width: another network
    assert main(["train", "--members", "none", "--epochs", "1", "--batch-size", "32", "--width", "8", "--kernel", "3",
                 "--limit", "256", "--out-dir", str(out), "--extend", "--weights", "float32",
                 "--export-to", str(tmp_path / "old")]) == 0
    export_model(out / "none", tmp_path / "new", weights="float32")
    want = (base_logits + logits(tmp_path / "new" / f"{MODEL_NAME}.onnx")) / 2
    np.testing.assert_allclose(logits(tmp_path / "old" / f"{MODEL_NAME}.onnx"), want, atol=1e-4)
    meta = json.loads((tmp_path / "old" / f"{MODEL_NAME}.json").read_text())
    assert meta["extends"] == {"version": old_meta["version"], "onnx_sha256": old_meta["onnx_sha256"], "members": 1}
    assert [(m["config"]["width"], m["config"]["kernel"]) for m in meta["training"]["members"]] == [(16, 5), (8, 3)]
    assert meta["version"].startswith("ptbxl-ens2-resnet1d-signal+signal-w16+8k3-")  # every width, kernels not 5
    assert meta["outputs"] != old_meta["outputs"]  # calibration re-fitted on the grown model
    assert meta["preprocessing"]["stride"] == old_meta["preprocessing"]["stride"]
    assert load_model(tmp_path / "old" / f"{MODEL_NAME}.onnx").version == meta["version"]

    # another seed draws other 256 records, hence another signal normalisation: refused, file untouched
    grown = (tmp_path / "old" / f"{MODEL_NAME}.onnx").read_bytes()
    with pytest.raises(SystemExit, match="differ from the model .* in their signal normalisation"):
        main(["train", "--members", "none:7", "--epochs", "1", "--batch-size", "32", "--width", "8",
              "--limit", "256", "--out-dir", str(out), "--extend", "--export-to", str(tmp_path / "old")])
    assert (tmp_path / "old" / f"{MODEL_NAME}.onnx").read_bytes() == grown
    with pytest.raises(SystemExit, match="needs --members"):
        main(["train", "--features", "none", "--extend", "--out-dir", str(out)])
    with pytest.raises(SystemExit, match="no exported model"):
        main(["train", "--members", "none", "--epochs", "1", "--batch-size", "32", "--width", "8", "--kernel", "3",
              "--limit", "256", "--out-dir", str(out), "--resume", "--extend", "--export-to", str(tmp_path / "nowhere")])
    # resuming under another architecture is refused with the settings that differ, before any load
    assert main(["train", "--members", "none", "--epochs", "1", "--batch-size", "32", "--width", "8",
                 "--limit", "256", "--out-dir", str(out), "--resume", "--no-export"]) == 2
    err = capsys.readouterr().err
    assert "other settings (kernel 3 there, 5 now)" in err and "another --out-dir" in err


def test_int8_compute_quantises_the_convolutions_and_keeps_the_scores(tiny_run: Path, tmp_path: Path) -> None:
    """--refit --compute int8 turns an exported float model into one with 8-bit convolutions
    (the stem stays float32), calibrated on training records only; its logits follow the float
    model's on real fold-9 windows (correlation > 0.99, each statement's ranking kept), it passes
    the same model checks, and it can neither grow nor go back to float32. (The AUCs of a
    one-epoch network are near chance and do not show the accuracy kept: the shipped model's
    fold-10 test does, on the quantised model itself.)"""
    import onnx

    from ecgpilot.cli import main
    from ecgpilot.datasets.ptbxl import load_ptbxl
    from ecgpilot.train.export import MODEL_NAME, export_model
    from ecgpilot.train.extend import extend_model

    export_model(tiny_run, tmp_path / "f32")
    shutil.copytree(tmp_path / "f32", tmp_path / "q8")
    assert main(["train", "--refit", "--compute", "int8", "--export-to", str(tmp_path / "q8")]) == 0
    f32 = json.loads((tmp_path / "f32" / f"{MODEL_NAME}.json").read_text())
    q8 = json.loads((tmp_path / "q8" / f"{MODEL_NAME}.json").read_text())
    assert q8["compute"] == "int8" and q8["version"].startswith(f32["version"]) and "-q8" in q8["version"]
    assert q8["quantisation"]["calibration"] == {"records": 256, "folds": [1, 2, 3, 4, 5, 6, 7, 8], "seed": 0,
                                                 "inputs": "the serving windows of each record"}
    graph = onnx.load(str(tmp_path / "q8" / f"{MODEL_NAME}.onnx")).graph
    float_convs = [n.name for n in graph.node if n.op_type == "Conv"]
    n_conv = sum(n.op_type == "Conv" for n in onnx.load(str(tmp_path / "f32" / f"{MODEL_NAME}.onnx")).graph.node)
    assert float_convs and all("stem" in name for name in float_convs)
    assert sum(n.op_type == "QLinearConv" for n in graph.node) == n_conv - len(float_convs)
    assert q8["quantisation"]["quantised_convolutions"] == n_conv - len(float_convs)

    a, b = load_model(tmp_path / "f32" / f"{MODEL_NAME}.onnx"), load_model(tmp_path / "q8" / f"{MODEL_NAME}.onnx")
    check_model(b, np.random.default_rng(1))
    data = load_ptbxl()
    idx = data.folds(9)[:200]
    spec = a.meta["preprocessing"]
    raw = np.asarray(data.signals[idx], dtype=np.float32).transpose(0, 2, 1)
    w = windows((raw[0] - spec["mean"]) / spec["scale"], spec["window"], spec["stride"])
    x = np.concatenate([windows((r - spec["mean"]) / spec["scale"], spec["window"], spec["stride"]) for r in raw])
    assert x.shape[1:] == w.shape[1:]
    za, zb = a.predict_logits(x), b.predict_logits(x)
    assert np.corrcoef(za.ravel(), zb.ravel())[0, 1] > 0.99
    assert np.abs(za - zb).mean() < 0.1 * za.std()
    # the order of the windows per statement (what the AUCs read) is kept; a one-epoch network's
    # windows differ little, so rounding reorders some close neighbours (measured: median 0.95)
    rho = [np.corrcoef(rankdata(za[:, j]), rankdata(zb[:, j]))[0, 1] for j in range(za.shape[1])]
    assert np.median(rho) > 0.9 and min(rho) > 0.8, (np.median(rho), min(rho))

    with pytest.raises(ValueError, match="quantised .*cannot grow"):
        extend_model(tmp_path / "q8", [tiny_run], target_dir=tmp_path / "grown")
    assert not (tmp_path / "grown" / f"{MODEL_NAME}.onnx").exists()
    with pytest.raises(SystemExit, match="cannot be turned back into float32"):
        main(["train", "--refit", "--compute", "float32", "--export-to", str(tmp_path / "q8")])
    with pytest.raises(SystemExit, match="does not apply with --compute int8"):
        main(["train", "--members", "rhythm", "--compute", "int8", "--weights", "float16", "--no-export"])
    with pytest.raises(SystemExit, match="do nothing with --no-export"):
        main(["train", "--members", "rhythm", "--compute", "int8", "--no-export"])


def test_loading_the_model_sends_and_keeps_no_usage_telemetry(tmp_path) -> None:  # noqa: ANN001
    """ONNX Runtime's official wheels create a device id and queue usage events under ~/.cache/Microsoft;
    loading and running ecgpilot's model in a fresh process and home leaves no such file."""
    import subprocess
    import sys

    code = ("from ecgpilot.model import load_model; import numpy as np; m = load_model(); "
            "import os; print(os.environ.get('ORT_DISABLE_TELEMETRY'))")
    env = {"HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / ".cache"), "PATH": "/usr/bin:/bin",
           "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "1"
    assert not [p for p in tmp_path.rglob("*") if p.is_file()], sorted(tmp_path.rglob("*"))
