"""Matplotlib plots of forecasts: fan charts, quantile functions, calibration, dependence.

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot (nothing opens
a window, nothing touches pyplot's global state); :func:`save` writes it as PNG or SVG. The
plots use only the :class:`~qfcast.forecast.Forecast` query surface (``quantile``, ``cdf``,
``correlation``), so they work for every kind of forecast; the quantile-function plot also
marks the knots of an ISQF/IQF (or quantile-grid) distribution when the forecast has one.

* :func:`fan_chart` — central intervals, median, history and actuals of one series;
* :func:`quantile_function` — ``α ↦ Q(α)`` of one (series, step) with its knots and the
  implied density, optionally against a true quantile function;
* :func:`pit_histogram` — PIT histogram and reliability diagram (calibration);
* :func:`correlation_heatmap` — correlation matrices across the horizon side by side;
* :func:`tradeoff_curve` — stock against service level, with the marginal stock per point.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import torch
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator
from torch.distributions import AffineTransform, Distribution, TransformedDistribution

from .distributions import ISQF, QuantileGrid
from .forecast import DistributionForecast, Forecast, quantile_column

__all__ = [
    "correlation_heatmap",
    "fan_chart",
    "pit_histogram",
    "quantile_function",
    "save",
    "tradeoff_curve",
]

SAVE_FORMATS = (".png", ".svg")
_GRID = np.linspace(0.001, 0.999, 999)  # quantile-function levels, steps of 0.001
_CHUNK = 1 << 22  # (level, series, step) values per forecast.quantile call
_BLUE = "#1f4e79"
_ORANGE = "#d95f02"
_FIGSIZE = (8.0, 4.5)


# ----------------------------------------------------------------------------- saving
def save(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` to ``path`` as PNG or SVG, chosen by the extension.

    Parameters
    ----------
    fig : Figure
        The figure, e.g. from :func:`fan_chart`.
    path : str or Path
        Where to write it; the extension (``.png`` or ``.svg``, any case) picks the format.

    Returns
    -------
    Path
        ``path`` as a :class:`~pathlib.Path`.

    Raises
    ------
    ValueError
        For any other extension.

    Examples
    --------
    >>> import tempfile
    >>> fig = Figure()
    >>> _ = fig.subplots().plot([0, 1], [0, 1])
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     save(fig, Path(tmp) / "line.svg").read_bytes().startswith(b"<?xml")
    True
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SAVE_FORMATS:
        raise ValueError(
            f"cannot save {str(path)!r}: the extension must be one of {', '.join(SAVE_FORMATS)}"
        )
    fig.savefig(path, format=suffix[1:], dpi=150 if suffix == ".png" else None)
    return path


# ----------------------------------------------------------------------------- helpers
def _new_axes(ax: Axes | None, figsize: tuple[float, float] = _FIGSIZE) -> Axes:
    if ax is not None:
        return ax
    return Figure(figsize=figsize, layout="constrained").subplots()


def _series_index(forecast: Forecast, series: object) -> int:
    """The position of ``series`` in ``forecast.ids`` (the first id when ``None``)."""
    ids = forecast.ids.tolist()
    if series is None:
        if not ids:
            raise ValueError("the forecast has no series")
        return 0
    for i, value in enumerate(ids):
        if value == series:
            return i
    shown = ", ".join(repr(v) for v in ids[:5]) + (", …" if len(ids) > 5 else "")
    raise ValueError(f"unknown series {series!r}; valid ids ({len(ids)}) include {shown}")


def _check_step(forecast: Forecast, step: object) -> int:
    if isinstance(step, (bool, np.bool_)) or not isinstance(step, (int, np.integer)):
        raise ValueError(f"step must be an integer in range({forecast.horizon}), got {step!r}")
    if not 0 <= step < forecast.horizon:
        raise ValueError(
            f"step must lie in range({forecast.horizon}) (0-based horizon steps), got {step}"
        )
    return int(step)


def _check_coverages(levels: Sequence[float]) -> np.ndarray:
    out = np.atleast_1d(np.asarray(levels, dtype=np.float64))
    if out.ndim != 1 or not np.all((out > 0) & (out < 1)):
        raise ValueError(
            f"interval levels (coverages) must lie strictly between 0 and 1, got {levels!r}"
        )
    return np.unique(out)


def _format_time_axis(ax: Axes, times: object) -> None:
    """Concise date ticks when ``times`` are datetimes; integer ticks for step counts."""
    if pd.api.types.is_datetime64_any_dtype(pd.Series(np.asarray(times)).dtype):
        locator = mdates.AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _value_column(frame: pd.DataFrame, forecast: Forecast, what: str) -> str:
    """``y`` if present, else the one column that is neither the id nor the time."""
    missing = {forecast.id_col, forecast.time_col} - set(frame.columns)
    if missing:
        raise ValueError(f"{what} lacks the column(s) {sorted(missing)}")
    if "y" in frame.columns:
        return "y"
    rest = [c for c in frame.columns if c not in (forecast.id_col, forecast.time_col)]
    if len(rest) != 1:
        raise ValueError(
            f"{what} needs a 'y' column or exactly one value column besides "
            f"{forecast.id_col!r} and {forecast.time_col!r}; got {list(frame.columns)}"
        )
    return rest[0]


def _series_rows(frame: pd.DataFrame, forecast: Forecast, series: object) -> pd.DataFrame:
    rows = frame[frame[forecast.id_col] == series]
    return rows.sort_values(forecast.time_col, kind="stable")


def _quantile_row(forecast: Forecast, levels: np.ndarray, row: int) -> np.ndarray:
    """Quantiles at ``levels`` of one forecast row, asked in chunks of levels (bounded memory)."""
    per_call = max(1, _CHUNK // max(1, len(forecast)))
    parts = []
    for i in range(0, len(levels), per_call):
        chunk = levels[i : i + per_call]
        frame = forecast.quantile(chunk)
        parts.append(frame[[quantile_column(a) for a in chunk]].to_numpy(np.float64)[row])
    return np.concatenate(parts)


def _knots(forecast: Forecast, index: int, step: int) -> tuple[np.ndarray, np.ndarray] | None:
    """``(levels, values)`` of the knots of one (series, step) in data units, or ``None``.

    Looks through affine wrappers (:class:`~qfcast.distributions.AffineTransformed` or any
    :class:`~torch.distributions.TransformedDistribution` of affine transforms) for an ISQF,
    IQF or quantile grid; a negative scale reverses the levels.
    """
    if not isinstance(forecast, DistributionForecast):
        return None
    dist: Distribution = forecast.distribution
    chain: list[AffineTransform] = []
    while isinstance(dist, TransformedDistribution):
        for t in dist.transforms:
            if not isinstance(t, AffineTransform) or t.event_dim != 0:
                return None
        chain = list(dist.transforms) + chain  # inner transforms apply first
        dist = dist.base_dist
    if isinstance(dist, ISQF):
        levels, values = dist.knot_levels, dist.knot_values
    elif isinstance(dist, QuantileGrid):
        levels, values = dist.levels, dist.values
    else:
        return None
    batch = (forecast.n_series, forecast.horizon)
    with torch.no_grad():
        k = levels.shape[-1]
        x = torch.broadcast_to(values, (*batch, k))[index, step].to(torch.float64)
        loc = torch.zeros((), dtype=torch.float64)
        scale = torch.ones((), dtype=torch.float64)
        for t in chain:
            t_loc = torch.broadcast_to(torch.as_tensor(t.loc), batch)[index, step]
            t_scale = torch.broadcast_to(torch.as_tensor(t.scale), batch)[index, step]
            loc = t_loc.to(torch.float64) + t_scale.to(torch.float64) * loc
            scale = t_scale.to(torch.float64) * scale
        alpha = levels.to(torch.float64).cpu().numpy()
        y = (loc + scale * x).cpu().numpy()
    if float(scale) < 0:  # a decreasing map: level α of the base is level 1 − α of the forecast
        alpha, y = 1.0 - alpha[::-1], y[::-1]
    return alpha, y


def _implied_density(alpha: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(x, f(x))`` from finite differences of a quantile function: ``f(Q(α)) = 1 / Q'(α)``.

    Evaluated at the midpoints of the grid cells; flat stretches of ``Q`` (an atom) give NaN.
    """
    dq = np.diff(q)
    da = np.diff(alpha)
    x = (q[1:] + q[:-1]) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        density = np.where(dq > 0, da / dq, np.nan)
    return x, density


