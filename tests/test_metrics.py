import numpy as np
import pandas as pd
import pytest
import scoringrules as sr
import torch
from scipy import stats

from qfcast.data import DataError
from qfcast.distributions import Gaussian
from qfcast.distributions.energy import (
    energy_score_pairwise_reference,
    variogram_score_reference,
)
from qfcast.forecast import DistributionForecast, SampleForecast
from qfcast.metrics import (
    calibration_error,
    coverage,
    crossing_rate,
    crps_from_samples,
    crps_sum,
    energy_score_mean,
    evaluate,
    interval_width,
    mase,
    mean_weighted_quantile_loss,
    msis,
    nd,
    nrmse,
    pit_histogram,
    smape,
    variogram_score_mean,
    weighted_quantile_loss,
)


def slow_wql(y, q, levels):
    per_level = []
    for k, tau in enumerate(levels):
        num = den = 0.0
        for i in np.ndindex(y.shape):
            if np.isnan(y[i]):
                continue
            e = y[i] - q[(k, *i)]
            num += 2 * (tau * e if e >= 0 else (tau - 1) * e)
            den += abs(y[i])
        per_level.append(num / den)
    return np.mean(per_level)


def test_wql_matches_a_slow_reference():
    rng = np.random.default_rng(0)
    y = rng.gamma(2.0, 3.0, size=(5, 7))
    y[1, 3] = np.nan
    levels = (0.1, 0.5, 0.9)
    q = np.sort(rng.gamma(2.0, 3.0, size=(3, 5, 7)), axis=0)
    assert abs(mean_weighted_quantile_loss(y, q, levels) - slow_wql(y, q, levels)) < 1e-12


def test_crossing_rate_counts_forecasts():
    q = np.array([[0.0, 0.0, 1.0], [1.0, -1.0, 1.0], [2.0, 0.0, 0.5]])
    assert crossing_rate(q) == 2 / 3


def data(seed=1, n=4, h=6, s=30):
    rng = np.random.default_rng(seed)
    y = rng.gamma(2.0, 3.0, size=(n, h))
    y[1, 2] = y[3, 0] = np.nan
    samples = y[None] + rng.normal(0, 2.0, size=(s, n, h))
    return y, samples, rng


def histories(rng, n=4):
    return [rng.gamma(2.0, 3.0, size=10 + 3 * i) for i in range(n)]


def slow_scale(history, season):
    d = [abs(history[t] - history[t - season]) for t in range(season, len(history))]
    return sum(d) / len(d)


def test_weighted_quantile_loss_per_level_and_its_mean():
    y, _, rng = data()
    levels = (0.1, 0.5, 0.9)
    q = np.sort(rng.gamma(2.0, 3.0, size=(3, *y.shape)), axis=0)
    per_level = weighted_quantile_loss(y, q, levels)
    assert per_level.shape == (3,)
    for k, tau in enumerate(levels):
        assert abs(per_level[k] - slow_wql(y, q[k : k + 1], [tau])) < 1e-12
    assert mean_weighted_quantile_loss(y, q, levels) == pytest.approx(per_level.mean(), abs=0)
    with pytest.raises(ValueError, match="quantiles must broadcast"):
        weighted_quantile_loss(y, q[:2], levels)


def test_coverage_and_width_match_loops():
    y, _, rng = data()
    lo = np.nan_to_num(y) - rng.uniform(-1, 2, size=y.shape)
    hi = lo + rng.uniform(0, 3, size=y.shape)
    pairs = [(lo[i], hi[i], y[i]) for i in np.ndindex(y.shape) if not np.isnan(y[i])]
    assert coverage(y, lo, hi) == pytest.approx(np.mean([a <= v <= b for a, b, v in pairs]))
    widths = [hi[i] - lo[i] for i in np.ndindex(y.shape)]
    assert interval_width(lo, hi) == pytest.approx(np.mean(widths), rel=1e-12)


def test_coverage_of_a_calibrated_gaussian_is_nominal():
    # 20,000 draws: the binomial sd of a 90% coverage is 0.0021, so 0.01 is ~5 sd.
    rng = np.random.default_rng(2)
    mu, sd = rng.normal(size=20_000), rng.uniform(0.5, 2.0, size=20_000)
    y = rng.normal(mu, sd)
    for level in (0.8, 0.9, 0.95):
        z = stats.norm.ppf(0.5 + level / 2)
        assert abs(coverage(y, mu - z * sd, mu + z * sd) - level) < 0.01


def test_msis_and_mase_match_per_series_loops():
    y, samples, rng = data()
    hist = histories(rng)
    lo, hi = np.quantile(samples, [0.025, 0.975], axis=0)
    med = np.median(samples, axis=0)
    season, alpha = 2, 0.05
    ms, ma = [], []
    for i in range(len(y)):
        scale = slow_scale(hist[i], season)
        steps = [t for t in range(y.shape[1]) if not np.isnan(y[i, t])]
        s = []
        for t in steps:
            v, a, b = y[i, t], lo[i, t], hi[i, t]
            s.append(b - a + (2 / alpha) * ((a - v) * (v < a) + (v - b) * (v > b)))
        ms.append(np.mean(s) / scale)
        ma.append(np.mean([abs(y[i, t] - med[i, t]) for t in steps]) / scale)
    assert msis(y, lo, hi, hist, season, alpha) == pytest.approx(np.mean(ms), rel=1e-12)
    assert mase(y, med, hist, season) == pytest.approx(np.mean(ma), rel=1e-12)
    with pytest.raises(ValueError, match="one history per series"):
        mase(y, med, hist[:2], season)
    with pytest.raises(ValueError, match="alpha"):
        msis(y, lo, hi, hist, season, alpha=1.5)


