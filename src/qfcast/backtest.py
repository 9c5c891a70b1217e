"""Rolling-origin evaluation: forecast several windows at the end of every series and score them.

``backtest(forecaster, data, windows=5)`` cuts each series at ``windows`` forecast origins,
``step`` apart (default: one horizon, so the windows tile the end of the data), the last
window ending where the series ends. The forecaster is trained once on the data before the
first origin (``refit=False``, the default, as in the standard benchmark setups; a forecaster
that is already fitted is used as it is) or again before every origin (``refit=True``), and
each window is forecast from its own history. ``data`` may also name a dataset of the
registry (``"exchange_rate"``: its standard horizon and windows, e.g. 30 × 5).

The result holds one row of scores per (window, series) and the table aggregated per window
and over all windows. Aggregates pool the sums, as GluonTS's evaluator does: the weighted
quantile loss is ∑ pinball / ∑ |y| over all series and steps, not a mean of per-series ratios.

>>> import qfcast
>>> from qfcast.data.synthetic import demand_panel
>>> df = demand_panel(n_series=4, length=120, seed=0)
>>> fc = qfcast.Forecaster(horizon=7, freq="D", max_epochs=1, batches_per_epoch=2,
...                        progress=False, random_state=0)
>>> result = backtest(fc, df, windows=2, progress=False)
>>> result.summary.index.tolist()
[0, 1, 'all']
>>> len(result.per_series)  # 2 windows × 4 series
8
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .data._registry import steps_from_end
from .data.errors import DataError
from .data.timeindex import season_length
from .forecast import Forecast
from .metrics import DEFAULT_LEVELS

__all__ = ["BacktestResult", "backtest", "score_window"]

_FINE = np.arange(1, 100) / 100  # levels of the crossing check
_BOUNDS = (0.1, 0.9, 0.025, 0.975, 0.5)


@dataclass
class BacktestResult:
    """Scores of a rolling-origin backtest.

    Attributes
    ----------
    per_series : DataFrame
        One row per (window, series): ``window``, the id column, ``origin`` (the last
        timestamp of the history), ``mean_wql``, ``crps`` (mean over the steps, data units),
        ``coverage_80``/``coverage_95``, ``width_80``/``width_95``, ``crossing_rate``, ``nd``,
        ``smape`` (percent), ``mase``, and ``n_observed`` / ``abs_actual`` (the weights of the
        pools), then the sums the pools are made of.
    summary : DataFrame
        The same scores pooled per window (index 0 … windows − 1) and over all windows
        (``"all"``), plus ``wql_<level>`` per level and ``crps_weighted`` (∑ CRPS / ∑ |y|).
    forecasts : list of Forecast
        Each window's forecast, when ``keep_forecasts=True``.
    fit_seconds, predict_seconds : float
        Training (all refits) and forecasting wall-clock time.
    """

    per_series: pd.DataFrame
    summary: pd.DataFrame
    forecasts: list[Forecast] = field(default_factory=list, repr=False)
    fit_seconds: float = 0.0
    predict_seconds: float = 0.0

    def __repr__(self) -> str:
        n = self.per_series["window"].nunique() if len(self.per_series) else 0
        overall = self.summary.loc["all"]
        return (
            f"BacktestResult({n} windows, mean_wql={overall['mean_wql']:.4g}, "
            f"crps_weighted={overall['crps_weighted']:.4g}, "
            f"coverage_80={overall['coverage_80']:.3f}, coverage_95={overall['coverage_95']:.3f})"
        )


def _pinball_sums(y: np.ndarray, q: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """2 ∑_steps |(y − q)(1{y < q} − α)| per level and series: (L, n); NaN actuals skipped."""
    seen = ~np.isnan(y)
    diff = np.where(seen, y, 0.0)[None] - q
    loss = 2 * np.abs(diff * ((diff < 0) - levels[:, None, None]))
    return np.where(seen[None], loss, 0.0).sum(-1)


def score_window(
    forecast: Forecast,
    actuals: pd.DataFrame,
    levels: Sequence[float] = DEFAULT_LEVELS,
    history: pd.DataFrame | None = None,
    season: int = 1,
    target_col: str = "y",
) -> pd.DataFrame:
    """Per-series scores of one forecast against its actuals (see :class:`BacktestResult`),
    with the sums the pools need (``ql_<level>`` numerators, ``crps_sum``, …).

    ``history`` (the data the forecast was made from) gives the seasonal-naive scale of MASE;
    without it ``mase`` is NaN.
    """
    id_col, time_col = forecast.id_col, forecast.time_col
    missing = {id_col, time_col, target_col} - set(actuals.columns)
    if missing:
        raise DataError(f"the actuals frame lacks the columns {sorted(missing)}")
    actual = actuals[[id_col, time_col, target_col]].rename(columns={target_col: "__y"})
    keys = forecast.quantile(0.5)[[id_col, time_col]]
    merged = keys.merge(actual, on=[id_col, time_col], how="left")
    if len(merged) != len(keys):
        raise DataError("the actuals frame repeats (id, time) pairs")
    n, h = forecast.n_series, forecast.horizon
    y = merged["__y"].to_numpy(np.float64).reshape(n, h)
    seen = ~np.isnan(y)
    levels = np.asarray(levels, dtype=np.float64)
    q = forecast._quantiles(levels)  # (L, n, H)
    lo80, hi80, lo95, hi95, median = forecast._quantiles(np.array(_BOUNDS))
    fine = forecast._quantiles(_FINE)
    mean = forecast._mean()
    crps = forecast._crps(np.where(seen, y, 0.0))
    y0 = np.where(seen, y, 0.0)
    count = seen.sum(-1)
    abs_y = np.abs(y0).sum(-1)
    ql = _pinball_sums(y, q, levels)
    crossed = (np.diff(fine, axis=0) < 0).any(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = np.abs(y0) + np.abs(median)
        smape_terms = np.where(seen & (denom > 0), 200 * np.abs(y0 - median) / denom, 0.0)
        sums = {
            "crps_sum": np.where(seen, crps, 0.0).sum(-1),
            "ae_sum": np.where(seen, np.abs(y0 - median), 0.0).sum(-1),
            "se_sum": np.where(seen, (y0 - mean) ** 2, 0.0).sum(-1),
            "in80_sum": (seen & (lo80 <= y0) & (y0 <= hi80)).sum(-1),
            "in95_sum": (seen & (lo95 <= y0) & (y0 <= hi95)).sum(-1),
            "w80_sum": np.where(seen, hi80 - lo80, 0.0).sum(-1),
            "w95_sum": np.where(seen, hi95 - lo95, 0.0).sum(-1),
            "crossed_sum": (seen & crossed).sum(-1),
            "smape_sum": smape_terms.sum(-1),
        }
        out = {
            "n_observed": count,
            "abs_actual": abs_y,
            "mean_wql": (ql / abs_y).mean(0),
            "crps": sums["crps_sum"] / count,
            "coverage_80": sums["in80_sum"] / count,
            "coverage_95": sums["in95_sum"] / count,
            "width_80": sums["w80_sum"] / count,
            "width_95": sums["w95_sum"] / count,
            "crossing_rate": sums["crossed_sum"] / count,
            "nd": sums["ae_sum"] / abs_y,
            "smape": sums["smape_sum"] / count,
            "mase": np.full(n, np.nan),
            **sums,  # the pools are made of these
        }
        if history is not None:
            out["mase"] = out["ae_sum"] / count / _naive_scale(history, forecast, season)
    for level, row in zip(levels, ql, strict=True):
        out[f"ql_{level:g}"] = row
    frame = pd.DataFrame({id_col: np.asarray(forecast.ids), **out})
    return frame


def _naive_scale(history: pd.DataFrame, forecast: Forecast, season: int) -> np.ndarray:
    """Mean absolute seasonal difference of each series' history (MASE's scale)."""
    id_col, time_col = forecast.id_col, forecast.time_col
    value_col = next(c for c in history.columns if c not in (id_col, time_col))
    ordered = history.sort_values([id_col, time_col])
    diffs = ordered.groupby(id_col, sort=False)[value_col].diff(season).abs()
    scale = diffs.groupby(ordered[id_col], sort=False).mean()
    return scale.reindex(pd.Index(np.asarray(forecast.ids), dtype=scale.index.dtype)).to_numpy()


def _pool(frame: pd.DataFrame, levels: np.ndarray) -> dict[str, float]:
    """Scores of a group of (window, series) rows from their sums."""
    count = frame["n_observed"].sum()
    abs_y = frame["abs_actual"].sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        wql = {f"wql_{a:g}": frame[f"ql_{a:g}"].sum() / abs_y for a in levels}
        out = {
            "mean_wql": float(np.mean(list(wql.values()))),
            "crps_weighted": frame["crps_sum"].sum() / abs_y,
            "crps": frame["crps_sum"].sum() / count,
            "coverage_80": frame["in80_sum"].sum() / count,
            "coverage_95": frame["in95_sum"].sum() / count,
            "width_80": frame["w80_sum"].sum() / count,
            "width_95": frame["w95_sum"].sum() / count,
            "crossing_rate": frame["crossed_sum"].sum() / count,
            "nd": frame["ae_sum"].sum() / abs_y,
            "nrmse": np.sqrt(frame["se_sum"].sum() / count) / (abs_y / count),
            "smape": frame["smape_sum"].sum() / count,
            "mase": float(np.nanmean(frame["mase"])) if frame["mase"].notna().any() else np.nan,
            "n_observed": int(count),
            **wql,
        }
    return {k: float(v) for k, v in out.items()}


@dataclass(frozen=True)
class _Setup:
    frame: pd.DataFrame
    train: pd.DataFrame | None  # registry datasets: the standard training cut
    horizon: int
    windows: int
    step: int
    season: int


def _setup(forecaster: Any, data: Any, windows: int | None, step: int | None) -> _Setup:
    from .data import datasets

    if isinstance(data, str):
        data = datasets.load(data)
    if isinstance(data, datasets.Dataset):
        if windows is not None and windows != data.windows:
            raise ValueError(
                f"{data.name}'s standard setup has {data.windows} windows; pass its frame "
                f"(data.test) to choose another number"
            )
        if step is not None and step != data.horizon:
            raise ValueError(f"{data.name}'s standard windows are one horizon apart")
        if forecaster.horizon != data.horizon:
            raise ValueError(
                f"{data.name}'s standard horizon is {data.horizon}, the forecaster's is "
                f"{forecaster.horizon}: build it with horizon={data.horizon}"
            )
        return _Setup(
            data.test, data.train, data.horizon, data.windows, data.horizon, data.info.seasonality
        )
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a DataFrame or a dataset name, got {type(data).__name__}")
    windows = 1 if windows is None else windows
    step = forecaster.horizon if step is None else step
    for name, value in (("windows", windows), ("step", step)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    freq = getattr(forecaster, "freq_", None) or getattr(forecaster, "freq", None)
    season = season_length(freq) if isinstance(freq, str) else 1
    return _Setup(data, None, forecaster.horizon, windows, step, season)


def backtest(
    forecaster: Any,
    data: pd.DataFrame | str | Any,
    *,
    windows: int | None = None,
    step: int | None = None,
    refit: bool = False,
    levels: Sequence[float] = DEFAULT_LEVELS,
    keep_forecasts: bool = False,
    progress: bool = True,
) -> BacktestResult:
    """Rolling-origin backtest of ``forecaster`` on ``data`` (see the module docstring).

    Parameters
    ----------
    forecaster : qfcast.Forecaster
        Unfitted (trained here) or fitted (used as it is when ``refit=False``).
    data : DataFrame, dataset name or :class:`qfcast.datasets.Dataset`
        A long frame in the forecaster's columns; a registry name uses its standard setup.
    windows : number of forecast origins (default 1 for a frame; the registry's for a name)
    step : steps between origins (default: the horizon, so windows do not overlap)
    refit : train again before every origin (on all data before it)
    levels : levels of the weighted quantile loss (GluonTS's 0.1 … 0.9 by default)
    keep_forecasts : keep each window's :class:`~qfcast.forecast.Forecast` in the result
    progress : a progress bar over the windows

    Windows whose series are too short are left to the forecaster's own checks (it says which
    series it leaves out).
    """
    setup = _setup(forecaster, data, windows, step)
    id_col = getattr(forecaster, "id_col", "unique_id")
    time_col = getattr(forecaster, "time_col", "ds")
    target_col = getattr(forecaster, "target_col", "y")
    future = tuple(getattr(forecaster, "future", ()) or ())
    frame, horizon = setup.frame, setup.horizon
    missing = {id_col, time_col, target_col} - set(frame.columns)
    if missing:
        raise DataError(f"the data lack the columns {sorted(missing)}")
    lengths = frame.groupby(id_col, sort=False).size()
    span = (setup.windows - 1) * setup.step + horizon
    if int(lengths.max()) <= span:
        raise DataError(
            f"{setup.windows} windows of {horizon} steps, {setup.step} apart, need series longer "
            f"than {span} rows; the longest has {int(lengths.max())}"
        )
    # Sorted and ranked once: window k is a slice of the rows by their steps from the end.
    frame = frame.sort_values([id_col, time_col], kind="stable")
    rank = steps_from_end(frame, id_col)
    fitted = hasattr(forecaster, "module_")
    fit_s = predict_s = 0.0
    rows, kept = [], []
    model = forecaster
    if not refit and not fitted:
        train = setup.train if setup.train is not None else frame[rank >= span]
        start = time.perf_counter()
        model.fit(train)
        fit_s += time.perf_counter() - start
    bar = tqdm(range(setup.windows), desc="backtest", unit="window", disable=not progress)
    for k in bar:
        drop = (setup.windows - 1 - k) * setup.step + horizon  # rows after origin k
        history = frame[rank >= drop]
        actuals = frame[(rank < drop) & (rank >= drop - horizon)]
        if refit:
            model = type(forecaster)(**forecaster.get_params())
            start = time.perf_counter()
            model.fit(history)
            fit_s += time.perf_counter() - start
        future_df = actuals[[id_col, time_col, *future]] if future else None
        start = time.perf_counter()
        forecast = model.predict(history, future_df, progress=False)
        predict_s += time.perf_counter() - start
        target_history = history[[id_col, time_col, target_col]]
        scores = score_window(
            forecast, actuals, levels, target_history, setup.season, target_col=target_col
        )
        origin = target_history.groupby(id_col, sort=False)[time_col].max()
        scores.insert(0, "window", k)
        scores.insert(2, "origin", scores[id_col].map(origin).to_numpy())
        rows.append(scores)
        if keep_forecasts:
            kept.append(forecast)
    per_series = pd.concat(rows, ignore_index=True)
    levels_arr = np.asarray(levels, dtype=np.float64)
    summary = pd.DataFrame(
        {k: _pool(g, levels_arr) for k, g in per_series.groupby("window", sort=True)}
        | {"all": _pool(per_series, levels_arr)}
    ).T
    summary.index.name = "window"
    summary["n_observed"] = summary["n_observed"].astype(int)
    return BacktestResult(per_series, summary, kept, fit_s, predict_s)
