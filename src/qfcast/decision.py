"""Service-level decisions from one forecast: stock for a level, level for a stock, the trade-off
table ("what does 94% instead of 95% save?") and the newsvendor.

Demand over a lead time is one step or the total over several (``steps``: a 0-based step index,
a sequence or range of them, or ``None`` for the whole horizon). The quantile of a total depends
on how the steps move together:

* forecasts with sample paths — MQF² (:class:`~qfcast.forecast.JointForecast`) and DeepAR
  (:class:`~qfcast.forecast.SampleForecast`) — use their **joint** distribution (the total of
  each path);
* marginal-only forecasts (one distribution per step) cannot know the dependence, so the
  functions say which they assume and give both ends of positive dependence:
  ``"comonotone"`` (the steps move together: the quantile of the total is the sum of the
  steps' quantiles — exact, the larger answer for high levels) and ``"independent"`` (Monte
  Carlo over independent steps). The default is the comonotone, conservative one.

>>> import numpy as np, torch
>>> from qfcast.distributions import Gaussian
>>> from qfcast.forecast import DistributionForecast
>>> ones = torch.ones(1, 3, dtype=torch.float64)
>>> d = Gaussian(10 * ones, ones)  # one item, three days of N(10, 1) demand
>>> f = DistributionForecast(d, ["item"], np.arange(3), 3)
>>> table = stock_for_service_level(f, 0.95, steps=range(3))
>>> round(float(table["stock_comonotone"].iloc[0]), 3)  # 3 × (10 + 1.645)
34.935
>>> 30 < float(table["stock_independent"].iloc[0]) < 34.935  # √3 × 1.645 above 30
True
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from .distributions import _piecewise as pw
from .distributions.base import PiecewiseQuantileDistribution
from .distributions.parametric import Gaussian
from .distributions.scaled import AffineTransformed
from .distributions.scaled import crps as closed_form_crps
from .forecast import DistributionForecast, Forecast, SampleForecast

__all__ = [
    "DEFAULT_LEVELS",
    "newsvendor",
    "service_level_for_stock",
    "stock_for_service_level",
    "tradeoff",
]

DEFAULT_LEVELS = tuple(np.round(np.arange(0.80, 0.995, 0.01), 2))  # 0.80 … 0.99
_DEPENDENCE = ("comonotone", "independent")
_GRID = np.concatenate(
    [
        np.geomspace(1e-6, 1e-3, 30),
        np.linspace(1e-3, 1 - 1e-3, 1999),
        1 - np.geomspace(1e-3, 1e-6, 30),
    ]
)


# ---------------------------------------------------------------------------- arguments
def _steps(forecast: Forecast, steps: object) -> np.ndarray:
    """0-based step indices as an array; ``None`` is the whole horizon."""
    horizon = forecast.horizon
    if steps is None:
        return np.arange(horizon)
    if isinstance(steps, (int, np.integer)) and not isinstance(steps, bool):
        index = np.array([int(steps)])
    elif isinstance(steps, Iterable) and not isinstance(steps, (str, bytes)):
        index = np.asarray(list(steps))
        if index.size == 0 or index.dtype.kind not in "iu":
            raise ValueError(f"steps must be step indices (ints), got {steps!r}")
    else:
        raise ValueError(f"steps must be an int, a sequence of ints or None, got {steps!r}")
    if index.min() < 0 or index.max() >= horizon:
        raise ValueError(f"steps must lie in 0…{horizon - 1} (the horizon), got {steps!r}")
    if len(np.unique(index)) != len(index):
        raise ValueError(f"steps repeat an index: {steps!r}")
    return np.sort(index)


def _levels(levels: float | Sequence[float]) -> np.ndarray:
    array = np.atleast_1d(np.asarray(levels, dtype=np.float64))
    if array.ndim != 1 or np.isnan(array).any() or (array <= 0).any() or (array >= 1).any():
        raise ValueError(f"service levels must lie strictly between 0 and 1, got {levels!r}")
    return array


def _dependence(forecast: Forecast, index: np.ndarray, dependence: str | None) -> str:
    if len(index) == 1:
        return "single step"
    if isinstance(forecast, SampleForecast):
        if dependence not in (None, "joint"):
            raise ValueError(
                "this forecast has joint sample paths: the total uses them "
                f"(dependence='joint'), not {dependence!r}"
            )
        return "joint"
    if dependence is None:
        return "comonotone"
    if dependence not in _DEPENDENCE:
        raise ValueError(f"dependence must be one of {_DEPENDENCE}, got {dependence!r}")
    return dependence


def _per_series(forecast: Forecast, value: Any, what: str) -> np.ndarray:
    """A scalar, one value per series (in ``forecast.ids`` order) or a mapping id → value."""
    ids = np.asarray(forecast.ids)
    if isinstance(value, (dict, pd.Series)):
        mapping = pd.Series(value)
        missing = [str(i) for i in ids if i not in mapping.index]
        if missing:
            raise ValueError(f"{what} has no value for the series {missing[:5]}")
        return mapping.reindex(ids).to_numpy(np.float64)
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        return np.full(len(ids), float(array))
    if array.shape != (len(ids),):
        raise ValueError(f"{what} must be a scalar or one value per series ({len(ids)})")
    return array


# ---------------------------------------------------------------------------- sums
def _quantile_sums(forecast: Forecast, levels: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Σ_steps Q_step(level): (L, n) — the quantile of a comonotone total."""
    return forecast._quantiles(levels)[:, :, index].sum(-1)


