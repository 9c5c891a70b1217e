"""Reader for the Monash Forecasting Archive ``.tsf`` format (see :func:`read_tsf`)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ._readers_util import (
    PathLike,
    as_path,
    decode,
    floats,
    is_float,
    read_bytes,
    series_frame,
    timestamps,
    within_index,
)
from ._readers_util import to_datetime as parse_datetime
from .errors import DataError

__all__ = ["TsfData", "read_tsf"]

TSF_DATE_FORMAT = "%Y-%m-%d %H-%M-%S"
_ATTRIBUTE_TYPES = ("numeric", "string", "date")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
# Fixed-size Monash frequencies: name -> pandas alias.
_FIXED = {
    "daily": "D",
    "hourly": "h",
    "half_hourly": "30min",
    "minutely": "min",
    "secondly": "s",
}
_MULTIPLE_RE = re.compile(r"^(\d+)_(seconds|minutes|hours|days)$")
_UNIT = {"seconds": "s", "minutes": "min", "hours": "h", "days": "D"}
_MONTH_STEPS = {"yearly": 12, "quarterly": 3, "monthly": 1}


@dataclass(frozen=True)
class TsfData:
    """A parsed ``.tsf`` file.

    Attributes
    ----------
    frame : pandas.DataFrame
        Long frame ``unique_id, ds, y`` plus one column per extra series attribute (constant
        within a series). ``ds`` holds timestamps when the file has a date attribute (the
        series' start), otherwise integer steps from 0.
    freq : str or None
        pandas frequency for the Monash ``@frequency`` (``None`` when the header has none).
    horizon : int or None
        ``@horizon``, the archive's standard forecast horizon.
    missing, equal_length : bool
        The ``@missing`` and ``@equallength`` header flags.
    attributes : list of (str, str)
        The ``@attribute`` declarations, ``(name, type)``, in file order.
    metadata : dict
        Every ``@`` header line, keyed by its lower-cased name (``"attribute"`` maps to the list of
        raw declarations).
    """

    frame: pd.DataFrame
    freq: str | None
    horizon: int | None
    missing: bool
    equal_length: bool
    attributes: list[tuple[str, str]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


def read_tsf(path: PathLike) -> TsfData:
    """Read a Monash ``.tsf`` (or gzipped ``.tsf.gz``) file into long format.

    Parameters
    ----------
    path : str or path-like
        The file. Gzip is detected by its magic bytes; the text may be UTF-8 or Latin-1 with
        LF or CRLF line endings.

    Returns
    -------
    TsfData
        The long frame and the header facts (frequency, horizon, flags, attributes).

    Notes
    -----
    ``#`` comment lines and blank lines are skipped, ``?`` values become NaN, attribute types
    ``numeric``/``string``/``date`` (format ``%Y-%m-%d %H-%M-%S``) are supported. The series id
    is the ``series_name`` attribute (else the 0-based data line number), the start is the
    ``start_timestamp`` attribute (else the first date attribute). Yearly, quarterly and monthly
    series step by calendar months from their own start; weekly by 7 days. ``freq`` is anchored
    on the most common start month (``"YS-JUL"``, ``"QS-FEB"``) or weekday (``"W-SUN"``).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> text = '''# a comment
    ... @relation demo
    ... @attribute series_name string
    ... @attribute start_timestamp date
    ... @frequency monthly
    ... @horizon 2
    ... @missing true
    ... @equallength false
    ... @data
    ... A:2020-01-01 00-00-00:1,2,?,4
    ... B:2021-06-01 00-00-00:5,6
    ... '''
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "demo.tsf"
    >>> _ = path.write_text(text)
    >>> data = read_tsf(path)
    >>> data.freq, data.horizon, data.missing, data.equal_length
    ('MS', 2, True, False)
    >>> data.frame
      unique_id         ds    y
    0         A 2020-01-01  1.0
    1         A 2020-02-01  2.0
    2         A 2020-03-01  NaN
    3         A 2020-04-01  4.0
    4         B 2021-06-01  5.0
    5         B 2021-07-01  6.0
    """
    where = str(as_path(path))
    lines = decode(read_bytes(path)).splitlines()
    attributes, metadata, first_data = _header(lines, where)
    n_attr = len(attributes)

    attr_values: list[list[str]] = [[] for _ in range(n_attr)]
    tokens: list[str] = []
    lengths: list[int] = []
    data_lines: list[int] = []
    for lineno in range(first_data, len(lines)):
        line = lines[lineno].strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(":", n_attr)
        if len(parts) != n_attr + 1:
            raise DataError(
                f"{where}, line {lineno + 1}: expected {n_attr} ':'-separated attribute values "
                f"({', '.join(n for n, _ in attributes) or 'none'}) before the series values, "
                f"got {line[:60]!r}."
            )
        series = parts[-1].strip()
        if not series:
            raise DataError(f"{where}, line {lineno + 1}: the series has no values.")
        if "?" in series:
            series = series.replace("?", "nan")
        values = series.split(",")
        for j in range(n_attr):
            attr_values[j].append(parts[j].strip())
        tokens.extend(values)
        lengths.append(len(values))
        data_lines.append(lineno + 1)
    if not lengths:
        raise DataError(f"{where}: no series after the @data line.")

    n_series = len(lengths)
    lens = np.asarray(lengths, dtype=np.int64)
    y = _values(tokens, lens, data_lines, where)

    names = [n for n, _ in attributes]
    id_attr = "series_name" if "series_name" in names else None
    date_attrs = [n for n, t in attributes if t == "date"]
    time_attr = "start_timestamp" if "start_timestamp" in date_attrs else None
    if time_attr is None and date_attrs:
        time_attr = date_attrs[0]

    columns: dict[str, np.ndarray] = {}
    starts: pd.DatetimeIndex | None = None
    for (name, kind), raw in zip(attributes, attr_values, strict=True):
        what = f"{where}, attribute {name!r}"
        if name == id_attr:
            continue
        if kind == "date":
            parsed = parse_datetime(raw, what, TSF_DATE_FORMAT)
            if name == time_attr:
                starts = parsed
                continue
            columns[name] = parsed.to_numpy()
        elif kind == "numeric":
            columns[name] = floats(raw, what)
        else:
            columns[name] = np.asarray(raw, dtype=object)
    ids = attr_values[names.index(id_attr)] if id_attr else [str(i) for i in range(n_series)]

    monash = metadata.get("frequency")
    freq = _freq(monash, starts, where) if monash is not None else None
    if starts is None:
        ds: np.ndarray = within_index(lens)
    else:
        ds = timestamps(starts, lens, _step(monash, where), where)
    frame = series_frame(ids, lens, y, ds, where=where, static=columns)
    return TsfData(
        frame=frame,
        freq=freq,
        horizon=_int(metadata.get("horizon"), "@horizon", where),
        missing=_bool(metadata.get("missing"), "@missing", where),
        equal_length=_bool(metadata.get("equallength"), "@equallength", where),
        attributes=list(attributes),
        metadata=metadata,
    )


def _values(tokens: list[str], lengths: np.ndarray, lines: list[int], where: str) -> np.ndarray:
    try:
        return np.asarray(tokens, dtype=np.float64)
    except ValueError:
        pos = next(i for i, t in enumerate(tokens) if not is_float(t))
        series = int(np.searchsorted(np.cumsum(lengths), pos, side="right"))
        raise DataError(
            f"{where}, line {lines[series]}: value {tokens[pos]!r} is not a number; series "
            "values must be numbers separated by ',' ('?' for missing)."
        ) from None


def _header(lines: list[str], where: str) -> tuple[list[tuple[str, str]], dict[str, Any], int]:
    attributes: list[tuple[str, str]] = []
    metadata: dict[str, Any] = {}
    for lineno, raw in enumerate(lines):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not line.startswith("@"):
            raise DataError(
                f"{where}, line {lineno + 1}: {line[:40]!r} comes before the @data line; header "
                "lines must start with '@' (comments with '#')."
            )
        key, _, value = line[1:].partition(" ")
        key, value = key.strip().lower(), value.strip()
        if key == "data":
            return attributes, metadata, lineno + 1
        if key == "attribute":
            name, _, kind = value.partition(" ")
            kind = kind.strip().lower()
            if not name or kind not in _ATTRIBUTE_TYPES:
                raise DataError(
                    f"{where}, line {lineno + 1}: bad attribute declaration {line!r}; expected "
                    f"'@attribute <name> <type>' with type one of {', '.join(_ATTRIBUTE_TYPES)}."
                )
            attributes.append((name, kind))
            metadata.setdefault("attribute", []).append(value)
        else:
            metadata[key] = value
    raise DataError(f"{where}: no '@data' line; is this a Monash .tsf file?")


def _int(value: str | None, what: str, where: str) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise DataError(f"{where}: {what} must be an integer, got {value!r}.") from None


def _bool(value: str | None, what: str, where: str) -> bool:
    if value is None:
        return False
    text = value.lower()
    if text not in ("true", "false"):
        raise DataError(f"{where}: {what} must be 'true' or 'false', got {value!r}.")
    return text == "true"


def _known() -> str:
    return ", ".join([*_MONTH_STEPS, "weekly", *_FIXED, "<n>_seconds/minutes/hours/days"])


def _step(monash: str | None, where: str) -> pd.DateOffset | str:
    """The offset one step advances a series (calendar months keep the start's day)."""
    name = (monash or "").lower()
    if name in _MONTH_STEPS:
        return pd.DateOffset(months=_MONTH_STEPS[name])
    if name == "weekly":
        return "7D"
    if monash is None:
        raise DataError(
            f"{where}: the file has start timestamps but no @frequency line; add one ({_known()})."
        )
    return _fixed_alias(name, where)


def _fixed_alias(name: str, where: str) -> str:
    if name in _FIXED:
        return _FIXED[name]
    m = _MULTIPLE_RE.match(name)
    if m is None:
        raise DataError(f"{where}: unknown @frequency {name!r}; known: {_known()}.")
    return f"{int(m.group(1))}{_UNIT[m.group(2)]}"


def _freq(monash: str, starts: pd.DatetimeIndex | None, where: str) -> str:
    """The pandas alias for a Monash frequency name, anchored on the (most common) start."""
    name = monash.lower()
    if name == "monthly":
        return "MS"
    if name in ("yearly", "quarterly"):
        month = 1 if starts is None else _most_common(starts.month)
        if name == "quarterly":
            month = (month - 1) % 3 + 1
        base = "YS" if name == "yearly" else "QS"
        return base if month == 1 else f"{base}-{_MONTHS[month - 1]}"
    if name == "weekly":
        day = 6 if starts is None else _most_common(starts.day_of_week)
        return f"W-{_DAYS[day]}"
    return _fixed_alias(name, where)


def _most_common(values: pd.Index) -> int:
    return int(Counter(values.tolist()).most_common(1)[0][0])
