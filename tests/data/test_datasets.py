"""Dataset registry: the READMEs' facts against the shared files, and the download path against a
local HTTP server (never the internet)."""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import qfcast.datasets
from qfcast.data import datasets
from qfcast.data._registry_entries import _lstnet
from qfcast.data.errors import DataError
from qfcast.data.readers import read_gluonts_dataset, read_lstnet

OFFLINE = [
    "air_passengers",
    "electricity_weekly",
    "ett_small",
    "ett_small_ot",
    "exchange_rate",
    "kaggle_web_traffic_1000",
    "m1_yearly",
    "nyc_taxi",
    "solar_weekly",
    "taylor",
    "traffic_weekly",
]
DOWNLOAD_ONLY = ["electricity", "solar", "traffic"]


_LOADED: dict[str, datasets.Dataset] = {}


@pytest.fixture
def load(shared: Path) -> Callable[[str], datasets.Dataset]:
    """``load(name)`` from the shared folder, never downloading, cached across tests."""

    def get(name: str) -> datasets.Dataset:
        if name not in _LOADED:
            _LOADED[name] = datasets.load(name, data_dir=shared, download=False)
        return _LOADED[name]

    return get


Loader = Callable[[str], datasets.Dataset]


def _lengths(frame: pd.DataFrame) -> pd.Series:
    return frame.groupby("unique_id", sort=False).size()


# --------------------------------------------------------------------------- registry


def test_names_table_and_alias_module() -> None:
    assert datasets.names() == sorted(OFFLINE + DOWNLOAD_ONLY)
    assert qfcast.datasets.load is datasets.load and qfcast.datasets.names() == datasets.names()
    table = datasets.table()
    assert list(table.columns) == [
        "name",
        "freq",
        "horizon",
        "windows",
        "series",
        "length",
        "available",
    ]
    row = table.set_index("name").loc["exchange_rate"]
    assert (row["freq"], row["horizon"], row["windows"], row["series"]) == ("B", 30, 5, 8)


