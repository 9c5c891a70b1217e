"""Forecaster: fit/predict on every encoder × head, repeatability, persistence, DDP."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import qfcast
from qfcast.data import Panel
from qfcast.data.synthetic import demand_scenario
from qfcast.forecaster import _validation_windows
from qfcast.heads import HEADS
from qfcast.nn import ENCODERS

from ._ddp_fit import climatology, sine_panel

LEVELS = np.round(np.arange(0.1, 1.0, 0.1), 2)


def tiny(**kwargs) -> qfcast.Forecaster:
    options = dict(
        horizon=6,
        max_epochs=1,
        batches_per_epoch=2,
        batch_size=8,
        progress=False,
        random_state=0,
        num_samples=20,
    )
    return qfcast.Forecaster(**{**options, **kwargs})


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return sine_panel(n_series=4, length=96)


@pytest.mark.parametrize("model", sorted(ENCODERS))
@pytest.mark.parametrize("head", sorted(HEADS))
def test_every_encoder_trains_with_every_head(model, head, panel):
    fc = tiny(model=model, head=head)
    if HEADS[head].joint and ENCODERS[model].kind == "autoregressive":
        with pytest.raises(ValueError, match="use a multi-horizon encoder"):
            fc.fit(panel)
        return
    assert fc.fit(panel) is fc
    f = fc.predict(panel)
    q = f.quantile([0.1, 0.5, 0.9])
    assert q.shape == (4 * 6, 5) and np.isfinite(q.iloc[:, 2:].to_numpy()).all()
    last = panel.groupby("unique_id").ds.max()
    first_future = q.groupby("unique_id").ds.min()
    assert (first_future - last == pd.Timedelta("1h")).all()
    assert np.isfinite(f.mean()["mean"]).all()


def test_constructor_only_stores_and_fit_returns_self(panel):
    fc = tiny(head=qfcast.heads.ISQF(num_pieces=3, levels=(0.1, 0.5, 0.9)))
    params = fc.get_params()
    assert params["horizon"] == 6 and not any(k.endswith("_") for k in params)
    with pytest.raises(RuntimeError, match="not fitted"):
        fc.predict(panel)
    before = panel.copy()
    fc.fit(panel)
    pd.testing.assert_frame_equal(panel, before)
    assert fc.head_.config()["num_pieces"] == 3
    with pytest.raises(ValueError, match="did you mean 'isqf'"):
        tiny(head="isqff").fit(panel)


@pytest.mark.parametrize(
    ("freq", "horizon", "model", "head", "context", "season"),
    [
        ("h", 6, "mqcnn", "isqf", 48, 24),  # two days are longer than four horizons
        ("h", 24, "mqrnn", "isqf", 96, 24),  # four horizons are longer than two days
        ("W-SUN", 3, "deepar", "student_t", 104, None),  # two years: lag 52 fits
        ("h", 13, "mqcnn", "mqf2", 13, 24),  # the joint head keeps one horizon
        ("h", 6, "mqcnn", "mqf2", 6, None),  # season 24 ≥ context + horizon: no such input
        ("h", 6, {"name": "mqcnn", "season": None}, "isqf", 48, None),  # the user's choice
    ],
)
def test_default_context_spans_two_seasons_and_the_season_reaches_the_decoder(
    freq, horizon, model, head, context, season
):
    panel = sine_panel(n_series=4, length=240)
    stamps = pd.date_range("2020-01-05", periods=240, freq=freq)  # a Sunday
    df = panel.assign(ds=stamps[panel.groupby("unique_id").cumcount().to_numpy()])
    fc = tiny(horizon=horizon, model=model, head=head).fit(df)
    assert fc.context_ == context
    hparams = fc.module_.encoder.hparams
    if fc.module_.encoder.kind == "multi_horizon":
        assert hparams["season"] == season
    else:
        assert 52 in hparams["lags"] and max(hparams["lags"]) < context
    assert np.isfinite(fc.predict(df).quantile(LEVELS).iloc[:, 2:].to_numpy()).all()


def test_monotone_heads_never_cross(panel):
    fc = tiny(head="isqf", max_epochs=2).fit(panel)
    q = fc.predict(panel).quantile(np.linspace(0.01, 0.99, 99)).iloc[:, 2:].to_numpy()
    assert (np.diff(q, axis=1) >= 0).all()


def test_random_state_repeats_and_chunks_do_not_matter(panel):
    a = tiny(random_state=3).fit(panel).predict(panel).quantile(LEVELS)
    fc = tiny(random_state=3).fit(panel)
    b = fc.predict(panel).quantile(LEVELS)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(fc.predict(panel, batch_size=1).quantile(LEVELS), b)


@pytest.mark.parametrize("model", ["mqcnn", "deepar"])
def test_save_load_predicts_identically(model, panel, tmp_path):
    fc = tiny(model=model, head="isqf", random_state=1).fit(panel)
    before = fc.predict(panel)
    folder = fc.save(tmp_path / "m")
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    loaded = qfcast.Forecaster.load(folder)
    after = loaded.predict(panel)
    pd.testing.assert_frame_equal(after.quantile(LEVELS), before.quantile(LEVELS))
    config = json.loads((folder / "config.json").read_text())
    assert config["params"]["head"]["name"] == "isqf" and config["format"] == 1
    config["format"] = 99
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"model format 99.*Retrain"):
        qfcast.Forecaster.load(folder)
    with pytest.raises(FileNotFoundError, match="not a saved qfcast model"):
        qfcast.Forecaster.load(tmp_path)


def test_future_covariates_and_static_categories():
    sc = demand_scenario(n_series=6, length=120, horizon=6, seed=0)
    fc = tiny(static=["store", "category"], future=["promo"], model="mqrnn")
    fc.fit(sc.history)
    f = fc.predict(sc.history, future_df=sc.future)
    assert len(f.quantile([0.5])) == 36
    with pytest.raises(qfcast.data.DataError, match="pass a future frame"):
        fc.predict(sc.history)


def test_training_beats_climatology_on_a_sine_panel():
    df = sine_panel(n_series=6, length=240)
    history = df.groupby("unique_id").head(216)
    actuals = df.groupby("unique_id").tail(24)["y"].to_numpy()
    fc = qfcast.Forecaster(
        horizon=24, max_epochs=15, batches_per_epoch=20, progress=False, random_state=0
    )
    q = fc.fit(history).predict(history).quantile(LEVELS).iloc[:, 2:].to_numpy().T
    from qfcast.metrics import mean_weighted_quantile_loss as wql

    ours, base = wql(actuals, q, LEVELS), wql(actuals, climatology(history, 24, LEVELS), LEVELS)
    assert ours < 0.5 * base, (ours, base)
    val = [h["val_loss"] for h in fc.history_]  # one entry per epoch; the best one is kept
    assert len(val) >= 2 and fc.history_[int(np.argmin(val))]["epoch"] == fc.best_epoch_


@pytest.mark.slow
def test_ddp_on_two_cpu_processes(tmp_path):
    script = Path(__file__).with_name("_ddp_fit.py")
    out = tmp_path / "ddp.json"
    done = subprocess.run(
        [sys.executable, str(script), str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["world_size"] == 2
    assert result["wql"] < 0.5 * result["climatology_wql"], result


@pytest.mark.parametrize(
    ("n_series", "length", "horizon", "expected"),
    [
        (2, 17_000, 24, 32),  # two long hourly series: 64 windows in all
        (1, 9_984, 48, 20),  # one series: at most a tenth of it held out
        (4, 240, 6, 4),
        (300, 150, 8, 1),  # a wide panel: one window per series is plenty
        (3, 40, 8, 1),  # too short for more than one
    ],
)
def test_automatic_validation_windows(n_series, length, horizon, expected):
    panel = Panel.from_frame(sine_panel(n_series=n_series, length=length))
    assert _validation_windows(panel, horizon) == expected


def test_bad_training_options_raise(panel):
    for name in ("train_origins", "validation_windows"):
        with pytest.raises(ValueError, match=f"{name} must be a positive int"):
            tiny(**{name: 0}).fit(panel)
