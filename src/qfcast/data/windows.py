"""Windows over a :class:`~qfcast.data.panel.Panel`: random ones for training, the last horizon
for validation, the last context for inference — all gathered with one vectorised index.

A window of series ``s`` at *origin* ``t`` (the local step of the first forecast step) covers
the ``context`` steps before ``t`` and the ``horizon`` steps from ``t``. Steps before the
series start are left-padded: their target is 0 and ``past_observed`` is False, exactly like
a NaN target, so padding and missing values are masked out of losses and scalers alike.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Literal

import numpy as np
import torch

from .errors import DataError, DataWarning, describe_ids
from .features import age_feature, calendar_features, time_feature_names
from .panel import Panel

# Windows are gathered in pieces of about this many steps, so temporaries stay small.
_CHUNK_ELEMENTS = 1 << 20

__all__ = [
    "WindowSampler",
    "Windows",
    "gather",
    "inference_batches",
    "inference_windows",
    "split_validation",
    "validation_windows",
]


@dataclass
class Windows:
    """A batch of B windows (tensors are float32 unless noted; T = calendar features + age).

    ``past_dynamic`` holds the past-only covariates then the future-known ones over the
    context; ``future_dynamic`` the future-known ones over the horizon.
    """

    series: torch.Tensor  # (B,) int64 index into the panel's series
    origin: torch.Tensor  # (B,) int64 local step of the first forecast step
    past_target: torch.Tensor  # (B, C), 0 where not observed
    past_observed: torch.Tensor  # (B, C) bool
    future_target: torch.Tensor  # (B, H), 0 where not observed (all 0 at inference)
    future_observed: torch.Tensor  # (B, H) bool
    past_time: torch.Tensor  # (B, C, T)
    future_time: torch.Tensor  # (B, H, T)
    past_dynamic: torch.Tensor  # (B, C, P + F)
    future_dynamic: torch.Tensor  # (B, H, F)
    static_real: torch.Tensor  # (B, R)
    static_cat: torch.Tensor  # (B, S) int64

    def __len__(self) -> int:
        return len(self.series)

    def __getitem__(self, index: slice | torch.Tensor | np.ndarray) -> Windows:
        """The windows selected by ``index`` (a slice, or indices)."""
        return Windows(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def to(self, device: torch.device | str) -> Windows:
        return Windows(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})


def gather(
    panel: Panel,
    series: np.ndarray,
    origin: np.ndarray,
    context: int,
    horizon: int,
    future_known: np.ndarray | None = None,
) -> Windows:
    """Windows of ``series`` at ``origin`` (local steps), padded and masked as needed.

    ``future_known`` (n_series, horizon, F) supplies future-known covariates for steps past
    the end of the series (inference); inside the series they come from the panel.
    """
    series = np.asarray(series, dtype=np.int64)
    origin = np.asarray(origin, dtype=np.int64)
    rows = max(1, _CHUNK_ELEMENTS // (context + horizon))
    if len(series) > rows:  # many windows: gather in cache-sized pieces, then join
        parts = [
            gather(
                panel, series[i : i + rows], origin[i : i + rows], context, horizon, future_known
            )
            for i in range(0, len(series), rows)
        ]
        return Windows(
            **{f.name: torch.cat([getattr(p, f.name) for p in parts]) for f in fields(Windows)}
        )
    steps = origin[:, None] + np.arange(-context, horizon)  # (B, C + H) local steps
    lengths = panel.lengths[series][:, None]
    inside = (steps >= 0) & (steps < lengths)
    flat = panel.offsets[:-1][series][:, None] + np.clip(steps, 0, np.maximum(lengths - 1, 0))
    flat = np.minimum(flat, max(len(panel.target) - 1, 0))

    target = panel.target[flat] if len(panel.target) else np.full(flat.shape, np.nan)
    observed = inside & ~np.isnan(target)
    target = np.where(observed, target, 0.0).astype(np.float32)

    known = panel.future[flat] * inside[..., None]
    if future_known is not None and future_known.shape[-1]:
        ahead = steps - lengths
        beyond = (ahead >= 0) & (ahead < future_known.shape[1])
        rows, cols = np.nonzero(beyond)
        known[rows, cols] = future_known[series[rows], ahead[rows, cols]]
    past_only = panel.past[flat] * inside[..., None]

    index = panel.index
    names = time_feature_names(index)
    stamps = panel.timestamps(series[:, None], steps)
    time = np.concatenate(
        [calendar_features(stamps, names, index.tz), age_feature(steps)[..., None]], axis=-1
    )

    def split(a: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        t = torch.from_numpy(np.ascontiguousarray(a))
        return t[:, :context], t[:, context:]

    past_target, future_target = split(target)
    past_observed, future_observed = split(observed)
    past_time, future_time = split(time)
    past_known, future_known_t = split(known.astype(np.float32, copy=False))
    past_only_t, _ = split(past_only.astype(np.float32, copy=False))
    return Windows(
        series=torch.from_numpy(series),
        origin=torch.from_numpy(origin),
        past_target=past_target,
        past_observed=past_observed,
        future_target=future_target,
        future_observed=future_observed,
        past_time=past_time,
        future_time=future_time,
        past_dynamic=torch.cat([past_only_t, past_known], dim=-1),
        future_dynamic=future_known_t,
        static_real=torch.from_numpy(panel.static_real[series]),
        static_cat=torch.from_numpy(panel.static_cat[series]),
    )


def _warn_short(panel: Panel, chosen: np.ndarray, context: int, need: int, what: str) -> None:
    short = chosen[panel.lengths[chosen] < need]
    if len(short):
        warnings.warn(
            f"{len(short)} series are shorter than the {context}-step context{what} "
            f"({describe_ids(panel.ids[short])}); their windows are left-padded and the "
            "padding is masked",
            DataWarning,
            stacklevel=3,
        )


def _usable(panel: Panel, need: int, purpose: str) -> np.ndarray:
    usable = np.flatnonzero(panel.lengths >= need)
    dropped = panel.n_series - len(usable)
    if len(usable) == 0:
        raise DataError(
            f"no series is long enough for {purpose}: each needs at least {need} steps, the "
            f"longest has {panel.lengths.max() if panel.n_series else 0}"
        )
    if dropped:
        skipped = np.setdiff1d(np.arange(panel.n_series), usable)
        warnings.warn(
            f"{dropped} series have fewer than {need} steps and are left out of {purpose}: "
            f"{describe_ids(panel.ids[skipped])}",
            DataWarning,
            stacklevel=3,
        )
    return usable


class WindowSampler:
    """Random training windows: a series, then an origin with the whole horizon inside it.

    Parameters
    ----------
    weighting : "uniform" or "length"
        ``"uniform"`` picks each usable series equally often; ``"length"`` picks series in
        proportion to their number of possible windows (so every window is equally likely).
    min_past : int
        Observed context steps required before the origin (at least 1).

    Series shorter than ``min_past + horizon`` cannot give a window and are left out (with a
    warning naming them); series shorter than ``context + horizon`` are left-padded (with a
    warning, once).

    >>> import pandas as pd
    >>> df = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2024-01-01", periods=50),
    ...                    "y": range(50)})
    >>> sampler = WindowSampler(Panel.from_frame(df), context=7, horizon=3, seed=0)
    >>> batch = sampler.sample(4)
    >>> tuple(batch.past_target.shape), tuple(batch.future_target.shape)
    ((4, 7), (4, 3))
    >>> bool((batch.future_target[:, 0] == batch.origin.float()).all())  # y is the step
    True
    """

    def __init__(
        self,
        panel: Panel,
        context: int,
        horizon: int,
        *,
        weighting: Literal["uniform", "length"] = "uniform",
        min_past: int = 1,
        seed: int | np.random.Generator | None = None,
    ) -> None:
        if context < 1 or horizon < 1 or min_past < 1:
            raise ValueError(
                f"context, horizon and min_past must be >= 1, got {context}, {horizon}, {min_past}"
            )
        if weighting not in ("uniform", "length"):
            raise ValueError(f"weighting must be 'uniform' or 'length', got {weighting!r}")
        self.panel, self.context, self.horizon = panel, context, horizon
        self.min_past = min(min_past, context)
        self.series = _usable(panel, self.min_past + horizon, "training windows")
        _warn_short(panel, self.series, context, context + horizon, " plus horizon")
        self.counts = panel.lengths[self.series] - horizon - self.min_past + 1
        if weighting == "length":
            self.p = self.counts / self.counts.sum()
        else:
            self.p = None
        self.rng = np.random.default_rng(seed)

    @property
    def n_windows(self) -> int:
        """How many distinct training windows the panel holds."""
        return int(self.counts.sum())

    def draw(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(series, origin) of ``n`` random windows."""
        pick = self.rng.choice(len(self.series), size=n, p=self.p)
        origin = self.min_past + (self.rng.random(n) * self.counts[pick]).astype(np.int64)
        return self.series[pick], origin

    def sample(self, n: int) -> Windows:
        """``n`` random windows, gathered."""
        series, origin = self.draw(n)
        return gather(self.panel, series, origin, self.context, self.horizon)


