"""SQF, QuantileGrid and affine scaling: family-specific behaviour beyond the conformance suite."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import AffineTransform, ExpTransform, Normal, TransformedDistribution

from qfcast.distributions import (
    IQF,
    SQF,
    AffineTransformed,
    QuantileGrid,
    crps,
    sqf_domain_map,
)

from .examples import EXAMPLES

F64 = torch.float64


# -- SQF ---------------------------------------------------------------------------------------
def _gasthaus_crps(gamma, slopes, widths, z):
    """CRPS of Gasthaus et al. (2019), eq. in MATH.md A.8 — an independent closed form."""
    d = torch.cat([torch.zeros_like(widths[..., :1]), widths.cumsum(-1)[..., :-1]], -1)
    b = torch.cat([slopes[..., :1], slopes.diff(dim=-1)], -1)
    # ũ = F(z) on [0, 1]: invert q(u) = γ + Σ b_l (u − d_l)₊ piece by piece
    knots_y = gamma[..., None] + torch.cat(
        [torch.zeros_like(widths[..., :1]), (slopes * widths).cumsum(-1)], -1
    )
    u = torch.zeros_like(z)
    for i in range(widths.shape[-1]):
        inside = (z >= knots_y[..., i]) & (z <= knots_y[..., i + 1])
        u = torch.where(inside, d[..., i] + (z - knots_y[..., i]) / slopes[..., i], u)
    u = torch.where(z > knots_y[..., -1], torch.ones_like(u), u)
    m = torch.maximum(u[..., None], d)
    terms = b * ((1 - d**3) / 3 - d - m**2 + 2 * m * d)
    return (2 * u - 1) * (z - gamma) + terms.sum(-1)


def test_sqf_crps_equals_gasthaus_closed_form():
    g = torch.Generator().manual_seed(0)
    raw = torch.randn(50, 2 * 6 + 1, generator=g, dtype=F64)
    p = sqf_domain_map(raw, 6)
    d = SQF(*p)
    z = 2 * torch.randn(50, generator=g, dtype=F64) + p.gamma + 1
    torch.testing.assert_close(d.crps(z), _gasthaus_crps(*p, z), rtol=1e-10, atol=1e-12)


def test_sqf_bounded_support():
    d = SQF(
        torch.tensor(1.0, dtype=F64),
        torch.tensor([1.0, 3.0], dtype=F64),
        torch.tensor([0.5, 0.5], dtype=F64),
        validate_args=False,
    )
    assert d.icdf(torch.tensor(0.0, dtype=F64)).item() == 1.0
    assert d.icdf(torch.tensor(1.0, dtype=F64)).item() == 3.0
    y = torch.tensor([0.0, 0.9, 3.0, 3.5], dtype=F64)
    torch.testing.assert_close(d.cdf(y), torch.tensor([0.0, 0.0, 1.0, 1.0], dtype=F64))
    lp = d.log_prob(y)
    assert lp[0] == -math.inf and lp[-1] == -math.inf and lp[2] == pytest.approx(math.log(1 / 3))
    assert d.support.check(torch.tensor(2.0, dtype=F64))
    with pytest.raises(ValueError):
        SQF(0.0, torch.ones(2), torch.full((2,), 0.5), validate_args=True).log_prob(
            torch.tensor(5.0)
        )
    # CRPS outside the support grows linearly: d/dz = 2F − 1 = ±1
    z = torch.tensor([-2.0, 10.0], dtype=F64, requires_grad=True)
    (grad,) = torch.autograd.grad(d.crps(z).sum(), z)
    torch.testing.assert_close(grad, torch.tensor([-1.0, 1.0], dtype=F64))


# -- QuantileGrid ------------------------------------------------------------------------------
LEVELS = torch.tensor([0.1, 0.3, 0.5, 0.7, 0.9], dtype=F64)


def test_grid_reports_crossing_and_keeps_trained_values():
    values = torch.tensor([[0.0, 1.0, 2.0, 3.0, 4.0], [0.0, 2.0, 1.0, 3.0, 4.0]], dtype=F64)
    g = QuantileGrid(LEVELS, values)
    assert g.crossed.tolist() == [False, True]
    assert g.crossing_rate == 0.5
    torch.testing.assert_close(g.raw_values, values)
    torch.testing.assert_close(g.icdf(LEVELS[:, None]).T[0], values[0])
    torch.testing.assert_close(g.icdf(LEVELS[:, None]).T[1], values[1].sort().values)

    keep = QuantileGrid(LEVELS, values, crossing="keep")
    q = keep.icdf(LEVELS[:, None]).T
    torch.testing.assert_close(q, values)  # the crossing is visible, not hidden
    assert (keep.icdf(torch.tensor([0.3, 0.5], dtype=F64)[:, None]).diff(dim=0)[0, 1] < 0).item()
    for query in (keep.cdf, keep.crps, keep.log_prob):
        with pytest.raises(ValueError, match="cross"):
            query(torch.tensor(1.0, dtype=F64))
    with pytest.raises(ValueError, match="1 of 2 rows"):
        QuantileGrid(LEVELS, values, crossing="raise")


def test_grid_tails_pass_through_the_two_outermost_values():
    values = torch.tensor([-2.0, -1.0, 0.0, 0.5, 3.0], dtype=F64)
    g = QuantileGrid(LEVELS, values)
    a_l = (values[1] - values[0]) / math.log(0.3 / 0.1)
    a_r = (values[4] - values[3]) / math.log((1 - 0.7) / (1 - 0.9))
    tau = torch.tensor([0.01, 0.05, 0.95, 0.999], dtype=F64)
    expected = torch.stack(
        [
            values[0] + a_l * math.log(0.01 / 0.1),
            values[0] + a_l * math.log(0.05 / 0.1),
            values[4] - a_r * math.log(0.05 / 0.1),
            values[4] - a_r * math.log(0.001 / 0.1),
        ]
    )
    torch.testing.assert_close(g.icdf(tau), expected)
    # the left tail curve continued inwards passes through (0.3, y_1)
    assert (values[0] + a_l * math.log(0.3 / 0.1)).item() == pytest.approx(-1.0)


def test_grid_equals_iqf_with_fitted_tails():
    values = torch.tensor([[0.0, 1.0, 1.5, 2.0, 4.0]], dtype=F64)
    g = QuantileGrid(LEVELS, values)
    beta_l = math.log(3.0) / 1.0
    beta_r = math.log(3.0) / 2.0
    iqf = IQF(LEVELS, values, beta_l, beta_r)
    z = torch.linspace(-3, 7, 21, dtype=F64)[:, None]
    torch.testing.assert_close(g.crps(z), iqf.crps(z))
    torch.testing.assert_close(g.mean, iqf.mean)


def test_grid_with_tied_values_stays_finite():
    g = QuantileGrid(LEVELS, torch.tensor([1.0, 1.0, 1.0, 2.0, 2.0], dtype=F64))
    z = torch.tensor([0.0, 1.0, 1.5, 2.0, 3.0], dtype=F64)
    assert torch.isfinite(g.crps(z)).all() and torch.isfinite(g.cdf(z)).all()
    assert torch.isfinite(g.sample((100,))).all()


# -- affine scaling ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "example", [e for e in EXAMPLES if "scaled" not in e.name], ids=lambda e: e.name
)
def test_scaled_crps_is_scale_times_base_crps(example):
    d = example.make()
    y = d.sample((6,))
    loc, scale = 5.0, 2.5
    scaled = AffineTransformed(d, loc, scale)
    torch.testing.assert_close(scaled.crps(loc + scale * y), scale * crps(d, y))
    plain = TransformedDistribution(d, [AffineTransform(1.0, 2.0), AffineTransform(3.0, scale)])
    # y ↦ 3 + scale·(1 + 2y): total scale 2·scale
    torch.testing.assert_close(crps(plain, 3 + scale * (1 + 2 * y)), 2 * scale * crps(d, y))
    torch.testing.assert_close(scaled.mean, loc + scale * d.mean)


def test_scaled_keeps_tiny_tail_levels():
    d = EXAMPLES[1].make()  # an ISQF
    scaled = AffineTransformed(d, 10.0, torch.tensor(3.0, dtype=F64))
    q = scaled.icdf(torch.tensor(1e-300, dtype=F64))
    assert torch.isfinite(q).all()
    torch.testing.assert_close(q, 10 + 3 * d.icdf(torch.tensor(1e-300, dtype=F64)))


def test_crps_rejects_what_has_no_closed_form():
    with pytest.raises(TypeError, match="closed-form"):
        crps(Normal(0.0, 1.0), torch.tensor(0.0))
    with pytest.raises(TypeError, match="affine"):
        crps(TransformedDistribution(EXAMPLES[1].make(), [ExpTransform()]), torch.tensor(1.0))
