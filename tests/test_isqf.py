"""ISQF / IQF: golden values, closed forms against quadrature, fast path against reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate

from qfcast.distributions import IQF, ISQF, isqf_domain_map, spline_shares
from qfcast.distributions import _piecewise as pw

F64 = torch.float64


def _golden(levels, values, pieces, beta):
    k = len(levels)
    shares = torch.full((k - 1, pieces), 1.0 / pieces, dtype=F64)
    return ISQF(
        torch.tensor(levels, dtype=F64),
        torch.tensor(values, dtype=F64),
        shares,
        shares,
        torch.tensor(beta, dtype=F64),
        torch.tensor(beta, dtype=F64),
        validate_args=True,
    )


# GluonTS test_torch_isqf.py: raw spline arguments all 1 give equal shares.
GOLDEN = [
    (
        _golden([0.1, 0.9], [0.0, 1.0], 1, 2.0),
        [0.05, 0.3, 0.7, 0.99],
        [0.5 * math.log(0.5), 0.25, 0.75, 1 + 0.5 * math.log(10)],
        0.5,
        (0.0075, 0.0075, 7 / 75),
    ),
    (
        _golden([0.1, 0.5, 0.9], [0.0, 1.0, 2.0], 2, 1.0),
        [0.01, 0.45, 0.75, 0.95],
        [math.log(0.1), 0.875, 1.625, 2 + math.log(2)],
        2.0,
        (0.025, 0.005, 44 / 75),
    ),
]


@pytest.mark.parametrize("case", GOLDEN, ids=["K2-L1", "K3-L2"])
def test_golden_values(case):
    d, levels, quantiles, z, parts = case
    got = d.icdf(torch.tensor(levels, dtype=F64))
    torch.testing.assert_close(got, torch.tensor(quantiles, dtype=F64), rtol=1e-13, atol=1e-13)
    assert d.crps(torch.tensor(z, dtype=F64)).item() == pytest.approx(sum(parts), rel=1e-13)
    # the generic spline route gives the same number
    generic = pw.crps(d._spline, torch.tensor([[z]], dtype=F64)).item()
    assert generic == pytest.approx(sum(parts), rel=1e-13)


def test_golden_cdf_and_mean():
    d = GOLDEN[0][0]
    assert d.cdf(torch.tensor(0.5, dtype=F64)).item() == pytest.approx(0.5, abs=1e-15)
    # mean: left tail 0.1·(0 − 1/2) + spline 0.8·0.5 + right tail 0.1·(1 + 1/2)
    assert d.mean.item() == pytest.approx(-0.05 + 0.4 + 0.15, rel=1e-14)


def _random_isqf(seed, batch=8, k=4, pieces=3, spread=2.0):
    g = torch.Generator().manual_seed(seed)
    levels = torch.sort(torch.rand(k, generator=g, dtype=F64) * 0.9 + 0.05).values
    raw = spread * torch.randn(batch, 2 * (k - 1) * pieces + k + 2, generator=g, dtype=F64)
    return ISQF(levels, *isqf_domain_map(raw, k, pieces), validate_args=True), raw, levels


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_crps_equals_quadrature_of_pinball_in_every_region(seed):
    d, _, _levels = _random_isqf(seed, batch=4)
    knots = d.knot_values
    # one observation in each region: far left tail, first knot, inside, last knot, far right
    zs = torch.stack(
        [knots[:, 0] - 3, knots[:, 0], knots.mean(-1), knots[:, -1] + 1e-9, knots[:, -1] + 4]
    )
    got = d.crps(zs)
    for i in range(d.batch_shape[0]):
        for j in range(zs.shape[0]):
            z = float(zs[j, i])

            def loss(a, i=i, z=z):
                q = float(d.icdf(torch.tensor(a, dtype=F64))[i])
                return 2 * (z - q) * (a - (z < q))

            t = float(d.cdf(torch.tensor(z, dtype=F64))[i])
            kinks = d._spline.x[i].tolist()  # every piece boundary, plus the kink at F(z)
            pts = sorted({*kinks, min(max(t, 1e-12), 1 - 1e-12)})
            value = integrate.quad(loss, 0, 1, points=pts, limit=500, epsabs=1e-12)[0]
            assert float(got[j, i]) == pytest.approx(value, rel=1e-7, abs=1e-9)


def test_fast_crps_equals_generic_spline_crps_values_and_gradients():
    torch.manual_seed(0)
    k, pieces = 5, 4
    raw = (2 * torch.randn(64, 2 * (k - 1) * pieces + k + 2, dtype=F64)).requires_grad_(True)
    levels = torch.tensor([0.05, 0.2, 0.5, 0.8, 0.95], dtype=F64)
    z = 3 * torch.randn(64, 7, dtype=F64)
    params = isqf_domain_map(raw, k, pieces)
    fast = pw.isqf_crps(levels, *params, z)
    slow = pw.crps(pw.isqf_spline(levels, *params), z)
    torch.testing.assert_close(fast, slow, rtol=1e-12, atol=1e-12)
    (g_fast,) = torch.autograd.grad(fast.sum(), raw, retain_graph=True)
    (g_slow,) = torch.autograd.grad(slow.sum(), raw)
    torch.testing.assert_close(g_fast, g_slow, rtol=1e-10, atol=1e-12)


def test_chunked_crps_equals_direct_call(monkeypatch):
    _d, raw, levels = _random_isqf(3, batch=300)
    raw = raw.clone().requires_grad_(True)
    z = torch.randn(300, dtype=F64)
    direct = ISQF(levels, *isqf_domain_map(raw, 4, 3)).crps(z)
    (g_direct,) = torch.autograd.grad(direct.sum(), raw)
    chunk_sizes: list[int] = []
    in_chunks = pw._in_chunks

    def recording(fn, shared, rows, chunk):
        chunk_sizes.append(chunk)
        return in_chunks(fn, shared, rows, chunk)

    monkeypatch.setattr(pw, "_in_chunks", recording)
    monkeypatch.setattr(pw, "MIN_CHUNK_ROWS", 1)
    monkeypatch.setattr(pw, "CHUNK_ELEMENTS", 7 * 9)  # (K-1)·L = 9 pieces: 7 rows per chunk
    monkeypatch.setattr(pw, "DIRECT_ELEMENTS", 0)  # chunk even where a whole call would do
    chunked = ISQF(levels, *isqf_domain_map(raw, 4, 3)).crps(z)
    (g_chunked,) = torch.autograd.grad(chunked.sum(), raw)
    with torch.no_grad():
        no_grad = ISQF(levels, *isqf_domain_map(raw, 4, 3)).crps(z)
    assert chunk_sizes == [7, 7], "both the autograd and the no-grad path must chunk"
    torch.testing.assert_close(chunked, direct, rtol=0, atol=0)
    torch.testing.assert_close(g_chunked, g_direct, rtol=1e-14, atol=1e-14)
    torch.testing.assert_close(no_grad, direct, rtol=0, atol=0)


def test_crps_gradcheck_float64():
    _d, raw, levels = _random_isqf(4, batch=3, k=3, pieces=2)
    z = torch.tensor([-3.0, 0.1, 4.0], dtype=F64).requires_grad_(True)

    def f(raw, z):
        return ISQF(levels, *isqf_domain_map(raw, 3, 2), validate_args=False).crps(z)

    assert torch.autograd.gradcheck(f, (raw.clone().requires_grad_(True), z))

    def g(values, beta_l, beta_r):
        shares = torch.full((3, 2, 2), 0.5, dtype=F64)
        return ISQF(levels, values, shares, shares, beta_l, beta_r, validate_args=False).crps(z)

    values = torch.tensor([[-1.0, 0.0, 1.0], [0.0, 0.5, 3.0], [1.0, 1.1, 1.2]], dtype=F64)
    betas = (torch.tensor([0.5, 1.0, 3.0], dtype=F64), torch.tensor([2.0, 0.7, 1.0], dtype=F64))
    args = (values.requires_grad_(True), *(b.requires_grad_(True) for b in betas))
    assert torch.autograd.gradcheck(g, args)


def test_crps_gradient_in_y_is_two_cdf_minus_one():
    d, _, _ = _random_isqf(5, batch=6)
    y = torch.linspace(-6, 6, 25, dtype=F64)[:, None].expand(25, 6).clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(d.crps(y).sum(), y)
    torch.testing.assert_close(grad, 2 * d.cdf(y.detach()) - 1, rtol=1e-10, atol=1e-12)


def test_log_prob_integrates_to_one_and_matches_tail_formula():
    d = GOLDEN[1][0]
    total = integrate.quad(
        lambda y: d.log_prob(torch.tensor(y, dtype=F64)).exp().item(),
        -50,
        50,
        points=[0.0, 0.5, 1.0, 1.5, 2.0],
        limit=200,
    )[0]
    assert total == pytest.approx(1.0, abs=1e-8)
    # left tail density: β·α_0·exp(β(y − q_0)) with β = 1, α_0 = 0.1, q_0 = 0
    assert d.log_prob(torch.tensor(-2.0, dtype=F64)).item() == pytest.approx(math.log(0.1) - 2)


def test_iqf_is_isqf_with_one_piece():
    levels = torch.tensor([0.1, 0.5, 0.9], dtype=F64)
    values = torch.tensor([[0.0, 1.0, 4.0]], dtype=F64)
    iqf = IQF(levels, values, 1.5, 0.5)
    ones = torch.ones(1, 2, 1, dtype=F64)
    isqf = ISQF(levels, values, ones, ones, 1.5, 0.5)
    alpha = torch.tensor([[0.01], [0.3], [0.7], [0.99]], dtype=F64)
    torch.testing.assert_close(iqf.icdf(alpha), isqf.icdf(alpha))
    # linear between knots: q(0.3) = 0.5, q(0.7) = 2.5
    torch.testing.assert_close(iqf.icdf(alpha)[1:3, 0], torch.tensor([0.5, 2.5], dtype=F64))
    assert iqf.num_pieces == 1


def test_domain_map_positive_increments_and_gluonts_abs_option():
    raw = torch.randn(10, 2 * 4 * 3 + 5 + 2, dtype=F64) * 10
    for positive in ("softplus", "abs"):
        p = isqf_domain_map(raw, 5, 3, positive=positive)
        assert (p.knot_values.diff(dim=-1) >= 1e-4 - 1e-12).all()
        assert (p.beta_left >= 1e-4).all() and (p.beta_right >= 1e-4).all()
        torch.testing.assert_close(p.piece_widths.sum(-1), torch.ones(10, 4, dtype=F64))
        assert (p.piece_widths > 0).all() and (p.piece_heights > 0).all()
    p = isqf_domain_map(raw, 5, 3, positive="abs")
    knots = raw[:, -5:]
    expected = torch.cat([knots[:, :1], knots[:, :1] + (knots[:, 1:].abs() + 1e-4).cumsum(-1)], -1)
    torch.testing.assert_close(p.knot_values, expected)
    ones = torch.ones(2, 3, dtype=F64)
    torch.testing.assert_close(spline_shares(ones), torch.full((2, 3), 1 / 3, dtype=F64))
    with pytest.raises(ValueError, match="outputs"):
        isqf_domain_map(raw[:, 1:], 5, 3)
    with pytest.raises(ValueError, match="positive"):
        isqf_domain_map(raw, 5, 3, positive="relu")


# -- extreme parameters: nothing overflows, gradients stay finite ---------------------------
@given(
    log_beta=st.tuples(st.floats(-6, 6), st.floats(-6, 6)),
    log_scale=st.floats(-6, 9),
    offset=st.floats(-1e9, 1e9),
    z_sd=st.floats(0.0, 50.0),
    logit_spread=st.floats(0.0, 30.0),
    seed=st.integers(0, 2**16),
    dtype=st.sampled_from([torch.float32, torch.float64]),
)
def test_extreme_parameters_are_finite(
    log_beta, log_scale, offset, z_sd, logit_spread, seed, dtype
):
    g = torch.Generator().manual_seed(seed)
    k, pieces, batch = 5, 5, 16
    scale = 10.0**log_scale
    inc = torch.rand(batch, k - 1, generator=g, dtype=F64) * scale + 1e-4 * scale
    values = (offset + torch.cat([torch.zeros(batch, 1, dtype=F64), inc.cumsum(-1)], -1)).to(dtype)
    values.requires_grad_(True)
    logits = logit_spread * torch.randn(2, batch, k - 1, pieces, generator=g, dtype=F64)
    widths, heights = (spline_shares(x).to(dtype).requires_grad_(True) for x in logits)
    betas = [
        torch.full((batch,), 10.0**b / scale, dtype=dtype, requires_grad=True) for b in log_beta
    ]
    d = ISQF(torch.tensor([0.1, 0.3, 0.5, 0.7, 0.9]), values, widths, heights, *betas)
    z = values[:, 2].detach() + z_sd * scale * torch.randn(batch, generator=g, dtype=F64).to(dtype)
    loss = d.crps(z)
    assert torch.isfinite(loss).all() and (loss >= -1e-6 * scale * (1 + abs(offset))).all()
    grads = torch.autograd.grad(loss.sum(), [values, widths, heights, *betas])
    assert all(torch.isfinite(gr).all() for gr in grads)
    cdf = d.cdf(z)
    assert ((cdf >= 0) & (cdf <= 1)).all()
    s = d.sample((64,))
    assert torch.isfinite(s).all()
    np.testing.assert_array_equal(
        d.icdf(torch.tensor([0.0, 1.0]).reshape(2, 1)).isinf().numpy(), True
    )
