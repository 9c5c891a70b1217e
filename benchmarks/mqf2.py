"""MQF² against the reference (GluonTS 0.17) and against per-step ISQF, in one run.

    python benchmarks/mqf2.py [--steps 300] [--gluonts-python /work/peers-venv/bin/python]

1. **Speed and memory** at the reference defaults: H = context = 24, batch 32, 50 energy-score
   samples, PICNN 20 × 2, a 2-layer recurrent encoder of width 40 (ours: MQ-RNN's LSTM with
   forking sequences, so every context position is a window as in GluonTS's sliding scheme;
   theirs: the DeepAR LSTM). One training step = loss + backward (+ Adam), median of repeats,
   each library in its own fresh process; peak memory is that process's max RSS.
2. **Accuracy on a known joint law**: ``MultiHorizonGaussian`` (24 steps, AR(1) φ = 0.9 plus a
   daily cycle), whose conditional distribution of the next 24 steps is known at any origin.
   MQF² and ISQF (same encoder, same number of optimiser steps) and, with
   ``--gluonts-python``, GluonTS's MQF² (same steps) forecast 24 steps for every series; we
   report the energy score and variogram score (p = 0.5) against held-out futures, and the
   Frobenius distance between each model's correlation matrix across steps and the truth.
Prints JSON and writes ``benchmarks/results/mqf2.json``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from _machine import machine

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "mqf2.json"
H = 24
SERIES, LENGTH = 40, 720


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def our_step(repeats: int = 11) -> dict:
    """One training step of our MQF² at the reference defaults (run in a fresh process)."""
    from qfcast.data import Panel, WindowSampler
    from qfcast.data.synthetic import MultiHorizonGaussian
    from qfcast.heads import MQF2
    from qfcast.nn import get_encoder
    from qfcast.nn.base import InputDims
    from qfcast.training import ForecastingModule

    torch.set_num_threads(2)
    df = MultiHorizonGaussian().panel(n_series=8, length=400, seed=0)
    batch = WindowSampler(Panel.from_frame(df), H, H, seed=0).sample(32)
    dims = InputDims(H, H, 5, 0, 0, 0, ())
    encoder = get_encoder({"name": "mqrnn", "hidden_size": 40, "num_layers": 2}, dims)
    torch.manual_seed(0)
    module = ForecastingModule(encoder, MQF2(num_samples=50).bind(H), past_covariates=0)
    optimiser = torch.optim.Adam(module.parameters())
    rss_before = _peak_gb()
    loss_backward, full_step = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        module.loss(batch).backward()
        loss_backward.append(time.perf_counter() - start)
        optimiser.zero_grad()
        start = time.perf_counter()
        module.loss(batch).backward()
        optimiser.step()
        optimiser.zero_grad()
        full_step.append(time.perf_counter() - start)
    return {
        "loss_backward_s": round(statistics.median(loss_backward[1:]), 4),
        "loss_backward_min_s": round(min(loss_backward[1:]), 4),
        "step_with_adam_s": round(statistics.median(full_step[1:]), 4),
        "peak_rss_gb": round(_peak_gb(), 3),
        "rss_before_steps_gb": round(rss_before, 3),
        "parameters": sum(p.numel() for p in module.parameters()),
        "windows_per_step": 32 * H,
    }


def components(repeats: int = 15) -> dict:
    """Side by side in one process, forward + backward (ms, median): the grouped PICNN gradient
    map against the per-point one, the Gram pairwise energy term against exact differences, and
    the LSTM against the GRU at the MQF² step's shapes (768 windows × 50 samples × 24 steps)."""
    from qfcast.distributions.energy import energy_score
    from qfcast.distributions.picnn import PICNN

    torch.set_num_threads(2)
    torch.manual_seed(0)
    net = PICNN(H, H * 8, 20, 2)
    context = torch.randn(32 * H, H * 8, requires_grad=True)
    x = torch.randn(32 * H, 50, H)
    y = torch.randn(32 * H, H)
    z = torch.randn(32 * H, 50, H, requires_grad=True)
    lstm, gru = torch.nn.LSTM(6, 40, 2, batch_first=True), torch.nn.GRU(6, 40, 2, batch_first=True)
    seq = torch.randn(32, H, 6)
    cases = {
        "map_grouped": lambda: net.gradient_grouped(x, context).square().sum().backward(),
        "map_per_point": lambda: (
            net._backward(net._pass(x, context[:, None]), x)[0].square().sum().backward()
        ),
        "pairwise_gram": lambda: energy_score(z, y, pairwise="gram").sum().backward(),
        "pairwise_exact": lambda: energy_score(z, y, pairwise="exact").sum().backward(),
        "lstm_2x40": lambda: lstm(seq)[0].square().sum().backward(),
        "gru_2x40": lambda: gru(seq)[0].square().sum().backward(),
    }
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(repeats):  # interleaved, so both sides of a pair see the same load
        for name, case in cases.items():
            start = time.perf_counter()
            case()
            times[name].append(time.perf_counter() - start)
    ms = {k: round(1000 * statistics.median(v[1:]), 2) for k, v in times.items()}
    return {
        "ms": ms,
        "map_speedup": round(ms["map_per_point"] / ms["map_grouped"], 2),
        "pairwise_speedup": round(ms["pairwise_exact"] / ms["pairwise_gram"], 2),
        "lstm_speedup_over_gru": round(ms["gru_2x40"] / ms["lstm_2x40"], 2),
    }


