"""Registry-driven conformance suite: every family in ``tests/examples.py`` obeys one contract."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from qfcast.distributions import _piecewise as pw
from qfcast.distributions import crps

from .examples import BAD_EXAMPLES, EXAMPLES, Example

F64 = torch.float64
IDS = [e.name for e in EXAMPLES]
# no level sits on a knot of any example: there the density jumps and derivatives are one-sided
LEVELS = torch.tensor(
    [1e-6, 0.01, 0.07, 0.2, 0.33, 0.47, 0.61, 0.8, 0.93, 0.99, 1 - 1e-6], dtype=F64
)


def _levels_for(d, levels=LEVELS):
    return levels.reshape(-1, *([1] * len(d.batch_shape)))


@pytest.fixture(params=EXAMPLES, ids=IDS)
def example(request) -> Example:
    return request.param


def test_shapes(example):
    d = example.make()
    b = d.batch_shape
    assert d.event_shape == torch.Size()
    assert d.sample().shape == b
    assert d.rsample((4, 2)).shape == torch.Size((4, 2, *b))
    assert d.mean.shape == b
    alpha = _levels_for(d)
    assert d.icdf(alpha).shape == torch.Size((len(LEVELS), *b))
    assert d.icdf(torch.tensor(0.5, dtype=F64)).shape == b
    y = d.sample((5,))
    for fn in (d.cdf, d.log_prob, lambda v: crps(d, v)):
        assert fn(y).shape == torch.Size((5, *b))
    e = d.expand(torch.Size((2, *b)))
    assert type(e) is type(d)
    assert e.batch_shape == torch.Size((2, *b))
    torch.testing.assert_close(e.icdf(_levels_for(e))[:, 1], d.icdf(alpha))
    torch.testing.assert_close(crps(e, y[:2]), crps(d, y[:2]))


def test_icdf_monotone_and_cdf_roundtrip(example):
    d = example.make()
    alpha = _levels_for(d)
    q = d.icdf(alpha)
    assert torch.isfinite(q).all()
    assert (q.diff(dim=0) > 0).all(), "quantiles must strictly increase with the level"
    torch.testing.assert_close(d.cdf(q), alpha.expand_as(q), atol=1e-9, rtol=1e-7)


def test_icdf_of_cdf_roundtrip(example):
    d = example.make()
    lo, hi = d.icdf(torch.tensor(0.002, dtype=F64)), d.icdf(torch.tensor(0.998, dtype=F64))
    u = torch.linspace(0, 1, 9, dtype=F64).reshape(-1, *([1] * len(d.batch_shape)))
    y = lo + u * (hi - lo)
    torch.testing.assert_close(d.icdf(d.cdf(y)), y, atol=1e-8, rtol=1e-7)


def test_tails_and_level_validation(example):
    d = example.make()
    ends = d.icdf(torch.tensor([0.0, 1.0], dtype=F64).reshape(2, *([1] * len(d.batch_shape))))
    if example.tailed:
        assert (ends[0] == -torch.inf).all() and (ends[1] == torch.inf).all()
    else:
        assert torch.isfinite(ends).all()
    for bad in (-0.1, 1.1, float("nan")):
        with pytest.raises(ValueError, match=r"levels|value"):
            d.icdf(torch.tensor(bad, dtype=F64))


def test_samples_finite_and_reparametrised(example):
    torch.manual_seed(0)
    d = example.make()
    s = d.rsample((20_000,))
    assert torch.isfinite(s).all()
    params = [p for p in _leaf_params(d)]
    for p in params:
        p.requires_grad_(True)
    d2 = _rebuild(example, params)
    g = torch.autograd.grad(d2.rsample((64,)).sum(), params, allow_unused=True)
    assert any(x is not None and torch.isfinite(x).all() and x.abs().sum() > 0 for x in g)


def test_density_is_derivative_of_cdf(example):
    if not example.has_density:
        pytest.skip("no density")
    d = example.make()
    alpha = _levels_for(d, LEVELS[1:-1])
    y = d.icdf(alpha).detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(d.cdf(y).sum(), y)
    torch.testing.assert_close(grad, d.log_prob(y).exp(), rtol=1e-6, atol=1e-10)


def test_icdf_derivative_is_inverse_density(example):
    d = example.make()
    alpha = _levels_for(d, LEVELS[1:-1]).expand(-1, *d.batch_shape).clone().requires_grad_(True)
    q = d.icdf(alpha)
    (grad,) = torch.autograd.grad(q.sum(), alpha)
    torch.testing.assert_close(grad, 1 / d.log_prob(q.detach()).exp(), rtol=1e-6, atol=1e-10)


# Gauss–Legendre nodes in u, with α = lo + (hi − lo)·Φ(u) on every segment between kinks:
# the substitution sends the tails' endpoint singularities to ±∞ where φ(u) kills them, and
# within a segment the integrand is analytic, so 6 × 40 nodes reach ~1e-12.
_GL_X, _GL_W = np.polynomial.legendre.leggauss(40)
_U_EDGES = [-30.0, -8.0, -3.0, 0.0, 3.0, 8.0, 30.0]
_U = np.concatenate([(b - a) / 2 * _GL_X + (a + b) / 2 for a, b in itertools.pairwise(_U_EDGES)])
_W = np.concatenate([(b - a) / 2 * _GL_W for a, b in itertools.pairwise(_U_EDGES)])
_U_T = torch.tensor(_U, dtype=F64)
_PHI = 0.5 * torch.erfc(-_U_T / 2**0.5)  # Φ(u), accurate deep in the lower tail
_WEIGHT = torch.tensor(_W, dtype=F64) * torch.exp(-0.5 * _U_T**2) / (2 * torch.pi) ** 0.5


def _kinks(d):
    """Levels where the quantile function has a kink: knots of piecewise families."""
    base = getattr(d, "base_dist", d)
    if not hasattr(base, "_spline"):
        return torch.empty((0, *d.batch_shape), dtype=F64)
    return base._spline.x.T.reshape(-1, *d.batch_shape)


def _integrate_levels(fn, d, lo=None, hi=None):
    """∫ fn(α) dα over [lo, hi] (default [0, 1]) for every batch element, split at kinks."""
    ones = torch.ones(d.batch_shape, dtype=F64)
    lo = ones * 0 if lo is None else lo
    hi = ones if hi is None else hi
    inner = _kinks(d).clamp(min=lo, max=hi)
    edges = torch.sort(torch.cat([lo[None], inner, hi[None]]), dim=0).values
    shape = (-1,) + (1,) * len(d.batch_shape)
    total = torch.zeros(d.batch_shape, dtype=F64)
    with torch.no_grad():
        for a, b in itertools.pairwise(edges):
            alpha = (a + (b - a) * _PHI.reshape(shape)).clamp(1e-300, 1 - 1e-16)
            total += (b - a) * (fn(alpha) * _WEIGHT.reshape(shape)).sum(0)
    return total.reshape(-1).numpy()


def test_mean_is_integral_of_quantile_function(example):
    d = example.make()
    expected = _integrate_levels(d.icdf, d)
    np.testing.assert_allclose(d.mean.reshape(-1).numpy(), expected, rtol=1e-9, atol=1e-9)


def test_crps_is_integral_of_pinball(example):
    d = example.make()
    shape = (3,) + (1,) * len(d.batch_shape)
    y = d.icdf(torch.tensor([0.003, 0.4, 0.97], dtype=F64).reshape(shape))
    y = y + torch.tensor([-0.5, 0.0, 0.7], dtype=F64).reshape(shape)
    for j in range(3):
        z = y[j]
        t = d.cdf(z)  # 2ρ_α(z − q(α)) has its kink at α = F(z): integrate either side of it
        below = _integrate_levels(lambda a, z=z: 2 * (z - d.icdf(a)) * a, d, hi=t)
        above = _integrate_levels(lambda a, z=z: 2 * (z - d.icdf(a)) * (a - 1), d, lo=t)
        got = crps(d, z).reshape(-1).numpy()
        np.testing.assert_allclose(got, below + above, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name,make", BAD_EXAMPLES, ids=[n for n, _ in BAD_EXAMPLES])
def test_bad_parameters_raise(name, make):
    with pytest.raises(ValueError):
        make()


# --- helpers -----------------------------------------------------------------------------
def _leaf_params(d):
    base = getattr(d, "base_dist", d)
    return [getattr(base, n).detach().clone() for n in base.arg_constraints]


def _rebuild(example, params):
    d = example.make()
    base = getattr(d, "base_dist", d)
    for n, p in zip(base.arg_constraints, params, strict=True):
        setattr(base, n, p)
    if hasattr(base, "_spline"):
        base.__dict__.pop("_spline", None)
    return d


def test_chunked_queries_equal_direct(example, monkeypatch):
    """Large batches are evaluated in chunks of rows: values and gradients must not change."""

    def queries():
        d = example.make()
        params = _leaf_params(d)
        for p in params:
            p.requires_grad_(True)
        d = _rebuild(example, params)
        alpha = _levels_for(d, LEVELS[1:-1])
        inside = torch.tensor([0.2, 0.35, 0.55, 0.65, 0.8], dtype=F64)
        y = d.icdf(_levels_for(d, inside)).detach()
        out = [d.icdf(alpha), d.cdf(y), d.log_prob(y), crps(d, y)]
        grads = torch.autograd.grad(sum(o.sum() for o in out), params, allow_unused=True)
        return out, grads

    direct, g_direct = queries()
    calls = _count_chunked_calls(monkeypatch, rows_per_chunk=1)
    chunked, g_chunked = queries()
    piecewise = hasattr(getattr(example.make(), "base_dist", example.make()), "_spline")
    if piecewise and example.make().batch_shape.numel() > 1:
        assert calls, "the queries did not go through the chunked path"
    for a, b in zip(chunked, direct, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-13, atol=1e-13)
    for a, b in zip(g_chunked, g_direct, strict=True):
        if b is not None:
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def _count_chunked_calls(monkeypatch, rows_per_chunk: int) -> list:
    """Make ``_piecewise.chunked`` split into ``rows_per_chunk`` rows; record each split."""
    calls: list = []
    in_chunks = pw._in_chunks

    def counting(*args):
        calls.append(args[-1])
        return in_chunks(*args)

    monkeypatch.setattr(pw, "MIN_CHUNK_ROWS", 1)
    monkeypatch.setattr(pw, "CHUNK_ELEMENTS", 0)
    monkeypatch.setattr(pw, "DIRECT_ELEMENTS", 0)
    monkeypatch.setattr(pw, "_in_chunks", counting)
    return calls