def validation_windows(panel: Panel, context: int, horizon: int, windows: int = 1) -> Windows:
    """``windows`` windows per series: the last ``windows`` stretches of ``horizon`` steps,
    each forecast from what precedes it (newest first per series).

    Series with ``horizon`` steps or fewer have no context left and are left out (warned);
    a series too short for all ``windows`` gives the ones that fit.
    """
    if isinstance(windows, bool) or not isinstance(windows, int) or windows < 1:
        raise ValueError(f"windows must be a positive int, got {windows!r}")
    series = _usable(panel, horizon + 1, "validation")
    _warn_short(panel, series, context, context + horizon, " plus horizon")
    back = np.arange(1, windows + 1) * horizon  # newest first: 1, 2, … horizons from the end
    origin = panel.lengths[series, None] - back  # (series, windows)
    keep = origin >= 1
    return gather(panel, np.repeat(series, keep.sum(1)), origin[keep], context, horizon)


def split_validation(
    panel: Panel, context: int, horizon: int, windows: int = 1
) -> tuple[Panel, Windows]:
    """(training panel, validation windows): the last ``windows · horizon`` steps of every
    series are held out for validation and removed from the panel the sampler trains on."""
    validation = validation_windows(panel, context, horizon, windows)
    return panel.drop_last(windows * horizon), validation


def inference_batches(
    panel: Panel,
    context: int,
    horizon: int,
    future_df: object = None,
    batch_size: int = 1024,
) -> Iterator[Windows]:
    """The inference windows of every series, ``batch_size`` series at a time: the last
    ``context`` steps, and the ``horizon`` steps after the end with their future-known
    covariates from ``future_df``. The future frame is checked, and short series are
    announced, once for the whole panel."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    empty = np.flatnonzero(panel.lengths == 0)
    if len(empty):
        raise DataError(f"series {describe_ids(panel.ids[empty])} have no history to forecast")
    _warn_short(panel, np.arange(panel.n_series), context, context, "")
    known = panel.future_covariates(future_df, horizon)
    for lo in range(0, panel.n_series, batch_size):
        series = np.arange(lo, min(lo + batch_size, panel.n_series))
        yield gather(panel, series, panel.lengths[series], context, horizon, known)


def inference_windows(
    panel: Panel, context: int, horizon: int, future_df: object = None
) -> Windows:
    """One inference window per series, all at once (see :func:`inference_batches`)."""
    return next(inference_batches(panel, context, horizon, future_df, max(panel.n_series, 1)))
