"""A validated panel on a regular time grid, stored as flat arrays (one block per series).

:meth:`Panel.from_frame` turns a long DataFrame into a :class:`Panel`:

* every problem in the input raises :class:`~qfcast.data.errors.DataError` naming the column,
  the offending series and example rows (see :mod:`qfcast.data.schema`);
* each series runs from its first to its last timestamp on a regular grid of ``freq``;
  timestamps missing in between become NaN targets (masked, never imputed) and are counted in
  ``n_inserted``; dynamic covariates at those inserted steps carry the previous value forward
  (a :class:`~qfcast.data.errors.DataWarning` says how many);
* the user's DataFrame is never modified, and all work is vectorised over rows — no Python
  loop over series — so a panel of millions of rows builds in seconds.

Storage is CSR-like: series ``i`` occupies ``target[offsets[i]:offsets[i + 1]]``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import NoReturn

import numpy as np
import pandas as pd
from pandas.api import types as pdt

from . import schema as sc
from .errors import DataError, DataWarning, describe_ids, describe_rows
from .schema import Schema
from .timeindex import TimeIndex, infer_freq, series_gaps, to_freq

__all__ = ["Panel"]

# A grid this much longer than the input is almost surely a wrong ``freq``.
_MAX_BLOWUP = 100


@dataclass(eq=False)
class Panel:
    """Series on a regular grid: flat target/covariate arrays plus per-series metadata.

    >>> df = pd.DataFrame({
    ...     "unique_id": ["a", "a", "a", "b", "b"],
    ...     "ds": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-04",
    ...                           "2024-01-02", "2024-01-03"]),
    ...     "y": [1.0, 2.0, 4.0, 10.0, 11.0]})
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as said:
    ...     warnings.simplefilter("always")
    ...     panel = Panel.from_frame(df)        # the day 2024-01-03 of "a" is missing
    >>> str(said[0].message).split(" (")[0]     # ... and we say so
    '1 timestamps missing inside series'
    >>> panel.freq, panel.lengths.tolist(), panel.n_inserted
    ('D', [4, 2], 1)
    >>> panel.target[:4].tolist()               # a NaN marks it unobserved
    [1.0, 2.0, nan, 4.0]
    >>> out = panel.to_frame()                  # nothing else changed
    >>> out.dropna().reset_index(drop=True).equals(df.astype({"ds": "datetime64[ns]"}))
    True
    """

    schema: Schema
    index: TimeIndex
    ids: np.ndarray  # (n,) sorted series ids, as given
    start: np.ndarray  # (n,) int64 global step of each series' first timestamp
    phase: np.ndarray  # (n,) int64 offset within a step (fixed frequencies), else 0
    offsets: np.ndarray  # (n + 1,) int64: series i is [offsets[i], offsets[i + 1])
    target: np.ndarray  # (N,) float64, NaN where not observed
    past: np.ndarray  # (N, P) float32 past-only covariates
    future: np.ndarray  # (N, F) float32 future-known covariates
    static_real: np.ndarray  # (n, R) float32
    static_cat: np.ndarray  # (n, S) int64 codes into ``categories`` (len = unknown)
    categories: dict[str, np.ndarray] = field(default_factory=dict)
    n_inserted: int = 0

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_frame(
        cls,
        data: object,
        *,
        freq: str | int | pd.DateOffset | None = None,
        id_col: str = "unique_id",
        time_col: str = "ds",
        target_col: str = "y",
        static: tuple[str, ...] | list[str] = (),
        past: tuple[str, ...] | list[str] = (),
        future: tuple[str, ...] | list[str] = (),
        static_df: object = None,
        schema: Schema | None = None,
        categories: dict[str, np.ndarray] | None = None,
    ) -> Panel:
        """Validate a long DataFrame (pandas or polars) and regularise it onto ``freq``.

        Parameters
        ----------
        data : DataFrame
            One row per (series id, timestamp); never modified.
        freq : str, int or DateOffset, optional
            pandas frequency (``"h"``, ``"D"``, ``"W-SUN"``, ``"MS"`` …), or a positive int
            step for an integer time column. Inferred when omitted.
        id_col, time_col, target_col, static, past, future
            Column roles (see :class:`~qfcast.data.schema.Schema`), or pass ``schema``.
        static_df : DataFrame, optional
            One row per series with the ``static`` columns (else they are read from ``data``
            and must be constant per series).
        categories : dict, optional
            Vocabularies of the static categorical columns (from a training panel's
            ``categories``); unseen values map to the extra "unknown" code with a warning.
        """
        if schema is None:
            schema = Schema(id_col, time_col, target_col, static, past, future)
        frame = sc.as_pandas(data)
        in_frame = schema.columns if static_df is None else (*schema.columns[:3], *schema.dynamic)
        sc.check_columns(frame, in_frame)
        ids, codes = sc.parse_ids(frame, schema)
        times, tz, is_datetime = sc.parse_times(frame, schema)
        y = sc.parse_target(frame, schema)
        n = len(ids)
        counts = np.bincount(codes, minlength=n)

        index, start, end, series_phase = _locate(
            frame, schema, times, tz, is_datetime, freq, codes, counts
        )
        lengths = end - start + 1
        total = int(lengths.sum())
        if total > _MAX_BLOWUP * len(frame) + 10_000:
            raise DataError(
                f"on a grid of freq={index.freq!r} the {len(frame)} rows would span {total} "
                f"steps ({total / len(frame):.0f}× more): the frequency is far finer than the "
                "data — pass the frequency the data were recorded at"
            )
        if total > 2 * len(frame):
            _check_not_too_fine(index, times, codes, counts, tz, total)
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        shift = offsets[:-1] - start  # position = step + shift[series]

        # Second pass, in row chunks so memory stays flat: scatter every row (target and
        # dynamic covariates together) into the grid, locating each chunk once.
        past_rows = _covariates(frame, schema, schema.past)
        future_rows = _covariates(frame, schema, schema.future)
        target = np.full(total, np.nan)
        past_values = np.zeros((total, len(schema.past)), dtype=np.float32)
        future_values = np.zeros((total, len(schema.future)), dtype=np.float32)
        filled = np.zeros(total, dtype=bool)
        for rows in _chunks(len(frame)):
            position = index.locate(times[rows])[0] + shift[codes[rows]]
            filled[position] = True
            target[position] = y[rows]
            past_values[position] = past_rows[rows]
            future_values[position] = future_rows[rows]
        if int(np.count_nonzero(filled)) < len(frame):
            _raise_duplicates(frame, schema, index.locate(times)[0] + shift[codes], total)
        inserted = total - len(frame)
        if inserted:
            carried = schema.dynamic
            warnings.warn(
                f"{inserted} timestamps missing inside series ({inserted / total:.1%} of the "
                "grid) were inserted with NaN targets, which are masked"
                + (
                    f"; covariates {describe_ids(carried)} carry their previous value there"
                    if carried
                    else ""
                )
                + " (see panel.n_inserted)",
                DataWarning,
                stacklevel=2,
            )
            if carried:
                # Each series' first step is a given row: carrying forward never crosses series.
                source = np.where(filled, np.arange(total), 0)
                np.maximum.accumulate(source, out=source)
                past_values, future_values = past_values[source], future_values[source]
        del filled
        static_real, static_cat, vocab = _static(frame, schema, static_df, ids, codes, categories)
        return cls(
            schema=schema,
            index=index,
            ids=ids,
            start=start,
            phase=series_phase,
            offsets=offsets,
            target=target,
            past=past_values,
            future=future_values,
            static_real=static_real,
            static_cat=static_cat,
            categories=vocab,
            n_inserted=inserted,
        )

    # ----------------------------------------------------------------- properties
    @property
    def freq(self) -> str | int:
        return self.index.freq

    @property
    def tz(self) -> str | None:
        return self.index.tz

    @property
    def n_series(self) -> int:
        return len(self.ids)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def observed(self) -> np.ndarray:
        return ~np.isnan(self.target)

    @property
    def static_real_names(self) -> tuple[str, ...]:
        return tuple(c for c in self.schema.static if c not in self.categories)

    @property
    def cardinalities(self) -> tuple[int, ...]:
        """Number of codes per static categorical column, including the "unknown" code."""
        return tuple(len(v) + 1 for v in self.categories.values())

    def __len__(self) -> int:
        return self.n_series

    def __repr__(self) -> str:
        lengths = self.lengths
        span = f"{lengths.min()}–{lengths.max()}" if len(lengths) else "0"
        share = self.observed.mean() if len(self.target) else 0.0
        return (
            f"Panel({self.n_series} series, lengths {span}, freq={self.freq!r}, "
            f"{len(self.target)} steps, {share:.1%} observed, static={list(self.schema.static)}, "
            f"past={list(self.schema.past)}, future={list(self.schema.future)})"
        )

    # ----------------------------------------------------------------- time
    def timestamps(self, series: np.ndarray, steps: np.ndarray) -> np.ndarray:
        """int64 ns (UTC) or integers at local ``steps`` of ``series`` (broadcast together)."""
        series = np.asarray(series)
        return self.index.to_values(self.start[series] + steps, self.phase[series])

    def future_frame(self, horizon: int) -> pd.DataFrame:
        """The ``horizon`` timestamps after each series' last step, as (id, time) rows."""
        series = np.repeat(np.arange(self.n_series), horizon)
        steps = np.tile(np.arange(horizon), self.n_series) + self.lengths[series]
        return pd.DataFrame(
            {
                self.schema.id_col: self.ids[series],
                self.schema.time_col: self.index.as_datetime(self.timestamps(series, steps)),
            }
        )

    # ----------------------------------------------------------------- reshaping
    def to_frame(self) -> pd.DataFrame:
        """The regularised long frame: inserted timestamps appear with a NaN target."""
        series = np.repeat(np.arange(self.n_series), self.lengths)
        steps = np.arange(len(self.target)) - self.offsets[:-1][series]
        columns: dict[str, object] = {
            self.schema.id_col: self.ids[series],
            self.schema.time_col: self.index.as_datetime(self.timestamps(series, steps)),
            self.schema.target_col: self.target,
        }
        for j, col in enumerate(self.schema.past):
            columns[col] = self.past[:, j].astype(np.float64)
        for j, col in enumerate(self.schema.future):
            columns[col] = self.future[:, j].astype(np.float64)
        for col, values in self._static_columns().items():
            columns[col] = values[series]
        return pd.DataFrame(columns)

    def static_frame(self) -> pd.DataFrame:
        """One row per series: the id and its static covariates (decoded)."""
        return pd.DataFrame({self.schema.id_col: self.ids, **self._static_columns()})

    def _static_columns(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        real, cat = 0, 0
        for col in self.schema.static:
            if col in self.categories:
                vocab = np.append(self.categories[col].astype(object), None)
                out[col] = vocab[self.static_cat[:, cat]]
                cat += 1
            else:
                out[col] = self.static_real[:, real].astype(np.float64)
                real += 1
        return out

    def select(self, series: np.ndarray) -> Panel:
        """The panel restricted to ``series`` (indices or a boolean mask), in that order."""
        series = np.arange(self.n_series)[np.asarray(series)]
        return self._take(series, self.start[series], self.lengths[series])

    def drop_last(self, steps: int) -> Panel:
        """Every series without its last ``steps`` steps (series may become empty)."""
        if steps < 0:
            raise ValueError(f"steps must be >= 0, got {steps}")
        series = np.arange(self.n_series)
        return self._take(series, self.start, np.maximum(self.lengths - steps, 0))

    def _take(self, series: np.ndarray, start: np.ndarray, lengths: np.ndarray) -> Panel:
        offsets = np.zeros(len(series) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        owner = np.repeat(np.arange(len(series)), lengths)
        source = np.arange(offsets[-1]) - offsets[:-1][owner]
        source += self.offsets[:-1][series][owner] + (start - self.start[series])[owner]
        return replace(
            self,
            ids=self.ids[series],
            start=start,
            phase=self.phase[series],
            offsets=offsets,
            target=self.target[source],
            past=self.past[source],
            future=self.future[source],
            static_real=self.static_real[series],
            static_cat=self.static_cat[series],
        )

    # ----------------------------------------------------------------- future covariates
    def future_covariates(self, future_df: object, horizon: int) -> np.ndarray:
        """The future-known covariates for the next ``horizon`` steps, as (n, horizon, F).

        ``future_df`` holds one row per (series, future timestamp) with the ``future``
        columns; rows beyond the horizon are ignored. Missing columns, ids, timestamps or
        values raise a DataError naming them.
        """
        s = self.schema
        if not s.future:
            return np.zeros((self.n_series, horizon, 0), dtype=np.float32)
        if future_df is None:
            raise DataError(
                f"the model uses future-known covariates {describe_ids(s.future)}: pass a "
                f"future frame with their values for the next {horizon} steps of every series"
            )
        frame = sc.as_pandas(future_df, "the future frame")
        sc.check_columns(frame, (s.id_col, s.time_col, *s.future), "the future frame")
        known = pd.Index(self.ids)
        series = known.get_indexer(frame[s.id_col])
        unknown = series < 0
        if unknown.any():
            raise DataError(
                f"the future frame has series the history does not: "
                f"{describe_ids(pd.unique(frame.loc[unknown, s.id_col]))}"
            )
        times, tz, is_datetime = sc.parse_times(frame, s)
        if is_datetime != (not self.index.is_integer) or tz != self.tz:
            raise DataError(
                f"the future frame's {s.time_col!r} is {tz or 'naive'}"
                f"{' datetime' if is_datetime else ' integer'}, unlike the history's "
                f"({self.tz or 'naive'}{'' if self.index.is_integer else ' datetime'})"
            )
        steps, phase, ok = self.index.locate(times)
        ahead = steps - (self.start[series] + self.lengths[series])
        inside = ok & (phase == self.phase[series]) & (ahead >= 0) & (ahead < horizon)
        position = series[inside] * horizon + ahead[inside]
        counts = np.bincount(position, minlength=self.n_series * horizon)
        if (counts > 1).any():
            dup = np.zeros(len(frame), dtype=bool)
            dup[np.flatnonzero(inside)[counts[position] > 1]] = True
            raise DataError(
                "the future frame repeats (id, timestamp) pairs:"
                + describe_rows(frame.loc[dup, [s.id_col, s.time_col]])
            )
        if (counts == 0).any():
            missing = np.flatnonzero(counts == 0)
            rows = self.future_frame(horizon).iloc[missing]
            raise DataError(
                f"the future frame lacks {len(missing)} of the {self.n_series * horizon} "
                f"(series, timestamp) rows of the next {horizon} steps, for series "
                f"{describe_ids(pd.unique(rows[s.id_col]))}; the first missing ones:"
                + describe_rows(rows)
            )
        out = np.empty((self.n_series * horizon, len(s.future)), dtype=np.float32)
        inside_frame = frame.loc[inside]
        for j, col in enumerate(s.future):
            out[position, j] = sc.parse_covariate(inside_frame, s, col, "a future covariate")
        return out.reshape(self.n_series, horizon, len(s.future))


# --------------------------------------------------------------------- helpers
def _locate(frame, schema, times, tz, is_datetime, freq, codes, counts):
    """(TimeIndex, first step, last step, phase) of each series; off-grid rows raise.

    Without ``freq``, the inferred frequency is tried first, then the greatest common gap
    within series (sparse data can fool inference on short runs).
    """
    if not is_datetime:
        if freq is not None and (not isinstance(freq, (int, np.integer)) or isinstance(freq, bool)):
            raise DataError(
                f"column {schema.time_col!r} holds integers, so freq must be an integer step "
                f"size (or omitted), not {freq!r}"
            )
    elif isinstance(freq, (int, np.integer)):
        raise DataError(
            f"column {schema.time_col!r} holds timestamps, so freq must be a pandas "
            f"frequency such as 'h', 'D' or 'MS', not the integer {freq}"
        )
    first = None
    for candidate in _candidates(times, codes, counts, tz, is_datetime, freq):
        index = TimeIndex.build(candidate, tz, int(times.min()))
        fitted = _fit_grid(index, times, codes, len(counts))
        if fitted is not None:
            return (index, *fitted)
        if first is None:
            first = index
    if first is None:
        raise DataError(
            f"cannot infer the frequency of column {schema.time_col!r}: no series has three "
            "regularly spaced timestamps. Pass freq=, e.g. freq='D'"
        )
    index = first
    _, phase, ok = index.locate(times)
    first_phase = np.zeros(len(counts), dtype=np.int64)
    first_phase[codes[::-1]] = phase[::-1]  # the phase of each series' first row
    bad = ~(ok & (phase == first_phase[codes]))
    which = "the given" if freq is not None else "the inferred"
    raise DataError(
        f"column {schema.time_col!r} has {int(bad.sum())} timestamps off the regular grid of "
        f"{which} freq={index.freq!r} (series "
        f"{describe_ids(pd.unique(frame.loc[bad, schema.id_col]))}); the data contradict "
        "this frequency — pass the right freq= or fix the timestamps:"
        + describe_rows(frame.loc[bad, [schema.id_col, schema.time_col]])
    )


def _candidates(times, codes, counts, tz, is_datetime, freq) -> Iterator[object]:
    """The frequencies to try, in order; the greatest common gap is only computed (a sort of
    every row) when the cheaper inference failed to fit."""
    if freq is not None:
        yield freq if not is_datetime else to_freq(freq)
        return
    if not is_datetime:
        yield _common_gap(times, codes) or 1
        return
    inferred = infer_freq(times, codes, counts, tz)
    if inferred is not None:
        yield inferred
    gcd = _common_gap(times, codes)
    fallback = to_freq(pd.Timedelta(gcd, unit="ns")) if gcd else None
    if fallback is not None and fallback != inferred:
        yield fallback


def _common_gap(times: np.ndarray, codes: np.ndarray) -> int:
    """The greatest common divisor of the positive gaps within series (0 if none)."""
    gaps = series_gaps(times, codes)
    return int(np.gcd.reduce(gaps)) if len(gaps) else 0


def _fit_grid(index: TimeIndex, times: np.ndarray, codes: np.ndarray, n: int):
    """(first step, last step, phase) per series, or None if a row is off its series' grid."""
    big, small = np.iinfo(np.int64).max, np.iinfo(np.int64).min
    start, end = np.full(n, big), np.full(n, small)
    phase_lo, phase_hi = np.full(n, big), np.full(n, small)
    for rows in _chunks(len(times)):
        steps, phase, ok = index.locate(times[rows])
        if not ok.all():
            return None
        part = codes[rows]
        np.minimum.at(start, part, steps)
        np.maximum.at(end, part, steps)
        np.minimum.at(phase_lo, part, phase)
        np.maximum.at(phase_hi, part, phase)
    if (phase_lo != phase_hi).any():
        return None
    return start, end, phase_lo


def _chunks(n: int, size: int = 1 << 22) -> Iterator[slice]:
    for lo in range(0, n, size):
        yield slice(lo, min(lo + size, n))


def _check_not_too_fine(index, times, codes, counts, tz, total) -> None:
    """Refuse a grid the data never fill: every gap a multiple of k > 1 steps."""
    k = _common_gap(index.locate(times)[0], codes)
    if k <= 1:
        return
    found = infer_freq(times, codes, counts, tz) if not index.is_integer else None
    if index.is_integer:
        suggestion = k * int(index.freq)
    elif found is not None and found.freqstr != index.freq:
        suggestion = found.freqstr
    else:
        suggestion = (index.offset * k).freqstr
    raise DataError(
        f"freq={index.freq!r} contradicts the data: every series moves in multiples of {k} "
        f"steps, so {total - len(times)} of the {total} steps of the grid would be empty. "
        f"The data look like freq={suggestion!r}; pass that (or omit freq)"
    )


def _raise_duplicates(frame, schema, position, total) -> NoReturn:
    counts = np.bincount(position, minlength=total)
    dup = counts[position] > 1
    cols = [schema.id_col, schema.time_col, schema.target_col]
    raise DataError(
        f"{int(dup.sum())} rows repeat a ({schema.id_col!r}, {schema.time_col!r}) pair, in "
        f"series {describe_ids(pd.unique(frame.loc[dup, schema.id_col]))}; keep one row "
        "per series and timestamp (aggregate or drop duplicates first):"
        + describe_rows(frame.loc[dup, cols].sort_values(cols[:2]))
    )


def _covariates(frame, schema, columns) -> np.ndarray:
    """The given dynamic covariate columns, checked, as a (rows, len(columns)) float32 array."""
    out = np.empty((len(frame), len(columns)), dtype=np.float32)
    for j, col in enumerate(columns):
        out[:, j] = sc.parse_covariate(frame, schema, col, "a dynamic covariate")
    return out


def _static(frame, schema, static_df, ids, codes, categories):
    n = len(ids)
    if not schema.static:
        return np.zeros((n, 0), np.float32), np.zeros((n, 0), np.int64), {}
    if static_df is None:
        sc.check_static(frame, schema, codes, n)
        first = np.zeros(n, dtype=np.int64)
        first[codes[::-1]] = np.arange(len(codes))[::-1]
        table = frame.iloc[first][list(schema.static)].reset_index(drop=True)
    else:
        table = _static_table(static_df, schema, ids)
    real, cat, vocab = [], [], {}
    for col in schema.static:
        values = table[col]
        if values.isna().any():
            bad = values.isna().to_numpy()
            raise DataError(
                f"static column {col!r} is missing for series {describe_ids(ids[bad])}; give "
                "every series a value (e.g. an explicit 'unknown' category)"
            )
        if pdt.is_numeric_dtype(values.dtype) and not pdt.is_bool_dtype(values.dtype):
            real.append(values.to_numpy(np.float32))
            continue
        known = None if categories is None else categories.get(col)
        if known is None:
            known = np.asarray(pd.Index(values.astype(str).unique()).sort_values(), dtype=object)
        code = pd.Index(known).get_indexer(values.astype(str))
        unseen = code < 0
        if unseen.any():
            warnings.warn(
                f"static column {col!r} has values not seen in training "
                f"({describe_ids(pd.unique(values[unseen]))}); they share the 'unknown' code",
                DataWarning,
                stacklevel=3,
            )
            code = np.where(unseen, len(known), code)
        cat.append(code.astype(np.int64))
        vocab[col] = known
    static_real = np.stack(real, axis=1) if real else np.zeros((n, 0), np.float32)
    static_cat = np.stack(cat, axis=1) if cat else np.zeros((n, 0), np.int64)
    return static_real, static_cat, vocab


def _static_table(static_df, schema, ids) -> pd.DataFrame:
    table = sc.as_pandas(static_df, "the static frame")
    sc.check_columns(table, (schema.id_col, *schema.static), "the static frame")
    if table[schema.id_col].duplicated().any():
        dup = table[schema.id_col][table[schema.id_col].duplicated()]
        raise DataError(f"the static frame has several rows for series {describe_ids(dup)}")
    where = pd.Index(table[schema.id_col]).get_indexer(ids)
    if (where < 0).any():
        raise DataError(f"the static frame has no row for series {describe_ids(ids[where < 0])}")
    return table.iloc[where][list(schema.static)].reset_index(drop=True)
