"""Speed of the distributions, side by side in one run, and the GluonTS cross-check.

    python benchmarks/distributions.py [--rows 1000000] [--repeats 5]
                                       [--gluonts-python .venv-peers/bin/python]

Measures (median of interleaved repeats, after a warm-up):
  * CRPS forward + backward on a batch of ``--rows`` elements: ISQF (K=5, L=5) through
    ``ISQF.crps`` (fast path), the generic spline formula (reference), and Gaussian;
  * ``icdf`` at 99 levels for ``--icdf-rows`` rows: ISQF and Gaussian.
With ``--gluonts-python`` (a venv with ``benchmarks/peers/requirements.txt``, e.g. from
``make peers``) it also compares our ISQF CRPS, quantiles and cdf with GluonTS's on identical
parameters; otherwise it repeats the last recorded comparison from the results file.
Prints JSON and writes ``benchmarks/results/distributions.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import qfcast
from qfcast.distributions import ISQF, Gaussian, isqf_domain_map, spline_shares
from qfcast.distributions import _piecewise as pw

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "distributions.json"
LEVELS = torch.tensor([0.1, 0.3, 0.5, 0.7, 0.9])
K, L = 5, 5


def _leaves(rows: int, gen: torch.Generator):
    raw = torch.randn(rows, 2 * (K - 1) * L + K + 2, generator=gen)
    isqf = [p.detach().clone().requires_grad_(True) for p in isqf_domain_map(raw, K, L)]
    gauss = [
        torch.randn(rows, generator=gen).requires_grad_(True),
        (torch.rand(rows, generator=gen) + 0.5).requires_grad_(True),
    ]
    y = 1.5 * torch.randn(rows, generator=gen)
    return isqf, gauss, y


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_crps(rows: int, repeats: int) -> dict:
    isqf, gauss, y = _leaves(rows, torch.Generator().manual_seed(0))

    def run_isqf():
        ISQF(LEVELS, *isqf, validate_args=False).crps(y).sum().backward()

    def run_reference():
        spline = pw.isqf_spline(LEVELS, *isqf)
        pw.crps(spline, y[:, None]).sum().backward()

    def run_gauss():
        Gaussian(*gauss, validate_args=False).crps(y).sum().backward()

    def forward_isqf():
        with torch.no_grad():
            ISQF(LEVELS, *isqf, validate_args=False).crps(y)

    def forward_gauss():
        with torch.no_grad():
            Gaussian(*gauss, validate_args=False).crps(y)

    cases = {
        "isqf": run_isqf,
        "isqf_generic_reference": run_reference,
        "gaussian": run_gauss,
        "isqf_forward_only": forward_isqf,
        "gaussian_forward_only": forward_gauss,
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for fn in cases.values():  # warm-up
        fn()
    for _ in range(repeats):  # interleaved, so load changes hit all cases alike
        for name, fn in cases.items():
            times[name].append(_timed(fn))
    med = {name: statistics.median(t) for name, t in times.items()}
    n_params = {"isqf": sum(p[0].numel() for p in isqf), "gaussian": 2}
    return {
        "rows": rows,
        "K": K,
        "L": L,
        "parameters_per_row": n_params,
        "seconds_median": med,
        "seconds_all": times,
        "ratio_isqf_to_gaussian": med["isqf"] / med["gaussian"],
        "ratio_generic_to_gaussian": med["isqf_generic_reference"] / med["gaussian"],
        "ratio_forward_only": med["isqf_forward_only"] / med["gaussian_forward_only"],
        # cost per parameter-row: ISQF reads and differentiates 47 numbers per row, Gaussian 2
        "ratio_per_parameter": (med["isqf"] / n_params["isqf"])
        / (med["gaussian"] / n_params["gaussian"]),
        "target_ratio": 3.0,
    }


def bench_icdf(rows: int, repeats: int) -> dict:
    isqf, gauss, _ = _leaves(rows, torch.Generator().manual_seed(1))
    alpha = torch.linspace(0.01, 0.99, 99)[:, None]
    with torch.no_grad():
        d_isqf = ISQF(LEVELS, *isqf, validate_args=False)
        d_gauss = Gaussian(*gauss, validate_args=False)
        cases = {"isqf": lambda: d_isqf.icdf(alpha), "gaussian": lambda: d_gauss.icdf(alpha)}
        times: dict[str, list[float]] = {name: [] for name in cases}
        for fn in cases.values():
            fn()
        for _ in range(repeats):
            for name, fn in cases.items():
                times[name].append(_timed(fn))
    med = {name: statistics.median(t) for name, t in times.items()}
    return {
        "rows": rows,
        "levels": 99,
        "seconds_median": med,
        "ratio_isqf_to_gaussian": med["isqf"] / med["gaussian"],
    }


def gluonts_check(python: str, rows: int = 2000) -> dict:
    """Our ISQF against GluonTS's on identical raw parameters, in float64."""
    gen = np.random.default_rng(0)
    k, pieces = 5, 4
    qk_x = np.array([0.05, 0.25, 0.5, 0.75, 0.95])
    inputs = {
        "spline_knots": 2 * gen.standard_normal((rows, k - 1, pieces)),
        "spline_heights": 2 * gen.standard_normal((rows, k - 1, pieces)),
        "beta_l": gen.uniform(0.05, 5, rows),
        "beta_r": gen.uniform(0.05, 5, rows),
        "qk_y": np.cumsum(gen.uniform(1e-3, 3, (rows, k)), axis=1) - 3,
        "qk_x": qk_x,
        "z": 4 * gen.standard_normal(rows),
        "alpha": np.array([1e-4, 0.01, 0.05, 0.2, 0.5, 0.77, 0.95, 0.99, 0.9999]),
    }
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        np.savez(src, **inputs)
        script = HERE / "peers" / "gluonts_isqf.py"
        subprocess.run([python, str(script), str(src), str(dst)], check=True)
        with np.load(dst) as f:
            theirs = {key: f[key] for key in f.files}
    t = {key: torch.as_tensor(v, dtype=torch.float64) for key, v in inputs.items()}
    d = ISQF(
        t["qk_x"],
        t["qk_y"],
        spline_shares(t["spline_knots"]),
        spline_shares(t["spline_heights"]),
        t["beta_l"],
        t["beta_r"],
    )
    ours = {
        "crps": d.crps(t["z"]).numpy(),
        "quantile": d.icdf(t["alpha"][:, None]).numpy(),
        "cdf": d.cdf(t["z"]).numpy(),
    }

    def rel(a, b):
        return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12)))

    diffs = {key: rel(ours[key], theirs[key]) for key in ours}
    return {
        "gluonts_version": str(theirs["gluonts_version"]),
        "rows": rows,
        "max_relative_difference": diffs,
        "within_1e-6": all(v <= 1e-6 for v in diffs.values()),
        "measured_at": time.strftime("%Y-%m-%d"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--icdf-rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--gluonts-python", help="python of a venv with the peer requirements")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    result = {
        "benchmark": "distributions",
        "qfcast": qfcast.__version__,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": f"{platform.machine()} {platform.processor() or platform.platform()}",
        "command": "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "crps_forward_backward": bench_crps(args.rows, args.repeats),
        "icdf": bench_icdf(args.icdf_rows, args.repeats),
    }
    if args.gluonts_python:
        result["gluonts_check"] = gluonts_check(args.gluonts_python)
    elif args.out.exists():
        previous = json.loads(args.out.read_text()).get("gluonts_check")
        if previous:
            result["gluonts_check"] = {**previous, "note": "recorded by an earlier run"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2)
    args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