def _totals(forecast: Forecast, index: np.ndarray, num_samples: int, seed: int) -> np.ndarray:
    """Totals over the steps of sample paths (S, n): joint paths, or independent steps."""
    paths = forecast.samples if isinstance(forecast, SampleForecast) else None
    if paths is None:
        paths = forecast.sample(num_samples, seed=seed)
    return paths[:, :, index].sum(-1)


# ---------------------------------------------------------------------------- public API
def stock_for_service_level(
    forecast: Forecast,
    level: float | Sequence[float],
    steps: object = None,
    *,
    dependence: str | None = None,
    num_samples: int = 20_000,
    seed: int = 0,
) -> pd.DataFrame:
    """The stock that covers demand over ``steps`` with probability ``level``, per series.

    Returns one row per (series, level): the id column, ``level``, ``stock`` and
    ``dependence`` (``"single step"``, ``"joint"``, ``"comonotone"`` or ``"independent"``);
    for a marginal-only forecast over several steps also ``stock_comonotone`` and
    ``stock_independent`` (``num_samples`` draws per series, seeded), the two ends of
    positive dependence.
    """
    index = _steps(forecast, steps)
    levels = _levels(level)
    mode = _dependence(forecast, index, dependence)
    ids = np.asarray(forecast.ids)
    columns: dict[str, np.ndarray] = {}
    if mode == "joint":
        totals = _totals(forecast, index, num_samples, seed)
        stock = np.quantile(totals, levels, axis=0)
    else:
        stock = _quantile_sums(forecast, levels, index)  # exact for one step / comonotone
        if mode != "single step":
            independent = np.quantile(_totals(forecast, index, num_samples, seed), levels, axis=0)
            columns = {"stock_comonotone": stock, "stock_independent": independent}
            stock = independent if mode == "independent" else stock
    frame = {  # series-major, in forecast.ids order
        forecast.id_col: np.repeat(ids, len(levels)),
        "level": np.tile(levels, len(ids)),
        "stock": stock.T.reshape(-1),
        "dependence": mode,
        **{k: v.T.reshape(-1) for k, v in columns.items()},
    }
    return pd.DataFrame(frame)


def service_level_for_stock(
    forecast: Forecast,
    stock: Any,
    steps: object = None,
    *,
    dependence: str | None = None,
    num_samples: int = 20_000,
    seed: int = 0,
) -> pd.DataFrame:
    """P(demand over ``steps`` ≤ stock) per series: the inverse of
    :func:`stock_for_service_level`.

    ``stock`` is a scalar, one value per series (``forecast.ids`` order) or a mapping id →
    stock. Returns the id column, ``stock``, ``service_level`` and ``dependence`` (plus
    ``service_level_comonotone`` / ``service_level_independent`` for a marginal-only forecast
    over several steps).
    """
    index = _steps(forecast, steps)
    mode = _dependence(forecast, index, dependence)
    values = _per_series(forecast, stock, "stock")
    columns: dict[str, np.ndarray] = {}
    if mode == "single step":
        grid = np.zeros((forecast.n_series, forecast.horizon))
        grid[:, index[0]] = values
        level = forecast._cdf(grid)[:, index[0]]
    elif mode == "joint":
        level = (_totals(forecast, index, num_samples, seed) <= values).mean(0)
    else:
        sums = _quantile_sums(forecast, _GRID, index)  # (G, n), non-decreasing in the level
        como = np.array(
            [np.interp(v, sums[:, i], _GRID, left=0.0, right=1.0) for i, v in enumerate(values)]
        )
        indep = (_totals(forecast, index, num_samples, seed) <= values).mean(0)
        columns = {"service_level_comonotone": como, "service_level_independent": indep}
        level = indep if mode == "independent" else como
    return pd.DataFrame(
        {
            forecast.id_col: np.asarray(forecast.ids),
            "stock": values,
            "service_level": level,
            "dependence": mode,
            **columns,
        }
    )


def tradeoff(
    forecast: Forecast,
    levels: Sequence[float] = DEFAULT_LEVELS,
    steps: object = None,
    *,
    dependence: str | None = None,
    num_samples: int = 20_000,
    seed: int = 0,
) -> pd.DataFrame:
    """Service level → stock per series, with the marginal stock per extra point.

    Columns: the id column, ``level``, ``stock`` and ``marginal_stock`` — the stock added per
    extra percentage point of service level from the previous level in the table (NaN on each
    series' first row): the row at 0.95 answers "what does 95% cost over 94%?".
    """
    levels = np.sort(_levels(levels))
    table = stock_for_service_level(
        forecast, levels, steps, dependence=dependence, num_samples=num_samples, seed=seed
    )
    table = table[[forecast.id_col, "level", "stock", "dependence"]].copy()
    by = table.groupby(forecast.id_col, sort=False)
    points = by["level"].diff() * 100
    table["marginal_stock"] = by["stock"].diff() / points
    return table


