"""ISQF and IQF: incremental (spline) quantile functions with exponential tails.

Park, Robinson, Aubet, Kan, Gasthaus & Wang, "Learning Quantile Functions without Quantile
Crossing for Distribution-free Time Series Forecasting", AISTATS 2022. Mathematics in
``docs/MATH.md`` A.1–A.6; closed forms in :mod:`qfcast.distributions._piecewise`.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.distributions import constraints

from . import _piecewise as pw
from .base import PiecewiseQuantileDistribution, check_knot_levels, non_decreasing, positive_simplex


class ISQF(PiecewiseQuantileDistribution):
    r"""Incremental spline quantile function (ISQF) with learned exponential tails.

    Between knot levels ``α_k < α_{k+1}`` the quantile function is linear in ``L`` pieces;
    below ``α_0`` and above ``α_{K-1}`` it has exponential tails
    ``q(α) = q_0 + log(α/α_0)/β_l`` and ``q(α) = q_{K-1} − log((1−α)/(1−α_{K-1}))/β_r``.
    It never crosses, and ``icdf``, ``cdf``, ``crps``, ``mean`` and ``log_prob`` are closed form.

    Args:
        knot_levels: (K,) strictly increasing levels in (0, 1), shared by the batch.
        knot_values: (*batch, K) non-decreasing quantile values at those levels.
        piece_widths: (*batch, K-1, L) positive, rows summing to 1: the share of each
            interval's level width taken by each linear piece.
        piece_heights: (*batch, K-1, L) positive, rows summing to 1: the share of each
            interval's value rise taken by each piece.
        beta_left, beta_right: (*batch,) positive exponential tail rates.

    Example:
        >>> import torch
        >>> x = torch.tensor([0.0, 1.0], dtype=torch.float64)
        >>> d = ISQF([0.1, 0.9], x, torch.ones(1, 1), torch.ones(1, 1), 2.0, 2.0)
        >>> [round(q, 12) for q in d.icdf(torch.tensor([0.3, 0.7], dtype=x.dtype)).tolist()]
        [0.25, 0.75]
        >>> round(d.crps(torch.tensor(0.5)).item(), 6)  # 0.0075 + 0.0075 + 7/75 (GluonTS tests)
        0.108333
    """

    arg_constraints = {
        "knot_values": non_decreasing,
        "piece_widths": positive_simplex,
        "piece_heights": positive_simplex,
        "beta_left": constraints.positive,
        "beta_right": constraints.positive,
    }

    def __init__(
        self,
        knot_levels: Tensor,
        knot_values: Tensor,
        piece_widths: Tensor,
        piece_heights: Tensor,
        beta_left: Tensor | float,
        beta_right: Tensor | float,
        validate_args: bool | None = None,
    ) -> None:
        knot_values = torch.as_tensor(knot_values)
        dtype, device = knot_values.dtype, knot_values.device
        if not dtype.is_floating_point:
            knot_values = knot_values.to(torch.get_default_dtype())
            dtype = knot_values.dtype

        def _t(v):
            return torch.as_tensor(v, dtype=dtype, device=device)

        knot_levels, piece_widths, piece_heights = (
            _t(knot_levels),
            _t(piece_widths),
            _t(piece_heights),
        )
        beta_left, beta_right = _t(beta_left), _t(beta_right)
        check_knot_levels(knot_levels)
        k = knot_levels.shape[0]
        if knot_values.dim() < 1 or knot_values.shape[-1] != k:
            raise ValueError(
                f"knot_values must have shape (*batch, {k}) for {k} knot levels, "
                f"got {tuple(knot_values.shape)}"
            )
        if piece_widths.dim() < 2 or piece_widths.shape[-2] != k - 1:
            shape = tuple(piece_widths.shape)
            raise ValueError(f"piece_widths must have shape (*batch, {k - 1}, L), got {shape}")
        if piece_heights.shape[-2:] != piece_widths.shape[-2:]:
            raise ValueError(
                "piece_heights must have the same (K-1, L) trailing shape as piece_widths, got "
                f"{tuple(piece_heights.shape)} and {tuple(piece_widths.shape)}"
            )
        batch_shape = torch.broadcast_shapes(
            knot_values.shape[:-1],
            piece_widths.shape[:-2],
            piece_heights.shape[:-2],
            beta_left.shape,
            beta_right.shape,
        )
        self._set_params(
            batch_shape,
            knot_levels,
            knot_values,
            piece_widths,
            piece_heights,
            beta_left,
            beta_right,
        )
        super().__init__(batch_shape, validate_args=validate_args)

    def _set_params(self, batch_shape, levels, values, widths, heights, beta_l, beta_r) -> None:
        """Store the parameters, expanded (as views) to ``batch_shape``."""
        trailing = widths.shape[-2:]
        self.knot_levels = levels
        self.knot_values = values.expand((*batch_shape, levels.shape[0]))
        self.piece_widths = widths.expand(batch_shape + trailing)
        self.piece_heights = heights.expand(batch_shape + trailing)
        self.beta_left = beta_l.expand(batch_shape)
        self.beta_right = beta_r.expand(batch_shape)

    @property
    def num_pieces(self) -> int:
        return self.piece_widths.shape[-1]

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(ISQF, _instance)
        batch_shape = torch.Size(batch_shape)
        new._set_params(
            batch_shape,
            self.knot_levels,
            self.knot_values,
            self.piece_widths,
            self.piece_heights,
            self.beta_left,
            self.beta_right,
        )
        super(ISQF, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _param_rows(self) -> tuple[Tensor, ...]:
        k, trailing = self.knot_levels.shape[0], self.piece_widths.shape[-2:]
        return (
            self.knot_values.reshape(-1, k),
            self.piece_widths.reshape((-1, *trailing)),
            self.piece_heights.reshape((-1, *trailing)),
            self.beta_left.reshape(-1),
            self.beta_right.reshape(-1),
        )

    def _make_spline(self) -> pw.Spline:
        return pw.isqf_spline(self.knot_levels, *self._param_rows())

    def crps(self, value: Tensor | float) -> Tensor:
        """CRPS ∫ 2ρ_α(y − q(α)) dα in closed form (MATH.md A.4), exact for every ``y``.

        Evaluated straight from the parameters in chunks of rows (:func:`._piecewise.isqf_crps`,
        faster than the generic spline formula; ``benchmarks/distributions.py`` compares them),
        equal to the generic formula in value and gradient (tested).
        """
        dist, z, restore = self._rows(self._checked_values(value))
        rows = dist._param_rows()
        width = max(rows[1][0].numel(), z.shape[1])
        return restore(pw.chunked(pw.isqf_crps, (self.knot_levels,), (*rows, z), width))


class IQF(ISQF):
    """Incremental quantile function: ISQF with one linear piece per knot interval.

    ``IQF(knot_levels, knot_values, beta_left, beta_right)``; see :class:`ISQF`.
    """

    def __init__(
        self,
        knot_levels: Tensor,
        knot_values: Tensor,
        beta_left: Tensor | float,
        beta_right: Tensor | float,
        validate_args: bool | None = None,
    ) -> None:
        knot_values = torch.as_tensor(knot_values)
        dtype = knot_values.dtype if knot_values.is_floating_point() else torch.get_default_dtype()
        k = torch.as_tensor(knot_levels).shape[-1]
        ones = torch.ones(k - 1, 1, dtype=dtype, device=knot_values.device)
        super().__init__(
            knot_levels, knot_values, ones, ones, beta_left, beta_right, validate_args=validate_args
        )

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(IQF, _instance)
        return super().expand(batch_shape, _instance=new)


class ISQFParams(NamedTuple):
    """Domain parameters of an ISQF, in the constructor's order (after ``knot_levels``)."""

    knot_values: Tensor
    piece_widths: Tensor
    piece_heights: Tensor
    beta_left: Tensor
    beta_right: Tensor