def _truth_quantile(truth: object) -> Callable[[np.ndarray], object]:
    if callable(truth):
        return truth
    icdf = getattr(truth, "icdf", None)
    if callable(icdf):
        return icdf
    raise ValueError(
        "truth must be a quantile function α ↦ value (e.g. ThreePeaks().icdf) or an object "
        f"with an icdf method, got {type(truth).__name__}"
    )


def _time_label(value: object) -> str:
    if isinstance(value, np.datetime64 | pd.Timestamp):
        ts = pd.Timestamp(value)
        return f"{ts:%Y-%m-%d}" if ts == ts.normalize() else f"{ts:%Y-%m-%d %H:%M}"
    return str(value)


def _percent(level: float) -> str:
    return f"{round(100 * float(level), 6):g}%"


def _amount(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.3g}"


# ----------------------------------------------------------------------------- fan chart
def fan_chart(
    forecast: Forecast,
    history: pd.DataFrame | None = None,
    actuals: pd.DataFrame | None = None,
    series: object = None,
    levels: Sequence[float] = (0.5, 0.8, 0.95),
    ax: Axes | None = None,
    last: int | None = None,
) -> Figure:
    """Fan chart of one series: central intervals, median, history and actuals.

    Parameters
    ----------
    forecast : Forecast
        Any forecast (distribution- or sample-backed).
    history : DataFrame, optional
        Long frame with the forecast's id and time columns and ``y``; the rows of ``series``
        are drawn as a line before the forecast.
    actuals : DataFrame, optional
        Long frame with the id and time columns and ``y`` (or one other value column); the
        rows of ``series`` are drawn as points.
    series : optional
        The id of the series to draw; default the forecast's first id.
    levels : sequence of float
        Coverages of the central intervals, each strictly between 0 and 1; each is shaded as
        the band between the ``(1 − c)/2`` and ``(1 + c)/2`` quantiles, darker for narrower.
    ax : Axes, optional
        Draw into this axes instead of a new figure.
    last : int, optional
        Draw only the last ``last`` rows of the history.

    Returns
    -------
    Figure
        The figure holding the axes (``ax.figure`` when ``ax`` is given).

    Raises
    ------
    ValueError
        For an unknown ``series``, a coverage outside (0, 1), a ``last`` below 1, or frames
        without the needed columns.

    Examples
    --------
    >>> import pandas as pd, torch
    >>> from qfcast.distributions import Gaussian
    >>> from qfcast.forecast import DistributionForecast
    >>> stamps = pd.date_range("2024-01-01", periods=7, freq="D")
    >>> f = DistributionForecast(Gaussian(torch.zeros(1, 7), torch.ones(1, 7)), ["a"], stamps, 7)
    >>> fig = fan_chart(f, levels=(0.5, 0.9))
    >>> len(fig.axes[0].collections)  # one band per level
    2
    """
    index = _series_index(forecast, series)
    sid = forecast.ids[index]
    coverages = _check_coverages(levels)
    if last is not None and (isinstance(last, bool) or not isinstance(last, (int, np.integer))):
        raise ValueError(f"last must be a positive integer or None, got {last!r}")
    if last is not None and last < 1:
        raise ValueError(f"last must be a positive integer or None, got {last!r}")
    ax = _new_axes(ax)

    tails = (1.0 - coverages) / 2
    wanted = np.unique(np.concatenate([tails, 1.0 - tails, [0.5]]))
    frame = forecast.quantile(wanted)
    rows = frame.iloc[index * forecast.horizon : (index + 1) * forecast.horizon]
    times = rows[forecast.time_col].to_numpy()

    shades = np.linspace(0.25, 0.6, len(coverages)) if len(coverages) > 1 else [0.45]
    cmap = colormaps["Blues"]
    # widest first (lightest), so the narrower, darker bands lie on top
    for coverage, tail, shade in zip(coverages[::-1], tails[::-1], shades, strict=True):
        lo = rows[quantile_column(tail)].to_numpy(np.float64)
        hi = rows[quantile_column(1.0 - tail)].to_numpy(np.float64)
        ax.fill_between(
            times,
            lo,
            hi,
            color=cmap(shade),
            linewidth=0,
            label=f"{_percent(coverage)} interval",
            gid=f"interval {coverage:g}",
        )
    median = rows[quantile_column(0.5)].to_numpy(np.float64)
    ax.plot(times, median, color=_BLUE, linewidth=2, label="median", gid="median")

    if history is not None:
        value = "y"
        missing = {forecast.id_col, forecast.time_col, value} - set(history.columns)
        if missing:
            raise ValueError(f"history lacks the column(s) {sorted(missing)}")
        past = _series_rows(history, forecast, sid)
        if last is not None:
            past = past.tail(int(last))
        ax.plot(
            past[forecast.time_col].to_numpy(),
            past[value].to_numpy(np.float64),
            color="0.2",
            linewidth=1.2,
            label="history",
            gid="history",
        )
    if actuals is not None:
        value = _value_column(actuals, forecast, "actuals")
        seen = _series_rows(actuals, forecast, sid)
        ax.scatter(
            seen[forecast.time_col].to_numpy(),
            seen[value].to_numpy(np.float64),
            s=18,
            color=_ORANGE,
            edgecolor="white",
            linewidth=0.5,
            zorder=3,
            label="actual",
            gid="actuals",
        )

    _format_time_axis(ax, times)
    ax.set_title(f"Forecast for {sid}")
    ax.set_xlabel(forecast.time_col)
    ax.set_ylabel("value")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", frameon=False, fontsize="small")
    return ax.figure


