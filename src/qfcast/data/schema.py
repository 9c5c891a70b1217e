"""The input contract: which column is what, and the checks that turn bad input into clear errors.

A panel arrives as a *long* DataFrame, one row per (series id, timestamp):

============  ==========================================================================
role          meaning
============  ==========================================================================
``id_col``    series identifier (any hashable; default ``unique_id``)
``time_col``  timestamps (datetime, tz-aware or naive, or strings) or integer steps (``ds``)
``target_col`` the numeric target (``y``); NaN means "not observed" and is masked
``static``    one value per series: categorical (strings, bools, categories) or real
``past``      numeric covariates known only up to the forecast origin
``future``    numeric covariates known in advance (promotions, prices, holidays …)
============  ==========================================================================

Every check raises :class:`~qfcast.data.errors.DataError` naming the column, the offending
series ids and a few example rows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from pandas.api import types as pdt

from .errors import DataError, describe_ids, describe_rows

__all__ = ["Schema"]

_NUMBERS = ("floating", "integer", "mixed-integer-float", "empty")


def _names(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Schema:
    """Column names and roles of a long panel.

    >>> s = Schema(target_col="sales", future=["promo"])
    >>> s.columns
    ('unique_id', 'ds', 'sales', 'promo')
    >>> Schema.from_dict(s.to_dict()) == s
    True
    """

    id_col: str = "unique_id"
    time_col: str = "ds"
    target_col: str = "y"
    static: tuple[str, ...] = field(default=())
    past: tuple[str, ...] = field(default=())
    future: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        for name in ("static", "past", "future"):
            object.__setattr__(self, name, _names(getattr(self, name)))
        seen: dict[str, str] = {}
        roles = [("id_col", (self.id_col,)), ("time_col", (self.time_col,))]
        roles += [("target_col", (self.target_col,)), ("static", self.static)]
        roles += [("past", self.past), ("future", self.future)]
        for role, cols in roles:
            for col in cols:
                if col in seen:
                    raise DataError(
                        f"column {col!r} is given two roles ({seen[col]} and {role}); "
                        "each column has one role"
                    )
                seen[col] = role

    @property
    def dynamic(self) -> tuple[str, ...]:
        return self.past + self.future

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column the long frame must have (static ones may come from a static frame)."""
        return (self.id_col, self.time_col, self.target_col, *self.static, *self.dynamic)

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> Schema:
        return cls(**data)


def as_pandas(frame: object, what: str = "data") -> pd.DataFrame:
    """The frame as pandas (polars and anything with ``to_pandas`` are converted)."""
    if isinstance(frame, pd.DataFrame):
        return frame
    if hasattr(frame, "to_pandas"):
        return frame.to_pandas()  # type: ignore[no-any-return]
    raise DataError(f"{what} must be a pandas (or polars) DataFrame, got {type(frame).__name__}")


def check_columns(frame: pd.DataFrame, required: tuple[str, ...], what: str = "data") -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        plural = "s" if len(missing) > 1 else ""
        raise DataError(
            f"{what} is missing column{plural} {describe_ids(missing)}; it has "
            f"{describe_ids(list(frame.columns), 12)}. Pass id_col=/time_col=/target_col= "
            "if your columns are named differently."
        )
    if len(frame) == 0:
        raise DataError(f"{what} has no rows")


def _bad_rows(frame: pd.DataFrame, mask: np.ndarray, schema: Schema, col: str) -> str:
    cols = [c for c in (schema.id_col, schema.time_col, col) if c in frame.columns]
    cols = list(dict.fromkeys(cols))
    return describe_rows(frame.loc[mask, cols])


def _offending_ids(frame: pd.DataFrame, mask: np.ndarray, schema: Schema) -> str:
    return describe_ids(pd.unique(frame.loc[mask, schema.id_col]))


def _refuse_missing(frame: pd.DataFrame, schema: Schema, name: str, what: str) -> pd.Series:
    col = frame[name]
    missing = col.isna().to_numpy()
    if missing.any():
        raise DataError(
            f"column {name!r} ({what}) is missing in {int(missing.sum())} rows:"
            + _bad_rows(frame, missing, schema, name)
        )
    return col


def parse_ids(frame: pd.DataFrame, schema: Schema) -> tuple[np.ndarray, np.ndarray]:
    """(sorted unique ids, code of each row), vectorised; missing ids are an error."""
    col = _refuse_missing(frame, schema, schema.id_col, "the series id")
    codes, uniques = pd.factorize(col, sort=True)
    dtype = np.int32 if len(uniques) < 2**31 else np.int64
    return np.asarray(uniques), codes.astype(dtype)


def parse_target(frame: pd.DataFrame, schema: Schema) -> np.ndarray:
    """The target as float64 with NaN for missing values; strings and ±inf are errors."""
    return _numeric(frame, schema, schema.target_col, "the target", allow_nan=True)


def parse_covariate(frame: pd.DataFrame, schema: Schema, col: str, what: str) -> np.ndarray:
    return _numeric(frame, schema, col, what, allow_nan=False)


