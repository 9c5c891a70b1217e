"""Rolling-origin backtests: the windows, the per-series scores against slow references, the
pooled table against :func:`qfcast.metrics.evaluate`, refitting, and the registry setups."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

import qfcast
from qfcast.backtest import backtest, score_window
from qfcast.data.errors import DataError
from qfcast.distributions import Gaussian
from qfcast.forecast import DistributionForecast
from qfcast.metrics import evaluate

from .data.conftest import shared_dir

H = 4


class LastValue:
    """A stub forecaster: N(last value, sd) at every step; counts its fits."""

    id_col, time_col, target_col, future = "unique_id", "ds", "y", ()

    def __init__(self, horizon: int = H, freq: str = "D", sd: float = 2.0) -> None:
        self.horizon, self.freq, self.sd = horizon, freq, sd
        self.fits: list[pd.Timestamp] = []

    def get_params(self) -> dict:
        return {"horizon": self.horizon, "freq": self.freq, "sd": self.sd}

    def fit(self, df: pd.DataFrame) -> LastValue:
        self.fits.append(df["ds"].max())
        self.module_ = True
        return self

    def predict(self, df, future_df=None, progress=None) -> DistributionForecast:
        last = df.sort_values("ds").groupby("unique_id", sort=True).tail(1)
        ids = last["unique_id"].to_numpy()
        mu = np.repeat(last["y"].to_numpy()[:, None], self.horizon, axis=1)
        stamps = np.concatenate(
            [pd.date_range(t, periods=self.horizon + 1, freq=self.freq)[1:] for t in last["ds"]]
        )
        dist = Gaussian(torch.tensor(mu), torch.full(mu.shape, self.sd, dtype=torch.float64))
        return DistributionForecast(dist, ids, stamps, self.horizon)


def panel(n: int = 3, length: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n):
        size = length - i  # unequal lengths: windows are cut per series, from the end
        frames.append(
            pd.DataFrame(
                {
                    "unique_id": f"s{i}",
                    "ds": pd.date_range("2024-01-01", periods=size, freq="D"),
                    "y": 10 + rng.normal(0, 3, size).cumsum() * 0.2 + 5 * i,
                }
            )
        )
    return pd.concat(frames, ignore_index=True).sample(frac=1.0, random_state=1)  # shuffled


def test_windows_are_cut_from_the_end_of_every_series_step_apart():
    df = panel()
    stub = LastValue()
    result = backtest(stub, df, windows=3, step=2, keep_forecasts=True, progress=False)
    ends = df.groupby("unique_id")["ds"].max()
    # trained once, on everything before the first origin: (3 − 1)·2 + 4 = 8 rows per series
    assert stub.fits == [max(ends - pd.Timedelta(days=8))]
    for k, forecast in enumerate(result.forecasts):
        drop = (2 - k) * 2 + H
        table = forecast.quantile(0.5)
        for sid, end in ends.items():
            stamps = table.loc[table["unique_id"] == sid, "ds"].to_numpy()
            expected = pd.date_range(end - pd.Timedelta(days=drop - 1), periods=H, freq="D")
            np.testing.assert_array_equal(stamps, expected.to_numpy())
        origins = result.per_series.query("window == @k").set_index("unique_id")["origin"]
        expected_origin = (ends - pd.Timedelta(days=drop)).loc[origins.index]
        np.testing.assert_array_equal(origins.to_numpy(), expected_origin.to_numpy())
    assert result.summary.index.tolist() == [0, 1, 2, "all"]
    assert len(result.per_series) == 9


def test_per_series_scores_equal_slow_references_and_pools_equal_evaluate():
    df = panel(seed=2)
    result = backtest(LastValue(), df, windows=2, keep_forecasts=True, progress=False)
    levels = np.round(np.arange(0.1, 1.0, 0.1), 10)
    frame = df.sort_values(["unique_id", "ds"])
    for k, forecast in enumerate(result.forecasts):
        rows = result.per_series.query("window == @k").set_index("unique_id")
        drop = (1 - k) * H + H
        for sid, series in frame.groupby("unique_id"):
            y = series["y"].to_numpy()[len(series) - drop : len(series) - drop + H]
            history = series["y"].to_numpy()[: len(series) - drop]
            mu, sd = history[-1], 2.0
            q = stats.norm.ppf(levels, mu, sd)
            pinball = [
                2 * sum(abs((yi - qa) * ((yi < qa) - a)) for yi in y)
                for a, qa in zip(levels, q, strict=True)
            ]
            row = rows.loc[sid]
            assert row["mean_wql"] == pytest.approx(np.mean(pinball) / np.abs(y).sum(), rel=1e-9)
            lo, hi = stats.norm.ppf([0.1, 0.9], mu, sd)
            assert row["coverage_80"] == np.mean((lo <= y) & (y <= hi))
            z = (y - mu) / sd  # closed-form Gaussian CRPS
            crps = sd * (
                z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / np.sqrt(np.pi)
            )
            assert row["crps"] == pytest.approx(crps.mean(), rel=1e-9)
            assert row["nd"] == pytest.approx(np.abs(y - mu).sum() / np.abs(y).sum(), rel=1e-9)
            scale = np.abs(history[7:] - history[:-7]).mean()  # seasonal naive, 7 days
            assert row["mase"] == pytest.approx(np.abs(y - mu).mean() / scale, rel=1e-9)
        actuals = df.merge(forecast.quantile(0.5)[["unique_id", "ds"]], on=["unique_id", "ds"])
        pooled = evaluate(forecast, actuals)
        summary = result.summary.loc[k]
        for key in ("mean_wql", "coverage_80", "coverage_95", "width_80", "width_95", "nd"):
            assert summary[key] == pytest.approx(pooled[key], rel=1e-9), key
        assert summary["nrmse"] == pytest.approx(pooled["nrmse"], rel=1e-9)
        assert summary["smape"] == pytest.approx(pooled["smape"], rel=1e-9)
    both = result.per_series
    overall = result.summary.loc["all"]
    assert overall["crps_weighted"] == pytest.approx(
        both["crps_sum"].sum() / both["abs_actual"].sum(), rel=1e-12
    )
    assert overall["crossing_rate"] == 0.0


def test_refit_trains_before_every_origin_and_fitted_models_are_reused():
    df = panel()
    stub = LastValue()
    backtest(stub, df, windows=3, refit=True, progress=False)
    assert stub.fits == []  # refits train fresh copies, never the caller's object
    fitted = LastValue().fit(df)
    backtest(fitted, df, windows=2, progress=False)
    assert len(fitted.fits) == 1  # not trained again

    calls: list[pd.Timestamp] = []

    class Counting(LastValue):
        def fit(self, frame):
            calls.append(frame["ds"].max())
            return super().fit(frame)

    backtest(Counting(), df, windows=3, refit=True, progress=False)
    end = df["ds"].max()
    assert calls == [end - pd.Timedelta(days=d) for d in (12, 8, 4)]


def test_user_errors_are_clear():
    df = panel(length=10)
    with pytest.raises(DataError, match="longer than"):
        backtest(LastValue(), df, windows=3, progress=False)
    with pytest.raises(ValueError, match="windows must be a positive int"):
        backtest(LastValue(), df, windows=0, progress=False)
    with pytest.raises(DataError, match="lack the columns"):
        backtest(LastValue(), df.rename(columns={"y": "sales"}), progress=False)
    with pytest.raises(TypeError, match="DataFrame or a dataset name"):
        backtest(LastValue(), [1, 2, 3], progress=False)
    forecast = LastValue().predict(df)
    with pytest.raises(DataError, match="lacks the columns"):
        score_window(forecast, df.drop(columns="y"))


def test_a_real_forecaster_end_to_end():
    df = panel(n=2, length=60)
    fc = qfcast.Forecaster(
        horizon=H, freq="D", max_epochs=1, batches_per_epoch=2, progress=False, random_state=0
    )
    result = backtest(fc, df, windows=2, progress=False)
    assert result.fit_seconds > 0 and result.predict_seconds > 0
    overall = result.summary.loc["all"]
    assert overall["crossing_rate"] == 0.0  # ISQF never crosses
    assert 0 <= overall["coverage_80"] <= overall["coverage_95"] <= 1
    assert np.isfinite(result.per_series[["mean_wql", "crps", "mase"]].to_numpy()).all()
    assert "coverage_80" in repr(result)


@pytest.mark.skipif(
    not (shared_dir() / "exchange_rate").is_dir(), reason="shared benchmark data not found"
)
def test_registry_setup_runs_by_name(monkeypatch):
    monkeypatch.setenv("QFCAST_DATA_DIR", str(shared_dir()))
    data = qfcast.datasets.load("exchange_rate")
    fc = LastValue(horizon=data.horizon, freq=data.freq)
    result = backtest(fc, "exchange_rate", progress=False, keep_forecasts=True)
    assert result.summary.index.tolist() == [*range(data.windows), "all"]
    for k, forecast in enumerate(result.forecasts):
        _, actuals = data.window(k)
        keys = forecast.quantile(0.5)[["unique_id", "ds"]].sort_values(["unique_id", "ds"])
        expected = actuals[["unique_id", "ds"]].sort_values(["unique_id", "ds"])
        pd.testing.assert_frame_equal(
            keys.reset_index(drop=True), expected.reset_index(drop=True), check_dtype=False
        )
    with pytest.raises(ValueError, match="standard horizon is 30"):
        backtest(LastValue(horizon=7), "exchange_rate", progress=False)
    with pytest.raises(ValueError, match="5 windows"):
        backtest(fc, "exchange_rate", windows=2, progress=False)