# ----------------------------------------------------------------------------- quantile function
def quantile_function(
    forecast: Forecast,
    series: object = None,
    step: int = 0,
    knots: bool = True,
    density: bool = True,
    truth: Callable[[np.ndarray], object] | object | None = None,
) -> Figure:
    """The quantile function ``α ↦ Q(α)`` of one (series, step), with knots and density.

    ``Q`` is evaluated at α = 0.001, 0.002, …, 0.999 through ``forecast.quantile``; the
    density is implied by finite differences, ``f(Q(α)) = 1 / Q'(α)`` (piecewise constant for
    a piecewise-linear ``Q``).

    Parameters
    ----------
    forecast : Forecast
        Any forecast; for a sample forecast ``Q`` is the sample quantile function.
    series : optional
        The id of the series; default the forecast's first id.
    step : int
        The 0-based horizon step, in ``range(forecast.horizon)``.
    knots : bool
        Mark the knots ``(α_k, Q(α_k))`` when the forecast's distribution has them (ISQF, IQF
        or quantile grid, possibly inside an affine transform); silently skipped otherwise.
    density : bool
        Add a second axes with the implied density.
    truth : callable or object with ``icdf``, optional
        A true quantile function (vectorised, levels in (0, 1) ↦ values, e.g.
        ``ThreePeaks().icdf``), drawn dashed on both axes for comparison.

    Returns
    -------
    Figure
        One axes (quantile function), or two (and the density) when ``density`` is true.

    Raises
    ------
    ValueError
        For an unknown ``series`` or a ``step`` outside ``range(forecast.horizon)``.

    Examples
    --------
    >>> import pandas as pd, torch
    >>> from qfcast.distributions import IQF
    >>> from qfcast.forecast import DistributionForecast
    >>> d = IQF([0.1, 0.5, 0.9], torch.tensor([[[-1.0, 0.0, 2.0]]]), 1.0, 1.0)
    >>> f = DistributionForecast(d, ["a"], pd.date_range("2024-01-01", periods=1), 1)
    >>> fig = quantile_function(f)
    >>> [line.get_gid() for line in fig.axes[0].lines]
    ['quantile', 'knots']
    >>> fig.axes[0].lines[1].get_ydata().tolist()
    [-1.0, 0.0, 2.0]
    """
    index = _series_index(forecast, series)
    step = _check_step(forecast, step)
    sid = forecast.ids[index]
    row = index * forecast.horizon + step
    q = _quantile_row(forecast, _GRID, row)
    when = _time_label(np.asarray(forecast.timestamps)[row])

    fig = Figure(figsize=(10.0, 4.2) if density else (6.0, 4.2), layout="constrained")
    axes = fig.subplots(1, 2 if density else 1, squeeze=False)[0]
    ax = axes[0]
    ax.plot(_GRID, q, color=_BLUE, linewidth=2, label="forecast", gid="quantile")
    spline = _knots(forecast, index, step) if knots else None
    if spline is not None:
        ax.plot(
            *spline,
            linestyle="none",
            marker="o",
            markersize=5,
            markerfacecolor="white",
            markeredgecolor=_BLUE,
            markeredgewidth=1.5,
            label=f"knots ({len(spline[0])})",
            gid="knots",
        )
    truth_q = None
    if truth is not None:
        truth_q = np.asarray(_truth_quantile(truth)(_GRID), dtype=np.float64).reshape(-1)
        if truth_q.shape != _GRID.shape:
            raise ValueError(
                f"truth must return one value per level, got shape {truth_q.shape} for "
                f"{_GRID.size} levels"
            )
        ax.plot(
            _GRID, truth_q, color=_ORANGE, linestyle="--", linewidth=1.5, label="truth", gid="truth"
        )
    ax.set_xlim(0, 1)
    ax.set_xlabel("level α")
    ax.set_ylabel("Q(α)")
    ax.set_title("Quantile function")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", frameon=False, fontsize="small")

    if density:
        dx = axes[1]
        x, f = _implied_density(_GRID, q)
        dx.plot(x, f, color=_BLUE, linewidth=1.5, label="forecast", gid="density")
        if truth_q is not None:
            tx, tf = _implied_density(_GRID, truth_q)
            dx.plot(
                tx,
                tf,
                color=_ORANGE,
                linestyle="--",
                linewidth=1.2,
                label="truth",
                gid="truth density",
            )
        dx.set_ylim(bottom=0)
        dx.set_xlabel("value")
        dx.set_ylabel("density")
        dx.set_title("Implied density  f(Q(α)) = 1 / Q′(α)")
        dx.grid(True, alpha=0.3)
        dx.legend(loc="upper right", frameon=False, fontsize="small")
    fig.suptitle(f"{sid} · step {step + 1} ({when})")
    return fig


