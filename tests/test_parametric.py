"""Gaussian and Student-t: cdf/icdf against scipy, CRPS against scoringrules and quadrature,
validation, gradients (gradcheck in float64) and extreme parameters."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import scipy.stats
import scoringrules as sr
import torch
from hypothesis import given
from hypothesis import strategies as st

from qfcast.distributions.parametric import Gaussian, StudentT

F64 = torch.float64


def _t(x: object) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x), dtype=F64)


def _log_uniform(rng: np.random.Generator, lo: float, hi: float, n: int) -> np.ndarray:
    return np.exp(rng.uniform(np.log(lo), np.log(hi), n))


# ---------------------------------------------------------------- CRPS against references


def test_gaussian_crps_matches_scoringrules() -> None:
    rng = np.random.default_rng(0)
    loc, scale = rng.normal(size=500) * 10, _log_uniform(rng, 1e-3, 1e3, 500)
    y = loc + scale * rng.standard_t(2, size=500)
    ours = Gaussian(_t(loc), _t(scale)).crps(_t(y)).numpy()
    np.testing.assert_allclose(ours, sr.crps_normal(y, loc, scale), rtol=1e-12, atol=0)


def test_student_t_crps_matches_scoringrules() -> None:
    rng = np.random.default_rng(1)
    df = _log_uniform(rng, 0.55, 1e4, 1000)
    df = df[np.abs(df - 1) > 1e-2]  # scoringrules cancels catastrophically at df → 1
    loc, scale = rng.normal(size=df.size) * 10, _log_uniform(rng, 1e-3, 1e3, df.size)
    y = loc + scale * rng.standard_t(3, size=df.size) * 3
    ours = StudentT(_t(df), _t(loc), _t(scale)).crps(_t(y)).numpy()
    # argument order in scoringrules 0.10: crps_t(obs, df, location, scale)
    np.testing.assert_allclose(ours, sr.crps_t(y, df, loc, scale), rtol=1e-9, atol=0)


def _crps_by_quadrature(df: float, loc: float, scale: float, y: float) -> float:
    """∫(F(x) − 1{x ≥ y})² dx by mpmath quadrature, F from mpmath's incomplete beta."""
    df, loc, scale, y = (mpmath.mpf(v) for v in (df, loc, scale, y))

    def cdf(x: mpmath.mpf) -> mpmath.mpf:
        t = (x - loc) / scale
        tail = mpmath.betainc(df / 2, 0.5, 0, df / (df + t * t), regularized=True) / 2
        return tail if t < 0 else 1 - tail

    knots = [loc - 1e3 * scale, loc - scale, loc, loc + scale, loc + 1e3 * scale]
    left = [-mpmath.inf, *(k for k in knots if k < y), y]
    right = [y, *(k for k in knots if k > y), mpmath.inf]
    return float(
        mpmath.quad(lambda x: cdf(x) ** 2, left) + mpmath.quad(lambda x: (1 - cdf(x)) ** 2, right)
    )


@pytest.mark.parametrize("df", [0.75, 1.0, 1.0 + 3e-5, 1.0 - 7e-5, 2.5])
def test_student_t_crps_matches_quadrature_including_cauchy(df: float) -> None:
    """CRPS = ∫(F − 1{x ≥ y})² dx is finite for df > ½; at df = 1 the closed form has a
    removable singularity (interpolated within 1e-4 of 1). mpmath quadrature at 20 digits is
    the reference; 1e-10 leaves room for the ~1e-12 interpolation error."""
    with mpmath.workdps(20):
        for y in [-3.0, 0.2, 7.0]:
            ours = float(StudentT(_t(df), _t(0.5), _t(2.0)).crps(_t(y)))
            assert ours == pytest.approx(_crps_by_quadrature(df, 0.5, 2.0, y), rel=1e-10)


def test_student_t_crps_infinite_for_df_at_most_half() -> None:
    out = StudentT(_t([0.3, 0.5, 0.500001])).crps(_t(1.0))
    assert torch.isinf(out[:2]).all() and out[:2].gt(0).all()
    assert torch.isfinite(out[2]) and out[2] > 100  # blows up as df → ½


def test_student_t_crps_large_df_approaches_gaussian() -> None:
    loc, scale, y = _t([0.0, 1.0, -2.0]), _t([1.0, 0.01, 30.0]), _t([0.3, 1.05, 40.0])
    gauss = Gaussian(loc, scale).crps(y)
    for df, tol in [(1e7, 1e-6), (1e9, 1e-8)]:  # the gap is O(1/df)
        t = StudentT(_t(df).expand(3), loc, scale).crps(y)
        torch.testing.assert_close(t, gauss, rtol=tol, atol=0)


# ---------------------------------------------------------------- cdf / icdf against scipy


