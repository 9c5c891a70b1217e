"""Panel construction: the input contract, one test per bad input, regularisation, fuzzing."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from qfcast.data import DataError, DataWarning
from qfcast.data.panel import Panel
from qfcast.data.windows import gather


def frame(n_series: int = 2, length: int = 10, freq: str = "D", **extra) -> pd.DataFrame:
    ids = np.repeat([f"s{i}" for i in range(n_series)], length)
    ds = np.tile(pd.date_range("2024-01-01", periods=length, freq=freq), n_series)
    y = np.arange(n_series * length, dtype=float)
    return pd.DataFrame({"unique_id": ids, "ds": ds, "y": y, **extra})


# --------------------------------------------------------------------------- the good path
def test_round_trip_and_layout():
    df = frame(3, 5)
    panel = Panel.from_frame(df)
    assert panel.n_series == 3 and panel.freq == "D" and panel.n_inserted == 0
    assert panel.ids.tolist() == ["s0", "s1", "s2"]
    assert panel.offsets.tolist() == [0, 5, 10, 15]
    np.testing.assert_array_equal(panel.target, df["y"].to_numpy())
    out = panel.to_frame()
    pd.testing.assert_frame_equal(out, df.astype({"ds": "datetime64[ns]"}), check_dtype=False)


def test_row_order_and_id_order_do_not_matter():
    df = frame(3, 6)
    shuffled = df.sample(frac=1.0, random_state=0)
    a, b = Panel.from_frame(df), Panel.from_frame(shuffled)
    np.testing.assert_array_equal(a.target, b.target)
    np.testing.assert_array_equal(a.ids, b.ids)


def test_input_frame_is_never_mutated():
    df = frame(2, 6, promo=np.tile([0.0, 1.0], 6))
    df.loc[3, "y"] = np.nan
    df = df.drop(index=[4, 7])  # gaps
    before = df.copy(deep=True)
    with pytest.warns(DataWarning):
        Panel.from_frame(df, future=["promo"], freq="D")
    pd.testing.assert_frame_equal(df, before)


def test_gaps_become_nan_targets_and_are_counted():
    df = frame(2, 10).drop(index=[2, 3, 15])
    with pytest.warns(DataWarning, match=r"3 timestamps missing inside series \(15.0% of"):
        panel = Panel.from_frame(df, freq="D")
    assert panel.n_inserted == 3
    assert panel.lengths.tolist() == [10, 10]
    assert np.isnan(panel.target[[2, 3, 15]]).all()
    assert np.count_nonzero(panel.observed) == len(df)


def test_nan_targets_are_kept_as_unobserved():
    df = frame(1, 6)
    df.loc[[1, 4], "y"] = np.nan
    panel = Panel.from_frame(df)
    assert panel.observed.tolist() == [True, False, True, True, False, True]


def test_series_at_different_phases_share_a_fixed_frequency():
    a = pd.DataFrame(
        {"unique_id": "a", "ds": pd.date_range("2024-01-01 00:00", periods=4, freq="h")}
    )
    b = pd.DataFrame(
        {"unique_id": "b", "ds": pd.date_range("2024-01-01 00:30", periods=4, freq="h")}
    )
    df = pd.concat([a, b]).assign(y=1.0)
    panel = Panel.from_frame(df)
    assert panel.freq == "h" and panel.n_inserted == 0
    out = panel.to_frame()
    pd.testing.assert_series_equal(
        out["ds"], df["ds"].reset_index(drop=True).astype("datetime64[ns]")
    )


@pytest.mark.parametrize(
    ("freq", "expected"), [("MS", "MS"), ("ME", "ME"), ("B", "B"), ("W-WED", "W-WED")]
)
def test_calendar_frequencies_are_inferred_and_regularised(freq, expected):
    ds = pd.date_range("2023-01-01", periods=30, freq=freq)
    df = pd.DataFrame({"unique_id": "a", "ds": ds, "y": np.arange(30.0)}).drop(index=[5, 6])
    with pytest.warns(DataWarning, match="2 timestamps missing"):
        panel = Panel.from_frame(df)
    assert panel.freq == expected and panel.n_inserted == 2
    future = panel.future_frame(3)["ds"]
    pd.testing.assert_index_equal(
        pd.DatetimeIndex(future),
        pd.date_range(ds[-1], periods=4, freq=freq)[1:].as_unit("ns"),
        check_names=False,
        check_freq=False,
    )


def test_old_pandas_aliases_are_accepted():
    ds = pd.date_range("2023-01-31", periods=12, freq="ME")
    df = pd.DataFrame({"unique_id": "a", "ds": ds, "y": 1.0})
    assert Panel.from_frame(df, freq="M").freq == "ME"


def test_time_zone_is_kept_and_daylight_saving_respected():
    ds = pd.date_range("2024-03-29", periods=5, freq="D", tz="Europe/Berlin")  # DST on 31 March
    df = pd.DataFrame({"unique_id": "a", "ds": ds, "y": np.arange(5.0)})
    panel = Panel.from_frame(df)
    assert panel.tz == "Europe/Berlin" and panel.n_inserted == 0
    future = pd.DatetimeIndex(panel.future_frame(2)["ds"])
    assert [t.hour for t in future] == [0, 0]
    hourly = pd.date_range("2024-03-30 22:00", periods=6, freq="h", tz="Europe/Berlin")
    panel = Panel.from_frame(pd.DataFrame({"unique_id": "a", "ds": hourly, "y": 1.0}))
    assert panel.n_inserted == 0 and panel.lengths.tolist() == [6]


def test_integer_time_column():
    df = pd.DataFrame({"unique_id": "a", "ds": [0, 2, 4, 8], "y": [1.0, 2.0, 3.0, 4.0]})
    with pytest.warns(DataWarning, match="1 timestamps missing"):
        panel = Panel.from_frame(df)
    assert panel.freq == 2 and panel.n_inserted == 1
    assert panel.future_frame(2)["ds"].tolist() == [10, 12]


def test_static_covariates_from_frame_and_from_static_df():
    df = frame(3, 4, store=np.repeat(["x", "y", "x"], 4), size=np.repeat([1.0, 2.0, 3.0], 4))
    panel = Panel.from_frame(df, static=["store", "size"])
    assert panel.categories["store"].tolist() == ["x", "y"]
    assert panel.static_cat[:, 0].tolist() == [0, 1, 0]
    assert panel.static_real[:, 0].tolist() == [1.0, 2.0, 3.0]
    assert panel.cardinalities == (3,)  # two values + "unknown"
    static_df = pd.DataFrame({"unique_id": ["s2", "s0", "s1"], "store": ["x", "x", "y"]})
    other = Panel.from_frame(frame(3, 4), static=["store"], static_df=static_df)
    np.testing.assert_array_equal(other.static_cat, panel.static_cat[:, :1])
    pd.testing.assert_frame_equal(
        panel.static_frame(),
        df.drop_duplicates("unique_id")[["unique_id", "store", "size"]].reset_index(drop=True),
        check_dtype=False,
    )


def test_unseen_static_category_gets_the_unknown_code():
    train = Panel.from_frame(frame(2, 4, store=np.repeat(["x", "y"], 4)), static=["store"])
    new = frame(1, 4, store="z")
    with pytest.warns(DataWarning, match="not seen in training"):
        panel = Panel.from_frame(new, static=["store"], categories=train.categories)
    assert panel.static_cat[:, 0].tolist() == [2]


def test_covariates_at_inserted_steps_carry_forward_with_a_warning():
    df = frame(2, 6, promo=[0, 1, 2, 3, 4, 5] * 2, temp=np.arange(12.0))
    df = df.drop(index=[2, 3, 8])
    with pytest.warns(DataWarning, match="3 timestamps missing.*'temp', 'promo' carry"):
        panel = Panel.from_frame(df, past=["temp"], future=["promo"])
    assert panel.future[:, 0].tolist() == [0, 1, 1, 1, 4, 5, 0, 1, 1, 3, 4, 5]
    assert panel.past[:6, 0].tolist() == [0, 1, 1, 1, 4, 5]


def test_select_and_drop_last():
    panel = Panel.from_frame(frame(3, 5))
    tail = panel.drop_last(2)
    assert tail.lengths.tolist() == [3, 3, 3]
    np.testing.assert_array_equal(tail.target, [0, 1, 2, 5, 6, 7, 10, 11, 12])
    sub = panel.select([2, 0])
    assert sub.ids.tolist() == ["s2", "s0"]
    np.testing.assert_array_equal(sub.target[:5], np.arange(10, 15))
    assert panel.drop_last(9).lengths.tolist() == [0, 0, 0]


def test_future_covariates():
    panel = Panel.from_frame(frame(2, 5, promo=0.0), future=["promo"])
    future = panel.future_frame(3).assign(promo=[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    extra = future.iloc[:1].assign(ds=pd.Timestamp("2030-01-01"), promo=99.0)  # beyond: ignored
    values = panel.future_covariates(pd.concat([extra, future.iloc[::-1]]), 3)
    assert values[..., 0].tolist() == [[1, 2, 3], [4, 5, 6]]


def test_polars_like_objects_are_converted():
    class FakePolars:
        def __init__(self, df):
            self.df = df

        def to_pandas(self):
            return self.df

    panel = Panel.from_frame(FakePolars(frame(1, 4)))
    assert panel.n_series == 1


def test_columns_can_be_renamed():
    df = frame(1, 4).rename(columns={"unique_id": "item", "ds": "date", "y": "sales"})
    panel = Panel.from_frame(df, id_col="item", time_col="date", target_col="sales")
    assert list(panel.to_frame().columns) == ["item", "date", "sales"]


# --------------------------------------------------------------------------- bad input
def raises(match: str, df: pd.DataFrame, **kwargs) -> DataError:
    with pytest.raises(DataError, match=match) as info:
        Panel.from_frame(df, **kwargs)
    return info.value


def test_missing_column_is_named():
    error = raises("missing column 'y'", frame().drop(columns="y"))
    assert "'unique_id', 'ds'" in str(error) and "target_col=" in str(error)


def test_non_numeric_target_names_rows():
    df = frame(2, 3).astype({"y": object})
    df.loc[4, "y"] = "n/a"
    error = raises("column 'y' .*must be numeric", df)
    assert "n/a" in str(error) and "s1" in str(error)
    raises("convert them first with pd.to_numeric", frame(1, 3).astype({"y": str}))
    numbers = frame(1, 3).astype({"y": object})  # Python floats in an object column are fine
    assert Panel.from_frame(numbers).target.tolist() == [0.0, 1.0, 2.0]


def test_infinite_target_names_series_and_rows():
    df = frame(3, 4)
    df.loc[9, "y"] = -np.inf
    error = raises("±inf in 1 rows", df)
    assert "'s2'" in str(error) and "-inf" in str(error)


def test_duplicate_rows_name_series_and_rows():
    df = frame(2, 4)
    df = pd.concat([df, df.iloc[[5]]])
    error = raises("2 rows repeat a \\('unique_id', 'ds'\\) pair", df)
    assert "'s1'" in str(error) and "2024-01-02" in str(error)


def test_unparseable_timestamps_name_rows():
    df = frame(2, 3).astype({"ds": str})
    df.loc[4, "ds"] = "yesterday"
    error = raises("1 values that are not dates", df)
    assert "yesterday" in str(error) and "'s1'" in str(error)


def test_mixed_date_formats_are_refused():
    df = frame(1, 3).astype({"ds": str})
    df.loc[2, "ds"] = "01/03/2024"
    raises("mixes date formats", df)


def test_mixed_time_zones_are_refused():
    df = frame(1, 3).astype({"ds": str})
    df["ds"] = ["2024-03-30T00:00+01:00", "2024-03-31T00:00+01:00", "2024-04-01T00:00+02:00"]
    error = raises("mixes time zones or UTC offsets", df)
    assert "+01:00" in str(error) and "+02:00" in str(error)
    naive_and_aware = df.assign(ds=["2024-03-30T00:00+01:00", "2024-03-31", "2024-04-01"])
    raises("mixes time zones", naive_and_aware)


def test_frequency_that_cannot_be_inferred():
    df = pd.DataFrame({"unique_id": "a", "ds": pd.to_datetime(["2024-01-01"]), "y": [1.0]})
    raises("cannot infer the frequency of column 'ds'", df)


def test_frequency_that_contradicts_the_data():
    hourly = frame(2, 30, freq="h")
    error = raises("off the regular grid of the given freq='D'", hourly, freq="D")
    assert "'s0'" in str(error)
    raises(
        "contradicts the data.*multiples of 24 steps.*look like freq='D'", frame(2, 30), freq="h"
    )
    sparse_daily = frame(1, 30).iloc[[0, 1, 3, 7, 8, 15, 29]]  # gaps of 1, 2, 4, … days: fine
    with pytest.warns(DataWarning, match=r"23 timestamps missing inside series \(76.7% of"):
        assert Panel.from_frame(sparse_daily, freq="D").n_inserted == 23
    every_third = frame(1, 30).iloc[::3]
    raises("look like freq='3D'", every_third, freq="D")
    raises("look like freq=6", frame(1, 10).assign(ds=range(0, 60, 6)), freq=2)
    raises("far finer than the data", frame(1, 400), freq="s")
    raises("not a pandas frequency", frame(), freq="fortnightly")
    ds_int = frame(1, 5).assign(ds=range(5))
    raises("freq must be an integer step", ds_int, freq="D")
    raises("freq must be a pandas frequency", frame(), freq=3)
    raises(
        "off the regular grid of the given freq='W-MON'", frame(1, 40, freq="W-SUN"), freq="W-MON"
    )


def test_other_bad_inputs():
    raises("has no rows", frame().iloc[:0])
    df = frame()
    df.loc[2, "unique_id"] = None
    raises("'unique_id' .*missing in 1 rows", df)
    df = frame()
    df.loc[2, "ds"] = pd.NaT
    raises("'ds' .*missing in 1 rows", df)
    raises("one value per series", frame(2, 3, store=list("abcdef")), static=["store"])
    df = frame(2, 3, price=1.0)
    df.loc[1, "price"] = np.nan
    raises("column 'price' .*missing in 1 rows.*fill them", df, past=["price"])
    raises("two roles", frame(), past=["y"])
    raises(
        "static frame has no row for series 's1'",
        frame(),
        static=["k"],
        static_df=pd.DataFrame({"unique_id": ["s0"], "k": ["a"]}),
    )


def test_future_frame_errors():
    panel = Panel.from_frame(frame(2, 5, promo=0.0), future=["promo"])
    future = panel.future_frame(3).assign(promo=1.0)
    with pytest.raises(DataError, match="pass a future frame"):
        panel.future_covariates(None, 3)
    with pytest.raises(DataError, match="future frame is missing column 'promo'"):
        panel.future_covariates(future.drop(columns="promo"), 3)
    with pytest.raises(DataError, match=r"lacks 2 of the 6 .*'s1'"):
        panel.future_covariates(future.iloc[:4], 3)
    with pytest.raises(DataError, match="repeats"):
        panel.future_covariates(pd.concat([future, future.iloc[[0]]]), 3)
    with pytest.raises(DataError, match="series the history does not: 'zz'"):
        panel.future_covariates(pd.concat([future, future.iloc[[0]].assign(unique_id="zz")]), 3)
    nan = future.copy()
    nan.loc[2, "promo"] = np.nan
    with pytest.raises(DataError, match=r"'promo' .*missing in 1 rows"):
        panel.future_covariates(nan, 3)


# --------------------------------------------------------------------------- fuzzing
@st.composite
def messy_frames(draw):
    n_series = draw(st.integers(1, 4))
    parts = []
    for i in range(n_series):
        length = draw(st.integers(1, 25))
        start = draw(st.integers(0, 10))
        keep = draw(st.lists(st.booleans(), min_size=length, max_size=length))
        steps = np.arange(start, start + length)[np.array(keep, dtype=bool)]
        if len(steps) == 0:
            continue
        values = draw(
            st.lists(
                st.one_of(st.floats(-1e6, 1e6), st.just(float("nan"))),
                min_size=len(steps),
                max_size=len(steps),
            )
        )
        parts.append(pd.DataFrame({"unique_id": i, "step": steps, "y": values}))
    if not parts:
        parts.append(pd.DataFrame({"unique_id": [0], "step": [0], "y": [1.0]}))
    df = pd.concat(parts, ignore_index=True)
    if draw(st.integers(0, 3)) == 0:  # a duplicate row
        df = pd.concat([df, df.sample(1, random_state=draw(st.integers(0, 99)))])
    df["ds"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(df["step"], unit="D")
    dtype = draw(st.sampled_from(["float64", "float32", "object", "Float64"]))
    df["y"] = df["y"].astype(dtype)
    if draw(st.booleans()):
        df["unique_id"] = "id" + df["unique_id"].astype(str)
    return df.sample(frac=1.0, random_state=draw(st.integers(0, 99))).drop(columns="step")


@given(df=messy_frames(), give_freq=st.booleans())
def test_fuzz_raise_our_error_or_account_for_every_row(df, give_freq):
    """Either a DataError, or windows whose masks hold exactly the non-NaN input rows."""
    before = df.copy()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataWarning)  # gaps are announced; expected here
            panel = Panel.from_frame(df, freq="D" if give_freq else None)
    except DataError as error:
        event(f"DataError: {str(error).split(';')[0][:40]}")
        pd.testing.assert_frame_equal(df, before)
        return
    event("panel built")
    pd.testing.assert_frame_equal(df, before)
    y = pd.to_numeric(df["y"].astype(object), errors="coerce").astype(float)
    context = int(panel.lengths.max())
    windows = gather(panel, np.arange(panel.n_series), panel.lengths, context, 1)
    assert int(windows.past_observed.sum()) == int(y.notna().sum())
    # every observed value sits at its own timestamp
    out = panel.to_frame().dropna(subset=["y"])
    merged = df.assign(y=y).dropna(subset=["y"]).merge(out, on=["unique_id", "ds"])
    assert len(merged) == len(out) == int(y.notna().sum())
    np.testing.assert_allclose(merged["y_x"], merged["y_y"], rtol=1e-6)
