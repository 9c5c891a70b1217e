"""Multivariate scores of a sample ensemble: the energy score and the variogram score.

Both take ``samples`` of shape ``(..., m, d)`` (m draws of a d-vector) and an observation
``y`` of shape ``(..., d)``, broadcast their leading dimensions, and return shape ``(...)``.
They agree with ``scoringrules.es_ensemble`` / ``scoringrules.vs_ensemble`` (same ``estimator``
names), and each has a slow, obvious reference beside it.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "energy_score",
    "energy_score_pairwise_reference",
    "variogram_score",
    "variogram_score_reference",
]

_ESTIMATORS = ("fair", "nrg")


def _check(samples: Tensor, y: Tensor, estimator: str) -> None:
    if estimator not in _ESTIMATORS:
        raise ValueError(f"estimator must be one of {_ESTIMATORS}, got {estimator!r}")
    if samples.dim() < 2 or y.dim() < 1 or samples.shape[-1] != y.shape[-1]:
        raise ValueError(
            f"samples must have shape (..., m, d) and y (..., d); got {tuple(samples.shape)} "
            f"and {tuple(y.shape)}"
        )
    if estimator == "fair" and samples.shape[-2] < 2:
        raise ValueError("the fair estimator needs at least 2 samples")
    try:
        torch.broadcast_shapes(samples.shape[:-2], y.shape[:-1])
    except RuntimeError as err:
        raise ValueError(
            f"samples {tuple(samples.shape)} and y {tuple(y.shape)} do not broadcast"
        ) from err


def _check_beta(beta: float) -> None:
    if not 1.0 <= beta < 2.0:
        raise ValueError(f"beta must lie in [1, 2) (strictly proper, stable gradients); got {beta}")


def energy_score(samples: Tensor, y: Tensor, beta: float = 1.0, estimator: str = "fair") -> Tensor:
    """Energy score ES(F, y) = E‖X − y‖^β − ½ E‖X − X′‖^β of an ensemble (Gneiting & Raftery
    2007, eq. 22), lower is better.

    With m draws x_1..x_m from F:

    * ``estimator="fair"`` (default): (1/m) ∑_j ‖x_j − y‖^β − 1/(2m(m−1)) ∑_{j≠l} ‖x_j − x_l‖^β,
      the pairwise term over distinct pairs, so the estimate is unbiased for ES(F, y) when the
      draws are i.i.d. (a U-statistic; ``scoringrules.es_ensemble(..., estimator="fair")``);
    * ``estimator="nrg"``: the same with 1/(2m²) ∑_{j,l} — the score of the empirical
      distribution of the ensemble, biased upwards by ½ E‖X − X′‖^β / m
      (scoringrules' default ``"nrg"``).

    The score is proper for 0 < β ≤ 2 and strictly proper for 0 < β < 2; here 1 ≤ β < 2 is
    enforced, because for β < 1 the gradient of ‖·‖^β is unbounded near coinciding points.
    scoringrules only implements β = 1. Distances are exact differences (no ``‖a‖² + ‖b‖² −
    2ab`` shortcut), the pairwise term costs O(m² d) per element and O(m²) memory.

    >>> x = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    >>> float(energy_score(x, torch.tensor([0.0, 0.0])))  # (0 + 5)/2 − ½·(5 + 5)/2
    0.0
    """
    _check(samples, y, estimator)
    _check_beta(beta)
    to_obs = torch.linalg.vector_norm(samples - y.unsqueeze(-2), dim=-1)
    pair = torch.cdist(samples, samples, compute_mode="donot_use_mm_for_euclid_dist")
    if beta != 1.0:
        to_obs, pair = to_obs.pow(beta), pair.pow(beta)
    m = samples.shape[-2]
    pairs = m * (m - 1) if estimator == "fair" else m * m  # the diagonal of ``pair`` is 0
    return to_obs.mean(-1) - 0.5 * pair.sum((-2, -1)) / pairs


def energy_score_pairwise_reference(
    samples: Tensor, y: Tensor, beta: float = 1.0, estimator: str = "fair"
) -> Tensor:
    """The energy score by explicit loops over members and pairs: slow, for tests."""
    _check(samples, y, estimator)
    _check_beta(beta)
    m = samples.shape[-2]
    first = sum(torch.linalg.vector_norm(samples[..., j, :] - y, dim=-1) ** beta for j in range(m))
    spread = sum(
        torch.linalg.vector_norm(samples[..., j, :] - samples[..., k, :], dim=-1) ** beta
        for j in range(m)
        for k in range(m)
        if j != k
    )
    pairs = m * (m - 1) if estimator == "fair" else m * m
    return first / m - 0.5 * spread / pairs


def _check_p(p: float) -> None:
    if not p > 0:
        raise ValueError(f"the variogram order p must be positive, got {p}")


def _abs_pow(v: Tensor, p: float) -> Tensor:
    """|v_i − v_j|^p over the last dimension, (..., d) → (..., d, d). Ties (the diagonal,
    equal coordinates) are held at exactly 0 with a zero gradient, so p < 1 never gives an
    infinite gradient."""
    diff = (v.unsqueeze(-1) - v.unsqueeze(-2)).abs()
    tie = diff == 0
    return torch.where(tie, 0.0, torch.where(tie, 1.0, diff).pow(p))


def variogram_score(
    samples: Tensor,
    y: Tensor,
    p: float = 0.5,
    weights: Tensor | None = None,
    estimator: str = "nrg",
) -> Tensor:
    """Variogram score of order p (Scheuerer & Hamill 2015, Mon. Wea. Rev. 143, 1321):
    VS_p = ∑_{i,j} w_ij (|y_i − y_j|^p − E|X_i − X_j|^p)², lower is better.

    ``weights`` ``(..., d, d)`` default to ones. ``estimator="nrg"`` (default, the paper's
    ensemble form and scoringrules' default) replaces E by the ensemble mean;
    ``estimator="fair"`` is scoringrules' kernel form
    (1/m) ∑_k ∑ w (a_k − b)² − 1/(2m(m−1)) ∑_{k≠l} ∑ w (a_k − a_l)² with a_k = |x_k,i − x_k,j|^p,
    b = |y_i − y_j|^p, unbiased for the score of the forecast law. The score depends only on
    the pairwise dependence and the differences, so it is insensitive to a common shift.

    >>> x = torch.tensor([[0.0, 1.0], [0.0, 3.0]])  # |x₁ − x₂|^1 = 1 and 3: mean 2
    >>> float(variogram_score(x, torch.tensor([0.0, 2.0]), p=1.0))  # both (i, j) orders: 0
    0.0
    """
    _check(samples, y, estimator)
    _check_p(p)
    a = _abs_pow(samples, p)  # (..., m, d, d)
    b = _abs_pow(y, p)  # (..., d, d)
    w = torch.ones_like(b) if weights is None else weights
    if estimator == "nrg":
        return (w * (b - a.mean(-3)).square()).sum((-2, -1))
    m = samples.shape[-2]
    first = (w.unsqueeze(-3) * (a - b.unsqueeze(-3)).square()).sum((-3, -2, -1)) / m
    # ∑_{k≠l} (a_k − a_l)² = 2m ∑_k a_k² − 2 (∑_k a_k)², elementwise in (i, j)
    spread = 2 * m * a.square().sum(-3) - 2 * a.sum(-3).square()
    return first - 0.5 * (w * spread).sum((-2, -1)) / (m * (m - 1))


def variogram_score_reference(
    samples: Tensor,
    y: Tensor,
    p: float = 0.5,
    weights: Tensor | None = None,
    estimator: str = "nrg",
) -> Tensor:
    """The variogram score by explicit loops over members, pairs and coordinates: for tests."""
    _check(samples, y, estimator)
    _check_p(p)
    m, d = samples.shape[-2], samples.shape[-1]
    total = samples.new_zeros(())
    for i in range(d):
        for j in range(d):
            w = 1.0 if weights is None else weights[..., i, j]
            b = (y[..., i] - y[..., j]).abs() ** p
            a = [(samples[..., k, i] - samples[..., k, j]).abs() ** p for k in range(m)]
            if estimator == "nrg":
                total = total + w * (b - sum(a) / m) ** 2
                continue
            first = sum((ak - b) ** 2 for ak in a) / m
            spread = sum((a[k] - a[n]) ** 2 for k in range(m) for n in range(m) if k != n)
            total = total + w * (first - 0.5 * spread / (m * (m - 1)))
    return total
