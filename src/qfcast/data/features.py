"""Features derived from the data: calendar features from the frequency, age, static embeddings.

Calendar features follow GluonTS's ``time_features_from_frequency_str``: which ones depend on
the frequency (hour-of-day means nothing for monthly data), each normalised to [−0.5, 0.5].
They are computed from integer nanoseconds with numpy's datetime arithmetic — vectorised, so a
batch of windows costs microseconds per value — in the data's own time zone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from .timeindex import TimeIndex

__all__ = [
    "StaticEmbedding",
    "age_feature",
    "calendar_features",
    "embedding_dims",
    "time_feature_names",
]

_NS_SECOND = 10**9
_NS_MINUTE = 60 * _NS_SECOND
_NS_HOUR = 60 * _NS_MINUTE
_NS_DAY = 24 * _NS_HOUR
_DAY_SET = ("day_of_week", "day_of_month", "day_of_year")


def time_feature_names(index: TimeIndex) -> tuple[str, ...]:
    """The calendar features that make sense at the index's frequency.

    >>> from qfcast.data.timeindex import TimeIndex
    >>> time_feature_names(TimeIndex.build("h", None, 0))
    ('hour_of_day', 'day_of_week', 'day_of_month', 'day_of_year')
    >>> time_feature_names(TimeIndex.build("MS", None, 0))
    ('month_of_year',)
    """
    offset = index.offset
    if offset is None:
        return ()
    if isinstance(offset, pd.offsets.Tick):
        nanos = int(offset.nanos)
        if nanos < _NS_MINUTE:
            return ("second_of_minute", "minute_of_hour", "hour_of_day", *_DAY_SET)
        if nanos < _NS_HOUR:
            return ("minute_of_hour", "hour_of_day", *_DAY_SET)
        if nanos < _NS_DAY:
            return ("hour_of_day", *_DAY_SET)
        return _DAY_SET
    if isinstance(offset, (pd.offsets.Day, pd.offsets.BusinessDay, pd.offsets.CustomBusinessDay)):
        return _DAY_SET
    if isinstance(offset, pd.offsets.BusinessHour):
        return ("hour_of_day", *_DAY_SET)
    if isinstance(offset, pd.offsets.Week):
        return ("day_of_month", "week_of_year")
    if isinstance(offset, (pd.offsets.YearBegin, pd.offsets.YearEnd)):
        return ()
    return ("month_of_year",)  # months, quarters, semi-months …


def calendar_features(
    values: np.ndarray, names: Sequence[str], tz: str | None = None
) -> np.ndarray:
    """Calendar features of int64 ns timestamps (UTC), shape ``values.shape + (len(names),)``.

    Each feature lies in [−0.5, 0.5]. ``week_of_year`` is the 7-day block of the year (1–53),
    not the ISO week, so it is the same for a date in every year.

    >>> ns = pd.to_datetime(["2024-01-01 00:00", "2024-12-31 23:00"]).as_unit("ns").asi8
    >>> calendar_features(ns, ["hour_of_day", "day_of_year"]).round(3).tolist()
    [[-0.5, -0.5], [0.5, 0.5]]
    """
    values = np.asarray(values, dtype=np.int64)
    out = np.empty((*values.shape, len(names)), dtype=np.float32)
    if not len(names):
        return out
    if tz is not None:
        local = pd.DatetimeIndex(values.ravel().astype("datetime64[ns]")).tz_localize("UTC")
        values = local.tz_convert(tz).tz_localize(None).asi8.reshape(values.shape)
    days = values // _NS_DAY
    within = values - days * _NS_DAY
    date = days.astype("datetime64[D]")
    month = date.astype("datetime64[M]")
    year = date.astype("datetime64[Y]")

    def day_of_year() -> np.ndarray:
        return (date - year.astype("datetime64[D]")).astype(np.int64)  # 0-based

    parts = {
        "second_of_minute": lambda: (within // _NS_SECOND) % 60 / 59.0,
        "minute_of_hour": lambda: (within // _NS_MINUTE) % 60 / 59.0,
        "hour_of_day": lambda: (within // _NS_HOUR) / 23.0,
        "day_of_week": lambda: ((days + 3) % 7) / 6.0,  # Monday = 0
        "day_of_month": lambda: (date - month.astype("datetime64[D]")).astype(np.int64) / 30.0,
        "day_of_year": lambda: day_of_year() / 365.0,
        "week_of_year": lambda: (day_of_year() // 7) / 52.0,
        "month_of_year": lambda: (month.astype(np.int64) % 12) / 11.0,
    }
    for j, name in enumerate(names):
        if name not in parts:
            raise ValueError(f"unknown calendar feature {name!r}; known: {sorted(parts)}")
        out[..., j] = parts[name]() - 0.5
    return out


def age_feature(steps: np.ndarray) -> np.ndarray:
    """``log10(2 + step)`` of the position within the series (GluonTS's age feature).

    Steps before the series start (left padding) count as 0.

    >>> [round(float(a), 3) for a in age_feature(np.array([-3, 0, 98]))]
    [0.301, 0.301, 2.0]
    """
    return np.log10(2.0 + np.maximum(steps, 0)).astype(np.float32)


def embedding_dims(cardinalities: Sequence[int], max_dim: int = 50) -> tuple[int, ...]:
    """Default embedding sizes: ``min(max_dim, (cardinality + 1) // 2)`` (as in GluonTS).

    >>> embedding_dims([3, 1000])
    (2, 50)
    """
    return tuple(max(1, min(max_dim, (c + 1) // 2)) for c in cardinalities)


class StaticEmbedding(nn.Module):
    """Embeds static categorical codes, one table per column, concatenated.

    Codes come from a :class:`~qfcast.data.panel.Panel` (``panel.static_cat``) and the sizes
    from ``panel.cardinalities`` (which include the "unknown" code for unseen values).

    >>> emb = StaticEmbedding([4, 3])
    >>> emb(torch.tensor([[0, 2], [3, 1]])).shape
    torch.Size([2, 4])
    """

    def __init__(self, cardinalities: Sequence[int], dims: Sequence[int] | None = None) -> None:
        super().__init__()
        dims = embedding_dims(cardinalities) if dims is None else tuple(dims)
        if len(dims) != len(cardinalities):
            raise ValueError(
                f"one embedding size per categorical column: {len(cardinalities)} columns, "
                f"{len(dims)} sizes"
            )
        pairs = zip(cardinalities, dims, strict=True)
        self.tables = nn.ModuleList(nn.Embedding(c, d) for c, d in pairs)
        self.out_features = sum(dims)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        if not len(self.tables):
            return codes.new_zeros((*codes.shape[:-1], 0), dtype=torch.float32)
        return torch.cat([t(codes[..., j]) for j, t in enumerate(self.tables)], dim=-1)