def test_mase_of_the_seasonal_naive_on_a_seasonal_series():
    # Exact identity: the seasonal naive forecast of a purely seasonal history's continuation,
    # scored against that history's own seasonal naive, has error equal to its scale.
    rng = np.random.default_rng(3)
    season = 4
    pattern = rng.normal(size=season)
    noise = rng.normal(0, 0.3, size=40)
    series = np.tile(pattern, 10) + noise
    history, future = series[:32], series[32:]
    naive = series[32 - season : 40 - season]  # y_{t−season} for the 8 future steps
    expected = np.abs(future - naive).mean() / slow_scale(history, season)
    assert mase(future, naive, history, season) == pytest.approx(expected, rel=1e-12)
    # and the in-sample seasonal naive scored on the history itself gives exactly 1
    assert mase(history[season:], history[:-season], history, season) == pytest.approx(1.0)


def test_crps_from_samples_matches_scoringrules_and_a_loop():
    y, samples, _ = data(s=25)
    seen = ~np.isnan(y)
    ref = sr.crps_ensemble(y[seen], samples[:, seen], m_axis=0, estimator="nrg")
    assert crps_from_samples(y, samples) == pytest.approx(np.mean(ref), rel=1e-10)
    slow = []
    for i in zip(*np.nonzero(seen), strict=True):
        x = samples[(slice(None), *i)]
        slow.append(
            np.mean([abs(a - y[i]) for a in x]) - 0.5 * np.mean([abs(a - b) for a in x for b in x])
        )
    assert crps_from_samples(y, samples) == pytest.approx(np.mean(slow), rel=1e-12)


def test_crps_sum_matches_a_loop():
    y, samples, _ = data()
    num = den = 0.0
    for t in range(y.shape[1]):
        if np.isnan(y[:, t]).any():
            continue
        total = y[:, t].sum()
        x = samples[:, :, t].sum(1)
        num += np.mean(np.abs(x - total)) - 0.5 * np.mean(np.abs(x[:, None] - x[None]))
        den += abs(total)
    assert crps_sum(y, samples) == pytest.approx(num / den, rel=1e-12)


def test_pit_histogram_and_calibration_error():
    # 50,000 calibrated PITs: each of 10 bins holds 0.1 ± 0.0013 (sd), so 0.006 is ~4.5 sd;
    # the calibration error's terms are each within ~0.002 sd.
    rng = np.random.default_rng(4)
    pit = rng.uniform(size=50_000)
    hist = pit_histogram(pit)
    assert hist.shape == (10,) and hist.sum() == pytest.approx(1.0)
    assert np.abs(hist - 0.1).max() < 0.006
    assert calibration_error(pit) < 0.005
    overconfident = stats.norm.cdf(rng.normal(0, 2, size=50_000))  # too narrow a forecast
    assert calibration_error(overconfident) > 0.1
    slow = np.mean([abs(np.mean(pit <= t) - t) for t in np.arange(1, 20) * 0.05])
    assert calibration_error(pit) == pytest.approx(slow, rel=1e-9)
    with_nan = np.append(pit[:100], np.nan)
    np.testing.assert_array_equal(pit_histogram(with_nan), pit_histogram(pit[:100]))


def test_joint_scores_match_the_torch_references():
    y, samples, _ = data(s=12)
    es, vs = [], []
    for i in range(len(y)):
        steps = ~np.isnan(y[i])
        x = torch.tensor(samples[:, i][:, steps])
        obs = torch.tensor(y[i, steps])
        es.append(float(energy_score_pairwise_reference(x, obs)))
        vs.append(float(variogram_score_reference(x, obs, p=0.5)))
    assert energy_score_mean(y, samples) == pytest.approx(np.mean(es), rel=1e-10)
    assert variogram_score_mean(y, samples) == pytest.approx(np.mean(vs), rel=1e-10)


def test_point_scores_match_loops():
    y, samples, _ = data()
    f = samples[0]
    f[0, 0], y[0, 1], f[0, 1] = 1.0, 0.0, 0.0  # a 0/0 entry for sMAPE
    cells = [i for i in np.ndindex(y.shape) if not np.isnan(y[i])]
    abs_err = [abs(y[i] - f[i]) for i in cells]
    assert nd(y, f) == pytest.approx(sum(abs_err) / sum(abs(y[i]) for i in cells), rel=1e-12)
    rmse = np.sqrt(np.mean([(y[i] - f[i]) ** 2 for i in cells]))
    assert nrmse(y, f) == pytest.approx(rmse / np.mean([abs(y[i]) for i in cells]), rel=1e-12)
    terms = [
        0.0 if y[i] == f[i] == 0 else abs(y[i] - f[i]) / (abs(y[i]) + abs(f[i])) for i in cells
    ]
    assert smape(y, f) == pytest.approx(200 * np.mean(terms), rel=1e-12)


