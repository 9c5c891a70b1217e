"""The base class of every piecewise-linear quantile-function family (ISQF, IQF, SQF, grid)."""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.distributions import Distribution, constraints
from torch.distributions.utils import lazy_property

from . import _piecewise as pw
from ._utils import as_float_tensor, check_levels, uniform_levels


class PositiveSimplex(constraints.Constraint):
    """Rows of strictly positive numbers summing to one (torch's ``simplex`` allows zeros).

    The sum is checked to 1e-5 (or a few ulps per entry if larger), so shares computed in
    float32 and cast to float64 still pass.
    """

    event_dim = 1

    def check(self, value: Tensor) -> Tensor:
        tol = max(1e-5, 64 * torch.finfo(value.dtype).eps * value.shape[-1])
        return (value > 0).all(-1) & ((value.sum(-1) - 1).abs() <= tol)

    def __repr__(self) -> str:
        return "PositiveSimplex()"


class NonDecreasing(constraints.Constraint):
    """Finite rows whose entries never decrease along the last dimension."""

    event_dim = 1

    def check(self, value: Tensor) -> Tensor:
        return torch.isfinite(value).all(-1) & (value.diff(dim=-1) >= 0).all(-1)

    def __repr__(self) -> str:
        return "NonDecreasing()"


positive_simplex = PositiveSimplex()
non_decreasing = NonDecreasing()


def check_knot_levels(levels: Tensor) -> None:
    """Knot levels are structural (shared by the batch), so they are always checked."""
    if levels.dim() != 1 or levels.numel() < 2:
        raise ValueError(
            f"knot_levels must be 1-D with at least 2 levels, got {tuple(levels.shape)}"
        )
    inside = bool(((levels > 0) & (levels < 1)).all())
    if not inside or not bool((levels.diff() > 0).all()):
        raise ValueError(
            f"knot_levels must be strictly increasing in (0, 1), got {levels.tolist()}"
        )


def _call_on_spline(fn, tailed: bool, *tensors: Tensor) -> Tensor:
    *knots, query = tensors
    betas = knots[4:] if tailed else (None, None)
    return fn(pw.Spline(*knots[:4], *betas), query)


def _on_rows(fn, spline: pw.Spline, query: Tensor) -> Tensor:
    """``fn(spline, query)`` over cache-sized chunks of rows: same values and gradients."""
    knots = [spline.x, spline.y, spline.w, spline.h]
    if spline.tailed:
        knots += [spline.beta_l, spline.beta_r]
    width = max(spline.x.shape[1], query.shape[1])
    return pw.chunked(_call_on_spline, (fn, spline.tailed), (*knots, query), width)


class PiecewiseQuantileDistribution(Distribution):
    """A univariate distribution defined by a piecewise-linear quantile function.

    Subclasses build their knots in ``_make_spline`` (rows = the flattened batch); this class
    answers every query in closed form through :mod:`qfcast.distributions._piecewise`:
    ``icdf(alpha)`` with ``alpha`` broadcasting against the batch shape (``alpha`` of shape
    ``(K, 1, ...)`` asks K levels at once), ``cdf``, ``crps``, ``log_prob``, ``mean``, and
    inverse-transform ``rsample``.
    """

    has_rsample = True
    support = constraints.real

    # -- to be provided by subclasses -------------------------------------------------------
    def _make_spline(self) -> pw.Spline:  # pragma: no cover - abstract
        raise NotImplementedError

    def _check_queryable(self) -> None:
        """Raise if the distribution cannot answer cdf/crps queries (crossed grids)."""

    # -- shared machinery ---------------------------------------------------------------------
    @lazy_property
    def _spline(self) -> pw.Spline:
        return self._make_spline()

    @property
    def _dtype_ref(self) -> Tensor:
        """The first declared parameter: queries take its dtype and device."""
        return getattr(self, next(iter(self.arg_constraints)))

    def _rows(self, value: Tensor):
        """Flatten ``value`` against the batch into rows ``(B, S)``.

        Returns the (possibly expanded) distribution, the rows, and a function that turns a
        ``(B, S)`` result back into ``broadcast(value.shape, batch_shape)``.
        """
        batch = self.batch_shape
        shape = torch.broadcast_shapes(value.shape, batch)
        n = len(batch)
        tail = shape[len(shape) - n :] if n else torch.Size()
        dist = self if tail == batch else self.expand(tail)
        lead = shape[: len(shape) - n]
        rows = math.prod(tail)
        samples = math.prod(lead)
        v = value.expand(shape).reshape(samples, rows).T

        def restore(out: Tensor) -> Tensor:
            return out.T.reshape(shape)

        return dist, v, restore

    def _apply(self, fn, value: Tensor) -> Tensor:
        """``fn(spline, rows)`` for ``value`` broadcast against the batch, in row chunks."""
        dist, rows, restore = self._rows(value)
        return restore(_on_rows(fn, dist._spline, rows))

    def icdf(self, value: Tensor | float) -> Tensor:
        value = as_float_tensor(value, self._dtype_ref)
        if self._validate_args:
            check_levels(value)
        return self._apply(pw.icdf, value)

    def _checked_values(self, value: Tensor | float, in_support: bool = False):
        """Observations as a tensor of the parameters' dtype, validated when validation is on.

        Any number is a valid observation for cdf and crps; ``in_support`` (log_prob) also
        requires the support, as torch does.
        """
        value = as_float_tensor(value, self._dtype_ref)
        if self._validate_args:
            if in_support:
                self._validate_sample(value)
            elif bool(torch.isnan(value).any()):
                raise ValueError("values must not be NaN")
            torch.broadcast_shapes(value.shape, self.batch_shape)
        self._check_queryable()
        return value

    def cdf(self, value: Tensor | float) -> Tensor:
        return self._apply(pw.cdf, self._checked_values(value))

    def crps(self, value: Tensor | float) -> Tensor:
        """Continuous ranked probability score ∫ 2ρ_α(y − q(α)) dα, in closed form."""
        return self._apply(pw.crps, self._checked_values(value))

    def log_prob(self, value: Tensor | float) -> Tensor:
        return self._apply(pw.log_prob, self._checked_values(value, in_support=True))

    @property
    def mean(self) -> Tensor:
        """∫ q(α) dα in closed form (no Monte Carlo)."""
        return pw.mean(self._spline).reshape(self.batch_shape)

    @property
    def median(self) -> Tensor:
        return self.icdf(torch.full(self.batch_shape, 0.5, dtype=self._dtype_ref.dtype))

    def rsample(self, sample_shape: torch.Size | tuple = torch.Size()) -> Tensor:
        """Inverse-transform samples q(U), U ~ U(0, 1) kept strictly inside (0, 1)."""
        shape = self._extended_shape(torch.Size(sample_shape))
        return self._apply(pw.icdf, uniform_levels(shape, self._dtype_ref))
