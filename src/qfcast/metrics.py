"""Forecast accuracy metrics as plain functions on numpy arrays.

Shapes: ``actuals`` ``(...)``, point forecasts and interval bounds the same shape,
``quantiles`` ``(K, ...)`` for K levels and ``samples`` ``(S, ...)`` for S draws. Where a score
works per series (MSIS, MASE, the joint scores) the layout is ``(n_series, horizon)``.
NaN actuals are ignored everywhere: a NaN entry contributes to neither numerator nor
denominator. Every score shares the argument names ``actuals``, ``quantiles``, ``samples``,
``forecast``, ``lower``, ``upper``, ``insample`` and ``season``.

:func:`evaluate` computes the usual table of scores for a :class:`qfcast.forecast.Forecast`
through its query surface only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from .data.errors import DataError
from .distributions.energy import energy_score, variogram_score

if TYPE_CHECKING:
    from .forecast import Forecast

__all__ = [
    "CALIBRATION_LEVELS",
    "DEFAULT_LEVELS",
    "calibration_error",
    "coverage",
    "crossing_rate",
    "crps_from_samples",
    "crps_sum",
    "energy_score_mean",
    "evaluate",
    "interval_width",
    "mase",
    "mean_weighted_quantile_loss",
    "msis",
    "nd",
    "nrmse",
    "pit_histogram",
    "smape",
    "variogram_score_mean",
    "weighted_quantile_loss",
]

DEFAULT_LEVELS = tuple(np.round(np.arange(0.1, 1.0, 0.1), 10))
CALIBRATION_LEVELS = tuple(np.round(np.arange(0.05, 0.951, 0.05), 10))

Insample = Sequence[np.ndarray] | np.ndarray


# ---------------------------------------------------------------------------- helpers
def _float(x: object) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _same_shape(name: str, array: np.ndarray, shape: tuple[int, ...]) -> None:
    if array.shape != shape:
        raise ValueError(f"{name} must have the shape of actuals {shape}, got {array.shape}")


def _series_2d(actuals: np.ndarray) -> np.ndarray:
    if actuals.ndim == 1:
        return actuals[None]
    if actuals.ndim != 2:
        raise ValueError(f"actuals must have shape (n_series, horizon) or (horizon,), got "
                         f"{actuals.shape}")  # fmt: skip
    return actuals


def _seasonal_scale(insample: Insample, season: int, n_series: int, one_series: bool) -> np.ndarray:
    """Mean |y_t − y_{t−season}| over each history (NaN differences skipped), shape (n,)."""
    if season < 1:
        raise ValueError(f"season must be a positive integer, got {season!r}")
    histories = [_float(insample)] if one_series else [_float(h) for h in insample]
    if len(histories) != n_series:
        raise ValueError(f"insample must hold one history per series ({n_series}), got "
                         f"{len(histories)}")  # fmt: skip
    scale = np.empty(n_series)
    for i, history in enumerate(histories):
        if history.ndim != 1:
            raise ValueError(f"each insample history must be 1-D, got shape {history.shape}")
        diff = np.abs(history[season:] - history[:-season])
        diff = diff[~np.isnan(diff)]
        if diff.size == 0:
            raise ValueError(f"series {i}: its history has no pair of observations "
                             f"{season} steps apart")  # fmt: skip
        scale[i] = diff.mean()
    return scale


def _per_series_mean(values: np.ndarray, seen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over observed steps of each series, and which series have any observation."""
    count = seen.sum(-1)
    total = np.where(seen, values, 0.0).sum(-1)
    has = count > 0
    return total[has] / count[has], has


