"""Claim 4 — decisions: the stock for every service level 90–99%, and the marginal stock per
point, from one trained model.

On the embedded retail demand panel (``qfcast.data.synthetic.demand_scenario``), the default
model (MQ-CNN + ISQF, promotions as a known future covariate) is trained once. For a 7-day lead
time it then gives, for every item and every level 90 … 99%, the stock that covers the 7-day
demand — no retraining per level — and the stock each extra point of service costs. The
held-out week tells how often each stock actually covered demand (the achieved service, over
items). A marginal model's 7-day total is the comonotone sum of the days' quantiles (the
conservative end; ``qfcast.decision`` also gives the independent-days answer).

    python examples/decisions.py [--quick] [--out examples/output]
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np

import qfcast
from _shared import example_main
from qfcast import plot
from qfcast.data.synthetic import demand_scenario
from qfcast.decision import tradeoff

LEVELS = tuple(np.round(np.arange(0.90, 0.995, 0.01), 2))
LEAD = range(7)


def run(quick: bool = False, out: Path = Path("examples/output"), seed: int = 0) -> dict:
    start = time.perf_counter()
    n_series, length, budget = (12, 300, 5.0) if quick else (50, 730, 60.0)
    sc = demand_scenario(n_series=n_series, length=length, horizon=28, seed=seed)
    fc = qfcast.Forecaster(
        horizon=28,
        static=("store", "category"),
        future=("promo",),
        random_state=seed,
        progress=False,
        max_epochs=1000,
        trainer_kwargs={"max_time": {"seconds": budget}},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fc.fit(sc.history)
        forecast = fc.predict(sc.history, sc.future, progress=False)
    table = tradeoff(forecast, LEVELS, steps=LEAD)  # every item × level, one model
    # Achieved service: how often each level's stock covered the held-out 7-day demand.
    actual = (
        (sc.actuals.sort_values(["unique_id", "ds"]).groupby("unique_id").head(len(LEAD)))
        .groupby("unique_id")["y"]
        .sum()
    )
    table["covered"] = table["stock"].to_numpy() >= actual.reindex(table["unique_id"]).to_numpy()
    total = table.groupby("level").agg(stock=("stock", "sum"), achieved=("covered", "mean"))
    total["marginal_stock"] = total["stock"].diff() / (np.diff(total.index, prepend=np.nan) * 100)
    total = total.reset_index()
    out.mkdir(parents=True, exist_ok=True)
    figures = [
        str(plot.save(plot.tradeoff_curve(total), out / "decisions_tradeoff.png")),
    ]
    first, last = total["marginal_stock"].iloc[1], total["marginal_stock"].iloc[-1]
    rows = [
        {
            "level": f"{a:.0%}",
            "total_stock": round(float(s), 1),
            "marginal_stock_per_point": None if np.isnan(m) else round(float(m), 1),
            "achieved_service": round(float(c), 3),
        }
        for a, s, m, c in total[["level", "stock", "marginal_stock", "achieved"]].itertuples(
            index=False
        )
    ]
    items = table[table["unique_id"].isin(forecast.ids[:3])]
    claims = [
        {
            "claim": "One trained model gives the stock at every service level 90–99%, "
            "non-decreasing in the level, with no retraining.",
            "holds": bool((np.diff(total["stock"]) >= 0).all() and len(total) == len(LEVELS)),
            "evidence": f"{len(LEVELS)} levels × {n_series} items from one fit: total 7-day stock "
            f"{total['stock'].iloc[0]:.0f} at 90% to {total['stock'].iloc[-1]:.0f} at 99%.",
        },
        {
            "claim": "The last points of service cost the most stock: the 98→99% point costs "
            "more than the 90→91% point.",
            "holds": bool(last > first),
            "evidence": f"marginal stock per point: {first:.1f} at 90→91%, {last:.1f} at 98→99% "
            f"(94→95%: {total['marginal_stock'].iloc[5]:.1f}).",
        },
    ]
    return {
        "name": "decisions",
        "title": "Stock for every service level from one model (demand panel)",
        "seconds": round(time.perf_counter() - start, 1),
        "setup": f"{n_series} items × {length} days, default model, {budget:g} s training, "
        "7-day lead time, comonotone days",
        "claims": claims,
        "tables": {
            "all items, 7-day lead time": rows,
            "three items": [
                {
                    "item": r.unique_id,
                    "level": f"{r.level:.0%}",
                    "stock": round(r.stock, 1),
                    "marginal_stock_per_point": None
                    if np.isnan(r.marginal_stock)
                    else round(r.marginal_stock, 2),
                }
                for r in items.itertuples(index=False)
                if r.level in (0.9, 0.94, 0.95, 0.99)
            ],
        },
        "figures": figures,
    }


def main() -> None:
    example_main(run, "decisions", __doc__)


if __name__ == "__main__":
    main()
