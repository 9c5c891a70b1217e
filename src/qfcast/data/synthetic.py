"""Seeded synthetic data with a known truth, for tests, benchmarks and ``make demo``.

All randomness goes through ``np.random.default_rng(seed)``. Panels are long DataFrames:
``unique_id`` (str), ``ds`` (datetime64[ns]), ``y`` (float64), one row per (``unique_id``,
``ds``), sorted by both, covariates as extra columns.

* :class:`ThreePeaks`: a three-peaked Gaussian mixture with exact quantiles, CRPS and W1.
* :class:`MultiHorizonGaussian`: seasonal mean plus AR(1); the next ``horizon`` steps are
  exactly jointly Gaussian with a known, strongly correlated covariance.
* :func:`demand_scenario` / :func:`demand_panel`: realistic retail demand (the demo data).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from numpy.typing import ArrayLike

__all__ = [
    "DemandScenario",
    "MultiHorizonGaussian",
    "ThreePeaks",
    "demand_panel",
    "demand_scenario",
    "three_peaks_panel",
]

_SQRT_2PI = math.sqrt(2.0 * math.pi)
_EPOCH = pd.Timestamp("1970-01-01")


# ----------------------------------------------------------------------------- helpers
def _ndtr(x: np.ndarray) -> np.ndarray:
    """Standard normal cdf in float64, relatively accurate in the lower tail.

    Goes through ``erfc``: ``torch.special.ndtr`` loses the lower tail on CPU (0 below -8.3).
    """
    return 0.5 * torch.special.erfc(torch.tensor(x, dtype=torch.float64) / -math.sqrt(2.0)).numpy()


def _ndtri(p: np.ndarray) -> np.ndarray:
    """Standard normal quantile function in float64."""
    return torch.special.ndtri(torch.tensor(p, dtype=torch.float64)).numpy()


def _npdf(z: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return np.exp(-0.5 * z * z) / _SQRT_2PI


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _ids(prefix: str, n: int) -> pd.Index:
    width = max(3, len(str(n - 1)))
    return pd.Index([f"{prefix}_{i:0{width}d}" for i in range(n)], dtype="str")


def _dates(start: str | pd.Timestamp, periods: int, freq: str) -> pd.DatetimeIndex:
    return pd.date_range(start, periods=periods, freq=freq).as_unit("ns")


def _frame(
    ids: pd.Index,
    dates: pd.DatetimeIndex,
    columns: dict[str, np.ndarray | pd.Index],
    keep: np.ndarray | None = None,
) -> pd.DataFrame:
    """Long frame from (n_series, T) arrays; a length-n ``pd.Index`` is a static column."""
    n, t = len(ids), len(dates)
    codes = np.repeat(np.arange(n), t)
    ds = np.tile(dates.to_numpy(), n)
    flat = keep.ravel() if keep is not None else slice(None)
    data: dict[str, object] = {"unique_id": ids.take(codes[flat]), "ds": ds[flat]}
    for name, value in columns.items():
        if isinstance(value, pd.Index):
            data[name] = value.take(codes[flat])
        else:
            data[name] = np.asarray(value, dtype=np.float64).ravel()[flat]
    return pd.DataFrame(data)


def _ar1(rng: np.random.Generator, n: int, t: int, phi: float, sd: float) -> np.ndarray:
    """(n, t) stationary Gaussian AR(1) paths with innovation sd ``sd``."""
    eps = rng.standard_normal((t, n)) * sd
    x = np.empty((t, n))
    x[0] = eps[0] / math.sqrt(1.0 - phi * phi)
    for i in range(1, t):
        x[i] = phi * x[i - 1] + eps[i]
    return x.T


# ----------------------------------------------------------------------------- three peaks
@dataclass(frozen=True)
class ThreePeaks:
    """A Gaussian mixture with three separated peaks, and its exact functionals.

    The default has unequal weights (0.3, 0.5, 0.2), means (-5, 0, 6) and sds (0.5, 0.8,
    0.3): three peaks of similar height (0.24-0.27) with density below 0.2% of that
    between them, so a quantile function needs many knots to follow the two flat stretches.
    Any number of components works; every method is vectorised numpy in float64.

    Parameters
    ----------
    weights, means, sds : tuple of float
        Mixture weights (positive, summing to 1), component means and standard deviations.

    Examples
    --------
    >>> d = ThreePeaks()
    >>> x = d.sample(200_000, seed=1)
    >>> bool(np.all(np.abs(np.quantile(x, [0.1, 0.5, 0.9]) - d.icdf([0.1, 0.5, 0.9])) < 0.03))
    True
    >>> bool(abs(x.mean() - d.mean) < 0.03)
    True
    """

    weights: tuple[float, ...] = (0.3, 0.5, 0.2)
    means: tuple[float, ...] = (-5.0, 0.0, 6.0)
    sds: tuple[float, ...] = (0.5, 0.8, 0.3)
    _w: np.ndarray = field(init=False, repr=False, compare=False)
    _m: np.ndarray = field(init=False, repr=False, compare=False)
    _s: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        w, m, s = (np.asarray(v, dtype=np.float64) for v in (self.weights, self.means, self.sds))
        if w.ndim != 1 or w.size == 0 or w.shape != m.shape or w.shape != s.shape:
            raise ValueError("weights, means and sds must be non-empty sequences of one length")
        if not (np.all(np.isfinite(w)) and np.all(np.isfinite(m)) and np.all(np.isfinite(s))):
            raise ValueError("weights, means and sds must be finite")
        if np.any(w <= 0) or abs(w.sum() - 1.0) > 1e-9:
            raise ValueError(f"weights must be positive and sum to 1, got {self.weights}")
        if np.any(s <= 0):
            raise ValueError(f"sds must be positive, got {self.sds}")
        for name, v in (("weights", w), ("means", m), ("sds", s)):
            object.__setattr__(self, name, tuple(float(a) for a in v))
            object.__setattr__(self, "_" + name[0], v)
            v.flags.writeable = False

    @property
    def mean(self) -> float:
        """Exact mean, ``sum w_k mu_k``."""
        return float(self._w @ self._m)

    @property
    def variance(self) -> float:
        """Exact variance, ``sum w_k (sigma_k^2 + mu_k^2) - mean^2``."""
        return float(self._w @ (self._s**2 + self._m**2) - self.mean**2)

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` iid draws (float64, shape ``(n,)``) from ``np.random.default_rng(seed)``."""
        n = _check_int("n", n, 0)
        rng = np.random.default_rng(seed)
        comp = rng.choice(len(self.weights), size=n, p=self._w)
        return self._m[comp] + self._s[comp] * rng.standard_normal(n)

    def pdf(self, x: ArrayLike) -> np.ndarray:
        """Density at ``x`` (any shape)."""
        x = np.asarray(x, dtype=np.float64)[..., None]
        return (self._w * _npdf((x - self._m) / self._s) / self._s).sum(-1)[()]

    def cdf(self, x: ArrayLike) -> np.ndarray:
        """``P(Y <= x)``; accurate to relative rounding error in the lower tail."""
        x = np.asarray(x, dtype=np.float64)[..., None]
        return (self._w * _ndtr((x - self._m) / self._s)).sum(-1)[()]

    def sf(self, x: ArrayLike) -> np.ndarray:
        """``P(Y > x) = 1 - cdf(x)``, accurate to relative rounding error in the upper tail."""
        x = np.asarray(x, dtype=np.float64)[..., None]
        return (self._w * _ndtr((self._m - x) / self._s)).sum(-1)[()]

    def icdf(self, alpha: ArrayLike) -> np.ndarray:
        """The exact quantile function ``Q``, to float64 conditioning.

        Levels ``alpha`` must lie in [0, 1]; 0 and 1 map to -inf and +inf, anything else
        (including NaN) raises ``ValueError``. Solves ``log cdf(x) = log alpha`` (``log sf(x)
        = log(1 - alpha)`` above the median, for tail accuracy) by Newton's method, guarded
        by bisection inside a bracket: the component quantiles ``[min_k Q_k, max_k Q_k]``
        (which contain ``Q``) narrowed to a cell of a grid of cdf values. About five
        iterations; the error is within a few dozen ulps of the conditioning bound
        ``eps * min(alpha, 1 - alpha) / f(Q(alpha))`` — ~1e-15 at the peaks and in the
        tails (down to alpha = 1e-300), up to ~1e-10 in the near-empty valley near 4.3.

        Examples
        --------
        >>> d = ThreePeaks()
        >>> a = np.array([1e-9, 0.3, 0.31, 0.8, 1 - 1e-9])
        >>> bool(np.allclose(d.cdf(d.icdf(a)), a, rtol=0, atol=1e-14))
        True
        """
        a = np.asarray(alpha, dtype=np.float64)
        if not np.all((a >= 0) & (a <= 1)):
            raise ValueError("quantile levels alpha must lie in [0, 1] (and not be NaN)")
        out = np.where(a == 0, -np.inf, np.inf)
        inside = (a > 0) & (a < 1)
        out[inside] = self._solve(a[inside])
        return out[()]

    def _solve(self, p: np.ndarray) -> np.ndarray:
        """Newton on ``log F(x) = log p`` (``log S(x) = log(1 - p)`` above the median)."""
        w, m, s = self._w, self._m, self._s
        upper = p > 0.5
        sign = np.where(upper, -1.0, 1.0)
        tail = np.where(upper, 1.0 - p, p)  # exact for p > 0.5 (Sterbenz)
        comp = m + s * (sign * _ndtri(tail))[:, None]
        lo, hi = comp.min(1), comp.max(1)
        grid = np.sort((m + s * np.linspace(-10.0, 10.0, 129)[:, None]).ravel())
        for sg in (1.0, -1.0):  # narrow the bracket to a cell of a grid of cdf values
            sel = np.flatnonzero(sign == sg)
            vals = sg * (w * _ndtr(sg * (grid[:, None] - m) / s)).sum(1)  # increasing
            j = np.searchsorted(vals, sg * tail[sel])
            inner, j = (j > 0) & (j < grid.size), np.clip(j, 1, grid.size - 1)
            lo[sel] = np.where(inner, np.maximum(lo[sel], grid[j - 1]), lo[sel])
            hi[sel] = np.where(inner, np.minimum(hi[sel], grid[j]), hi[sel])
        x, todo = (lo + hi) / 2, np.arange(p.size)
        for _ in range(200):
            xa, sa = x[todo], sign[todo]
            u = sa[:, None] * (xa[:, None] - m) / s
            mass = (w * _ndtr(u)).sum(1)  # F(x) below the median, S(x) above it
            dens = (w * _npdf(u) / s).sum(1)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                g = sa * (np.log(mass) - np.log(tail[todo]))  # increasing in x
                new = xa - g * mass / dens
            lo[todo] = np.where(g < 0, xa, lo[todo])
            hi[todo] = np.where(g > 0, xa, hi[todo])
            ok = np.isfinite(new) & (new >= lo[todo]) & (new <= hi[todo])
            new = np.where(ok, new, (lo[todo] + hi[todo]) / 2)
            tol = 1e-15 * (1.0 + np.abs(xa))
            # stop at a residual at round-off level, a negligible step or a collapsed bracket
            exact = np.abs(g) < 5e-16
            done = exact | (np.abs(new - xa) <= tol) | (hi[todo] - lo[todo] <= tol)
            x[todo] = np.where(exact, xa, new)
            todo = todo[~done]
            if todo.size == 0:
                break
        return x

    def crps(self, y: ArrayLike) -> np.ndarray:
        """Closed-form CRPS of the mixture at observations ``y`` (Grimit et al., 2006).

        ``CRPS = sum_i w_i A(y - mu_i, s_i^2) - 1/2 sum_ij w_i w_j A(mu_i - mu_j, s_i^2 +
        s_j^2)`` with ``A(mu, s^2) = 2 s phi(mu/s) + mu (2 Phi(mu/s) - 1)``.

        Examples
        --------
        >>> d = ThreePeaks()
        >>> y = d.sample(200_000, seed=2)
        >>> mc = np.abs(y[:100_000] - y[100_000:]).mean() / 2  # E|Y-y| - E|Y-Y'|/2 at y=0
        >>> bool(abs(d.crps(0.0) - (np.abs(y).mean() - mc)) < 0.03)
        True
        """
        y = np.asarray(y, dtype=np.float64)
        w, m, s = self._w, self._m, self._s

        def a_fn(mu: np.ndarray, sd: np.ndarray) -> np.ndarray:
            return 2 * sd * _npdf(mu / sd) + mu * (2 * _ndtr(mu / sd) - 1)

        first = (w * a_fn(y[..., None] - m, s)).sum(-1)
        pair = a_fn(m[:, None] - m[None, :], np.sqrt(s[:, None] ** 2 + s[None, :] ** 2))
        return (first - 0.5 * float(w @ pair @ w))[()]

    def wasserstein1(
        self,
        q_fn: Callable[[np.ndarray], ArrayLike],
        *,
        n_panels: int = 512,
        order: int = 16,
        breaks: ArrayLike = (),
    ) -> float:
        """``W1 = ∫_0^1 |q_fn(α) - Q(α)| dα`` for a vectorised quantile function ``q_fn``.

        Integrates ``∫ |q_fn(F(x)) - x| f(x) dx`` instead (substituting ``α = F(x)``): in
        ``x`` the mixture's near-jumps of ``Q`` between peaks become flat stretches of
        ``f ≈ 0``, and the tails decay like Gaussians. Composite Gauss-Legendre with ``order``
        nodes on about ``2 * n_panels`` panels, whose edges are ``n_panels`` equal steps in
        ``x`` merged with the quantiles at ``n_panels`` equal steps in ``α``, over
        ``[Q(1e-15), Q(1 - 1e-15)]``. A second pass adds edges at the crossings of ``q_fn``
        and ``Q`` (where ``|q_fn - Q|`` has a kink), found by linear interpolation between
        nodes. ``q_fn`` is called twice, with a 1-d array of levels strictly inside (0, 1),
        and must return finite values of the same shape. ``breaks``: levels where ``q_fn``
        itself has kinks (the knots of a piecewise-linear ``q_fn``), made panel edges too.

        Accuracy (checked against adaptive quadrature): the neglected tails carry mass
        2e-15; smooth ``q_fn``: ~1e-13 relative; piecewise-linear ``q_fn`` with 5 or 20
        knots: ~1e-13 with ``breaks``, 5e-8 / 1e-6 without (``O(h^2)`` per unlisted kink).

        Examples
        --------
        >>> d = ThreePeaks()
        >>> bool(d.wasserstein1(d.icdf) < 1e-12)
        True
        >>> round(d.wasserstein1(lambda a: d.icdf(a) - 0.25), 10)
        0.25
        """
        n_panels = _check_int("n_panels", n_panels, 1)
        order = _check_int("order", order, 1)
        nodes, weights = np.polynomial.legendre.leggauss(order)
        x_lo, x_hi = self.icdf([1e-15, 1 - 1e-15])
        levels = np.concatenate([np.linspace(0.0, 1.0, n_panels + 1)[1:-1], np.ravel(breaks)])
        edges = np.concatenate([np.linspace(x_lo, x_hi, n_panels + 1), self.icdf(levels)])
        for _ in range(2):  # the second pass puts edges at the crossings of q_fn and Q
            edges = np.unique(np.clip(edges, x_lo, x_hi))
            half = np.diff(edges)[:, None] / 2
            x = ((edges[:-1, None] + edges[1:, None]) / 2 + half * nodes).ravel()
            alpha = self.cdf(x)
            q_hat = np.asarray(q_fn(alpha), dtype=np.float64)
            if q_hat.shape != alpha.shape:
                raise ValueError(f"q_fn must return shape {alpha.shape}, got {q_hat.shape}")
            if not np.all(np.isfinite(q_hat)):
                raise ValueError("q_fn returned non-finite values for levels inside (0, 1)")
            gap = q_hat - x
            i = np.flatnonzero(np.signbit(gap[:-1]) != np.signbit(gap[1:]))
            roots = x[i] - gap[i] * (x[i + 1] - x[i]) / (gap[i + 1] - gap[i])
            edges = np.concatenate([edges, roots])
        return float(((half * weights).ravel() * self.pdf(x)) @ np.abs(gap))


