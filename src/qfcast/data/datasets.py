"""The dataset registry: benchmark datasets by name, with their standard forecast setups.

Files are looked for, in order, in the ``data_dir`` argument, in ``$QFCAST_DATA_DIR`` (both as
``<dir>/<folder>/<filename>``), and in the download cache (``cache_dir``, else
``$QFCAST_CACHE_DIR``, else ``~/.cache/qfcast/datasets``). Missing files are downloaded from
their pinned public URL into the cache, with their sha256 and size checked when known.

>>> from qfcast.data import datasets
>>> "exchange_rate" in datasets.names()
True
>>> datasets.info("exchange_rate").horizon, datasets.info("exchange_rate").windows
(30, 5)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeAlias

import pandas as pd

from .._names import closest
from ._registry import (
    CACHE_DIR_ENV,
    DATA_DIR_ENV,
    Dataset,
    DatasetInfo,
    LocalCopy,
    RemoteFile,
    cut,
    fetch_files,
    find_file,
    locate,
    sha256_of,
)
from ._registry_entries import ENTRIES
from .errors import DataError

__all__ = [
    "CACHE_DIR_ENV",
    "DATA_DIR_ENV",
    "Dataset",
    "DatasetInfo",
    "LocalCopy",
    "RemoteFile",
    "fetch",
    "info",
    "load",
    "names",
    "register",
    "table",
    "verify",
]

StrPath: TypeAlias = "str | os.PathLike[str]"

_REGISTRY: dict[str, DatasetInfo] = {entry.name: entry for entry in ENTRIES}


def names() -> list[str]:
    """The registered dataset names, sorted.

    >>> names()[:3]
    ['air_passengers', 'electricity', 'electricity_weekly']
    """
    return sorted(_REGISTRY)


def info(name: str) -> DatasetInfo:
    """The registry entry of ``name``; an unknown name raises DataError listing the known ones.

    >>> info("taylor").freq
    '30min'
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        close = closest(name, _REGISTRY)
        hint = f" Did you mean {close!r}?" if close else ""
        raise DataError(
            f"unknown dataset {name!r}.{hint} Known datasets: {', '.join(names())}."
        ) from None


def register(entry: DatasetInfo, *, replace: bool = False) -> None:
    """Add ``entry`` to the registry (``replace=True`` to overwrite an entry of that name)."""
    if entry.loader is None:
        raise DataError(f"dataset {entry.name!r}: a registry entry needs a loader.")
    if entry.name in _REGISTRY and not replace:
        raise DataError(f"dataset {entry.name!r} is already registered; pass replace=True.")
    _REGISTRY[entry.name] = entry


def table(*, data_dir: StrPath | None = None, cache_dir: StrPath | None = None) -> pd.DataFrame:
    """One row per dataset: name, freq, horizon, windows, series, length, available locally.

    >>> list(table().columns)
    ['name', 'freq', 'horizon', 'windows', 'series', 'length', 'available']
    """
    rows = []
    for name in names():
        entry = _REGISTRY[name]
        try:
            available = locate(entry, data_dir, cache_dir) is not None
        except DataError:
            available = False
        rows.append(
            {
                "name": name,
                "freq": entry.freq,
                "horizon": entry.horizon,
                "windows": entry.windows,
                "series": entry.series,
                "length": entry.length,
                "available": available,
            }
        )
    return pd.DataFrame(rows)


def fetch(
    name: str,
    *,
    data_dir: StrPath | None = None,
    cache_dir: StrPath | None = None,
    progress: bool = True,
) -> Path:
    """Make the dataset's files present (downloading into the cache if needed); their folder.

    Parameters
    ----------
    name : str
        A registered dataset.
    data_dir, cache_dir : path, optional
        See the module docstring for the look-up order.
    progress : bool
        Show a tqdm progress bar while downloading.
    """
    return fetch_files(
        info(name), data_dir=data_dir, cache_dir=cache_dir, download=True, progress=progress
    )


def load(
    name: str,
    *,
    data_dir: StrPath | None = None,
    cache_dir: StrPath | None = None,
    download: bool = True,
    progress: bool = True,
) -> Dataset:
    """Load a registered dataset with its standard split.

    Parameters
    ----------
    name : str
        A registered dataset (see :func:`names` / :func:`table`).
    data_dir, cache_dir : path, optional
        See the module docstring for the look-up order.
    download : bool
        Download missing files; with False a missing file raises DataError.
    progress : bool
        Show a tqdm progress bar while downloading.

    Returns
    -------
    Dataset
        ``test``: every series up to the end of its last test window; ``train``: ``test``
        without the last ``windows * horizon`` steps of each series.
    """
    entry = info(name)
    folder = fetch_files(
        entry, data_dir=data_dir, cache_dir=cache_dir, download=download, progress=progress
    )
    if entry.loader is None:
        raise DataError(f"dataset {name!r} has no loader; register it with one.")
    test = entry.loader(folder)
    held_out = entry.windows * entry.horizon
    sizes = test.groupby("unique_id", sort=False).size()
    short = sizes[sizes <= held_out]
    if len(short):
        raise DataError(
            f"dataset {name!r}: series {', '.join(map(repr, short.index[:5]))} have at most "
            f"{held_out} steps, too short for {entry.windows} windows of {entry.horizon}."
        )
    return Dataset(info=entry, train=cut(test, held_out), test=test)


def verify(
    name: str, *, data_dir: StrPath | None = None, cache_dir: StrPath | None = None
) -> dict[str, str | None]:
    """Check the sha256 of the dataset's local files (nothing is downloaded).

    Returns
    -------
    dict
        ``{path: sha256}`` for each file; the digest is ``None`` where the registry records
        none (nothing to compare with). A mismatch raises DataError.
    """
    entry = info(name)
    folder = locate(entry, data_dir, cache_dir)
    if folder is None:
        raise DataError(f"dataset {name!r} is not available locally; fetch({name!r}) downloads it.")
    out: dict[str, str | None] = {}
    for f in entry.files:
        found = find_file(f, folder)
        if found is None:  # removed since locate() saw it
            raise DataError(f"{folder}: {f.filename} disappeared while verifying.")
        path, expected = found
        if expected is None:
            out[str(path)] = None
            continue
        actual = sha256_of(path)
        if actual != expected.lower():
            raise DataError(
                f"{path}: sha256 {actual} does not match the expected {expected}; the file is "
                "corrupted or another version. Delete it and fetch it again."
            )
        out[str(path)] = actual
    return out
