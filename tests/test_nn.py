"""Encoders: shapes, causality, forking == non-forking, DeepAR's one recursion, rebuilding."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch
from torch import nn
from torch.distributions import Normal

from qfcast.nn import (
    ENCODERS,
    MQCNN,
    MQRNN,
    DeepAR,
    EncoderInput,
    InputDims,
    MultiHorizonEncoder,
    get_encoder,
)
from qfcast.nn.decoder import seasonal_sources

FULL = InputDims(
    context=12, horizon=4, time=2, past=2, known=3, static_real=2, cardinalities=(3, 5)
)
BARE = InputDims(context=12, horizon=4, time=1, past=0, known=0, static_real=0)
# no time features, horizon longer than the context, one categorical column
ODD = InputDims(context=3, horizon=5, time=0, past=1, known=0, static_real=1, cardinalities=(2,))
ONE = InputDims(context=1, horizon=2, time=1, past=1, known=1, static_real=0)
ALL_DIMS = [FULL, BARE, ODD, ONE]
MULTI = [MQCNN, MQRNN]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """These tensors are tiny: a second intra-op thread only adds synchronisation, and on a
    busy machine its spin-waits made this module 10× slower (measured). Restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_input(dims: InputDims, batch: int, seed: int = 0) -> EncoderInput:
    """A random batch matching ``dims``: ~10% unobserved targets (set to 0), random codes."""
    g = torch.Generator().manual_seed(seed)
    c, h = dims.context, dims.horizon
    observed = (torch.rand(batch, c, generator=g) > 0.1).float()
    cats = [torch.randint(card, (batch,), generator=g) for card in dims.cardinalities]
    return EncoderInput(
        target=torch.randn(batch, c, generator=g) * observed,
        observed=observed,
        time=torch.rand(batch, c + h, dims.time, generator=g) - 0.5,
        past=torch.randn(batch, c, dims.past, generator=g),
        known=torch.randn(batch, c + h, dims.known, generator=g),
        static_real=torch.randn(batch, dims.static_real, generator=g),
        static_cat=torch.stack(cats, -1) if cats else torch.zeros(batch, 0, dtype=torch.long),
        log_scale=torch.randn(batch, 1, generator=g),
    )


def repeat_input(x: EncoderInput, n: int) -> EncoderInput:
    """Row ``s·B + b`` is window b, as in ``DeepAR.sample``."""
    return EncoderInput(
        **{f.name: torch.cat([getattr(x, f.name)] * n) for f in dataclasses.fields(x)}
    )


def perturbed(x: EncoderInput, field: str, position: int, by: float = 3.0) -> EncoderInput:
    value = getattr(x, field).clone()
    value[:, position] += by
    return dataclasses.replace(x, **{field: value})


def build(cls: type[nn.Module], dims: InputDims, seed: int = 0, **hparams) -> nn.Module:
    torch.manual_seed(seed)
    return cls(dims, **hparams)


# --------------------------------------------------------------------------- registry


def test_registry_is_derived_from_the_classes():
    assert dict(ENCODERS) == {"mqcnn": MQCNN, "mqrnn": MQRNN, "deepar": DeepAR}
    assert [ENCODERS[n].kind for n in ("mqcnn", "mqrnn", "deepar")] == [
        "multi_horizon",
        "multi_horizon",
        "autoregressive",
    ]
    assert "multihorizonencoder" not in ENCODERS  # an intermediate base class declares no name
    with pytest.raises(TypeError):
        ENCODERS["x"] = MQCNN  # read-only view


def test_get_encoder_accepts_names_classes_configs_and_modules():
    assert type(get_encoder("mqrnn", BARE)) is MQRNN
    assert type(get_encoder(DeepAR, BARE)) is DeepAR
    config = {"name": "mqcnn", "channels": [4, 4], "kernel_sizes": [2, 2], "dilations": [1, 2]}
    m = get_encoder(config, BARE)
    assert m.hparams["channels"] == [4, 4] and config["name"] == "mqcnn"  # config untouched
    assert get_encoder(m, BARE) is m
    with pytest.raises(ValueError, match="built for"):
        get_encoder(m, FULL)
    with pytest.raises(ValueError, match="did you mean 'mqcnn'"):
        get_encoder("mqcn", BARE)
    with pytest.raises(ValueError, match="did you mean 'deepar'"):
        get_encoder({"name": "DeepAR"}, BARE)
    with pytest.raises(ValueError, match="name"):
        get_encoder({"channels": [3]}, BARE)
    with pytest.raises(TypeError):
        get_encoder(42, BARE)
    with pytest.raises(TypeError):
        get_encoder(dict, BARE)


