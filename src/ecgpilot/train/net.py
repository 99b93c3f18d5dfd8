"""The network: a compact 1-D ResNet over 12 leads at 100 Hz."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ECGResNet"]


class _Block(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int) -> None:
        super().__init__()
        pad = kernel // 2
        self.conv1 = nn.Conv1d(c_in, c_out, kernel, stride=stride, padding=pad, bias=False)
        self.bn1 = nn.BatchNorm1d(c_out)
        self.conv2 = nn.Conv1d(c_out, c_out, kernel, padding=pad, bias=False)
        self.bn2 = nn.BatchNorm1d(c_out)
        self.act = nn.ReLU(inplace=True)
        self.short: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.short = nn.Sequential(
                nn.Conv1d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm1d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.act(y + self.short(x))


class ECGResNet(nn.Module):
    """Stem + 4 residual stages (widths w, 2w, 2w, 4w) + mean/max pooling + linear head.

    Input ``(batch, 12, samples)`` normalised signal; output logits ``(batch, n_out)``.
    With ``n_features > 0`` the forward pass also takes ``(batch, n_features)`` standardised
    whole-record features (:mod:`ecgpilot.model.features`), embedded by a small MLP and
    concatenated with the pooled signal before the head.
    """

    def __init__(self, n_out: int, width: int = 40, kernel: int = 5, blocks: int = 2,
                 n_leads: int = 12, dropout: float = 0.2, n_features: int = 0, feature_width: int = 64) -> None:
        super().__init__()
        self.n_features = n_features
        self.stem = nn.Sequential(
            nn.Conv1d(n_leads, width, 7, padding=3, bias=False), nn.BatchNorm1d(width), nn.ReLU(inplace=True)
        )
        widths = (width, 2 * width, 2 * width, 4 * width)
        strides = (1, 2, 2, 2)
        layers: list[nn.Module] = []
        c = width
        for w, s in zip(widths, strides):
            for b in range(blocks):
                layers.append(_Block(c, w, kernel, s if b == 0 else 1))
                c = w
        self.body = nn.Sequential(*layers)
        extra = 0
        if n_features:
            self.features = nn.Sequential(nn.Linear(n_features, feature_width), nn.ReLU(inplace=True),
                                          nn.Linear(feature_width, feature_width), nn.ReLU(inplace=True))
            extra = feature_width
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * c + extra, n_out))

    def forward(self, x: torch.Tensor, feats: torch.Tensor | None = None) -> torch.Tensor:
        h = self.body(self.stem(x))
        pooled = torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1)
        if self.n_features:
            if feats is None:
                raise ValueError(f"this network needs its {self.n_features} record features")
            pooled = torch.cat([pooled, self.features(feats)], dim=1)
        return self.head(pooled)
