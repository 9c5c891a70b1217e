"""The joint MQF² head: shapes, masking, and the Forecaster round trip (save → load)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import qfcast
from qfcast.data.synthetic import MultiHorizonGaussian
from qfcast.forecast import JointForecast
from qfcast.heads import MQF2, get_head, head_config


def test_bound_head_shapes_loss_and_masking():
    torch.manual_seed(0)
    head = get_head("mqf2").bind(6)
    assert head.outputs == 8 and head.joint and head.name == "mqf2"
    raw = torch.randn(3, 5, 6, head.outputs)  # (batch, origins, horizon, outputs)
    target = torch.randn(3, 5, 6)
    observed = torch.ones(3, 5, 6)
    observed[1, 2, 4] = 0.0
    target[1, 2, 4] = float("nan")  # an unobserved step must not poison anything
    loc, scale = torch.zeros(3, 1), torch.full((3, 1), 2.0)
    loss = head.loss(raw, target, observed, loc, scale)
    assert loss.shape == (3, 5) and loss[1, 2] == 0 and torch.isfinite(loss).all()
    loss.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in head.parameters())
    d = head.distribution(raw.detach(), loc, scale)
    assert d.batch_shape == (3, 5) and d.event_shape == (6,)
    with pytest.raises(ValueError, match=r"mqf2 head needs raw of shape \(\.\.\., 6, 8\)"):
        head.distribution(torch.randn(3, 5, 8))
    with pytest.raises(TypeError, match="bind"):
        MQF2().loss(raw, target, observed)
    assert get_head(head_config(head)) == MQF2()


def test_energy_score_loss_is_in_data_units():
    torch.manual_seed(1)
    head = MQF2(num_samples=400).bind(3)
    raw = torch.randn(2, 3, head.outputs, dtype=torch.float64)
    head.double()
    z = torch.randn(2, 3, dtype=torch.float64)
    loc = torch.tensor([1.0, -2.0], dtype=torch.float64)
    scale = torch.tensor([3.0, 0.5], dtype=torch.float64)
    y = loc[:, None] + scale[:, None] * z
    torch.manual_seed(5)
    data_units = head.loss(raw, y, torch.ones(2, 3), loc, scale)
    torch.manual_seed(5)
    scaled = head.loss(raw, z, torch.ones(2, 3), torch.zeros(2), torch.ones(2))
    torch.testing.assert_close(data_units, scaled * scale)  # ES(β=1) scales with the scale


def test_forecaster_with_mqf2_answers_joint_questions_and_reloads_bit_identically(tmp_path):
    df = MultiHorizonGaussian(horizon=6, period=6).panel(n_series=4, length=120, seed=0)
    fc = qfcast.Forecaster(
        horizon=6,
        head="mqf2",
        max_epochs=2,
        batches_per_epoch=3,
        progress=False,
        random_state=0,
        num_samples=100,
    )
    f = fc.fit(df).predict(df)
    assert isinstance(f, JointForecast) and f.samples.shape == (100, 4, 6)
    q = f.quantile(np.linspace(0.05, 0.95, 19)).iloc[:, 2:].to_numpy()
    assert (np.diff(q, axis=1) >= 0).all()
    total = f.sum_quantile([0.5, 0.95], steps=range(3))
    np.testing.assert_allclose(
        total["q0.95"], np.quantile(f.samples[:, :, :3].sum(-1), 0.95, axis=0)
    )
    corr = f.correlation()
    assert corr.shape == (4, 6, 6)
    np.testing.assert_allclose(np.einsum("nhh->nh", corr), 1.0)
    mq = f.multivariate_quantile(np.full(6, 0.5))
    assert mq.shape == (24, 3) and np.isfinite(mq["value"]).all()
    loaded = qfcast.Forecaster.load(fc.save(tmp_path / "m"))
    again = loaded.predict(df)
    np.testing.assert_array_equal(again.samples, f.samples)  # the reference fails this
    np.testing.assert_array_equal(
        again.multivariate_quantile(np.full(6, 0.9))["value"],
        f.multivariate_quantile(np.full(6, 0.9))["value"],
    )


def test_likelihood_option_trains_on_the_negative_log_density():
    torch.manual_seed(2)
    head = MQF2(objective="likelihood").bind(3).double()
    assert head.picnn.quadratic
    raw = torch.randn(4, 3, head.outputs, dtype=torch.float64)
    y = torch.randn(4, 3, dtype=torch.float64)
    loc, scale = torch.zeros(4), torch.full((4,), 2.0, dtype=torch.float64)
    loss = head.loss(raw, y, torch.ones(4, 3), loc, scale)
    expected = -head.distribution(raw, loc, scale).log_prob(y)
    torch.testing.assert_close(loss, expected)
    loss.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in head.parameters() if p.grad is not None)
    with pytest.raises(ValueError, match="'energy' or 'likelihood'"):
        MQF2(objective="nll")
    df = MultiHorizonGaussian(horizon=4, period=4).panel(n_series=3, length=60, seed=0)
    fc = qfcast.Forecaster(
        horizon=4,
        head=MQF2(objective="likelihood"),
        max_epochs=1,
        batches_per_epoch=2,
        progress=False,
        random_state=0,
        num_samples=50,
    )
    f = fc.fit(df).predict(df)
    assert np.isfinite(f.samples).all() and f.samples.shape == (50, 3, 4)
