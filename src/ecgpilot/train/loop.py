"""Seeded, resumable training loop on PTB-XL folds 1-8, model selection on fold 9."""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from ecgpilot.datasets.ptbxl import PTBXL, TASKS, load_ptbxl
from ecgpilot.errors import ConfigError
from ecgpilot.model import aggregate_windows
from ecgpilot.model.features import FEATURE_NAMES, FEATURES_VERSION, RHYTHM_NAMES, model_features
from ecgpilot.model.metrics import macro_auc
from ecgpilot.paths import cache_dir
from ecgpilot.train.config import TrainConfig
from ecgpilot.train.net import ECGResNet

__all__ = ["TrainConfig", "train", "output_list", "windows", "predict_records", "window_logits", "record_features"]

TRAIN_FOLDS = (1, 2, 3, 4, 5, 6, 7, 8)
FEATURE_SETS: dict[str, tuple[str, ...]] = {"all": FEATURE_NAMES, "rhythm": RHYTHM_NAMES}
VAL_FOLD = 9
TEST_FOLD = 10


def output_list(data: PTBXL) -> list[tuple[str, str]]:
    """All (task, code) outputs: every statement of every task, in task order."""
    return [(t, c) for t in TASKS for c in data.statements(t)]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def windows(x: np.ndarray, window: int, stride: int) -> np.ndarray:
    """Cut (n, leads, T) into overlapping windows → (n, n_win, leads, window)."""
    T = x.shape[-1]
    starts = list(range(0, T - window + 1, stride))
    if starts[-1] != T - window:
        starts.append(T - window)
    return np.stack([x[..., s: s + window] for s in starts], axis=1)


@torch.no_grad()
def predict_records(model: nn.Module, x: np.ndarray, window: int, stride: int, batch: int = 512,
                    feats: np.ndarray | None = None, aggregate: str = "max") -> np.ndarray:
    """Probabilities per record from sliding windows, combined by ``aggregate`` (see
    :func:`ecgpilot.model.aggregate_windows`; ``feats``: standardised record features,
    repeated for every window of the record)."""
    return aggregate_windows(window_logits(model, x, window, stride, batch, feats), aggregate, axis=1)


@torch.no_grad()
def window_logits(model: nn.Module, x: np.ndarray, window: int, stride: int, batch: int = 512,
                  feats: np.ndarray | None = None) -> np.ndarray:
    """Logits of every sliding window of every record, (n, n_windows, n_outputs)."""
    model.eval()
    dev = next((q.device for q in model.parameters()), torch.device("cpu"))
    w = windows(x, window, stride)  # (n, k, L, W)
    n, k = w.shape[:2]
    flat = torch.from_numpy(np.ascontiguousarray(w.reshape(n * k, *w.shape[2:])))
    f = None if feats is None else torch.from_numpy(np.ascontiguousarray(np.repeat(feats, k, axis=0)))
    out = [model(flat[i: i + batch].to(dev), None if f is None else f[i: i + batch].to(dev)).cpu()
           for i in range(0, n * k, batch)]
    return torch.cat(out).numpy().reshape(n, k, -1)


def training_device(name: str) -> torch.device:
    """``"cpu"`` or ``"cuda"`` as a torch device; a clear error when no GPU is usable."""
    if name not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda'; got {name!r}")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but torch sees no GPU here; train with device 'cpu'")
    return torch.device(name)


def record_features(data: PTBXL, names: list[str] | tuple[str, ...] = FEATURE_NAMES,
                    progress: bool = False, rows: np.ndarray | None = None) -> np.ndarray:
    """:func:`model_features` ``names`` of every PTB-XL record (from the µV signal), cached on
    disk; with ``rows``, of those records only (not cached)."""
    def compute(idx) -> np.ndarray:  # noqa: ANN001
        return np.stack([model_features(np.asarray(data.signals[i], dtype=np.float64).T, 100.0, names) for i in idx])

    if rows is not None:
        return compute(rows)
    key = hashlib.sha256((data.data_sha256 + FEATURES_VERSION + ",".join(names)).encode()).hexdigest()[:16]
    path = cache_dir() / f"ptbxl_features_{key}.npy"
    if path.exists():
        f = np.load(path)
        if f.shape == (len(data.signals), len(names)):
            return f
    todo: Any = range(len(data.signals))
    if progress:
        try:
            from tqdm import tqdm

            todo = tqdm(todo, desc="record features")
        except ImportError:  # pragma: no cover
            pass
    f = compute(todo)
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(path, lambda tmp: np.save(tmp, f))  # concurrent runs may fill it too
    return f


