"""The ``qfcast`` command line end to end through typer's runner: every command, the file
formats, one real file, every user error (one line, exit status 1), and the README
walkthrough, run as written."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from qfcast.cli import app
from qfcast.data.synthetic import demand_scenario

from .data.conftest import shared_dir

ROOT = Path(__file__).resolve().parents[1]
H = 7
runner = CliRunner()


def qf(*args: str):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """A small demand panel and a model trained on it (module-wide: trained once)."""
    folder = tmp_path_factory.mktemp("cli")
    sc = demand_scenario(n_series=4, length=150, horizon=H, seed=1, late_fraction=0.0)
    sc.history.to_csv(folder / "history.csv", index=False)
    sc.future.to_csv(folder / "future.csv", index=False)
    sc.actuals.to_csv(folder / "actuals.csv", index=False)
    result = qf(
        "--quiet", "fit", folder / "history.csv", "--horizon", H, "--future", "promo",
        "--static", "store,category", "--max-epochs", 1, "--out", folder / "model",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (folder / "model" / "config.json").exists()
    return folder


def base(work: Path) -> list:
    return [work / "model", work / "history.csv", "--future", work / "future.csv"]


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".json"])
def test_predict_writes_quantiles_in_every_format(work, suffix):
    out = work / f"forecast{suffix}"
    result = qf("--quiet", "predict", *base(work), "--levels", "0.05,0.5,0.95", "--out", out)
    assert result.exit_code == 0, result.output
    table = {".csv": pd.read_csv, ".parquet": pd.read_parquet}.get(
        suffix, lambda p: pd.read_json(p, orient="records")
    )(out)
    assert list(table.columns) == ["unique_id", "ds", "q0.05", "q0.5", "q0.95"]
    assert len(table) == 4 * H
    q = table[["q0.05", "q0.5", "q0.95"]].to_numpy()
    assert (np.diff(q, axis=1) >= 0).all()


def test_query_a_level_and_its_inverse(work):
    result = qf("--json", "query", *base(work), "--level", "0.95", "--steps", "1-7")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 4 and {r["dependence"] for r in rows} == {"comonotone"}
    assert all(r["stock_independent"] <= r["stock_comonotone"] + 1e-9 for r in rows)
    stock = rows[0]["stock"]
    back = qf("--json", "query", *base(work), "--stock", stock, "--steps", "1-7")
    level = json.loads(back.stdout)[0]["service_level"]
    assert level == pytest.approx(0.95, abs=2e-3)
    one = json.loads(qf("--json", "query", *base(work), "--level", "0.9", "--steps", "2").stdout)
    assert {r["dependence"] for r in one} == {"single step"}


def test_tradeoff_prints_the_table_and_draws_the_curve(work):
    png = work / "tradeoff.png"
    result = qf(
        "--json", "tradeoff", *base(work), "--steps", "1-7", "--series", "item_001",
        "--levels", "0.90-0.99", "--plot", png,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["level"] for r in rows] == pytest.approx(np.round(np.arange(0.9, 0.995, 0.01), 2))
    assert {r["unique_id"] for r in rows} == {"item_001"}
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_scores_against_actuals(work):
    result = qf("--json", "evaluate", *base(work), "--actuals", work / "actuals.csv")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert {"mean_wql", "coverage_80", "coverage_95", "crossing_rate", "mase", "wql_0.5"} <= set(
        scores
    )
    assert scores["crossing_rate"] == 0.0


def test_backtest_a_file(work):
    result = qf(
        "--json", "backtest", work / "history.csv", "--horizon", H, "--windows", 2,
        "--max-epochs", 1, "--per-series", work / "per_series.csv",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["window"] for r in rows] == ["0", "1", "all"]
    assert len(pd.read_csv(work / "per_series.csv")) == 2 * 4


@pytest.mark.parametrize("kind", ["fan", "quantile", "pit", "tradeoff"])
def test_plot_kinds(work, kind):
    out = work / f"{kind}.svg"
    result = qf(
        "--quiet", "plot", *base(work), "--kind", kind, "--actuals", work / "actuals.csv",
        "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert out.read_text().lstrip().startswith(("<?xml", "<svg"))


def test_wide_files_are_melted(tmp_path):
    stamps = pd.date_range("2024-01-01", periods=80, freq="D")
    rng = np.random.default_rng(0)
    wide = pd.DataFrame({"date": stamps, "north": 10 + rng.normal(size=80).cumsum(),
                         "south": 20 + rng.normal(size=80).cumsum()})  # fmt: skip
    wide.to_parquet(tmp_path / "wide.parquet")
    args = ["--time-col", "date", "--wide"]
    fit = qf("--quiet", "fit", tmp_path / "wide.parquet", "--horizon", 5, "--max-epochs", 1,
             "--out", tmp_path / "m", *args)  # fmt: skip
    assert fit.exit_code == 0, fit.output
    pred = qf("--json", "predict", tmp_path / "m", tmp_path / "wide.parquet", "--wide")
    assert {r["unique_id"] for r in json.loads(pred.stdout)} == {"north", "south"}


@pytest.mark.skipif(not (shared_dir() / "ett_small").is_dir(), reason="shared data not found")
def test_a_real_wide_file_from_the_shared_data(tmp_path):
    source = shared_dir() / "ett_small" / "ETTh1.csv"
    out = tmp_path / "ett"
    fit = qf("--quiet", "fit", source, "--wide", "--time-col", "date", "--horizon", 24,
             "--budget", 3, "--max-epochs", 1, "--out", out)  # fmt: skip
    assert fit.exit_code == 0, fit.output
    pred = qf("--json", "query", out, source, "--wide", "--level", "0.9", "--steps", "1-24")
    rows = json.loads(pred.stdout)
    assert {r["unique_id"] for r in rows} == {"HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"}


def test_datasets_list_and_fetch(monkeypatch):
    monkeypatch.setenv("QFCAST_DATA_DIR", str(shared_dir()))
    result = qf("--json", "datasets", "list")
    assert result.exit_code == 0, result.output
    names = {r["name"] for r in json.loads(result.stdout)}
    assert {"exchange_rate", "m1_yearly", "nyc_taxi"} <= names
    if (shared_dir() / "exchange_rate").is_dir():
        fetched = qf("--json", "datasets", "fetch", "exchange_rate")
        assert fetched.exit_code == 0, fetched.output
        assert Path(json.loads(fetched.stdout)["path"]).exists()


def errors(work: Path) -> list[tuple[list, str]]:
    model, history = work / "model", work / "history.csv"
    fut = ["--future", work / "future.csv"]
    return [
        (["predict", model, work / "nope.csv", *fut], "no such file"),
        (["fit", history, "--horizon", 3, "--target-col", "sales"], "no column 'sales'"),
        (["fit", history, "--horizon", 3, "--time-col", "when"], "no time column 'when'"),
        (["query", model, history, *fut, "--level", "1.5"], "strictly between 0 and 1"),
        (["query", model, history, *fut, "--level", "0.9", "--stock", "3"], "exactly one"),
        (["query", model, history, *fut, "--level", "0.9", "--steps", "1-99"], "1…7"),
        (["query", model, history, *fut, "--level", "0.9", "--steps", "x"], "steps must look"),
        (["predict", model, history, *fut, "--levels", "a,b"], "levels must look"),
        (["predict", model, history, *fut, "--out", work / "f.xlsx"], "unknown output format"),
        (["predict", model, history], "pass --future"),
        (["predict", work, history], "not a saved model directory"),
        (["tradeoff", model, history, *fut, "--series", "nobody"], "unknown series 'nobody'"),
        (["plot", model, history, *fut, "--kind", "pie"], "--kind must be"),
        (["plot", model, history, *fut, "--kind", "pit"], "needs --actuals"),
        (["plot", model, history, *fut, "--kind", "correlation"], "joint sample paths"),
        (["plot", model, history, *fut, "--out", work / "x.gif"], "png"),
        (["backtest", "no_such_dataset"], "neither a file nor a dataset"),
        (["datasets", "fetch", "no_such_dataset"], "unknown dataset"),
        (["fit", work / "future.csv", "--horizon", 3], "no column 'y'"),
    ]


def test_every_user_error_is_one_line_and_exit_status_one(work):
    for args, message in errors(work):
        result = qf(*args)
        assert result.exit_code == 1, (args, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (args, result.stderr)
        assert message in lines[0], (args, lines[0])
        assert "Traceback" not in result.output


def test_every_command_has_help_with_an_example():
    commands = [
        ["fit"], ["predict"], ["query"], ["tradeoff"], ["evaluate"], ["backtest"], ["plot"],
        ["demo"], ["datasets", "list"], ["datasets", "fetch"],
    ]  # fmt: skip
    for command in commands:
        result = qf(*command, "--help")
        assert result.exit_code == 0
        assert "Example: qfcast" in result.stdout, command


def walkthrough() -> list[list[str]]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- walkthrough -->\n```bash\n(.*?)```", text, re.S).group(1)
    commands = block.replace("\\\n", " ").splitlines()
    return [shlex.split(line.split("  #")[0]) for line in commands if line.strip()]


@pytest.mark.slow
def test_the_readme_walkthrough_runs_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    steps = walkthrough()
    assert len(steps) >= 10 and all(s[0] == "qfcast" for s in steps)
    for args in steps:
        result = qf("--quiet", *args[1:])
        assert result.exit_code == 0, (args, result.output)
    assert (tmp_path / "demo" / "forecast.csv").exists()
    assert (tmp_path / "demo" / "fan.png").exists()