def test_student_t_cdf_matches_scipy() -> None:
    rng = np.random.default_rng(2)
    df = _log_uniform(rng, 0.5, 1e4, 4000)
    z = rng.choice([-1.0, 1.0], 4000) * _log_uniform(rng, 1e-8, 1e6, 4000)
    ours = StudentT(_t(df)).cdf(_t(z)).numpy()
    np.testing.assert_allclose(ours, scipy.stats.t.cdf(z, df), rtol=0, atol=1e-13)
    lower = scipy.stats.t.cdf(-np.abs(z), df)  # small tail probabilities: relative accuracy
    keep = lower > 1e-300
    ours_lower = StudentT(_t(df)).cdf(_t(-np.abs(z))).numpy()
    np.testing.assert_allclose(ours_lower[keep], lower[keep], rtol=1e-10)


@pytest.mark.parametrize("df", [3e4, 1e6, 1e7, 1.0001e7, 1e9, 1e12])
def test_student_t_cdf_large_df(df: float) -> None:
    """Large df switches (partly) to the normal cdf with three 1/df corrections, whose error
    grows like (z⁴/df)⁴: beyond |z| = 20 (probabilities < 1e-88) it exceeds 1e-11."""
    z = _t(-np.geomspace(1e-3, 20, 40))
    ours = StudentT(_t(df)).cdf(z).numpy()
    np.testing.assert_allclose(ours, scipy.stats.t.cdf(z.numpy(), df), rtol=5e-11, atol=0)


def test_student_t_icdf_matches_scipy() -> None:
    rng = np.random.default_rng(3)
    df = _log_uniform(rng, 0.5, 1e4, 4000)
    alpha = _log_uniform(rng, 1e-10, 0.5, 4000)
    alpha = np.where(rng.uniform(size=4000) < 0.5, alpha, 1 - alpha)
    ours = StudentT(_t(df), _t(1.0), _t(3.0)).icdf(_t(alpha)).numpy()
    np.testing.assert_allclose(ours, 1 + 3 * scipy.stats.t.ppf(alpha, df), rtol=1e-9, atol=1e-12)


def test_icdf_round_trip_and_endpoints() -> None:
    alpha = _t([0.0, 1e-300, 1e-12, 0.3, 0.5, 0.9, 1 - 1e-12, 1.0])
    for dist in [Gaussian(_t(2.0), _t(0.5)), StudentT(_t(3.0), _t(2.0), _t(0.5))]:
        q = dist.icdf(alpha)
        assert q[0] == -math.inf and q[-1] == math.inf and q[4] == 2.0
        torch.testing.assert_close(dist.cdf(q[1:-1]), alpha[1:-1], rtol=1e-10, atol=1e-15)


def test_student_t_icdf_beyond_float_range_is_infinite() -> None:
    q = StudentT(_t(0.5)).icdf(_t([1e-200, 0.5 - 2**-54, 1 - 1e-16]))
    assert q[0] == -math.inf  # the true quantile is about -1e399
    assert q[1] < 0 and q[1] > -1e-15 and torch.isfinite(q[2])


def test_gaussian_cdf_icdf_match_scipy_in_tails() -> None:
    y = _t(np.linspace(-37, 8, 91))  # erfc's argument is rounded: relative error ~ y² eps
    np.testing.assert_allclose(
        Gaussian(_t(0.0), _t(1.0)).cdf(y).numpy(), scipy.stats.norm.cdf(y.numpy()), rtol=5e-13
    )
    alpha = _t([1e-300, 1e-10, 0.25, 0.5, 0.75, 1 - 1e-10])
    np.testing.assert_allclose(
        Gaussian(_t(1.0), _t(2.0)).icdf(alpha).numpy(),
        scipy.stats.norm.ppf(alpha.numpy(), 1.0, 2.0),
        rtol=1e-12,
    )


# ---------------------------------------------------------------- validation and torch contract


@pytest.mark.parametrize("family", [Gaussian, StudentT])
@pytest.mark.parametrize("level", [-0.1, 1.1, float("nan")])
def test_icdf_rejects_invalid_levels(family: type, level: float) -> None:
    dist = family(_t(3.0), _t(1.0), validate_args=True)
    with pytest.raises(ValueError, match="quantile levels"):
        dist.icdf(_t([0.5, level]))


@pytest.mark.parametrize("family", [Gaussian, StudentT])
def test_float32_in_float32_out(family: type) -> None:
    first, second = torch.tensor([3.0, 0.7]), torch.tensor([1.0, 0.2])
    dist = family(first, second) if family is StudentT else family(second, first)
    y = torch.tensor([0.5, 2.0])
    for out in [dist.cdf(y), dist.icdf(torch.tensor(0.3)), dist.crps(y), dist.rsample((2,))]:
        assert out.dtype == torch.float32 and torch.isfinite(out).all()


