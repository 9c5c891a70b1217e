"""Peer measurement: GluonTS's MQF2 (``MQF2MultiHorizonEstimator``), for side-by-side comparison.

Peer-venv only (see requirements.txt beside this file); no dependency on qfcast.

    python gluonts_mqf2.py [--steps N] [--data IN.npz] [--out OUT.json] [--repeats R] [--threads T]

Prints one JSON object on one line of stdout (everything else goes to stderr) and writes it,
indented, to --out if given. Every section runs in its own try/except: a failure is recorded as
an ``error`` string in that section and the other sections still run.

Configuration = the estimator's defaults (MATH.md B.7) unless overridden: prediction_length =
context_length = 24, freq "h" (40 lags up to 721, 4 time features + age), LSTM 2 layers × 40,
dropout 0.1, batch 32, energy-score training with es_num_samples 50 and beta 1.0, PICNN
icnn_hidden_size 20 × icnn_num_layers 2, Adam lr 1e-3 / weight decay 1e-8, gradient clip 10 (norm).
The Lightning model summary is off (it crashes MQF2, MATH.md B.9); logging is off and the
estimator's (mandatory) checkpoint goes to a temporary directory.

Sections
  ``step``: the module built by ``estimator.create_lightning_module()``, one real training batch
    from the estimator's own transformation + training data loader, timed (median of --repeats
    after --warmup) for: loss forward only; loss + backward; loss + backward + clip + Adam step.
    Memory: the process's max RSS (``ru_maxrss``, KiB) and current RSS right before the first
    step and max RSS after each phase.
  ``train_eval``: ``estimator.train_model`` for exactly --steps optimiser steps (one Lightning
    epoch of --steps batches, so the weights returned are the final ones; the estimator's
    ReduceLROnPlateau never fires), then the returned predictor draws --num-samples samples per
    test series (what it is given: --history, below; with ``test_context`` alone GluonTS
    zero-pads the 721 hours of lags it does not get, as it does for any short series), and the
    mean energy score and variogram score of those samples against ``test_future`` (numpy, see
    ``energy_score`` and ``variogram_score``).
  ``save_load``: ``predictor.serialize`` / ``Predictor.deserialize`` into a temporary directory,
    samples with the same torch seed before and after; ActNorm re-initialises after loading
    (MATH.md B.9), so they differ; also the same after marking every ActNorm as initialised.

IN.npz: ``train`` (n_series, length) float64 hourly series starting at ``start`` (string array,
one element); ``test_context`` (n_series, P), ``test_future`` (n_series, P); optional
``test_start`` (string array, one element). By default (--history auto) the predictor gets the
whole series when ``test_context`` is the tail of ``train`` (then the context-only scores are
reported too), else ``test_context`` alone, starting right after ``train``; see ``test_dataset``.
With --steps 0 only the ``step`` section runs.
Without --data, a synthetic AR(1) panel (``synthetic_data``) is used and marked as such.

Timing caveat: on a 2-core machine that is running anything else, 2 torch threads oversubscribe
the cores and one step varied from 1.8 s to 13.7 s (with 1 thread: 0.6-1.6 s). Compare timings
only from an otherwise idle machine at the same --threads; ``min_s`` is reported beside the median.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import random
import resource
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore", message="Using `json`-module")
warnings.filterwarnings("ignore", category=UserWarning, module="lightning")
warnings.filterwarnings("ignore", category=UserWarning, module="pytorch_lightning")


# ----------------------------------------------------------------------------- scores (numpy)


def energy_score(samples: np.ndarray, y: np.ndarray, beta: float = 1.0) -> tuple[float, float]:
    """Energy score of one multivariate ensemble.

    samples (S, P), y (P,). Returns (nrg, fair):
      nrg  = (1/S) Σ_j ‖X_j − y‖^β − ½ · (1/S²) Σ_{j,l} ‖X_j − X_l‖^β   (all S² ordered pairs,
             the j = l terms are 0; the "plain"/V-statistic estimator, as GluonTS trains with)
      fair = same first term − ½ · (1/(S(S−1))) Σ_{j≠l} ‖X_j − X_l‖^β   (unbiased U-statistic)
    """
    x = np.asarray(samples, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    s = x.shape[0]
    term1 = np.mean(np.linalg.norm(x - y[None, :], axis=-1) ** beta)
    diff = x[:, None, :] - x[None, :, :]  # (S, S, P)
    pair = np.linalg.norm(diff, axis=-1) ** beta  # diagonal is 0
    total = pair.sum()
    return float(term1 - 0.5 * total / s**2), float(term1 - 0.5 * total / (s * (s - 1)))


def variogram_score(samples: np.ndarray, y: np.ndarray, p: float = 0.5) -> float:
    """Variogram score of order p with unit weights over ALL ordered step pairs (i, j).

    VS = Σ_{i,j} ( |y_i − y_j|^p − (1/S) Σ_s |X_{s,i} − X_{s,j}|^p )²
    (Scheuerer & Hamill 2015; the i = j terms are 0, so this is twice the sum over i < j.)
    """
    x = np.asarray(samples, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    vy = np.abs(y[:, None] - y[None, :]) ** p  # (P, P)
    vx = np.mean(np.abs(x[:, :, None] - x[:, None, :]) ** p, axis=0)  # (P, P)
    return float(np.sum((vy - vx) ** 2))


def mean_scores(samples: np.ndarray, future: np.ndarray) -> dict:
    """samples (N, S, P), future (N, P) → mean ES (nrg, fair) and mean VS over the N series."""
    es = np.array([energy_score(s, y) for s, y in zip(samples, future, strict=True)])
    vs = np.array([variogram_score(s, y) for s, y in zip(samples, future, strict=True)])
    return {
        "energy_score": float(es[:, 0].mean()),
        "energy_score_fair": float(es[:, 1].mean()),
        "variogram_score_p05": float(vs.mean()),
        "n_series": len(future),
        "n_samples": int(samples.shape[1]),
    }


# ----------------------------------------------------------------------------- helpers


def rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def maxrss_kib() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux


def err(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}\n" + "".join(traceback.format_tb(e.__traceback__)[-4:])


def seed_all(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - GluonTS's instance samplers draw from the legacy global RNG
    torch.manual_seed(seed)


def synthetic_data(n_series=16, length=1000, horizon=24, phi=0.8, seed=0) -> dict:
    """AR(1) around a per-series level with a daily cycle, hourly from 2021-01-01."""
    rng = np.random.default_rng(seed)
    total = length + 2 * horizon
    eps = rng.normal(size=(n_series, total))
    x = np.zeros((n_series, total))
    for t in range(1, total):
        x[:, t] = phi * x[:, t - 1] + eps[:, t]
    level = rng.uniform(5.0, 20.0, size=(n_series, 1))
    daily = 2.0 * np.sin(2 * np.pi * np.arange(total) / 24)[None]
    y = level + daily + x
    return {
        "train": y[:, :length],
        "start": np.array(["2021-01-01 00:00:00"]),
        "test_context": y[:, length : length + horizon],
        "test_future": y[:, length + horizon :],
    }


def load_data(path: str | None, horizon: int) -> tuple[dict, str]:
    if path is None:
        return synthetic_data(horizon=horizon), "synthetic AR(1) (synthetic_data(), seed 0)"
    with np.load(path, allow_pickle=False) as f:
        d = {k: f[k] for k in f.files}
    return d, str(path)


def make_estimator(args, trainer_kwargs: dict, num_batches_per_epoch: int = 50):
    from gluonts.torch.model.mqf2 import MQF2MultiHorizonEstimator

    return MQF2MultiHorizonEstimator(
        freq=args.freq,
        prediction_length=args.prediction_length,
        context_length=args.prediction_length,
        num_layers=2,
        hidden_size=40,
        batch_size=args.batch_size,
        num_batches_per_epoch=num_batches_per_epoch,
        es_num_samples=args.es_num_samples,
        beta=1.0,
        icnn_hidden_size=20,
        icnn_num_layers=2,
        trainer_kwargs=trainer_kwargs,
    )


def train_dataset(d: dict, freq: str):
    from gluonts.dataset.common import ListDataset

    start = str(np.asarray(d["start"]).reshape(-1)[0])
    train = np.asarray(d["train"], dtype=np.float64)
    return ListDataset(
        [{"start": start, "target": row, "item_id": str(i)} for i, row in enumerate(train)],
        freq=freq,
    )


def test_dataset(d: dict, freq: str, history: str):
    """The series the predictor is given, and how (``conditioning``).

    ``overlap``: ``test_context`` is the last P values of ``train`` (benchmarks/mqf2.py's layout);
    otherwise ``test_context`` is taken to follow ``train`` directly (or to start at
    ``test_start``). history "context": the predictor gets ``test_context`` alone (its other lags
    are zero-padded by GluonTS); "train": the whole series up to the forecast origin (``train``,
    plus ``test_context`` when it does not overlap) so GluonTS has its 721 hours of lags, as
    ``predictor.predict(history)`` would; "auto": "train" if ``overlap`` else "context".
    """
    import pandas as pd
    from gluonts.dataset.common import ListDataset

    train = np.asarray(d["train"], dtype=np.float64)
    ctx = np.asarray(d["test_context"], dtype=np.float64)
    n_ctx = ctx.shape[1]
    start = pd.Period(str(np.asarray(d["start"]).reshape(-1)[0]), freq=freq)
    overlap = train.shape[1] >= n_ctx and bool(np.allclose(train[:, -n_ctx:], ctx, equal_nan=True))
    if history == "auto":
        history = "train" if overlap else "context"
    if history == "train":
        series = train if overlap else np.concatenate([train, ctx], axis=1)
        series_start = start
    elif "test_start" in d:
        series, series_start = ctx, pd.Period(str(np.asarray(d["test_start"]).reshape(-1)[0]), freq)
    else:
        series, series_start = ctx, start + (train.shape[1] - n_ctx if overlap else train.shape[1])
    ds = ListDataset(
        [
            {"start": str(series_start.to_timestamp()), "target": row, "item_id": str(i)}
            for i, row in enumerate(series)
        ],
        freq=freq,
    )
    info = {
        "conditioning": history,
        "test_context_is_tail_of_train": overlap,
        "series_start": str(series_start.to_timestamp()),
        "series_length": int(series.shape[1]),
        "forecast_start": str((series_start + series.shape[1]).to_timestamp()),
    }
    return ds, info


def draw(predictor, ds, num_samples: int, seed: int) -> np.ndarray:
    import torch

    torch.manual_seed(seed)
    return np.stack([f.samples for f in predictor.predict(ds, num_samples=num_samples)])


def actnorms(module):
    from gluonts.torch.model.mqf2._cpflows import ActNorm

    return [m for m in module.modules() if isinstance(m, ActNorm)]


def median_time(fn, warmup: int, repeats: int) -> dict:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return {
        "median_s": float(np.median(times)),
        "min_s": float(np.min(times)),  # robust to other load on the machine
        "times_s": [round(t, 4) for t in times],
    }


# ----------------------------------------------------------------------------- sections


def section_step(args, d: dict, tmp: str) -> dict:
    import torch
    from gluonts.itertools import select

    out: dict = {}
    est = make_estimator(args, {"enable_model_summary": False, "default_root_dir": tmp})
    module = est.create_lightning_module()
    transformation = est.create_transformation()
    loader = est.create_training_data_loader(
        transformation.apply(train_dataset(d, args.freq), is_train=True), module
    )
    batch = next(iter(loader))
    out["batch_shapes"] = {k: list(v.shape) for k, v in batch.items()}
    out["n_params"] = {
        "total": sum(p.numel() for p in module.parameters()),
        "picnn": sum(p.numel() for p in module.model.picnn.parameters()),
        "rnn": sum(p.numel() for p in module.model.rnn.parameters()),
    }
    out["n_actnorm"] = len(actnorms(module))
    out["lags_seq"] = [int(x) for x in module.model.lags_seq]
    out["past_length"] = int(module.model._past_length)

    module.train()
    model = module.model
    inputs = select(module.inputs, batch)

    def loss():
        # exactly what MQF2MultiHorizonLightningModule.training_step computes (minus self.log)
        return model.loss(
            **inputs,
            future_observed_values=batch["future_observed_values"],
            future_target=batch["future_target"],
        ).mean()

    opt = module.configure_optimizers()["optimizer"]

    def fwd():
        loss()  # builds the autograd graph as in training, but no backward

    def fwd_bwd():
        opt.zero_grad(set_to_none=True)
        loss().backward()

    def fwd_bwd_adam():
        opt.zero_grad(set_to_none=True)
        loss().backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)  # Lightning's gradient_clip_val
        opt.step()

    mem = {"rss_before_first_step_kib": rss_kib(), "maxrss_before_first_step_kib": maxrss_kib()}
    t0 = time.perf_counter()
    first = loss()  # first forward: ActNorm data-dependent initialisation happens here
    first.backward()
    out["first_step_s"] = time.perf_counter() - t0
    out["first_loss"] = float(first)
    mem["maxrss_after_first_step_kib"] = maxrss_kib()
    timings = {}
    try:
        timings["loss_forward"] = median_time(fwd, args.warmup, args.repeats)
    except Exception as e:
        timings["loss_forward"] = {"error": err(e)}
    mem["maxrss_after_forward_kib"] = maxrss_kib()
    timings["loss_backward"] = median_time(fwd_bwd, args.warmup, args.repeats)
    mem["maxrss_after_loss_backward_kib"] = maxrss_kib()
    timings["loss_backward_adam"] = median_time(fwd_bwd_adam, args.warmup, args.repeats)
    mem["maxrss_after_adam_steps_kib"] = maxrss_kib()
    mem["rss_after_steps_kib"] = rss_kib()
    mem["maxrss_increment_kib"] = (
        mem["maxrss_after_adam_steps_kib"] - mem["rss_before_first_step_kib"]
    )
    out["timings"] = timings
    out["memory"] = mem
    # flat aliases (what benchmarks/mqf2.py reads)
    for key in ("loss_forward", "loss_backward", "loss_backward_adam"):
        out[f"{key}_s"] = timings[key].get("median_s")
    out["peak_rss_kib"] = mem["maxrss_after_adam_steps_kib"]
    out["warmup"], out["repeats"] = args.warmup, args.repeats
    return out


class _StepRecorder:
    """Lightning callback: loss and wall time of every training batch (optimiser step included)."""

    def __new__(cls):
        import lightning.pytorch as pl

        class Rec(pl.Callback):
            def __init__(self):
                self.losses, self.times, self._t0 = [], [], None

            def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
                self._t0 = time.perf_counter()

            def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
                self.times.append(time.perf_counter() - self._t0)
                loss = outputs["loss"] if isinstance(outputs, dict) else outputs
                self.losses.append(float(loss))

        return Rec()


def section_train_eval(args, d: dict, tmp: str, state: dict) -> dict:
    out: dict = {}
    rec = _StepRecorder()
    trainer_kwargs = {
        "max_epochs": 1,  # one epoch of exactly --steps batches → --steps optimiser steps
        "gradient_clip_val": 10.0,
        "enable_model_summary": False,  # MATH.md B.9: the summary's forward crashes MQF2
        "logger": False,
        "enable_progress_bar": False,
        "default_root_dir": tmp,  # the estimator always adds a ModelCheckpoint; keep it in tmp
        "accelerator": "cpu",
        "devices": 1,
    }
    est = make_estimator(args, trainer_kwargs, num_batches_per_epoch=args.steps)
    est.trainer_kwargs["callbacks"] = [rec]  # added after construction (not a validated arg)
    ds = train_dataset(d, args.freq)
    seed_all(args.seed)
    out["maxrss_before_train_kib"] = maxrss_kib()
    t0 = time.perf_counter()
    train_output = est.train_model(ds)
    out["train_wall_s"] = time.perf_counter() - t0
    out["maxrss_after_train_kib"] = maxrss_kib()
    out["global_step"] = int(train_output.trainer.global_step)
    out["step_losses"] = [round(x, 6) for x in rec.losses]
    out["step_times_s"] = [round(x, 4) for x in rec.times]
    if rec.times:  # the first step also runs ActNorm's data-dependent init: left out if possible
        later = rec.times[1:] if len(rec.times) > 1 else rec.times
        out["step_time_median_s"] = float(np.median(later))
        out["step_time_min_s"] = float(np.min(later))
    predictor = train_output.predictor
    state["predictor"] = predictor

    test_ds, info = test_dataset(d, args.freq, args.history)
    state["test_ds"] = test_ds
    out["test_input"] = info
    t0 = time.perf_counter()
    samples = draw(predictor, test_ds, args.num_samples, args.seed)
    out["predict_wall_s"] = time.perf_counter() - t0
    state["samples"] = samples
    future = np.asarray(d["test_future"], dtype=np.float64)
    out["samples_shape"] = list(samples.shape)
    t0 = time.perf_counter()
    out["scores"] = mean_scores(samples, future)
    out["score_wall_s"] = time.perf_counter() - t0
    out["sample_mean"] = float(samples.mean())
    out["sample_spread"] = float(samples.std(axis=1).mean())
    out["future_mean"] = float(future.mean())
    if info["conditioning"] == "train":  # also the brief's literal protocol: test_context alone
        try:
            ctx_ds, ctx_info = test_dataset(d, args.freq, "context")
            ctx_samples = draw(predictor, ctx_ds, args.num_samples, args.seed)
            out["context_only"] = {
                "test_input": ctx_info,
                "scores": mean_scores(ctx_samples, future),
                "sample_mean": float(ctx_samples.mean()),
                "sample_spread": float(ctx_samples.std(axis=1).mean()),
            }
        except Exception as e:
            out["context_only"] = {"error": err(e)}
    return out


def section_save_load(args, d: dict, tmp: str, state: dict) -> dict:
    from gluonts.model.predictor import Predictor

    out: dict = {}
    predictor, test_ds = state["predictor"], state["test_ds"]
    future = np.asarray(d["test_future"], dtype=np.float64)
    path = Path(tmp) / "predictor"
    path.mkdir()
    t0 = time.perf_counter()
    predictor.serialize(path)
    out["serialize_s"] = time.perf_counter() - t0
    out["files"] = sorted(p.name for p in path.iterdir())
    t0 = time.perf_counter()
    loaded = Predictor.deserialize(path)
    out["deserialize_s"] = time.perf_counter() - t0
    out["loaded_type"] = type(loaded).__name__

    before = draw(predictor, test_ds, args.num_samples, args.seed)
    out["before_repeatable"] = bool(np.array_equal(before, state["samples"]))
    out["actnorm_initialized_after_load"] = [m.initialized for m in actnorms(loaded.network)]
    # named_parameters() lists each shared tensor once (the state dict repeats the PICNN's
    # tensors under 4 aliases: picnn.{flows,networks}.0.{icnn,picnn}).
    p_before = {k: v.detach().clone() for k, v in loaded.network.named_parameters()}
    after = draw(loaded, test_ds, args.num_samples, args.seed)
    p_after = dict(loaded.network.named_parameters())
    out["params_changed_by_first_forward_after_load"] = sorted(
        k for k in p_before if not bool((p_before[k] == p_after[k]).all())
    )
    out["identical"] = bool(np.array_equal(before, after))
    out["max_abs_diff"] = float(np.abs(before - after).max())
    out["sample_mean_before"] = float(before.mean())
    out["sample_mean_after"] = float(after.mean())
    out["sample_spread_before"] = float(before.std(axis=1).mean())
    out["sample_spread_after"] = float(after.std(axis=1).mean())
    out["sample_mean_change"] = out["sample_mean_after"] - out["sample_mean_before"]
    out["sample_spread_change"] = out["sample_spread_after"] - out["sample_spread_before"]
    out["scores_before"] = mean_scores(before, future)
    out["scores_after"] = mean_scores(after, future)

    # Confirm the cause: reload, mark every ActNorm initialised (the flag is a plain attribute,
    # not in the state dict), and the samples match the trained predictor again.
    try:
        fixed = Predictor.deserialize(path)
        for m in actnorms(fixed.network):
            m.initialized = True
        fixed_samples = draw(fixed, test_ds, args.num_samples, args.seed)
        out["identical_with_actnorm_marked_initialized"] = bool(
            np.array_equal(before, fixed_samples)
        )
        out["max_abs_diff_with_actnorm_marked_initialized"] = float(
            np.abs(before - fixed_samples).max()
        )
    except Exception as e:
        out["actnorm_fix_error"] = err(e)
    return out


# ----------------------------------------------------------------------------- main


def run(args) -> dict:
    import gluonts
    import lightning
    import torch

    torch.set_num_threads(args.threads)
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(args.threads)
    result: dict = {
        "peer": "gluonts MQF2MultiHorizonEstimator (energy score)",
        "versions": {
            "gluonts": gluonts.__version__,
            "torch": torch.__version__,
            "lightning": lightning.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform()},
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "config": {
            "freq": args.freq,
            "prediction_length": args.prediction_length,
            "context_length": args.prediction_length,
            "batch_size": args.batch_size,
            "es_num_samples": args.es_num_samples,
            "beta": 1.0,
            "icnn_hidden_size": 20,
            "icnn_num_layers": 2,
            "rnn": "LSTM num_layers 2 hidden 40 dropout 0.1",
            "lr": 1e-3,
            "weight_decay": 1e-8,
            "gradient_clip_val": 10.0,
            "num_parallel_samples": 100,
            "steps": args.steps,
            "num_samples": args.num_samples,
            "seed": args.seed,
            "history": args.history,
            "dtype": "float32",
        },
    }
    t_all = time.perf_counter()
    d, source = None, None
    try:
        d, source = load_data(args.data, args.prediction_length)
        result["data"] = {
            "source": source,
            "train_shape": list(np.shape(d["train"])),
            "test_context_shape": list(np.shape(d["test_context"])),
            "test_future_shape": list(np.shape(d["test_future"])),
            "start": str(np.asarray(d["start"]).reshape(-1)[0]),
        }
    except Exception as e:
        result["data"] = {"error": err(e)}

    state: dict = {}
    sections = [
        ("step", lambda tmp: section_step(args, d, tmp)),
        ("train_eval", lambda tmp: section_train_eval(args, d, tmp, state)),
        ("save_load", lambda tmp: section_save_load(args, d, tmp, state)),
    ]
    for name, fn in sections:
        if name in args.skip:
            result[name] = {"skipped": True}
            continue
        if name != "step" and args.steps <= 0:
            result[name] = {"skipped": True, "reason": "--steps 0"}
            continue
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix=f"gluonts_mqf2_{name}_") as tmp:
            try:
                if d is None:
                    raise RuntimeError("no data")
                seed_all(args.seed)
                result[name] = fn(tmp)
            except Exception as e:
                result[name] = {"error": err(e)}
        result[name]["section_wall_s"] = time.perf_counter() - t0
    result["maxrss_end_kib"] = maxrss_kib()
    result["total_wall_s"] = time.perf_counter() - t_all
    return result


def _clean(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, np.generic):
        return _clean(x.item())
    return x


def main(argv=None) -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--steps", type=int, default=50, help="optimiser steps for train_eval")
    p.add_argument("--data", default=None, help="npz with train/start/test_context/test_future")
    p.add_argument("--out", default=None, help="also write the JSON here")
    p.add_argument("--repeats", type=int, default=5, help="timed repeats per step variant")
    p.add_argument("--warmup", type=int, default=1, help="untimed repeats before timing")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--num-samples", type=int, default=200, help="samples per test series")
    p.add_argument("--prediction-length", type=int, default=24)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--es-num-samples", type=int, default=50)
    p.add_argument("--freq", default="h")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--history",
        default="auto",
        choices=["auto", "context", "train"],
        help="what the predictor is given at test time (see test_dataset)",
    )
    p.add_argument("--skip", nargs="*", default=[], choices=["step", "train_eval", "save_load"])
    args = p.parse_args(argv)

    real_stdout = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):  # keep stdout for the JSON alone
        result = _clean(run(args))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result), file=real_stdout)  # one line: callers parse the last stdout line


if __name__ == "__main__":
    main()