# ---------------------------------------------------------------------------- newsvendor
def _level_moment(distribution: Any) -> torch.Tensor | None:
    """∫₀¹ α Q(α) dα in closed form (batch-shaped), or None for a family without one."""
    if isinstance(distribution, AffineTransformed):
        base = _level_moment(distribution.base_dist)
        if base is None:
            return None
        return 0.5 * distribution.loc + distribution.scale * base
    if isinstance(distribution, PiecewiseQuantileDistribution):
        moments = pw._moments(distribution._spline)
        return (moments.m1 + 0.5 * moments.centre).reshape(distribution.batch_shape)
    if isinstance(distribution, Gaussian):  # ∫ α(μ + σΦ⁻¹(α)) dα = μ/2 + σ/(2√π)
        return 0.5 * distribution.loc + distribution.scale / (2 * math.sqrt(math.pi))
    return None


def _closed_form_shortfall(forecast: Forecast, stock: np.ndarray, step: int) -> np.ndarray | None:
    """E[(D − s)⁺] = ½ CRPS(F, s) + ∫ α Q(α) dα − s/2 (the CRPS as an integral of pinball
    losses), for one step, or None when the family lacks a closed form."""
    if not isinstance(forecast, DistributionForecast):
        return None
    d = forecast.distribution
    moment = _level_moment(d)
    if moment is None:
        return None
    dtype = forecast._dtype()
    grid = torch.zeros((forecast.n_series, forecast.horizon), dtype=dtype)
    grid[:, step] = torch.tensor(np.array(stock, dtype=np.float64), dtype=dtype)
    with torch.no_grad():
        try:
            crps = closed_form_crps(d, grid)
        except TypeError:
            return None
        value = 0.5 * crps + moment - 0.5 * grid
    return value[:, step].cpu().numpy().astype(np.float64)


def newsvendor(
    forecast: Forecast,
    underage_cost: float,
    overage_cost: float,
    steps: object = None,
    *,
    dependence: str | None = None,
    num_samples: int = 20_000,
    seed: int = 0,
) -> pd.DataFrame:
    """The cost-optimal stock for demand over ``steps``: underage (lost sale) cost ``cu`` per
    unit short, overage (holding) cost ``co`` per unit left.

    The optimal service level is the critical ratio cu / (cu + co) and the stock its quantile.
    Returns per series: ``critical_ratio``, ``stock``, ``expected_cost`` = cu·E[(D − s)⁺] +
    co·E[(s − D)⁺], ``expected_shortfall`` = E[(D − s)⁺], ``fill_rate`` = 1 − E[(D − s)⁺]/E[D]
    and ``method``: closed form for one step of a family with closed-form CRPS and level
    moment (ISQF, IQF, SQF, Gaussian — through the identity
    E[(D − s)⁺] = ½ CRPS(F, s) + ∫ α Q(α) dα − s/2), else from samples (joint paths; for
    marginal-only totals, ``dependence`` as in :func:`stock_for_service_level`).
    """
    for name, cost in (("underage_cost", underage_cost), ("overage_cost", overage_cost)):
        if not np.isfinite(cost) or cost <= 0:
            raise ValueError(f"{name} must be a positive number, got {cost!r}")
    ratio = underage_cost / (underage_cost + overage_cost)
    index = _steps(forecast, steps)
    mode = _dependence(forecast, index, dependence)
    table = stock_for_service_level(
        forecast, ratio, steps, dependence=dependence, num_samples=num_samples, seed=seed
    )
    stock = table["stock"].to_numpy()  # one level: rows in forecast.ids order
    shortfall = None
    if mode == "single step":
        shortfall = _closed_form_shortfall(forecast, stock, int(index[0]))
        mean = forecast._mean()[:, index[0]]
        method = "closed form"
    if shortfall is None:
        if mode == "comonotone":  # the total's quantile function is Σ Q_step: stratified levels
            levels = (np.arange(num_samples) + 0.5) / num_samples
            totals = _quantile_sums(forecast, levels, index)
        else:
            totals = _totals(forecast, index, num_samples, seed)
        shortfall = np.maximum(totals - stock, 0.0).mean(0)
        mean = totals.mean(0)
        method = f"samples ({mode})"
    excess = stock - mean + shortfall  # E[(s − D)⁺]
    with np.errstate(divide="ignore", invalid="ignore"):
        fill = np.where(mean > 0, 1 - shortfall / mean, np.nan)
    return pd.DataFrame(
        {
            forecast.id_col: np.asarray(forecast.ids),
            "critical_ratio": ratio,
            "stock": stock,
            "expected_cost": underage_cost * shortfall + overage_cost * excess,
            "expected_shortfall": shortfall,
            "fill_rate": fill,
            "method": method,
            "dependence": mode,
        }
    )
