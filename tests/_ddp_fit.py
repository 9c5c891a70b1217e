"""Run by tests/test_forecaster.py: fit with strategy="ddp" on two CPU processes (gloo).

Lightning's launcher re-runs this script once per extra rank; rank 0 writes its forecast's
weighted quantile loss, and that of the climatological forecast (each series' own historical
quantiles, blind to the daily phase), to the JSON file named on the command line.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd

import qfcast
from qfcast.metrics import mean_weighted_quantile_loss


def sine_panel(n_series: int = 6, length: int = 240, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    rows = []
    for i in range(n_series):
        y = 10 + 5 * np.sin(2 * np.pi * (t + 3 * i) / 24) + rng.normal(0, 0.5, length)
        rows.append(
            pd.DataFrame(
                {
                    "unique_id": f"s{i}",
                    "ds": pd.date_range("2024-01-01", periods=length, freq="h"),
                    "y": y,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def climatology(history: pd.DataFrame, horizon: int, levels: np.ndarray) -> np.ndarray:
    """Each series' historical quantiles repeated over the horizon, shape (K, n * horizon)."""
    q = history.groupby("unique_id")["y"].quantile(list(levels)).unstack().to_numpy()  # (n, K)
    return np.repeat(q, horizon, axis=0).T


def main(out: str) -> None:
    df = sine_panel()
    horizon = 24
    history = df.groupby("unique_id").head(240 - horizon)
    actuals = df.groupby("unique_id").tail(horizon)
    fc = qfcast.Forecaster(
        horizon=horizon,
        model="mqcnn",
        head="isqf",
        max_epochs=12,
        batches_per_epoch=20,
        random_state=0,
        strategy="ddp",
        devices=2,
        accelerator="cpu",
        progress=False,
    )
    fc.fit(history)
    if fc.global_rank_ != 0:
        return
    levels = np.round(np.arange(0.1, 1.0, 0.1), 2)
    q = fc.predict(history).quantile(levels)
    y = actuals["y"].to_numpy()
    quantiles = q.iloc[:, 2:].to_numpy().T
    result = {
        "wql": mean_weighted_quantile_loss(y, quantiles, levels),
        "climatology_wql": mean_weighted_quantile_loss(
            y, climatology(history, horizon, levels), levels
        ),
        "world_size": fc.world_size_,
    }
    with open(out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(sys.argv[1])
