"""The network: a compact 1-D ResNet over 12 leads at 100 Hz."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ECGResNet", "ECGEnsemble"]


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


class ECGEnsemble(nn.Module):
    """The mean of the logits of several :class:`ECGResNet` members, as one network.

    The input features are the union of the members' (standardised with the ensemble's
    statistics); member ``k`` reads its columns ``columns[k]``, brought back to its own
    training standardisation by ``f * scales[k] + shifts[k]``.
    """

    def __init__(self, members: list[ECGResNet], columns: list[list[int]],
                 scales: list[list[float]], shifts: list[list[float]]) -> None:
        super().__init__()
        if not members or not len(members) == len(columns) == len(scales) == len(shifts):
            raise ValueError("an ensemble needs one column list, scale and shift per member")
        self.members = nn.ModuleList(members)
        for k, (m, cols, sc, sh) in enumerate(zip(members, columns, scales, shifts)):
            if len(cols) != m.n_features or len(sc) != len(cols) or len(sh) != len(cols):
                raise ValueError(f"member {k} reads {m.n_features} features; got {len(cols)} columns")
            self.register_buffer(f"cols{k}", torch.tensor(cols, dtype=torch.long))
            self.register_buffer(f"scale{k}", torch.tensor(sc, dtype=torch.float32))
            self.register_buffer(f"shift{k}", torch.tensor(sh, dtype=torch.float32))
        self.n_features = max((max(c) + 1 for c in columns if c), default=0)

    def forward(self, x: torch.Tensor, feats: torch.Tensor | None = None) -> torch.Tensor:
        total = None
        for k, m in enumerate(self.members):
            f = None
            if m.n_features:
                if feats is None:
                    raise ValueError(f"this ensemble needs its {self.n_features} record features")
                f = feats.index_select(1, getattr(self, f"cols{k}")) * getattr(self, f"scale{k}") + getattr(self, f"shift{k}")
            out = m(x, f)
            total = out if total is None else total + out
        assert total is not None  # an ensemble has at least one member
        return total / len(self.members)
