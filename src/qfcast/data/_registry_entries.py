"""The registered datasets: files (pinned URLs, checksums), standard setups and loaders.

Facts come from the READMEs of the offline copies (``shared/data/*/README.md``) and from the
GluonTS dataset repository (``awslabs/gluonts``, ``src/gluonts/dataset/repository/``). Every
URL points at a fixed commit, so the bytes cannot change under a checksum.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from ._readers_util import repeat_strings
from ._registry import DatasetInfo, LocalCopy, RemoteFile, cut
from .errors import DataError
from .readers import (
    read_gluonts_dataset,
    read_lstnet,
    read_monash_text_split,
    read_table,
    read_tsf,
    read_wide,
)

_GH = "https://raw.githubusercontent.com"
_LSTNET = f"{_GH}/laiguokun/multivariate-time-series-data/7f402f185cc2435b5e66aed13a3b560ed142e023"
_DARTS = f"{_GH}/unit8co/darts/2be8e43fbdc1265209f33bbe8bae81f3e4d9146f/datasets"
_ETT = f"{_GH}/zhouhaoyi/ETDataset/1d16c8f4f943005d613b5bc962e9eeb06058cf07/ETT-small"
_WEEKLY = f"{_GH}/rakshitha123/WeeklyForecasting/ec933d83903be9f773cdf77724c7fed59f405227/datasets"
_KAGGLE = "kaggle_web_traffic_dataset_1000_without_missing_values.tsf"

_LSTNET_CITE = (
    "Lai, Chang, Yang, Liu (2018). Modeling Long- and Short-Term Temporal Patterns with Deep "
    "Neural Networks. SIGIR 2018."
)
_COPULA_CITE = (
    "Salinas, Bohlke-Schneider, Callot, Medico, Gasthaus (2019). High-dimensional multivariate "
    "forecasting with low-rank Gaussian Copula Processes. NeurIPS 2019."
)
_MONASH_CITE = (
    "Godahewa, Bergmeir, Webb, Hyndman, Montero-Manso (2021). Monash Time Series Forecasting "
    "Archive. NeurIPS 2021 Datasets and Benchmarks."
)
_MONASH_LICENCE = "CC BY 4.0 (Monash archive)"
_LSTNET_LICENCE = "no licence file in the LSTNet data repo; public data, cite LSTNet"


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- loaders
# Each maps the dataset folder to the long frame of the full series (to the end of the last
# test window); the registry derives ``train`` by cutting ``windows * horizon`` steps.


def _exchange_rate(folder: Path) -> pd.DataFrame:
    data = read_gluonts_dataset(folder / "exchange_rate_nips.tar.gz")
    last = data.test["window"].max()
    test = data.test[data.test["window"] == last].drop(columns="window").reset_index(drop=True)
    if not cut(test, 5 * 30).equals(data.train):
        raise DataError(
            f"{folder}: in exchange_rate_nips.tar.gz the last test window minus 5 x 30 steps "
            "is not the training split; the tarball is not the GluonTS exchange_rate_nips file."
        )
    return test


def _ett(folder: Path, columns: tuple[str, ...] | None = None) -> pd.DataFrame:
    frames = []
    # GluonTS ``_ett_small.py``: item_id = f"{col}_{region}", region 0 = ETTh1, 1 = ETTh2.
    for region, name in enumerate(("ETTh1.csv", "ETTh2.csv")):
        table = read_table(folder / name)
        keep = [c for c in table.columns if c != "date" and (columns is None or c in columns)]
        ids = [f"{c}_{region}" for c in keep]
        frames.append(read_wide(table[["date", *keep]], time_col="date", ids=ids))
    return _sorted(pd.concat(frames, ignore_index=True))


def _tsf(filename: str) -> Callable[[Path], pd.DataFrame]:
    def load(folder: Path) -> pd.DataFrame:
        path = folder / filename
        if not path.exists() and (folder / f"{filename}.gz").exists():
            path = folder / f"{filename}.gz"
        return read_tsf(path).frame

    return load


def _weekly(prefix: str, start: str, freq: str) -> Callable[[Path], pd.DataFrame]:
    def load(folder: Path) -> pd.DataFrame:
        _, test = read_monash_text_split(
            folder / f"{prefix}_dataset.txt",
            folder / f"{prefix}_results.txt",
            start=start,
            freq=freq,
        )
        return test

    return load


def _lstnet(
    filename: str, start: str, freq: str, *, aggregate: int = 1, horizon: int = 24, windows: int = 7
) -> Callable[[Path], pd.DataFrame]:
    """GluonTS ``_lstnet.py``: training ends at index ``int(0.8 * T)`` (inclusive), the test
    windows follow; ``aggregate`` consecutive raw steps are summed first (solar: 6 x 10 min)."""

    def load(folder: Path) -> pd.DataFrame:
        raw = read_lstnet(folder / filename)  # series after series, each of equal length
        n_series = raw["unique_id"].nunique()
        values = raw["y"].to_numpy().reshape(n_series, -1)
        ids = raw["unique_id"].to_numpy()[:: values.shape[1]]
        steps = values.shape[1] // aggregate
        values = values[:, : steps * aggregate].reshape(n_series, steps, aggregate).sum(axis=2)
        keep = int(0.8 * steps) + 1 + windows * horizon
        stamps = pd.date_range(start, periods=keep, freq=freq).as_unit("ns").to_numpy()
        return pd.DataFrame(
            {
                "unique_id": repeat_strings(list(ids), np.full(n_series, keep)),
                "ds": np.tile(stamps, n_series),
                "y": values[:, :keep].ravel(),
            }
        )

    return load


# --------------------------------------------------------------------------- entries

ENTRIES: tuple[DatasetInfo, ...] = (
    DatasetInfo(
        name="exchange_rate",
        description=(
            "Daily (business-day) exchange rates of 8 currencies against the USD from 1990, "
            "exactly GluonTS exchange_rate_nips: training length 6071 (LSTNet rows [:6071]), "
            "5 rolling test windows of 30 steps (series end at 6221)."
        ),
        freq="B",
        horizon=30,
        windows=5,
        seasonality=5,
        files=(
            RemoteFile(
                "exchange_rate_nips.tar.gz",
                f"{_GH}/mbohlkeschneider/gluon-ts/442bd4ffffa4a0fcf9ae7aa25db9632fbe58a7ea/"
                "datasets/exchange_rate_nips.tar.gz",
                "83f3cf364ae7854b0a74ef9825c47b8314896de820de877fd466cdffd94027d1",
                744269,
            ),
        ),
        licence="Apache-2.0 (GluonTS fork holding the tarball); data from the LSTNet repo",
        citation=f"{_LSTNET_CITE} {_COPULA_CITE}",
        series=8,
        length="6221",
        loader=_exchange_rate,
    ),
    DatasetInfo(
        name="ett_small",
        description=(
            "Electricity Transformer Temperature, hourly, ETTh1 and ETTh2: 7 variables x 2 "
            "transformers = 14 series with GluonTS ids '<col>_<region>' (region 0 = ETTh1, "
            "1 = ETTh2), 17420 steps from 2016-07-01; 7 rolling 24-hour windows at the end."
        ),
        freq="h",
        horizon=24,
        windows=7,
        seasonality=24,
        files=(
            RemoteFile(
                "ETTh1.csv",
                f"{_ETT}/ETTh1.csv",
                "f18de3ad269cef59bb07b5438d79bb3042d3be49bdeecf01c1cd6d29695ee066",
                2589657,
            ),
            RemoteFile(
                "ETTh2.csv",
                f"{_ETT}/ETTh2.csv",
                "a3dc2c597b9218c7ce1cd55eb77b283fd459a1d09d753063f944967dd6b9218b",
                2417960,
            ),
        ),
        licence="CC BY-ND 4.0 (share unmodified files only; splits are derived in code)",
        citation="Zhou et al. (2021). Informer. AAAI 2021; github.com/zhouhaoyi/ETDataset.",
        series=14,
        length="17420",
        loader=_ett,
    ),
    # ett_small_ot is added below (same files, OT columns only).
    DatasetInfo(
        name="kaggle_web_traffic_1000",
        description=(
            "Daily Wikipedia page views, 1000-series subset of the Kaggle web-traffic data "
            "(Monash 'without missing values' variant), 803 days from 2015-07-01. Set up as a "
            "proxy for GluonTS wiki-rolling_nips (5 rolling 30-day windows); not the same "
            "series set. Monash's own setup is one window of 59."
        ),
        freq="D",
        horizon=30,
        windows=5,
        seasonality=7,
        files=(
            RemoteFile(
                _KAGGLE,
                f"{_GH}/rakshitha123/SETAR_Trees/4af7079ec8c999871ab848d47b39e95417ef567b/"
                f"datasets/{_KAGGLE}",
                "d792055af2401c86349544b424078e3068dd1ed5031ddaba4fe7a7c8eac12a39",
                2097343,
                alternatives=(
                    LocalCopy(
                        f"{_KAGGLE}.gz",
                        "284a36ee394d963d77e51df331cc049b39961a35f74c3ee9403514fbc422beae",
                        659513,
                    ),
                ),
            ),
        ),
        licence="CC BY 4.0 (Monash); MIT (SETAR_Trees repo)",
        citation=f"{_MONASH_CITE} Google (2017), Kaggle Web Traffic Time Series Forecasting.",
        series=1000,
        length="803",
        loader=_tsf(_KAGGLE),
    ),
    DatasetInfo(
        name="electricity_weekly",
        description=(
            "Weekly electricity consumption of the 321 LSTNet clients (Monash), 156 weeks "
            "from 2012-01-01 (Sundays); one final 8-week window."
        ),
        freq="W-SUN",
        horizon=8,
        windows=1,
        seasonality=52,
        files=(
            RemoteFile(
                "electricity_weekly_dataset.tsf",
                f"{_GH}/Zylus08/IPS/962c675fdab47ca02c194294eeca7fc0b2052957/"
                "electricity_weekly_dataset.tsf",
                "93e665a84e96eb84006a865c9f7ae8662b6481c1ef0d913a5cc8b29e7c4558b8",
                334580,
            ),
        ),
        licence="CC BY 4.0 (Monash; UCI ElectricityLoadDiagrams20112014)",
        citation=f"{_MONASH_CITE} {_LSTNET_CITE}",
        series=321,
        length="156",
        loader=_tsf("electricity_weekly_dataset.tsf"),
    ),
    DatasetInfo(
        name="traffic_weekly",
        description=(
            "Weekly road occupancy of the 862 LSTNet PeMS sensors (Monash text split: 96 "
            "training + 8 test weeks). The source has no timestamps: the stamps are synthetic, "
            "weekly from 2015-01-01 (a Thursday, the start of the LSTNet traffic data)."
        ),
        freq="W-THU",
        horizon=8,
        windows=1,
        seasonality=52,
        files=(
            RemoteFile(
                "traffic_weekly_dataset.txt",
                f"{_WEEKLY}/traffic_weekly_dataset.txt",
                "f046fb8f11fa79c77862ac82b31b78bc894e0e66645db9f45b655c692288aca7",
                602983,
            ),
            RemoteFile(
                "traffic_weekly_results.txt",
                f"{_WEEKLY}/traffic_weekly_results.txt",
                "d82f0c3ba470ba1c233b073583db2761576bfe2bf78328399e06d8b4d92b6934",
                51958,
            ),
        ),
        licence=f"{_MONASH_LICENCE}; no licence file in the WeeklyForecasting repo",
        citation=f"{_MONASH_CITE} {_LSTNET_CITE}",
        series=862,
        length="104",
        loader=_weekly("traffic_weekly", "2015-01-01", "W-THU"),
    ),
    DatasetInfo(
        name="solar_weekly",
        description=(
            "Weekly PV output of the 137 LSTNet Alabama plants, 2006 (Monash text split: 47 "
            "training + 5 test weeks). The source has no timestamps: the stamps are synthetic, "
            "weekly from 2006-01-01 (a Sunday)."
        ),
        freq="W-SUN",
        horizon=5,
        windows=1,
        seasonality=52,
        files=(
            RemoteFile(
                "solar_weekly_dataset.txt",
                f"{_WEEKLY}/solar_weekly_dataset.txt",
                "a88a8660b4e77a1444b2d9fda19c1435879bcde65ad67a0c21c7f923f938e00f",
                48147,
            ),
            RemoteFile(
                "solar_weekly_results.txt",
                f"{_WEEKLY}/solar_weekly_results.txt",
                "6d620687d7aacf29c4a45f3d820d06774d5825df8420929e1d05733da09cfc23",
                5366,
            ),
        ),
        licence=f"{_MONASH_LICENCE}; no licence file in the WeeklyForecasting repo",
        citation=f"{_MONASH_CITE} {_LSTNET_CITE}",
        series=137,
        length="52",
        loader=_weekly("solar_weekly", "2006-01-01", "W-SUN"),
    ),
    DatasetInfo(
        name="nyc_taxi",
        description=(
            "NYC taxi passengers per 30 minutes, 2014-07-01 to 2015-01-31 (10320 steps; likely "
            "the NAB nyc_taxi series, not GluonTS taxi_30min); 7 rolling one-day windows."
        ),
        freq="30min",
        horizon=48,
        windows=7,
        seasonality=48,
        files=(
            RemoteFile(
                "taxi_new_york_passengers.csv",
                f"{_DARTS}/taxi_new_york_passengers.csv",
                "cac434404cfaaf7809c50e2160ebeda9f39bb383854e62914f46748dc7f7569c",
                265773,
            ),
        ),
        licence="Apache-2.0 (darts); NYC TLC public trip records; NAB (MIT)",
        citation=(
            "NYC Taxi & Limousine Commission trip records; Ahmad, Lavin, Purdy, Agha (2017), "
            "Numenta Anomaly Benchmark, Neurocomputing 262."
        ),
        series=1,
        length="10320",
        loader=lambda folder: read_wide(
            folder / "taxi_new_york_passengers.csv", time_col="time", ids=["nyc_taxi"]
        ),
    ),
    DatasetInfo(
        name="taylor",
        description=(
            "Half-hourly electricity demand in England and Wales, 4032 steps (12 weeks) from "
            "Monday 2000-06-05 00:00 (the file has no time column; start from the darts "
            "docstring); 7 rolling one-day windows."
        ),
        freq="30min",
        horizon=48,
        windows=7,
        seasonality=48,
        files=(
            RemoteFile(
                "taylor.csv",
                f"{_DARTS}/taylor.csv",
                "0c9cbfcb414fc0897ea27773f1dabbb933184c09b90b750d2029631d4a451ed0",
                24196,
            ),
        ),
        licence="Apache-2.0 (darts); R forecast package (GPL-3)",
        citation="Taylor (2003). Short-term electricity demand forecasting. JORS 54, 799-805.",
        series=1,
        length="4032",
        loader=lambda folder: read_wide(
            folder / "taylor.csv", start="2000-06-05", freq="30min", ids=["taylor"]
        ),
    ),
    DatasetInfo(
        name="m1_yearly",
        description=(
            "The 181 yearly series of the M1 competition (Monash), lengths 15 to 58, each with "
            "its own start; one final 6-year window per series, at its own end."
        ),
        freq="YS",
        horizon=6,
        windows=1,
        seasonality=1,
        files=(
            RemoteFile(
                "m1_yearly_dataset.tsf",
                f"{_GH}/aeon-toolkit/aeon/17b493cb55b5d7fcce72fce64f052fb39933e886/"
                "aeon/datasets/data/m1_yearly_dataset/m1_yearly_dataset.tsf",
                "12866731b810af595e4d4c74e87597a7846eb3b4667ef884a67a7e9126bf5412",
                30362,
            ),
        ),
        licence="BSD-3-Clause (aeon); CC BY 4.0 (Monash)",
        citation=f"{_MONASH_CITE} Makridakis et al. (1982), J. Forecasting 1(2), 111-153.",
        series=181,
        length="15-58",
        loader=_tsf("m1_yearly_dataset.tsf"),
    ),
    DatasetInfo(
        name="air_passengers",
        description=(
            "Box & Jenkins monthly international airline passengers (thousands), 144 months "
            "from 1949-01; the last 12 months are the test window."
        ),
        freq="MS",
        horizon=12,
        windows=1,
        seasonality=12,
        files=(
            RemoteFile(
                "AirPassengers.csv",
                f"{_DARTS}/AirPassengers.csv",
                "5f8b316b84545d9cfb05612298df8415ce4c44421c7012d109465564b07ebc06",
                1746,
            ),
        ),
        licence="Apache-2.0 (darts); classic public data",
        citation="Box, Jenkins (1976). Time Series Analysis: Forecasting and Control.",
        series=1,
        length="144",
        loader=lambda folder: read_wide(
            folder / "AirPassengers.csv", time_col="Month", ids=["AirPassengers"]
        ),
    ),
    DatasetInfo(
        name="electricity",
        description=(
            "Hourly consumption of 321 clients (LSTNet electricity.txt.gz, 26304 x 321, from "
            "2012-01-01), GluonTS LSTNet setup: training ends at index int(0.8 * 26304) = 21043 "
            "(length 21044), then 7 rolling 24-hour windows (series end at 21212). Download "
            "only (not in the offline copies); sha256 and size unknown, so not checked."
        ),
        freq="h",
        horizon=24,
        windows=7,
        seasonality=24,
        files=(RemoteFile("electricity.txt.gz", f"{_LSTNET}/electricity/electricity.txt.gz"),),
        licence=_LSTNET_LICENCE + "; UCI ElectricityLoadDiagrams20112014 is CC BY 4.0",
        citation=_LSTNET_CITE,
        series=321,
        length="21212",
        loader=_lstnet("electricity.txt.gz", "2012-01-01", "h"),
    ),
    DatasetInfo(
        name="traffic",
        description=(
            "Hourly road occupancy of 862 PeMS sensors (LSTNet traffic.txt.gz, 17544 x 862, "
            "from 2015-01-01), GluonTS LSTNet setup: training length int(0.8 * 17544) + 1 = "
            "14036, then 7 rolling 24-hour windows (series end at 14204). Download only; "
            "sha256 and size unknown, so not checked."
        ),
        freq="h",
        horizon=24,
        windows=7,
        seasonality=24,
        files=(RemoteFile("traffic.txt.gz", f"{_LSTNET}/traffic/traffic.txt.gz"),),
        licence=_LSTNET_LICENCE + "; Caltrans PeMS (public)",
        citation=_LSTNET_CITE,
        series=862,
        length="14204",
        loader=_lstnet("traffic.txt.gz", "2015-01-01", "h"),
    ),
    DatasetInfo(
        name="solar",
        description=(
            "PV output of 137 Alabama plants in 2006 (LSTNet solar-energy/solar_AL.txt.gz, "
            "52560 x 137 at 10 minutes). As in GluonTS _lstnet.py the 10-minute values are "
            "summed to hours (8760 steps from 2006-01-01); training length int(0.8 * 8760) + 1 "
            "= 7009, then 7 rolling 24-hour windows (series end at 7177). Download only; "
            "sha256 and size unknown, so not checked."
        ),
        freq="h",
        horizon=24,
        windows=7,
        seasonality=24,
        files=(RemoteFile("solar_AL.txt.gz", f"{_LSTNET}/solar-energy/solar_AL.txt.gz"),),
        licence=_LSTNET_LICENCE + "; NREL Solar Power Data for Integration Studies (public)",
        citation=_LSTNET_CITE,
        series=137,
        length="7177",
        loader=_lstnet("solar_AL.txt.gz", "2006-01-01", "h", aggregate=6),
    ),
)

_ETT_OT = DatasetInfo(
    name="ett_small_ot",
    description=(
        "The two oil-temperature (OT) series of ett_small (ids 'OT_0' = ETTh1, 'OT_1' = "
        "ETTh2), hourly, 17420 steps; 7 rolling 24-hour windows."
    ),
    freq="h",
    horizon=24,
    windows=7,
    seasonality=24,
    files=ENTRIES[1].files,
    licence=ENTRIES[1].licence,
    citation=ENTRIES[1].citation,
    series=2,
    length="17420",
    folder="ett_small",
    loader=lambda folder: _ett(folder, ("OT",)),
)
ENTRIES = (*ENTRIES[:2], _ETT_OT, *ENTRIES[2:])