@pytest.mark.parametrize(
    ("cls", "hparams"),
    [
        (MQCNN, {"channels": [4, 4], "kernel_sizes": [3]}),
        (MQCNN, {"dilations": [1, 0, 2]}),
        (MQCNN, {"channels": []}),
        (MQCNN, {"out_features": 0}),
        (MQRNN, {"hidden_size": 2.5}),
        (MQRNN, {"dropout": 1.0}),
        (MQRNN, {"season": 0}),
        (DeepAR, {"lags": [1, 1]}),
        (DeepAR, {"lags": [0, 2]}),
        (DeepAR, {"num_layers": True}),
        (DeepAR, {"embedding_dims": [2]}),  # FULL has two categorical columns
    ],
)
def test_bad_hyperparameters_raise(cls, hparams):
    with pytest.raises(ValueError):
        cls(FULL, **hparams)


@pytest.mark.parametrize("cls", [*MULTI, DeepAR])
def test_inputs_that_do_not_match_dims_raise(cls):
    m = build(cls, FULL)
    x = make_input(FULL, 2)
    wrong = dataclasses.replace(x, known=x.known[:, :-1])
    with pytest.raises(ValueError, match="known"):
        output(m, wrong)
    if cls is DeepAR:
        with pytest.raises(ValueError, match="future_target"):
            m(x, torch.zeros(2, FULL.horizon + 1))


# --------------------------------------------------------------------------- shapes


@pytest.mark.parametrize("batch", [1, 5])
@pytest.mark.parametrize("dims", ALL_DIMS, ids=["full", "bare", "odd", "one"])
@pytest.mark.parametrize("cls", MULTI)
def test_multi_horizon_shapes(cls, dims, batch):
    m = build(cls, dims)
    x = make_input(dims, batch)
    f = m.out_features
    assert m(x).shape == (batch, dims.horizon, f)
    assert m(x, forking=True).shape == (batch, dims.context, dims.horizon, f)


@pytest.mark.parametrize("batch", [1, 5])
@pytest.mark.parametrize("dims", ALL_DIMS, ids=["full", "bare", "odd", "one"])
def test_deepar_shapes(dims, batch):
    m = build(DeepAR, dims, lags=[1, 2, 7]).eval()
    x = make_input(dims, batch)
    assert m(x, torch.zeros(batch, dims.horizon)).shape == (batch, dims.context + dims.horizon, 40)
    samples = m.sample(x, lambda s: Normal(s[:, 0], 1.0), num_samples=3)
    assert samples.shape == (3, batch, dims.horizon)


# --------------------------------------------------------------------------- forking


@pytest.mark.parametrize("season", [None, 1, 5])
@pytest.mark.parametrize("batch", [1, 5])
@pytest.mark.parametrize("dims", ALL_DIMS, ids=["full", "bare", "odd", "one"])
@pytest.mark.parametrize("cls", MULTI)
def test_non_forking_equals_forking_at_the_last_origin_exactly(cls, dims, batch, season):
    m = build(cls, dims, season=season)
    x = make_input(dims, batch)
    assert torch.equal(m(x), m(x, forking=True)[:, -1])


@pytest.mark.parametrize("season", [None, 5])
@pytest.mark.parametrize("cls", MULTI)
def test_the_last_origins_alone_equal_the_tail_of_all_origins(cls, season):
    m = build(cls, FULL, season=season)
    x = make_input(FULL, 3)
    every = m(x, forking=True)
    for k in (1, 2, 7, FULL.context, FULL.context + 5):
        tail = m(x, forking=True, origins=k)
        assert tail.shape[1] == min(k, FULL.context)
        torch.testing.assert_close(tail, every[:, -tail.shape[1] :], rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="origins must be a positive int"):
        m(x, forking=True, origins=0)


def naive_loop(x: EncoderInput, t: int, horizon: int, season: int) -> torch.Tensor:
    """Slow reference of the seasonal-naive decoder input of origin t, ``(B, H, 2)``: step k
    repeats the latest value at a whole number of seasons before it, if in the window."""
    rows = []
    for k in range(1, horizon + 1):
        j = t + k - season * math.ceil(k / season)
        if j < 0:
            rows.append(torch.zeros(x.batch_size, 2))
        else:
            seen = x.observed[:, j]
            rows.append(torch.stack([x.target[:, j] * seen, seen], -1))
    return torch.stack(rows, 1)


