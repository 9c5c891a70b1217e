"""Conformance suite for :mod:`qfcast.heads`, driven by the registry: a new head is tested
automatically. Seeded; tolerances are stated where they are not rounding-level."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import scoringrules as sr
import torch
import torch.nn.functional as F

import qfcast.distributions as qd
from qfcast.heads import (
    HEADS,
    IQF,
    ISQF,
    MQCNN_LEVELS,
    SQF,
    Gaussian,
    Head,
    HeadBase,
    MonotoneQuantiles,
    QuantileRegression,
    StudentT,
    get_head,
    head_config,
)

F64 = torch.float64
BATCH = (4, 3, 5)
NAMES = {"isqf", "iqf", "sqf", "quantile", "monotone_quantiles", "gaussian", "student_t"}

# every registered univariate head with its default arguments, plus non-default variants
# (the joint MQF² head has parameters of its own and its own tests, tests/test_mqf2_head.py)
UNIVARIATE = {name: cls for name, cls in HEADS.items() if not cls.joint}
CASES = [cls() for cls in UNIVARIATE.values()] + [
    Gaussian(loss="crps"),
    StudentT(loss="crps"),
    MonotoneQuantiles(positive="relu"),
    ISQF(num_pieces=1, levels=(0.1, 0.9)),
    QuantileRegression(levels=(0.1, 0.5, 0.9)),
]
CRPS_CASES = [h for h in CASES if h.scoring_rule == "crps"]
MONOTONE_CASES = [h for h in CASES if h.monotone]


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _inputs(head, seed=0, spread=2.0, dtype=F64):
    """Random raw outputs, targets and loc/scale (scale broadcast over the last batch axis)."""
    g = _gen(seed)
    raw = spread * torch.randn(*BATCH, head.outputs, generator=g, dtype=dtype)
    loc = 5 * torch.randn(*BATCH, generator=g, dtype=dtype)
    scale = torch.rand(*BATCH[:-1], 1, generator=g, dtype=dtype) * 3 + 0.5
    target = loc + scale * torch.randn(*BATCH, generator=g, dtype=dtype) * 2
    return raw, target, loc, scale


# -- registry and protocol --------------------------------------------------------------------


def test_registry_holds_exactly_the_eight_heads_and_is_read_only():
    assert set(UNIVARIATE) == NAMES and set(HEADS) == NAMES | {"mqf2"}
    assert all(cls.name == name for name, cls in HEADS.items())
    with pytest.raises(TypeError):
        HEADS["mine"] = ISQF  # type: ignore[index]


def test_a_taken_name_is_refused_and_the_registry_unchanged():
    with pytest.raises(TypeError, match="taken"):

        class Again(HeadBase):
            name = "isqf"

    assert HEADS["isqf"] is ISQF and set(UNIVARIATE) == NAMES


@pytest.mark.parametrize("head", CASES, ids=repr)
def test_protocol_and_config_round_trip(head):
    assert isinstance(head, Head)
    config = json.loads(json.dumps(head_config(head)))
    assert config["name"] == head.name
    assert get_head(config) == head
    assert type(head)(**head.config()) == head
    assert get_head(head) is head
    assert get_head(head.name) == type(head)()


def test_get_head_does_not_mutate_the_config():
    config = {"name": "isqf", "num_pieces": 2, "levels": [0.2, 0.8]}
    assert get_head(config) == ISQF(2, (0.2, 0.8))
    assert config == {"name": "isqf", "num_pieces": 2, "levels": [0.2, 0.8]}


def test_outputs_are_the_projection_widths():
    widths = {
        ISQF(): 2 * 4 * 5 + 5 + 2,
        ISQF(num_pieces=1, levels=(0.1, 0.9)): 2 + 2 + 2,
        IQF(): 5 + 2,
        SQF(): 21,
        QuantileRegression(): 11,
        MonotoneQuantiles(): 11,
        Gaussian(): 2,
        StudentT(): 3,
    }
    assert {h: h.outputs for h in widths} == widths


# -- shapes -------------------------------------------------------------------------------------


@pytest.mark.parametrize("head", CASES, ids=repr)
def test_distribution_shapes(head):
    raw, _, loc, scale = _inputs(head)
    d = head.distribution(raw, loc, scale)
    assert d.batch_shape == BATCH
    levels = torch.tensor([0.05, 0.5, 0.95], dtype=F64).reshape(3, 1, 1, 1)
    q = d.icdf(levels)
    assert q.shape == (3, *BATCH) and bool(torch.isfinite(q).all())
    assert d.sample((2,)).shape == (2, *BATCH)
    assert d.mean.shape == BATCH
    with pytest.raises(ValueError, match="raw"):
        head.distribution(raw[..., 1:], loc, scale)


@pytest.mark.parametrize("head", CASES, ids=repr)
def test_unit_loc_scale_is_the_scaled_distribution(head):
    raw, _, loc, scale = _inputs(head, seed=1)
    levels = torch.linspace(0.05, 0.95, 7, dtype=F64).reshape(7, 1, 1, 1)
    data = head.distribution(raw, loc, scale).icdf(levels)
    unit = head.distribution(raw, 0.0, 1.0).icdf(levels)
    torch.testing.assert_close(data, loc + scale * unit)


# -- loss: masking, gradients ---------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("head", CASES, ids=repr)
def test_loss_masks_exactly_and_keeps_gradients_finite(head, dtype):
    raw, target, loc, scale = _inputs(head, seed=2, dtype=dtype)
    observed = (torch.rand(BATCH, generator=_gen(3)) > 0.3).to(dtype)
    junk = torch.tensor([math.nan, 1e30, -math.inf, math.inf], dtype=dtype)
    masked = observed == 0
    target = target.masked_scatter(masked, junk.repeat(int(masked.sum()))[: int(masked.sum())])
    raw.requires_grad_(True)
    scale.requires_grad_(True)
    loss = head.loss(raw, target, observed, loc, scale)
    assert loss.shape == BATCH
    assert bool(torch.isfinite(loss).all())
    assert bool((loss[masked] == 0).all())
    assert bool((loss[~masked] != 0).all())
    (loss.sum() / observed.sum()).backward()
    assert bool(torch.isfinite(raw.grad).all()) and bool(torch.isfinite(scale.grad).all())
    row_grad = raw.grad.abs().sum(-1)
    assert bool((row_grad[masked] == 0).all())
    assert bool((row_grad[~masked] > 0).all())


@pytest.mark.parametrize("head", CASES, ids=repr)
def test_loss_scale_equivariance(head):
    """CRPS and pinball scale with the data; the NLL shifts by log(scale)."""
    raw, _, loc, scale = _inputs(head, seed=4)
    z = torch.randn(BATCH, generator=_gen(5), dtype=F64) * 1.5
    observed = torch.ones(BATCH, dtype=F64)
    data = head.loss(raw, loc + scale * z, observed, loc, scale)
    unit = head.loss(raw, z, observed, 0.0, 1.0)
    expected = unit + scale.log() if head.scoring_rule == "nll" else scale * unit
    torch.testing.assert_close(data, expected.expand(BATCH))


@pytest.mark.parametrize("head", [h for h in CASES if h.scoring_rule == "nll"], ids=repr)
def test_nll_is_minus_log_prob_in_data_units(head):
    raw, target, loc, scale = _inputs(head, seed=6)
    loss = head.loss(raw, target, torch.ones(BATCH), loc, scale)
    torch.testing.assert_close(loss, -head.distribution(raw, loc, scale).log_prob(target))


@pytest.mark.parametrize("head", CRPS_CASES, ids=repr)
def test_crps_loss_is_the_distributions_crps(head):
    raw, target, loc, scale = _inputs(head, seed=7)
    loss = head.loss(raw, target, torch.ones(BATCH), loc, scale)
    torch.testing.assert_close(loss, qd.crps(head.distribution(raw, loc, scale), target))


def test_gaussian_and_student_t_crps_match_scoringrules():
    raw, target, loc, scale = _inputs(Gaussian(), seed=8)
    loss = Gaussian(loss="crps").loss(raw, target, torch.ones(BATCH), loc, scale)
    mu = loc + scale * raw[..., 0]
    sigma = scale * (F.softplus(raw[..., 1]) + 1e-4)
    expected = sr.crps_normal(target.numpy(), mu.numpy(), sigma.numpy(), backend="numpy")
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-10, atol=1e-12)

    raw, target, loc, scale = _inputs(StudentT(), seed=9)
    loss = StudentT(loss="crps").loss(raw, target, torch.ones(BATCH), loc, scale)
    df = 2 + F.softplus(raw[..., 2])
    mu = loc + scale * raw[..., 0]
    sigma = scale * (F.softplus(raw[..., 1]) + 1e-4)
    expected = sr.crps_t(target.numpy(), df.numpy(), mu.numpy(), sigma.numpy(), backend="numpy")
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-8, atol=1e-10)


def _slow_two_pinball(y: float, q: float, tau: float) -> float:
    return 2 * (tau * (y - q) if y >= q else (tau - 1) * (y - q))


def test_quantile_regression_loss_is_the_mean_pinball_of_a_slow_loop():
    head = QuantileRegression()
    raw, target, loc, scale = _inputs(head, seed=10)
    loss = head.loss(raw, target, torch.ones(BATCH), loc, scale)
    loc_b, scale_b = loc.expand(BATCH), scale.expand(BATCH)
    for idx in np.ndindex(*BATCH):
        q = loc_b[idx].item() + scale_b[idx].item() * raw[idx].numpy()
        terms = [_slow_two_pinball(target[idx].item(), q[j], t) for j, t in enumerate(head.levels)]
        assert loss[idx].item() == pytest.approx(sum(terms) / len(terms), rel=1e-12, abs=1e-12)


def test_monotone_quantiles_loss_is_the_trapezoid_weighted_pinball_of_a_slow_loop():
    head = MonotoneQuantiles(levels=(0.05, 0.2, 0.6, 0.9))
    raw, target, loc, scale = _inputs(head, seed=11)
    loss = head.loss(raw, target, torch.ones(BATCH), loc, scale)
    weights = [0.075, 0.275, 0.35, 0.15]  # (τ_{j+1} − τ_{j−1})/2, halves at the ends
    assert head.weights == pytest.approx(weights)
    loc_b, scale_b = loc.expand(BATCH), scale.expand(BATCH)
    for idx in np.ndindex(*BATCH):
        r = raw[idx].numpy()
        q = loc_b[idx].item() + scale_b[idx].item() * (
            r[0] + np.concatenate([[0.0], np.cumsum(np.logaddexp(0, r[1:]))])
        )
        terms = [
            w * _slow_two_pinball(target[idx].item(), q[j], t)
            for j, (w, t) in enumerate(zip(weights, head.levels, strict=True))
        ]
        assert loss[idx].item() == pytest.approx(sum(terms) / 4, rel=1e-12, abs=1e-12)


# -- crossing -----------------------------------------------------------------------------------


@pytest.mark.parametrize("head", MONOTONE_CASES, ids=repr)
def test_monotone_heads_never_cross(head):
    raw, _, loc, scale = _inputs(head, seed=12, spread=3.0)
    levels = torch.linspace(0.01, 0.99, 99, dtype=F64).reshape(99, 1, 1, 1)
    q = head.distribution(raw, loc, scale).icdf(levels)
    assert bool((q.diff(dim=0) >= 0).all())


def test_quantile_regression_crosses_on_random_raw():
    head = QuantileRegression()
    assert head.monotone is False
    raw, _, loc, scale = _inputs(head, seed=13)
    d = head.distribution(raw, loc, scale)
    assert d.base_dist.crossing_rate > 0.9  # 11 independent normals are almost never sorted
    q = d.icdf(torch.tensor(MQCNN_LEVELS, dtype=F64).reshape(-1, 1, 1, 1))
    assert bool((q.diff(dim=0) < 0).any())
    with pytest.raises(ValueError, match="crossing"):
        d.cdf(loc)


def test_relu_increments_tie_yet_never_cross_and_stay_queryable():
    head = MonotoneQuantiles(levels=(0.1, 0.3, 0.5, 0.7, 0.9), positive="relu")
    raw, target, loc, scale = _inputs(head, seed=14)
    values = head.values(raw)
    steps = values.diff(dim=-1)
    assert bool((steps >= 0).all()) and bool((steps == 0).any())  # ReLU: exact ties happen
    d = head.distribution(raw, loc, scale)
    assert bool(torch.isfinite(d.crps(target)).all()) and bool(torch.isfinite(d.cdf(target)).all())
    softplus = MonotoneQuantiles(levels=head.levels)
    assert bool((softplus.values(raw).diff(dim=-1) > 0).all())


def test_monotone_loss_approaches_the_restricted_crps_of_the_interpolant():
    """K · loss is the trapezoid rule for ∫_{τ1}^{τK} 2ρ_α(y − q̂(α)) dα. Where y does not cut
    an interval the integrand is quadratic in α (second derivative −4q̂'), so the rule falls
    short by h²·Δq/3 per interval: h²(q_K − q_1)/3 ≈ 3.5e-5 in total for these 197 levels
    (h = 0.005, q_K − q_1 ≈ 4), plus O(h·Δq) ≈ 1e-4 at most from the interval holding y;
    hence the 2e-4 tolerance, on integrals of about 1–3."""
    g = _gen(15)
    levels = tuple(np.round(np.linspace(0.01, 0.99, 197), 10))
    head = MonotoneQuantiles(levels=levels)
    raw = torch.cat([torch.randn(6, 1, generator=g, dtype=F64), torch.full((6, 196), -4.0)], -1)
    raw[:, 1:] += 0.5 * torch.randn(6, 196, generator=g, dtype=F64)
    y = torch.randn(6, generator=g, dtype=F64) * 0.3
    loss = head.loss(raw, y, torch.ones(6, dtype=F64))
    values = head.values(raw).numpy()
    assert bool((np.diff(values, axis=-1) >= 0).all())
    alpha = np.linspace(levels[0], levels[-1], 400_001)
    for i in range(6):
        q = np.interp(alpha, levels, values[i])
        u = y[i].item() - q
        integrand = 2 * u * (alpha - (u < 0))
        integral = np.sum((integrand[1:] + integrand[:-1]) / 2 * np.diff(alpha))
        assert len(levels) * loss[i].item() == pytest.approx(integral, abs=2e-4)


# -- training sanity ----------------------------------------------------------------------------


@pytest.mark.parametrize("head", [cls() for cls in UNIVARIATE.values()], ids=repr)
def test_training_a_free_raw_vector_fits_a_skewed_sample(head):
    """200 Adam steps on one raw vector shared by 2000 lognormal draws (σ = 0.5, in units of
    10, the scale the head gets). Every loss falls by more than 20%; CRPS heads end within 1%
    of the floor no distribution can beat (the sample's own empirical distribution), NLL heads
    within 0.01 nats of the Gaussian maximum likelihood (both families hold or approach the
    Gaussian), pinball heads below 30% of their start; the fitted ISQF 0.1/0.5/0.9 quantiles
    land within 5% of the true ones (their sampling error at n = 2000 is about 2%)."""
    torch.manual_seed(0)
    sigma, scale, n = 0.5, 10.0, 2000
    y = scale * torch.exp(sigma * torch.randn(n, dtype=F64))
    ranks = torch.arange(1, n + 1, dtype=F64)
    crps_floor = ((2 * ranks - n - 1) * y.sort().values).sum().item() / n**2  # ½ E|Y − Y'|
    gaussian_nll = 0.5 * math.log(2 * math.pi * math.e * y.var(unbiased=False).item())
    raw = torch.zeros(head.outputs, dtype=F64, requires_grad=True)
    opt = torch.optim.Adam([raw], lr=0.1)

    def mean_loss() -> torch.Tensor:
        return head.loss(raw.expand(n, -1), y, torch.ones_like(y), 0.0, scale).mean()

    first = mean_loss().item()
    for _ in range(200):
        opt.zero_grad()
        mean_loss().backward()
        opt.step()
    last = mean_loss().item()
    assert last < 0.8 * first
    if head.scoring_rule == "crps":
        assert crps_floor <= last < 1.01 * crps_floor
    elif head.scoring_rule == "nll":
        assert last < gaussian_nll + 0.01
    else:
        assert last < 0.3 * first
    if head.name == "isqf":
        levels = torch.tensor([0.1, 0.5, 0.9], dtype=F64)
        fitted = head.distribution(raw.detach(), 0.0, scale).icdf(levels)
        true = scale * torch.exp(sigma * torch.special.ndtri(levels))
        torch.testing.assert_close(fitted, true, rtol=0.05, atol=0.0)


# -- argument checks ------------------------------------------------------------------------


def test_unknown_head_suggests_the_close_name():
    with pytest.raises(ValueError, match="did you mean 'isqf'"):
        get_head("isqff")
    with pytest.raises(ValueError, match="known heads"):
        get_head("zzz")
    with pytest.raises(ValueError, match="name"):
        get_head({"levels": [0.1, 0.9]})
    with pytest.raises(TypeError):
        get_head(3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "make",
    [
        lambda: ISQF(levels=(0.5, 0.1)),
        lambda: ISQF(levels=(0.1, 0.1, 0.5)),
        lambda: ISQF(levels=(0.0, 0.5)),
        lambda: IQF(levels=(0.5, 1.0)),
        lambda: QuantileRegression(levels=(0.5,)),
        lambda: MonotoneQuantiles(levels=(0.1, math.nan)),
        lambda: MonotoneQuantiles(levels="0.1, 0.9"),  # type: ignore[arg-type]
        lambda: MonotoneQuantiles(positive="abs"),
        lambda: ISQF(num_pieces=0),
        lambda: SQF(num_pieces=1.5),  # type: ignore[arg-type]
        lambda: SQF(num_pieces=True),
        lambda: Gaussian(loss="mse"),
        lambda: StudentT(loss="NLL"),
    ],
)
def test_bad_arguments_raise(make):
    with pytest.raises(ValueError):
        make()
