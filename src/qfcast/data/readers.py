"""File readers: tables, long and wide frames, Monash ``.tsf``, GluonTS JSON, LSTNet matrices.

Every reader returns the library's long format: a DataFrame with ``unique_id`` (str), ``ds``
(``datetime64[ns]``, or int steps when the source has no timestamps and none is given) and ``y``
(float64), one row per (``unique_id``, ``ds``), sorted by ``unique_id`` then ``ds``, covariate
columns after. Bad input raises :class:`~qfcast.data.errors.DataError` naming the file, column
and offending item. Inputs are never modified.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._readers_gluonts import GluonTSData, read_gluonts_dataset, read_gluonts_jsonl
from ._readers_tsf import TsfData, read_tsf
from ._readers_util import (
    PathLike,
    as_path,
    decode,
    is_float,
    normalise_freq,
    read_bytes,
    series_frame,
    within_index,
)
from ._readers_util import to_datetime as parse_datetime
from .errors import DataError, describe_rows

__all__ = [
    "GluonTSData",
    "TsfData",
    "read_gluonts_dataset",
    "read_gluonts_jsonl",
    "read_long",
    "read_lstnet",
    "read_monash_text_split",
    "read_table",
    "read_tsf",
    "read_wide",
]

_CSV = (".csv", ".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zip")
_PARQUET = (".parquet", ".pq")


def read_table(path: PathLike, **kwargs: Any) -> pd.DataFrame:
    """Read a CSV (``.csv``, ``.csv.gz``, ...) or Parquet (``.parquet``, ``.pq``) file.

    Parameters
    ----------
    path : str or path-like
        The file; the format is chosen by its extension.
    **kwargs
        Passed to :func:`pandas.read_csv` or :func:`pandas.read_parquet`.

    Returns
    -------
    pandas.DataFrame
        The table as stored (no renaming or parsing).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = path.write_text("a,b\\n1,x\\n")
    >>> read_table(path)
       a  b
    0  1  x
    """
    p = as_path(path)
    name = p.name.lower()
    try:
        if name.endswith(_CSV):
            return pd.read_csv(p, **kwargs)
        if name.endswith(_PARQUET):
            return pd.read_parquet(p, **kwargs)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{p}: cannot be read as a table ({exc}).") from exc
    raise DataError(
        f"{p}: unknown table extension; read_table reads {', '.join(_CSV + _PARQUET)}. Rename "
        "the file, or read it yourself and pass the DataFrame."
    )


def read_long(
    source: PathLike | pd.DataFrame | Any,
    *,
    id_col: str = "unique_id",
    time_col: str = "ds",
    target_col: str = "y",
) -> pd.DataFrame:
    """A long-format copy of ``source`` with the standard column names.

    Parameters
    ----------
    source : path, pandas.DataFrame or polars.DataFrame
        A table file (see :func:`read_table`) or a frame (anything with ``.to_pandas()`` is
        converted); the caller's frame is never modified.
    id_col, time_col, target_col : str
        Columns renamed to ``unique_id``, ``ds`` and ``y``; other columns are kept.

    Returns
    -------
    pandas.DataFrame
        ``unique_id`` as str, ``ds`` parsed to ``datetime64[ns]`` when it holds strings (numbers
        are kept), ``y`` as float64, sorted (stable) by ``unique_id`` then ``ds``.

    Examples
    --------
    >>> df = pd.DataFrame({"id": [2, 1], "t": ["2020-01-02", "2020-01-01"], "v": [3, 4]})
    >>> read_long(df, id_col="id", time_col="t", target_col="v")
      unique_id         ds    y
    0         1 2020-01-01  4.0
    1         2 2020-01-02  3.0
    """
    frame, where = _frame_of(source)
    wanted = {id_col: "unique_id", time_col: "ds", target_col: "y"}
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise DataError(
            f"{where}: missing column(s) {', '.join(map(repr, missing))}; available columns are "
            f"{', '.join(map(repr, map(str, frame.columns)))}. Pass id_col=, time_col=, "
            "target_col= to name yours."
        )
    clash = [n for c, n in wanted.items() if c != n and n in frame.columns and n not in wanted]
    if clash:
        raise DataError(
            f"{where}: column(s) {', '.join(map(repr, clash))} would be overwritten by the "
            "renaming; drop or rename them first."
        )
    frame = frame.rename(columns=wanted)
    if frame["unique_id"].isna().any():
        rows = frame[frame["unique_id"].isna()]
        raise DataError(f"{where}: column {id_col!r} has missing ids:{describe_rows(rows)}")
    frame["unique_id"] = frame["unique_id"].astype("str")
    ds = frame["ds"]
    if ds.dtype.kind == "M":
        frame["ds"] = ds.dt.as_unit("ns")
    elif ds.dtype.kind in "OUT" or isinstance(ds.dtype, pd.StringDtype):
        if pd.api.types.infer_dtype(ds, skipna=False) == "integer":  # ints in an object column
            frame["ds"] = ds.astype(np.int64)
        else:
            frame["ds"] = parse_datetime(ds.to_numpy(), f"{where}, column {time_col!r}")
    frame["y"] = _float_column(frame["y"], f"{where}, column {target_col!r}")
    if not (frame["unique_id"].is_monotonic_increasing and _ds_sorted_within(frame)):
        frame = frame.sort_values(["unique_id", "ds"], kind="stable")
    return frame.reset_index(drop=True)


def read_wide(
    source: PathLike | pd.DataFrame | Any,
    *,
    time_col: str | None = None,
    start: object = None,
    freq: str | None = None,
    id_name: str = "unique_id",
    value_name: str = "y",
    ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Melt a wide table (one column per series) into long format.

    Parameters
    ----------
    source : path, pandas.DataFrame or polars.DataFrame
        E.g. ``ETTh1.csv`` (``date,HUFL,...,OT``) or ``taylor.csv`` (a single column ``Y``).
    time_col : str, optional
        The timestamp column (parsed if it holds strings). Without it, timestamps are
        ``pd.date_range(start, periods=n, freq=freq)`` when ``start`` and ``freq`` are given,
        else the integer steps ``0..n-1``.
    start, freq : optional
        First timestamp and pandas frequency when the table has no time column.
    id_name, value_name : str
        Names of the id and value columns of the result (the time column is ``ds``).
    ids : sequence of str, optional
        Series ids, one per value column in column order (default: the column names).

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> wide = pd.DataFrame({"b": [1, 2], "a": [3, 4]})
    >>> read_wide(wide, start="2000-06-05", freq="30min")
      unique_id                  ds    y
    0         a 2000-06-05 00:00:00  3.0
    1         a 2000-06-05 00:30:00  4.0
    2         b 2000-06-05 00:00:00  1.0
    3         b 2000-06-05 00:30:00  2.0
    """
    frame, where = _frame_of(source)
    if time_col is not None:
        if time_col not in frame.columns:
            raise DataError(
                f"{where}: no time column {time_col!r}; available columns are "
                f"{', '.join(map(repr, map(str, frame.columns)))}."
            )
        if start is not None or freq is not None:
            raise DataError(
                f"{where}: give either time_col= or start=/freq=, not both (the time column "
                "already fixes the timestamps)."
            )
        raw = frame[time_col]
        if raw.dtype.kind in "OUT" or isinstance(raw.dtype, pd.StringDtype):
            stamps = parse_datetime(raw.to_numpy(), f"{where}, column {time_col!r}")
            time_values: np.ndarray = stamps.to_numpy()
        elif raw.dtype.kind == "M":
            time_values = raw.dt.as_unit("ns").to_numpy()
        else:
            time_values = raw.to_numpy()
        if pd.isna(time_values).any():
            raise DataError(f"{where}: column {time_col!r} has missing timestamps.")
        dup = pd.Index(time_values).duplicated()
        if dup.any():
            raise DataError(
                f"{where}: column {time_col!r} repeats timestamps, e.g. "
                f"{time_values[dup][0]!r}; a wide table needs one row per time step."
            )
        order = np.argsort(time_values, kind="stable")
        frame = frame.drop(columns=[time_col]).iloc[order]
        time_values = time_values[order]
    else:
        time_values = _steps(len(frame), start, freq, where)
    columns = [str(c) for c in frame.columns]
    values = np.empty((len(frame), len(columns)), dtype=np.float64)
    for j, name in enumerate(columns):
        values[:, j] = _float_column(frame.iloc[:, j], f"{where}, column {name!r}")
    long = _wide_to_long(values, time_values, _names(ids, columns, where), where)
    return long.rename(columns={"unique_id": id_name, "y": value_name})