def _numeric(frame: pd.DataFrame, schema: Schema, col: str, what: str, allow_nan: bool):
    series = frame[col]
    if series.dtype == object and pdt.infer_dtype(series, skipna=True) in _NUMBERS:
        series = pd.to_numeric(series)  # Python numbers in an object column: exact
    if not pdt.is_numeric_dtype(series.dtype) or pdt.is_complex_dtype(series.dtype):
        coerced = pd.to_numeric(series, errors="coerce")
        bad = (coerced.isna() & series.notna()).to_numpy()
        hint = (
            f"{int(bad.sum())} rows are not numbers, e.g.:" + _bad_rows(frame, bad, schema, col)
            if bad.any()
            else "the values look numeric: convert them first with pd.to_numeric"
        )
        raise DataError(
            f"column {col!r} ({what}) must be numeric, but its dtype is {series.dtype}; {hint}"
        )
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    inf = np.isinf(values)
    if inf.any():
        raise DataError(
            f"column {col!r} ({what}) has ±inf in {int(inf.sum())} rows "
            f"(series {_offending_ids(frame, inf, schema)}); replace them with NaN to mark "
            "them unobserved, or with a finite value:" + _bad_rows(frame, inf, schema, col)
        )
    if not allow_nan:
        nan = np.isnan(values)
        if nan.any():
            raise DataError(
                f"column {col!r} ({what}) is missing in {int(nan.sum())} rows (series "
                f"{_offending_ids(frame, nan, schema)}); covariates must be given wherever a "
                "row is given — fill them before forecasting:" + _bad_rows(frame, nan, schema, col)
            )
    return values


def parse_times(frame: pd.DataFrame, schema: Schema) -> tuple[np.ndarray, str | None, bool]:
    """(int64 values, time zone, is_datetime): ns since the epoch in UTC, or integer steps."""
    col = _refuse_missing(frame, schema, schema.time_col, "the timestamp")
    dtype = col.dtype
    if pdt.is_integer_dtype(dtype) and not pdt.is_bool_dtype(dtype):
        return col.to_numpy(dtype=np.int64), None, False
    if not (pdt.is_datetime64_any_dtype(dtype)):
        if pdt.is_numeric_dtype(dtype) or pdt.is_bool_dtype(dtype):
            raise DataError(
                f"column {schema.time_col!r} (the timestamp) has dtype {dtype}; use datetimes, "
                "date strings or integer steps"
            )
        col = _parse_datetime_strings(frame, schema, col)
    tz = None
    if isinstance(col.dtype, pd.DatetimeTZDtype):
        tz = str(col.dt.tz)
        col = col.dt.tz_convert("UTC").dt.tz_localize(None)
    values = col.dt.as_unit("ns").to_numpy().view(np.int64)
    return values, tz, True


def _parse_datetime_strings(frame: pd.DataFrame, schema: Schema, col: pd.Series) -> pd.Series:
    name = schema.time_col
    try:
        return pd.to_datetime(col)
    except (ValueError, TypeError, OverflowError) as error:
        first_error = str(error).splitlines()[0]
    if "timezone" in first_error.lower() or len(_tz_kinds(col).unique()) > 1:
        raise DataError(_mixed_tz_message(frame, schema, col))
    try:
        parsed = pd.to_datetime(col, errors="coerce", format="mixed")
    except (ValueError, TypeError):
        parsed = pd.Series(pd.NaT, index=col.index)
    bad = parsed.isna().to_numpy()
    if bad.any():
        raise DataError(
            f"column {name!r} (the timestamp) has {int(bad.sum())} values that are not dates "
            f"(series {_offending_ids(frame, bad, schema)}):" + _bad_rows(frame, bad, schema, name)
        )
    aware = np.array([getattr(t, "tzinfo", None) is not None for t in parsed.to_numpy()])
    if aware.any():
        raise DataError(_mixed_tz_message(frame, schema, col))
    raise DataError(
        f"column {name!r} (the timestamp) mixes date formats ({first_error}); parse it "
        f"yourself with pd.to_datetime(..., format=...) so no date is read the wrong way"
    )


def _tz_kinds(col: pd.Series) -> pd.Series:
    """The UTC offset or zone written at the end of each timestamp, or "naive"."""
    pattern = r"((?:Z|[+-]\d\d:?\d\d)|[A-Za-z]+/[A-Za-z_]+)$"
    return col.astype(str).str.extract(pattern)[0].fillna("naive")


def _mixed_tz_message(frame: pd.DataFrame, schema: Schema, col: pd.Series) -> str:
    suffix = _tz_kinds(col)
    kinds = pd.unique(suffix)
    first_rows = [int(np.flatnonzero((suffix == k).to_numpy())[0]) for k in kinds[:4]]
    mask = np.zeros(len(frame), dtype=bool)
    mask[first_rows] = True
    return (
        f"column {schema.time_col!r} (the timestamp) mixes time zones or UTC offsets "
        f"({describe_ids(kinds)}); convert it to one zone first, e.g. "
        f"pd.to_datetime(df[{schema.time_col!r}], utc=True).dt.tz_convert('Europe/London'):"
        + _bad_rows(frame, mask, schema, schema.time_col)
    )


def check_static(frame: pd.DataFrame, schema: Schema, codes: np.ndarray, n: int) -> None:
    """Static columns must hold one value per series."""
    for col in schema.static:
        values = frame[col]
        nunique = values.groupby(codes, sort=False).nunique(dropna=False)
        if (nunique > 1).any():
            bad = np.isin(codes, nunique.index[nunique > 1].to_numpy())
            raise DataError(
                f"static column {col!r} must hold one value per series, but series "
                f"{_offending_ids(frame, bad, schema)} have several; declare it past= or "
                "future= if it changes over time:" + _bad_rows(frame, bad, schema, col)
            )
