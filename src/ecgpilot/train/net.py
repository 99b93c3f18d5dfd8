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
    """

    def __init__(self, n_out: int, width: int = 40, kernel: int = 5, blocks: int = 2,
                 n_leads: int = 12, dropout: float = 0.2) -> None:
        super().__init__()
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
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * c, n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.body(self.stem(x))
        pooled = torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1)
        return self.head(pooled)
