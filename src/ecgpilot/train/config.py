"""Training settings, importable without PyTorch (``ecgpilot --help`` builds the train parser from them)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TrainConfig"]


@dataclass
class TrainConfig:
    out_dir: str = "runs/ptbxl"
    epochs: int = 30
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 1e-2
    width: int = 40
    kernel: int = 5
    window: int = 250
    stride: int = 125
    seed: int = 20261122
    threads: int = 1
    device: str = "cpu"  # "cpu" or "cuda" (a GPU machine, when one is lent; never required)
    features: bool = True  # whole-record features (ecgpilot.model.features) into the head
    feature_set: str = "all"  # "all" (rhythm + beat) or "rhythm"
    limit: int = 0  # >0: use only this many training records (smoke tests)
