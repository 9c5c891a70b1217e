"""Forecast objects: one query surface over distributions and sample paths."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from qfcast.data import DataError
from qfcast.distributions import Gaussian
from qfcast.forecast import DistributionForecast, SampleForecast, quantile_column

IDS = np.array(["a", "b", "c"])
H = 4
STAMPS = np.tile(pd.date_range("2024-01-01", periods=H, freq="D").to_numpy(), 3)


def gaussian_forecast() -> tuple[DistributionForecast, np.ndarray, np.ndarray]:
    mu = np.arange(12, dtype=np.float64).reshape(3, H)
    sd = np.linspace(0.5, 2.0, 12).reshape(3, H)
    d = Gaussian(torch.tensor(mu), torch.tensor(sd))
    return DistributionForecast(d, IDS, STAMPS, H), mu, sd


def test_quantile_frame_layout_and_values():
    f, mu, sd = gaussian_forecast()
    q = f.quantile([0.05, 0.5, 0.975])
    assert q.columns.tolist() == ["unique_id", "ds", "q0.05", "q0.5", "q0.975"]
    assert q["unique_id"].tolist() == ["a"] * 4 + ["b"] * 4 + ["c"] * 4
    np.testing.assert_allclose(q["q0.975"], stats.norm.ppf(0.975, mu, sd).ravel(), rtol=1e-10)
    lo_hi = f.interval(0.9)
    np.testing.assert_allclose(lo_hi["q0.05"], stats.norm.ppf(0.05, mu, sd).ravel(), rtol=1e-10)
    np.testing.assert_allclose(f.mean()["mean"], mu.ravel())
    assert quantile_column(0.1) == "q0.1"
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        f.quantile([0.5, 1.0])
    with pytest.raises(ValueError, match="coverage"):
        f.interval(1.5)


def test_cdf_scalar_array_and_actuals_frame():
    f, mu, sd = gaussian_forecast()
    np.testing.assert_allclose(f.cdf(3.0)["cdf"], stats.norm.cdf(3.0, mu, sd).ravel(), rtol=1e-9)
    values = np.arange(12.0) + 0.5
    np.testing.assert_allclose(
        f.cdf(values)["cdf"], stats.norm.cdf(values.reshape(3, H), mu, sd).ravel(), rtol=1e-9
    )
    actuals = f.mean()[["unique_id", "ds"]].assign(y=values).sample(frac=1.0, random_state=0)
    pit = f.cdf(actuals)
    np.testing.assert_allclose(pit["value"], values)  # matched on (id, ds), not row order
    with pytest.raises(DataError, match="no value for 1 forecast rows"):
        f.cdf(actuals.iloc[1:])
    with pytest.raises(ValueError, match="one value per row"):
        f.cdf(np.ones(5))


def test_distribution_forecast_samples_follow_the_distribution():
    f, mu, _ = gaussian_forecast()
    draws = f.sample(20_000, seed=0)
    assert draws.shape == (20_000, 3, H)
    # standard error of a mean of 20000 draws with sd <= 2 is <= 0.0142; allow 4.5 of them
    np.testing.assert_allclose(draws.mean(0), mu, atol=0.064)
    np.testing.assert_array_equal(f.sample(5, seed=1), f.sample(5, seed=1))


def test_sample_forecast_quantiles_never_cross_and_paths_are_kept():
    rng = np.random.default_rng(0)
    common = rng.normal(size=(500, 3, 1))  # perfectly correlated steps within a path
    paths = common + np.arange(H)
    f = SampleForecast(paths, IDS, STAMPS, H)
    q = f.quantile(np.linspace(0.01, 0.99, 99)).iloc[:, 2:].to_numpy()
    assert (np.diff(q, axis=1) >= 0).all()
    drawn = f.sample(50, seed=0)
    np.testing.assert_allclose(np.diff(drawn, axis=2), 1.0)  # whole paths, not shuffled steps
    np.testing.assert_allclose(f.cdf(0.0)["cdf"].to_numpy()[0], (paths[:, 0, 0] <= 0).mean())
    np.testing.assert_allclose(f.mean()["mean"], paths.mean(0).ravel())
    with pytest.raises(ValueError, match="samples must have shape"):
        SampleForecast(paths[:, :2], IDS, STAMPS, H)


def test_joint_questions_from_sample_paths():
    rng = np.random.default_rng(1)
    common = rng.normal(size=(4000, 3, 1))
    paths = np.concatenate([common, common, -common, rng.normal(size=(4000, 3, 1))], axis=2)
    f = SampleForecast(paths, IDS, STAMPS, H)
    corr = f.correlation()
    np.testing.assert_allclose(corr[:, 0, 1], 1.0, atol=1e-12)
    np.testing.assert_allclose(corr[:, 0, 2], -1.0, atol=1e-12)
    assert np.abs(corr[:, 0, 3]).max() < 0.06  # independent: |r| ~ 1/sqrt(4000) = 0.016
    total = f.sum_quantile([0.5, 0.9], steps=range(2))  # steps 0 and 1 move together
    np.testing.assert_allclose(total["q0.9"], np.quantile(2 * common[:, :, 0], 0.9, axis=0))
    assert total.columns.tolist() == ["unique_id", "q0.5", "q0.9"]
    cancel = f.sum_quantile([0.9], steps=[0, 2])  # perfectly anti-correlated: the sum is 0
    np.testing.assert_allclose(cancel["q0.9"], 0.0, atol=1e-12)
    with pytest.raises(ValueError, match="0-based horizon steps"):
        f.sum_quantile([0.5], steps=[4])


def test_crps_is_closed_form_for_distributions_and_from_paths_for_samples():
    import scoringrules as sr

    f, mu, sd = gaussian_forecast()
    y = mu + sd * np.linspace(-2, 2, mu.size).reshape(mu.shape)
    y[1, 2] = np.nan
    out = f.crps(y.reshape(-1))
    assert list(out.columns) == ["unique_id", "ds", "value", "crps"]
    expected = sr.crps_normal(y, mu, sd)
    got = out["crps"].to_numpy().reshape(mu.shape)
    assert np.isnan(got[1, 2])
    np.testing.assert_allclose(got[~np.isnan(y)], expected[~np.isnan(y)], rtol=1e-10)
    rng = np.random.default_rng(3)
    paths = rng.normal(size=(50, len(IDS), H))
    s = SampleForecast(paths, IDS, f.timestamps, H)
    ref = sr.crps_ensemble(np.nan_to_num(y), np.moveaxis(paths, 0, -1), estimator="nrg")
    got = s.crps(y.reshape(-1))["crps"].to_numpy().reshape(mu.shape)
    np.testing.assert_allclose(got[~np.isnan(y)], ref[~np.isnan(y)], rtol=1e-10)