def test_student_t_cdf_derivative_is_density() -> None:
    dist = StudentT(_t([0.7, 4.0, 300.0]), _t(1.0), _t(2.0))
    y = _t([-50.0, 1.3, 4.0]).requires_grad_()
    (grad,) = torch.autograd.grad(dist.cdf(y).sum(), y)
    torch.testing.assert_close(grad, dist.log_prob(y).exp(), rtol=1e-12, atol=0)


def test_student_t_rsample_finite_with_gradients() -> None:
    torch.manual_seed(0)
    df = torch.tensor([0.5, 0.5, 2.0], requires_grad=True)
    scale = torch.tensor([1e6, 1e-6, 1.0], requires_grad=True)
    x = StudentT(df, torch.zeros(3), scale).rsample((20000,))
    assert torch.isfinite(x).all()
    grads = torch.autograd.grad(x.clamp(-1e3, 1e3).mean(), [df, scale])
    assert all(torch.isfinite(g).all() for g in grads)


# ---------------------------------------------------------------- gradients


def test_gradcheck_student_t_cdf_and_icdf() -> None:
    df = _t([0.7, 3.0, 40.0]).requires_grad_()
    loc = _t([0.0, 1.0, -2.0]).requires_grad_()
    scale = _t([1.0, 0.5, 3.0]).requires_grad_()
    y = _t([-2.0, 1.4, 0.3]).requires_grad_()
    alpha = _t([0.01, 0.6, 0.97]).requires_grad_()
    torch.autograd.gradcheck(lambda v, m, s: StudentT(df.detach(), m, s).cdf(v), (y, loc, scale))
    torch.autograd.gradgradcheck(lambda v: StudentT(df.detach(), loc, scale).cdf(v), (y,))
    torch.autograd.gradcheck(
        lambda a, m, s: StudentT(df.detach(), m, s).icdf(a), (alpha, loc, scale)
    )
    # df enters through a float64 central difference (relative step 6e-6): error ~1e-10
    torch.autograd.gradcheck(lambda d: StudentT(d, loc, scale).cdf(y), (df,), atol=1e-5)
    torch.autograd.gradcheck(lambda d: StudentT(d, loc, scale).icdf(alpha), (df,), atol=1e-5)


def test_gradcheck_crps() -> None:
    df = _t([0.7, 1.00002, 3.0, 1e4]).requires_grad_()
    loc = _t([0.0, 1.0, -2.0, 0.5]).requires_grad_()
    scale = _t([1.0, 0.5, 3.0, 2.0]).requires_grad_()
    y = _t([-2.0, 1.4, 0.3, 9.0]).requires_grad_()
    torch.autograd.gradcheck(lambda v, m, s: Gaussian(m, s).crps(v), (y, loc, scale))
    torch.autograd.gradcheck(lambda v, m, s: StudentT(df.detach(), m, s).crps(v), (y, loc, scale))
    torch.autograd.gradcheck(lambda d: StudentT(d, loc, scale).crps(y), (df,), atol=1e-5)


def test_crps_derivative_in_y_is_two_cdf_minus_one() -> None:
    """An independent identity: ∂CRPS/∂y = 2F(y) − 1."""
    dist = StudentT(_t([0.6, 1.0, 5.0, 1e6]), _t(0.0), _t(2.0))
    y = _t([3.0, -1.0, 0.2, -5.0]).requires_grad_()
    (grad,) = torch.autograd.grad(dist.crps(y).sum(), y)
    torch.testing.assert_close(grad, 2 * dist.cdf(y.detach()) - 1, rtol=1e-9, atol=1e-12)


@given(
    df=st.floats(math.log(0.5), math.log(1e6)).map(math.exp) | st.sampled_from([0.5, 1.0, 1.00001]),
    log_scale=st.floats(math.log(1e-6), math.log(1e6)),
    loc=st.floats(-1e9, 1e9),
    y=st.floats(-1e9, 1e9),
    alpha=st.floats(1e-12, 1 - 1e-12),
)
def test_crps_finite_nonnegative_with_finite_gradients(
    df: float, log_scale: float, loc: float, y: float, alpha: float
) -> None:
    params = [_t(v).requires_grad_() for v in (df, math.exp(log_scale), loc, y, alpha)]
    d, s, m, v, a = params
    t_crps = StudentT(d, m, s).crps(v)
    if df <= 0.5:  # the t CRPS is infinite for df <= 1/2
        assert t_crps == math.inf
        t_crps = None
    outputs = [Gaussian(m, s).crps(v), t_crps, Gaussian(m, s).icdf(a), StudentT(d, m, s).icdf(a)]
    for i, out in enumerate(outputs):
        if out is None:
            continue
        assert torch.isfinite(out) and (i >= 2 or out >= 0)
        grads = torch.autograd.grad(out, params, allow_unused=True)
        assert all(g is None or torch.isfinite(g).all() for g in grads)
