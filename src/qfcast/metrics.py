"""Forecast accuracy metrics as plain functions on arrays (see issue 6 for the full set).

All functions take numpy arrays; ``actuals`` has shape ``(..., )`` and ``quantiles`` shape
``(K, ...)`` for K levels. NaN actuals are ignored.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DEFAULT_LEVELS", "crossing_rate", "mean_weighted_quantile_loss"]

DEFAULT_LEVELS = tuple(np.round(np.arange(0.1, 1.0, 0.1), 10))


def mean_weighted_quantile_loss(
    actuals: np.ndarray, quantiles: np.ndarray, levels: np.ndarray | tuple[float, ...]
) -> float:
    """GluonTS's ``mean_wQuantileLoss``: for each level τ, ``2 Σ ρ_τ(y − q_τ) / Σ |y|`` over
    every observed (series, step), then the mean over levels.

    >>> y = np.array([1.0, 2.0, 3.0])
    >>> float(mean_weighted_quantile_loss(y, np.stack([y, y]), [0.1, 0.9]))
    0.0
    """
    actuals = np.asarray(actuals, dtype=np.float64)
    quantiles = np.asarray(quantiles, dtype=np.float64)
    levels = np.asarray(levels, dtype=np.float64).reshape((-1,) + (1,) * actuals.ndim)
    seen = ~np.isnan(actuals)
    y = np.where(seen, actuals, 0.0)
    error = y[None] - quantiles
    pinball = np.where(seen[None], np.maximum(levels * error, (levels - 1) * error), 0.0)
    per_level = 2 * pinball.reshape(len(levels), -1).sum(1) / np.abs(y).sum()
    return float(per_level.mean())


def crossing_rate(quantiles: np.ndarray) -> float:
    """Share of forecasts (columns of ``quantiles``, levels sorted on axis 0) whose quantiles
    decrease somewhere between consecutive levels.

    >>> crossing_rate(np.array([[1.0, 2.0], [0.5, 3.0]]))
    0.5
    """
    quantiles = np.asarray(quantiles, dtype=np.float64)
    crossed = (np.diff(quantiles, axis=0) < 0).any(axis=0)
    return float(crossed.mean())
