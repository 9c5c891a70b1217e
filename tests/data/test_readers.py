"""File readers: synthetic edge cases in tmp_path, then the facts of the real shared files."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qfcast.data.errors import DataError
from qfcast.data.readers import (
    TsfData,
    read_gluonts_dataset,
    read_gluonts_jsonl,
    read_long,
    read_lstnet,
    read_monash_text_split,
    read_table,
    read_tsf,
    read_wide,
)


def _lengths(frame: pd.DataFrame) -> pd.Series:
    return frame.groupby("unique_id", sort=False).size()


def _assert_long(frame: pd.DataFrame) -> None:
    assert list(frame.columns[:3]) == ["unique_id", "ds", "y"]
    assert frame["unique_id"].dtype == pd.Series(["a"]).astype("str").dtype
    assert frame["y"].dtype == np.float64
    assert frame["unique_id"].is_monotonic_increasing
    assert not frame.duplicated(["unique_id", "ds"]).any()
    assert isinstance(frame.index, pd.RangeIndex)


# --------------------------------------------------------------------------- read_table


def test_read_table_csv_gz_and_parquet(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1, 2], "b": [0.5, 1.5]})
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame.to_csv(tmp_path / "t.csv.gz", index=False)
    frame.to_parquet(tmp_path / "t.parquet")
    for name in ("t.csv", "t.csv.gz", "t.parquet"):
        pd.testing.assert_frame_equal(read_table(tmp_path / name), frame)


def test_read_table_bad_extension_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "t.xlsx").write_text("x")
    with pytest.raises(DataError, match=r"t\.xlsx: unknown table extension.*\.csv"):
        read_table(tmp_path / "t.xlsx")
    with pytest.raises(FileNotFoundError, match=r"nope\.csv"):
        read_table(tmp_path / "nope.csv")


# --------------------------------------------------------------------------- read_long


def test_read_long_renames_parses_sorts_and_copies() -> None:
    src = pd.DataFrame(
        {"sku": [2, 1, 1], "t": ["2020-01-02", "2020-01-02", "2020-01-01"], "v": [1, 2, 3]}
    )
    src["extra"] = [7.0, 8.0, 9.0]
    before = src.copy()
    out = read_long(src, id_col="sku", time_col="t", target_col="v")
    pd.testing.assert_frame_equal(src, before)  # the caller's frame is untouched
    _assert_long(out)
    assert out["unique_id"].tolist() == ["1", "1", "2"]
    assert out["ds"].tolist() == [
        pd.Timestamp(d) for d in ("2020-01-01", "2020-01-02", "2020-01-02")
    ]
    assert out["ds"].dtype == "datetime64[ns]"
    assert out["y"].tolist() == [3.0, 2.0, 1.0]
    assert out["extra"].tolist() == [9.0, 8.0, 7.0]


def test_read_long_integer_steps_path_and_to_pandas(tmp_path: Path) -> None:
    src = pd.DataFrame({"unique_id": ["a", "a"], "ds": [0, 1], "y": [1, 2]})
    src.to_parquet(tmp_path / "l.parquet")
    assert read_long(tmp_path / "l.parquet")["ds"].tolist() == [0, 1]

    class FakePolars:  # anything with .to_pandas() is accepted
        def to_pandas(self) -> pd.DataFrame:
            return src.copy()

    out = read_long(FakePolars())
    assert out["y"].tolist() == [1.0, 2.0] and out["ds"].dtype == np.int64
    as_objects = src.assign(ds=pd.Series([0, 1], dtype=object))
    assert read_long(as_objects)["ds"].tolist() == [0, 1]  # not taken for epoch nanoseconds


def test_read_long_errors_name_the_column() -> None:
    src = pd.DataFrame({"id": ["a"], "time": ["2020-01-01"], "value": [1.0]})
    with pytest.raises(DataError, match=r"missing column\(s\) 'ds', 'y'.*'id', 'time', 'value'"):
        read_long(src, id_col="id")
    bad = pd.DataFrame({"unique_id": ["a", "a"], "ds": [0, 1], "y": ["1", "oops"]})
    with pytest.raises(DataError, match=r"column 'y'.*'oops'"):
        read_long(bad)
    clash = pd.DataFrame({"id": ["a"], "unique_id": ["b"], "ds": [0], "y": [1.0]})
    with pytest.raises(DataError, match="'unique_id' would be overwritten"):
        read_long(clash, id_col="id")
    bad_time = pd.DataFrame({"unique_id": ["a"], "ds": ["not a date"], "y": [1.0]})
    with pytest.raises(DataError, match="'not a date'"):
        read_long(bad_time)


# --------------------------------------------------------------------------- read_wide


def test_read_wide_without_time_column(tmp_path: Path) -> None:
    (tmp_path / "w.csv").write_text('"Y"\n10\n11\n12\n')
    steps = read_wide(tmp_path / "w.csv")
    _assert_long(steps)
    assert steps["ds"].tolist() == [0, 1, 2] and steps["unique_id"].tolist() == ["Y"] * 3
    stamped = read_wide(tmp_path / "w.csv", start="2000-06-05", freq="30min", ids=["taylor"])
    assert stamped["ds"].iloc[-1] == pd.Timestamp("2000-06-05 01:00")
    assert stamped["unique_id"].iloc[0] == "taylor"
    with pytest.raises(DataError, match="give both start= and freq="):
        read_wide(tmp_path / "w.csv", start="2000-01-01")


def test_read_wide_with_time_column_and_errors() -> None:
    src = pd.DataFrame({"date": ["2020-01-02", "2020-01-01"], "b": [1, 2], "a": [3.5, 4.5]})
    out = read_wide(src, time_col="date", id_name="series", value_name="value")
    assert list(out.columns) == ["series", "ds", "value"]
    assert out["series"].tolist() == ["a", "a", "b", "b"]
    assert out["value"].tolist() == [4.5, 3.5, 2.0, 1.0]  # rows sorted by time
    with pytest.raises(DataError, match=r"no time column 'time'.*'date'"):
        read_wide(src, time_col="time")
    with pytest.raises(DataError, match="either time_col= or start="):
        read_wide(src, time_col="date", start="2020-01-01", freq="D")
    with pytest.raises(DataError, match=r"column 'b'.*'x'"):
        read_wide(src.assign(b=["1", "x"]), time_col="date")
    with pytest.raises(DataError, match="3 ids given for 2 series"):
        read_wide(src, time_col="date", ids=["p", "q", "r"])
    with pytest.raises(DataError, match="repeats timestamps"):
        read_wide(src.assign(date=["2020-01-01"] * 2), time_col="date")


# --------------------------------------------------------------------------- read_tsf

_TSF = """# Dataset Information
# A comment with an en dash \u2013 (Latin-1 in one copy)