def standardise(f: np.ndarray, mean: list[float], std: list[float]) -> np.ndarray:
    """(features - mean) / std, as float32."""
    return ((f - np.asarray(mean)) / np.asarray(std)).astype(np.float32)


def prepare(data: PTBXL, idx: np.ndarray, mean: float, scale: float) -> np.ndarray:
    """int16 µV (n, 1000, 12) → normalised float32 (n, 12, 1000)."""
    x = np.asarray(data.signals[idx], dtype=np.float32).transpose(0, 2, 1)
    return np.ascontiguousarray((x - mean) / scale)


def task_aucs(y: np.ndarray, p: np.ndarray, outputs: list[tuple[str, str]]) -> dict[str, float]:
    res = {}
    for t in TASKS:
        cols = [j for j, (tt, _) in enumerate(outputs) if tt == t]
        res[t] = macro_auc(y[:, cols], p[:, cols])
    return res


def train(cfg: TrainConfig, *, resume: bool = False, progress: bool = True) -> Path:
    """Train, checkpointing every epoch in ``cfg.out_dir``; returns the best checkpoint path."""
    os.environ.setdefault("OMP_NUM_THREADS", str(cfg.threads))
    torch.set_num_threads(cfg.threads)
    dev = training_device(cfg.device)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seed_everything(cfg.seed)
    data = load_ptbxl()
    outputs = output_list(data)
    tr = data.folds(*TRAIN_FOLDS)
    va = data.folds(VAL_FOLD)
    if cfg.limit:
        tr = np.random.default_rng(cfg.seed).choice(tr, size=min(cfg.limit, len(tr)), replace=False)
        tr.sort()
    sample = np.asarray(data.signals[tr[:: max(1, len(tr) // 2000)]], dtype=np.float32)
    mean, scale = float(sample.mean()), float(sample.std())
    xtr, xva = prepare(data, tr, mean, scale), prepare(data, va, mean, scale)
    y_all = data.targets(outputs)
    ytr, yva = y_all[tr], y_all[va]

    ftr = fva = None
    fnorm: dict[str, list[Any]] | None = None
    if cfg.feature_set not in FEATURE_SETS:
        raise ValueError(f"feature_set {cfg.feature_set!r} is not one of {sorted(FEATURE_SETS)}")
    names = FEATURE_SETS[cfg.feature_set]
    if cfg.features:
        if cfg.limit:  # smoke runs: only the records used, not cached
            raw_tr, raw_va = record_features(data, names, rows=tr), record_features(data, names, rows=va)
        else:
            fall = record_features(data, names, progress=progress)
            raw_tr, raw_va = fall[tr], fall[va]
        fmean, fstd = raw_tr.mean(axis=0), raw_tr.std(axis=0)
        fstd = np.where(fstd > 1e-6, fstd, 1.0)
        fnorm = {"names": list(names), "mean": fmean.tolist(), "std": fstd.tolist()}
        ftr, fva = standardise(raw_tr, fmean.tolist(), fstd.tolist()), standardise(raw_va, fmean.tolist(), fstd.tolist())
    model = ECGResNet(len(outputs), width=cfg.width, kernel=cfg.kernel,
                      n_features=len(names) if cfg.features else 0).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(tr) / cfg.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch, pct_start=0.3
    )
    lossf = nn.BCEWithLogitsLoss()
    start_epoch, best, history = 0, -1.0, []
    last = out / "last.pt"
    if resume and last.exists():
        _check_same_run(out / "meta.json", cfg)
        ck = torch.load(last, weights_only=False, map_location="cpu")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        sched.load_state_dict(ck["sched"])
        start_epoch, best, history = ck["epoch"] + 1, ck["best"], ck["history"]
        torch.set_rng_state(ck["torch_rng"])
        if dev.type == "cuda" and ck.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(ck["cuda_rng"])
    meta = {"config": asdict(cfg), "outputs": outputs, "norm": {"mean": mean, "scale": scale}, "features": fnorm,
            "data_sha256": data.data_sha256, "n_train": int(len(tr)), "n_val": int(len(va))}
    (out / "meta.json").write_text(json.dumps(meta, indent=1))

    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        tqdm = None
    for epoch in range(start_epoch, cfg.epochs):
        rng = np.random.default_rng(cfg.seed + epoch)
        order = rng.permutation(len(tr))
        offs = rng.integers(0, xtr.shape[-1] - cfg.window + 1, size=len(tr))
        gains = rng.uniform(0.8, 1.2, size=len(tr)).astype(np.float32)
        model.train()
        t0 = time.time()
        total = 0.0
        it = range(0, len(tr), cfg.batch_size)
        bar = tqdm(it, desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not progress or tqdm is None) if tqdm else it
        for b in bar:
            sel = order[b: b + cfg.batch_size]
            # gain augmentation on the windows only: the record features keep the true amplitudes
            xb = np.stack([xtr[i, :, o: o + cfg.window] for i, o in zip(sel, offs[sel])]) * gains[sel, None, None]
            xb_t, yb_t = torch.from_numpy(xb).to(dev), torch.from_numpy(ytr[sel]).to(dev)
            fb_t = None if ftr is None else torch.from_numpy(ftr[sel]).to(dev)
            opt.zero_grad(set_to_none=True)
            loss = lossf(model(xb_t, fb_t), yb_t)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(sel)
        pva = predict_records(model, xva, cfg.window, cfg.stride, feats=fva)
        aucs = task_aucs(yva, pva, outputs)
        score = float(np.mean(list(aucs.values())))
        history.append({"epoch": epoch + 1, "loss": total / len(tr), "val_auc": aucs, "val_mean": score,
                        "seconds": time.time() - t0})
        print(json.dumps(history[-1]), flush=True)
        if score > best:
            best = score
            best_ck = {"model": _cpu(model.state_dict()), "epoch": epoch, "val": aucs}
            _write_atomically(out / "best.pt", lambda tmp: torch.save(best_ck, tmp))
        last_ck = {"model": _cpu(model.state_dict()), "opt": opt.state_dict(), "sched": sched.state_dict(),
                   "epoch": epoch, "best": best, "history": history, "torch_rng": torch.get_rng_state(),
                   "cuda_rng": torch.cuda.get_rng_state() if dev.type == "cuda" else None}
        _write_atomically(last, lambda tmp: torch.save(last_ck, tmp))
        _write_atomically(out / "history.json", lambda tmp: tmp.write_text(json.dumps(history, indent=1)))
    return out / "best.pt"


_RUN_SHAPING = ("width", "kernel", "window", "features", "feature_set", "epochs", "batch_size", "lr",
                "weight_decay", "seed", "limit")  # a checkpoint only continues under the same settings


def _check_same_run(meta_path: Path, cfg: TrainConfig) -> None:
    """Refuse ``--resume`` when ``cfg`` differs from the run saved in ``meta_path`` in a setting that
    shapes the network or its training (the checkpoint would not load, or would continue another run)."""
    if not meta_path.exists():
        return
    saved = json.loads(meta_path.read_text()).get("config", {})
    now = asdict(cfg)
    diff = [f"{k} {saved[k]!r} there, {now[k]!r} now" for k in _RUN_SHAPING if k in saved and saved[k] != now[k]]
    if diff:
        raise ConfigError(f"--resume: the run in {meta_path.parent} was started with other settings "
                          f"({'; '.join(diff)}). Resume it with its own settings, or train into another --out-dir.")


def _write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """``write(tmp)`` then rename onto ``path``: an interrupted run never leaves a half-written
    file, and concurrent processes never share a temporary (its name carries the process id and
    ends with ``path``'s suffix, so ``np.save`` adds none)."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp{path.suffix}")
    write(tmp)
    os.replace(tmp, path)


def _cpu(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state dict with its tensors on the CPU (checkpoints load anywhere)."""
    return {k: v.detach().cpu() for k, v in state.items()}