def test_nan_actuals_are_ignored_everywhere():
    y, samples, rng = data()
    seen = ~np.isnan(y)
    flat_y, flat_s = y[seen], samples[:, seen]
    f = samples[0]
    lo, hi = np.quantile(samples, [0.1, 0.9], axis=0)
    levels = (0.1, 0.9)
    np.testing.assert_allclose(
        weighted_quantile_loss(y, np.stack([lo, hi]), levels),
        weighted_quantile_loss(flat_y, np.stack([lo[seen], hi[seen]]), levels),
        rtol=1e-12,
    )
    assert coverage(y, lo, hi) == coverage(flat_y, lo[seen], hi[seen])
    assert crps_from_samples(y, samples) == pytest.approx(crps_from_samples(flat_y, flat_s))
    for score in (nd, nrmse, smape):
        assert score(y, f) == pytest.approx(score(flat_y, f[seen]), rel=1e-12)
    # a fully missing series leaves the per-series means unchanged
    hist = histories(rng)
    y2 = y.copy()
    y2[2] = np.nan
    keep = [0, 1, 3]
    assert mase(y2, f, hist, 1) == pytest.approx(
        mase(y[keep], f[keep], [hist[i] for i in keep], 1), rel=1e-12
    )
    assert energy_score_mean(y2, samples) == pytest.approx(
        energy_score_mean(y[keep], samples[:, keep]), rel=1e-12
    )
    assert np.isfinite(variogram_score_mean(y2, samples))


IDS = np.array(["a", "b", "c"])
H = 5
STAMPS = np.tile(pd.date_range("2024-01-01", periods=H, freq="D").to_numpy(), 3)


def frame(values):
    return pd.DataFrame({"unique_id": np.repeat(IDS, H), "ds": STAMPS, "y": values.ravel()})


def test_evaluate_a_distribution_forecast_equals_the_functions():
    rng = np.random.default_rng(5)
    mu = rng.uniform(5, 10, size=(3, H))
    sd = rng.uniform(0.5, 2.0, size=(3, H))
    f = DistributionForecast(Gaussian(torch.tensor(mu), torch.tensor(sd)), IDS, STAMPS, H)
    y = rng.normal(mu, sd)
    y[0, 1] = np.nan
    actuals = frame(y).sample(frac=1.0, random_state=0)  # matched on keys, not row order
    hist = [rng.gamma(3.0, 2.0, size=12) for _ in IDS]
    ids, times = np.repeat(IDS, 12), np.tile(np.arange(12), 3)
    insample = pd.DataFrame({"unique_id": ids, "ds": times, "y": np.concatenate(hist)}).iloc[::-1]
    levels = (0.1, 0.5, 0.9)
    out = evaluate(f, actuals, levels=levels, insample=insample, season=2)

    q = stats.norm.ppf(np.array(levels)[:, None, None], mu, sd)
    np.testing.assert_allclose(list(out["wql"].values()), weighted_quantile_loss(y, q, levels))
    assert out["mean_wql"] == pytest.approx(mean_weighted_quantile_loss(y, q, levels))
    lo80, hi80 = stats.norm.ppf([[[0.1]], [[0.9]]], mu, sd)
    lo95, hi95 = stats.norm.ppf([[[0.025]], [[0.975]]], mu, sd)
    assert out["coverage_80"] == coverage(y, lo80, hi80)
    assert out["coverage_95"] == coverage(y, lo95, hi95)
    assert out["crossing_rate"] == 0.0
    assert out["nd"] == pytest.approx(nd(y, mu), rel=1e-9)  # median = mean for a Gaussian
    assert out["nrmse"] == pytest.approx(nrmse(y, mu), rel=1e-9)
    assert out["msis"] == pytest.approx(msis(y, lo95, hi95, hist, 2), rel=1e-9)
    assert out["mase"] == pytest.approx(mase(y, mu, hist, 2), rel=1e-9)
    assert "energy_score" not in out and "crps_sum" not in out  # no sample paths

    with pytest.raises(DataError, match="repeats"):
        evaluate(f, pd.concat([actuals, actuals.iloc[:1]]))


def test_evaluate_a_sample_forecast_adds_the_joint_scores():
    rng = np.random.default_rng(6)
    y = rng.gamma(4.0, 2.0, size=(3, H))
    samples = y[None] + rng.normal(0, 1.0, size=(40, 3, H))
    f = SampleForecast(samples, IDS, STAMPS, H)
    out = evaluate(f, frame(y))
    assert out["energy_score"] == pytest.approx(energy_score_mean(y, samples), rel=1e-12)
    assert out["variogram_score"] == pytest.approx(variogram_score_mean(y, samples), rel=1e-12)
    assert out["crps_sum"] == pytest.approx(crps_sum(y, samples), rel=1e-12)
    assert "msis" not in out
