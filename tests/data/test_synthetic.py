"""Seeded synthetic generators: determinism, the long-format contract and the known truths."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, optimize, stats

from qfcast.data.synthetic import (
    MultiHorizonGaussian,
    ThreePeaks,
    demand_panel,
    demand_scenario,
    three_peaks_panel,
)

PEAKS = ThreePeaks()


def assert_long_format(frame: pd.DataFrame) -> None:
    assert list(frame.columns[:3]) == ["unique_id", "ds", "y"]
    assert frame["unique_id"].dtype == "str"
    assert frame["ds"].dtype == "datetime64[ns]"
    assert frame["y"].dtype == np.float64
    assert not frame.duplicated(["unique_id", "ds"]).any()
    key = frame[["unique_id", "ds"]]
    assert key.equals(key.sort_values(["unique_id", "ds"], ignore_index=True))
    assert frame.index.equals(pd.RangeIndex(len(frame)))


# ----------------------------------------------------------------------------- determinism
@pytest.mark.parametrize(
    "make",
    [
        lambda seed: PEAKS.sample(50, seed=seed),
        lambda seed: three_peaks_panel(2, 10, seed=seed),
        lambda seed: MultiHorizonGaussian(horizon=4).panel(2, 30, seed=seed),
        lambda seed: MultiHorizonGaussian(horizon=4).sample_future(
            MultiHorizonGaussian(horizon=4).panel(2, 30, seed=0), 5, seed=seed
        ),
        lambda seed: demand_panel(6, 40, seed=seed),
        lambda seed: demand_scenario(6, 40, horizon=5, seed=seed).actuals,
    ],
    ids=["sample", "peaks_panel", "mhg_panel", "mhg_future", "demand", "demand_actuals"],
)
def test_same_seed_same_output_other_seed_other_output(make) -> None:
    a, b, c = make(7), make(7), make(8)
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b)
        assert not a["y"].equals(c["y"])
    else:
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)


@pytest.mark.parametrize(
    "frame",
    [
        three_peaks_panel(3, 20, seed=1),
        MultiHorizonGaussian().panel(3, 50, seed=1),
        demand_panel(12, 60, seed=1),
        demand_scenario(12, 60, horizon=9, seed=1).actuals,
    ],
    ids=["peaks", "mhg", "demand_history", "demand_actuals"],
)
def test_long_format_contract(frame: pd.DataFrame) -> None:
    assert_long_format(frame)


def test_three_peaks_panel_shape() -> None:
    df = three_peaks_panel(3, 20, start="2021-05-01", freq="h", seed=4)
    assert len(df) == 60
    assert df["unique_id"].unique().tolist() == ["series_000", "series_001", "series_002"]
    ds = df.loc[df["unique_id"] == "series_002", "ds"]
    assert ds.iloc[0] == pd.Timestamp("2021-05-01")
    assert (ds.diff().iloc[1:] == pd.Timedelta(hours=1)).all()
    np.testing.assert_array_equal(df["y"], PEAKS.sample(60, seed=4))


# ----------------------------------------------------------------------------- three peaks
def test_peaks_are_separated() -> None:
    heights = PEAKS.pdf(PEAKS.means)
    valleys = [PEAKS.pdf(np.linspace(a, b, 2001)).min() for a, b in ((-5, 0), (0, 6))]
    assert heights.min() > 0.2 and max(valleys) < 2e-3 * heights.min()


def test_icdf_inverts_cdf() -> None:
    lower = np.concatenate([np.logspace(-300, -1, 200), np.linspace(0.1, 0.5, 2001)])
    upper = 1 - np.logspace(-15, np.log10(0.5), 200)
    # relative residual of the tail that is solved for: float64 round-off, not 1e-10
    np.testing.assert_allclose(PEAKS.cdf(PEAKS.icdf(lower)), lower, rtol=1e-11, atol=0)
    np.testing.assert_allclose(PEAKS.sf(PEAKS.icdf(upper)), 1 - upper, rtol=1e-11, atol=0)
    alpha = np.linspace(1e-6, 1 - 1e-6, 5001)
    np.testing.assert_allclose(PEAKS.cdf(PEAKS.icdf(alpha)), alpha, rtol=0, atol=1e-14)

    x = np.linspace(-7.5, 8.0, 20001)
    err = np.abs(PEAKS.icdf(PEAKS.cdf(x)) - x)
    assert err[PEAKS.pdf(x) > 1e-4].max() < 1e-10
    # everywhere: cdf(x) carries ~1e-16 absolute round-off, which icdf maps to 1e-16 / f(x)
    assert np.all(err < 1e-12 + 1e-15 / PEAKS.pdf(x))


def test_icdf_monotone_edges_and_errors() -> None:
    alpha = np.sort(np.concatenate([np.linspace(0, 1, 100_001), np.logspace(-20, -1, 500)]))
    q = PEAKS.icdf(alpha)
    assert np.all(np.diff(q) >= 0)
    assert q[0] == -np.inf and q[-1] == np.inf and np.isfinite(q[1:-1]).all()
    assert isinstance(PEAKS.icdf(0.5), np.floating) and PEAKS.icdf([[0.1, 0.9]]).shape == (1, 2)
    for bad in (-0.1, 1.5, np.nan, [0.5, 2.0]):
        with pytest.raises(ValueError, match="alpha"):
            PEAKS.icdf(bad)


def test_icdf_of_one_component_is_the_gaussian_quantile() -> None:
    d = ThreePeaks(weights=(1.0,), means=(3.0,), sds=(2.0,))
    alpha = np.concatenate([np.logspace(-250, -1, 100), np.linspace(0.05, 0.95, 101)])
    alpha = np.concatenate([alpha, 1 - np.logspace(-15, -1, 50)])
    want = stats.norm.ppf(alpha, 3.0, 2.0)
    np.testing.assert_allclose(d.icdf(alpha), want, rtol=1e-13, atol=1e-13)


def test_pdf_integrates_to_one_and_to_the_cdf() -> None:
    total, err = integrate.quad(PEAKS.pdf, -20, 20, points=PEAKS.means, limit=200)
    assert abs(total - 1) < 1e-10 and err < 1e-8
    for x in (-5.3, -2.0, 0.4, 4.3, 6.2):
        part, _ = integrate.quad(PEAKS.pdf, -20, x, points=[m for m in PEAKS.means if m < x])
        assert abs(part - PEAKS.cdf(x)) < 1e-10
    x = np.linspace(-10, 10, 101)
    np.testing.assert_allclose(PEAKS.cdf(x) + PEAKS.sf(x), 1.0, rtol=0, atol=1e-15)


def test_mean_variance_and_draws_match_the_distribution() -> None:
    n = 1_000_000
    y = PEAKS.sample(n, seed=11)
    var = y.var()
    # 4 standard errors: se(mean) = sqrt(var / n); se(var) = sqrt((m4 - var^2) / n)
    assert abs(y.mean() - PEAKS.mean) < 4 * np.sqrt(var / n)
    m4 = np.mean((y - y.mean()) ** 4)
    assert abs(var - PEAKS.variance) < 4 * np.sqrt((m4 - var**2) / n)
    assert PEAKS.mean == pytest.approx(-0.3) and PEAKS.variance == pytest.approx(15.023)
    # the draws follow cdf: a KS test on 20k draws (seeded, so this is a fixed number)
    assert stats.kstest(y[:20_000], PEAKS.cdf).pvalue > 0.01


CRPS_POINTS = np.array([-9.0, -5.2, -2.5, 0.0, 0.3, 4.0, 6.1, 12.0])


def test_crps_matches_the_integral_of_the_squared_cdf_gap() -> None:
    def numeric(y: float) -> float:
        kw = {"limit": 400, "epsabs": 1e-13, "epsrel": 1e-12}
        left = [m for m in PEAKS.means if m < y]
        right = [m for m in PEAKS.means if m > y]
        below, _ = integrate.quad(lambda x: PEAKS.cdf(x) ** 2, -40, y, points=left, **kw)
        above, _ = integrate.quad(lambda x: PEAKS.sf(x) ** 2, y, 40, points=right, **kw)
        return below + above

    want = [numeric(y) for y in CRPS_POINTS]
    np.testing.assert_allclose(PEAKS.crps(CRPS_POINTS), want, rtol=1e-10)
    assert isinstance(PEAKS.crps(0.0), np.floating)


def test_crps_matches_scoringrules() -> None:
    sr = pytest.importorskip("scoringrules")
    m, s, w = (np.array(v) for v in (PEAKS.means, PEAKS.sds, PEAKS.weights))
    want = sr.crps_mixnorm(CRPS_POINTS, m, s, w, backend="numpy")
    np.testing.assert_allclose(PEAKS.crps(CRPS_POINTS), want, rtol=1e-12)


def test_crps_is_the_mean_absolute_error_identity_by_monte_carlo() -> None:
    # CRPS(F, y) = E|Y - y| - E|Y - Y'| / 2; 400k pairs give ~0.005 standard error
    y = PEAKS.sample(800_000, seed=5)
    a, b = y[:400_000], y[400_000:]
    for obs in (-4.0, 1.0, 6.0):
        mc = np.abs(a - obs).mean() - np.abs(a - b).mean() / 2
        assert abs(PEAKS.crps(obs) - mc) < 0.03


def piecewise_linear(knots: np.ndarray):
    """A quantile function interpolating Q at ``knots``, extrapolated linearly."""
    q = PEAKS.icdf(knots)

    def q_fn(alpha: np.ndarray) -> np.ndarray:
        lo = q[0] + (q[1] - q[0]) / (knots[1] - knots[0]) * (alpha - knots[0])
        hi = q[-1] + (q[-1] - q[-2]) / (knots[-1] - knots[-2]) * (alpha - knots[-1])
        inside = np.interp(alpha, knots, q)
        return np.where(alpha < knots[0], lo, np.where(alpha > knots[-1], hi, inside))

    return q_fn


def test_wasserstein_of_truth_and_of_shifts() -> None:
    assert PEAKS.wasserstein1(PEAKS.icdf) < 1e-12
    for c in (-2.0, 0.5, 3.0):
        assert PEAKS.wasserstein1(lambda a, c=c: PEAKS.icdf(a) + c) == pytest.approx(abs(c), 1e-12)
    # a shift of a single Gaussian: W1 = |c| exactly, also through the crossing-free path
    gauss = ThreePeaks((1.0,), (0.0,), (1.0,))
    assert gauss.wasserstein1(lambda a: stats.norm.ppf(a) - 1.5) == pytest.approx(1.5, 1e-12)


def test_wasserstein_matches_adaptive_quadrature_for_kinked_quantile_functions() -> None:
    knots = np.linspace(0.02, 0.98, 5)
    q_fn = piecewise_linear(knots)

    def integrand(x: float) -> float:
        return abs(q_fn(np.array([PEAKS.cdf(x)]))[0] - x) * PEAKS.pdf(x)

    x_lo, x_hi = PEAKS.icdf([1e-15, 1 - 1e-15])
    pts = np.sort(np.concatenate([PEAKS.icdf(knots), PEAKS.means]))
    want, err = integrate.quad(integrand, x_lo, x_hi, points=pts, limit=2000, epsabs=1e-13)
    assert err < 1e-8  # quad's (pessimistic) estimate
    assert PEAKS.wasserstein1(q_fn, breaks=knots) == pytest.approx(want, rel=1e-10)
    assert PEAKS.wasserstein1(q_fn) == pytest.approx(want, rel=1e-6)  # documented: O(h^2)

    # a smooth q_fn that crosses Q several times: the Gaussian with the mixture's moments
    def gauss(alpha: np.ndarray) -> np.ndarray:
        return PEAKS.mean + np.sqrt(PEAKS.variance) * stats.norm.ppf(alpha)

    def gap(x: float) -> float:
        return gauss(PEAKS.cdf(x)) - x

    grid = np.linspace(x_lo, x_hi, 4001)
    signs = np.signbit([gap(x) for x in grid])
    crossings = [optimize.brentq(gap, grid[i], grid[i + 1]) for i in np.flatnonzero(np.diff(signs))]
    assert len(crossings) >= 3
    want, _ = integrate.quad(
        lambda x: abs(gap(x)) * PEAKS.pdf(x),
        x_lo,
        x_hi,
        points=np.sort(np.concatenate([crossings, PEAKS.means])),
        limit=2000,
        epsabs=1e-13,
    )
    assert PEAKS.wasserstein1(gauss) == pytest.approx(want, rel=1e-10)


def test_more_knots_give_a_smaller_wasserstein_distance() -> None:
    five = PEAKS.wasserstein1(piecewise_linear(np.linspace(0.02, 0.98, 5)))
    twenty = PEAKS.wasserstein1(piecewise_linear(np.linspace(0.01, 0.99, 20)))
    assert twenty < five / 4
    assert five == pytest.approx(0.58199, abs=1e-5) and twenty == pytest.approx(0.09316, abs=1e-5)


def test_wasserstein_rejects_bad_quantile_functions() -> None:
    with pytest.raises(ValueError, match="shape"):
        PEAKS.wasserstein1(lambda a: a[:-1])
    with pytest.raises(ValueError, match="non-finite"):
        PEAKS.wasserstein1(lambda a: np.where(a > 0.5, np.inf, 0.0))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"weights": (0.5, 0.6, 0.1)}, "sum to 1"),
        ({"weights": (1.2, -0.2, 0.0)}, "positive"),
        ({"sds": (1.0, 0.0, 1.0)}, "sds"),
        ({"means": (0.0, 1.0)}, "one length"),
        ({"means": (0.0, np.nan, 1.0)}, "finite"),
    ],
)
def test_three_peaks_validates(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ThreePeaks(**kwargs)


# ----------------------------------------------------------------------------- multi-horizon
MHG = MultiHorizonGaussian()


def test_covariance_is_the_ar1_sum_and_strongly_correlated() -> None:
    h, phi = MHG.horizon, MHG.phi
    want = np.array(
        [
            [
                sum(phi ** (i - k) * phi ** (j - k) for k in range(1, min(i, j) + 1))
                for j in range(1, h + 1)
            ]
            for i in range(1, h + 1)
        ]
    )
    cov = MHG.covariance()
    np.testing.assert_allclose(cov, MHG.sigma**2 * want, rtol=1e-12)
    corr = MHG.correlation()
    np.testing.assert_allclose(np.diag(corr), 1.0)
    assert np.diag(corr, 1).min() > 0.66 and np.diag(corr, 1)[-1] > 0.89
    # the 24-step total is far more uncertain than independent per-step marginals imply
    assert cov.sum() / np.trace(cov) > 10
    assert np.linalg.eigvalsh(cov).min() > 0


def test_conditional_mean_follows_the_ar_recursion() -> None:
    hist = MHG.panel(4, 100, seed=3)
    # different origins per series: drop the last k rows of series k
    hist = hist[
        hist.groupby("unique_id").cumcount(ascending=False) >= hist["unique_id"].str[-1].astype(int)
    ]
    mean, cov = MHG.conditional(hist)
    assert mean.shape == (4, 24) and cov.shape == (24, 24)
    for row, (_, g) in enumerate(hist.groupby("unique_id", sort=True)):
        ds, y = g["ds"].iloc[-1], g["y"].iloc[-1]
        x = y - (10 + 3 * np.sin(2 * np.pi * ds.hour / 24))
        for h in range(1, 25):
            x = 0.9 * x
            t = ds + pd.Timedelta(hours=h)
            assert mean[row, h - 1] == pytest.approx(
                10 + 3 * np.sin(2 * np.pi * t.hour / 24) + x, abs=1e-12
            )
    ids = ["series_003", "series_001"]
    np.testing.assert_array_equal(MHG.conditional(hist, ids)[0], mean[[3, 1]])


def test_simulated_futures_have_the_stated_covariance() -> None:
    n = 20_000
    draws = MHG.sample_future(MHG.panel(2, 50, seed=1), n, seed=2)
    assert draws.shape == (n, 2, 24)
    mean, cov = MHG.conditional(MHG.panel(2, 50, seed=1))
    emp = np.cov(draws[:, 1, :], rowvar=False)
    # Gaussian sample covariance: se(S_ij) = sqrt((S_ii S_jj + S_ij^2) / n); allow 5 se
    # (300 distinct entries: a 5-se excursion has probability < 2e-4 in all)
    se = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / n)
    assert np.all(np.abs(emp - cov) < 5 * se)
    assert np.all(np.abs(draws.mean(0) - mean) < 5 * np.sqrt(np.diag(cov) / n))


def test_panel_paths_continue_with_the_conditional_distribution() -> None:
    # the panel itself (not sample_future): the last 24 steps given the first 48
    n, g = 5000, MHG
    panel = g.panel(n, 72, seed=9)
    hist = panel[panel.groupby("unique_id").cumcount() < 48]
    future = panel["y"].to_numpy().reshape(n, 72)[:, 48:]
    mean, cov = g.conditional(hist)
    resid = future - mean
    se = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / n)
    assert np.all(np.abs(np.cov(resid, rowvar=False) - cov) < 5 * se)
    assert np.all(np.abs(resid.mean(0)) < 5 * np.sqrt(np.diag(cov) / n))


def test_panel_marginal_variance_is_stationary() -> None:
    n = 4000
    panel = MHG.panel(n, 300, seed=4)
    x = (panel["y"] - MHG.seasonal_mean(panel["ds"].to_numpy())).to_numpy().reshape(n, 300)
    stationary = MHG.sigma**2 / (1 - MHG.phi**2)
    # se of a Gaussian sample variance: var * sqrt(2 / n) = 0.118; allow 4 se at each time
    for t in (0, 1, 150, 299):
        assert abs(x[:, t].var() - stationary) < 4 * stationary * np.sqrt(2 / n)
    assert abs(x.mean()) < 0.05
    # a longer panel extends a shorter one (time-major draws)
    head = MHG.panel(3, 80, seed=4).groupby("unique_id").head(30).reset_index(drop=True)
    pd.testing.assert_frame_equal(head, MHG.panel(3, 30, seed=4))
    assert MHG.seasonal_mean(np.array(["2024-01-01T06:00"], dtype="datetime64[ns]"))[0] == 13.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"phi": 1.0}, "phi"),
        ({"sigma": 0.0}, "sigma"),
        ({"freq": "MS"}, "freq"),
        ({"horizon": 0}, "horizon"),
    ],
)
def test_multi_horizon_validates(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        MultiHorizonGaussian(**kwargs)


def test_conditional_validates_history() -> None:
    hist = MHG.panel(2, 10)
    with pytest.raises(ValueError, match="column"):
        MHG.conditional(hist.drop(columns="y"))
    with pytest.raises(ValueError, match="not in history"):
        MHG.conditional(hist, ["series_009"])


# ----------------------------------------------------------------------------- retail demand
@pytest.fixture(scope="module")
def scenario():
    return demand_scenario(seed=0)


def test_demand_frames_shapes_and_types(scenario) -> None:
    hist, fut, act = scenario.history, scenario.future, scenario.actuals
    assert list(hist.columns) == ["unique_id", "ds", "y", "promo", "store", "category"]
    assert list(act.columns) == list(hist.columns)
    assert list(fut.columns) == ["unique_id", "ds", "promo"]
    assert hist["store"].dtype == "str" and hist["category"].dtype == "str"
    assert hist["unique_id"].unique().tolist() == [f"item_{i:03d}" for i in range(50)]
    sizes = hist.groupby("unique_id").size()
    assert sizes.max() == 730 and (sizes == 730).sum() == 45 and sizes.min() >= 365
    assert hist.groupby("unique_id")["ds"].max().nunique() == 1  # all end on one day
    assert (hist.groupby("unique_id")[["store", "category"]].nunique() == 1).all().all()
    for frame in (hist, act):
        y = frame["y"].to_numpy()
        assert (y >= 0).all() and (y == np.round(y)).all()
        assert set(np.unique(frame["promo"])) <= {0.0, 1.0} and frame["promo"].dtype == np.float64
    assert_long_format(fut.assign(y=0.0)[["unique_id", "ds", "y"]])
    assert demand_panel().equals(hist)


def test_demand_future_continues_the_history(scenario) -> None:
    hist, fut, act = scenario.history, scenario.future, scenario.actuals
    assert (fut.groupby("unique_id").size() == 28).all()
    last = hist.groupby("unique_id")["ds"].max()
    steps = (fut["ds"] - fut["unique_id"].map(last)) / pd.Timedelta(days=1)
    np.testing.assert_array_equal(steps, np.tile(np.arange(1, 29), 50))
    pd.testing.assert_frame_equal(fut, act[["unique_id", "ds", "promo"]])


def test_demand_history_does_not_depend_on_the_horizon() -> None:
    long, short = demand_scenario(20, 100, horizon=10), demand_scenario(20, 100, horizon=4)
    pd.testing.assert_frame_equal(long.history, short.history)
    head = long.actuals.groupby("unique_id").head(4).reset_index(drop=True)
    pd.testing.assert_frame_equal(head, short.actuals)


def test_demand_levels_span_orders_of_magnitude_and_slow_movers_are_intermittent(scenario) -> None:
    level = scenario.series.set_index("unique_id")["level"]
    by_id = scenario.history.groupby("unique_id")["y"]
    zero = by_id.apply(lambda y: (y == 0).mean())
    mean = by_id.mean()
    assert mean.max() > 100 and (mean < 5).sum() >= 15
    # level < 1: Poisson zeros exp(-level) plus 10-40% inflation, so 40-90% zeros
    slow = zero[level < 1]
    assert len(slow) >= 5 and slow.between(0.4, 0.95).all()
    assert (zero[level > 50] < 0.01).all()


def test_demand_promotions_lift_demand(scenario) -> None:
    h = scenario.history
    rel = h["y"] / h.groupby("unique_id")["y"].transform("mean")  # scale-free
    lift = rel[h["promo"] == 1].mean() / rel[h["promo"] == 0].mean()
    assert 1.5 < lift < 2.5  # the lifts are drawn from 1.5-2.5
    assert 0.05 < h["promo"].mean() < 0.2


def test_demand_weekly_seasonality(scenario) -> None:
    h = scenario.history[scenario.history["promo"] == 0]
    rel = h["y"] / h.groupby("unique_id")["y"].transform("mean")
    by_day = rel.groupby(h["ds"].dt.day_of_week).mean()
    assert by_day[5] / by_day[1] > 1.3  # Saturday over Tuesday
    assert by_day.idxmax() == 5


def test_demand_errors_are_autocorrelated(scenario) -> None:
    h = scenario.history.merge(scenario.series[["unique_id", "level"]], on="unique_id")
    h = h[h["level"] > 50]
    ly = np.log1p(h["y"])
    resid = ly - ly.groupby([h["unique_id"], h["ds"].dt.day_of_week, h["promo"]]).transform("mean")
    smooth = resid.groupby(h["unique_id"]).transform(
        lambda r: r.rolling(29, center=True, min_periods=1).mean()
    )
    ac = (resid - smooth).groupby(h["unique_id"]).apply(lambda r: r.autocorr(1))
    assert len(ac) >= 5 and (ac > 0).all() and ac.mean() > 0.1


def test_demand_is_fast_to_build() -> None:
    start = time.perf_counter()
    demand_scenario(50, 730, seed=3)
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize(
    "kwargs",
    [{"n_series": 0}, {"length": 0}, {"horizon": 0}, {"late_fraction": 1.5}, {"n_series": 2.5}],
)
def test_demand_validates(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        demand_scenario(**kwargs)