def _scores(samples: np.ndarray, future: np.ndarray) -> dict:
    """Mean energy score (β = 1, all pairs) and variogram score (p = 0.5) over series."""
    from qfcast.metrics import energy_score_mean, variogram_score_mean

    return {
        "energy_score": round(energy_score_mean(future, samples, estimator="nrg"), 4),
        "variogram_score": round(variogram_score_mean(future, samples, p=0.5), 2),
    }


def _correlation_error(samples: np.ndarray, truth: np.ndarray) -> float:
    from qfcast.forecast import sample_correlation

    error = np.linalg.norm(sample_correlation(samples) - truth[None], axis=(1, 2))
    return round(float(error.mean()), 3)


def accuracy(steps: int, gluonts_python: str | None) -> dict:
    import qfcast
    from qfcast.data.synthetic import MultiHorizonGaussian

    truth = MultiHorizonGaussian()
    df = truth.panel(n_series=SERIES, length=LENGTH, seed=0)
    history = df.groupby("unique_id").head(LENGTH - H)
    future = df.groupby("unique_id").tail(H)["y"].to_numpy().reshape(SERIES, H)
    correlation = truth.correlation()
    batches = 50
    epochs = max(1, steps // batches)
    offdiag = correlation[~np.eye(H, dtype=bool)].mean()
    out: dict = {"steps": epochs * batches, "series": SERIES, "true_offdiag_corr": offdiag}
    true_paths = truth.sample_future(history, 400, seed=1)  # the exact conditional law
    out["truth"] = _scores(true_paths, future)
    out["truth"]["correlation_error"] = _correlation_error(true_paths, correlation)
    for head in ("mqf2", "isqf"):
        encoder = {"name": "mqrnn", "hidden_size": 40, "num_layers": 2}
        fc = qfcast.Forecaster(
            horizon=H,
            model=encoder,
            head=head,
            context=H,
            max_epochs=epochs,
            batches_per_epoch=batches,
            patience=None,
            progress=False,
            random_state=0,
            num_samples=400,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            fc.fit(history)
            seconds = time.perf_counter() - start
            f = fc.predict(history)
        paths = f.sample(400, seed=0) if head != "mqf2" else f.samples
        out[head] = {
            **_scores(paths, future),
            "correlation_error": _correlation_error(paths, correlation),
            "train_s": round(seconds, 1),
        }
        print(json.dumps({head: out[head]}), file=sys.stderr)
    if gluonts_python:
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "data.npz"
            series = history.groupby("unique_id")["y"].apply(np.asarray)
            np.savez(
                data,
                train=np.stack(series.to_numpy()),
                start=np.array([str(history["ds"].min())]),
                test_context=np.stack([s[-H:] for s in series.to_numpy()]),
                test_future=future,
            )
            result = _peer(
                gluonts_python,
                ["--steps", str(epochs * batches), "--data", str(data), "--skip", "step"],
            )
        try:
            scores = result["train_eval"]["scores"]
            out["gluonts"] = {
                "energy_score": round(scores["energy_score"], 4),
                "variogram_score": round(scores["variogram_score_p05"], 2),
                "train_s": round(result["train_eval"]["train_wall_s"], 1),
                "save_load_identical": result.get("save_load", {}).get("identical"),
            }
        except (KeyError, TypeError) as error:
            out["gluonts"] = {"error": repr(error), "raw": result}
    return out


def _peer(python: str, args: list[str]) -> dict:
    script = HERE / "peers" / "gluonts_mqf2.py"
    done = subprocess.run([python, str(script), *args], capture_output=True, text=True)
    if done.returncode != 0:
        return {"error": done.stderr[-2000:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _gluonts_step(theirs: dict) -> dict:
    step = theirs["step"]
    return {
        "loss_backward_s": round(step["timings"]["loss_backward"]["median_s"], 4),
        "loss_backward_min_s": round(step["timings"]["loss_backward"]["min_s"], 4),
        "step_with_adam_s": round(step["timings"]["loss_backward_adam"]["median_s"], 4),
        "peak_rss_gb": round(step["memory"]["maxrss_after_adam_steps_kib"] / 1e6, 3),
        "rss_before_steps_gb": round(step["memory"]["maxrss_before_first_step_kib"] / 1e6, 3),
    }


def _median_round(rounds: list[dict]) -> dict:
    """Per key, the median over rounds of the numbers (other values from the first round)."""
    out = dict(rounds[0])
    for key, value in rounds[0].items():
        if isinstance(value, float):
            out[key] = round(statistics.median(r[key] for r in rounds), 4)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="optimiser steps per model")
    parser.add_argument("--gluonts-python", default=None)
    parser.add_argument("--rounds", type=int, default=3, help="alternating step-timing rounds")
    parser.add_argument("--step-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--components-only",
        action="store_true",
        help="only the side-by-side component timings (printed, not written)",
    )
    args = parser.parse_args()
    if args.step_only:
        print(json.dumps(our_step()))
        return
    if args.components_only:
        print(json.dumps(components(), indent=2))
        return
    import qfcast

    # Alternate fresh processes, ours then theirs, so that both see the same machine load;
    # each process reports a median over repeats, and we report the median over rounds and
    # the speed ratio of each side-by-side pair.
    rounds: list[dict] = []
    for _ in range(args.rounds):
        ours = json.loads(
            subprocess.run(
                [sys.executable, __file__, "--step-only"],
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        theirs = None
        if args.gluonts_python:
            theirs = _peer(
                args.gluonts_python,
                [
                    "--steps",
                    "0",
                    "--threads",
                    "2",
                    "--repeats",
                    "9",
                    "--skip",
                    "train_eval",
                    "save_load",
                ],
            )
        rounds.append({"ours": ours, "theirs": theirs})
    result: dict = {
        "benchmark": "MQF2: step time and memory vs GluonTS, accuracy on a known joint Gaussian",
        "command": "python benchmarks/mqf2.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "versions": {"qfcast": qfcast.__version__, "torch": torch.__version__},
        "step": {"rounds": len(rounds), "qfcast": _median_round([r["ours"] for r in rounds])},
    }
    if args.gluonts_python:
        try:
            theirs = [_gluonts_step(r["theirs"]) for r in rounds]
            result["step"]["gluonts"] = _median_round(theirs)
            result["step"]["gluonts"]["versions"] = rounds[0]["theirs"].get("versions")
            ratios = [
                t["loss_backward_s"] / r["ours"]["loss_backward_s"]
                for t, r in zip(theirs, rounds, strict=True)
            ]
            result["step"]["speedup_per_round"] = [round(x, 1) for x in ratios]
            result["step"]["speedup"] = round(statistics.median(ratios), 1)
            # The fastest repeat of each side: the least disturbed by other load.
            best_theirs = min(t["loss_backward_min_s"] for t in theirs)
            best_ours = min(r["ours"]["loss_backward_min_s"] for r in rounds)
            result["step"]["speedup_of_fastest_repeats"] = round(best_theirs / best_ours, 1)
            ours_m, g = result["step"]["qfcast"], result["step"]["gluonts"]
            result["step"]["extra_memory_ratio"] = round(
                (ours_m["peak_rss_gb"] - ours_m["rss_before_steps_gb"])
                / (g["peak_rss_gb"] - g["rss_before_steps_gb"]),
                3,
            )
        except (KeyError, TypeError, ZeroDivisionError, AttributeError) as error:
            result["step"]["gluonts"] = {"error": repr(error), "raw": rounds[0]["theirs"]}
    result["components"] = components()
    result["accuracy"] = accuracy(args.steps, args.gluonts_python)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
