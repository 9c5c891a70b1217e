"""MQF²: the PICNN potential, its explicit gradient map and Hessian, the energy and variogram
scores, and the :class:`MQF2` distribution (shapes, validation, scaling, likelihood, fitting)."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import scoringrules as sr
import torch
from torch import Tensor
from torch.autograd import gradcheck, gradgradcheck
from torch.func import functional_call

from qfcast.distributions.energy import (
    energy_score,
    energy_score_pairwise_reference,
    variogram_score,
    variogram_score_reference,
)
from qfcast.distributions.mqf2 import MQF2
from qfcast.distributions.picnn import PICNN

F64 = torch.float64


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def trained_looking(
    dim: int = 4,
    context_dim: int = 3,
    hidden: int = 8,
    layers: int = 2,
    quadratic: bool = False,
    noise: float = 1.0,
    seed: int = 0,
) -> PICNN:
    """A float64 PICNN whose parameters (context weights included) are perturbed by noise."""
    torch.manual_seed(seed)
    net = PICNN(dim, context_dim, hidden=hidden, layers=layers, quadratic=quadratic).double()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(noise * torch.randn_like(p))
    return net


CONFIGS = [(1, False), (2, False), (3, False), (2, True)]


def hessian_autograd(net: PICNN, x: Tensor, c: Tensor) -> Tensor:
    """∇²φ by one autograd pass per row of the autograd gradient map."""
    x = x.detach().requires_grad_(True)
    grad = net.gradient_autograd(x, c)
    rows = [
        torch.autograd.grad(grad[..., i].sum(), x, retain_graph=True)[0] for i in range(x.shape[-1])
    ]
    return torch.stack(rows, -2)


# -- PICNN: convexity, gradients, Hessian ------------------------------------------------------
@pytest.mark.parametrize(("layers", "quadratic"), CONFIGS)
def test_gradient_map_is_monotone(layers, quadratic):
    # Large perturbations make |∇φ| ~ 1e4, so ⟨∇φ(x) − ∇φ(y), x − y⟩ carries rounding of order
    # eps·(|∇φ(x)| + |∇φ(y)|)·|x − y|: the bound allows 1e-12 of that (≈ 5,000 ulps).
    net = trained_looking(layers=layers, quadratic=quadratic, noise=2.0)
    g = torch.Generator().manual_seed(1)
    c = 3 * torch.randn(2000, 3, generator=g, dtype=F64)
    x, y = 3 * torch.randn(2, 2000, 4, generator=g, dtype=F64)
    with torch.no_grad():
        gx, gy = net.gradient(x, c), net.gradient(y, c)
    gap = ((gx - gy) * (x - y)).sum(-1)
    rounding = 1e-12 * (gx.norm(dim=-1) + gy.norm(dim=-1)) * (x - y).norm(dim=-1)
    assert bool((gap >= -rounding).all())
    assert float(gap.median()) > 1e6 * float(rounding.median())  # the bound is not vacuous
    if quadratic:  # α-strong convexity: gap ≥ α‖x − y‖²
        alpha = torch.nn.functional.softplus(net.quad).detach()
        assert bool((gap >= alpha * (x - y).square().sum(-1) - rounding).all())


@pytest.mark.parametrize(("layers", "quadratic"), CONFIGS)
@pytest.mark.parametrize("noise", [0.5, 2.0])
def test_hessian_is_psd_and_explicit_matches_autograd(layers, quadratic, noise):
    # Moderate weights: min eigenvalue ≥ −1e-10 (absolute). Large weights give Hessians with
    # eigenvalues up to ~1e9, where eigvalsh's own error is eps·‖H‖ ≈ 1e-7: there the bound
    # is −1e-12·λ_max (relative), and the comparison is relative to max |H_ij| per point.
    net = trained_looking(layers=layers, quadratic=quadratic, noise=noise)
    g = torch.Generator().manual_seed(2)
    x = 2 * torch.randn(200, 4, generator=g, dtype=F64)
    c = torch.randn(200, 3, generator=g, dtype=F64)
    auto = hessian_autograd(net, x, c)
    with torch.no_grad():
        explicit = net.hessian(x, c)
    size = auto.abs().amax((-2, -1))
    assert bool(((explicit - auto).abs().amax((-2, -1)) <= 1e-11 * size).all())
    for h in (auto, explicit):
        eig = torch.linalg.eigvalsh(h)
        floor = -1e-10 if noise < 1 else -1e-12 * eig[..., -1]
        assert bool((eig[..., 0] >= floor).all())


@pytest.mark.parametrize(("layers", "quadratic"), CONFIGS)
def test_explicit_gradient_equals_autograd_values_and_parameter_gradients(layers, quadratic):
    net = trained_looking(layers=layers, quadratic=quadratic)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(6, 5, 4, generator=g, dtype=F64)  # samples × batch × dim
    c = torch.randn(5, 3, generator=g, dtype=F64, requires_grad=True)
    target = torch.randn(5, 4, generator=g, dtype=F64)

    def grads(fn):
        net.zero_grad()
        c.grad = None
        out = fn(x, c)
        loss = energy_score(out.movedim(0, -2), target).sum() + out.square().mean()
        loss.backward()
        return out.detach(), [p.grad.clone() for p in net.parameters()], c.grad.clone()

    v1, p1, c1 = grads(net.gradient)
    v2, p2, c2 = grads(net.gradient_autograd)
    torch.testing.assert_close(v1, v2, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(c1, c2, rtol=1e-10, atol=1e-12)
    for a, b in zip(p1, p2, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_gradcheck_and_gradgradcheck_of_the_explicit_map():
    net = trained_looking(dim=3, context_dim=2, hidden=4)
    g = torch.Generator().manual_seed(4)
    x = torch.randn(3, 3, generator=g, dtype=F64, requires_grad=True)
    c = torch.randn(3, 2, generator=g, dtype=F64, requires_grad=True)
    names = ["z_weights.0", "gate_x.1.weight", "first"]
    params = [dict(net.named_parameters())[n].detach().clone().requires_grad_() for n in names]

    def f(x, c, *ps):
        return functional_call(net, dict(zip(names, ps, strict=True)), (x, c), {}, strict=False)

    def grad_map(x, c, *ps):
        params = {f"net.{n}": p for n, p in zip(names, ps, strict=True)}
        return functional_call(_GradientOf(net), params, (x, c), {}, strict=False)

    assert gradcheck(f, (x, c, *params))
    assert gradcheck(grad_map, (x, c, *params))
    assert gradgradcheck(grad_map, (x, c, *params))


@pytest.mark.parametrize(("layers", "quadratic"), CONFIGS)
def test_grouped_map_equals_the_per_point_map_values_and_all_gradients(layers, quadratic):
    net = trained_looking(layers=layers, quadratic=quadratic, noise=0.5)
    g = torch.Generator().manual_seed(8)
    x = torch.randn(2, 5, 7, 4, generator=g, dtype=F64)  # batch 2 × 5, 7 points per context
    c = torch.randn(2, 5, 3, generator=g, dtype=F64, requires_grad=True)
    weights = torch.randn(2, 5, 7, 4, generator=g, dtype=F64)

    def grads(fn):
        net.zero_grad()
        c.grad = None
        xs = x.clone().requires_grad_(True)
        out = fn(xs)
        (out * weights).sum().backward()
        return out.detach(), xs.grad, c.grad.clone(), [p.grad.clone() for p in net.parameters()]

    pointwise = grads(lambda xs: net._backward(net._pass(xs, c.unsqueeze(-2)), xs)[0])
    grouped = grads(lambda xs: net.gradient_grouped(xs, c))
    dispatched = grads(lambda xs: net.gradient(xs.movedim(-2, 0), c).movedim(0, -2))
    for other in (grouped, dispatched):
        torch.testing.assert_close(other[0], pointwise[0], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(other[1], pointwise[1], rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(other[2], pointwise[2], rtol=1e-10, atol=1e-12)
        for a, b in zip(other[3], pointwise[3], strict=True):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_gradcheck_and_gradgradcheck_of_the_grouped_map():
    net = trained_looking(dim=3, context_dim=2, hidden=4, quadratic=True)
    g = torch.Generator().manual_seed(9)
    x = torch.randn(2, 4, 3, generator=g, dtype=F64, requires_grad=True)
    c = torch.randn(2, 2, generator=g, dtype=F64, requires_grad=True)
    names = ["z_weights.0", "gate_z.0.weight", "gate_x.0.bias", "context_bias.0.weight", "quad"]
    params = [dict(net.named_parameters())[n].detach().clone().requires_grad_() for n in names]

    def grad_map(x, c, *ps):
        params = {f"net.{n}": p for n, p in zip(names, ps, strict=True)}
        return functional_call(_GroupedGradientOf(net), params, (x, c), {}, strict=False)

    assert gradcheck(grad_map, (x, c, *params))
    assert gradgradcheck(grad_map, (x, c, *params))


def test_grouped_map_checks_shapes():
    net = trained_looking(dim=3, context_dim=2)
    with pytest.raises(ValueError, match="gradient_grouped"):
        net.gradient_grouped(torch.zeros(4, 5, 3, dtype=F64), torch.zeros(3, 2, dtype=F64))
    with pytest.raises(ValueError, match="gradient_grouped"):
        net.gradient_grouped(torch.zeros(4, 5, 2, dtype=F64), torch.zeros(4, 2, dtype=F64))


class _GroupedGradientOf(torch.nn.Module):
    def __init__(self, net: PICNN) -> None:
        super().__init__()
        self.net = net

    def forward(self, x, c):
        return self.net.gradient_grouped(x, c)


class _GradientOf(torch.nn.Module):
    """Wraps a PICNN so that ``forward`` is its explicit gradient map (for functional_call)."""

    def __init__(self, net: PICNN) -> None:
        super().__init__()
        self.net = net

    def forward(self, x, c):
        return self.net.gradient(x, c)


def test_calibrated_initialisation_is_standard_and_context_free():
    torch.manual_seed(5)
    net = PICNN(6, 3, hidden=12).double()
    x = torch.randn(20000, 6, dtype=F64)
    with torch.no_grad():
        out = net.gradient(x, torch.randn(3, dtype=F64))
        again = net.gradient(x, torch.randn(3, dtype=F64))
    assert float(out.mean(0).abs().max()) < 0.05  # ±4 standard errors of 20,000 draws
    assert abs(float(out.var(0).mean()) - 1) < 0.05
    assert torch.equal(out, again)


def test_state_dict_round_trip_is_bit_identical():
    net = trained_looking(quadratic=True, noise=0.5)
    buffer = io.BytesIO()
    torch.save(net.state_dict(), buffer)
    buffer.seek(0)
    torch.manual_seed(123)  # a fresh network with other weights (and another calibration)
    other = PICNN(4, 3, hidden=8, layers=2, quadratic=True).double()
    other.load_state_dict(torch.load(buffer))
    c = torch.randn(5, 3, dtype=F64)
    u = torch.rand(7, 5, 4, dtype=F64) * 0.98 + 0.01
    assert torch.equal(MQF2(net, c).icdf(u), MQF2(other, c).icdf(u))
    torch.manual_seed(9)
    a = MQF2(net, c).sample((11,))
    torch.manual_seed(9)
    b = MQF2(other, c).sample((11,))
    assert torch.equal(a, b)


# -- energy and variogram scores ---------------------------------------------------------------
@pytest.mark.parametrize("estimator", ["fair", "nrg"])
def test_energy_score_matches_reference_and_scoringrules(estimator):
    g = torch.Generator().manual_seed(6)
    x = torch.randn(3, 2, 9, 5, generator=g, dtype=F64)
    y = torch.randn(3, 2, 5, generator=g, dtype=F64)
    fast = energy_score(x, y, estimator=estimator)
    slow = energy_score_pairwise_reference(x, y, estimator=estimator)
    ref = sr.es_ensemble(y.numpy(), x.numpy(), estimator=estimator)
    assert fast.shape == (3, 2)
    np.testing.assert_allclose(fast.numpy(), slow.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(fast.numpy(), ref, rtol=0, atol=1e-10)
    for beta in (1.3, 1.9):  # scoringrules has β = 1 only: the loop version is the reference
        torch.testing.assert_close(
            energy_score(x, y, beta, estimator),
            energy_score_pairwise_reference(x, y, beta, estimator),
            rtol=0,
            atol=1e-10,
        )


@pytest.mark.parametrize("beta", [1.0, 1.5])
def test_gram_pairwise_energy_equals_exact_values_and_gradients(beta):
    g = torch.Generator().manual_seed(10)
    x = (5 + torch.randn(3, 2, 9, 5, generator=g, dtype=F64)).requires_grad_(True)  # off-centre
    y = torch.randn(3, 2, 5, generator=g, dtype=F64)
    w = torch.rand(3, 2, generator=g, dtype=F64)
    values, grads = [], []
    for pairwise in ("exact", "gram"):
        out = energy_score(x, y, beta, pairwise=pairwise)
        (gx,) = torch.autograd.grad((out * w).sum(), x)
        values.append(out.detach())
        grads.append(gx)
    torch.testing.assert_close(values[1], values[0], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-10, atol=1e-12)
    slow = energy_score_pairwise_reference(x.detach(), y, beta)
    torch.testing.assert_close(values[1], slow, rtol=1e-12, atol=1e-12)
    small = x.detach()[0, 0, :4, :3].clone().requires_grad_(True)
    assert gradcheck(lambda s: energy_score(s, y[0, 0, :3], beta, pairwise="gram"), (small,))


def test_gram_pairwise_energy_ties_float32_and_second_order():
    x = torch.tensor([[0.0, 1.0], [0.0, 1.0], [2.0, 2.0]], requires_grad=True)
    energy_score(x, torch.tensor([0.0, 1.0]), pairwise="gram").backward()
    assert bool(torch.isfinite(x.grad).all())
    g = torch.Generator().manual_seed(12)
    big = 100 + torch.randn(64, 50, 24, generator=g)  # float32, far from the origin
    exact = energy_score(big.double(), torch.zeros(24, dtype=F64), pairwise="exact")
    gram = energy_score(big, torch.zeros(24), pairwise="gram").double()
    torch.testing.assert_close(gram, exact, rtol=1e-5, atol=0)
    x = torch.randn(4, 3, dtype=F64, requires_grad=True)
    y = torch.randn(3, dtype=F64)
    assert gradgradcheck(lambda s: energy_score(s, y, 1.5, pairwise="gram"), (x,))
    assert gradgradcheck(lambda s: energy_score(s, y, 1.0, pairwise="gram"), (x,))
    with pytest.raises(ValueError, match="pairwise"):
        energy_score(x, x[0], pairwise="cdist")


@pytest.mark.parametrize("estimator", ["nrg", "fair"])
@pytest.mark.parametrize("p", [0.5, 1.0, 2.0])
def test_variogram_score_matches_reference_and_scoringrules(estimator, p):
    g = torch.Generator().manual_seed(7)
    x = torch.randn(2, 6, 4, generator=g, dtype=F64)
    y = torch.randn(2, 4, generator=g, dtype=F64)
    for w in (None, torch.rand(4, 4, generator=g, dtype=F64)):
        fast = variogram_score(x, y, p, w, estimator)
        slow = variogram_score_reference(x, y, p, w, estimator)
        ref = sr.vs_ensemble(
            y.numpy(), x.numpy(), None if w is None else w.numpy(), p=p, estimator=estimator
        )
        np.testing.assert_allclose(fast.numpy(), slow.numpy(), rtol=0, atol=1e-10)
        np.testing.assert_allclose(fast.numpy(), ref, rtol=0, atol=1e-10)


def test_score_arguments_are_checked():
    x, y = torch.randn(5, 3), torch.randn(3)
    for beta in (0.5, 2.0):
        with pytest.raises(ValueError, match="beta"):
            energy_score(x, y, beta)
    with pytest.raises(ValueError, match="estimator"):
        energy_score(x, y, estimator="akr")
    with pytest.raises(ValueError, match="at least 2"):
        energy_score(x[:1], y)
    with pytest.raises(ValueError, match="shape"):
        energy_score(x, torch.randn(4))
    with pytest.raises(ValueError, match="positive"):
        variogram_score(x, y, p=0.0)


def test_score_gradients_are_finite_at_ties():
    x = torch.tensor([[0.0, 1.0], [0.0, 1.0], [2.0, 2.0]], requires_grad=True)
    (energy_score(x, torch.tensor([0.0, 1.0])) + variogram_score(x, x[0].detach())).backward()
    assert bool(torch.isfinite(x.grad).all())


def test_energy_score_prefers_the_true_distribution():
    # Y ~ N(0, Σ), ρ = 0.9 in 3-D, against the independent model with the right margins.
    # 4,000 paired observations: the mean score difference must exceed 4 standard errors of
    # the paired differences (a false pass has probability < 1e-4 if the claim were wrong).
    g = torch.Generator().manual_seed(8)
    cov = torch.full((3, 3), 0.9, dtype=F64) + 0.1 * torch.eye(3, dtype=F64)
    chol = torch.linalg.cholesky(cov)
    n, m = 4000, 40
    y = torch.randn(n, 3, generator=g, dtype=F64) @ chol.T
    true = torch.randn(n, m, 3, generator=g, dtype=F64) @ chol.T
    indep = torch.randn(n, m, 3, generator=g, dtype=F64)
    diff = energy_score(indep, y) - energy_score(true, y)
    assert float(diff.mean()) > 4 * float(diff.std() / math.sqrt(n))


# -- the MQF2 distribution ---------------------------------------------------------------------
def test_shapes_and_icdf_broadcasting():
    net = trained_looking(dim=5, context_dim=3, noise=0.3)
    c = torch.randn(4, 3, 3, dtype=F64)
    d = MQF2(net, c, loc=torch.rand(4, 3, dtype=F64), scale=2.0)
    assert d.batch_shape == (4, 3) and d.event_shape == (5,)
    assert d.rsample((7,)).shape == (7, 4, 3, 5)
    assert d.sample().shape == (4, 3, 5)
    u = torch.full((5,), 0.3, dtype=F64)
    one = d.icdf(u)
    assert one.shape == (4, 3, 5)
    many = d.icdf(torch.rand(7, 1, 1, 5, dtype=F64) * 0.9 + 0.05)
    assert many.shape == (7, 4, 3, 5)
    torch.testing.assert_close(d.icdf(u.expand(2, 4, 3, 5))[1], one, rtol=1e-13, atol=1e-13)
    assert d.energy_score(torch.randn(4, 3, 5, dtype=F64), num_samples=6).shape == (4, 3)
    assert d.energy_score(torch.randn(2, 4, 3, 5, dtype=F64), num_samples=6).shape == (2, 4, 3)
    e = d.expand((2, 4, 3))
    assert e.batch_shape == (2, 4, 3) and e.rsample((7,)).shape == (7, 2, 4, 3, 5)
    assert d.sample_mean(10).shape == (4, 3, 5)


def test_icdf_is_the_map_of_gaussian_quantiles_and_is_monotone():
    net = trained_looking(dim=3, context_dim=2, noise=1.0)
    c = torch.randn(2, dtype=F64)
    d = MQF2(net, c, loc=1.0, scale=3.0)
    g = torch.Generator().manual_seed(10)
    u, v = torch.rand(2, 500, 3, generator=g, dtype=F64).clamp(1e-6, 1 - 1e-6)
    with torch.no_grad():
        expected = 1.0 + 3.0 * net.gradient(torch.special.ndtri(u), c)
        qu, qv = d.icdf(u), d.icdf(v)
    torch.testing.assert_close(qu, expected, rtol=0, atol=0)
    zu, zv = torch.special.ndtri(u), torch.special.ndtri(v)
    assert float(((qu - qv) * (zu - zv)).sum(-1).min()) >= 0


def test_validation_errors():
    net = trained_looking(dim=3, context_dim=2, noise=0.0)
    d = MQF2(net, torch.zeros(4, 2, dtype=F64))
    for bad in (0.0, 1.0, 1.5, -0.1, math.nan):
        with pytest.raises(ValueError, match=r"open interval \(0, 1\)"):
            d.icdf(torch.tensor([0.5, bad, 0.5], dtype=F64))
    with pytest.raises(ValueError, match="levels must have shape"):
        d.icdf(torch.full((4,), 0.5, dtype=F64))
    with pytest.raises(ValueError, match="do not broadcast"):
        d.icdf(torch.full((5, 3), 0.5, dtype=F64))
    with pytest.raises(ValueError, match="do not broadcast"):
        net.gradient(torch.zeros(5, 3, dtype=F64), torch.zeros(4, 2, dtype=F64))
    with pytest.raises(ValueError, match="do not broadcast"):
        energy_score(torch.zeros(5, 6, 3), torch.zeros(4, 3))
    with pytest.raises(ValueError, match="context must have shape"):
        MQF2(net, torch.zeros(4, 5, dtype=F64))
    with pytest.raises(ValueError):
        MQF2(net, torch.zeros(4, 2, dtype=F64), scale=torch.tensor([1.0, -1.0, 1.0, 1.0]))
    with pytest.raises(ValueError):
        d.energy_score(torch.full((4, 3), math.nan, dtype=F64))
    with pytest.raises(ValueError, match="num_samples"):
        d.energy_score(torch.zeros(4, 3, dtype=F64), num_samples=1)
    with pytest.raises(ValueError, match="beta"):
        d.energy_score(torch.zeros(4, 3, dtype=F64), beta=2.0)
    with pytest.raises(NotImplementedError, match="sample_mean"):
        _ = d.mean
    with pytest.raises(NotImplementedError, match="quadratic=True"):
        d.log_prob(torch.zeros(4, 3, dtype=F64))
    with pytest.raises(TypeError):
        MQF2(torch.nn.Linear(2, 2), torch.zeros(2))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="layers"):
        PICNN(3, 2, layers=0)
    unchecked = MQF2(net, torch.zeros(4, 2, dtype=F64), validate_args=False)
    assert unchecked.icdf(torch.full((3,), 0.5, dtype=F64)).shape == (4, 3)


def test_energy_score_uses_scaled_units_exactly_and_carries_gradients():
    net = trained_looking(dim=3, context_dim=2, noise=0.5)
    c = torch.randn(5, 2, dtype=F64, requires_grad=True)
    loc, scale = torch.randn(5, dtype=F64), torch.rand(5, dtype=F64) + 0.5
    y = torch.randn(5, 3, dtype=F64)
    beta = 1.5
    torch.manual_seed(11)
    data_units = MQF2(net, c, loc=loc, scale=scale).energy_score(y, 20, beta)
    torch.manual_seed(11)
    scaled = MQF2(net, c).energy_score((y - loc[:, None]) / scale[:, None], 20, beta)
    torch.testing.assert_close(data_units, scaled * scale**beta, rtol=1e-12, atol=0)
    torch.manual_seed(11)  # independent route: the same draws, per-point map, exact pairs
    eps = torch.randn(5, 20, 3, dtype=F64)
    draws = loc[:, None, None] + scale[:, None, None] * net.gradient(eps, c[:, None])
    torch.testing.assert_close(data_units, energy_score(draws, y, beta), rtol=1e-12, atol=0)
    data_units.sum().backward()
    assert c.grad is not None and float(c.grad.abs().sum()) > 0
    assert all(p.grad is not None for p in net.parameters())


# -- likelihood --------------------------------------------------------------------------------
def test_log_prob_is_the_change_of_variables_at_mapped_points():
    net = trained_looking(dim=3, context_dim=2, quadratic=True, noise=0.5)
    c = torch.randn(2, dtype=F64)
    d = MQF2(net, c, loc=1.0, scale=2.0)
    x = 2 * torch.randn(50, 3, dtype=F64)
    y = 1.0 + 2.0 * net.gradient(x, c)
    expected = (
        -0.5 * x.square().sum(-1)
        - 1.5 * math.log(2 * math.pi)
        - torch.logdet(hessian_autograd(net, x, c))
        - 3 * math.log(2.0)
    )
    torch.testing.assert_close(d.log_prob(y), expected, rtol=1e-10, atol=1e-10)


def test_log_prob_integrates_to_one_in_1d():
    net = trained_looking(dim=1, context_dim=2, quadratic=True, noise=0.5)
    c = torch.randn(2, dtype=F64)
    d = MQF2(net, c, loc=-1.0, scale=0.5)
    lo, hi = d.icdf(torch.tensor([[1e-10], [1 - 1e-10]], dtype=F64)).squeeze(-1).tolist()
    grid = torch.linspace(lo, hi, 4001, dtype=F64)
    with torch.no_grad():
        dens = d.log_prob(grid[:, None]).exp()
    # mass outside: 2e-10; the trapezoid rule on a smooth density decaying at both ends
    # converges fast (measured total error 2.0e-10, i.e. the truncated tails)
    assert abs(float(torch.trapezoid(dens, grid)) - 1) < 1e-8


def test_log_prob_integrates_to_one_in_2d():
    net = trained_looking(dim=2, context_dim=3, hidden=6, quadratic=True, noise=0.5)
    c = torch.randn(3, dtype=F64)
    d = MQF2(net, c, loc=1.0, scale=2.0)
    # The map is a bijection, so the box around the image of the latent circle of radius 6.5
    # holds all but P(‖X‖ > 6.5) = exp(−6.5²/2) ≈ 7e-10 of the mass.
    t = torch.linspace(0, 2 * math.pi, 721, dtype=F64)
    with torch.no_grad():
        rim = 1.0 + 2.0 * net.gradient(6.5 * torch.stack([t.cos(), t.sin()], -1), c)
        lo, hi = rim.min(0).values, rim.max(0).values
        axes = [torch.linspace(float(lo[i]), float(hi[i]), 161, dtype=F64) for i in range(2)]
        grid = torch.stack(torch.meshgrid(*axes, indexing="ij"), -1)
        dens = d.log_prob(grid).exp()
    mass = torch.trapezoid(torch.trapezoid(dens, axes[1], dim=1), axes[0])
    # 160² trapezoid cells: measured error 9e-8 (8e-5 with 80², 2e-10 with 320²)
    assert abs(float(mass) - 1) < 1e-5


def test_log_prob_gradients_follow_the_implicit_function():
    net = trained_looking(dim=2, context_dim=2, hidden=4, quadratic=True, noise=0.5)
    y = torch.randn(3, 2, dtype=F64, requires_grad=True)
    c = torch.randn(3, 2, dtype=F64, requires_grad=True)
    assert gradcheck(lambda y, c: MQF2(net, c).log_prob(y), (y, c))
    lp = MQF2(net, c).log_prob(y).sum()
    lp.backward()
    assert all(torch.isfinite(p.grad).all() for p in net.parameters())


# -- fitting -----------------------------------------------------------------------------------
def test_tiny_fit_learns_the_correlation():
    # 3-D Gaussian, ρ = 0.8, means (1, 2, 3), unit variances; constant context. 300 Adam steps
    # on the energy score (128 observations, 16 draws each). At initialisation the map's
    # correlations are 0.15–0.36 (seeded); after fitting every pairwise correlation must
    # exceed 0.65, the means be within 0.25 and the standard deviations within 0.2 of the truth.
    torch.manual_seed(0)
    cov = torch.full((3, 3), 0.8) + 0.2 * torch.eye(3)
    chol = torch.linalg.cholesky(cov)
    mean = torch.tensor([1.0, 2.0, 3.0])
    net = PICNN(3, 1, hidden=16, layers=2)
    ctx = torch.ones(1)
    off = ~torch.eye(3, dtype=torch.bool)

    def moments():
        with torch.no_grad():
            s = MQF2(net, ctx).sample((4000,))
        return torch.corrcoef(s.T)[off], s.mean(0), s.std(0)

    assert float(moments()[0].max()) < 0.45
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(300):
        y = torch.randn(128, 3) @ chol.T + mean
        loss = MQF2(net, ctx.expand(128, 1)).energy_score(y, num_samples=16).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    corr, m, s = moments()
    assert float(corr.min()) > 0.65
    assert float((m - mean).abs().max()) < 0.25
    assert float((s - 1).abs().max()) < 0.2
