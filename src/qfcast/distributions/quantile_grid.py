"""QuantileGrid: quantile values at fixed levels, as plain multi-quantile regression gives them.

This is the baseline whose crossing we measure. Between the trained levels the quantile
function is the linear interpolant; beyond the outermost levels it has exponential tails
fitted through the two outermost values on each side (MATH.md A.9):
``q(α) = y_0 + a_l·log(α/x_0)`` with ``a_l = (y_1 − y_0)/log(x_1/x_0)``, and the mirror image on
the right. (GluonTS switches to the log curve already at ``min(x_1, 0.1)``; we keep the trained
values exactly and use the curve only outside them.) With the fitted tails it is an IQF whose
tails are not learned, so every closed form of :mod:`._piecewise` applies.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.distributions import constraints

from . import _piecewise as pw
from .base import PiecewiseQuantileDistribution, check_knot_levels

CROSSING_POLICIES = ("sort", "keep", "raise")


class QuantileGrid(PiecewiseQuantileDistribution):
    """Quantile values at fixed levels, interpolated linearly with fitted exponential tails.

    Args:
        levels: (K,) strictly increasing levels in (0, 1), K >= 2.
        values: (*batch, K) predicted quantiles at those levels, possibly crossing.
        crossing: what to do with rows whose values decrease somewhere (``crossed``):
            ``"sort"`` (default) rearranges them (sorts each row, the standard monotone
            rearrangement); ``"keep"`` keeps them as predicted — ``icdf`` then returns the raw
            interpolant, which crosses, and ``cdf``/``crps``/``log_prob`` raise; ``"raise"``
            rejects crossed input. Either way ``crossed`` and ``crossing_rate`` report them.

    Example:
        >>> import torch
        >>> g = QuantileGrid(torch.tensor([0.1, 0.5, 0.9]), torch.tensor([[0.0, 2.0, 1.0]]))
        >>> g.crossing_rate, g.icdf(torch.tensor(0.7)).tolist()
        (1.0, [1.5])
    """

    arg_constraints = {"values": constraints.independent(constraints.real, 1)}

    def __init__(
        self,
        levels: Tensor,
        values: Tensor,
        crossing: str = "sort",
        validate_args: bool | None = None,
    ) -> None:
        values = torch.as_tensor(values)
        if not values.is_floating_point():
            values = values.to(torch.get_default_dtype())
        levels = torch.as_tensor(levels, dtype=values.dtype, device=values.device)
        check_knot_levels(levels)
        if values.dim() < 1 or values.shape[-1] != levels.shape[0]:
            raise ValueError(
                f"values must have shape (*batch, {levels.shape[0]}), got {tuple(values.shape)}"
            )
        if crossing not in CROSSING_POLICIES:
            raise ValueError(f"crossing must be one of {CROSSING_POLICIES}, got {crossing!r}")
        self.levels = levels
        self.raw_values = values
        self.crossing = crossing
        self.crossed = (values.diff(dim=-1) < 0).any(-1)
        if crossing == "raise" and bool(self.crossed.any()):
            raise ValueError(
                f"{int(self.crossed.sum())} of {self.crossed.numel()} rows of quantile values "
                "cross (decrease with the level); use crossing='sort' to rearrange them"
            )
        self.values = values.sort(dim=-1).values if crossing == "sort" else values
        super().__init__(values.shape[:-1], validate_args=validate_args)

    @property
    def crossing_rate(self) -> float:
        """Share of rows (batch elements) whose predicted values cross."""
        return float(self.crossed.to(torch.float64).mean()) if self.crossed.numel() else 0.0

    def _check_queryable(self) -> None:
        if self.crossing == "keep" and bool(self.crossed.any()):
            raise ValueError(
                "cdf, crps and log_prob are undefined for crossing quantiles; "
                f"{int(self.crossed.sum())} row(s) cross. Build the grid with crossing='sort'."
            )

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(QuantileGrid, _instance)
        batch_shape = torch.Size(batch_shape)
        k = self.levels.shape[0]
        new.levels, new.crossing = self.levels, self.crossing
        new.raw_values = self.raw_values.expand((*batch_shape, k))
        new.values = self.values.expand((*batch_shape, k))
        new.crossed = self.crossed.expand(batch_shape)
        super(QuantileGrid, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _make_spline(self) -> pw.Spline:
        x = self.levels
        k = x.shape[0]
        y = self.values.reshape(-1, k)
        floor = torch.finfo(y.dtype).eps * (1 + y.abs().amax(-1))
        rise_l = torch.maximum(y[:, 1] - y[:, 0], floor)
        rise_r = torch.maximum(y[:, -1] - y[:, -2], floor)
        beta_l = math.log(float(x[1] / x[0])) / rise_l
        beta_r = math.log(float((1 - x[-2]) / (1 - x[-1]))) / rise_r
        b = y.shape[0]
        return pw.Spline(
            x.expand(b, k), y, x.diff().expand(b, k - 1), y.diff(dim=-1), beta_l, beta_r
        )
