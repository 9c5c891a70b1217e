"""Per-window scalers: statistics of the *observed* context values only (masked), with a floor.

A scaler maps a window's context ``(target, observed)`` to ``loc`` and ``scale`` of shape
``(B, 1)``; the network sees ``(y − loc) / scale`` and the forecast distribution is mapped
back with :class:`~qfcast.distributions.AffineTransformed`, so callers never unscale by hand.
Padding and NaN targets are unobserved and never enter a statistic.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

__all__ = ["IdentityScaler", "MeanAbsScaler", "RobustScaler", "Scale"]


class Scale(NamedTuple):
    """Location and scale per window, each (B, 1)."""

    loc: torch.Tensor
    scale: torch.Tensor

    def transform(self, y: torch.Tensor) -> torch.Tensor:
        return (y - self.loc) / self.scale

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.scale + self.loc


def _fallback(scale: torch.Tensor, ok: torch.Tensor, default: float | None) -> torch.Tensor:
    """Replace scales of windows with nothing to go on (no observed nonzero value)."""
    if default is None:  # GluonTS: the batch mean of the usable scales
        batch = scale[ok].mean() if ok.any() else scale.new_tensor(1.0)
        return torch.where(ok, scale, batch)
    return torch.where(ok, scale, torch.full_like(scale, default))


class MeanAbsScaler:
    """``scale = mean |y|`` over observed context values, ``loc = 0`` (GluonTS's MeanScaler).

    Windows with no observed nonzero value get ``default_scale`` (1.0; ``None`` uses the batch
    mean of the other windows, as GluonTS does — which makes a window's forecast depend on its
    batch-mates). Every scale is then floored at ``min_scale``.

    >>> y = torch.tensor([[2.0, -4.0, 0.0], [0.0, 0.0, 0.0]])
    >>> seen = torch.tensor([[True, True, False], [True, True, True]])
    >>> MeanAbsScaler()(y, seen).scale.flatten().tolist()
    [3.0, 1.0]
    """

    def __init__(self, min_scale: float = 1e-10, default_scale: float | None = 1.0) -> None:
        self.min_scale, self.default_scale = min_scale, default_scale

    def __call__(self, target: torch.Tensor, observed: torch.Tensor) -> Scale:
        weight = observed.to(target.dtype)
        total = (target.abs() * weight).sum(dim=1, keepdim=True)
        count = weight.sum(dim=1, keepdim=True)
        scale = total / count.clamp(min=1.0)
        scale = _fallback(scale, total > 0, self.default_scale).clamp(min=self.min_scale)
        return Scale(torch.zeros_like(scale), scale)


class RobustScaler:
    """``loc = median``, ``scale = IQR`` of the observed context values (robust to outliers).

    When the IQR is 0 (e.g. mostly constant or intermittent windows) the mean absolute
    deviation from the median is used; windows with nothing to go on get ``default_scale``;
    every scale is floored at ``min_scale``.

    >>> y = torch.tensor([[1.0, 2.0, 3.0, 4.0, 100.0]])
    >>> s = RobustScaler()(y, torch.ones_like(y, dtype=torch.bool))
    >>> s.loc.item(), s.scale.item()
    (3.0, 2.0)
    """

    def __init__(self, min_scale: float = 1e-10, default_scale: float | None = 1.0) -> None:
        self.min_scale, self.default_scale = min_scale, default_scale

    def __call__(self, target: torch.Tensor, observed: torch.Tensor) -> Scale:
        values = torch.where(observed, target, torch.full_like(target, float("nan")))
        q = torch.nanquantile(values, torch.tensor([0.25, 0.5, 0.75], dtype=target.dtype), dim=1)
        q = q.T.unsqueeze(-1)  # (B, 3, 1)
        loc = torch.nan_to_num(q[:, 1], nan=0.0)
        iqr = torch.nan_to_num(q[:, 2] - q[:, 0], nan=0.0)
        weight = observed.to(target.dtype)
        mad = ((target - loc).abs() * weight).sum(1, keepdim=True) / weight.sum(
            1, keepdim=True
        ).clamp(min=1.0)
        scale = torch.where(iqr > 0, iqr, mad)
        scale = _fallback(scale, scale > 0, self.default_scale).clamp(min=self.min_scale)
        return Scale(loc, scale)


class IdentityScaler:
    """No scaling: ``loc = 0``, ``scale = 1``."""

    def __call__(self, target: torch.Tensor, observed: torch.Tensor) -> Scale:
        ones = target.new_ones((target.shape[0], 1))
        return Scale(torch.zeros_like(ones), ones)
