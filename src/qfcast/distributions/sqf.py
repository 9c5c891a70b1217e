"""SQF: the spline quantile function of Gasthaus et al. (AISTATS 2019), without tails.

``q(α) = γ + Σ_l m_l · clip(α − d_l, 0, w_l)`` on [0, 1]: a linear spline with ``L`` pieces of
widths ``w_l`` (summing to one) and non-negative slopes ``m_l``. It is the ``x_0 = 0``,
``x_N = 1`` case of the piecewise-linear closed forms (MATH.md A.8), so its support is the
bounded interval ``[q(0), q(1)]``: ``cdf`` is 0 below and 1 above, ``log_prob`` is ``-inf``
outside, and the CRPS is exact everywhere.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.distributions import constraints

from . import _piecewise as pw
from .base import PiecewiseQuantileDistribution, positive_simplex
from .isqf import spline_shares


class SQF(PiecewiseQuantileDistribution):
    """Spline quantile function with ``L`` linear pieces on [0, 1] and no tails.

    Args:
        gamma: (*batch,) the value at level 0 (the lower end of the support).
        slopes: (*batch, L) positive slope of each piece.
        piece_widths: (*batch, L) positive level widths of the pieces, rows summing to 1.

    Example:
        >>> import torch
        >>> d = SQF(torch.tensor(0.0), torch.tensor([1.0, 3.0]), torch.tensor([0.5, 0.5]))
        >>> d.icdf(torch.tensor([0.25, 0.75])).tolist(), d.mean.item()
        ([0.25, 1.25], 0.75)
    """

    arg_constraints = {
        "gamma": constraints.real,
        "slopes": constraints.independent(constraints.positive, 1),
        "piece_widths": positive_simplex,
    }

    def __init__(
        self,
        gamma: Tensor | float,
        slopes: Tensor,
        piece_widths: Tensor,
        validate_args: bool | None = None,
    ) -> None:
        slopes = torch.as_tensor(slopes)
        if not slopes.is_floating_point():
            slopes = slopes.to(torch.get_default_dtype())
        gamma = torch.as_tensor(gamma, dtype=slopes.dtype, device=slopes.device)
        piece_widths = torch.as_tensor(piece_widths, dtype=slopes.dtype, device=slopes.device)
        if slopes.dim() < 1 or piece_widths.dim() < 1 or slopes.shape[-1] != piece_widths.shape[-1]:
            raise ValueError(
                "slopes and piece_widths must both have shape (*batch, L), got "
                f"{tuple(slopes.shape)} and {tuple(piece_widths.shape)}"
            )
        batch_shape = torch.broadcast_shapes(
            gamma.shape, slopes.shape[:-1], piece_widths.shape[:-1]
        )
        self._set_params(batch_shape, gamma, slopes, piece_widths)
        super().__init__(batch_shape, validate_args=validate_args)

    def _set_params(self, batch_shape, gamma, slopes, widths) -> None:
        """Store the parameters, expanded (as views) to ``batch_shape``."""
        num = slopes.shape[-1]
        self.gamma = gamma.expand(batch_shape)
        self.slopes = slopes.expand((*batch_shape, num))
        self.piece_widths = widths.expand((*batch_shape, num))

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        return constraints.interval(self.gamma, self.icdf(torch.ones_like(self.gamma)))

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(SQF, _instance)
        batch_shape = torch.Size(batch_shape)
        new._set_params(batch_shape, self.gamma, self.slopes, self.piece_widths)
        super(SQF, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _make_spline(self) -> pw.Spline:
        num = self.slopes.shape[-1]
        w = self.piece_widths.reshape(-1, num)
        h = self.slopes.reshape(-1, num) * w
        gamma = self.gamma.reshape(-1, 1)
        zero = torch.zeros_like(gamma)
        x = torch.cat([zero, (w.cumsum(-1) - w)[:, 1:], zero + 1], dim=-1)
        y = torch.cat([gamma, gamma + h.cumsum(-1)], dim=-1)
        return pw.Spline(x, y, w, h, None, None)


class SQFParams(NamedTuple):
    gamma: Tensor
    slopes: Tensor
    piece_widths: Tensor


def sqf_domain_map(raw: Tensor, num_pieces: int, tol: float = 1e-4) -> SQFParams:
    """Map unconstrained outputs (..., 2L + 1) to SQF parameters.

    Layout: ``γ``, ``L`` slope logits (``softplus + tol``), ``L`` width logits
    (``(softmax + tol)/(1 + L·tol)``) — Gasthaus et al.'s parametrisation with a positivity floor.
    """
    if raw.shape[-1] != 2 * num_pieces + 1:
        raise ValueError(
            f"raw must have 2L + 1 = {2 * num_pieces + 1} outputs, got {raw.shape[-1]}"
        )
    slopes = F.softplus(raw[..., 1 : 1 + num_pieces]) + tol
    return SQFParams(raw[..., 0], slopes, spline_shares(raw[..., 1 + num_pieces :], tol))
