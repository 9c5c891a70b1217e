"""Frequencies and the regular time grid: timestamps ↔ integer steps, vectorised.

Every series lives on one regular grid. A :class:`TimeIndex` maps timestamps to integer
*global steps* and back, with no per-series Python loop:

* **fixed** frequencies (hours, minutes, naive days and weeks …) are plain arithmetic on
  nanoseconds. Each series may sit at its own phase within a step (one hourly series on the
  hour, another at half past), which is kept per series;
* **calendar** frequencies (month starts, business days, quarters, days in a time zone with
  daylight saving …) go through one ``pandas.date_range`` grid shared by the whole panel, built
  once over the distinct timestamps (a panel has far fewer distinct timestamps than rows);
* **integer** time columns (no timestamps at all) use the integer itself, with a step size.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from .errors import DataError

__all__ = ["TimeIndex", "infer_freq", "season_length", "series_gaps", "to_freq"]

_NS_PER_DAY = 86_400 * 10**9
# Aliases that pandas 3 no longer accepts but users still type.
_OLD_ALIASES = {"M": "ME", "Y": "YE", "A": "YE", "Q": "QE", "H": "h", "T": "min", "S": "s"}


def to_freq(freq: object) -> pd.DateOffset:
    """A pandas offset from a frequency string or offset, accepting pre-pandas-3 aliases.

    >>> to_freq("h").freqstr, to_freq("M").freqstr, to_freq("W").freqstr
    ('h', 'ME', 'W-SUN')
    """
    try:
        return to_offset(freq)
    except (ValueError, TypeError):
        pass
    if isinstance(freq, str):
        head = freq.lstrip("0123456789")
        base, _, anchor = head.partition("-")
        if base in _OLD_ALIASES:
            multiple = freq[: len(freq) - len(head)]
            new = multiple + _OLD_ALIASES[base] + (f"-{anchor}" if anchor else "")
            try:
                return to_offset(new)
            except (ValueError, TypeError):
                pass
    raise DataError(
        f"freq={freq!r} is not a pandas frequency; use e.g. 'h', '30min', 'D', 'B', 'W-SUN', "
        "'MS', 'QS', 'YS' (see pandas 'offset aliases')"
    )


def season_length(freq: object) -> int:
    """The main seasonal period in steps: a day of sub-daily steps, a week of days, a year of
    weeks, months or quarters; 1 when there is none (years, integer time).

    >>> [season_length(f) for f in ("h", "30min", "D", "B", "W-SUN", "MS", "QS", "YS", 1)]
    [24, 48, 7, 5, 52, 12, 4, 1, 1]
    """
    if isinstance(freq, (int, np.integer)) and not isinstance(freq, bool):
        return 1
    offset = to_freq(freq)
    if isinstance(offset, pd.offsets.Tick) and offset.nanos < _NS_PER_DAY:
        per_day, rest = divmod(_NS_PER_DAY, int(offset.nanos))
        return per_day if rest == 0 else 1
    if isinstance(offset, (pd.offsets.Day, pd.offsets.Tick)):
        return 7
    if isinstance(offset, (pd.offsets.BusinessDay, pd.offsets.CustomBusinessDay)):
        return 5
    if isinstance(offset, pd.offsets.Week):
        return 52
    if isinstance(offset, (pd.offsets.MonthBegin, pd.offsets.MonthEnd)):
        return 12
    if isinstance(offset, (pd.offsets.QuarterBegin, pd.offsets.QuarterEnd)):
        return 4
    return 1


def _fixed_nanos(offset: pd.DateOffset, tz: str | None) -> int | None:
    """The length of one step in ns when it never varies, else None (calendar frequency)."""
    if isinstance(offset, pd.offsets.Tick):
        return int(offset.nanos)
    if tz is None and isinstance(offset, pd.offsets.Day):
        return int(offset.n) * _NS_PER_DAY
    if tz is None and isinstance(offset, pd.offsets.Week):
        return int(offset.n) * 7 * _NS_PER_DAY
    return None


def infer_freq(
    times: np.ndarray, codes: np.ndarray, lengths: np.ndarray, tz: str | None = None
) -> pd.DateOffset | None:
    """Infer a frequency from ns timestamps (UTC; ``codes`` give each row's series).

    Tries the longest series, whole and then in short runs of consecutive timestamps (so a
    few gaps do not defeat it; the most common answer wins), then the union of all distinct
    timestamps, then the most common positive gap within series. None when nothing works.
    Series may sit at different phases, which is why one series is tried before the union.
    """
    if len(times) < 2:
        return None
    longest = np.sort(np.unique(times[codes == int(np.argmax(lengths))]))
    found = _infer(longest, tz)
    if found is None and len(longest) >= 6:
        starts = np.unique(np.linspace(0, len(longest) - 6, num=25).astype(int))
        votes = [f for f in (_infer(longest[k : k + 6], tz) for k in starts) if f is not None]
        if votes:
            names, counts = np.unique([f.freqstr for f in votes], return_counts=True)
            found = to_offset(names[np.argmax(counts)])
    if found is None and len(np.unique(codes)) > 1:
        found = _infer(np.sort(pd.unique(times)), tz)
    if found is not None:
        return found
    gaps = series_gaps(times, codes)
    if len(gaps) == 0:
        return None
    values, counts = np.unique(gaps, return_counts=True)
    return to_offset(pd.Timedelta(int(values[np.argmax(counts)]), unit="ns"))


def series_gaps(values: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """The positive gaps between consecutive values of each series (``codes``), pooled.

    >>> series_gaps(np.array([5, 1, 3, 10, 20]), np.array([0, 0, 0, 1, 1])).tolist()
    [2, 2, 10]
    """
    order = np.lexsort((values, codes))
    gaps = np.diff(values[order])[np.diff(codes[order]) == 0]
    return gaps[gaps > 0]


def _infer(values: np.ndarray, tz: str | None) -> pd.DateOffset | None:
    if len(values) < 3:
        return None
    index = pd.DatetimeIndex(values.astype("datetime64[ns]"))
    if tz is not None:
        index = index.tz_localize("UTC").tz_convert(tz)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = pd.infer_freq(index)
    return None if found is None else to_offset(found)


@dataclass(eq=False)
class TimeIndex:
    """Maps timestamps (ns since the epoch, UTC) or integers to global integer steps and back.

    Build it with :meth:`build`; :meth:`locate` maps values to steps and says which are on
    the grid.

    >>> ts = pd.to_datetime(["2024-01-31", "2024-02-29", "2024-04-30"]).as_unit("ns")
    >>> index = TimeIndex.build("ME", None, ts.asi8[0])
    >>> steps, phase, on_grid = index.locate(ts.asi8)
    >>> steps.tolist(), bool(on_grid.all())
    ([0, 1, 3], True)
    >>> index.to_datetime(np.array([2]), np.array([0]))[0]
    Timestamp('2024-03-31 00:00:00')
    """

    freq: str | int
    tz: str | None = None
    offset: pd.DateOffset | None = None
    step_ns: int | None = None  # fixed frequencies and integer time (the integer step size)
    anchor: int = 0  # calendar frequencies: ns of global step 0
    _grid: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64), repr=False)
    _grid_first: int = 0  # global step of _grid[0]

    @property
    def is_integer(self) -> bool:
        return self.offset is None

    @property
    def is_calendar(self) -> bool:
        return self.offset is not None and self.step_ns is None

    @classmethod
    def build(cls, freq: object, tz: str | None, first: int) -> TimeIndex:
        """The index for ``freq`` (an offset alias, or an int step for integer time).

        ``first`` (ns, UTC) anchors calendar grids: step 0 is the first grid point at or
        after it.
        """
        if isinstance(freq, (int, np.integer)) and not isinstance(freq, bool):
            if freq < 1:
                raise DataError(f"an integer freq must be a positive step size, got {freq}")
            return cls(freq=int(freq), step_ns=int(freq))
        offset = to_freq(freq)
        fixed = _fixed_nanos(offset, tz)
        if fixed is not None:
            return cls(offset.freqstr, tz, offset, fixed)
        start = pd.Timestamp(int(first), unit="ns", tz="UTC")
        start = start.tz_convert(tz) if tz is not None else start.tz_localize(None)
        anchor = start if offset.is_on_offset(start) else offset.rollforward(start)
        return cls(offset.freqstr, tz, offset, None, _utc_ns(pd.DatetimeIndex([anchor]))[0])

    def locate(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(global step, phase within the step, on the grid?) for each int64 value.

        The phase is the offset within a fixed step (0 for calendar frequencies); the caller
        checks it is the same for every row of a series.
        """
        values = np.asarray(values, dtype=np.int64)
        if self.step_ns is not None:
            steps, phase = np.divmod(values, self.step_ns)
            ok = np.ones(len(values), dtype=bool)
            if isinstance(self.offset, pd.offsets.Week) and self.offset.weekday is not None:
                # anchored weeks: the day within the week must be the named weekday
                day = (values // _NS_PER_DAY + 3) % 7  # 1970-01-01 was a Thursday
                ok = day == self.offset.weekday
            return steps, phase, ok
        codes, uniques = pd.factorize(values)
        order = np.argsort(uniques)
        sorted_uniques = uniques[order]
        self._cover(int(sorted_uniques[0]), int(sorted_uniques[-1]))
        where = np.searchsorted(self._grid, sorted_uniques)
        where = np.minimum(where, len(self._grid) - 1)
        unique_steps = np.empty(len(uniques), dtype=np.int64)
        unique_steps[order] = where + self._grid_first
        unique_ok = np.empty(len(uniques), dtype=bool)
        unique_ok[order] = self._grid[where] == sorted_uniques
        return unique_steps[codes], np.zeros(len(values), dtype=np.int64), unique_ok[codes]

    def _cover(self, lo_value: int, hi_value: int) -> None:
        """Extend the calendar grid until it spans [lo_value, hi_value] (ns)."""
        approx = _approx_nanos(self.offset)
        lo = int(np.floor((lo_value - self.anchor) / approx * 1.2)) - 8
        hi = int(np.ceil((hi_value - self.anchor) / approx * 1.2)) + 8
        self._extend(lo, hi)
        while self._grid[0] > lo_value:
            self._extend(self._grid_first - len(self._grid), 0)
        while self._grid[-1] < hi_value:
            self._extend(0, self._grid_first + 2 * len(self._grid))

    def _extend(self, lo: int, hi: int) -> None:
        """Make the cached calendar grid cover global steps [lo, hi] (and step 0)."""
        if len(self._grid):
            first, last = self._grid_first, self._grid_first + len(self._grid) - 1
            if lo >= first and hi <= last:
                return
            lo, hi = min(lo, first), max(hi, last)
        lo, hi = min(lo, 0), max(hi, 0)
        anchor = pd.Timestamp(self.anchor, unit="ns", tz="UTC")
        anchor = anchor.tz_convert(self.tz) if self.tz else anchor.tz_localize(None)
        before = pd.date_range(end=anchor, periods=1 - lo, freq=self.offset)[:-1]
        after = pd.date_range(anchor, periods=hi + 1, freq=self.offset)
        self._grid = np.concatenate([_utc_ns(before), _utc_ns(after)])
        self._grid_first = lo

    def to_values(self, steps: np.ndarray, phase: np.ndarray) -> np.ndarray:
        """int64 ns (or integers) at global ``steps`` plus each ``phase`` (broadcast)."""
        steps = np.asarray(steps, dtype=np.int64)
        if self.step_ns is not None:
            return steps * self.step_ns + phase
        if steps.size == 0:
            return steps.copy()
        self._extend(int(steps.min()), int(steps.max()))
        return self._grid[steps - self._grid_first] + phase

    def to_datetime(self, steps: np.ndarray, phase: np.ndarray) -> pd.DatetimeIndex | np.ndarray:
        """Timestamps (in the data's time zone) or integers at global ``steps``."""
        return self.as_datetime(self.to_values(steps, phase))

    def as_datetime(self, values: np.ndarray) -> pd.DatetimeIndex | np.ndarray:
        """int64 ns (UTC) values as timestamps in the data's time zone (integers as they are)."""
        values = np.ravel(values)
        if self.is_integer:
            return values
        index = pd.DatetimeIndex(values.astype("datetime64[ns]"))
        return index.tz_localize("UTC").tz_convert(self.tz) if self.tz else index


def _approx_nanos(offset: pd.DateOffset) -> float:
    """A rough step length, only used to size the first calendar grid."""
    probe = pd.date_range("2001-01-01", periods=3, freq=offset)
    return max(float(probe[2].value - probe[1].value), 1.0)


def _utc_ns(index: pd.DatetimeIndex) -> np.ndarray:
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    return index.as_unit("ns").asi8