# ----------------------------------------------------------------------------- calibration
def pit_histogram(forecast: Forecast, actuals: pd.DataFrame, bins: int = 10) -> Figure:
    """Calibration: the PIT histogram and the reliability diagram.

    The probability integral transform ``PIT = F(y)`` of each actual under its forecast (from
    ``forecast.cdf``) is uniform on [0, 1] for a calibrated forecast: the histogram (density
    scale) should be flat at 1, and the share of PIT values at or below each level ``τ`` (the
    empirical CDF of the PIT, drawn as a step function) should follow the diagonal, within the
    shaded 95% Kolmogorov–Smirnov band. For a sample forecast ``F(y)`` is the share of paths
    at or below ``y``.

    Parameters
    ----------
    forecast : Forecast
        Any forecast.
    actuals : DataFrame
        The forecast's id and time columns and ``y`` (or one other value column), with a value
        for every forecast row (extra rows are ignored).
    bins : int
        Number of equal-width histogram bins on [0, 1].

    Returns
    -------
    Figure
        Two axes: histogram and reliability diagram.

    Examples
    --------
    >>> import pandas as pd, torch
    >>> from qfcast.distributions import Gaussian
    >>> from qfcast.forecast import DistributionForecast
    >>> stamps = pd.date_range("2024-01-01", periods=7, freq="D")
    >>> f = DistributionForecast(Gaussian(torch.zeros(1, 7), torch.ones(1, 7)), ["a"], stamps, 7)
    >>> y = f.mean().rename(columns={"mean": "y"})
    >>> fig = pit_histogram(f, y, bins=5)
    >>> [round(float(p.get_height()), 9) for p in fig.axes[0].patches]  # every PIT is 0.5
    [0.0, 0.0, 5.0, 0.0, 0.0]
    """
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    value = _value_column(actuals, forecast, "actuals")
    pit = forecast.cdf(actuals[[forecast.id_col, forecast.time_col, value]])["cdf"]
    pit = pit.to_numpy(np.float64)
    n = pit.size

    fig = Figure(figsize=(10.0, 4.2), layout="constrained")
    hist_ax, rel_ax = fig.subplots(1, 2)
    hist_ax.hist(
        pit,
        bins=int(bins),
        range=(0.0, 1.0),
        density=True,
        color=_BLUE,
        alpha=0.8,
        edgecolor="white",
        label="PIT",
    )
    hist_ax.axhline(
        1.0, color=_ORANGE, linestyle="--", linewidth=1.5, label="uniform", gid="uniform"
    )
    hist_ax.set_xlim(0, 1)
    hist_ax.set_xlabel("PIT = F(y)")
    hist_ax.set_ylabel("density")
    hist_ax.set_title(f"PIT histogram ({n} values)")
    hist_ax.legend(loc="upper right", frameon=False, fontsize="small")

    grid = np.linspace(0.0, 1.0, 101)
    band = 1.358 / np.sqrt(max(n, 1))  # 95% Kolmogorov-Smirnov band around the diagonal
    rel_ax.fill_between(
        grid,
        np.clip(grid - band, 0, 1),
        np.clip(grid + band, 0, 1),
        color="0.85",
        linewidth=0,
        label="95% KS band",
        gid="ks band",
    )
    rel_ax.plot(
        [0, 1], [0, 1], color="0.4", linestyle="--", linewidth=1, label="ideal", gid="diagonal"
    )
    levels = np.unique(np.concatenate([[0.0, 1.0], pit]))
    observed = np.searchsorted(np.sort(pit), levels, side="right") / max(n, 1)
    rel_ax.plot(
        levels,
        observed,
        drawstyle="steps-post",
        color=_BLUE,
        linewidth=2,
        label="observed",
        gid="reliability",
    )
    rel_ax.set_xlim(0, 1)
    rel_ax.set_ylim(0, 1)
    rel_ax.set_aspect("equal")
    rel_ax.set_xlabel("nominal level τ")
    rel_ax.set_ylabel("observed frequency of PIT ≤ τ")
    rel_ax.set_title("Reliability diagram")
    rel_ax.grid(True, alpha=0.3)
    rel_ax.legend(loc="upper left", frameon=False, fontsize="small")
    return fig


