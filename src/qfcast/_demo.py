"""``qfcast demo`` (what ``make demo`` runs): the embedded retail demand panel, the default
model trained for at most 90 s on 2 cores, its held-out accuracy against seasonal naive, the
"95% or 94%?" stock question for a few items, and plots written to a folder named at the end.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from .data.errors import DataWarning
from .data.synthetic import demand_scenario
from .metrics import DEFAULT_LEVELS, evaluate, mean_weighted_quantile_loss

HORIZON = 28
LEAD_TIME = range(7)  # the next 7 days: steps 1-7
ITEMS = 5


def _seasonal_naive(history: pd.DataFrame, actuals: pd.DataFrame, season: int = 7) -> np.ndarray:
    """Last week repeated: (n_series, horizon), in the order of sorted ids."""
    last = history.sort_values(["unique_id", "ds"]).groupby("unique_id").tail(season)
    weeks = last["y"].to_numpy().reshape(-1, season)
    horizon = int(actuals.groupby("unique_id").size().iloc[0])
    return np.tile(weeks, (1, -(-horizon // season)))[:, :horizon]


def run_demo(
    out: Path | str = "qfcast-demo",
    *,
    quick: bool = False,
    save_data: Path | str | None = None,
    say: Callable[[str], None] = print,
    emit: Callable | None = None,
) -> dict:
    """Run the demo; returns the numbers it printed (for tests)."""
    import qfcast
    from qfcast import plot
    from qfcast.decision import stock_for_service_level, tradeoff

    out = Path(out)
    n_series, length = (12, 200) if quick else (50, 730)
    scenario = demand_scenario(n_series=n_series, length=length, horizon=HORIZON, seed=0)
    history, future, actuals = scenario.history, scenario.future, scenario.actuals
    if save_data is not None:
        folder = Path(save_data)
        folder.mkdir(parents=True, exist_ok=True)
        for name, frame in (("history", history), ("future", future), ("actuals", actuals)):
            frame.to_csv(folder / f"{name}.csv", index=False)
        say(f"wrote history.csv, future.csv and actuals.csv to {folder}")
    say(
        f"qfcast demo: {n_series} items × {length} days of retail demand (synthetic, with "
        f"promotions known {HORIZON} days ahead); forecasting the next {HORIZON} days."
    )
    fc = qfcast.Forecaster(
        horizon=HORIZON,
        static=("store", "category"),
        future=("promo",),
        random_state=0,
        max_epochs=1 if quick else 40,
        batches_per_epoch=3 if quick else 50,
        progress=False,
        trainer_kwargs={"max_time": {"seconds": 20 if quick else 90}},
    )
    late = int((history.groupby("unique_id").size() < length).sum())
    if late:
        say(f"{late} items launched late: their short histories are padded and masked")
    start = time.perf_counter()
    with warnings.catch_warnings():  # the late launches, announced above in plain words
        warnings.simplefilter("ignore", DataWarning)
        fc.fit(history)
    seconds = time.perf_counter() - start
    say(
        f"trained the default model (MQ-CNN + ISQF) in {seconds:.0f} s "
        f"(best epoch {fc.best_epoch_})"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        forecast = fc.predict(history, future, progress=False)

    # -- held-out accuracy against seasonal naive (the last week repeated: a point forecast,
    # the same value at every level)
    scores = evaluate(forecast, actuals[["unique_id", "ds", "y"]])
    truth = actuals.sort_values(["unique_id", "ds"])["y"].to_numpy().reshape(n_series, HORIZON)
    levels = np.array(DEFAULT_LEVELS)
    naive = _seasonal_naive(history, actuals)
    accuracy = pd.DataFrame(
        {
            "model": ["qfcast default", "seasonal naive"],
            "mean_wQL": [
                scores["mean_wql"],
                mean_weighted_quantile_loss(
                    truth, np.broadcast_to(naive, (len(levels), *naive.shape)), levels
                ),
            ],
            "coverage_80": [scores["coverage_80"], np.nan],
            "coverage_95": [scores["coverage_95"], np.nan],
        }
    )
    say(
        "\nheld-out accuracy over the next 28 days (lower wQL is better; coverage should be "
        "near 0.80 / 0.95):"
    )
    _show(accuracy, emit, say)

    # -- the stock question
    items = [str(i) for i in forecast.ids[:ITEMS]]
    table = stock_for_service_level(forecast, [0.94, 0.95], steps=LEAD_TIME)
    table = table[table["unique_id"].isin(items)]
    wide = table.pivot(index="unique_id", columns="level", values="stock")
    answer = pd.DataFrame(
        {
            "item": wide.index,
            "stock_95%": wide[0.95].to_numpy(),
            "stock_94%": wide[0.94].to_numpy(),
        }
    )
    answer["saved_at_94%"] = answer["stock_95%"] - answer["stock_94%"]
    answer["saved_%"] = 100 * answer["saved_at_94%"] / answer["stock_95%"]
    say(
        "\nstock to cover the next 7 days' demand at 95% vs 94% service — one model, no "
        "retraining\n"
        "(a marginal model: the 7-day total assumes the days move together, the conservative end;\n"
        " `qfcast query --json` also gives the independent-days answer):"
    )
    _show(answer.round(2), emit, say)

    # -- plots
    out.mkdir(parents=True, exist_ok=True)
    first = items[0]
    recent = history[history["ds"] > history["ds"].max() - pd.Timedelta(days=90)]
    files = [
        plot.save(
            plot.fan_chart(forecast, history=recent, actuals=actuals, series=first),
            out / "fan_chart.png",
        ),
        plot.save(
            plot.quantile_function(forecast, series=first, step=0), out / "quantile_function.png"
        ),
        plot.save(
            plot.tradeoff_curve(tradeoff(forecast, steps=LEAD_TIME).query("unique_id == @first")),
            out / "tradeoff.png",
        ),
        plot.save(plot.pit_histogram(forecast, actuals[["unique_id", "ds", "y"]]), out / "pit.png"),
    ]
    say(f"\nplots ({', '.join(f.name for f in files)}) written to {out.resolve()}")
    return {"accuracy": accuracy, "answer": answer, "files": files, "fit_seconds": seconds}


def _show(frame: pd.DataFrame, emit: Callable | None, say: Callable[[str], None]) -> None:
    if emit is not None:
        emit(frame)
    else:
        say(frame.to_string(index=False, float_format=lambda v: f"{v:.4g}"))


def main() -> None:  # ``python -m qfcast._demo``: the same as ``qfcast demo``
    run_demo()


if __name__ == "__main__":
    main()
