"""Accuracy against the peers on real data: same splits, same scorer, same training budget.

    python benchmarks/accuracy.py [--datasets exchange_rate ...] [--budget 60]
        [--ours default mqrnn_isqf deepar_student_t mqcnn_mqf2]
        [--peers gluonts_deepar gluonts_mqf2 nf_nhits_mqloss nf_nhits_isqf sf_autoets
                 sf_autoarima --peers-python .venv-peers/bin/python]

For every dataset of the registry, in its standard rolling setup (e.g. exchange_rate: 30 steps
× 5 windows): each model trains once on the data before the first window, under the same
wall-clock budget (``--budget`` seconds; statistical models refit per window instead and are
timed in full), then forecasts every window from its own history. Every model's forecast goes
through one scorer, from its quantiles at 99 levels (0.01 … 0.99) plus 0.025 and 0.975:

* ``mean_wql``: GluonTS's mean weighted quantile loss at 0.1 … 0.9;
* ``crps``: the weighted CRPS, ∑ CRPS / ∑ |y|, with the CRPS approximated by twice the mean
  pinball loss over the 99 levels (the same approximation for every model; it slightly
  underestimates the tails' share);
* ``coverage_80`` / ``coverage_95`` of the central intervals;
* ``crossing_rate``: share of (series, step) whose 99 quantiles are not non-decreasing;
* ``train_s`` / ``predict_s``.

Ours run in this process (``qfcast.Forecaster`` with its defaults, ``trainer_kwargs
max_time``); peers in their own environment through ``benchmarks/peers/forecast.py``.
Results are written after every model to ``benchmarks/results/accuracy.json`` (``--resume``
keeps models already there); ``benchmarks/report.py`` turns them into ``BENCHMARKS.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import qfcast
from _machine import machine
from qfcast import datasets
from qfcast.forecast import quantile_column
from qfcast.metrics import crossing_rate

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from report import summarise  # noqa: E402  (the tally lives beside the report)

RESULTS = HERE / "results" / "accuracy.json"
WQL_LEVELS = np.round(np.arange(0.1, 1.0, 0.1), 10)
FINE = np.round(np.arange(1, 100) / 100, 10)
LEVELS = np.unique(np.concatenate([FINE, [0.025, 0.975]]))
DATASETS = [
    "exchange_rate",
    "ett_small_ot",
    "ett_small",
    "kaggle_web_traffic_1000",
    "electricity_weekly",
    "traffic_weekly",
    "solar_weekly",
    "nyc_taxi",
    "m1_yearly",
]
# name → Forecaster arguments; "default" is Forecaster(horizon) as a new user builds it.
OURS = {
    "default": {},
    "mqrnn_isqf": {"model": "mqrnn", "head": "isqf"},
    "deepar_student_t": {"model": "deepar", "head": "student_t"},
    "deepar_isqf": {"model": "deepar", "head": "isqf"},
    "mqcnn_mqf2": {"model": "mqcnn", "head": "mqf2"},
}
PEERS = [
    "gluonts_deepar",
    "gluonts_mqf2",
    "nf_nhits_mqloss",
    "nf_nhits_isqf",
    "sf_autoets",
    "sf_autoarima",
]
PEER_DEFAULTS = {"gluonts": "gluonts_deepar", "neuralforecast": "nf_nhits_mqloss"}


# ---------------------------------------------------------------------------- scoring
def score(y: np.ndarray, quantiles: dict[float, np.ndarray]) -> dict:
    """The scores of one model from actuals ``y`` (N,) and its quantiles at LEVELS (each (N,))."""
    seen = ~np.isnan(y)
    y0 = np.where(seen, y, 0.0)
    abs_y = np.abs(y0).sum()

    def pinball(level: float) -> float:
        diff = y0 - quantiles[level]
        return float(np.where(seen, 2 * np.abs(diff * ((diff < 0) - level)), 0.0).sum())

    grid = np.stack([quantiles[a] for a in FINE])

    def covered(lo: float, hi: float) -> float:
        inside = (quantiles[lo] <= y0) & (y0 <= quantiles[hi])
        return float((inside & seen).sum() / seen.sum())

    return {
        "mean_wql": float(np.mean([pinball(a) for a in WQL_LEVELS]) / abs_y),
        "crps": float(np.mean([pinball(a) for a in FINE]) / abs_y),
        "coverage_80": covered(0.1, 0.9),
        "coverage_95": covered(0.025, 0.975),
        "crossing_rate": crossing_rate(grid[:, seen]),
    }


def _actuals(data: datasets.Dataset) -> pd.DataFrame:
    frames = []
    for k in range(data.windows):
        _, actual = data.window(k)
        frames.append(actual.assign(window=k))
    return pd.concat(frames, ignore_index=True)


def _score_frame(actuals: pd.DataFrame, forecasts: pd.DataFrame) -> dict:
    """Merge long quantile frames (window, unique_id, ds, q…) onto the actuals and score."""
    keys = ["window", "unique_id", "ds"]
    merged = actuals[[*keys, "y"]].merge(forecasts, on=keys, how="left")
    columns = {a: quantile_column(a) for a in LEVELS}
    absent = [c for c in columns.values() if c not in merged.columns]
    if absent:
        raise ValueError(f"forecasts lack the columns {absent[:3]}…")
    if merged[list(columns.values())].isna().any().any():
        raise ValueError("forecasts do not cover every actual row")
    return score(
        merged["y"].to_numpy(np.float64),
        {a: merged[c].to_numpy(np.float64) for a, c in columns.items()},
    )


def seasonal_naive(data: datasets.Dataset) -> pd.DataFrame:
    """The last season repeated, as every quantile (a point forecast)."""
    season = data.info.seasonality
    frames = []
    for k in range(data.windows):
        history, actual = data.window(k)
        history = history.sort_values(["unique_id", "ds"])
        actual = actual.sort_values(["unique_id", "ds"])
        last = history.groupby("unique_id", sort=True).tail(season)
        point = []
        for _, series in last.groupby("unique_id", sort=True):
            values = series["y"].to_numpy()
            point.append(np.resize(values, data.horizon))  # repeats the season
        point = np.concatenate(point)
        columns = {quantile_column(a): point for a in LEVELS}
        frames.append(actual[["unique_id", "ds"]].assign(window=k, **columns))
    return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------------------- our models
def run_ours(data: datasets.Dataset, kwargs: dict, budget: float, seed: int) -> tuple:
    fc = qfcast.Forecaster(
        horizon=data.horizon,
        freq=data.freq,
        random_state=seed,
        progress=False,
        max_epochs=1000,  # the budget binds, with early stopping
        trainer_kwargs={"max_time": {"seconds": budget}},
        **kwargs,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        fc.fit(data.train)
        train_s = time.perf_counter() - start
        frames = []
        start = time.perf_counter()
        for k in range(data.windows):
            history, _ = data.window(k)
            table = fc.predict(history, progress=False).quantile(LEVELS)
            frames.append(table.assign(window=k))
        predict_s = time.perf_counter() - start
    info = {"train_s": round(train_s, 2), "predict_s": round(predict_s, 2)}
    info["best_epoch"] = fc.best_epoch_
    return pd.concat(frames, ignore_index=True), info


# ---------------------------------------------------------------------------- peers
def export(data: datasets.Dataset, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    data.test.to_parquet(folder / "test.parquet", index=False)
    meta = {
        "name": data.name,
        "freq": data.freq,
        "horizon": data.horizon,
        "windows": data.windows,
        "season_length": data.info.seasonality,
        "levels": [float(a) for a in LEVELS],
    }
    (folder / "meta.json").write_text(json.dumps(meta))


def run_peer(python: str, model: str, folder: Path, budget: float, timeout: float) -> tuple:
    out = folder / model
    command = [
        python,
        str(HERE / "peers" / "forecast.py"),
        "--model",
        model,
        "--data",
        str(folder),
        "--out",
        str(out),
        "--budget",
        str(budget),
    ]
    # Its own process group: on a timeout the peer's worker processes (statsforecast's
    # n_jobs) are killed with it instead of living on and loading the machine.
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return None, {"error": f"did not finish within {timeout:.0f} s"}
    done = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    info_path = out / "info.json"
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    if done.returncode != 0:
        info["error"] = (done.stderr.strip().splitlines() or ["failed"])[-1][:300]
        return None, info
    frame = pd.read_parquet(out / "forecasts.parquet")
    return frame, info


# ---------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=DATASETS)
    parser.add_argument("--ours", nargs="*", default=list(OURS), choices=list(OURS))
    parser.add_argument("--peers", nargs="*", default=PEERS, choices=PEERS)
    parser.add_argument("--peers-python", default=None, help="the peers venv's python")
    parser.add_argument("--budget", type=float, default=60.0, help="training seconds per model")
    parser.add_argument(
        "--peer-timeout", type=float, default=900.0, help="wall-clock cap per peer run"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--resume", action="store_true", help="keep models already in --out")
    args = parser.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))

    results: dict = {}
    if args.resume and args.out.exists():
        results = json.loads(args.out.read_text())
    command = "python benchmarks/accuracy.py " + " ".join(sys.argv[1:])
    # A resumed run adds to the file: keep every command that wrote part of it.
    runs = results.get("runs") or ([results["command"]] if "command" in results else [])
    results.update(
        {
            "benchmark": "accuracy on real data: qfcast vs peers, same splits and budget",
            "command": command,
            "runs": [*runs, command],
            "machine": machine(),
            "versions": {"qfcast": qfcast.__version__, "torch": torch.__version__},
            "budget_s": args.budget,
        }
    )
    results.setdefault("datasets", {})

    def save() -> None:
        args.out.parent.mkdir(exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")

    for name in args.datasets:
        data = datasets.load(name, progress=False)
        actuals = _actuals(data)
        entry = results["datasets"].setdefault(name, {"models": {}})
        entry.update(
            {
                "freq": data.freq,
                "horizon": data.horizon,
                "windows": data.windows,
                "series": int(data.test["unique_id"].nunique()),
            }
        )
        models = entry["models"]

        def record(
            model: str,
            frame: pd.DataFrame | None,
            info: dict,
            name: str = name,
            actuals: pd.DataFrame = actuals,
            models: dict = models,
        ) -> None:
            row = dict(info)
            if frame is not None:
                row = {**_score_frame(actuals, frame), **row}
            models[model] = row
            print(json.dumps({"dataset": name, "model": model, **row}), file=sys.stderr)
            save()

        if "seasonal_naive" not in models:
            record("seasonal_naive", seasonal_naive(data), {"train_s": 0.0})
        for model in args.ours:
            key = f"qfcast_{model}"
            if key in models and "error" not in models[key]:
                continue
            try:
                frame, info = run_ours(data, OURS[model], args.budget, args.seed)
            except Exception as error:  # a benchmark records failures and goes on
                frame, info = None, {"error": f"{type(error).__name__}: {error}"[:300]}
            record(key, frame, info)
        if args.peers_python and args.peers:
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp)
                export(data, folder)
                for model in args.peers:
                    if model in models and "error" not in models[model]:
                        continue
                    frame, info = run_peer(
                        args.peers_python, model, folder, args.budget, args.peer_timeout
                    )
                    record(model, frame, info)
        entry["summary"] = summarise(models)
        save()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
