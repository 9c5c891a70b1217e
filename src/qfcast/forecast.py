"""Forecasts: one query surface in data units, whatever backs them.

A :class:`Forecast` holds the forecast of the next ``horizon`` steps of ``n`` series and answers
``quantile(levels)``, ``cdf(values)``, ``sample(n)``, ``mean()`` and ``interval(coverage)``.
Two kinds back it:

* :class:`DistributionForecast` — a distribution per (series, step), e.g. ISQF: every answer is
  closed form (quantiles at any level, never crossing for monotone families);
* :class:`SampleForecast` — sample paths, e.g. from an autoregressive model: quantiles are
  sample quantiles (sorted, so they never cross), the CDF the share of paths at or below.

Evaluation, plots and decisions use only this surface and never branch on the kind.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch.distributions import Distribution

from .data.errors import DataError

__all__ = [
    "DistributionForecast",
    "Forecast",
    "JointForecast",
    "SampleForecast",
    "quantile_column",
    "sample_correlation",
]

# Quantiles are computed for this many (level, series, step) values at a time.
_CHUNK = 1 << 22
_CRPS_SAMPLES = 1000  # draws for the sample-based CRPS of a distribution without a closed form


def quantile_column(level: float) -> str:
    """The column name of a quantile level: ``q`` + the level as ``%g``.

    >>> [quantile_column(a) for a in (0.05, 0.5, 0.975)]
    ['q0.05', 'q0.5', 'q0.975']
    """
    return f"q{float(level):g}"


def _levels(levels: float | Sequence[float] | np.ndarray) -> np.ndarray:
    out = np.atleast_1d(np.asarray(levels, dtype=np.float64))
    if out.ndim != 1 or not np.all((out > 0) & (out < 1)):
        raise ValueError(f"quantile levels must lie strictly between 0 and 1, got {levels!r}")
    return out


class Forecast(ABC):
    """Forecast of ``horizon`` steps for each series; rows are (series, step), series-major.

    Parameters
    ----------
    ids : array (n,)
        Series ids.
    timestamps : array-like (n * horizon,)
        The forecast timestamps, series-major.
    horizon : int
    id_col, time_col : str
        Column names of the frames this forecast returns.
    """

    def __init__(
        self,
        ids: np.ndarray,
        timestamps: object,
        horizon: int,
        id_col: str = "unique_id",
        time_col: str = "ds",
    ) -> None:
        self.ids = np.asarray(ids)
        self.timestamps = timestamps
        self.horizon = int(horizon)
        self.id_col, self.time_col = id_col, time_col

    @property
    def n_series(self) -> int:
        return len(self.ids)

    def __len__(self) -> int:
        return self.n_series * self.horizon

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.n_series} series × {self.horizon} steps)"

    def _frame(self, columns: dict[str, np.ndarray]) -> pd.DataFrame:
        base = {
            self.id_col: np.repeat(self.ids, self.horizon),
            self.time_col: self.timestamps,
        }
        return pd.DataFrame({**base, **columns})

    # ------------------------------------------------------------------ the surface
    def quantile(self, levels: float | Sequence[float]) -> pd.DataFrame:
        """One column per level (``q0.05`` …), one row per (series, step), data units."""
        levels = _levels(levels)
        values = self._quantiles(levels)  # (K, n, H)
        return self._frame(
            {quantile_column(a): values[k].reshape(-1) for k, a in enumerate(levels)}
        )

    def interval(self, coverage: float = 0.9) -> pd.DataFrame:
        """The central interval holding ``coverage`` of the probability, as two quantiles."""
        if not 0 < coverage < 1:
            raise ValueError(f"coverage must lie strictly between 0 and 1, got {coverage!r}")
        tail = (1 - coverage) / 2
        return self.quantile([tail, 1 - tail])

    def mean(self) -> pd.DataFrame:
        """The forecast mean per (series, step)."""
        return self._frame({"mean": self._mean().reshape(-1)})

    def cdf(self, values: object) -> pd.DataFrame:
        """P(Y ≤ value) per (series, step).

        ``values`` is a scalar, an array with one value per row (series-major, as
        :meth:`quantile` orders rows), or a DataFrame with the id and time columns and a
        value column (e.g. the actuals, named like the target or ``y``), matched on
        (id, time) — which gives the probability integral transform of the actuals.
        """
        query = self._query_values(values)
        return self._frame({"value": query.reshape(-1), "cdf": self._cdf(query).reshape(-1)})

    def crps(self, values: object) -> pd.DataFrame:
        """The CRPS of each value (e.g. the actuals) per (series, step), data units.

        ``values`` as for :meth:`cdf`; NaN values give NaN. Closed form where the forecast is
        a distribution with one (ISQF, IQF, SQF, Gaussian, Student-t, …); otherwise the
        standard estimator over the sample paths (``E|X − y| − ½E|X − X′|``).
        """
        query = self._query_values(values)
        seen = ~np.isnan(query)
        crps = self._crps(np.where(seen, query, 0.0))
        return self._frame(
            {"value": query.reshape(-1), "crps": np.where(seen, crps, np.nan).reshape(-1)}
        )

    def _crps(self, values: np.ndarray) -> np.ndarray:
        from .metrics import _crps_nrg

        return _crps_nrg(values, self.sample(_CRPS_SAMPLES, seed=0))

    @abstractmethod
    def sample(self, n: int = 100, seed: int | None = None) -> np.ndarray:
        """``n`` sample paths, shape ``(n, n_series, horizon)``, data units."""

    # ------------------------------------------------------------------ backends
    @abstractmethod
    def _quantiles(self, levels: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def _mean(self) -> np.ndarray: ...

    @abstractmethod
    def _cdf(self, values: np.ndarray) -> np.ndarray: ...

    def _query_values(self, values: object) -> np.ndarray:
        shape = (self.n_series, self.horizon)
        if isinstance(values, pd.DataFrame):
            value_col = [c for c in values.columns if c not in (self.id_col, self.time_col)]
            if len(value_col) != 1:
                raise DataError(
                    f"a values frame needs {self.id_col!r}, {self.time_col!r} and one value "
                    f"column; got {list(values.columns)}"
                )
            keys = self._frame({})
            merged = keys.merge(values, on=[self.id_col, self.time_col], how="left")
            if len(merged) != len(keys):
                raise DataError("the values frame repeats (id, time) pairs")
            missing = merged[value_col[0]].isna()
            if missing.any():
                examples = merged.loc[missing, [self.id_col, self.time_col]].head(3)
                raise DataError(
                    f"the values frame has no value for {int(missing.sum())} forecast rows, "
                    f"e.g. {examples.to_dict('records')}"
                )
            return merged[value_col[0]].to_numpy(np.float64).reshape(shape)
        array = np.asarray(values, dtype=np.float64)
        if array.ndim == 0:
            return np.full(shape, float(array))
        if array.size != self.n_series * self.horizon:
            raise ValueError(
                f"values must be a scalar or have one value per row ({self.n_series} series × "
                f"{self.horizon} steps = {self.n_series * self.horizon}), got {array.size}"
            )
        return array.reshape(shape)


class DistributionForecast(Forecast):
    """A forecast backed by a distribution with ``batch_shape == (n_series, horizon)``."""

    def __init__(self, distribution: Distribution, ids, timestamps, horizon, **names) -> None:
        super().__init__(ids, timestamps, horizon, **names)
        if tuple(distribution.batch_shape) != (len(self.ids), self.horizon):
            raise ValueError(
                f"distribution batch shape {tuple(distribution.batch_shape)} is not "
                f"(n_series, horizon) = {(len(self.ids), self.horizon)}"
            )
        self.distribution = distribution

    def _dtype(self) -> torch.dtype:
        """The distribution's floating dtype, read off its parameters (not computed)."""
        return _param_dtype(self.distribution)

    def _quantiles(self, levels: np.ndarray) -> np.ndarray:
        per_level = max(1, self.n_series * self.horizon)
        step = max(1, _CHUNK // per_level)
        parts = []
        with torch.no_grad():
            for i in range(0, len(levels), step):
                alpha = torch.as_tensor(levels[i : i + step], dtype=self._dtype())
                parts.append(self.distribution.icdf(alpha[:, None, None]).cpu().numpy())
        return np.concatenate(parts).astype(np.float64)

    def _mean(self) -> np.ndarray:
        with torch.no_grad():
            return self.distribution.mean.cpu().numpy().astype(np.float64)

    def _cdf(self, values: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            y = torch.tensor(values, dtype=self._dtype())
            return self.distribution.cdf(y).cpu().numpy().astype(np.float64)

    def _crps(self, values: np.ndarray) -> np.ndarray:
        from .distributions.scaled import crps

        with torch.no_grad():
            y = torch.tensor(values, dtype=self._dtype())
            try:
                return crps(self.distribution, y).cpu().numpy().astype(np.float64)
            except TypeError:  # no closed form for this family: from samples
                return super()._crps(values)

    def sample(self, n: int = 100, seed: int | None = None) -> np.ndarray:
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        levels = torch.rand((n, self.n_series, self.horizon), generator=generator)
        with torch.no_grad():  # inverse transform sampling: exact for every family
            out = self.distribution.icdf(levels.to(self._dtype()).clamp(1e-6, 1 - 1e-6))
        return out.cpu().numpy().astype(np.float64)


def sample_correlation(samples: np.ndarray) -> np.ndarray:
    """Per-series correlation across steps of sample paths ``(S, n, H)``: ``(n, H, H)``."""
    x = samples - samples.mean(0)
    cov = np.einsum("snh,snk->nhk", x, x) / max(len(samples) - 1, 1)
    sd = np.sqrt(np.clip(np.einsum("nhh->nh", cov), 1e-300, None))
    return cov / sd[:, :, None] / sd[:, None, :]


def _param_dtype(distribution: Distribution) -> torch.dtype:
    for value in vars(distribution).values():
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            return value.dtype
        if isinstance(value, Distribution):
            return _param_dtype(value)
    return torch.get_default_dtype()


class SampleForecast(Forecast):
    """A forecast backed by sample paths ``(num_samples, n_series, horizon)``."""

    def __init__(self, samples: np.ndarray, ids, timestamps, horizon, **names) -> None:
        super().__init__(ids, timestamps, horizon, **names)
        samples = np.asarray(samples, dtype=np.float64)
        if samples.ndim != 3 or samples.shape[1:] != (len(self.ids), self.horizon):
            raise ValueError(
                f"samples must have shape (num_samples, {len(self.ids)}, {self.horizon}), got "
                f"{samples.shape}"
            )
        self.samples = samples  # paths: joint across steps

    def _quantiles(self, levels: np.ndarray) -> np.ndarray:
        # sample quantiles are non-decreasing in the level: they never cross
        return np.quantile(self.samples, levels, axis=0)

    def _mean(self) -> np.ndarray:
        return self.samples.mean(axis=0)

    def _crps(self, values: np.ndarray) -> np.ndarray:
        from .metrics import _crps_nrg

        return _crps_nrg(values, self.samples)

    def _cdf(self, values: np.ndarray) -> np.ndarray:
        return (self.samples <= values[None]).mean(axis=0)

    def sample(self, n: int = 100, seed: int | None = None) -> np.ndarray:
        """``n`` of the stored paths, drawn with replacement (whole paths, so the dependence
        across steps is kept)."""
        rng = np.random.default_rng(seed)
        pick = rng.integers(0, len(self.samples), size=n)
        return self.samples[pick]

    # ------------------------------------------------------------------ joint questions
    def _steps(self, steps: object) -> np.ndarray:
        index = np.arange(self.horizon)
        chosen = (
            index[steps]
            if isinstance(steps, slice)
            else np.asarray(index if steps is None else list(steps), dtype=np.int64)
        )
        if chosen.size == 0 or chosen.min() < 0 or chosen.max() >= self.horizon:
            raise ValueError(
                f"steps must be 0-based horizon steps in [0, {self.horizon}), got {steps!r}"
            )
        return chosen

    def sum_quantile(self, levels: float | Sequence[float], steps: object = None) -> pd.DataFrame:
        """Quantiles of the total over ``steps`` (0-based; default: the whole horizon), one row
        per series — lead-time demand, from the joint sample paths (dependence kept)."""
        levels = _levels(levels)
        totals = self.samples[:, :, self._steps(steps)].sum(-1)  # (S, n)
        values = np.quantile(totals, levels, axis=0)
        return pd.DataFrame(
            {self.id_col: self.ids, **{quantile_column(a): values[k] for k, a in enumerate(levels)}}
        )

    def correlation(self) -> np.ndarray:
        """Correlation matrix across the horizon steps for each series, ``(n, H, H)``."""
        return sample_correlation(self.samples)


class JointForecast(SampleForecast):
    """A joint forecast over the horizon (MQF²): sample paths for every query, plus the exact
    multivariate quantile map of the distribution behind them."""

    def __init__(self, samples, distribution: Distribution, ids, timestamps, horizon, *,
                 seed: int | None = None, **names) -> None:  # fmt: skip
        super().__init__(samples, ids, timestamps, horizon, **names)
        self.distribution, self.seed = distribution, seed

    def multivariate_quantile(self, levels: Sequence[float] | np.ndarray) -> pd.DataFrame:
        """The joint quantile at a level vector ``u`` in (0, 1)^H (one vector for every
        series, or one row per series): ∇φ(Φ⁻¹(u)) — the point of the multivariate quantile
        map, not a set of marginal quantiles."""
        u = np.asarray(levels, dtype=np.float64)
        if u.shape not in {(self.horizon,), (self.n_series, self.horizon)}:
            raise ValueError(
                f"levels must have shape ({self.horizon},) or ({self.n_series}, "
                f"{self.horizon}), got {u.shape}"
            )
        if not np.all((u > 0) & (u < 1)):
            raise ValueError("multivariate quantile levels must lie strictly between 0 and 1")
        dtype = self.distribution.context.dtype
        with torch.no_grad():
            u_t = torch.as_tensor(np.broadcast_to(u, (self.n_series, self.horizon)).copy())
            values = self.distribution.icdf(u_t.to(dtype)).cpu().numpy().astype(np.float64)
        return self._frame({"value": values.reshape(-1)})