def read_lstnet(
    path: PathLike,
    *,
    start: object = None,
    freq: str | None = None,
    ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Read an LSTNet matrix (``.txt``/``.txt.gz``: rows are time steps, columns series).

    Parameters
    ----------
    path : str or path-like
        Comma-separated numbers, no header (gzip detected by magic bytes), e.g.
        ``exchange_rate.txt.gz`` (7588 x 8).
    start, freq : optional
        First timestamp and pandas frequency; without them ``ds`` is the step 0, 1, ...
    ids : sequence of str, optional
        Series ids in column order (default ``"0", "1", ...``).

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.txt"
    >>> _ = path.write_text("1,2\\n3,4\\n")
    >>> read_lstnet(path, start="1990-01-01", freq="B", ids=["x", "y"])
      unique_id         ds    y
    0         x 1990-01-01  1.0
    1         x 1990-01-02  3.0
    2         y 1990-01-01  2.0
    3         y 1990-01-02  4.0
    """
    where = str(as_path(path))
    data = read_bytes(path)
    try:
        table = pd.read_csv(io.BytesIO(data), header=None, dtype=np.float64)
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(
            f"{where}: not an LSTNet matrix of comma-separated numbers without header ({exc})."
        ) from exc
    values = table.to_numpy()
    names = _names(ids, [str(j) for j in range(values.shape[1])], where)
    return _wide_to_long(values, _steps(len(values), start, freq, where), names, where)


def read_monash_text_split(
    train_path: PathLike,
    test_path: PathLike,
    *,
    start: object = None,
    freq: str | None = None,
    ids: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read the Monash text train/test split (``solar_weekly``, ``traffic_weekly``).

    Parameters
    ----------
    train_path : str or path-like
        One comma-separated series per line.
    test_path : str or path-like
        The "results" file: line ``i`` is ``1;v1;...;vH``, the horizon values of series ``i``
        (the leading field is a placeholder and ignored).
    start, freq : optional
        Common first timestamp and pandas frequency; without them ``ds`` is the step 0, 1, ...
    ids : sequence of str, optional
        Series ids in line order (default ``"T1", "T2", ...``, the Monash names).

    Returns
    -------
    (train, test) : tuple of pandas.DataFrame
        ``test`` holds the full series: the training values followed by the horizon values.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "train.txt").write_text("1,2,3\\n4,5,6\\n")
    >>> _ = (d / "test.txt").write_text("1;7\\n1;8\\n")
    >>> train, test = read_monash_text_split(d / "train.txt", d / "test.txt")
    >>> len(train), len(test), test["y"].tolist()
    (6, 8, [1.0, 2.0, 3.0, 7.0, 4.0, 5.0, 6.0, 8.0])
    """
    train_lines = _text_lines(train_path)
    test_lines = _text_lines(test_path)
    where = f"{train_path} / {test_path}"
    if len(train_lines) != len(test_lines):
        raise DataError(
            f"{where}: {len(train_lines)} training lines but {len(test_lines)} test lines; line i "
            "of both files must be the same series."
        )
    train_rows = [
        _number_line(line.split(","), f"{train_path}, line {k}") for k, line in train_lines
    ]
    test_rows = [
        _number_line(line.split(";")[1:], f"{test_path}, line {k}") for k, line in test_lines
    ]
    default = [f"T{i + 1}" for i in range(len(train_rows))]
    names = _names(ids, default, where)
    fq = normalise_freq(freq, f"{where}: freq")
    frames = []
    for rows in (train_rows, [np.concatenate(p) for p in zip(train_rows, test_rows, strict=True)]):
        lengths = np.array([len(r) for r in rows], dtype=np.int64)
        idx = within_index(lengths)
        if start is None and fq is None:
            ds: np.ndarray = idx
        else:
            ds = _steps(int(lengths.max(initial=0)), start, fq, where)[idx]
        values = np.concatenate(rows) if rows else np.empty(0)
        frames.append(series_frame(names, lengths, values, ds, where=where))
    return frames[0], frames[1]


def _frame_of(source: object) -> tuple[pd.DataFrame, str]:
    if isinstance(source, pd.DataFrame):
        return source.copy(), "DataFrame"
    if hasattr(source, "to_pandas") and not isinstance(source, (str, Path)):
        out = source.to_pandas()  # type: ignore[attr-defined]
        if not isinstance(out, pd.DataFrame):
            raise DataError(f"{type(source).__name__}.to_pandas() did not return a DataFrame.")
        return out, type(source).__name__
    if isinstance(source, (str, Path)) or hasattr(source, "__fspath__"):
        return read_table(source), str(source)  # type: ignore[arg-type]
    raise DataError(
        f"expected a file path or a DataFrame, got {type(source).__name__}; pass a path, a "
        "pandas DataFrame or an object with .to_pandas()."
    )


def _float_column(col: pd.Series, where: str) -> np.ndarray:
    if col.dtype.kind in "biuf":
        return col.to_numpy(dtype=np.float64, na_value=np.nan)
    try:
        return pd.to_numeric(col, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    except (ValueError, TypeError):
        bad = col[~col.map(lambda v: pd.isna(v) or is_float(v))]
        raise DataError(
            f"{where}: values must be numbers, found {bad.iloc[0]!r} (row {bad.index[0]!r}); "
            "clean the column or choose another one."
        ) from None


def _ds_sorted_within(frame: pd.DataFrame) -> bool:
    ids = frame["unique_id"].to_numpy()
    same = ids[1:] == ids[:-1]
    ds = frame["ds"].to_numpy()
    try:
        return bool(np.all(ds[1:][same] > ds[:-1][same]))
    except TypeError:
        return False


def _steps(n: int, start: object, freq: str | None, where: str) -> np.ndarray:
    if (start is None) != (freq is None):
        raise DataError(
            f"{where}: give both start= and freq= (or neither, for integer steps 0..n-1); got "
            f"start={start!r}, freq={freq!r}."
        )
    if start is None:
        return np.arange(n, dtype=np.int64)
    fq = normalise_freq(freq, f"{where}: freq")
    try:
        rng = pd.date_range(pd.Timestamp(start), periods=n, freq=fq)  # type: ignore[arg-type]
    except (ValueError, TypeError) as exc:
        raise DataError(f"{where}: bad start={start!r} ({exc}).") from exc
    return rng.as_unit("ns").to_numpy()


def _names(ids: Sequence[str] | None, default: list[str], where: str) -> list[str]:
    if ids is None:
        return default
    names = [str(i) for i in ids]
    if len(names) != len(default):
        raise DataError(
            f"{where}: {len(names)} ids given for {len(default)} series; give one id per series."
        )
    return names


def _wide_to_long(values: np.ndarray, ds: np.ndarray, names: list[str], where: str) -> pd.DataFrame:
    n, k = values.shape
    lengths = np.full(k, n, dtype=np.int64)
    flat = np.ascontiguousarray(values.T).ravel()
    return series_frame(names, lengths, flat, np.tile(ds, k), where=where)


def _text_lines(path: PathLike) -> list[tuple[int, str]]:
    lines = decode(read_bytes(path)).splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    out = []
    for k, line in enumerate(lines, start=1):
        if not line.strip():
            raise DataError(f"{path}, line {k}: blank line inside the data; remove it.")
        out.append((k, line.strip()))
    return out


def _number_line(tokens: list[str], where: str) -> np.ndarray:
    tokens = [t.strip() for t in tokens]
    if not tokens or tokens == [""]:
        raise DataError(f"{where}: no values.")
    try:
        return np.asarray(tokens, dtype=np.float64)
    except ValueError:
        bad = next(t for t in tokens if not is_float(t))
        raise DataError(f"{where}: {bad!r} is not a number.") from None
