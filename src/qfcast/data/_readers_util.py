"""Shared helpers of the file readers: bytes in, frequency aliases, long frames out.

Private: the public functions live in :mod:`qfcast.data.readers`.
"""

from __future__ import annotations

import gzip
import os
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa

from .errors import DataError, describe_ids

PathLike: TypeAlias = "str | os.PathLike[str]"

GZIP_MAGIC = b"\x1f\x8b"

# Frequency aliases that pandas 3 no longer accepts (GluonTS metadata and LSTNet configs still
# use them), mapped to their current spelling. Period-style "M"/"Q"/"Y" become the
# *start*-of-period aliases because a qfcast timestamp marks the start of its period.
_LEGACY_FREQ = {
    "H": "h",
    "T": "min",
    "S": "s",
    "L": "ms",
    "U": "us",
    "N": "ns",
    "M": "MS",
    "Q": "QS",
    "A": "YS",
    "Y": "YS",
}
_FREQ_RE = re.compile(r"^(\d*)([A-Za-z]+)(-[A-Za-z]{3})?$")


def as_path(path: PathLike) -> Path:
    """``path`` as a :class:`~pathlib.Path`; a missing file raises FileNotFoundError."""
    p = Path(os.fspath(path)).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file; check the path (cwd is {Path.cwd()}).")
    if p.is_dir():
        raise DataError(f"{p} is a directory; pass the path of a file.")
    return p


def read_bytes(path: PathLike) -> bytes:
    """The file's bytes, gunzipped when they start with the gzip magic number."""
    p = as_path(path)
    data = p.read_bytes()
    return gunzip(data, str(p))


def gunzip(data: bytes, where: str) -> bytes:
    """``data`` decompressed if it is gzip (by magic bytes, whatever the name says)."""
    if not data.startswith(GZIP_MAGIC):
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError) as exc:
        raise DataError(
            f"{where}: starts like a gzip file but does not decompress ({exc}); "
            "the file is probably truncated: fetch it again."
        ) from exc


def decode(data: bytes) -> str:
    """UTF-8 text (a BOM is dropped), falling back to Latin-1, which decodes any byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def is_gzip_file(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == GZIP_MAGIC


def normalise_freq(freq: str | None, where: str = "freq") -> str | None:
    """A pandas frequency string, legacy aliases (``"H"``, ``"1H"``, ``"M"``) mapped to new ones.

    >>> normalise_freq("1H"), normalise_freq("B"), normalise_freq("M"), normalise_freq("W")
    ('h', 'B', 'MS', 'W-SUN')
    """
    if freq is None:
        return None
    text = str(freq).strip()
    m = _FREQ_RE.match(text)
    if m is not None and m.group(2) in _LEGACY_FREQ:
        mult, base, anchor = m.group(1), m.group(2), m.group(3) or ""
        text = f"{'' if mult in ('', '1') else mult}{_LEGACY_FREQ[base]}{anchor}"
    try:
        offset = pd.tseries.frequencies.to_offset(text)
    except ValueError as exc:
        raise DataError(
            f"{where}: {freq!r} is not a pandas frequency ({exc}); use e.g. 'h', 'D', 'W-SUN', "
            "'MS', '30min'."
        ) from exc
    return offset.freqstr


def check_unique(names: Sequence[str], where: str, hint: str = "") -> None:
    counts = Counter(names)
    dups = [n for n, c in counts.items() if c > 1]
    if dups:
        raise DataError(
            f"{where}: series ids must be unique, but {describe_ids(dups)} occur more than once."
            + (f" {hint}" if hint else "")
        )


def within_index(lengths: np.ndarray) -> np.ndarray:
    """``[0, 1, .., l0-1, 0, 1, .., l1-1, ...]`` for the series lengths ``lengths``."""
    lengths = np.asarray(lengths, dtype=np.int64)
    total = int(lengths.sum())
    starts = np.cumsum(lengths) - lengths
    return np.arange(total, dtype=np.int64) - np.repeat(starts, lengths)


def timestamps(
    starts: pd.DatetimeIndex, lengths: np.ndarray, freq: str | pd.DateOffset, where: str
) -> np.ndarray:
    """Flat ``datetime64[ns]`` stamps: series ``i`` runs ``lengths[i]`` steps from ``starts[i]``.

    Fixed-size frequencies (hours, days, ...) are pure arithmetic; calendar ones (business days,
    month starts) call :func:`pandas.date_range` once per distinct start.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    offset = pd.tseries.frequencies.to_offset(freq)
    idx = within_index(lengths)
    start_ns = pd.DatetimeIndex(starts).as_unit("ns").asi8
    if isinstance(offset, pd.offsets.Tick):
        step = pd.Timedelta(offset).as_unit("ns").value
        return (np.repeat(start_ns, lengths) + idx * step).view("datetime64[ns]")
    uniq, inverse = np.unique(start_ns, return_inverse=True)
    max_len = np.zeros(len(uniq), dtype=np.int64)
    np.maximum.at(max_len, inverse, lengths)
    tables = []
    for u, n in zip(uniq, max_len, strict=True):
        first = pd.Timestamp(u)
        rng = pd.date_range(first, periods=int(n), freq=offset).as_unit("ns")
        if n and rng[0] != first:
            raise DataError(
                f"{where}: the start {first} is not on the {offset.freqstr!r} grid (the first "
                f"step would be {rng[0]}); give a start on the grid or another freq."
            )
        tables.append(rng.asi8)
    base = np.cumsum(max_len) - max_len
    table = np.concatenate(tables) if tables else np.empty(0, dtype=np.int64)
    return table[np.repeat(base[inverse], lengths) + idx].view("datetime64[ns]")


