"""Types of the dataset registry and its file handling (look-up, download, checksums).

Private: the public API is :mod:`qfcast.data.datasets`.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .errors import DataError

DATA_DIR_ENV = "QFCAST_DATA_DIR"
CACHE_DIR_ENV = "QFCAST_CACHE_DIR"
DEFAULT_CACHE = Path("~/.cache/qfcast/datasets")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class LocalCopy:
    """An accepted local variant of a remote file (e.g. a gzipped copy in a data folder)."""

    filename: str
    sha256: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset: its name in the dataset folder and where to download it.

    ``sha256``/``size`` are checked after a download when known (``None``: unknown, not
    checked). ``alternatives`` are other names the file may have in a data folder, such as a
    gzipped copy (the readers detect gzip by its magic bytes).
    """

    filename: str
    url: str
    sha256: str | None = None
    size: int | None = None
    alternatives: tuple[LocalCopy, ...] = ()


@dataclass(frozen=True)
class DatasetInfo:
    """What the registry knows about a dataset: its files, licence and standard forecast setup.

    ``horizon`` steps are forecast at each of ``windows`` rolling origins at the end of every
    series (the last window ends where the series ends). ``folder`` is the dataset's folder
    under a data or cache directory (default: ``name``). ``series`` and ``length`` (the full
    series length, e.g. ``"6221"`` or ``"15-58"``) are documentation. ``loader`` is internal:
    it maps the folder to the long frame of the full series.
    """

    name: str
    description: str
    freq: str
    horizon: int
    windows: int
    seasonality: int
    files: tuple[RemoteFile, ...]
    licence: str
    citation: str
    series: int = 0
    length: str = ""
    folder: str = ""
    loader: Callable[[Path], pd.DataFrame] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.folder:
            object.__setattr__(self, "folder", self.name)


