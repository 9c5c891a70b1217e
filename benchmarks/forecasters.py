"""Forecasters side by side: accuracy of every encoder × head, crossing, and speed.

    python benchmarks/forecasters.py [--datasets exchange_rate ett_small] [--budget 30]
                                     [--models mqcnn mqrnn deepar] [--heads isqf gaussian ...]

For each dataset of the registry (``QFCAST_DATA_DIR`` or the cache) and each encoder × head:
train on the data before the first test window, for at most ``--max-epochs`` epochs (and
``--budget`` seconds when given, the same for all) with early stopping on the last horizon
and the default settings of :class:`qfcast.Forecaster`; then forecast
each rolling test window from its own history and score all windows together:

* mean weighted quantile loss (GluonTS ``mean_wQuantileLoss``, levels 0.1 … 0.9);
* quantile crossing rate at 99 levels (0.01 … 0.99);
* training seconds.

Seasonal naive (the last season repeated, as every quantile) is the baseline. Then, side by
side in one process: the training-step time of each encoder with the ISQF head against the
Gaussian head (batch 32, context 96, horizon 24), and the time of ``Forecast.quantile`` at 99
levels for 10,000 series × 24 steps. Prints JSON, writes ``benchmarks/results/forecasters.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import qfcast
from _machine import machine
from qfcast import datasets
from qfcast.data import Panel, WindowSampler
from qfcast.data.timeindex import season_length
from qfcast.forecast import DistributionForecast
from qfcast.heads import HEADS, get_head
from qfcast.metrics import crossing_rate, mean_weighted_quantile_loss
from qfcast.nn import ENCODERS, get_encoder
from qfcast.nn.base import InputDims
from qfcast.training import ForecastingModule

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "forecasters.json"
LEVELS = np.round(np.arange(0.1, 1.0, 0.1), 2)
FINE = np.round(np.linspace(0.01, 0.99, 99), 2)
DEFAULT = ("mqcnn", "isqf")


def _windows(data: datasets.Dataset):
    for k in range(data.windows):
        yield data.window(k)


def score(forecasts: list, actuals: list[pd.DataFrame]) -> dict:
    """Pool every window: wQL at LEVELS, crossing at FINE."""
    ys, qs, crossed = [], [], []
    for f, actual in zip(forecasts, actuals, strict=True):
        q = f.quantile(LEVELS)
        merged = q.merge(actual, on=["unique_id", "ds"], how="left")
        ys.append(merged["y"].to_numpy())
        qs.append(merged[[c for c in q.columns if c.startswith("q")]].to_numpy().T)
        fine = f.quantile(FINE).iloc[:, 2:].to_numpy().T
        crossed.append(crossing_rate(fine) * fine.shape[1])
    y, quantiles = np.concatenate(ys), np.concatenate(qs, axis=1)
    rows = sum(len(a) for a in actuals)
    return {
        "mean_wql": round(mean_weighted_quantile_loss(y, quantiles, LEVELS), 6),
        "crossing_rate": round(sum(crossed) / rows, 6),
    }


def seasonal_naive(data: datasets.Dataset) -> dict:
    season = season_length(data.freq)
    ys, qs = [], []
    for history, actual in _windows(data):
        history = history.sort_values(["unique_id", "ds"])
        last = history.groupby("unique_id").tail(season)["y"].to_numpy().reshape(-1, season)
        point = np.tile(last, -(-data.horizon // season))[:, : data.horizon].reshape(-1)
        actual = actual.sort_values(["unique_id", "ds"])
        ys.append(actual["y"].to_numpy())
        qs.append(np.tile(point, (len(LEVELS), 1)))
    y, q = np.concatenate(ys), np.concatenate(qs, axis=1)
    return {"mean_wql": round(mean_weighted_quantile_loss(y, q, LEVELS), 6), "crossing_rate": 0.0}


def run_model(
    data: datasets.Dataset,
    model: str,
    head: str,
    budget: float,
    max_epochs: int,
    seed: int,
    scaler: str = "robust",
) -> dict:
    fc = qfcast.Forecaster(
        horizon=data.horizon,
        freq=data.freq,
        model=model,
        head=head,
        scaler=scaler,
        max_epochs=max_epochs,
        patience=10,
        random_state=seed,
        progress=False,
        trainer_kwargs={"max_time": {"seconds": budget}} if budget > 0 else None,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fc.fit(data.train)
        start = time.perf_counter()
        pairs = [(fc.predict(history), actual) for history, actual in _windows(data)]
        predict_s = time.perf_counter() - start
    result = score([p[0] for p in pairs], [p[1] for p in pairs])
    return {
        "model": model,
        "head": head,
        **result,
        "train_s": round(fc.fit_seconds_, 2),
        "predict_s": round(predict_s, 2),
        "best_epoch": fc.best_epoch_,
    }


def step_times(repeats: int = 15) -> dict:
    """Training step (fwd + bwd + Adam) per encoder, ISQF vs Gaussian head, interleaved."""
    rng = np.random.default_rng(0)
    t = np.arange(600)
    df = pd.DataFrame(
        {
            "unique_id": np.repeat(["a", "b", "c", "d"], 600),
            "ds": np.tile(pd.date_range("2024-01-01", periods=600, freq="h"), 4),
            "y": np.tile(10 + np.sin(2 * np.pi * t / 24), 4) + rng.normal(0, 0.3, 2400),
        }
    )
    panel = Panel.from_frame(df)
    context, horizon = 96, 24
    batch = WindowSampler(panel, context, horizon, seed=0).sample(32)
    dims = InputDims(context, horizon, 5, 0, 0, 0, ())
    setups = {}
    for enc in sorted(ENCODERS):
        for head in ("gaussian", "isqf"):
            torch.manual_seed(0)
            module = ForecastingModule(get_encoder(enc, dims), get_head(head), past_covariates=0)
            setups[(enc, head)] = (module, torch.optim.Adam(module.parameters()))
    times: dict = {key: [] for key in setups}
    for _ in range(repeats):
        for key, (module, opt) in setups.items():
            start = time.perf_counter()
            opt.zero_grad()
            module.loss(batch).backward()
            opt.step()
            times[key].append(time.perf_counter() - start)
    out = {}
    for enc in sorted(ENCODERS):
        g = statistics.median(times[(enc, "gaussian")][2:])
        i = statistics.median(times[(enc, "isqf")][2:])
        out[enc] = {
            "gaussian_ms": round(1e3 * g, 2),
            "isqf_ms": round(1e3 * i, 2),
            "ratio": round(i / g, 2),
        }
    return out


def quantile_query_time(series: int = 10_000, horizon: int = 24) -> dict:
    """``Forecast.quantile`` at 99 levels on series × horizon forecasts, ISQF and Gaussian."""
    out = {}
    for name in ("isqf", "gaussian"):
        head = get_head(name)
        raw = torch.randn(series, horizon, head.outputs, generator=torch.Generator().manual_seed(0))
        d = head.distribution(raw, torch.zeros(series, 1), torch.ones(series, 1))
        ids = np.arange(series)
        stamps = np.tile(pd.date_range("2024-01-01", periods=horizon, freq="h"), series)
        f = DistributionForecast(d, ids, stamps, horizon)
        f.quantile(FINE[:2])  # warm-up
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            f.quantile(FINE)
            runs.append(time.perf_counter() - start)
        out[name] = round(statistics.median(runs), 3)
    return {"series": series, "horizon": horizon, "levels": len(FINE), "seconds": out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["exchange_rate", "ett_small"])
    parser.add_argument("--models", nargs="+", default=sorted(ENCODERS))
    univariate = sorted(name for name, cls in HEADS.items() if not cls.joint)  # mqf2: mqf2.py
    parser.add_argument("--heads", nargs="+", default=univariate)
    parser.add_argument(
        "--budget", type=float, default=0.0, help="training seconds per model (0: no limit)"
    )
    parser.add_argument("--max-epochs", type=int, default=30, help="epochs of 50 batches")
    parser.add_argument(
        "--dataset-epochs",
        nargs="*",
        default=[],
        help="per-dataset overrides of --max-epochs, e.g. ett_small=8",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scaler", default="robust", help="the Forecaster's scaler")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON")
    parser.add_argument(
        "--resume",
        help="a previous run's stderr (JSON lines) with the same settings: rows found there "
        "are reused, not retrained",
    )
    args = parser.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))

    results: dict = {
        "benchmark": "forecasters: every encoder x head, rolling test windows",
        "command": "python benchmarks/forecasters.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "versions": {"qfcast": qfcast.__version__, "torch": torch.__version__},
        "budget_s": args.budget,
        "scaler": args.scaler,
        "max_epochs": args.max_epochs,
        "datasets": {},
    }
    done: dict = {}
    if args.resume:
        for line in Path(args.resume).read_text().splitlines():
            if line.startswith("{"):
                row = json.loads(line)
                done[(row.pop("dataset"), row["model"], row["head"])] = row
    epochs_for = {k: int(v) for k, v in (item.split("=") for item in args.dataset_epochs)}
    for name in args.datasets:
        data = datasets.load(name, progress=False)
        max_epochs = epochs_for.get(name, args.max_epochs)
        rows = [{"model": "seasonal_naive", "head": "-", **seasonal_naive(data)}]
        print(json.dumps({"dataset": name, **rows[0]}), file=sys.stderr)
        for model in args.models:
            for head in args.heads:
                row = done.get((name, model, head))
                if row is None:
                    row = run_model(
                        data, model, head, args.budget, max_epochs, args.seed, args.scaler
                    )
                rows.append(row)
                print(json.dumps({"dataset": name, **rows[-1]}), file=sys.stderr)
        learned = [r for r in rows if r["model"] != "seasonal_naive"]
        best = min(learned, key=lambda r: r["mean_wql"])
        default = next((r for r in learned if (r["model"], r["head"]) == DEFAULT), None)
        summary = {"best": {k: best[k] for k in ("model", "head", "mean_wql")}}
        if default is not None:
            summary["default"] = {
                "mean_wql": default["mean_wql"],
                "beats_seasonal_naive": default["mean_wql"] < rows[0]["mean_wql"],
                "vs_best": round(default["mean_wql"] / best["mean_wql"], 3),
            }
        results["datasets"][name] = {
            "max_epochs": max_epochs,
            "freq": data.freq,
            "horizon": data.horizon,
            "windows": data.windows,
            "series": int(data.train["unique_id"].nunique()),
            "rows": rows,
            "summary": summary,
        }
    results["train_step_ms"] = step_times()
    results["quantile_query"] = quantile_query_time()
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