# ----------------------------------------------------------------------------- dependence
def _correlation_matrix(item: object) -> np.ndarray:
    """An (H, H) matrix from an array, a forecast, or anything with ``correlation()``."""
    if isinstance(item, DistributionForecast):
        # independent per step: its sample paths draw each step separately
        return np.eye(item.horizon)
    method = getattr(item, "correlation", None)
    if callable(method):
        matrix = np.asarray(method(), dtype=np.float64)
        if matrix.ndim == 3:  # one per series (SampleForecast, JointForecast): average them
            matrix = matrix.mean(axis=0)
    elif isinstance(item, Forecast):
        raise ValueError(f"{type(item).__name__} has no correlation() to plot")
    else:
        matrix = np.asarray(item, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"a correlation matrix must be square (H, H), got shape {matrix.shape}")
    return matrix


def correlation_heatmap(
    *matrices: object,
    titles: Sequence[str] | None = None,
    vmin: float = -1.0,
    vmax: float = 1.0,
) -> Figure:
    """Correlation matrices across the horizon steps, side by side, with one colour bar.

    Parameters
    ----------
    *matrices : array (H, H), Forecast, or object with ``correlation()``
        What to draw, left to right. An array is drawn as is. A
        :class:`~qfcast.forecast.SampleForecast` or :class:`~qfcast.forecast.JointForecast`
        gives its sample correlation averaged over the series; anything else with a
        ``correlation()`` method (e.g. :class:`~qfcast.data.synthetic.MultiHorizonGaussian`)
        gives that, averaged over a leading axis if it has one. A
        :class:`~qfcast.forecast.DistributionForecast` forecasts each step separately (its
        sample paths are independent across steps), so it gives the identity.
    titles : sequence of str, optional
        One title per matrix; default the class names (``matrix 1``, … for arrays).
    vmin, vmax : float
        The colour scale (diverging, centred between them).

    Returns
    -------
    Figure
        One axes per matrix and a shared colour bar.

    Examples
    --------
    >>> import numpy as np
    >>> from qfcast.data.synthetic import MultiHorizonGaussian
    >>> truth = MultiHorizonGaussian(horizon=6)
    >>> fig = correlation_heatmap(truth, np.eye(6), titles=["truth", "independent"])
    >>> [ax.get_title() for ax in fig.axes[:2]]
    ['truth', 'independent']
    """
    if not matrices:
        raise ValueError("correlation_heatmap needs at least one matrix or forecast")
    data = [_correlation_matrix(m) for m in matrices]
    if titles is None:
        titles = [
            f"matrix {i + 1}" if isinstance(m, np.ndarray | list | tuple) else type(m).__name__
            for i, m in enumerate(matrices)
        ]
    titles = list(titles)
    if len(titles) != len(data):
        raise ValueError(f"got {len(titles)} titles for {len(data)} matrices")
    if not vmin < vmax:
        raise ValueError(f"vmin must be below vmax, got {vmin} and {vmax}")

    m = len(data)
    fig = Figure(figsize=(3.6 * m + 1.0, 3.8), layout="constrained")
    axes = fig.subplots(1, m, squeeze=False)[0]
    image = None
    for ax, matrix, title in zip(axes, data, titles, strict=True):
        h = matrix.shape[0]
        image = ax.imshow(
            matrix,
            cmap="RdBu_r",
            vmin=vmin,
            vmax=vmax,
            interpolation="nearest",
            extent=(0.5, h + 0.5, h + 0.5, 0.5),
        )
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.set_ylabel("step")
        ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
        if h <= 8:  # small matrices: write the values in the cells
            mid = (vmin + vmax) / 2
            for i in range(h):
                for j in range(h):
                    light = abs(matrix[i, j] - mid) > 0.6 * (vmax - mid)
                    ax.text(
                        j + 1,
                        i + 1,
                        f"{matrix[i, j]:.2f}",
                        ha="center",
                        va="center",
                        fontsize="x-small",
                        color="white" if light else "black",
                    )
    fig.colorbar(image, ax=list(axes), shrink=0.85, label="correlation")
    return fig


