"""Windows, scalers and features, each against a slow obvious reference."""

from __future__ import annotations

import warnings
from dataclasses import fields

import numpy as np
import pandas as pd
import pytest
import torch

from qfcast.data import (
    DataError,
    DataWarning,
    IdentityScaler,
    MeanAbsScaler,
    Panel,
    RobustScaler,
    StaticEmbedding,
    WindowSampler,
    calendar_features,
    gather,
    inference_batches,
    inference_windows,
    split_validation,
    time_feature_names,
    validation_windows,
)
from qfcast.data import windows as windows_module
from qfcast.data.features import age_feature


def panel_with_covariates(seed: int = 0) -> tuple[Panel, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    parts = []
    for i, (length, start) in enumerate(
        [(40, "2024-01-01"), (12, "2024-01-20"), (25, "2024-01-05")]
    ):
        ds = pd.date_range(start, periods=length, freq="h")
        parts.append(
            pd.DataFrame(
                {
                    "unique_id": f"s{i}",
                    "ds": ds,
                    "y": rng.normal(10 * (i + 1), 1.0, length),
                    "temp": rng.normal(size=length),
                    "promo": rng.integers(0, 2, length).astype(float),
                    "store": ["a", "b", "a"][i],
                }
            )
        )
    df = pd.concat(parts, ignore_index=True)
    df.loc[[3, 45], "y"] = np.nan
    panel = Panel.from_frame(df, static=["store"], past=["temp"], future=["promo"])
    return panel, df


def reference_window(df: pd.DataFrame, sid: str, origin: int, context: int, horizon: int):
    """Slow: the window read off the long frame with pandas, one series at a time."""
    rows = df[df.unique_id == sid].reset_index(drop=True)
    y = np.zeros(context + horizon)
    seen = np.zeros(context + horizon, dtype=bool)
    temp = np.zeros(context + horizon)
    for j, step in enumerate(range(origin - context, origin + horizon)):
        if 0 <= step < len(rows):
            seen[j] = not np.isnan(rows.y[step])
            y[j] = 0.0 if np.isnan(rows.y[step]) else rows.y[step]
            temp[j] = rows.temp[step]
    return y, seen, temp


def test_gather_matches_a_slow_reference():
    panel, df = panel_with_covariates()
    series = np.array([0, 1, 2, 1, 0])
    origin = np.array([1, 5, 24, 12, 39])
    w = gather(panel, series, origin, context=8, horizon=3)
    for b, (s, t) in enumerate(zip(series, origin, strict=True)):
        y, seen, temp = reference_window(df, f"s{s}", t, 8, 3)
        got = torch.cat([w.past_target[b], w.future_target[b]]).numpy()
        np.testing.assert_allclose(got, y, rtol=1e-6)
        mask = torch.cat([w.past_observed[b], w.future_observed[b]]).numpy()
        np.testing.assert_array_equal(mask, seen)
        np.testing.assert_allclose(w.past_dynamic[b, :, 0].numpy(), temp[:8], rtol=1e-6)
    assert w.past_dynamic.shape == (5, 8, 2) and w.future_dynamic.shape == (5, 3, 1)
    assert w.past_time.shape == (5, 8, 5)  # 4 hourly calendar features + age
    assert w.static_cat[:, 0].tolist() == [0, 1, 0, 1, 0]


def test_gather_in_pieces_equals_gather_at_once(monkeypatch):
    panel, _ = panel_with_covariates()
    series, origin = np.array([0, 1, 2, 2, 0]), np.array([30, 8, 20, 21, 5])
    whole = gather(panel, series, origin, context=8, horizon=3)
    monkeypatch.setattr(windows_module, "_CHUNK_ELEMENTS", 2 * 11)  # two windows per piece
    pieces = gather(panel, series, origin, context=8, horizon=3)
    for f in fields(whole):
        torch.testing.assert_close(getattr(pieces, f.name), getattr(whole, f.name))


def test_gathered_time_features_follow_the_timestamps():
    panel, _ = panel_with_covariates()
    w = gather(panel, np.array([1]), np.array([4]), context=4, horizon=2)
    stamps = pd.date_range("2024-01-20", periods=6, freq="h")
    hour = torch.cat([w.past_time[0, :, 0], w.future_time[0, :, 0]]).numpy()
    np.testing.assert_allclose(hour, stamps.hour / 23 - 0.5, rtol=1e-6)
    age = torch.cat([w.past_time[0, :, -1], w.future_time[0, :, -1]]).numpy()
    np.testing.assert_allclose(age, np.log10(2 + np.arange(6)), rtol=1e-6)


def test_sampler_windows_lie_inside_series_and_are_repeatable():
    panel, _ = panel_with_covariates()
    with pytest.warns(DataWarning, match="left-padded"):
        a = WindowSampler(panel, context=16, horizon=4, seed=3)
        b = WindowSampler(panel, context=16, horizon=4, seed=3)
    wa, wb = a.sample(256), b.sample(256)
    torch.testing.assert_close(wa.past_target, wb.past_target)
    lengths = torch.from_numpy(panel.lengths)[wa.series]
    assert bool((wa.origin >= 1).all()) and bool((wa.origin + 4 <= lengths).all())
    assert a.n_windows == (40 - 4) + (12 - 4) + (25 - 4)


def test_sampler_weighting():
    panel, _ = panel_with_covariates()
    counts = np.array([36, 8, 21])
    n = 20_000
    uniform = np.bincount(WindowSampler(panel, 8, 4, seed=0).draw(n)[0], minlength=3) / n
    by_length = (
        np.bincount(WindowSampler(panel, 8, 4, weighting="length", seed=0).draw(n)[0], minlength=3)
        / n
    )
    # binomial standard error at n = 20000 is below 0.0036; 0.015 is over four of them
    np.testing.assert_allclose(uniform, [1 / 3] * 3, atol=0.015)
    np.testing.assert_allclose(by_length, counts / counts.sum(), atol=0.015)


def test_short_series_are_padded_and_said_once():
    panel, _ = panel_with_covariates()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sampler = WindowSampler(panel, context=30, horizon=4, seed=0)
        for _ in range(3):
            sampler.sample(64)
    messages = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
    assert len(messages) == 1 and "2 series are shorter than the 30-step context" in messages[0]
    w = sampler.sample(512)
    pad = w.origin.unsqueeze(1) - 30 + torch.arange(30) < 0
    assert bool(pad.any()) and not bool(w.past_observed[pad].any())
    assert float(w.past_target[pad].abs().sum()) == 0.0


def test_series_too_short_to_train_are_left_out_by_name():
    panel, _ = panel_with_covariates()
    with (
        pytest.warns(DataWarning, match="1 series have fewer than 21 steps.*'s1'"),
        pytest.warns(DataWarning, match="left-padded"),
    ):
        sampler = WindowSampler(panel, context=8, horizon=20, seed=0)
    assert set(sampler.draw(200)[0].tolist()) == {0, 2}
    with pytest.raises(DataError, match="no series is long enough"):
        WindowSampler(panel, context=8, horizon=60)


def test_validation_and_inference_windows():
    panel, df = panel_with_covariates()
    val = validation_windows(panel, context=6, horizon=5)
    assert val.origin.tolist() == [35, 7, 20]
    last = df.groupby("unique_id").y.last().to_numpy()
    np.testing.assert_allclose(val.future_target[:, -1].numpy(), last, rtol=1e-6)
    future = panel.future_frame(5).assign(promo=np.arange(15.0))
    inf = inference_windows(panel, context=6, horizon=5, future_df=future)
    assert inf.origin.tolist() == [40, 12, 25]
    assert not bool(inf.future_observed.any())
    np.testing.assert_allclose(inf.future_dynamic[..., 0].numpy(), np.arange(15.0).reshape(3, 5))
    np.testing.assert_allclose(inf.past_target[:, -1].numpy(), last, rtol=1e-6)
    with pytest.raises(DataError, match="pass a future frame"):
        inference_windows(panel, 6, 5)
    chunks = list(inference_batches(panel, context=6, horizon=5, future_df=future, batch_size=2))
    assert [len(c) for c in chunks] == [2, 1]
    for f in fields(inf):
        torch.testing.assert_close(
            torch.cat([getattr(c, f.name) for c in chunks]), getattr(inf, f.name)
        )


def test_split_validation_holds_out_the_last_horizon():
    panel, _ = panel_with_covariates()
    train, val = split_validation(panel, context=6, horizon=5)
    assert train.lengths.tolist() == [35, 7, 20]
    last_train = torch.from_numpy(train.target[train.offsets[1:] - 1]).float()
    torch.testing.assert_close(val.past_target[:, -1], last_train)


def test_several_validation_windows_per_series_step_back_one_horizon_each():
    panel, _ = panel_with_covariates()  # lengths 40, 12, 25
    train, val = split_validation(panel, context=6, horizon=5, windows=3)
    assert train.lengths.tolist() == [25, 0, 10]
    # newest first per series; the short series has room for two windows (origin ≥ 1)
    assert val.origin.tolist() == [35, 30, 25, 7, 2, 20, 15, 10]
    one = validation_windows(panel, context=6, horizon=5)
    torch.testing.assert_close(val.future_target[[0, 3, 5]], one.future_target)
    # the window before the newest ends where the newest begins
    torch.testing.assert_close(val.future_target[1, -1], val.past_target[0, -1])
    with pytest.warns(DataWarning) as caught:  # emptied: announced, then never drawn
        sampler = WindowSampler(train, context=6, horizon=5, seed=0)
    assert any("left out of training windows: 's1'" in str(w.message) for w in caught)
    assert len(sampler.sample(16)) == 16
    with pytest.raises(ValueError, match="windows must be a positive int"):
        validation_windows(panel, context=6, horizon=5, windows=0)


# --------------------------------------------------------------------------- scalers
def slow_scale(y, seen, kind):
    locs, scales = [], []
    for row, mask in zip(y, seen, strict=True):
        values = row[mask]
        if kind == "meanabs":
            loc, scale = 0.0, np.abs(values).mean() if len(values) else 0.0
        else:
            loc = np.median(values) if len(values) else 0.0
            q75, q25 = np.percentile(values, [75, 25]) if len(values) else (0.0, 0.0)
            scale = q75 - q25 if q75 > q25 else (np.abs(values - loc).mean() if len(values) else 0)
        locs.append(loc)
        scales.append(scale if scale > 0 else 1.0)
    return np.array(locs), np.array(scales)


@pytest.mark.parametrize(
    ("kind", "scaler"), [("meanabs", MeanAbsScaler()), ("robust", RobustScaler())]
)
def test_scalers_match_a_slow_reference(kind, scaler):
    rng = np.random.default_rng(1)
    y = rng.standard_t(3, size=(64, 20)) * rng.uniform(0.1, 100, (64, 1)) + rng.normal(
        0, 50, (64, 1)
    )
    seen = rng.random((64, 20)) > 0.3
    seen[0] = False  # nothing observed: default scale
    seen[1, :] = False
    seen[1, 3] = True  # one observation
    y[2] = 0.0  # all zeros
    y[3, ~seen[3]] = 1e9  # unobserved values must not count
    loc, scale = scaler(torch.from_numpy(y), torch.from_numpy(seen))
    ref_loc, ref_scale = slow_scale(y, seen, kind)
    np.testing.assert_allclose(loc.squeeze(1).numpy(), ref_loc, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(scale.squeeze(1).numpy(), ref_scale, rtol=1e-9)


def test_scale_floor_batch_default_and_inverse():
    y = torch.tensor([[1e-14, 0.0], [0.0, 0.0], [4.0, 8.0]])
    seen = torch.ones_like(y, dtype=torch.bool)
    scale = MeanAbsScaler()(y, seen).scale.flatten()
    torch.testing.assert_close(scale, torch.tensor([1e-10, 1.0, 6.0]), rtol=1e-6, atol=0)
    gluonts = MeanAbsScaler(default_scale=None)(y, seen).scale.flatten()
    torch.testing.assert_close(gluonts, torch.tensor([1e-10, 3.0, 6.0]), rtol=1e-6, atol=0)
    s = RobustScaler()(y, seen)
    torch.testing.assert_close(s.inverse(s.transform(y)), y)
    ident = IdentityScaler()(y, seen)
    assert ident.scale.flatten().tolist() == [1.0] * 3 and ident.loc.abs().sum() == 0


# --------------------------------------------------------------------------- features
@pytest.mark.parametrize("tz", [None, "America/New_York"])
def test_calendar_features_match_pandas(tz):
    stamps = pd.date_range("2023-12-25", periods=24 * 20, freq="37min", tz=tz)
    utc = (stamps.tz_convert("UTC").tz_localize(None) if tz else stamps).as_unit("ns").asi8
    names = [
        "second_of_minute",
        "minute_of_hour",
        "hour_of_day",
        "day_of_week",
        "day_of_month",
        "day_of_year",
        "week_of_year",
        "month_of_year",
    ]
    got = calendar_features(utc, names, tz)
    expected = (
        np.stack(
            [
                stamps.second / 59,
                stamps.minute / 59,
                stamps.hour / 23,
                stamps.day_of_week / 6,
                (stamps.day - 1) / 30,
                (stamps.day_of_year - 1) / 365,
                ((stamps.day_of_year - 1) // 7) / 52,
                (stamps.month - 1) / 11,
            ],
            axis=1,
        )
        - 0.5
    )
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert got.min() >= -0.5 and got.max() <= 0.5


def test_feature_sets_follow_frequency():
    from qfcast.data.timeindex import TimeIndex

    def names(freq):
        return time_feature_names(TimeIndex.build(freq, None, 0))

    assert names("30min") == (
        "minute_of_hour",
        "hour_of_day",
        "day_of_week",
        "day_of_month",
        "day_of_year",
    )
    assert names("D") == names("B") == ("day_of_week", "day_of_month", "day_of_year")
    assert names("W-SUN") == ("day_of_month", "week_of_year")
    assert names("QS") == ("month_of_year",) and names("YS") == ()
    assert time_feature_names(TimeIndex.build(1, None, 0)) == ()
    np.testing.assert_allclose(age_feature(np.array([-5, 0, 8])), np.log10([2, 2, 10]))


def test_static_embedding():
    torch.manual_seed(0)
    emb = StaticEmbedding([3, 120])
    assert emb.out_features == 2 + 50
    codes = torch.tensor([[0, 5], [2, 119]])
    out = emb(codes)
    assert out.shape == (2, 52)
    torch.testing.assert_close(out[1, :2], emb.tables[0].weight[2])
    assert StaticEmbedding([])(torch.zeros(4, 0, dtype=torch.long)).shape == (4, 0)
    with pytest.raises(ValueError, match="one embedding size per categorical column"):
        StaticEmbedding([3], [2, 2])
