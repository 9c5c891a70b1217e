"""Speed and memory of the data layer as the panel grows: 10k → 100k series × 500 steps.

    python benchmarks/data.py [--sizes 10000 25000 50000 100000] [--length 500]

Each size runs in its own fresh process (so peak memory is that size's alone) and measures:
  * ``Panel.from_frame``: validate and regularise a long DataFrame (hourly, categorical ids,
    float64 target), the rows shuffled within nothing — as a Parquet file would arrive;
  * one epoch of training windows (as many random windows as series, context 96 + horizon 24,
    gathered in batches of 1024, with calendar and age features);
  * validation and inference windows for every series (one window each).
Peak memory is the process's maximum resident set (``ru_maxrss``), which includes the input
DataFrame itself; ``input_gb`` is the resident size right after building that DataFrame.
The target is linear scaling, and under 30 s and 4 GB for 100k × 500 on 2 cores.
Prints JSON and writes ``benchmarks/results/data.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from _machine import machine

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "data.json"
CONTEXT, HORIZON, BATCH = 96, 24, 1024


def _rss_gb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e9


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # KiB on Linux


def _panel_frame(n_series: int, length: int, seed: int = 0) -> pd.DataFrame:
    """A long frame built column by column, so building it costs no more than holding it."""
    rng = np.random.default_rng(seed)
    codes = np.repeat(np.arange(n_series, dtype=np.int32), length)
    ids = pd.Categorical.from_codes(codes, categories=[f"item_{i:06d}" for i in range(n_series)])
    del codes
    start = pd.Timestamp("2022-01-01").value
    hour = 3_600 * 10**9
    ds = np.tile(start + hour * np.arange(length, dtype=np.int64), n_series)
    y = rng.gamma(2.0, 10.0, n_series * length)
    y[rng.random(n_series * length) < 0.01] = np.nan  # 1% missing targets
    return pd.DataFrame({"unique_id": ids, "ds": ds.view("datetime64[ns]"), "y": y}, copy=False)


def run_one(n_series: int, length: int) -> dict:
    from qfcast.data import Panel, WindowSampler, inference_batches, validation_windows

    frame = _panel_frame(n_series, length)
    input_gb = _rss_gb()
    start = time.perf_counter()
    panel = Panel.from_frame(frame, freq="h")
    panel_s = time.perf_counter() - start

    sampler = WindowSampler(panel, CONTEXT, HORIZON, seed=0)
    start = time.perf_counter()
    windows = 0
    while windows < n_series:
        windows += len(sampler.sample(min(BATCH, n_series - windows)))
    train_s = time.perf_counter() - start

    start = time.perf_counter()
    validation_windows(panel, CONTEXT, HORIZON)
    for _ in inference_batches(panel, CONTEXT, HORIZON, batch_size=8 * BATCH):
        pass
    eval_s = time.perf_counter() - start
    return {
        "series": n_series,
        "length": length,
        "rows": n_series * length,
        "panel_s": round(panel_s, 3),
        "train_epoch_s": round(train_s, 3),
        "validation_and_inference_s": round(eval_s, 3),
        "total_s": round(panel_s + train_s + eval_s, 3),
        "input_gb": round(input_gb, 3),
        "peak_gb": round(_peak_gb(), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 25_000, 50_000, 100_000])
    parser.add_argument("--length", type=int, default=500)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # child process
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.length)))
        return
    rows = []
    for size in args.sizes:
        command = [sys.executable, __file__, "--one", str(size), "--length", str(args.length)]
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), file=sys.stderr)
    small, big = rows[0], rows[-1]

    def extra(row: dict) -> float:  # memory beyond holding the input frame
        return row["peak_gb"] - row["input_gb"]

    import qfcast

    result = {
        "benchmark": "data layer: Panel.from_frame + windows",
        "command": "python benchmarks/data.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "versions": {
            "qfcast": qfcast.__version__,
            "pandas": pd.__version__,
            "numpy": np.__version__,
        },
        "context": CONTEXT,
        "horizon": HORIZON,
        "sizes": rows,
        "scaling": {
            "series_ratio": big["series"] / small["series"],
            "time_ratio": round(big["total_s"] / small["total_s"], 2),
            "panel_time_ratio": round(big["panel_s"] / small["panel_s"], 2),
            "extra_memory_ratio": round(
                (big["peak_gb"] - big["input_gb"])
                / max(small["peak_gb"] - small["input_gb"], 1e-9),
                2,
            ),
        },
        "target": {"total_s": 30, "peak_gb": 4, "at_series": 100_000, "at_length": 500},
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
