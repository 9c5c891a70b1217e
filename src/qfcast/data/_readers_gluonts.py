"""Readers for the GluonTS JSON-lines format and GluonTS dataset folders / tarballs."""

from __future__ import annotations

import json
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

import numpy as np
import pandas as pd

from ._readers_util import (
    PathLike,
    as_path,
    decode,
    gunzip,
    normalise_freq,
    read_bytes,
    series_frame,
    timestamps,
    within_index,
)
from ._readers_util import to_datetime as parse_datetime
from .errors import DataError, describe_ids

__all__ = ["GluonTSData", "read_gluonts_dataset", "read_gluonts_jsonl"]

_STATIC = {"feat_static_cat": np.int64, "feat_static_real": np.float64}
_DYNAMIC = ("feat_dynamic_real", "feat_dynamic_cat", "past_feat_dynamic_real")
_DATA_FILE = re.compile(r"\.(json|jsonl)(\.gz)?$")


@dataclass(frozen=True)
class GluonTSData:
    """A GluonTS dataset (``train``/``test`` JSON lines plus ``metadata.json``) in long format.

    Attributes
    ----------
    train : pandas.DataFrame
        Long frame of the training series.
    test : pandas.DataFrame
        Long frame of the test series with an extra int column ``window`` (0-based rolling
        window); ids are those of the matching training series. Sorted by window, id, ds.
    metadata : dict
        The parsed ``metadata.json``.
    freq : str or None
        pandas frequency from metadata ``freq`` or ``time_granularity``.
    prediction_length : int or None
        From metadata, else the common test-minus-train length of window 0, else None.
    """

    train: pd.DataFrame
    test: pd.DataFrame
    metadata: dict[str, Any] = field(default_factory=dict)
    freq: str | None = None
    prediction_length: int | None = None


@dataclass
class _Entry:
    line: int
    start: object
    target: np.ndarray
    item_id: str | None
    static: dict[str, np.ndarray]
    dynamic: dict[str, np.ndarray]


def read_gluonts_jsonl(
    source: PathLike | IO[bytes] | IO[str], *, freq: str | None = None
) -> pd.DataFrame:
    """Read GluonTS JSON lines (``.json``, ``.json.gz`` or an open file) into long format.

    Parameters
    ----------
    source : path or file object
        One JSON object per line: ``{"start": ..., "target": [...]}`` plus optional
        ``item_id``, ``feat_static_cat``, ``feat_static_real``, ``feat_dynamic_real``,
        ``feat_dynamic_cat`` and ``past_feat_dynamic_real``. Gzip is detected by magic bytes.
    freq : str, optional
        pandas frequency of the series. With it, ``ds`` is ``start`` plus ``freq`` steps; without
        it ``ds`` is the integer step 0, 1, ... (``start`` cannot be extended without a freq).

    Returns
    -------
    pandas.DataFrame
        ``unique_id`` (the ``item_id``, else the 0-based line number), ``ds``, ``y`` (``"NaN"``
        and ``null`` become NaN), then ``feat_static_cat_0, ...`` (constant per series) and
        ``feat_dynamic_real_0, ...`` (cut to the target's length).

    Examples
    --------
    >>> import io
    >>> lines = b'{"start": "2020-01-01", "target": [1, "NaN", 3], "item_id": "a"}\\n'
    >>> read_gluonts_jsonl(io.BytesIO(lines), freq="D")
      unique_id         ds    y
    0         a 2020-01-01  1.0
    1         a 2020-01-02  NaN
    2         a 2020-01-03  3.0
    """
    if isinstance(source, (str, Path)) or hasattr(source, "__fspath__"):
        where = str(as_path(source))  # type: ignore[arg-type]
        text = decode(read_bytes(source))  # type: ignore[arg-type]
    elif hasattr(source, "read"):
        where = str(getattr(source, "name", "<file object>"))
        raw = source.read()
        text = raw if isinstance(raw, str) else decode(gunzip(raw, where))
    else:
        raise DataError(
            f"read_gluonts_jsonl: expected a path or an open file, got {type(source).__name__}."
        )
    entries = _parse(text, where)
    fq = normalise_freq(freq, f"{where}: freq")
    return _frame(entries, _ids(entries, where), fq, where)


