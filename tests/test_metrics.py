import numpy as np

from qfcast.metrics import crossing_rate, mean_weighted_quantile_loss


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