# ---------------------------------------------------------------------------- quantile scores
def weighted_quantile_loss(
    actuals: np.ndarray, quantiles: np.ndarray, levels: np.ndarray | Sequence[float]
) -> np.ndarray:
    """GluonTS's ``wQuantileLoss[τ]`` per level: ``2 Σ ρ_τ(y − q_τ) / Σ |y|`` over every
    observed entry, with the pinball loss ρ_τ(e) = max(τ e, (τ − 1) e).

    Parameters
    ----------
    actuals : array (...)
    quantiles : array (K, ...)
        The forecast quantiles at the K ``levels``.
    levels : sequence of K floats in (0, 1)

    Returns
    -------
    array (K,)

    >>> y = np.array([1.0, 3.0])
    >>> weighted_quantile_loss(y, np.array([[2.0, 2.0], [2.0, 2.0]]), [0.1, 0.5])
    array([0.5, 0.5])
    """
    actuals, quantiles = _float(actuals), _float(quantiles)
    levels = _float(levels).reshape(-1)
    target = (len(levels), *actuals.shape)
    try:
        broadcast = np.broadcast_shapes(quantiles.shape, target) == target
    except ValueError:
        broadcast = False
    if not broadcast:
        raise ValueError(f"quantiles must broadcast to (K={len(levels)}, *{actuals.shape}), got "
                         f"{quantiles.shape}")  # fmt: skip
    tau = levels.reshape((-1,) + (1,) * actuals.ndim)
    seen = ~np.isnan(actuals)
    y = np.where(seen, actuals, 0.0)
    error = y[None] - quantiles
    pinball = np.where(seen[None], np.maximum(tau * error, (tau - 1) * error), 0.0)
    return 2 * pinball.reshape(len(levels), -1).sum(1) / np.abs(y).sum()


def mean_weighted_quantile_loss(
    actuals: np.ndarray, quantiles: np.ndarray, levels: np.ndarray | Sequence[float]
) -> float:
    """GluonTS's ``mean_wQuantileLoss``: :func:`weighted_quantile_loss` averaged over levels.

    >>> y = np.array([1.0, 2.0, 3.0])
    >>> float(mean_weighted_quantile_loss(y, np.stack([y, y]), [0.1, 0.9]))
    0.0
    """
    return float(weighted_quantile_loss(actuals, quantiles, levels).mean())


def crossing_rate(quantiles: np.ndarray) -> float:
    """Share of forecasts (columns of ``quantiles``, levels sorted on axis 0) whose quantiles
    decrease somewhere between consecutive levels.

    >>> crossing_rate(np.array([[1.0, 2.0], [0.5, 3.0]]))
    0.5
    """
    quantiles = np.asarray(quantiles, dtype=np.float64)
    crossed = (np.diff(quantiles, axis=0) < 0).any(axis=0)
    return float(crossed.mean())