def read_gluonts_dataset(path: PathLike) -> GluonTSData:
    """Read a GluonTS dataset directory or ``.tar.gz`` tarball (read in memory, not extracted).

    The layout is ``<name>/metadata/metadata.json`` (or ``<name>/metadata.json``),
    ``<name>/train/*.json[.gz]`` and ``<name>/test/*.json[.gz]``; the files of a split are read
    in name order.

    Test lines are matched to training series by ``item_id`` when every line has one (window
    ``k`` is the ``k``-th occurrence of the id), otherwise by the GluonTS rolling convention:
    window-major, one line per training series, so test line ``j`` is series ``j % n`` of window
    ``j // n``. Either way every test entry must start like its training series and extend it
    (same start, training target as prefix); a DataError says which entry does not.

    Parameters
    ----------
    path : str or path-like
        The dataset folder (or its parent holding exactly one dataset) or the tarball.

    Returns
    -------
    GluonTSData

    Examples
    --------
    >>> import json, pathlib, tempfile
    >>> root = pathlib.Path(tempfile.mkdtemp()) / "toy"
    >>> for split, targets in {"train": [[1, 2], [5, 6]], "test": [[1, 2, 3], [5, 6, 7]]}.items():
    ...     (root / split).mkdir(parents=True)
    ...     rows = [json.dumps({"start": "2020-01-06", "target": t}) for t in targets]
    ...     _ = (root / split / "data.json").write_text("\\n".join(rows))
    >>> (root / "metadata").mkdir()
    >>> _ = (root / "metadata" / "metadata.json").write_text('{"freq": "B"}')
    >>> data = read_gluonts_dataset(root)
    >>> data.freq, data.prediction_length, len(data.train), len(data.test)
    ('B', 1, 4, 6)
    """
    p = Path(path).expanduser()
    if not p.is_dir():
        p = as_path(p)
    where = str(p)
    files = _tar_files(p) if p.is_file() else _dir_files(p)
    meta_bytes = files.pop("metadata", [])
    metadata: dict[str, Any] = {}
    if meta_bytes:
        try:
            metadata = json.loads(decode(meta_bytes[0][1]))
        except json.JSONDecodeError as exc:
            raise DataError(f"{where}: {meta_bytes[0][0]} is not valid JSON ({exc}).") from exc
    freq_raw = metadata.get("freq", metadata.get("time_granularity"))
    freq = normalise_freq(freq_raw, f"{where}: metadata freq") if freq_raw else None

    splits: dict[str, list[_Entry]] = {}
    for split in ("train", "test"):
        if not files.get(split):
            raise DataError(
                f"{where}: no {split}/*.json or {split}/*.json.gz files; expected the GluonTS "
                "layout <name>/{metadata,train,test}/."
            )
        splits[split] = [
            e for name, data in files[split] for e in _parse(decode(gunzip(data, name)), name)
        ]
    train, test = splits["train"], splits["test"]
    train_ids = _ids(train, f"{where} train")
    series, window = _match(train, train_ids, test, where)

    train_frame = _frame(train, train_ids, freq, f"{where} train")
    parts = []
    for w in range(int(window.max()) + 1 if len(window) else 0):
        sel = np.flatnonzero(window == w)
        part = _frame([test[i] for i in sel], [train_ids[series[i]] for i in sel], freq, where)
        part.insert(0, "window", np.int64(w))
        parts.append(part)
    test_frame = pd.concat(parts, ignore_index=True)
    cols = ["unique_id", "ds", "y", "window"]
    test_frame = test_frame[cols + [c for c in test_frame.columns if c not in cols]]

    horizon = metadata.get("prediction_length")
    if horizon is None:
        first = window == 0
        diffs = {len(test[i].target) - len(train[series[i]].target) for i in np.flatnonzero(first)}
        horizon = diffs.pop() if len(diffs) == 1 else None
        horizon = horizon if horizon is not None and horizon > 0 else None
    return GluonTSData(
        train=train_frame,
        test=test_frame,
        metadata=metadata,
        freq=freq,
        prediction_length=None if horizon is None else int(horizon),
    )