@dataclass
class Dataset:
    """A loaded dataset: ``test`` holds each full series up to the end of its last test window,
    ``train`` is ``test`` without the last ``windows * horizon`` steps of every series.

    Examples
    --------
    >>> info = DatasetInfo("toy", "a toy", "D", 2, 2, 1, (), "none", "none")
    >>> test = pd.DataFrame({"unique_id": ["a"] * 6, "ds": range(6), "y": range(6)})
    >>> data = Dataset(info, cut(test, 4), test)
    >>> history, actuals = data.window(1)
    >>> history["y"].tolist(), actuals["y"].tolist()
    ([0, 1, 2, 3], [4, 5])
    >>> data
    Dataset('toy': 1 series of length 6 (train 2), freq 'D', horizon 2 x 2 windows)
    """

    info: DatasetInfo
    train: pd.DataFrame
    test: pd.DataFrame

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def freq(self) -> str:
        return self.info.freq

    @property
    def horizon(self) -> int:
        return self.info.horizon

    @property
    def windows(self) -> int:
        return self.info.windows

    def window(self, k: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        """``(history, actuals)`` of rolling window ``k`` (0 = earliest, ``windows - 1`` = last).

        ``history`` holds every series up to window ``k``'s forecast origin, ``actuals`` the
        ``horizon`` rows after it.
        """
        if not 0 <= k < self.windows:
            raise IndexError(f"{self.name}: window {k} out of range(0, {self.windows}).")
        rev = steps_from_end(self.test)
        end = (self.windows - k) * self.horizon
        history = self.test[rev >= end].reset_index(drop=True)
        actuals = self.test[(rev < end) & (rev >= end - self.horizon)].reset_index(drop=True)
        return history, actuals

    def __repr__(self) -> str:
        def span(frame: pd.DataFrame) -> str:
            sizes = frame.groupby("unique_id", sort=False).size()
            lo, hi = (int(sizes.min()), int(sizes.max())) if len(sizes) else (0, 0)
            return str(lo) if lo == hi else f"{lo}-{hi}"

        n = self.test["unique_id"].nunique()
        return (
            f"Dataset({self.name!r}: {n} series of length {span(self.test)} (train "
            f"{span(self.train)}), freq {self.freq!r}, horizon {self.horizon} x "
            f"{self.windows} windows)"
        )


def steps_from_end(frame: pd.DataFrame, id_col: str = "unique_id") -> np.ndarray:
    """For each row of a time-sorted frame, how many rows of its series come after it (0 for
    the last one)."""
    return frame.groupby(id_col, sort=False).cumcount(ascending=False).to_numpy()


def cut(frame: pd.DataFrame, n: int) -> pd.DataFrame:
    """``frame`` without the last ``n`` rows of every series (a new frame)."""
    return frame[steps_from_end(frame) >= n].reset_index(drop=True)


# --------------------------------------------------------------------------- files


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The download cache: ``cache_dir``, else ``$QFCAST_CACHE_DIR``, else the default."""
    chosen = cache_dir if cache_dir is not None else os.environ.get(CACHE_DIR_ENV) or DEFAULT_CACHE
    return Path(chosen).expanduser()


def search_roots(
    data_dir: str | os.PathLike[str] | None, cache_dir: str | os.PathLike[str] | None
) -> list[tuple[str, Path]]:
    """Where to look, in order: the ``data_dir`` argument, ``$QFCAST_DATA_DIR``, the cache."""
    roots = []
    if data_dir is not None:
        roots.append(("data_dir", Path(data_dir).expanduser()))
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        roots.append((DATA_DIR_ENV, Path(env).expanduser()))
    roots.append(("cache", cache_root(cache_dir)))
    return roots


def find_file(file: RemoteFile, folder: Path) -> tuple[Path, str | None] | None:
    """The file (or an accepted alternative) in ``folder`` and its expected sha256, size-checked."""
    for name, sha, size in (
        (file.filename, file.sha256, file.size),
        *((a.filename, a.sha256, a.size) for a in file.alternatives),
    ):
        path = folder / name
        if path.is_file():
            actual = path.stat().st_size
            if size is not None and actual != size:
                raise DataError(
                    f"{path} has {actual} bytes, expected {size}: it is truncated or another "
                    "version. Delete it (it is downloaded again) or replace it with the original."
                )
            return path, sha
    return None


def locate(
    info: DatasetInfo,
    data_dir: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Path | None:
    """The first ``<root>/<folder>`` holding all of the dataset's files, or None."""
    for _, root in search_roots(data_dir, cache_dir):
        folder = root / info.folder
        if folder.is_dir() and all(find_file(f, folder) for f in info.files):
            return folder
    return None


def fetch_files(
    info: DatasetInfo,
    *,
    data_dir: str | os.PathLike[str] | None,
    cache_dir: str | os.PathLike[str] | None,
    download: bool,
    progress: bool,
) -> Path:
    found = locate(info, data_dir, cache_dir)
    if found is not None:
        return found
    target = cache_root(cache_dir) / info.folder
    if not download:
        looked = ", ".join(
            f"{root / info.folder} ({what})" for what, root in search_roots(data_dir, cache_dir)
        )
        names = ", ".join(f.filename for f in info.files)
        raise DataError(
            f"dataset {info.name!r}: files {names} not found; looked in {looked}. Download them "
            f"with qfcast.datasets.fetch({info.name!r}) (or load(..., download=True)), or set "
            f"{DATA_DIR_ENV} to a folder holding {info.folder}/<files>."
        )
    target.mkdir(parents=True, exist_ok=True)
    for f in info.files:
        if find_file(f, target) is None:
            download_file(f, target / f.filename, progress=progress)
    return target


def download_file(file: RemoteFile, dest: Path, *, progress: bool = True) -> Path:
    """Stream ``file.url`` to a temporary file beside ``dest``, check it, rename atomically."""
    try:
        request = urllib.request.Request(file.url, headers={"User-Agent": "qfcast"})
    except ValueError as exc:
        raise DataError(f"{file.filename}: bad download URL {file.url!r} ({exc}).") from exc
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        size = 0
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=60) as resp:
            total = file.size or int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=dest.name,
                disable=not progress,
            ) as bar:
                while chunk := resp.read(_CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                    bar.update(len(chunk))
        expected_size = file.size if file.size is not None else total
        if expected_size is not None and size != expected_size:
            raise DataError(
                f"download of {file.filename} from {file.url}: got {size} bytes, expected "
                f"{expected_size}; the transfer was cut or the file changed. Try again."
            )
        actual = digest.hexdigest()
        if file.sha256 is not None and actual != file.sha256.lower():
            raise DataError(
                f"checksum mismatch for {file.filename} from {file.url}: expected sha256 "
                f"{file.sha256}, got {actual}. The file was deleted; the source may have "
                "changed or the download was corrupted."
            )
        os.replace(tmp, dest)
    except (urllib.error.URLError, OSError) as exc:
        raise DataError(
            f"could not download {file.filename} from {file.url} ({exc}). Check the network, "
            f"or put the file at {dest} yourself."
        ) from exc
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