def test_table_availability(shared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(datasets.DATA_DIR_ENV, raising=False)
    available = datasets.table(data_dir=shared, cache_dir=tmp_path).set_index("name")["available"]
    assert available[OFFLINE].all() and not available[DOWNLOAD_ONLY].any()
    assert not datasets.table(data_dir=tmp_path, cache_dir=tmp_path)["available"].any()


def test_info_unknown_name_suggests() -> None:
    with pytest.raises(
        DataError, match=r"unknown dataset 'exchange_rte'\. Did you mean 'exchange_rate'\?"
    ):
        datasets.info("exchange_rte")
    with pytest.raises(DataError, match="Known datasets: air_passengers, electricity"):
        datasets.info("zzz")


@pytest.mark.parametrize(
    ("name", "freq", "horizon", "windows", "seasonality"),
    [
        ("exchange_rate", "B", 30, 5, 5),
        ("ett_small", "h", 24, 7, 24),
        ("ett_small_ot", "h", 24, 7, 24),
        ("kaggle_web_traffic_1000", "D", 30, 5, 7),
        ("electricity_weekly", "W-SUN", 8, 1, 52),
        ("traffic_weekly", "W-THU", 8, 1, 52),
        ("solar_weekly", "W-SUN", 5, 1, 52),
        ("nyc_taxi", "30min", 48, 7, 48),
        ("taylor", "30min", 48, 7, 48),
        ("m1_yearly", "YS", 6, 1, 1),
        ("air_passengers", "MS", 12, 1, 12),
        ("electricity", "h", 24, 7, 24),
        ("traffic", "h", 24, 7, 24),
        ("solar", "h", 24, 7, 24),
    ],
)
def test_standard_setups(
    name: str, freq: str, horizon: int, windows: int, seasonality: int
) -> None:
    entry = datasets.info(name)
    assert (entry.freq, entry.horizon, entry.windows, entry.seasonality) == (
        freq,
        horizon,
        windows,
        seasonality,
    )
    assert entry.licence and entry.citation and entry.description and entry.loader is not None


def test_urls_are_pinned_and_checksums_recorded() -> None:
    pinned = re.compile(r"^https://raw\.githubusercontent\.com/[\w.-]+/[\w.-]+/[0-9a-f]{40}/")
    for name in datasets.names():
        for f in datasets.info(name).files:
            assert pinned.match(f.url), f.url
            assert f.url.endswith("/" + f.filename)
            if name in OFFLINE:
                assert f.sha256 is not None and len(f.sha256) == 64 and f.size
            else:  # the LSTNet originals: digest unknown (documented)
                assert f.sha256 is None and f.size is None
    assert (
        datasets.info("electricity")
        .files[0]
        .url.endswith("7f402f185cc2435b5e66aed13a3b560ed142e023/electricity/electricity.txt.gz")
    )


def test_verify_checks_every_readme_sha256(shared: Path) -> None:
    for name in OFFLINE:
        digests = datasets.verify(name, data_dir=shared)
        assert len(digests) == len(datasets.info(name).files)
        assert all(d is not None for d in digests.values())
    kaggle = datasets.verify("kaggle_web_traffic_1000", data_dir=shared)
    (path,) = kaggle
    assert path.endswith(".tsf.gz")  # the gzipped local copy, checked against its own sha256
    assert kaggle[path] == "284a36ee394d963d77e51df331cc049b39961a35f74c3ee9403514fbc422beae"


# --------------------------------------------------------------------------- README facts


def test_exchange_rate(load: Loader, shared: Path) -> None:
    data = load("exchange_rate")
    assert (_lengths(data.train) == 6071).all() and (_lengths(data.test) == 6221).all()
    assert data.train["unique_id"].nunique() == 8
    raw = read_lstnet(
        shared / "exchange_rate" / "exchange_rate.txt.gz", start="1990-01-01", freq="B"
    )
    position = raw.groupby("unique_id").cumcount()
    pd.testing.assert_frame_equal(data.train, raw[position < 6071].reset_index(drop=True))
    pd.testing.assert_frame_equal(data.test, raw[position < 6221].reset_index(drop=True))
    # window k == GluonTS test window k, and the same as the LSTNet recipe in _lstnet.py
    nips = read_gluonts_dataset(shared / "exchange_rate" / "exchange_rate_nips.tar.gz")
    for k in range(5):
        history, actuals = data.window(k)
        assert (_lengths(history) == 6071 + 30 * k).all() and (_lengths(actuals) == 30).all()
        both = pd.concat([history, actuals]).sort_values(["unique_id", "ds"], kind="stable")
        expected = nips.test[nips.test["window"] == k].drop(columns="window")
        pd.testing.assert_frame_equal(both.reset_index(drop=True), expected.reset_index(drop=True))
    recipe = _lstnet("exchange_rate.txt.gz", "1990-01-01", "B", horizon=30, windows=5)
    pd.testing.assert_frame_equal(recipe(shared / "exchange_rate"), data.test)


def test_ett_small(load: Loader) -> None:
    data = load("ett_small")
    ids = sorted(
        f"{c}_{r}" for c in ("HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT") for r in (0, 1)
    )
    assert sorted(data.test["unique_id"].unique()) == ids
    assert (_lengths(data.test) == 17420).all() and (_lengths(data.train) == 17420 - 7 * 24).all()
    first = data.test.groupby("unique_id")["y"].first()
    last = data.test.groupby("unique_id")["y"].last()
    assert first["HUFL_0"] == 5.827000141143799 and first["OT_0"] == 30.5310001373291
    assert first["HUFL_1"] == 41.13000106811523 and last["OT_1"] == 45.98649978637695
    assert data.test["ds"].min() == pd.Timestamp("2016-07-01")
    assert data.test["ds"].max() == pd.Timestamp("2018-06-26 19:00")
    assert data.train["ds"].max() == pd.Timestamp("2018-06-19 19:00")
    ot = load("ett_small_ot")
    assert sorted(ot.test["unique_id"].unique()) == ["OT_0", "OT_1"]
    expected = data.test[data.test["unique_id"].isin(["OT_0", "OT_1"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(ot.test, expected)


def test_kaggle_web_traffic(load: Loader) -> None:
    data = load("kaggle_web_traffic_1000")
    assert data.test["unique_id"].nunique() == 1000 and (_lengths(data.test) == 803).all()
    assert (_lengths(data.train) == 803 - 150).all()
    assert data.test["ds"].min() == pd.Timestamp("2015-07-01")
    assert data.test["ds"].max() == pd.Timestamp("2017-09-10")
    assert "proxy" in data.info.description and "wiki-rolling_nips" in data.info.description
    t1 = data.test[data.test["unique_id"] == "T1"]["y"]
    assert (t1.iloc[0], t1.iloc[-1]) == (18.0, 38.0)


@pytest.mark.parametrize(
    ("name", "n", "length", "train_len", "start", "first", "last"),
    [
        ("electricity_weekly", 321, 156, 148, "2012-01-01", 8032.0, 1667.0),
        ("traffic_weekly", 862, 104, 96, "2015-01-01", 6.4875, 6.0152),
        ("solar_weekly", 137, 52, 47, "2006-01-01", 8946.9, 7592.15),
        ("nyc_taxi", 1, 10320, 10320 - 336, "2014-07-01", 10844.0, 26288.0),
        ("taylor", 1, 4032, 4032 - 336, "2000-06-05", 22262.0, 23132.0),
        ("air_passengers", 1, 144, 132, "1949-01-01", 112.0, 432.0),
    ],
)
def test_equal_length_datasets(
    load: Loader,
    name: str,
    n: int,
    length: int,
    train_len: int,
    start: str,
    first: float,
    last: float,
) -> None:
    data = load(name)
    assert data.test["unique_id"].nunique() == n
    assert (_lengths(data.test) == length).all() and (_lengths(data.train) == train_len).all()
    assert data.test["ds"].min() == pd.Timestamp(start)
    step = pd.tseries.frequencies.to_offset(data.freq)
    stamps = data.test[data.test["unique_id"] == data.test["unique_id"].iloc[0]]["ds"]
    assert stamps.tolist() == list(pd.date_range(start, periods=length, freq=step))
    series = data.test[data.test["unique_id"] == data.test["unique_id"].iloc[0]]["y"]
    assert (series.iloc[0], series.iloc[-1]) == (first, last)


def test_m1_yearly_windows_at_each_series_end(load: Loader) -> None:
    data = load("m1_yearly")
    lengths = _lengths(data.test)
    assert len(lengths) == 181 and (lengths.min(), lengths.max()) == (15, 58)
    pd.testing.assert_series_equal(_lengths(data.train), lengths - 6)
    history, actuals = data.window(0)
    pd.testing.assert_frame_equal(history, data.train)
    assert (_lengths(actuals) == 6).all() and len(actuals) == 181 * 6
    t1 = actuals[actuals["unique_id"] == "T1"]
    assert t1["y"].tolist() == [588568.0, 646758.0, 849998.0, 1106740.0, 1184550.0, 1425090.0]
    assert t1["ds"].tolist() == list(pd.date_range("1994-01-01", periods=6, freq="YS"))
    assert data.train[data.train["unique_id"] == "T1"]["y"].iloc[-1] == 553400.0
    assert repr(data) == (
        "Dataset('m1_yearly': 181 series of length 15-58 (train 9-52), freq 'YS', "
        "horizon 6 x 1 windows)"
    )
    with pytest.raises(IndexError, match=r"window 1 out of range\(0, 1\)"):
        data.window(1)


def test_windows_tile_the_test_tail(load: Loader) -> None:
    data = load("taylor")
    actuals = [data.window(k)[1] for k in range(data.windows)]
    tail = data.test.iloc[-7 * 48 :].reset_index(drop=True)
    pd.testing.assert_frame_equal(pd.concat(actuals, ignore_index=True), tail)
    history, _ = data.window(3)
    assert len(history) == 4032 - 4 * 48
    assert (
        data.name == "taylor" and data.horizon == 48 and data.windows == 7 and data.freq == "30min"
    )


def test_lstnet_recipe_aggregates_like_gluonts(tmp_path: Path) -> None:
    # 2 series x 120 ten-minute steps -> 20 hours; train end int(0.8 * 20) = 16 -> length 17,
    # then 1 window of 2 -> 19 hours kept.
    values = np.arange(240, dtype=float).reshape(120, 2)
    np.savetxt(tmp_path / "solar_AL.txt", values, delimiter=",", fmt="%g")
    frame = _lstnet("solar_AL.txt", "2006-01-01", "h", aggregate=6, horizon=2, windows=1)(tmp_path)
    assert _lengths(frame).tolist() == [19, 19]
    assert frame["y"].iloc[0] == sum(range(0, 12, 2)) and frame["y"].iloc[19] == sum(
        range(1, 12, 2)
    )
    assert frame["ds"].iloc[18] == pd.Timestamp("2006-01-01 18:00")


# --------------------------------------------------------------------------- downloads

_TSF = (
    b"# toy m1\n@relation toy\n@attribute series_name string\n@attribute start_timestamp date\n"
    b"@frequency yearly\n@horizon 6\n@missing false\n@equallength false\n@data\n"
    b"A:1990-01-01 00-00-00:1,2,3,4,5,6,7,8\nB:1980-01-01 00-00-00:9,8,7,6,5,4,3\n"
)


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimpleNamespace]:
    """A static HTTP server on 127.0.0.1 serving ``root``; ``hits`` lists the request paths."""
    root = tmp_path / "www"
    root.mkdir()
    hits: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def do_GET(self) -> None:
            hits.append(self.path)
            super().do_GET()

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(var, "127.0.0.1,localhost")
    monkeypatch.delenv(datasets.DATA_DIR_ENV, raising=False)
    monkeypatch.delenv(datasets.CACHE_DIR_ENV, raising=False)
    try:
        yield SimpleNamespace(
            root=root, url=f"http://127.0.0.1:{httpd.server_address[1]}", hits=hits
        )
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def _serve(
    server: SimpleNamespace,
    monkeypatch: pytest.MonkeyPatch,
    data: bytes,
    *,
    sha256: str | None = "auto",
    size: int | None = -1,
) -> datasets.RemoteFile:
    """Serve ``data`` as the m1_yearly file and point the registry entry at it."""
    (server.root / "toy.tsf").write_bytes(data)
    remote = datasets.RemoteFile(
        "m1_yearly_dataset.tsf",
        f"{server.url}/toy.tsf",
        hashlib.sha256(data).hexdigest() if sha256 == "auto" else sha256,
        len(data) if size == -1 else size,
    )
    entry = dataclasses.replace(datasets.info("m1_yearly"), files=(remote,))
    monkeypatch.setitem(datasets._REGISTRY, "m1_yearly", entry)
    return remote


def test_download_into_cache_then_reuse(
    server: SimpleNamespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _serve(server, monkeypatch, _TSF)
    cache = tmp_path / "cache"
    data = datasets.load("m1_yearly", cache_dir=cache, progress=False)
    assert server.hits == ["/toy.tsf"]
    assert (cache / "m1_yearly" / "m1_yearly_dataset.tsf").read_bytes() == _TSF
    assert sorted(p.name for p in (cache / "m1_yearly").iterdir()) == ["m1_yearly_dataset.tsf"]
    assert _lengths(data.test).to_dict() == {"A": 8, "B": 7}
    assert data.train["y"].tolist() == [1.0, 2.0, 9.0]
    again = datasets.load("m1_yearly", cache_dir=cache, progress=False, download=False)
    monkeypatch.setenv(datasets.CACHE_DIR_ENV, str(cache))
    assert datasets.fetch("m1_yearly", progress=False) == cache / "m1_yearly"
    assert server.hits == ["/toy.tsf"]  # served from the cache, no second request
    pd.testing.assert_frame_equal(again.test, data.test)
    assert datasets.verify("m1_yearly")[str(cache / "m1_yearly" / "m1_yearly_dataset.tsf")]


def test_download_with_progress_bar_and_unknown_checksum(
    server: SimpleNamespace,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _serve(server, monkeypatch, _TSF, sha256=None, size=None)
    folder = datasets.fetch("m1_yearly", cache_dir=tmp_path / "c", progress=True)
    assert (folder / "m1_yearly_dataset.tsf").stat().st_size == len(_TSF)
    assert "m1_yearly_dataset.tsf" in capsys.readouterr().err
    assert datasets.verify("m1_yearly", cache_dir=tmp_path / "c") == {
        str(folder / "m1_yearly_dataset.tsf"): None
    }


def test_checksum_mismatch_leaves_nothing(
    server: SimpleNamespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _serve(server, monkeypatch, _TSF, sha256="0" * 64)
    cache = tmp_path / "cache"
    actual = hashlib.sha256(_TSF).hexdigest()
    with pytest.raises(
        DataError, match=f"m1_yearly_dataset.tsf.*expected sha256 {'0' * 64}, got {actual}"
    ):
        datasets.load("m1_yearly", cache_dir=cache, progress=False)
    assert list((cache / "m1_yearly").iterdir()) == []  # no partial or temporary file
    _serve(server, monkeypatch, _TSF, size=len(_TSF) + 1)
    with pytest.raises(DataError, match=f"got {len(_TSF)} bytes, expected {len(_TSF) + 1}"):
        datasets.fetch("m1_yearly", cache_dir=cache, progress=False)
    assert list((cache / "m1_yearly").iterdir()) == []


def test_download_errors_and_download_false(
    server: SimpleNamespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    remote = _serve(server, monkeypatch, _TSF)
    with pytest.raises(DataError, match=r"not found; looked in .*cache.*fetch\('m1_yearly'\)"):
        datasets.load("m1_yearly", cache_dir=tmp_path / "c", download=False)
    assert server.hits == []
    (server.root / "toy.tsf").unlink()
    with pytest.raises(DataError, match=r"could not download m1_yearly_dataset\.tsf .*404"):
        datasets.fetch("m1_yearly", cache_dir=tmp_path / "c", progress=False)
    assert list((tmp_path / "c" / "m1_yearly").iterdir()) == []
    assert remote.url.startswith("http://127.0.0.1:")


def test_data_dir_precedes_env_and_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    entry = dataclasses.replace(
        datasets.info("m1_yearly"),
        files=(
            datasets.RemoteFile(
                "m1_yearly_dataset.tsf", "http://127.0.0.1:9/never", None, len(_TSF)
            ),
        ),
    )
    monkeypatch.setitem(datasets._REGISTRY, "m1_yearly", entry)
    for root in ("explicit", "env", "cache"):
        (tmp_path / root / "m1_yearly").mkdir(parents=True)
        (tmp_path / root / "m1_yearly" / "m1_yearly_dataset.tsf").write_bytes(_TSF)
    monkeypatch.setenv(datasets.DATA_DIR_ENV, str(tmp_path / "env"))
    monkeypatch.setenv(datasets.CACHE_DIR_ENV, str(tmp_path / "cache"))
    assert (
        datasets.fetch("m1_yearly", data_dir=tmp_path / "explicit")
        == tmp_path / "explicit" / "m1_yearly"
    )
    assert datasets.fetch("m1_yearly") == tmp_path / "env" / "m1_yearly"
    monkeypatch.delenv(datasets.DATA_DIR_ENV)
    assert datasets.fetch("m1_yearly") == tmp_path / "cache" / "m1_yearly"
    (tmp_path / "cache" / "m1_yearly" / "m1_yearly_dataset.tsf").write_bytes(_TSF[:-1])
    with pytest.raises(DataError, match=f"has {len(_TSF) - 1} bytes, expected {len(_TSF)}"):
        datasets.load("m1_yearly", download=False)


def test_real_file_over_http_matches_registry_checksum(
    shared: Path, server: SimpleNamespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = datasets.info("m1_yearly").files[0]
    data = (shared / "m1_yearly" / original.filename).read_bytes()
    _serve(server, monkeypatch, data, sha256=original.sha256, size=original.size)
    loaded = datasets.load("m1_yearly", cache_dir=tmp_path / "cache", progress=False)
    assert loaded.test["unique_id"].nunique() == 181 and server.hits == ["/toy.tsf"]


@pytest.mark.parametrize("name", OFFLINE)
def test_every_shared_dataset_builds_a_regular_panel(name: str, load: Loader) -> None:
    """The readers' output meets the data layer's contract: no gaps, the registry's freq."""
    from qfcast.data import Panel
    from qfcast.data.timeindex import to_freq

    data = load(name)
    panel = Panel.from_frame(data.test)
    assert panel.n_inserted == 0
    assert to_freq(panel.freq) == to_freq(data.freq)
    np.testing.assert_array_equal(panel.lengths, _lengths(data.test).sort_index().to_numpy())
    train = Panel.from_frame(data.train, freq=data.freq)
    np.testing.assert_array_equal(train.lengths, panel.lengths - data.horizon * data.windows)
