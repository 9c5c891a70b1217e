"""Service-level decisions against closed forms and Monte Carlo on known distributions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from qfcast.decision import (
    newsvendor,
    service_level_for_stock,
    stock_for_service_level,
    tradeoff,
)
from qfcast.distributions import Gaussian
from qfcast.forecast import DistributionForecast, SampleForecast
from qfcast.heads import get_head

F64 = torch.float64
IDS = np.array(["b", "a"])  # not sorted: results follow the forecast's order
H = 3
STAMPS = np.tile(pd.date_range("2024-01-01", periods=H, freq="D").to_numpy(), 2)
MU = np.array([[10.0, 12.0, 14.0], [5.0, 5.0, 6.0]])
SD = np.array([[1.0, 2.0, 1.5], [0.5, 1.0, 0.8]])


def gaussian() -> DistributionForecast:
    return DistributionForecast(Gaussian(torch.tensor(MU), torch.tensor(SD)), IDS, STAMPS, H)


def isqf(seed: int = 0) -> DistributionForecast:
    head = get_head("isqf")
    g = torch.Generator().manual_seed(seed)
    raw = torch.randn(2, H, head.outputs, generator=g, dtype=F64)
    loc = torch.tensor([[20.0] * H, [3.0] * H], dtype=F64)
    scale = torch.tensor([[4.0] * H, [0.5] * H], dtype=F64)
    return DistributionForecast(head.distribution(raw, loc, scale), IDS, STAMPS, H)


def test_one_step_is_the_quantile_and_the_inverse_is_the_cdf():
    f = gaussian()
    table = stock_for_service_level(f, [0.9, 0.95], steps=1)
    assert table["unique_id"].tolist() == ["b", "b", "a", "a"]
    expected = stats.norm.ppf([0.9, 0.95], MU[:, 1:2], SD[:, 1:2]).reshape(-1)
    np.testing.assert_allclose(table["stock"], expected, rtol=1e-12)
    assert set(table["dependence"]) == {"single step"}
    back = service_level_for_stock(f, {"a": 6.0, "b": 13.0}, steps=1)
    np.testing.assert_allclose(
        back["service_level"], stats.norm.cdf([13.0, 6.0], MU[:, 1], SD[:, 1]), rtol=1e-12
    )


def test_marginal_totals_give_both_ends_of_dependence():
    f = gaussian()
    table = stock_for_service_level(f, 0.95, steps=range(3), num_samples=200_000, seed=1)
    z = stats.norm.ppf(0.95)
    como = MU.sum(1) + z * SD.sum(1)  # comonotone Gaussians: N(Σμ, (Σσ)²)
    indep = MU.sum(1) + z * np.sqrt((SD**2).sum(1))
    np.testing.assert_allclose(table["stock_comonotone"], como, rtol=1e-12)
    np.testing.assert_allclose(table["stock_independent"], indep, rtol=3e-3)
    np.testing.assert_allclose(table["stock"], como)  # the conservative default
    assert set(table["dependence"]) == {"comonotone"}
    chosen = stock_for_service_level(f, 0.95, dependence="independent", num_samples=1000)
    assert set(chosen["dependence"]) == {"independent"}
    np.testing.assert_array_equal(chosen["stock"], chosen["stock_independent"])

    stock = MU.sum(1) + 1.0
    levels = service_level_for_stock(f, stock, num_samples=200_000, seed=2)
    np.testing.assert_allclose(
        levels["service_level_comonotone"], stats.norm.cdf(1.0 / SD.sum(1)), atol=1e-3
    )
    np.testing.assert_allclose(
        levels["service_level_independent"],
        stats.norm.cdf(1.0 / np.sqrt((SD**2).sum(1))),
        atol=4e-3,
    )


def test_joint_paths_use_the_total_of_each_path():
    rng = np.random.default_rng(4)
    common = rng.normal(size=(5000, 2, 1))
    paths = 10 + common + 0.1 * rng.normal(size=(5000, 2, H))  # strongly correlated steps
    f = SampleForecast(paths, IDS, STAMPS, H)
    table = stock_for_service_level(f, 0.9, steps=[0, 2])
    totals = paths[:, :, [0, 2]].sum(-1)
    np.testing.assert_allclose(table["stock"], np.quantile(totals, 0.9, axis=0))
    assert set(table["dependence"]) == {"joint"}
    back = service_level_for_stock(f, table["stock"].to_numpy(), steps=[0, 2])
    np.testing.assert_allclose(back["service_level"], 0.9, atol=1e-3)
    with pytest.raises(ValueError, match="joint sample paths"):
        stock_for_service_level(f, 0.9, dependence="independent")


def test_tradeoff_marginal_stock_per_point():
    f = gaussian()
    table = tradeoff(f, steps=0)
    assert table["level"].iloc[:3].tolist() == [0.8, 0.81, 0.82]
    for _, rows in table.groupby("unique_id"):
        assert np.isnan(rows["marginal_stock"].iloc[0])
        diff = np.diff(rows["stock"]) / (np.diff(rows["level"]) * 100)
        np.testing.assert_allclose(rows["marginal_stock"].iloc[1:], diff, rtol=1e-10)
        assert (np.diff(rows["stock"]) > 0).all()
        assert rows["marginal_stock"].iloc[-1] > rows["marginal_stock"].iloc[1]  # tail costs more


@pytest.mark.parametrize("make", [gaussian, isqf])
def test_newsvendor_closed_form_matches_monte_carlo(make):
    f = make()
    cu, co = 4.0, 1.0
    out = newsvendor(f, cu, co, steps=1)
    assert set(out["method"]) == {"closed form"}
    np.testing.assert_allclose(out["critical_ratio"], 0.8)
    q = f._quantiles(np.array([0.8]))[0, :, 1]
    np.testing.assert_allclose(out["stock"], q, rtol=1e-12)
    draws = f.sample(400_000, seed=5)[:, :, 1]
    short = np.maximum(draws - q, 0).mean(0)
    excess = np.maximum(q - draws, 0).mean(0)
    spread = draws.std(0) / np.sqrt(len(draws))
    np.testing.assert_allclose(out["expected_shortfall"], short, atol=4 * spread.max())
    np.testing.assert_allclose(
        out["expected_cost"], cu * short + co * excess, atol=20 * spread.max()
    )
    np.testing.assert_allclose(out["fill_rate"], 1 - short / draws.mean(0), atol=1e-3)


def test_newsvendor_gaussian_is_the_textbook_formula():
    out = newsvendor(gaussian(), 9.0, 1.0, steps=0)
    z = stats.norm.ppf(0.9)
    loss = SD[:, 0] * (stats.norm.pdf(z) - z * (1 - stats.norm.cdf(z)))  # σ L(z)
    np.testing.assert_allclose(out["expected_shortfall"], loss, rtol=1e-10)
    np.testing.assert_allclose(
        out["expected_cost"], 10 * SD[:, 0] * stats.norm.pdf(z), rtol=1e-10
    )  # (cu + co) σ ϕ(z) at the optimum


def test_newsvendor_over_several_steps_uses_samples_and_says_so():
    out = newsvendor(gaussian(), 4.0, 1.0, num_samples=50_000)
    assert set(out["method"]) == {"samples (comonotone)"}
    sd = SD.sum(1)  # comonotone total: N(Σμ, (Σσ)²)
    z = stats.norm.ppf(0.8)
    np.testing.assert_allclose(
        out["expected_shortfall"], sd * (stats.norm.pdf(z) - z * (1 - stats.norm.cdf(z))), rtol=2e-3
    )


def test_user_errors_are_clear():
    f = gaussian()
    for bad in (0.0, 1.0, 1.5, [0.5, np.nan]):
        with pytest.raises(ValueError, match="strictly between 0 and 1"):
            stock_for_service_level(f, bad)
    with pytest.raises(ValueError, match=r"0…2"):
        stock_for_service_level(f, 0.9, steps=3)
    with pytest.raises(ValueError, match="ints"):
        stock_for_service_level(f, 0.9, steps=[0.5])
    with pytest.raises(ValueError, match="repeat"):
        stock_for_service_level(f, 0.9, steps=[1, 1])
    with pytest.raises(ValueError, match="dependence"):
        stock_for_service_level(f, 0.9, dependence="gumbel")
    with pytest.raises(ValueError, match="positive"):
        newsvendor(f, 0.0, 1.0)
    with pytest.raises(ValueError, match=r"no value for the series \['a'\]"):
        service_level_for_stock(f, {"b": 3.0})
