"""Plots: they render (PNG and SVG) and hold the expected artists with the right data."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from scipy import stats
from torch.distributions import AffineTransform, TransformedDistribution

from qfcast.data.synthetic import MultiHorizonGaussian, ThreePeaks
from qfcast.distributions import ISQF, AffineTransformed, Gaussian, spline_shares
from qfcast.forecast import DistributionForecast, SampleForecast, quantile_column
from qfcast.plot import (
    correlation_heatmap,
    fan_chart,
    pit_histogram,
    quantile_function,
    save,
    tradeoff_curve,
)

H = 4
IDS = np.array(["a", "b", "c"])
DATES = pd.date_range("2024-03-01", periods=H, freq="D")
STAMPS = np.tile(DATES.to_numpy(), len(IDS))
MU = np.arange(12, dtype=np.float64).reshape(3, H)
SD = np.linspace(0.5, 2.0, 12).reshape(3, H)
PNG = b"\x89PNG\r\n\x1a\n"

KNOT_LEVELS = torch.tensor([0.1, 0.4, 0.7, 0.9], dtype=torch.float64)
LOC = torch.tensor([[5.0], [-2.0]], dtype=torch.float64)  # per series, like a mean scaler
SCALE = torch.tensor([[2.0], [0.5]], dtype=torch.float64)


def gaussian_forecast(ids=IDS, mu=MU, sd=SD) -> DistributionForecast:
    d = Gaussian(torch.tensor(mu), torch.tensor(sd))
    return DistributionForecast(d, ids, np.tile(DATES.to_numpy(), len(ids)), H)


def isqf_base() -> ISQF:
    """A float64 ISQF with batch (2, H), 4 knots and 2 pieces per interval (seeded)."""
    g = torch.Generator().manual_seed(0)
    steps = torch.rand((2, H, 4), generator=g, dtype=torch.float64) + 0.1
    values = steps.cumsum(-1) - 1.0
    widths = spline_shares(torch.randn((2, H, 3, 2), generator=g, dtype=torch.float64))
    heights = spline_shares(torch.randn((2, H, 3, 2), generator=g, dtype=torch.float64))
    return ISQF(KNOT_LEVELS, values, widths, heights, 1.5, 2.0)


def isqf_forecast() -> tuple[DistributionForecast, ISQF]:
    base = isqf_base()
    d = AffineTransformed(base, LOC, SCALE)
    stamps = np.tile(DATES.to_numpy(), 2)
    return DistributionForecast(d, np.array(["s1", "s2"]), stamps, H), base


def actuals_frame(forecast, values: np.ndarray) -> pd.DataFrame:
    return forecast.mean()[[forecast.id_col, forecast.time_col]].assign(y=values.reshape(-1))


def history_frame() -> pd.DataFrame:
    past = pd.date_range(end=DATES[0] - pd.Timedelta(days=1), periods=30, freq="D")
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "unique_id": np.repeat(IDS, len(past)),
            "ds": np.tile(past.to_numpy(), len(IDS)),
            "y": rng.normal(size=len(IDS) * len(past)).cumsum(),
        }
    )


def tradeoff_table() -> pd.DataFrame:
    # deliberately out of order: the plot sorts by level
    return pd.DataFrame(
        {
            "level": [0.9, 0.8, 0.85, 0.95, 0.94],
            "stock": [130.0, 110.0, 118.0, 152.0, 144.0],
            "marginal_stock": [2.4, np.nan, 1.6, 8.0, 3.5],
        }
    )


def by_gid(ax, gid: str):
    found = [a for a in ax.get_children() if a.get_gid() == gid]
    assert len(found) == 1, f"expected one artist {gid!r}, found {len(found)}"
    return found[0]


# ----------------------------------------------------------------------------- rendering
def _figures() -> dict[str, Figure]:
    g = gaussian_forecast()
    rng = np.random.default_rng(0)
    y = actuals_frame(g, MU + SD * rng.standard_normal(MU.shape))
    samples = SampleForecast(rng.standard_normal((200, 3, H)).cumsum(-1), IDS, STAMPS, H)
    return {
        "fan": fan_chart(g, history=history_frame(), actuals=y, last=10),
        "quantile": quantile_function(isqf_forecast()[0], truth=ThreePeaks().icdf),
        "pit": pit_histogram(g, y),
        "heatmap": correlation_heatmap(MultiHorizonGaussian(horizon=H), samples, g),
        "tradeoff": tradeoff_curve(tradeoff_table()),
    }


def test_every_plot_renders_to_png_and_svg(tmp_path):
    for name, fig in _figures().items():
        assert isinstance(fig, Figure)
        png = save(fig, tmp_path / f"{name}.png")
        assert png == tmp_path / f"{name}.png"
        assert png.read_bytes().startswith(PNG), name
        if name in ("fan", "heatmap"):  # dates, images and a colour bar; SVG costs time
            svg = save(fig, str(tmp_path / f"{name}.SVG")).read_bytes()
            assert svg.startswith(b"<?xml") and b"<svg" in svg, name


def test_save_rejects_other_extensions(tmp_path):
    fig = Figure()
    with pytest.raises(ValueError, match=r"\.png, \.svg"):
        save(fig, tmp_path / "plot.jpg")
    with pytest.raises(ValueError, match=r"\.png, \.svg"):
        save(fig, tmp_path / "plot")
    assert not list(tmp_path.iterdir())


# ----------------------------------------------------------------------------- fan chart
def test_fan_chart_bands_median_history_and_actuals():
    f = gaussian_forecast()
    history = history_frame()
    rng = np.random.default_rng(2)
    y = actuals_frame(f, MU + SD * rng.standard_normal(MU.shape))
    fig = fan_chart(f, history=history, actuals=y, series="b", levels=(0.8, 0.5, 0.95), last=10)
    (ax,) = fig.axes
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert [b.get_gid() for b in bands] == ["interval 0.95", "interval 0.8", "interval 0.5"]
    q = f.quantile([0.025, 0.975, 0.1, 0.9, 0.25, 0.75, 0.5]).iloc[H : 2 * H]  # series "b"
    for band, tail in zip(bands, (0.025, 0.1, 0.25), strict=True):
        ys = band.get_paths()[0].vertices[:, 1]
        for col in (quantile_column(tail), quantile_column(1 - tail)):
            assert np.isclose(ys[:, None], q[col].to_numpy()[None]).any(0).all()
    # darker for narrower: the face colours get darker from the widest band in
    brightness = [b.get_facecolor()[0][:3].sum() for b in bands]
    assert brightness[0] > brightness[1] > brightness[2]

    median = by_gid(ax, "median")
    np.testing.assert_allclose(median.get_ydata(), MU[1])
    assert mdates.date2num(median.get_xdata()).tolist() == mdates.date2num(DATES).tolist()
    past = by_gid(ax, "history")
    np.testing.assert_array_equal(past.get_ydata(), history[history.unique_id == "b"].y[-10:])
    points = by_gid(ax, "actuals").get_offsets()
    np.testing.assert_allclose(points[:, 1], y[y.unique_id == "b"].y)
    assert len(ax.lines) == 2  # median and history
    assert isinstance(ax.xaxis.get_major_formatter(), mdates.ConciseDateFormatter)
    assert ax.get_title() == "Forecast for b"
    assert len(ax.get_legend().get_texts()) == 6


def test_fan_chart_defaults_and_given_axes():
    f = gaussian_forecast()
    ax = Figure().subplots()
    assert fan_chart(f, ax=ax) is ax.figure
    assert len([c for c in ax.collections if isinstance(c, PolyCollection)]) == 3
    np.testing.assert_allclose(by_gid(ax, "median").get_ydata(), MU[0])  # the first id
    assert len(ax.lines) == 1


def test_fan_chart_errors():
    f = gaussian_forecast()
    with pytest.raises(ValueError, match=r"unknown series 'zz'.*'a', 'b', 'c'"):
        fan_chart(f, series="zz")
    for levels in [(0.5, 1.0), (0.0,), (0.8, -0.1)]:
        with pytest.raises(ValueError, match="strictly between 0 and 1"):
            fan_chart(f, levels=levels)
    with pytest.raises(ValueError, match="last"):
        fan_chart(f, history=history_frame(), last=0)
    with pytest.raises(ValueError, match="history lacks"):
        fan_chart(f, history=history_frame().drop(columns="y"))


# ----------------------------------------------------------------------------- quantile function
def test_quantile_function_marks_isqf_knots_in_data_units():
    f, base = isqf_forecast()
    for index, step in [(0, 0), (1, 3)]:
        fig = quantile_function(f, series=f.ids[index], step=step)
        qf_ax, density_ax = fig.axes
        knots = by_gid(qf_ax, "knots")
        expected = LOC[index, 0] + SCALE[index, 0] * base.knot_values[index, step]
        assert len(knots.get_xdata()) == len(KNOT_LEVELS) == 4
        np.testing.assert_allclose(knots.get_xdata(), KNOT_LEVELS.numpy())
        np.testing.assert_allclose(knots.get_ydata(), expected.numpy(), rtol=1e-12)
        # the knots lie on the plotted quantile function
        row = f.quantile(KNOT_LEVELS.numpy()).iloc[index * H + step, 2:].to_numpy(np.float64)
        np.testing.assert_allclose(knots.get_ydata(), row, rtol=1e-10)
        curve = by_gid(qf_ax, "quantile")
        grid = np.asarray(curve.get_xdata())
        assert grid[0] == pytest.approx(0.001) and grid[-1] == pytest.approx(0.999)
        assert len(grid) == 999
        assert np.all(np.diff(curve.get_ydata()) >= 0)
        assert density_ax.get_ylabel() == "density"
    assert len(quantile_function(f, knots=False).axes[0].lines) == 1


def test_knots_through_nested_and_decreasing_affine_wrappers():
    base = isqf_base()
    nested = TransformedDistribution(AffineTransformed(base, LOC, SCALE), [AffineTransform(1, 3)])
    flipped = TransformedDistribution(base, [AffineTransform(0.0, -1.0)])
    stamps = np.tile(DATES.to_numpy(), 2)
    ids = np.array(["s1", "s2"])
    for d, levels, values in [
        (nested, KNOT_LEVELS, 1 + 3 * (LOC[1, 0] + SCALE[1, 0] * base.knot_values[1, 2])),
        (flipped, 1 - KNOT_LEVELS.flip(0), -base.knot_values[1, 2].flip(0)),
    ]:
        f = DistributionForecast(d, ids, stamps, H)
        knots = by_gid(quantile_function(f, series="s2", step=2, density=False).axes[0], "knots")
        np.testing.assert_allclose(knots.get_xdata(), levels.numpy(), rtol=1e-12)
        np.testing.assert_allclose(knots.get_ydata(), values.numpy(), rtol=1e-12)
        row = f.quantile(knots.get_xdata()).iloc[H + 2, 2:].to_numpy(np.float64)
        np.testing.assert_allclose(knots.get_ydata(), row, rtol=1e-6)


def test_quantile_function_density_and_truth():
    f = gaussian_forecast()
    fig = quantile_function(f, series="c", step=1, truth=ThreePeaks())
    qf_ax, density_ax = fig.axes
    assert not [a for a in qf_ax.get_children() if a.get_gid() == "knots"]  # none: skipped
    curve = by_gid(qf_ax, "quantile")
    grid = np.asarray(curve.get_xdata())
    np.testing.assert_allclose(curve.get_ydata(), stats.norm.ppf(grid, MU[2, 1], SD[2, 1]))
    truth = by_gid(qf_ax, "truth")
    assert truth.get_linestyle() == "--"
    np.testing.assert_allclose(truth.get_ydata(), ThreePeaks().icdf(grid), rtol=1e-12)
    # the implied density 1 / Q'(α) at the cell midpoints is the Gaussian density there
    density = by_gid(density_ax, "density")
    x, fx = np.asarray(density.get_xdata()), np.asarray(density.get_ydata())
    assert len(x) == len(grid) - 1
    exact = stats.norm.pdf(x, MU[2, 1], SD[2, 1])
    np.testing.assert_allclose(fx, exact, rtol=2e-2)  # O(h²) error, largest in the tails
    np.testing.assert_allclose(fx[50:-50], exact[50:-50], rtol=5e-5)  # levels 0.05 … 0.95
    true_density = by_gid(density_ax, "truth density")
    tx, tf = np.asarray(true_density.get_xdata()), np.asarray(true_density.get_ydata())
    peaks = (np.abs(tx - 0.0) < 1.0) | (np.abs(tx + 5.0) < 0.5)  # away from the near-empty gaps
    np.testing.assert_allclose(tf[peaks], ThreePeaks().pdf(tx[peaks]), rtol=1e-2)
    assert fig.get_suptitle().startswith("c · step 2 (2024-03-02)")
    assert len(quantile_function(f, density=False).axes) == 1


def test_quantile_function_errors():
    f = gaussian_forecast()
    with pytest.raises(ValueError, match="unknown series 'x'"):
        quantile_function(f, series="x")
    for step in (-1, H, 1.0):
        with pytest.raises(ValueError, match="step"):
            quantile_function(f, step=step)
    with pytest.raises(ValueError, match="truth must"):
        quantile_function(f, truth=3.0)


# ----------------------------------------------------------------------------- calibration
def test_pit_histogram_and_reliability_curve():
    n = 50
    rng = np.random.default_rng(3)
    mu, sd = rng.normal(size=(n, H)), rng.uniform(0.5, 2.0, size=(n, H))
    f = gaussian_forecast(np.array([f"s{i}" for i in range(n)]), mu, sd)
    y = mu + sd * rng.standard_normal((n, H))
    frame = actuals_frame(f, y).assign(promo=1.0)  # extra columns are ignored ("y" is used)
    pit = stats.norm.cdf(y, mu, sd).reshape(-1)
    fig = pit_histogram(f, frame.sample(frac=1.0, random_state=0), bins=8)
    hist_ax, rel_ax = fig.axes
    heights = np.array([p.get_height() for p in hist_ax.patches])
    assert len(heights) == 8
    assert heights.sum() * (1 / 8) == pytest.approx(1.0, abs=1e-12)  # a density over [0, 1]
    expected, _ = np.histogram(pit, bins=8, range=(0, 1), density=True)
    np.testing.assert_allclose(heights, expected, rtol=1e-9)
    assert by_gid(hist_ax, "uniform").get_ydata() == pytest.approx([1.0, 1.0])
    curve = by_gid(rel_ax, "reliability")
    assert curve.get_drawstyle() == "steps-post"
    x, observed = np.asarray(curve.get_xdata()), np.asarray(curve.get_ydata())
    np.testing.assert_allclose(np.sort(x[1:-1]), np.sort(pit), rtol=1e-9)
    assert x[0] == 0 and x[-1] == 1 and np.all(np.diff(x) > 0)
    np.testing.assert_array_equal(observed, (x[None, :] >= x[1:-1, None]).sum(0) / pit.size)
    assert by_gid(rel_ax, "diagonal").get_xydata().tolist() == [[0, 0], [1, 1]]


def test_reliability_curve_is_the_empirical_cdf_with_ties():
    rng = np.random.default_rng(4)
    samples = rng.standard_normal((20, 3, H))  # 20 paths: PIT values are multiples of 1/20
    f = SampleForecast(samples, IDS, STAMPS, H)
    y = rng.standard_normal((3, H))
    pit = (samples <= y).mean(0).reshape(-1)
    curve = by_gid(pit_histogram(f, actuals_frame(f, y)).axes[1], "reliability")
    x, observed = np.asarray(curve.get_xdata()), np.asarray(curve.get_ydata())
    np.testing.assert_array_equal(np.unique(np.r_[0.0, 1.0, pit]), x)
    np.testing.assert_array_equal(observed, (pit[:, None] <= x[None]).mean(0))


def test_pit_histogram_errors():
    f = gaussian_forecast()
    frame = actuals_frame(f, MU)
    with pytest.raises(ValueError, match="bins"):
        pit_histogram(f, frame, bins=0)
    with pytest.raises(ValueError, match="one value column"):
        pit_histogram(f, frame.rename(columns={"y": "a"}).assign(b=1.0))


# ----------------------------------------------------------------------------- dependence
def test_correlation_heatmap_images_and_shared_colorbar():
    truth = MultiHorizonGaussian(horizon=H)
    rng = np.random.default_rng(5)
    z = rng.standard_normal((500, 3, H)) @ np.linalg.cholesky(truth.covariance()).T
    samples = SampleForecast(z, IDS, STAMPS, H)
    raw = np.full((H, H), 0.3) + 0.7 * np.eye(H)
    fig = correlation_heatmap(truth, samples, gaussian_forecast(), raw)
    axes = [ax for ax in fig.axes if ax.images]
    assert [len(ax.images) for ax in axes] == [1, 1, 1, 1]
    assert len(fig.axes) == 5  # four heatmaps and one colour bar
    expected = [truth.correlation(), samples.correlation().mean(0), np.eye(H), raw]
    for ax, matrix in zip(axes, expected, strict=True):
        np.testing.assert_allclose(ax.images[0].get_array(), matrix, rtol=1e-12)
        assert ax.images[0].get_clim() == (-1.0, 1.0)
    titles = [ax.get_title() for ax in axes]
    assert titles == ["MultiHorizonGaussian", "SampleForecast", "DistributionForecast", "matrix 4"]
    assert fig.axes[-1].get_ylabel() == "correlation"

    fig = correlation_heatmap(raw, titles=["mine"], vmin=0, vmax=1)
    assert fig.axes[0].get_title() == "mine"
    assert fig.axes[0].images[0].get_clim() == (0.0, 1.0)


def test_correlation_heatmap_errors():
    with pytest.raises(ValueError, match="at least one"):
        correlation_heatmap()
    with pytest.raises(ValueError, match="square"):
        correlation_heatmap(np.ones((3, 4)))
    with pytest.raises(ValueError, match="titles"):
        correlation_heatmap(np.eye(2), np.eye(2), titles=["one"])


# ----------------------------------------------------------------------------- decisions
def test_tradeoff_curve_plots_the_table():
    table = tradeoff_table()
    ordered = table.sort_values("level")
    ax = Figure().subplots()
    fig = tradeoff_curve(table, ax=ax)
    assert fig is ax.figure
    stock = by_gid(ax, "stock")
    np.testing.assert_allclose(stock.get_xdata(), 100 * ordered.level)
    np.testing.assert_allclose(stock.get_ydata(), ordered.stock)
    assert stock.get_marker() == "o"
    (bars_ax,) = [a for a in fig.axes if a is not ax]  # the twin axes
    bars = bars_ax.patches
    finite = ordered[ordered.marginal_stock.notna()]
    assert len(bars) == len(finite) == 4  # the NaN first row has no bar
    np.testing.assert_allclose([b.get_height() for b in bars], finite.marginal_stock)
    np.testing.assert_allclose([b.get_x() + b.get_width() / 2 for b in bars], 100 * finite.level)
    note = by_gid(ax, "last step")
    assert note.get_text() == "94% → 95%: +8 stock"
    assert note.xy == pytest.approx((95.0, 152.0))


def test_tradeoff_curve_errors():
    with pytest.raises(ValueError, match="marginal_stock"):
        tradeoff_curve(tradeoff_table().drop(columns="marginal_stock"))
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        tradeoff_curve(tradeoff_table().assign(level=[0.9, 0.8, 0.85, 0.95, 1.0]))
    with pytest.raises(ValueError, match="empty"):
        tradeoff_curve(tradeoff_table().iloc[:0])