@pytest.mark.parametrize("season", [None, 1, 3, 7, 40])
@pytest.mark.parametrize("cls", MULTI)
def test_forking_matches_a_per_origin_loop(cls, season):
    """Slow reference: origin t decodes state t with the inputs of positions t+1..t+H (and,
    with a season, the seasonal-naive forecast from t)."""
    m = build(cls, FULL, season=season)
    x = make_input(FULL, 3)
    states = m.encode(x)
    steps = torch.cat([x.time, x.known], dim=-1)
    h = FULL.horizon
    loop = []
    for t in range(FULL.context):
        inputs = steps[:, t + 1 : t + 1 + h]
        if season is not None:
            inputs = torch.cat([inputs, naive_loop(x, t, h, season)], -1)
        loop.append(m.decoder(states[:, t], inputs))
    torch.testing.assert_close(m(x, forking=True), torch.stack(loop, 1), rtol=0, atol=1e-6)


@pytest.mark.parametrize("season", [1, 2, 3, 4, 5, 9])
def test_seasonal_sources_are_the_latest_known_value_of_the_same_phase(season):
    sources = seasonal_sources(context=10, horizon=7, season=season)
    for t in range(10):
        for k in range(1, 8):
            j = int(sources[t, k - 1])
            assert t - season < j <= t, (t, k, j)  # known at origin t, within one season
            assert (t + k - j) % season == 0, (t, k, j)  # same phase as the target step


def test_seasonal_input_lets_the_decoder_see_a_full_season_back():
    """Season 10 > the receptive field of a 1-layer kernel-2 MQ-CNN (2 steps): with the
    seasonal input, the last origin's forecast depends on position C − 10 (step 1's source)
    but not on C − 11 (no step's source)."""
    dims = dataclasses.replace(BARE, context=16)
    x = make_input(dims, 2)
    moved = perturbed(x, "target", dims.context - 10)
    tiny = {"channels": [3], "kernel_sizes": [2], "dilations": [1]}
    plain, seasonal = build(MQCNN, dims, **tiny), build(MQCNN, dims, **tiny, season=10)
    assert torch.equal(plain(x), plain(moved))
    assert not torch.equal(seasonal(x), seasonal(moved))
    assert torch.equal(seasonal(x), seasonal(perturbed(x, "target", dims.context - 11)))


def changed_origins(m: MultiHorizonEncoder, x: EncoderInput, x2: EncoderInput) -> list[bool]:
    diff = (m(x, forking=True) - m(x2, forking=True)).abs().amax(dim=(0, 2, 3))
    return (diff > 0).tolist()


@pytest.mark.parametrize("season", [None, 3])
@pytest.mark.parametrize("field", ["target", "observed", "past"])
@pytest.mark.parametrize("cls", MULTI)
def test_origin_t_sees_the_past_up_to_t_only(cls, field, season):
    m = build(cls, FULL, season=season)
    x = make_input(FULL, 2)
    for p in range(FULL.context):
        expected = [t >= p for t in range(FULL.context)]
        assert changed_origins(m, x, perturbed(x, field, p)) == expected, (field, p)


@pytest.mark.parametrize("season", [None, 3])
@pytest.mark.parametrize("field", ["known", "time"])
@pytest.mark.parametrize("cls", MULTI)
def test_origin_t_sees_known_inputs_up_to_t_plus_h_only(cls, field, season):
    m = build(cls, FULL, season=season)
    x = make_input(FULL, 2)
    for p in range(FULL.context + FULL.horizon):
        expected = [p <= t + FULL.horizon for t in range(FULL.context)]
        assert changed_origins(m, x, perturbed(x, field, p)) == expected, (field, p)


def test_mqcnn_receptive_field_is_the_causal_window():
    dims = dataclasses.replace(BARE, context=40)
    m = build(MQCNN, dims)  # receptive field 1 + 6 + 2·3 + 2·9 = 31
    x = make_input(dims, 2)
    states = m.encode(x)
    moved = m.encode(perturbed(x, "target", 5))
    changed = (states - moved).abs().amax(dim=(0, 2)) > 0
    assert m.receptive_field == 31
    assert changed.tolist() == [5 <= t < 5 + 31 for t in range(40)]