def _match(
    train: list[_Entry], train_ids: list[str], test: list[_Entry], where: str
) -> tuple[np.ndarray, np.ndarray]:
    """For each test entry, the index of its training series and its 0-based window."""
    n = len(train)
    if all(e.item_id is not None for e in test) and all(e.item_id is not None for e in train):
        position = {i: k for k, i in enumerate(train_ids)}
        unknown = [e.item_id for e in test if e.item_id not in position]
        if unknown:
            raise DataError(
                f"{where}: test item_ids {describe_ids(sorted(set(unknown)))} have no training "
                "series; the test split must reuse the training ids."
            )
        series = np.array([position[e.item_id] for e in test], dtype=np.int64)  # type: ignore[index]
        seen: dict[int, int] = {}
        window = np.empty(len(test), dtype=np.int64)
        for j, s in enumerate(series):
            window[j] = seen.get(int(s), 0)
            seen[int(s)] = window[j] + 1
        how = "by item_id"
    else:
        if len(test) % n:
            raise DataError(
                f"{where}: {len(test)} test lines are not a whole number of windows of {n} "
                "training series; without item_ids the test split must be window-major with "
                "one line per training series."
            )
        series = np.arange(len(test), dtype=np.int64) % n
        window = np.arange(len(test), dtype=np.int64) // n
        how = "window-major"
    for j, (e, s) in enumerate(zip(test, series, strict=True)):
        tr = train[s]
        m = len(tr.target)
        if (
            not _same_start(e.start, tr.start)
            or len(e.target) < m
            or not np.array_equal(e.target[:m], tr.target, equal_nan=True)
        ):
            raise DataError(
                f"{where}: test line {e.line} (matched {how} to training series "
                f"{train_ids[s]!r}, window {window[j]}) does not extend that series (start "
                f"{e.start!r} vs {tr.start!r}, length {len(e.target)} vs {m}, or different "
                "values in the training part). Give the test lines item_ids, or order them "
                "window-major with one line per training series."
            )
    return series, window


def _same_start(a: object, b: object) -> bool:
    if str(a) == str(b):
        return True
    try:  # "2020-01-01" and "2020-01-01 00:00:00" are the same start
        return bool(pd.Timestamp(str(a)) == pd.Timestamp(str(b)))
    except (ValueError, TypeError):
        return False


def _tar_files(path: Path) -> dict[str, list[tuple[str, bytes]]]:
    try:
        archive = tarfile.open(path, "r:*")
    except tarfile.TarError as exc:
        raise DataError(f"{path}: not a readable tar archive ({exc}).") from exc
    with archive:
        members = [m for m in archive.getmembers() if m.isfile()]
        names = {PurePosixPath(m.name): m for m in members}
        roots = {q.parent.parent for q in names if q.parent.name == "train"}
        if len(roots) != 1:
            raise DataError(
                f"{path}: expected exactly one dataset with a train/ folder in the archive, "
                f"found {len(roots)}."
            )
        root = roots.pop()
        out: dict[str, list[tuple[str, bytes]]] = {}
        for q in sorted(names):
            kind = _kind(q, root)
            if kind is not None:
                data = archive.extractfile(names[q]).read()  # type: ignore[union-attr]
                out.setdefault(kind, []).append((f"{path}:{q}", data))
    return out


def _dir_files(path: Path) -> dict[str, list[tuple[str, bytes]]]:
    root = path
    if not (root / "train").is_dir():
        subs = [d for d in sorted(path.iterdir()) if (d / "train").is_dir()]
        if len(subs) != 1:
            raise DataError(
                f"{path}: expected a GluonTS dataset folder (with train/ and test/) or a folder "
                f"holding exactly one, found {len(subs)}."
            )
        root = subs[0]
    out: dict[str, list[tuple[str, bytes]]] = {}
    for f in sorted(root.rglob("*")):
        kind = _kind(PurePosixPath(f.relative_to(root).as_posix()), PurePosixPath("."))
        if kind is not None and f.is_file():
            out.setdefault(kind, []).append((str(f), f.read_bytes()))
    return out


def _kind(q: PurePosixPath, root: PurePosixPath) -> str | None:
    rel = q.relative_to(root) if root != PurePosixPath(".") else q
    if rel.as_posix() in ("metadata/metadata.json", "metadata.json"):
        return "metadata"
    if len(rel.parts) == 2 and rel.parts[0] in ("train", "test") and _DATA_FILE.search(rel.name):
        return rel.parts[0]
    return None