def repeat_strings(names: Sequence[str], lengths: np.ndarray) -> pd.Series:
    """A ``str`` Series holding ``names[i]`` ``lengths[i]`` times (fast for millions of rows)."""
    codes = np.repeat(np.arange(len(names), dtype=np.int32), np.asarray(lengths, dtype=np.int64))
    dictionary = pa.array([str(n) for n in names], type=pa.string())
    arr = pa.DictionaryArray.from_arrays(pa.array(codes), dictionary).cast(pa.large_string())
    return pd.Series(arr.to_pandas()).astype("str")


def series_frame(
    names: Sequence[str],
    lengths: np.ndarray,
    values: np.ndarray,
    ds: np.ndarray | pd.Series,
    *,
    where: str,
    static: Mapping[str, np.ndarray] | None = None,
    dynamic: Mapping[str, np.ndarray] | None = None,
    hint: str = "",
) -> pd.DataFrame:
    """Assemble the long frame from flat per-row arrays (series after series) and per-series
    ``static`` columns, ordering the *series* by id (rows keep their order within a series)."""
    names = [str(n) for n in names]
    check_unique(names, where, hint)
    lengths = np.asarray(lengths, dtype=np.int64)
    order = np.argsort(np.asarray(names, dtype=object), kind="stable")
    offsets = np.cumsum(lengths) - lengths
    if np.array_equal(order, np.arange(len(names))):
        perm = None
    else:
        lens_sorted = lengths[order]
        perm = np.repeat(offsets[order], lens_sorted) + within_index(lens_sorted)
        lengths = lens_sorted
        names = [names[i] for i in order]

    def rows(a: np.ndarray | pd.Series) -> np.ndarray:
        a = np.asarray(a)
        return a if perm is None else a[perm]

    columns: dict[str, object] = {
        "unique_id": repeat_strings(names, lengths),
        "ds": rows(ds),
        "y": rows(np.asarray(values, dtype=np.float64)),
    }
    for key, per_series in (static or {}).items():
        per_series = np.asarray(per_series)
        if perm is not None:
            per_series = per_series[order]
        if per_series.dtype.kind in "OUT":
            columns[key] = repeat_strings(list(per_series), lengths)
        else:
            columns[key] = np.repeat(per_series, lengths)
    for key, flat in (dynamic or {}).items():
        columns[key] = rows(flat)
    frame = pd.DataFrame(columns)
    if frame["ds"].dtype.kind == "M":
        frame["ds"] = frame["ds"].dt.as_unit("ns")
    return frame


def to_datetime(values: object, where: str, fmt: str | None = None) -> pd.DatetimeIndex:
    """Parse timestamps, naming the first unparsable one in the DataError."""
    try:
        try:
            out = pd.DatetimeIndex(pd.to_datetime(values, format=fmt))
        except ValueError:
            if fmt is not None:
                raise
            # e.g. "2020-01-01" beside "2020-01-01 00:00:00": infer each value's format
            out = pd.DatetimeIndex(pd.to_datetime(values, format="mixed"))
    except (ValueError, TypeError, OverflowError) as exc:
        bad = _first_unparsable(values, fmt)
        raise DataError(
            f"{where}: cannot parse {bad!r} as a timestamp"
            + (f" with format {fmt!r}" if fmt else "")
            + f" ({exc}); fix the value or pass a clean column."
        ) from exc
    return out.as_unit("ns")


def _first_unparsable(values: object, fmt: str | None) -> object:
    for v in np.asarray(values, dtype=object).ravel():
        try:
            pd.to_datetime(v, format=fmt)
        except (ValueError, TypeError, OverflowError):
            return v
    return None


def floats(tokens: Sequence[str] | np.ndarray, where: str) -> np.ndarray:
    """Float64 array from text tokens; the DataError names the first one that is no number."""
    try:
        return np.asarray(tokens, dtype=np.float64)
    except ValueError:
        bad = next(t for t in tokens if not is_float(t))
        raise DataError(
            f"{where}: {bad!r} is not a number; only numbers (and '?'/NaN for missing) are "
            "allowed there."
        ) from None


def is_float(token: object) -> bool:
    try:
        float(token)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return True