# --------------------------------------------------------------------------- DeepAR


def deepar_rows_changed(m: DeepAR, x: EncoderInput, future: torch.Tensor, x2, future2) -> list:
    diff = (m(x, future) - m(x2, future2)).abs().amax(dim=(0, 2))
    return (diff > 0).tolist()


@pytest.mark.parametrize("lags", [[1], [1, 3], [2, 5]])
def test_deepar_row_t_sees_targets_strictly_before_t(lags):
    m = build(DeepAR, FULL, lags=lags).eval()
    x = make_input(FULL, 2)
    c, h = FULL.context, FULL.horizon
    future = torch.randn(2, h, generator=torch.Generator().manual_seed(1))
    for p in range(c + h):
        if p < c:
            x2, future2 = perturbed(x, "target", p), future
        else:
            x2, future2 = x, future.clone()
            future2[:, p - c] += 3.0
        expected = [t >= p + min(lags) for t in range(c + h)]
        assert deepar_rows_changed(m, x, future, x2, future2) == expected, p


def test_deepar_covariates_enter_at_their_own_time_past_ones_one_step_late():
    m = build(DeepAR, FULL).eval()
    x = make_input(FULL, 2)
    future = torch.zeros(2, FULL.horizon)
    steps = range(FULL.context + FULL.horizon)
    for p in range(FULL.context):
        got = deepar_rows_changed(m, x, future, perturbed(x, "past", p), future)
        assert got == [t >= p + 1 for t in steps]
    for p in steps:
        got = deepar_rows_changed(m, x, future, perturbed(x, "known", p), future)
        assert got == [t >= p for t in steps]


def test_deepar_input_columns():
    dims = dataclasses.replace(ODD, context=4, horizon=3)
    m = build(DeepAR, dims, lags=[1, 3])
    x = make_input(dims, 2)
    future = torch.tensor([[10.0, 11.0, 12.0], [20.0, 21.0, 22.0]])
    inputs = m.inputs(x, future, torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 1.0]]))
    y = torch.cat([x.target, future], 1)
    o = torch.cat([x.observed, torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 1.0]])], 1)
    assert inputs.shape == (2, 7, m.inputs_per_step)
    for j, lag in enumerate([1, 3]):
        for t in range(7):
            value = y[:, t - lag] if t >= lag else torch.zeros(2)
            flag = o[:, t - lag] if t >= lag else torch.zeros(2)
            assert torch.equal(inputs[:, t, 2 * j], value) and torch.equal(
                inputs[:, t, 2 * j + 1], flag
            )
    past, exists = inputs[:, :, 4], inputs[:, :, 5]  # T = K = 0: lags, then past + flag
    assert torch.equal(past[:, 1:5], x.past[:, :, 0]) and not past[:, [0, 5, 6]].any()
    assert exists[0].tolist() == [0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0]


def test_deepar_sampling_is_reproducible_under_a_seed():
    m = build(DeepAR, FULL, lags=[1, 2]).eval()
    x = make_input(FULL, 5)
    w = torch.randn(40, generator=torch.Generator().manual_seed(2))

    def project(state):
        return Normal(state @ w, 0.5)

    torch.manual_seed(7)
    a = m.sample(x, project, num_samples=4)
    torch.manual_seed(7)
    b = m.sample(x, project, num_samples=4)
    torch.manual_seed(8)
    c = m.sample(x, project, num_samples=4)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert not a.requires_grad
    assert not torch.equal(a[0], a[1])  # samples differ from each other


def test_deepar_sampling_runs_the_teacher_forced_recursion():
    """With a near point mass, a sample path is the recursion itself: feeding it back as
    ``future_target`` reproduces every state the sampler saw (float32 tolerance: the
    sampler steps the LSTM one position at a time)."""
    m = build(DeepAR, FULL, lags=[1, 3]).eval()
    s, b, c = 3, 4, FULL.context
    x = make_input(FULL, b)
    w = torch.randn(40, generator=torch.Generator().manual_seed(3))
    seen = []

    def project(state):
        seen.append(state)
        return Normal(2.0 * torch.tanh(state @ w), 1e-6)

    samples = m.sample(x, project, num_samples=s)
    paths = samples.reshape(s * b, FULL.horizon)
    states = m(repeat_input(x, s), paths)[:, c:]
    torch.testing.assert_close(states, torch.stack(seen, 1), rtol=0, atol=1e-5)
    torch.testing.assert_close(paths, 2.0 * torch.tanh(states @ w), rtol=0, atol=1e-4)
    assert not torch.allclose(paths[:, 1:], paths[:, :1])  # the path is not trivially flat