@relation demo
@attribute series_name string
@attribute region string
@attribute weight numeric
@attribute start_timestamp date
@frequency yearly
@horizon 2
@missing true
@equallength false
@data
B:north:2.5:1990-07-01 00-00-00:5,?,7
# a comment between series

A:south:1:1980-07-01 00-00-00:1.5,2,3,4
"""


def _check_demo_tsf(data: TsfData) -> None:
    frame = data.frame
    _assert_long(frame)
    assert list(frame.columns) == ["unique_id", "ds", "y", "region", "weight"]
    assert frame["unique_id"].tolist() == ["A"] * 4 + ["B"] * 3
    assert frame["ds"].iloc[0] == pd.Timestamp("1980-07-01")
    assert frame["ds"].iloc[3] == pd.Timestamp("1983-07-01")
    assert frame["ds"].iloc[-1] == pd.Timestamp("1992-07-01")
    np.testing.assert_array_equal(frame["y"], [1.5, 2, 3, 4, 5, np.nan, 7])
    assert frame["region"].tolist() == ["south"] * 4 + ["north"] * 3
    assert frame["weight"].tolist() == [1.0] * 4 + [2.5] * 3
    assert data.freq == "YS-JUL" and data.horizon == 2
    assert data.missing is True and data.equal_length is False
    assert data.attributes == [
        ("series_name", "string"),
        ("region", "string"),
        ("weight", "numeric"),
        ("start_timestamp", "date"),
    ]
    assert data.metadata["relation"] == "demo" and data.metadata["frequency"] == "yearly"


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_read_tsf_comments_missing_crlf_encodings(
    tmp_path: Path, encoding: str, newline: str
) -> None:
    text = _TSF.replace("\u2013", "-") if encoding == "latin-1" else _TSF
    data = text.replace("\n", newline).encode(encoding)
    if encoding == "latin-1":
        data = data.replace(b"en dash -", b"en dash \x96")  # not valid UTF-8
    (tmp_path / "d.tsf").write_bytes(data)
    _check_demo_tsf(read_tsf(tmp_path / "d.tsf"))


def test_read_tsf_gzip_detected_by_magic(tmp_path: Path) -> None:
    (tmp_path / "d.tsf.gz").write_bytes(gzip.compress(_TSF.encode()))
    (tmp_path / "misnamed.tsf").write_bytes(gzip.compress(_TSF.encode()))
    _check_demo_tsf(read_tsf(tmp_path / "d.tsf.gz"))
    _check_demo_tsf(read_tsf(tmp_path / "misnamed.tsf"))


def _tsf(tmp_path: Path, header: str, rows: str) -> Path:
    path = tmp_path / "x.tsf"
    path.write_text(f"{header}\n@data\n{rows}\n")
    return path


def test_read_tsf_without_timestamps_gives_integer_steps(tmp_path: Path) -> None:
    path = _tsf(tmp_path, "@attribute series_name string\n@frequency 4_seconds", "s1:1,2\ns0:3")
    data = read_tsf(path)
    assert data.frame["ds"].tolist() == [0, 0, 1] and data.frame["ds"].dtype == np.int64
    assert data.frame["unique_id"].tolist() == ["s0", "s1", "s1"]
    assert data.freq == "4s" and data.horizon is None and data.missing is False


@pytest.mark.parametrize(
    ("monash", "start", "freq", "second"),
    [
        ("quarterly", "2000-02-01 00-00-00", "QS-FEB", "2000-05-01"),
        ("monthly", "2000-01-01 00-00-00", "MS", "2000-02-01"),
        ("weekly", "2020-01-01 00-00-00", "W-WED", "2020-01-08"),
        ("daily", "2020-01-01 00-00-00", "D", "2020-01-02"),
        ("hourly", "2020-01-01 00-00-00", "h", "2020-01-01 01:00"),
        ("half_hourly", "2020-01-01 00-00-00", "30min", "2020-01-01 00:30"),
        ("10_minutes", "2020-01-01 00-00-00", "10min", "2020-01-01 00:10"),
        ("minutely", "2020-01-01 00-00-00", "min", "2020-01-01 00:01"),
        ("4_seconds", "2020-01-01 00-00-00", "4s", "2020-01-01 00:00:04"),
    ],
)
def test_read_tsf_frequencies(
    tmp_path: Path, monash: str, start: str, freq: str, second: str
) -> None:
    header = f"@attribute series_name string\n@attribute start_timestamp date\n@frequency {monash}"
    data = read_tsf(_tsf(tmp_path, header, f"T1:{start}:1,2,3"))
    assert data.freq == freq
    assert data.frame["ds"].iloc[1] == pd.Timestamp(second)
    assert data.frame["ds"].dtype == "datetime64[ns]"


def test_read_tsf_errors(tmp_path: Path) -> None:
    header = "@attribute series_name string\n@attribute start_timestamp date\n@frequency daily"
    with pytest.raises(DataError, match=r"line 6: value 'x' is not a number"):
        read_tsf(_tsf(tmp_path, header, "T1:2020-01-01 00-00-00:1,2\nT2:2020-01-01 00-00-00:1,x"))
    with pytest.raises(DataError, match=r"cannot parse '2020/01/01'"):
        read_tsf(_tsf(tmp_path, header, "T1:2020/01/01:1,2"))
    with pytest.raises(DataError, match=r"line 5: expected 2 ':'-separated"):
        read_tsf(_tsf(tmp_path, header, "1,2,3"))
    with pytest.raises(DataError, match="unknown @frequency 'fortnightly'"):
        read_tsf(_tsf(tmp_path, header.replace("daily", "fortnightly"), "T1:2020-01-01 00-00-00:1"))
    with pytest.raises(DataError, match="bad attribute declaration"):
        read_tsf(_tsf(tmp_path, "@attribute series_name text", "T1:1"))
    with pytest.raises(DataError, match="occur more than once"):
        read_tsf(_tsf(tmp_path, header, "T1:2020-01-01 00-00-00:1\nT1:2020-01-01 00-00-00:2"))
    (tmp_path / "nodata.tsf").write_text("@relation x\n@frequency daily\n")
    with pytest.raises(DataError, match="no '@data' line"):
        read_tsf(tmp_path / "nodata.tsf")


# --------------------------------------------------------------------------- GluonTS JSON


def _jsonl(rows: list[dict]) -> str:
    return "\n".join(json.dumps(r) for r in rows) + "\n"


def test_read_gluonts_jsonl_item_id_nan_and_features(tmp_path: Path) -> None:
    rows = [
        {
            "start": "2021-01-01 00:00:00",
            "target": [1.0, "NaN", 3.0],
            "item_id": "b",
            "feat_static_cat": [4, 1],
            "feat_dynamic_real": [[0.1, 0.2, 0.3, 0.4]],  # one step beyond the target
        },
        {
            "start": "2021-01-01 05:00:00",
            "target": [None, 5.0],
            "item_id": "a",
            "feat_static_cat": [2, 0],
            "feat_dynamic_real": [[0.5, 0.6]],
        },
    ]
    (tmp_path / "d.json.gz").write_bytes(gzip.compress(_jsonl(rows).encode()))
    out = read_gluonts_jsonl(tmp_path / "d.json.gz", freq="1H")
    _assert_long(out)
    assert out["unique_id"].tolist() == ["a", "a", "b", "b", "b"]
    assert out["ds"].tolist()[:3] == [
        pd.Timestamp("2021-01-01 05:00"),
        pd.Timestamp("2021-01-01 06:00"),
        pd.Timestamp("2021-01-01 00:00"),
    ]
    np.testing.assert_array_equal(out["y"], [np.nan, 5, 1, np.nan, 3])
    assert out["feat_static_cat_0"].tolist() == [2, 2, 4, 4, 4]
    assert out["feat_static_cat_1"].tolist() == [0, 0, 1, 1, 1]
    assert out["feat_dynamic_real_0"].tolist() == [0.5, 0.6, 0.1, 0.2, 0.3]
    from_text = read_gluonts_jsonl(io.StringIO(_jsonl(rows)), freq="h")
    pd.testing.assert_frame_equal(from_text, out)


def test_read_gluonts_jsonl_line_numbers_and_integer_steps() -> None:
    rows = [{"start": "2021-01-01", "target": [1, 2]}, {"start": "2021-01-01", "target": [3]}]
    out = read_gluonts_jsonl(io.BytesIO(_jsonl(rows).encode()))
    assert out["unique_id"].tolist() == ["0", "0", "1"]
    assert out["ds"].tolist() == [0, 1, 0]


def test_read_gluonts_jsonl_errors() -> None:
    multi = [{"start": "2021-01-01", "target": [[1, 2], [3, 4]]}]
    with pytest.raises(DataError, match=r"line 1: multivariate target of shape \(2, 2\)"):
        read_gluonts_jsonl(io.StringIO(_jsonl(multi)))
    dup = [{"start": "2021-01-01", "target": [1], "item_id": "x"}] * 2
    with pytest.raises(DataError, match=r"'x' occur more than once.*read_gluonts_dataset"):
        read_gluonts_jsonl(io.StringIO(_jsonl(dup)))
    with pytest.raises(DataError, match="line 2: not valid JSON"):
        read_gluonts_jsonl(io.StringIO('{"start": "2021-01-01", "target": [1]}\n{oops\n'))
    with pytest.raises(DataError, match="line 1: target is not a list of numbers"):
        read_gluonts_jsonl(io.StringIO('{"start": "2021-01-01", "target": ["a"]}\n'))


def _gluonts_dir(root: Path, train: list[dict], test: list[dict], meta: dict) -> Path:
    for split, rows in (("train", train), ("test", test)):
        (root / "toy" / split).mkdir(parents=True)
        (root / "toy" / split / "data.json").write_text(_jsonl(rows))
    (root / "toy" / "metadata").mkdir()
    (root / "toy" / "metadata" / "metadata.json").write_text(json.dumps(meta))
    return root / "toy"


def test_read_gluonts_dataset_item_ids(tmp_path: Path) -> None:
    train = [
        {"start": "2020-01-01", "target": [1, 2], "item_id": "x"},
        {"start": "2020-01-02", "target": [5], "item_id": "y"},
    ]
    test = [
        {"start": "2020-01-02", "target": [5, 6], "item_id": "y"},
        {"start": "2020-01-01", "target": [1, 2, 3], "item_id": "x"},
        {"start": "2020-01-01 00:00:00", "target": [1, 2, 3, 4], "item_id": "x"},
        {"start": "2020-01-02", "target": [5, 6, 7], "item_id": "y"},
    ]
    data = read_gluonts_dataset(_gluonts_dir(tmp_path, train, test, {"freq": "D"}))
    assert data.freq == "D" and data.prediction_length == 1
    assert data.test["window"].tolist() == [0] * 5 + [1] * 7
    assert data.test["unique_id"].tolist() == ["x"] * 3 + ["y"] * 2 + ["x"] * 4 + ["y"] * 3
    assert data.test["y"].tolist() == [1, 2, 3, 5, 6, 1, 2, 3, 4, 5, 6, 7]
    assert data.test["ds"].iloc[3] == pd.Timestamp("2020-01-02")


def test_read_gluonts_tarball_window_major_and_mismatch(tmp_path: Path) -> None:
    train = [{"start": "2020-01-01 00:00:00", "target": [i, i + 1]} for i in range(3)]
    test = [
        {"start": "2020-01-01 00:00:00", "target": [i, i + 1, *range(10, 10 + 2 * (w + 1))]}
        for w in range(2)
        for i in range(3)
    ]
    folder = _gluonts_dir(tmp_path / "src", train, test, {"time_granularity": "H"})
    with tarfile.open(tmp_path / "toy.tar.gz", "w:gz") as tar:
        tar.add(folder, arcname="toy")
    data = read_gluonts_dataset(tmp_path / "toy.tar.gz")
    assert data.freq == "h" and data.prediction_length == 2
    assert data.metadata == {"time_granularity": "H"}
    sizes = data.test.groupby(["window", "unique_id"]).size()
    assert sizes.to_dict() == {
        (0, "0"): 4,
        (0, "1"): 4,
        (0, "2"): 4,
        (1, "0"): 6,
        (1, "1"): 6,
        (1, "2"): 6,
    }
    assert data.train["ds"].iloc[1] == pd.Timestamp("2020-01-01 01:00")

    # series-major order (or any other mismatch) is caught by the prefix check
    swapped = [test[0], test[3], test[1], test[4], test[2], test[5]]
    bad = _gluonts_dir(tmp_path / "bad", train, swapped, {"freq": "H"})
    with pytest.raises(
        DataError, match=r"test line 2 \(matched window-major to training series '1'"
    ):
        read_gluonts_dataset(bad)
    ragged = _gluonts_dir(tmp_path / "ragged", train, test[:4], {"freq": "H"})
    with pytest.raises(DataError, match="4 test lines are not a whole number of windows of 3"):
        read_gluonts_dataset(ragged)


# --------------------------------------------------------------------------- LSTNet, Monash text


def test_read_lstnet_gz_ids_and_timestamps(tmp_path: Path) -> None:
    (tmp_path / "m.txt.gz").write_bytes(gzip.compress(b"1,2,3\n4,5,6\n"))
    out = read_lstnet(tmp_path / "m.txt.gz", start="1990-01-05", freq="B")
    assert out["unique_id"].tolist() == ["0", "0", "1", "1", "2", "2"]
    assert out["y"].tolist() == [1, 4, 2, 5, 3, 6]
    assert out["ds"].tolist()[:2] == [pd.Timestamp("1990-01-05"), pd.Timestamp("1990-01-08")]
    named = read_lstnet(tmp_path / "m.txt.gz", ids=["c", "b", "a"])
    assert named["unique_id"].tolist()[:2] == ["a", "a"] and named["y"].tolist()[:2] == [3, 6]
    (tmp_path / "bad.txt").write_text("1,2\n3,x\n")
    with pytest.raises(DataError, match=r"bad\.txt: not an LSTNet matrix"):
        read_lstnet(tmp_path / "bad.txt")


def test_read_monash_text_split_edges(tmp_path: Path) -> None:
    (tmp_path / "train.txt").write_text("1,2,3\r\n4,5\r\n")
    (tmp_path / "test.txt").write_text("1;7;8\r\n1;9\r\n")
    train, test = read_monash_text_split(
        tmp_path / "train.txt", tmp_path / "test.txt", start="2006-01-01", freq="W-SUN"
    )
    assert train["y"].tolist() == [1, 2, 3, 4, 5]
    assert test["y"].tolist() == [1, 2, 3, 7, 8, 4, 5, 9]
    assert test["unique_id"].tolist() == ["T1"] * 5 + ["T2"] * 3
    assert test["ds"].iloc[4] == pd.Timestamp("2006-01-29")
    (tmp_path / "short.txt").write_text("1;7\n")
    with pytest.raises(DataError, match="2 training lines but 1 test lines"):
        read_monash_text_split(tmp_path / "train.txt", tmp_path / "short.txt")


# --------------------------------------------------------------------------- real files


def test_m1_yearly_tsf(shared: Path) -> None:
    data = read_tsf(shared / "m1_yearly" / "m1_yearly_dataset.tsf")
    frame = data.frame
    _assert_long(frame)
    lengths = _lengths(frame)
    assert len(lengths) == 181 and lengths.min() == 15 and lengths.max() == 58
    assert lengths["T155"] == 15 and lengths["T13"] == 58 and len(frame) == 4515
    assert data.freq == "YS" and data.horizon == 6
    assert data.missing is False and data.equal_length is False
    t1 = frame[frame["unique_id"] == "T1"]
    assert t1["y"].iloc[0] == 3600.0 and t1["y"].iloc[-1] == 1425090.0
    assert t1["ds"].iloc[0] == pd.Timestamp("1972-01-01")
    assert t1["ds"].iloc[-1] == pd.Timestamp("1999-01-01")
    assert frame.loc[frame["unique_id"] == "T51", "ds"].iloc[0] == pd.Timestamp("1900-01-01")


def test_kaggle_tsf_gz_is_fast(shared: Path) -> None:
    path = shared / "kaggle_web_traffic_1000"
    path = path / "kaggle_web_traffic_dataset_1000_without_missing_values.tsf.gz"
    start = time.perf_counter()
    data = read_tsf(path)
    elapsed = time.perf_counter() - start
    assert elapsed < 2.0, f"read_tsf took {elapsed:.2f} s"
    frame = data.frame
    assert len(frame) == 1000 * 803 and (_lengths(frame) == 803).all()
    assert data.freq == "D" and data.horizon == 59 and data.equal_length is True
    assert frame["ds"].min() == pd.Timestamp("2015-07-01")
    assert frame["ds"].max() == pd.Timestamp("2017-09-10")
    t1 = frame[frame["unique_id"] == "T1"]
    assert t1["y"].iloc[0] == 18.0 and t1["y"].iloc[-1] == 38.0
    assert frame["y"].sum() == 23679627.0


def test_electricity_weekly_tsf(shared: Path) -> None:
    data = read_tsf(shared / "electricity_weekly" / "electricity_weekly_dataset.tsf")
    frame = data.frame
    assert frame["unique_id"].nunique() == 321 and (_lengths(frame) == 156).all()
    assert data.freq == "W-SUN" and data.horizon == 8
    assert frame["ds"].min() == pd.Timestamp("2012-01-01")
    assert frame["ds"].max() == pd.Timestamp("2014-12-21")
    t1 = frame[frame["unique_id"] == "T1"]
    assert t1["y"].iloc[0] == 8032.0 and t1["y"].iloc[-1] == 1667.0


def test_exchange_rate_nips_tarball_matches_lstnet_file(shared: Path) -> None:
    data = read_gluonts_dataset(shared / "exchange_rate" / "exchange_rate_nips.tar.gz")
    assert data.freq == "B" and data.prediction_length == 30
    assert data.metadata["time_granularity"] == "B"
    assert (_lengths(data.train) == 6071).all() and data.train["unique_id"].nunique() == 8
    sizes = data.test.groupby("window")["unique_id"].value_counts().unstack()
    assert sizes.shape == (5, 8)
    assert sizes.iloc[:, 0].tolist() == [6101, 6131, 6161, 6191, 6221]

    raw = read_lstnet(
        shared / "exchange_rate" / "exchange_rate.txt.gz", start="1990-01-01", freq="1B"
    )
    assert len(raw) == 7588 * 8
    matrix = raw["y"].to_numpy().reshape(8, 7588)
    np.testing.assert_array_equal(
        matrix[:, 0], [0.7855, 1.611, 0.861698, 0.634196, 0.211242, 0.006838, 0.593, 0.525486]
    )
    np.testing.assert_array_equal(
        matrix[:, -1],
        [0.720825, 1.233905, 0.744131, 0.980344, 0.143993, 0.008555, 0.692689, 0.690942],
    )
    first_6071 = raw[raw.groupby("unique_id").cumcount() < 6071].reset_index(drop=True)
    pd.testing.assert_frame_equal(data.train, first_6071)
    for k in range(5):
        window = data.test[data.test["window"] == k].drop(columns="window").reset_index(drop=True)
        head = raw[raw.groupby("unique_id").cumcount() < 6071 + 30 * (k + 1)]
        pd.testing.assert_frame_equal(window, head.reset_index(drop=True))
    assert data.train["ds"].iloc[-1] == pd.Timestamp("2013-04-08")
    assert data.test["ds"].iloc[-1] == pd.Timestamp("2013-11-04")


def test_ett_wide_csv(shared: Path) -> None:
    frame = read_wide(shared / "ett_small" / "ETTh1.csv", time_col="date")
    assert sorted(frame["unique_id"].unique()) == [
        "HUFL",
        "HULL",
        "LUFL",
        "LULL",
        "MUFL",
        "MULL",
        "OT",
    ]
    assert (_lengths(frame) == 17420).all()
    assert frame["ds"].min() == pd.Timestamp("2016-07-01 00:00")
    assert frame["ds"].max() == pd.Timestamp("2018-06-26 19:00")
    assert (frame.groupby("unique_id")["ds"].diff().dropna() == pd.Timedelta("1h")).all()
    ot = frame[frame["unique_id"] == "OT"]
    assert ot["y"].iloc[0] == 30.5310001373291 and not frame["y"].isna().any()


def test_small_csv_series(shared: Path) -> None:
    taxi = read_wide(shared / "nyc_taxi" / "taxi_new_york_passengers.csv", time_col="time")
    assert len(taxi) == 10320 and taxi["unique_id"].iloc[0] == "#Passengers"
    assert taxi["ds"].iloc[0] == pd.Timestamp("2014-07-01") and taxi["y"].iloc[0] == 10844.0
    assert taxi["ds"].iloc[-1] == pd.Timestamp("2015-01-31 23:30") and taxi["y"].iloc[-1] == 26288.0
    assert (taxi["ds"].diff().dropna() == pd.Timedelta("30min")).all()

    taylor = read_wide(shared / "taylor" / "taylor.csv", start="2000-06-05", freq="30min")
    assert (
        len(taylor) == 4032 and taylor["y"].iloc[0] == 22262.0 and taylor["y"].iloc[-1] == 23132.0
    )
    assert taylor["ds"].iloc[-1] == pd.Timestamp("2000-08-27 23:30")  # Sunday 27 August

    air = read_wide(shared / "air_passengers" / "AirPassengers.csv", time_col="Month")
    assert len(air) == 144 and air["ds"].iloc[0] == pd.Timestamp("1949-01-01")
    assert air["ds"].iloc[-1] == pd.Timestamp("1960-12-01")
    assert air["y"].iloc[0] == 112.0 and air["y"].iloc[-1] == 432.0


@pytest.mark.parametrize(
    ("name", "n", "train_len", "horizon", "first", "last", "train_last"),
    [
        ("traffic_weekly", 862, 96, 8, 6.4875, 6.0152, 8.8195),
        ("solar_weekly", 137, 47, 5, 8946.9, 7592.15, 12050.5),
    ],
)
def test_monash_text_split_files(
    shared: Path,
    name: str,
    n: int,
    train_len: int,
    horizon: int,
    first: float,
    last: float,
    train_last: float,
) -> None:
    train, test = read_monash_text_split(
        shared / name / f"{name}_dataset.txt", shared / name / f"{name}_results.txt"
    )
    assert train["unique_id"].nunique() == n and (_lengths(train) == train_len).all()
    assert (_lengths(test) == train_len + horizon).all()
    t1 = test[test["unique_id"] == "T1"]
    assert t1["y"].iloc[0] == first and t1["y"].iloc[-1] == last
    assert train.loc[train["unique_id"] == "T1", "y"].iloc[-1] == train_last
    assert t1["ds"].tolist() == list(range(train_len + horizon))