def isqf_domain_map(
    raw: Tensor, num_knots: int, num_pieces: int, tol: float = 1e-4, positive: str = "softplus"
) -> ISQFParams:
    """Map unconstrained network outputs ``raw`` (..., 2(K-1)L + K + 2) to ISQF parameters.

    Layout of the last axis: ``(K-1)L`` width logits, ``(K-1)L`` height logits, ``β_l``,
    ``β_r``, then ``K`` knot logits. The first knot value is free; every later knot is the
    previous one plus a strictly positive increment ``pos(u) + tol``; the tail rates are
    ``pos(b) + tol``. Piece shares are ``(softmax + tol) / (1 + L·tol)``, which keeps every
    piece strictly positive (no 1/Δx overflow in the CRPS) while each row still sums to 1.

    ``positive="softplus"`` (default) is smooth and never has a zero gradient;
    ``positive="abs"`` reproduces GluonTS's ``ISQFOutput.domain_map`` exactly.
    """
    n = (num_knots - 1) * num_pieces
    expected = 2 * n + num_knots + 2
    if raw.shape[-1] != expected:
        raise ValueError(
            f"raw must have {expected} = 2(K-1)L + K + 2 outputs for K={num_knots}, "
            f"L={num_pieces}, got {raw.shape[-1]}"
        )
    # One split (not six slices): its backward writes the gradient once instead of
    # zero-filling a full-width tensor per slice, which dominated the cost on big batches.
    logits, rest = torch.split(raw, [2 * n, num_knots + 2], dim=-1)
    shares = spline_shares(logits.reshape(*raw.shape[:-1], 2, num_knots - 1, num_pieces), tol)
    widths, heights = shares.unbind(-3)
    values, beta_l, beta_r = iqf_domain_map(rest, num_knots, tol, positive)
    return ISQFParams(values, widths, heights, beta_l, beta_r)