# ----------------------------------------------------------------------------- decisions
def tradeoff_curve(table: pd.DataFrame, ax: Axes | None = None) -> Figure:
    """Stock against service level, with the marginal stock per extra point as bars.

    Parameters
    ----------
    table : DataFrame
        Columns ``level`` (service levels strictly between 0 and 1), ``stock`` and
        ``marginal_stock`` (stock added per extra percentage point of service level; NaN
        where undefined, e.g. the first row). Rows are drawn in order of ``level``.
    ax : Axes, optional
        Draw into this axes (the bars go on a twin axes) instead of a new figure.

    Returns
    -------
    Figure
        The figure holding the axes; the stock difference between the two highest levels
        (the "94% vs 95%" question) is annotated.

    Raises
    ------
    ValueError
        For missing columns, an empty table, or levels outside (0, 1).

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"level": [0.9, 0.94, 0.95], "stock": [120.0, 131.0, 135.0],
    ...                       "marginal_stock": [float("nan"), 2.75, 4.0]})
    >>> fig = tradeoff_curve(table)
    >>> fig.axes[0].lines[0].get_xydata().tolist()
    [[90.0, 120.0], [94.0, 131.0], [95.0, 135.0]]
    """
    missing = {"level", "stock", "marginal_stock"} - set(table.columns)
    if missing:
        raise ValueError(f"the table lacks the column(s) {sorted(missing)}")
    if len(table) == 0:
        raise ValueError("the table is empty")
    table = table.sort_values("level", kind="stable")
    level = table["level"].to_numpy(np.float64)
    if not np.all((level > 0) & (level < 1)):
        raise ValueError(f"service levels must lie strictly between 0 and 1, got {level}")
    stock = table["stock"].to_numpy(np.float64)
    marginal = table["marginal_stock"].to_numpy(np.float64)
    pct = 100 * level

    ax = _new_axes(ax)
    bars_ax = ax.twinx()
    finite = np.isfinite(marginal)
    spacing = np.diff(pct)
    width = 0.6 * (spacing[spacing > 0].min() if np.any(spacing > 0) else 1.0)
    bars_ax.bar(
        pct[finite],
        marginal[finite],
        width=width,
        color="0.75",
        alpha=0.7,
        label="marginal stock per +1 pt",
        gid="marginal",
    )
    bars_ax.set_ylabel("marginal stock per +1 pt of service")
    bars_ax.set_ylim(bottom=0)
    ax.set_zorder(bars_ax.get_zorder() + 1)  # the curve over the bars
    ax.patch.set_visible(False)

    ax.plot(pct, stock, color=_BLUE, marker="o", linewidth=2, label="stock", gid="stock")
    if len(pct) >= 2:
        b, (s_a, s_b) = pct[-1], stock[-2:]
        diff = s_b - s_a
        sign = "+" if diff >= 0 else "−"
        ax.annotate(
            f"{_percent(level[-2])} → {_percent(level[-1])}: {sign}{_amount(abs(diff))} stock",
            xy=(b, s_b),
            xytext=(-16, 0),
            textcoords="offset points",
            ha="right",
            va="center",
            fontsize="small",
            arrowprops={"arrowstyle": "->", "color": _ORANGE},
            color=_ORANGE,
            gid="last step",
        )
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}%"))
    ax.margins(y=0.1)
    ax.set_xlabel("service level")
    ax.set_ylabel("stock")
    ax.set_title("Stock needed per service level")
    ax.grid(True, alpha=0.3)
    handles = ax.get_legend_handles_labels()
    more = bars_ax.get_legend_handles_labels()
    ax.legend(
        handles[0] + more[0],
        handles[1] + more[1],
        loc="upper left",
        frameon=False,
        fontsize="small",
    )
    return ax.figure