def _parse(text: str, where: str) -> list[_Entry]:
    entries = []
    for lineno, line in enumerate(text.splitlines()):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{where}, line {lineno + 1}: not valid JSON ({exc}).") from exc
        if not isinstance(obj, dict) or "target" not in obj or "start" not in obj:
            raise DataError(
                f"{where}, line {lineno + 1}: each line must be an object with 'start' and "
                "'target' keys."
            )
        try:
            target = np.asarray(obj["target"], dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise DataError(
                f"{where}, line {lineno + 1}: target is not a list of numbers ({exc}); use "
                '"NaN" or null for missing values.'
            ) from exc
        if target.ndim != 1:
            raise DataError(
                f"{where}, line {lineno + 1}: multivariate target of shape {target.shape}; "
                "qfcast reads univariate series only: write one line per component series."
            )
        static = {}
        for key, dtype in _STATIC.items():
            if key in obj:
                static[key] = np.atleast_1d(np.asarray(obj[key], dtype=dtype))
        dynamic = {}
        for key in _DYNAMIC:
            if key in obj:
                arr = np.atleast_2d(np.asarray(obj[key], dtype=np.float64))
                if arr.ndim != 2 or arr.shape[1] < len(target):
                    raise DataError(
                        f"{where}, line {lineno + 1}: {key} has shape {arr.shape}; expected "
                        f"(features, >= {len(target)} time steps), aligned with the target."
                    )
                dynamic[key] = arr[:, : len(target)]
        item = obj.get("item_id")
        entries.append(
            _Entry(
                lineno + 1,
                obj["start"],
                target,
                None if item is None else str(item),
                static,
                dynamic,
            )
        )
    return entries


def _ids(entries: list[_Entry], where: str) -> list[str]:
    with_id = sum(e.item_id is not None for e in entries)
    if with_id == len(entries):
        return [e.item_id for e in entries]  # type: ignore[misc]
    if with_id:
        bad = [e.line for e in entries if e.item_id is None]
        raise DataError(
            f"{where}: lines {describe_ids(bad)} have no item_id while others do; give every "
            "line an item_id or none."
        )
    return [str(i) for i in range(len(entries))]


def _frame(entries: list[_Entry], ids: list[str], freq: str | None, where: str) -> pd.DataFrame:
    lengths = np.array([len(e.target) for e in entries], dtype=np.int64)
    y = np.concatenate([e.target for e in entries]) if entries else np.empty(0)
    if freq is None:
        ds: np.ndarray = within_index(lengths)
    else:
        starts = parse_datetime([str(e.start) for e in entries], f"{where}: start")
        ds = timestamps(starts, lengths, freq, where)
    static: dict[str, np.ndarray] = {}
    for key in _STATIC:
        per = [e.static.get(key) for e in entries]
        if all(p is None for p in per):
            continue
        widths = {None if p is None else len(p) for p in per}
        if len(widths) != 1 or None in widths:
            raise DataError(
                f"{where}: {key} is missing or has different lengths across lines ({widths}); "
                "every line needs the same number of values."
            )
        table = np.stack(per)  # type: ignore[arg-type]
        for j in range(table.shape[1]):
            static[f"{key}_{j}"] = table[:, j]
    dynamic: dict[str, np.ndarray] = {}
    for key in _DYNAMIC:
        per_dyn = [e.dynamic.get(key) for e in entries]
        if all(p is None for p in per_dyn):
            continue
        widths = {None if p is None else p.shape[0] for p in per_dyn}
        if len(widths) != 1 or None in widths:
            raise DataError(
                f"{where}: {key} is missing or has different feature counts across lines "
                f"({widths}); every line needs the same number of features."
            )
        table = np.concatenate(per_dyn, axis=1)  # type: ignore[arg-type]
        for j in range(table.shape[0]):
            dynamic[f"{key}_{j}"] = table[j]
    return series_frame(
        ids,
        lengths,
        y,
        ds,
        where=where,
        static=static,
        dynamic=dynamic,
        hint="For rolling test files (one line per series and window) use read_gluonts_dataset.",
    )