def iqf_domain_map(
    raw: Tensor, num_knots: int, tol: float = 1e-4, positive: str = "softplus"
) -> tuple[Tensor, Tensor, Tensor]:
    """Map raw outputs (..., K + 2) — ``β_l``, ``β_r``, then ``K`` knot logits — to the IQF
    parameters ``(knot_values, beta_left, beta_right)``: the knot and tail part of
    :func:`isqf_domain_map` (the first knot free, later ones increments ``pos(u) + tol``)."""
    if raw.shape[-1] != num_knots + 2:
        raise ValueError(f"raw must have K + 2 = {num_knots + 2} outputs, got {raw.shape[-1]}")
    pos = {"softplus": F.softplus, "abs": torch.abs}.get(positive)
    if pos is None:
        raise ValueError(f"positive must be 'softplus' or 'abs', got {positive!r}")
    betas, first, knots = torch.split(raw, [2, 1, num_knots - 1], dim=-1)
    beta_l, beta_r = (pos(betas.contiguous()) + tol).unbind(-1)
    increments = pos(knots.contiguous()) + tol
    values = torch.cat([first, first + increments.cumsum(-1)], dim=-1)
    return values, beta_l, beta_r


def spline_shares(logits: Tensor, tol: float = 1e-4) -> Tensor:
    """``(softmax(logits) + tol) / (1 + L·tol)`` along the last axis: positive, sums to 1.

    The softmax is written out (``exp(x − max)`` over its sum): on the short last axes used
    here it is faster on CPU than ``torch.softmax``, with the same gradient.
    """
    e = (logits - logits.detach().amax(dim=-1, keepdim=True)).exp()
    shrink = 1.0 / (1 + logits.shape[-1] * tol)
    return e * (shrink / e.sum(dim=-1, keepdim=True)) + tol * shrink