# ---------------------------------------------------------------------------- intervals
def coverage(actuals: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Share of observed actuals inside the closed interval ``[lower, upper]``.

    >>> coverage(np.array([0.0, 1.0, 5.0, np.nan]), np.zeros(4), np.full(4, 2.0))
    0.6666666666666666
    """
    actuals, lower, upper = _float(actuals), _float(lower), _float(upper)
    _same_shape("lower", lower, actuals.shape)
    _same_shape("upper", upper, actuals.shape)
    seen = ~np.isnan(actuals)
    inside = (lower <= actuals) & (actuals <= upper)
    return float(inside[seen].mean())


def interval_width(lower: np.ndarray, upper: np.ndarray) -> float:
    """Mean width ``upper − lower`` of the intervals (no actuals involved).

    >>> interval_width(np.array([0.0, 1.0]), np.array([2.0, 5.0]))
    3.0
    """
    lower, upper = _float(lower), _float(upper)
    _same_shape("upper", upper, lower.shape)
    return float((upper - lower).mean())


def msis(
    actuals: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    insample: Insample,
    season: int,
    alpha: float = 0.05,
) -> float:
    """M4's mean scaled interval score of the central ``1 − alpha`` interval.

    Per series, the mean over observed steps of
    ``(U − L) + (2/α)(L − y)·1{y < L} + (2/α)(y − U)·1{y > U}``, divided by the mean
    ``|y_t − y_{t−season}|`` over that series' in-sample history; then the mean over series
    (series without an observed actual are left out). A constant history has scale 0 and an
    infinite (or NaN) score.

    Parameters
    ----------
    actuals, lower, upper : array (n_series, horizon), or (horizon,) for one series
    insample : sequence of n_series 1-D histories (lengths may differ; NaN allowed), or an
        array (n_series, T); a single 1-D history when ``actuals`` is 1-D
    season : int
        The seasonal period of the naive forecast that sets the scale (1: the naive forecast).
    alpha : float
        ``lower``/``upper`` are the α/2 and 1 − α/2 quantiles.

    >>> msis(np.array([1.0, 4.0]), np.zeros(2), np.full(2, 2.0), np.array([0.0, 1.0, 2.0]), 1,
    ...      alpha=0.5)  # widths 2, 2; the second misses by 2: (2 + 2 + 2/0.5·2) / 2 / 1
    6.0
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie strictly between 0 and 1, got {alpha!r}")
    actuals, lower, upper = _float(actuals), _float(lower), _float(upper)
    _same_shape("lower", lower, actuals.shape)
    _same_shape("upper", upper, actuals.shape)
    one = actuals.ndim == 1
    y, lo, hi = _series_2d(actuals), _series_2d(lower), _series_2d(upper)
    scale = _seasonal_scale(insample, season, len(y), one)
    seen = ~np.isnan(y)
    score = (hi - lo) + (2 / alpha) * (np.maximum(lo - y, 0) + np.maximum(y - hi, 0))
    per_series, has = _per_series_mean(score, seen)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float((per_series / scale[has]).mean())


# ---------------------------------------------------------------------------- sample scores
def _crps_nrg(y: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """Elementwise CRPS of the empirical distribution of ``samples`` (S, ...) at ``y`` (...)."""
    s = len(samples)
    first = np.abs(samples - y[None]).mean(0)
    ordered = np.sort(samples, axis=0)
    weight = (2 * np.arange(1, s + 1) - s - 1).reshape((-1,) + (1,) * y.ndim)
    spread = 2 * (weight * ordered).sum(0) / s**2  # E|X − X'| over all S² ordered pairs
    return first - 0.5 * spread


def _check_samples(actuals: np.ndarray, samples: np.ndarray) -> None:
    if samples.ndim != actuals.ndim + 1 or samples.shape[1:] != actuals.shape:
        raise ValueError(f"samples must have shape (S, *{actuals.shape}), got {samples.shape}")
    if len(samples) < 1:
        raise ValueError("samples must hold at least one draw")


def crps_from_samples(actuals: np.ndarray, samples: np.ndarray) -> float:
    """Mean CRPS of an ensemble over the observed entries, with the standard ("NRG")
    estimator ``E|X − y| − ½ E|X − X′|`` over the empirical distribution of the S draws —
    ``scoringrules.crps_ensemble(..., estimator="nrg")``. Costs O(S log S) per entry.

    Parameters
    ----------
    actuals : array (...)
    samples : array (S, ...)

    >>> crps_from_samples(np.array([0.0]), np.array([[-1.0], [1.0]]))  # 1 − ½·(0+2+2+0)/4
    0.5
    """
    actuals, samples = _float(actuals), _float(samples)
    _check_samples(actuals, samples)
    seen = ~np.isnan(actuals)
    return float(_crps_nrg(np.where(seen, actuals, 0.0), samples)[seen].mean())


def crps_sum(actuals: np.ndarray, samples: np.ndarray) -> float:
    """CRPS-sum (Salinas et al. 2019, GP-Copula; Rasul et al. 2021, TimeGrad): the CRPS of
    the forecast of the total over series ``Σ_i y_{i,t}`` at each step, summed over steps and
    divided by ``Σ_t |Σ_i y_{i,t}|`` — for non-negative data that is ``Σ |y|``.

    The CRPS is the exact NRG ensemble score of the summed sample paths (the sum keeps the
    dependence across series); GluonTS's ``MultivariateEvaluator`` approximates the same
    number by the mean weighted quantile loss at levels 0.05…0.95. A step where any series'
    actual is NaN is left out (its total is unknown).

    Parameters
    ----------
    actuals : array (n_series, horizon)
    samples : array (S, n_series, horizon)

    >>> y = np.array([[1.0], [1.0]])
    >>> crps_sum(y, np.stack([y, y]))
    0.0
    """
    actuals, samples = _float(actuals), _float(samples)
    if actuals.ndim != 2:
        raise ValueError(f"actuals must have shape (n_series, horizon), got {actuals.shape}")
    _check_samples(actuals, samples)
    seen = ~np.isnan(actuals).any(0)
    total = actuals[:, seen].sum(0)
    return float(_crps_nrg(total, samples[:, :, seen].sum(1)).sum() / np.abs(total).sum())


def _grouped_by_pattern(
    actuals: np.ndarray, samples: np.ndarray, score: object, **kwargs: object
) -> float:
    """Mean over series of a joint score of each series' observed steps: series sharing a
    NaN pattern are scored in one batched call (the score of the marginal on those steps)."""
    if actuals.ndim != 2:
        raise ValueError(f"actuals must have shape (n_series, horizon), got {actuals.shape}")
    _check_samples(actuals, samples)
    seen = ~np.isnan(actuals)
    patterns, group = np.unique(seen, axis=0, return_inverse=True)
    group = group.reshape(-1)
    values = []
    for g, steps in enumerate(patterns):
        if not steps.any():
            continue
        rows = group == g
        x = torch.from_numpy(np.ascontiguousarray(samples[:, rows][:, :, steps].transpose(1, 0, 2)))
        y = torch.from_numpy(np.ascontiguousarray(actuals[rows][:, steps]))
        with torch.no_grad():
            values.append(score(x, y, **kwargs).numpy())
    return float(np.concatenate(values).mean())


def energy_score_mean(
    actuals: np.ndarray, samples: np.ndarray, beta: float = 1.0, estimator: str = "fair"
) -> float:
    """Mean over series of the energy score of each series' sample paths over the horizon,
    :func:`qfcast.distributions.energy.energy_score` (same ``beta``/``estimator``). NaN steps of
    a series are dropped (the score of the marginal on its observed steps).

    Parameters
    ----------
    actuals : array (n_series, horizon)
    samples : array (S, n_series, horizon)

    >>> y = np.zeros((1, 2))
    >>> energy_score_mean(y, np.array([[[0.0, 0.0]], [[3.0, 4.0]]]))  # (0+5)/2 − ½·10/2
    0.0
    """
    return _grouped_by_pattern(
        _float(actuals), _float(samples), energy_score, beta=beta, estimator=estimator
    )


def variogram_score_mean(
    actuals: np.ndarray, samples: np.ndarray, p: float = 0.5, estimator: str = "nrg"
) -> float:
    """Mean over series of the variogram score of order ``p`` of each series' sample paths,
    :func:`qfcast.distributions.energy.variogram_score` (unit weights). NaN steps of a series
    are dropped.

    Parameters
    ----------
    actuals : array (n_series, horizon)
    samples : array (S, n_series, horizon)

    >>> x = np.array([[[0.0, 1.0]], [[0.0, 3.0]]])
    >>> variogram_score_mean(np.array([[0.0, 2.0]]), x, p=1.0)
    0.0
    """
    return _grouped_by_pattern(
        _float(actuals), _float(samples), variogram_score, p=p, estimator=estimator
    )


# ---------------------------------------------------------------------------- calibration
def pit_histogram(pit: np.ndarray, bins: int = 10) -> np.ndarray:
    """Relative frequencies of the PIT values (``F(y)``) in ``bins`` equal bins of [0, 1]
    (NaN ignored); flat at ``1/bins`` for a calibrated forecast.

    >>> pit_histogram(np.array([0.05, 0.15, 0.95, 1.0]), bins=2)
    array([0.5, 0.5])
    """
    pit = _float(pit).reshape(-1)
    pit = pit[~np.isnan(pit)]
    counts, _ = np.histogram(pit, bins=bins, range=(0.0, 1.0))
    return counts / len(pit)


def calibration_error(pit: np.ndarray, levels: Sequence[float] | None = None) -> float:
    """Mean over ``levels`` (default 0.05, 0.10, …, 0.95) of ``|P̂(PIT ≤ τ) − τ|``: how far
    the empirical coverage of each lower quantile is from its nominal level (NaN ignored).

    >>> calibration_error(np.array([0.25, 0.75]), levels=[0.5])
    0.0
    """
    pit = _float(pit).reshape(-1)
    pit = pit[~np.isnan(pit)]
    tau = _float(CALIBRATION_LEVELS if levels is None else levels).reshape(-1)
    covered = (pit[None] <= tau[:, None]).mean(1)
    return float(np.abs(covered - tau).mean())


# ---------------------------------------------------------------------------- point scores
def nd(actuals: np.ndarray, forecast: np.ndarray) -> float:
    """Normalised deviation ``Σ |y − ŷ| / Σ |y|`` over observed entries.

    >>> nd(np.array([1.0, 3.0]), np.array([2.0, 2.0]))
    0.5
    """
    actuals, forecast = _float(actuals), _float(forecast)
    _same_shape("forecast", forecast, actuals.shape)
    seen = ~np.isnan(actuals)
    return float(np.abs(actuals - forecast)[seen].sum() / np.abs(actuals[seen]).sum())


def nrmse(actuals: np.ndarray, forecast: np.ndarray) -> float:
    """Normalised RMSE ``sqrt(mean (y − ŷ)²) / mean |y|`` over observed entries.

    >>> nrmse(np.array([1.0, 3.0]), np.array([2.0, 2.0]))
    0.5
    """
    actuals, forecast = _float(actuals), _float(forecast)
    _same_shape("forecast", forecast, actuals.shape)
    seen = ~np.isnan(actuals)
    rmse = np.sqrt(np.square(actuals - forecast)[seen].mean())
    return float(rmse / np.abs(actuals[seen]).mean())


def mase(actuals: np.ndarray, forecast: np.ndarray, insample: Insample, season: int) -> float:
    """Mean absolute scaled error: per series, the mean observed ``|y − ŷ|`` divided by the
    mean ``|y_t − y_{t−season}|`` of its in-sample history (the in-sample error of the seasonal
    naive forecast), then the mean over series. Shapes as in :func:`msis`.

    >>> mase(np.array([3.0, 5.0]), np.array([2.0, 4.0]), np.array([0.0, 2.0, 4.0]), 1)
    0.5
    """
    actuals, forecast = _float(actuals), _float(forecast)
    _same_shape("forecast", forecast, actuals.shape)
    one = actuals.ndim == 1
    y, f = _series_2d(actuals), _series_2d(forecast)
    scale = _seasonal_scale(insample, season, len(y), one)
    per_series, has = _per_series_mean(np.abs(y - f), ~np.isnan(y))
    with np.errstate(divide="ignore", invalid="ignore"):
        return float((per_series / scale[has]).mean())


def smape(actuals: np.ndarray, forecast: np.ndarray) -> float:
    """Symmetric MAPE in percent, ``200 · mean |y − ŷ| / (|y| + |ŷ|)`` over observed entries;
    an entry with ``y = ŷ = 0`` (0/0) counts as 0 (a perfect forecast).

    >>> smape(np.array([1.0, 0.0]), np.array([3.0, 0.0]))
    50.0
    """
    actuals, forecast = _float(actuals), _float(forecast)
    _same_shape("forecast", forecast, actuals.shape)
    seen = ~np.isnan(actuals)
    y, f = actuals[seen], forecast[seen]
    den = np.abs(y) + np.abs(f)
    ratio = np.divide(np.abs(y - f), den, out=np.zeros_like(den), where=den > 0)
    return float(200 * ratio.mean())


# ---------------------------------------------------------------------------- evaluate
def _grid(forecast: Forecast, frame: pd.DataFrame) -> np.ndarray:
    return frame.to_numpy(np.float64).T.reshape(-1, forecast.n_series, forecast.horizon)


def _histories(forecast: Forecast, insample: pd.DataFrame | Insample) -> Insample:
    if not isinstance(insample, pd.DataFrame):
        return insample
    id_col, time_col = forecast.id_col, forecast.time_col
    missing = {id_col, time_col, "y"} - set(insample.columns)
    if missing:
        raise DataError(f"the insample frame lacks the columns {sorted(missing)}")
    groups = {k: g.sort_values(time_col)["y"].to_numpy(np.float64)
              for k, g in insample.groupby(id_col, sort=False)}  # fmt: skip
    absent = [i for i in forecast.ids if i not in groups]
    if absent:
        raise DataError(f"the insample frame has no history for the series {absent[:5]}")
    return [groups[i] for i in forecast.ids]


def evaluate(
    forecast: Forecast,
    actuals: pd.DataFrame,
    levels: Sequence[float] = DEFAULT_LEVELS,
    insample: pd.DataFrame | Insample | None = None,
    season: int = 1,
) -> dict[str, object]:
    """The standard scores of a forecast against the actuals, through the query surface.

    Parameters
    ----------
    forecast : qfcast.forecast.Forecast
    actuals : DataFrame
        Columns ``forecast.id_col``, ``forecast.time_col`` and ``y``; merged on (id, time).
        Forecast rows without an actual count as NaN actuals (ignored).
    levels : the quantile levels of the weighted quantile loss
    insample : the histories for MSIS and MASE: a long frame like ``actuals`` or one 1-D
        history per series in the order of ``forecast.ids``; None skips MSIS and MASE.
    season : the seasonal period of their scale

    Returns
    -------
    dict with ``mean_wql``, ``wql`` (level → wQL), ``coverage_80``/``coverage_95`` (central
    intervals), ``width_80``/``width_95``, ``crossing_rate`` (at levels 0.01…0.99), ``nd``
    and ``smape`` (of the median), ``nrmse`` (of the mean); ``msis`` (95%) and ``mase``
    (median) when ``insample`` is given; ``energy_score``, ``variogram_score`` and
    ``crps_sum`` when the forecast has sample paths (``.samples``).
    """
    id_col, time_col = forecast.id_col, forecast.time_col
    missing = {id_col, time_col, "y"} - set(actuals.columns)
    if missing:
        raise DataError(f"the actuals frame lacks the columns {sorted(missing)}")
    if actuals.duplicated([id_col, time_col]).any():
        raise DataError("the actuals frame repeats (id, time) pairs")
    levels = tuple(float(a) for a in levels)
    table = forecast.quantile(levels)
    keys = table[[id_col, time_col]]
    merged = keys.merge(actuals[[id_col, time_col, "y"]], on=[id_col, time_col], how="left")
    y = merged["y"].to_numpy(np.float64).reshape(forecast.n_series, forecast.horizon)

    q = _grid(forecast, table.drop(columns=[id_col, time_col]))
    wql = weighted_quantile_loss(y, q, levels)
    bounds = _grid(forecast, forecast.quantile([0.1, 0.9, 0.025, 0.975, 0.5]).iloc[:, 2:])
    lo80, hi80, lo95, hi95, median = bounds
    mean = _grid(forecast, forecast.mean().iloc[:, 2:])[0]
    fine = _grid(forecast, forecast.quantile(np.arange(1, 100) / 100).iloc[:, 2:])
    out: dict[str, object] = {
        "mean_wql": float(wql.mean()),
        "wql": dict(zip(levels, wql.tolist(), strict=True)),
        "coverage_80": coverage(y, lo80, hi80),
        "coverage_95": coverage(y, lo95, hi95),
        "width_80": interval_width(lo80, hi80),
        "width_95": interval_width(lo95, hi95),
        "crossing_rate": crossing_rate(fine),
        "nd": nd(y, median),
        "smape": smape(y, median),
        "nrmse": nrmse(y, mean),
    }
    if insample is not None:
        histories = _histories(forecast, insample)
        out["msis"] = msis(y, lo95, hi95, histories, season, alpha=0.05)
        out["mase"] = mase(y, median, histories, season)
    if hasattr(forecast, "samples"):
        samples = np.asarray(forecast.samples, dtype=np.float64)
        out["energy_score"] = energy_score_mean(y, samples)
        out["variogram_score"] = variogram_score_mean(y, samples)
        out["crps_sum"] = crps_sum(y, samples)
    return out