def three_peaks_panel(
    n_series: int = 1,
    length: int = 1000,
    *,
    start: str | pd.Timestamp = "2020-01-01",
    freq: str = "D",
    seed: int = 0,
    dist: ThreePeaks | None = None,
) -> pd.DataFrame:
    """A long panel of iid :class:`ThreePeaks` draws (``dist``; default ``ThreePeaks()``).

    Ids are ``series_000``, ``series_001``, ...; every series has ``length`` rows.

    Examples
    --------
    >>> df = three_peaks_panel(2, 5, seed=3)
    >>> list(df.columns), len(df), df["unique_id"].iloc[-1], str(df["ds"].dtype)
    (['unique_id', 'ds', 'y'], 10, 'series_001', 'datetime64[ns]')
    """
    n_series = _check_int("n_series", n_series, 1)
    length = _check_int("length", length, 1)
    dist = ThreePeaks() if dist is None else dist
    y = dist.sample(n_series * length, seed=seed).reshape(n_series, length)
    return _frame(_ids("series", n_series), _dates(start, length, freq), {"y": y})


# ----------------------------------------------------------------------------- multi-horizon
@dataclass(frozen=True)
class MultiHorizonGaussian:
    """Seasonal mean plus Gaussian AR(1): an exactly known joint multi-step forecast.

    ``y_t = level + amplitude * sin(2π t / period) + x_t`` with ``x_t = phi x_{t-1} +
    sigma ε_t`` stationary, ``t`` counting ``freq`` steps since 1970-01-01 (for hourly data
    and ``period=24`` the phase is the hour of the day). Given the history up to ``T``,
    ``y_{T+1..T+H}`` is Gaussian with mean ``m_{T+h} + phi^h x_T`` and covariance
    ``Σ_ij = sigma^2 sum_{k<=min(i,j)} phi^(i-k) phi^(j-k)`` at every origin. With the
    default ``phi=0.9`` neighbouring steps correlate at 0.67 (steps 1-2) to 0.9 (23-24),
    and the variance of the 24-step sum is 11 times the sum of the step variances, which
    is what a model of independent per-step marginals would imply.

    Examples
    --------
    >>> g = MultiHorizonGaussian(horizon=3)
    >>> hist = g.panel(2, 48, seed=0)
    >>> mean, cov = g.conditional(hist)
    >>> mean.shape, cov.shape
    ((2, 3), (3, 3))
    >>> bool(np.allclose(np.diag(cov), [1.0, 1.81, 2.4661]))
    True
    """

    horizon: int = 24
    phi: float = 0.9
    sigma: float = 1.0
    period: int = 24
    amplitude: float = 3.0
    level: float = 10.0
    freq: str = "h"

    def __post_init__(self) -> None:
        _check_int("horizon", self.horizon, 1)
        _check_int("period", self.period, 1)
        if not (math.isfinite(self.phi) and abs(self.phi) < 1):
            raise ValueError(f"phi must satisfy |phi| < 1 for stationarity, got {self.phi}")
        if not (math.isfinite(self.sigma) and self.sigma > 0):
            raise ValueError(f"sigma must be positive, got {self.sigma}")
        if not (math.isfinite(self.amplitude) and math.isfinite(self.level)):
            raise ValueError("amplitude and level must be finite")
        try:
            positive = self.step > pd.Timedelta(0)
        except ValueError:
            positive = False
        if not positive:
            raise ValueError(f"freq must be a positive fixed step like 'h', got {self.freq!r}")

    @property
    def step(self) -> pd.Timedelta:
        """One ``freq`` step as a Timedelta (``freq`` must be fixed: 'h', '15min', 'D')."""
        return pd.Timedelta(pd.tseries.frequencies.to_offset(self.freq))

    def seasonal_mean(self, ds: ArrayLike) -> np.ndarray:
        """The deterministic mean ``m`` at timestamps ``ds``."""
        t = (pd.DatetimeIndex(np.ravel(ds)) - _EPOCH) // self.step
        m = self.level + self.amplitude * np.sin(
            2 * np.pi * (t.to_numpy() % self.period) / self.period
        )
        return m.reshape(np.shape(ds))

    def _factor(self) -> np.ndarray:
        """Lower-triangular ``L`` with ``L_ik = sigma phi^(i-k)``; ``covariance() = L L^T``."""
        i = np.arange(self.horizon)
        lag = i[:, None] - i[None, :]
        return np.where(lag >= 0, self.sigma * self.phi ** np.maximum(lag, 0), 0.0)

    def covariance(self) -> np.ndarray:
        """The ``(H, H)`` conditional covariance of the next ``H`` steps (any origin)."""
        factor = self._factor()
        return factor @ factor.T

    def correlation(self) -> np.ndarray:
        """The ``(H, H)`` conditional correlation matrix."""
        cov = self.covariance()
        sd = np.sqrt(np.diag(cov))
        return cov / np.outer(sd, sd)

    def panel(
        self,
        n_series: int = 10,
        length: int = 1000,
        *,
        start: str | pd.Timestamp = "2024-01-01",
        seed: int = 0,
    ) -> pd.DataFrame:
        """``n_series`` independent stationary paths of ``length`` steps (ids ``series_000``...)."""
        n_series = _check_int("n_series", n_series, 1)
        length = _check_int("length", length, 1)
        dates = _dates(start, length, self.freq)
        x = _ar1(np.random.default_rng(seed), n_series, length, self.phi, self.sigma)
        return _frame(_ids("series", n_series), dates, {"y": x + self.seasonal_mean(dates)})

    def conditional(
        self, history: pd.DataFrame, ids: ArrayLike | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Exact conditional mean ``(n_series, H)`` and covariance ``(H, H)`` of the next steps.

        Uses each series' last row (``x_T = y_T - m(ds_T)``); rows follow the sorted unique
        ids, or ``ids`` when given. Step ``h`` falls on ``ds_T + h * step``.
        """
        missing = {"unique_id", "ds", "y"} - set(history.columns)
        if missing or len(history) == 0:
            raise ValueError(f"history is empty or lacks column(s) {sorted(missing)}")
        frame = history[["unique_id", "ds", "y"]].sort_values(["unique_id", "ds"])
        last = frame.groupby("unique_id", sort=True).tail(1).set_index("unique_id")
        if ids is not None:
            wanted = pd.Index(np.ravel(ids)).astype("str")
            if len(absent := wanted.difference(last.index)):
                raise ValueError(f"ids not in history: {list(absent[:5])}")
            last = last.loc[wanted]
        h = np.arange(1, self.horizon + 1)
        x_last = last["y"].to_numpy(np.float64) - self.seasonal_mean(last["ds"].to_numpy())
        future = last["ds"].to_numpy()[:, None] + h * self.step.to_timedelta64()
        mean = self.seasonal_mean(future) + x_last[:, None] * self.phi**h
        return mean, self.covariance()

    def sample_future(
        self, history: pd.DataFrame, n: int, seed: int = 0, ids: ArrayLike | None = None
    ) -> np.ndarray:
        """``n`` joint draws of the next ``H`` steps per series: shape ``(n, n_series, H)``."""
        n = _check_int("n", n, 1)
        mean, _ = self.conditional(history, ids)
        z = np.random.default_rng(seed).standard_normal((n, *mean.shape))
        return mean + z @ self._factor().T


# ----------------------------------------------------------------------------- retail demand
_CATEGORIES = ("apparel", "garden", "grocery", "household", "toys")
_YEARLY_AMP = np.array([0.25, 0.6, 0.1, 0.05, 0.5])  # log-amplitude of the yearly cycle
_YEARLY_PEAK = np.array([320.0, 160.0, 355.0, 20.0, 350.0])  # day of year of the peak
_STORES = ("store_01", "store_02", "store_03", "store_04")
_WEEKLY = np.log([0.9, 0.85, 0.9, 1.0, 1.15, 1.35, 0.85])  # Monday..Sunday


@dataclass(frozen=True, eq=False)
class DemandScenario:
    """A retail-demand forecasting task: history, known future covariates, the answer.

    Attributes
    ----------
    history : DataFrame
        ``unique_id``, ``ds``, ``y``, ``promo``, ``store``, ``category``; up to ``length``
        daily rows per series, all ending on the same day (late launches start later).
    future : DataFrame
        ``unique_id``, ``ds``, ``promo`` for the ``horizon`` steps after the history.
    actuals : DataFrame
        The same ``horizon`` rows with every history column, ``y`` included.
    series : DataFrame
        Per-series truth: ``unique_id``, ``store``, ``category``, ``level`` (mean daily
        demand at the end of the history, before seasonality and promotions), ``trend``
        (log growth per year), ``promo_lift``, ``zero_prob``, ``dispersion`` (gamma shape
        of the negative-binomial noise) and ``first_ds``.
    """

    history: pd.DataFrame
    future: pd.DataFrame
    actuals: pd.DataFrame
    series: pd.DataFrame


def demand_scenario(
    n_series: int = 50,
    length: int = 730,
    *,
    horizon: int = 28,
    start: str | pd.Timestamp = "2024-01-01",
    freq: str = "D",
    seed: int = 0,
    late_fraction: float = 0.1,
) -> DemandScenario:
    """Simulate daily retail demand for ``n_series`` items (ids ``item_000``, ...).

    Mean demand is ``level * weekly * yearly * trend * lift^promo * exp(z)``:

    * ``level`` on [0.2, 500], log10 a scaled Beta(1, 1.4): about half the items are slow
      movers (level below 5), about one in nine sells over 100 a day;
    * multiplicative weekly (weekend peak, store-specific) and yearly (category-specific
      peak: toys at Christmas, garden in June, ...) seasonality on the calendar of ``ds``;
    * a per-series trend of ``N(0, 0.2)`` log growth per year;
    * promotions in spells of 1-7 days (1-4% of days start one), lifting the mean x1.5-2.5;
      ``promo`` is known in advance, so it is also in :attr:`DemandScenario.future`;
    * ``z`` a latent AR(1) (coefficient 0.7, sd 0.3) shock, correlating errors over time.

    Counts are negative binomial (a gamma-Poisson mixture, shape 4-12) and, for slow movers
    (level < 5), zero-inflated with probability 0.1-0.4. A ``late_fraction`` of the series
    (``floor(late_fraction * n_series)``) launch 1/4-1/2 of the way into the history. The
    work is vectorised over series and days: 5000 x 730 takes about a second. The history
    does not depend on ``horizon``.

    Examples
    --------
    >>> sc = demand_scenario(n_series=8, length=60, horizon=7, seed=1)
    >>> int(sc.history.groupby("unique_id").size().max()), len(sc.future), len(sc.actuals)
    (60, 56, 56)
    >>> bool((sc.history["y"] >= 0).all() and (sc.history["y"] % 1 == 0).all())
    True
    """
    n_series = _check_int("n_series", n_series, 1)
    length = _check_int("length", length, 1)
    horizon = _check_int("horizon", horizon, 1)
    if not (0 <= late_fraction <= 1):
        raise ValueError(f"late_fraction must lie in [0, 1], got {late_fraction!r}")
    # one stream for per-series parameters and one per (time, series) array; the arrays are
    # drawn time-major, so the history does not depend on ``horizon``
    rng, r_promo, r_len, r_shock, r_gamma, r_count, r_zero = (
        np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(7)
    )
    n, total = n_series, length + horizon
    dates = _dates(start, total, freq)
    ids = _ids("item", n)

    # per-series parameters
    cat = rng.integers(len(_CATEGORIES), size=n)
    store = rng.integers(len(_STORES), size=n)
    level = 10.0 ** (3.4 * rng.beta(1.0, 1.4, size=n) - 0.7)  # 0.2 .. 500, mostly slow
    trend = rng.normal(0.0, 0.2, size=n)
    promo_rate = rng.uniform(0.01, 0.04, size=n)
    lift = rng.uniform(1.5, 2.5, size=n)
    shape = rng.uniform(4.0, 12.0, size=n)
    zero_prob = np.where(level < 5.0, rng.uniform(0.1, 0.4, size=n), 0.0)
    weekend = rng.normal(0.0, 0.1, size=len(_STORES))[store]
    week = _WEEKLY + rng.normal(0.0, 0.05, size=(n, 7)) + weekend[:, None] * (np.arange(7) >= 5)
    week -= np.log(np.exp(week).mean(1, keepdims=True))
    first = np.zeros(n, dtype=np.int64)
    late = rng.permutation(n)[: int(late_fraction * n)]
    first[late] = rng.integers(length // 4, length // 2 + 1, size=late.size)

    # log mean, time-major (total, n): calendar effects and trend
    t = np.arange(total)[:, None]
    days = ((dates - dates[length - 1]) / pd.Timedelta(days=1)).to_numpy()[:, None]
    phase = 2 * np.pi * (dates.day_of_year.to_numpy()[:, None] - _YEARLY_PEAK[cat]) / 365.25
    log_mean = (
        np.log(level / (1 - zero_prob))
        + week.T[dates.day_of_week.to_numpy()]
        + _YEARLY_AMP[cat] * np.cos(phase)
        + trend * days / 365.25
    )

    # promotions: spells of 1-7 days, via a running maximum of spell end times
    starts = r_promo.random((total, n)) < promo_rate
    ends = np.where(starts, t, 0)
    ends[starts] += r_len.integers(1, 8, size=int(starts.sum()))
    promo = np.maximum.accumulate(ends, axis=0) > t
    log_mean += np.log(lift) * promo

    # latent AR(1) shock, negative-binomial counts, zero inflation
    z = _ar1(r_shock, n, total, 0.7, 0.3 * math.sqrt(1 - 0.7**2)).T
    rate = np.exp(log_mean + z - 0.5 * 0.3**2) * r_gamma.gamma(shape, 1 / shape, (total, n))
    y = r_count.poisson(rate).astype(np.float64)
    y[r_zero.random((total, n)) < zero_prob] = 0.0
    y, promo = y.T, promo.T  # (n, total) for the frames

    stores = pd.Index(_STORES, dtype="str").take(store)
    cats = pd.Index(_CATEGORIES, dtype="str").take(cat)
    cols = {"y": y, "promo": promo, "store": stores, "category": cats}
    step = np.arange(total)
    in_history = (step < length) & (step >= first[:, None])
    in_future = np.broadcast_to(step >= length, (n, total))
    actuals = _frame(ids, dates, cols, in_future)
    series = pd.DataFrame(
        {
            "unique_id": ids,
            "store": stores,
            "category": cats,
            "level": level,
            "trend": trend,
            "promo_lift": lift,
            "zero_prob": zero_prob,
            "dispersion": shape,
            "first_ds": dates[first],
        }
    )
    return DemandScenario(
        history=_frame(ids, dates, cols, in_history),
        future=actuals[["unique_id", "ds", "promo"]].copy(),
        actuals=actuals,
        series=series,
    )


def demand_panel(
    n_series: int = 50,
    length: int = 730,
    *,
    horizon: int = 28,
    start: str | pd.Timestamp = "2024-01-01",
    freq: str = "D",
    seed: int = 0,
    late_fraction: float = 0.1,
) -> pd.DataFrame:
    """The history frame of :func:`demand_scenario` (same arguments, same draws).

    Examples
    --------
    >>> df = demand_panel(n_series=3, length=30, seed=2)
    >>> list(df.columns)
    ['unique_id', 'ds', 'y', 'promo', 'store', 'category']
    >>> df.equals(demand_scenario(n_series=3, length=30, seed=2).history)
    True
    """
    return demand_scenario(
        n_series,
        length,
        horizon=horizon,
        start=start,
        freq=freq,
        seed=seed,
        late_fraction=late_fraction,
    ).history