def test_deepar_sample_rejects_a_projection_with_the_wrong_batch_shape():
    m = build(DeepAR, BARE).eval()
    with pytest.raises(ValueError, match="batch shape"):
        m.sample(make_input(BARE, 2), lambda s: Normal(s, 1.0), num_samples=2)


# --------------------------------------------------------------------------- parameters


def output(m: nn.Module, x: EncoderInput) -> torch.Tensor:
    """Forking features of a multi-horizon encoder, teacher-forced states of DeepAR."""
    if isinstance(m, DeepAR):
        future = torch.randn(
            x.batch_size, m.dims.horizon, generator=torch.Generator().manual_seed(0)
        )
        return m(x, future)
    return m(x, forking=True)


@pytest.mark.parametrize("cls", [*MULTI, DeepAR])
def test_gradients_reach_every_parameter(cls):
    m = build(cls, FULL)
    x = make_input(FULL, 5)
    output(m, x).square().mean().backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize(
    ("cls", "hparams"),
    [
        (MQCNN, {"channels": [5, 6], "kernel_sizes": [3, 2], "dilations": [1, 4], "season": 5}),
        (MQRNN, {"hidden_size": 7, "num_layers": 2, "dropout": 0.2, "embedding_dims": [2, 3]}),
        (DeepAR, {"hidden_size": 6, "lags": [1, 4], "embedding_dims": [1, 1]}),
    ],
)
def test_hparams_rebuild_the_same_architecture(cls, hparams):
    m = build(cls, FULL, **hparams).eval()
    restored = json.loads(json.dumps(m.hparams))
    assert restored == m.hparams
    x = make_input(FULL, 3)
    for copy in (type(m)(m.dims, **restored), get_encoder(m.config(), FULL)):
        copy.load_state_dict(m.state_dict(), strict=True)
        assert torch.equal(output(m, x), output(copy.eval(), x))


# --------------------------------------------------------------------------- fitting


def sine_windows(
    batch: int, dims: InputDims, g: torch.Generator
) -> tuple[EncoderInput, torch.Tensor]:
    """Random windows of a panel of 16 sine series (period 12, own phase) + N(0, 0.1²)."""
    c, h = dims.context, dims.horizon
    series = torch.randint(16, (batch,), generator=g)
    start = torch.randint(500, (batch,), generator=g)
    t = start[:, None] + torch.arange(c + h)
    y = torch.sin(2 * math.pi * t / 12 + series[:, None] * 0.4) + 0.1 * torch.randn(
        batch, c + h, generator=g
    )
    x = EncoderInput(
        target=y[:, :c],
        observed=torch.ones(batch, c),
        time=torch.zeros(batch, c + h, 0),
        past=torch.zeros(batch, c, 0),
        known=torch.zeros(batch, c + h, 0),
        static_real=torch.zeros(batch, 0),
        static_cat=torch.zeros(batch, 0, dtype=torch.long),
        log_scale=torch.zeros(batch, 1),
    )
    return x, y[:, c:]


@pytest.mark.parametrize("cls", MULTI)
def test_multi_horizon_encoders_fit_a_noisy_sine(cls):
    """200 Adam steps of MSE on a linear projection of the features: the loss falls from
    ≈ 0.5 (the sine's variance) to near the noise floor 0.01 (0.011–0.013 seen with both
    encoders); a 20-fold drop (< 0.026) leaves a 2× margin."""
    dims = InputDims(context=24, horizon=6, time=0, past=0, known=0, static_real=0)
    m = build(cls, dims)
    head = nn.Linear(m.out_features, 1)
    opt = torch.optim.Adam([*m.parameters(), *head.parameters()], lr=3e-3)
    g = torch.Generator().manual_seed(0)
    test_x, test_y = sine_windows(256, dims, torch.Generator().manual_seed(99))

    def test_loss() -> float:
        with torch.no_grad():
            return (head(m(test_x)).squeeze(-1) - test_y).square().mean().item()

    before = test_loss()
    for _ in range(200):
        x, y = sine_windows(32, dims, g)
        loss = (head(m(x)).squeeze(-1) - y).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = test_loss()
    assert after < before / 20, (before, after)
