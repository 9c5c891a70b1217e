"""Peer forecasts for the accuracy benchmark: one peer model, every rolling window, as quantiles.

Peer-venv only (see requirements.txt beside this file); self-contained, no dependency on qfcast.
Driven by ``benchmarks/accuracy.py``; it can also be run by hand:

    python forecast.py --model MODEL --data IN_DIR --out OUT_DIR --budget SECONDS
        [--seed 0] [--threads 2] [--stock-isqf]

Input (IN_DIR)
  ``test.parquet``: long frame ``unique_id`` (str), ``ds`` (datetime64 or int), ``y`` (float64):
  every series up to the end of its last test window.
  ``meta.json``: ``{"name", "freq" (pandas frequency, e.g. "D", "h", "30min", "W-SUN", "YS",
  "MS", "B"), "horizon": H, "windows": W, "season_length", "levels": [quantile levels]}``.
  Training data = every series without its last W·H rows. Window k (0 = earliest … W-1 = last)
  forecasts the H steps after history_k = the series without its last (W-k)·H rows; the actuals
  are only used for their ``ds`` (the output's keys), never their values.

Output (OUT_DIR)
  ``forecasts.parquet``: ``window`` (int), ``unique_id`` (str), ``ds`` (input dtype), one float64
  column per level named ``f"q{level:g}"``; W·H rows per series, sorted by window, unique_id, ds.
  ``info.json``: model, library, versions, train_s, predict_s, budget_s, epochs_or_steps, notes
  (the defaults chosen, any fallback); on failure also ``error`` (and the exit status is 1 with a
  one-line message as the last line of stderr).

Models (library defaults unless stated; "budget" = ``--budget`` seconds of training wall clock)
  ``gluonts_deepar``: GluonTS torch ``DeepAREstimator(freq, prediction_length=H,
    context_length=H)``: Student-t output, LSTM 2×40, dropout 0.1, lr 1e-3, batch 32,
    50 batches/epoch, mean scaling, frequency-derived lags and time features, gradient clip 10,
    ReduceLROnPlateau on the training loss; the best-training-loss epoch's weights are restored
    (GluonTS's ModelCheckpoint). Quantiles from 200 sample paths by GluonTS's own
    ``SampleForecast.quantile`` (the order statistic at round((200-1)·q)).
  ``gluonts_mqf2``: GluonTS ``MQF2MultiHorizonEstimator(freq, prediction_length=H,
    context_length=H)`` with its defaults (as in gluonts_mqf2.py: LSTM 2×40, PICNN 20×2, energy
    score with 50 samples, β 1, batch 32, lr 1e-3); quantiles per step as for DeepAR.
  Both GluonTS models: Lightning ``max_time`` = budget and ``max_epochs`` 10⁶ (instead of 100) so
  that the budget binds; frequencies without a pandas Period equivalent are mapped (YS → Y,
  MS → M, QS → Q, …); integer ``ds`` become periods of that frequency (years when they look like
  years).
  ``nf_nhits_mqloss``: neuralforecast ``NHITS(h=H, input_size=2·H, loss=MQLoss(quantiles=
    levels))`` (NHITS has no default input_size; 2·H as in neuralforecast's examples, within
    AutoNHITS's search space H·{1…5}). Defaults otherwise: 3 stacks, MLP 2×512, lr 1e-3, batch
    32 series × 1024 windows, no scaler ("identity"), Adam + StepLR. The quantiles are the raw
    outputs (they may cross; ``info.json`` reports the crossing rate).
  ``nf_nhits_isqf``: as above with ``loss=DistributionLoss("ISQF")`` (neuralforecast's ISQF:
    default knots at 0.05, 0.1, 0.5, 0.9, 0.95, 5 pieces; trained on softplus(CRPS));
    quantiles at the levels via ``predict(quantiles=levels)``, i.e. the empirical quantiles of
    1000 samples of the fitted distribution. Stock neuralforecast also evaluates a 1000-sample
    Monte Carlo mean of the ISQF in every *training* step, which non-recurrent models never use
    (35 of the 40 s of one step on 2 CPU cores at H 30); the loss here skips it while gradients
    are enabled, so training is faster and otherwise identical (same forecasts for the same
    number of steps). ``--stock-isqf`` keeps the library's behaviour.
  Both NHITS models: ``max_steps`` 10⁷ (instead of 1000) and Lightning ``max_time`` = budget, so
  the budget binds; a consequence is that the StepLR decays (3 over ``max_steps``) never fire.
  No validation split (``val_size=0``). ``random_seed`` = --seed. Lightning checks ``max_time``
  after every step, so training overruns the budget by up to one step (seconds for MQF2/ISQF).
  ``sf_autoets``, ``sf_autoarima``: statsforecast ``AutoETS`` / ``AutoARIMA(season_length)``,
    refitted on every window's history (all windows' histories in one ``fit`` call, ``n_jobs`` =
    --threads); a level q < 0.5 is the lower bound of the central interval at level
    100·(1-2q), q > 0.5 the upper bound at 100·(2q-1), q = 0.5 the point forecast. ``train_s``
    is the total fit + predict time and ``predict_s`` the predict part of it.

Timings are wall clock (``time.perf_counter``): ``train_s`` the estimator's training call
(data conversion included), ``predict_s`` everything from the histories to the quantile arrays.
Missing values (NaN ``y``) are passed to GluonTS as they are (it masks them) and filled per series
(linear interpolation, then the nearest value) for neuralforecast and statsforecast, with a note.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import platform
import random
import sys
import tempfile
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path

MODELS = {
    "gluonts_deepar": "gluonts",
    "gluonts_mqf2": "gluonts",
    "nf_nhits_mqloss": "neuralforecast",
    "nf_nhits_isqf": "neuralforecast",
    "sf_autoets": "statsforecast",
    "sf_autoarima": "statsforecast",
}
NUM_SAMPLES = 200  # GluonTS sample paths per forecast
MAX_EPOCHS = 10**6  # GluonTS: generous, so that max_time binds
MAX_STEPS = 10**7  # neuralforecast: generous, so that max_time binds
QUIET_LOGGERS = (
    "lightning",
    "lightning.pytorch",
    "lightning.fabric",
    "lightning_fabric",
    "pytorch_lightning",
    "gluonts",
    "neuralforecast",
    "statsforecast",
)


# ----------------------------------------------------------------------------- the task


@dataclass
class Task:
    """The input of one run: the series, the split and the levels.

    ``series``: ``{unique_id: (ds array, y array)}`` sorted by ds, in ``ids`` order.
    ``origins[k][uid]``: the number of rows of history_k of series ``uid``.
    """

    name: str
    freq: str
    horizon: int
    windows: int
    season_length: int
    levels: list[float]
    ids: list[str]
    series: dict
    ds_is_int: bool
    ds_dtype: object
    has_nan: bool
    origins: list[dict] = field(default_factory=list)

    def train_length(self, uid: str) -> int:
        return len(self.series[uid][1]) - self.windows * self.horizon


def load_task(in_dir: Path) -> Task:
    import numpy as np
    import pandas as pd

    meta = json.loads((in_dir / "meta.json").read_text())
    frame = pd.read_parquet(in_dir / "test.parquet", columns=["unique_id", "ds", "y"])
    frame["unique_id"] = frame["unique_id"].astype(str)
    frame = frame.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
    horizon, windows = int(meta["horizon"]), int(meta["windows"])
    levels = sorted({round(float(a), 10) for a in meta["levels"]})
    if not levels or not all(0.0 < a < 1.0 for a in levels):
        raise ValueError(f"levels must lie in (0, 1), got {meta['levels']!r}")
    ds_is_int = pd.api.types.is_integer_dtype(frame["ds"])
    if not (ds_is_int or pd.api.types.is_datetime64_any_dtype(frame["ds"])):
        raise ValueError(f"ds must be datetime64 or int, got {frame['ds'].dtype}")
    series = {}
    for uid, part in frame.groupby("unique_id", sort=True):
        ds, y = part["ds"].to_numpy(), part["y"].to_numpy(np.float64)
        if len(ds) <= windows * horizon:
            raise ValueError(
                f"series {uid!r} has {len(ds)} rows, not more than windows × horizon = "
                f"{windows * horizon}: no training data"
            )
        if len(np.unique(ds)) != len(ds):
            raise ValueError(f"series {uid!r} has duplicate ds")
        series[uid] = (ds, y)
    ids = list(series)
    task = Task(
        name=str(meta.get("name", in_dir.name)),
        freq=str(meta["freq"]),
        horizon=horizon,
        windows=windows,
        season_length=int(meta.get("season_length", 1)),
        levels=levels,
        ids=ids,
        series=series,
        ds_is_int=bool(ds_is_int),
        ds_dtype=frame["ds"].dtype,
        has_nan=bool(frame["y"].isna().any()),
    )
    for k in range(windows):
        cut = (windows - k) * horizon
        task.origins.append({uid: len(series[uid][1]) - cut for uid in ids})
    return task


def long_frame(task: Task, lengths: dict, key=None, fill_nan: bool = False):
    """Long frame (unique_id, ds, y) of every series' first ``lengths[uid]`` rows.

    ``key(uid)`` renames the series (composite ids for several windows at once).
    """
    import numpy as np
    import pandas as pd

    parts = []
    for uid in task.ids:
        ds, y = task.series[uid]
        n = lengths[uid]
        values = _filled(y[:n]) if fill_nan else y[:n]
        name = key(uid) if key else uid
        parts.append(pd.DataFrame({"unique_id": name, "ds": ds[:n], "y": values}))
    out = pd.concat(parts, ignore_index=True)
    out["y"] = out["y"].astype(np.float64)
    return out


def _filled(y):
    """Linear interpolation over NaN, then the nearest value at the ends (all NaN: zeros)."""
    import numpy as np

    y = np.asarray(y, dtype=np.float64)
    seen = ~np.isnan(y)
    if seen.all():
        return y
    if not seen.any():
        return np.zeros_like(y)
    idx = np.arange(len(y))
    return np.interp(idx, idx[seen], y[seen])


def window_histories(task: Task):
    """Every window's histories in one long frame (NaN filled), under ids ``"k|i"``.

    Returns the frame and ``{id: (k, unique_id)}``. Model-free libraries (statsforecast) fit
    them all in one call; neuralforecast predicts them all in one call.
    """
    import pandas as pd

    names, frames = {}, []
    for k in range(task.windows):
        key = {uid: f"{k}|{i}" for i, uid in enumerate(task.ids)}
        names.update({v: (k, uid) for uid, v in key.items()})
        frames.append(long_frame(task, task.origins[k], key=key.__getitem__, fill_nan=True))
    return pd.concat(frames, ignore_index=True), names


def output_frame(task: Task, quantiles: dict):
    """``forecasts.parquet``'s frame from ``quantiles[(k, uid)]`` arrays of shape (H, levels)."""
    import numpy as np
    import pandas as pd

    columns = [f"q{a:g}" for a in task.levels]
    parts = []
    for k in range(task.windows):
        for uid in task.ids:
            q = np.asarray(quantiles[(k, uid)], dtype=np.float64)
            if q.shape != (task.horizon, len(task.levels)):
                raise RuntimeError(f"window {k}, series {uid!r}: quantiles of shape {q.shape}")
            start = task.origins[k][uid]
            ds = task.series[uid][0][start : start + task.horizon]
            part = pd.DataFrame(q, columns=columns)
            part.insert(0, "ds", ds)
            part.insert(0, "unique_id", uid)
            part.insert(0, "window", k)
            parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    out["window"] = out["window"].astype(np.int64)
    out["ds"] = out["ds"].astype(task.ds_dtype)
    return out


# ----------------------------------------------------------------------------- helpers


def seed_all(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - GluonTS's instance samplers draw from the legacy global RNG
    torch.manual_seed(seed)


def set_torch_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    with contextlib.suppress(RuntimeError):  # only allowed before any inter-op work
        torch.set_num_interop_threads(threads)


def period_freq(freq: str) -> str:
    """A pandas *Period* frequency for ``freq`` (GluonTS indexes series by ``pd.Period``).

    Start/end-anchored offsets have no Period form: ``YS``/``YE``/``BYS`` → ``Y``, ``QS``… →
    ``Q``, ``MS``/``ME``/``BMS``/``SMS``… → ``M``, keeping the multiple (``2MS`` → ``2M``).
    """
    import pandas as pd

    with contextlib.suppress(ValueError, TypeError):
        pd.Period("2000-01-01", freq=freq)
        return freq
    offset = pd.tseries.frequencies.to_offset(freq)
    base = offset.name.split("-")[0].upper()
    for prefixes, target in (
        (("BYS", "BYE", "BA", "YS", "YE", "AS", "Y", "A"), "Y"),
        (("BQS", "BQE", "BQ", "QS", "QE", "Q"), "Q"),
        (("BMS", "BME", "BM", "CBMS", "CBME", "SMS", "SME", "SM", "MS", "ME", "M"), "M"),
    ):
        if base in prefixes:
            return f"{offset.n}{target}" if offset.n != 1 else target
    raise ValueError(f"no pandas Period frequency for freq={freq!r}")


def _clean(x):
    import numpy as np

    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, np.generic):
        return _clean(x.item())
    return x


def base_versions() -> dict:
    import numpy as np
    import pandas as pd

    return {"python": platform.python_version(), "numpy": np.__version__, "pandas": pd.__version__}


def quiet() -> None:
    """No progress bars, no Lightning/library chatter, no warnings."""
    warnings.filterwarnings("ignore")
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    os.environ.setdefault("TQDM_DISABLE", "1")


def _step_recorder(pl_module):
    """A Lightning callback (of the given lightning package) that keeps the final counters."""

    class Recorder(pl_module.Callback):
        def __init__(self):
            self.steps = None
            self.epochs = None

        def on_train_end(self, trainer, pl_module):
            self.steps = int(trainer.global_step)
            self.epochs = int(trainer.current_epoch)

    return Recorder()


# ----------------------------------------------------------------------------- GluonTS


def _gluonts_starts(task: Task, freq: str) -> tuple[dict, list[str]]:
    """``pd.Period`` start of every series, and notes on how integer ``ds`` were mapped."""
    import pandas as pd

    notes = []
    if not task.ds_is_int:
        starts = {
            uid: pd.Period(pd.Timestamp(task.series[uid][0][0]), freq=freq) for uid in task.ids
        }
        return starts, notes
    first = {uid: int(task.series[uid][0][0]) for uid in task.ids}
    last = max(int(task.series[uid][0][-1]) for uid in task.ids)
    yearly = freq.lstrip("0123456789").startswith(("Y", "A"))
    if yearly and min(first.values()) >= 1000 and last <= 2200:
        notes.append("integer ds read as calendar years")
        return {uid: pd.Period(year=v, freq=freq) for uid, v in first.items()}, notes
    origin = pd.Period("2000-01-01", freq=freq)
    low = min(first.values())
    notes.append(f"integer ds mapped to periods: ds = min(ds) ↦ {origin} (freq {freq})")
    return {uid: origin + (v - low) for uid, v in first.items()}, notes


def run_gluonts(task: Task, args) -> tuple[dict, dict]:
    import gluonts
    import lightning
    import numpy as np
    import torch
    from gluonts.dataset.common import ListDataset

    quiet()  # the lightning packages reset their loggers to INFO on import
    set_torch_threads(args.threads)
    freq = period_freq(task.freq)
    notes = [
        f"GluonTS freq {freq!r}" + (f" (mapped from {task.freq!r})" if freq != task.freq else ""),
        f"max_time {args.budget:g} s, max_epochs {MAX_EPOCHS} (instead of 100), "
        "50 batches/epoch (default)",
        f"quantiles: SampleForecast.quantile over {NUM_SAMPLES} sample paths",
    ]
    starts, start_notes = _gluonts_starts(task, freq)
    notes += start_notes
    H = task.horizon

    def entries(lengths: dict) -> list[dict]:
        return [
            {"start": starts[uid], "target": task.series[uid][1][: lengths[uid]], "item_id": uid}
            for uid in task.ids
        ]

    with tempfile.TemporaryDirectory(prefix="peer_gluonts_") as tmp:
        trainer_kwargs = {
            "max_epochs": MAX_EPOCHS,
            "max_time": {"seconds": float(args.budget)},
            "enable_progress_bar": False,
            "enable_model_summary": False,  # its forward pass crashes MQF2 (MATH.md B.9)
            "logger": False,
            "default_root_dir": tmp,  # the estimator always adds a ModelCheckpoint
            "accelerator": "cpu",
            "devices": 1,
        }
        if args.model == "gluonts_deepar":
            from gluonts.torch.model.deepar import DeepAREstimator

            estimator = DeepAREstimator(
                freq=freq, prediction_length=H, context_length=H, trainer_kwargs=trainer_kwargs
            )
            notes.append("DeepAREstimator defaults: StudentTOutput, LSTM 2x40, lr 1e-3, batch 32")
        else:
            from gluonts.torch.model.mqf2 import MQF2MultiHorizonEstimator

            estimator = MQF2MultiHorizonEstimator(
                freq=freq, prediction_length=H, context_length=H, trainer_kwargs=trainer_kwargs
            )
            notes.append(
                "MQF2MultiHorizonEstimator defaults: energy score (es_num_samples 50, beta 1), "
                "PICNN 20x2, LSTM 2x40, lr 1e-3, batch 32"
            )
        train = ListDataset(entries({u: task.train_length(u) for u in task.ids}), freq=freq)
        seed_all(args.seed)
        lightning.seed_everything(args.seed, verbose=False)
        t0 = time.perf_counter()
        output = estimator.train_model(train)
        train_s = time.perf_counter() - t0
        trainer = output.trainer
        counters = {"epochs": int(trainer.current_epoch), "steps": int(trainer.global_step)}

        t0 = time.perf_counter()
        keys, data = [], []
        for k in range(task.windows):
            data += entries(task.origins[k])
            keys += [(k, uid) for uid in task.ids]
        torch.manual_seed(args.seed)
        forecasts = list(
            output.predictor.predict(ListDataset(data, freq=freq), num_samples=NUM_SAMPLES)
        )
        quantiles = {
            key: np.stack([f.quantile(a) for a in task.levels], axis=1)
            for key, f in zip(keys, forecasts, strict=True)
        }
        predict_s = time.perf_counter() - t0
    versions = {"gluonts": gluonts.__version__, "torch": torch.__version__}
    versions["lightning"] = lightning.__version__
    info = {"train_s": train_s, "predict_s": predict_s, "epochs_or_steps": counters}
    info.update(versions=versions, notes=notes)
    return quantiles, info


# ----------------------------------------------------------------------------- neuralforecast


def _lazy_mean_isqf_loss():
    """``DistributionLoss("ISQF")`` that skips the Monte Carlo mean while training.

    Stock ``DistributionLoss.get_distribution`` sets ``self.distr_mean = distr.mean`` on every
    call, and ISQF's ``mean`` draws 1000 samples: 35 of the 40 s of one NHITS training step on
    2 cores (default 1024 windows × H 30). Only recurrent models read ``distr_mean``, and only
    at prediction. Here it is skipped while gradients are enabled (training steps) and computed
    as stock otherwise (prediction); the loss and the forecasts are unchanged.
    """
    import torch
    from neuralforecast.losses.pytorch import DistributionLoss

    class LazyMeanDistributionLoss(DistributionLoss):
        def get_distribution(self, distr_args, **distribution_kwargs):
            if torch.is_grad_enabled():
                return self._base_distribution(*distr_args, **distribution_kwargs)
            return super().get_distribution(distr_args, **distribution_kwargs)

    return LazyMeanDistributionLoss("ISQF")


def run_neuralforecast(task: Task, args) -> tuple[dict, dict]:
    import lightning
    import neuralforecast
    import numpy as np
    import pytorch_lightning as pl
    import torch
    from neuralforecast import NeuralForecast
    from neuralforecast.losses.pytorch import DistributionLoss, MQLoss
    from neuralforecast.models import NHITS

    quiet()  # the lightning packages reset their loggers to INFO on import
    set_torch_threads(args.threads)
    H = task.horizon
    input_size = 2 * H
    freq = 1 if task.ds_is_int else task.freq
    notes = [
        f"NHITS(h={H}, input_size={input_size} = 2*h); other hyperparameters at their defaults",
        f"max_time {args.budget:g} s, max_steps {MAX_STEPS} (instead of 1000): the StepLR decays "
        "(num_lr_decays=3 over max_steps) never fire",
        "no validation split (val_size=0)",
    ]
    if task.ds_is_int:
        notes.append("integer ds: neuralforecast freq=1")
    if task.has_nan:
        notes.append("NaN in y filled per series (linear interpolation, nearest at the ends)")
    if args.model == "nf_nhits_mqloss":
        loss = MQLoss(quantiles=task.levels)
        notes.append(f"MQLoss over the {len(task.levels)} levels; raw outputs (may cross)")
    else:
        loss = DistributionLoss("ISQF") if args.stock_isqf else _lazy_mean_isqf_loss()
        notes.append(
            "DistributionLoss('ISQF') defaults: knots at 0.05, 0.1, 0.5, 0.9, 0.95, 5 pieces, "
            "loss softplus(CRPS); quantiles = empirical quantiles of 1000 samples "
            "(predict(quantiles=levels))"
        )
        notes.append(
            "stock ISQF loss: eager 1000-sample mean in every training step"
            if args.stock_isqf
            else "ISQF loss patched: the 1000-sample distr_mean that stock neuralforecast computes "
            "(and NHITS never uses) in every training step is skipped while training; same "
            "forecasts for the same steps, faster steps (--stock-isqf keeps the stock loss)"
        )
    longest = max(task.train_length(u) for u in task.ids)
    short = sum(task.train_length(u) < input_size + H for u in task.ids)
    padding = longest < input_size + H
    if padding:
        notes.append(
            f"every training series is shorter than input_size + h = {input_size + H}: "
            "start_padding_enabled=True (default False)"
        )
    elif short:
        notes.append(f"{short} training series shorter than input_size + h give no full window")
    recorder = _step_recorder(pl)
    model = NHITS(
        h=H,
        input_size=input_size,
        loss=loss,
        max_steps=MAX_STEPS,
        random_seed=args.seed,
        start_padding_enabled=padding,
        max_time={"seconds": float(args.budget)},
        enable_progress_bar=False,
        enable_model_summary=False,
        logger=False,
        accelerator="cpu",
        devices=1,
        callbacks=[recorder],
    )
    nf = NeuralForecast(models=[model], freq=freq)
    train = long_frame(task, {u: task.train_length(u) for u in task.ids}, fill_nan=True)
    seed_all(args.seed)
    t0 = time.perf_counter()
    nf.fit(df=train, val_size=0)
    train_s = time.perf_counter() - t0
    # NeuralForecast.fit trains deep copies of the models: read the copy's recorder.
    fitted = nf.models[0]
    recorder = next(
        (c for c in fitted.trainer_kwargs.get("callbacks", []) if isinstance(c, type(recorder))),
        recorder,
    )
    counters = {"steps": recorder.steps, "epochs": recorder.epochs}

    t0 = time.perf_counter()
    history, names = window_histories(task)
    torch.manual_seed(args.seed)
    alias = repr(fitted)
    if args.model == "nf_nhits_mqloss":
        out = nf.predict(df=history)
        columns = [alias + n for n in fitted.loss.output_names]
        got = [float(a) for a in fitted.loss.quantiles.detach().cpu().numpy()]
    else:
        out = nf.predict(df=history, quantiles=task.levels)
        columns = [c for c in out.columns if c.startswith(f"{alias}_ql")]
        got = [float(c[len(alias) + 3 :]) for c in columns]
    if len(columns) != len(task.levels) or not np.allclose(got, task.levels, atol=1e-6):
        raise RuntimeError(f"unexpected neuralforecast output columns {list(out.columns)[:8]}…")
    out = out.sort_values(["unique_id", "ds"], kind="stable")
    quantiles = {}
    for name, part in out.groupby("unique_id", sort=False):
        quantiles[names[name]] = part[columns].to_numpy(np.float64)
    predict_s = time.perf_counter() - t0
    versions = {
        "neuralforecast": neuralforecast.__version__,
        "torch": torch.__version__,
        "pytorch_lightning": pl.__version__,
        "lightning": lightning.__version__,
    }
    info = {"train_s": train_s, "predict_s": predict_s, "epochs_or_steps": counters}
    info.update(versions=versions, notes=notes)
    return quantiles, info


# ----------------------------------------------------------------------------- statsforecast


def interval_level(q: float) -> float | None:
    """The central-interval level (percent) whose bound is quantile ``q``; None for the median."""
    if abs(q - 0.5) < 1e-12:
        return None
    return round(100.0 * abs(1.0 - 2.0 * q), 8)


def run_statsforecast(task: Task, args) -> tuple[dict, dict]:
    import numpy as np
    import statsforecast
    from statsforecast import StatsForecast
    from statsforecast.models import AutoARIMA, AutoETS

    m = max(1, task.season_length)
    model = AutoETS(season_length=m) if args.model == "sf_autoets" else AutoARIMA(season_length=m)
    alias = repr(model)
    freq = 1 if task.ds_is_int else task.freq
    notes = [
        f"{type(model).__name__}(season_length={m}), other arguments at their defaults",
        "refit per window on its history (all windows in one fit call); train_s = fit + "
        "predict seconds, predict_s = the predict part",
        "q<0.5: lower bound at level 100(1-2q); q>0.5: upper bound at 100(2q-1); q=0.5: point",
        f"n_jobs={args.threads}",
    ]
    if args.model == "sf_autoets" and m > 24:
        notes.append(f"season_length {m} > 24: statsforecast's ETS fits non-seasonal models only")
    if task.ds_is_int:
        notes.append("integer ds: statsforecast freq=1")
    if task.has_nan:
        notes.append("NaN in y filled per series (linear interpolation, nearest at the ends)")
    levels = sorted({lv for lv in map(interval_level, task.levels) if lv is not None})
    history, names = window_histories(task)
    sf = StatsForecast(models=[model], freq=freq, n_jobs=args.threads)
    t0 = time.perf_counter()
    sf.fit(df=history)
    fit_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    out = sf.predict(h=task.horizon, level=levels)
    predict_s = time.perf_counter() - t1
    if "unique_id" not in out.columns:
        out = out.reset_index()
    columns = []
    for q in task.levels:
        lv = interval_level(q)
        columns.append(alias if lv is None else f"{alias}-{'lo' if q < 0.5 else 'hi'}-{lv}")
    missing = [c for c in columns if c not in out.columns]
    if missing:
        raise RuntimeError(f"statsforecast output lacks {missing[:3]}; has {list(out.columns)[:6]}")
    out = out.sort_values(["unique_id", "ds"], kind="stable")
    quantiles = {}
    for name, part in out.groupby("unique_id", sort=False):
        quantiles[names[str(name)]] = part[columns].to_numpy(np.float64)
    train_s = fit_s + (time.perf_counter() - t1)
    info = {
        "train_s": train_s,
        "predict_s": predict_s,
        "fit_s": fit_s,
        "epochs_or_steps": None,
        "versions": {"statsforecast": statsforecast.__version__},
        "notes": notes,
    }
    return quantiles, info


# ----------------------------------------------------------------------------- main

RUNNERS = {
    "gluonts": run_gluonts,
    "neuralforecast": run_neuralforecast,
    "statsforecast": run_statsforecast,
}


def run(args, info: dict) -> dict:
    """Load, forecast, check and write; fills ``info`` as it goes (written by main)."""
    import numpy as np

    quiet()
    info["versions"] = base_versions()
    task = load_task(Path(args.data))
    info["data"] = {
        "name": task.name,
        "freq": task.freq,
        "horizon": task.horizon,
        "windows": task.windows,
        "season_length": task.season_length,
        "series": len(task.ids),
        "levels": len(task.levels),
    }
    quantiles, result = RUNNERS[MODELS[args.model]](task, args)
    info["versions"].update(result.pop("versions"))
    info["notes"] = info.get("notes", []) + result.pop("notes")
    info.update(result)
    frame = output_frame(task, quantiles)
    values = frame[[f"q{a:g}" for a in task.levels]].to_numpy()
    if not np.isfinite(values).all():
        raise RuntimeError(f"{int((~np.isfinite(values)).sum())} non-finite quantiles")
    crossing = float(np.mean(np.any(np.diff(values, axis=1) < 0, axis=1)))
    info["crossing_rate"] = crossing
    if crossing > 0:
        info["notes"].append(f"quantiles cross (not non-decreasing) in {crossing:.2%} of rows")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(out / "forecasts.parquet", index=False)
    return info


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, choices=list(MODELS))
    parser.add_argument("--data", required=True, help="folder with test.parquet and meta.json")
    parser.add_argument("--out", required=True, help="folder for forecasts.parquet and info.json")
    parser.add_argument("--budget", type=float, required=True, help="training seconds (neural)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--stock-isqf",
        action="store_true",
        help="nf_nhits_isqf: keep neuralforecast's eager 1000-sample mean in every step",
    )
    args = parser.parse_args(argv)
    # BLAS/OpenMP pools are sized at import: before numpy, torch and the libraries load.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(args.threads)

    info: dict = {
        "model": args.model,
        "library": MODELS[args.model],
        "budget_s": args.budget,
        "seed": args.seed,
        "threads": args.threads,
        "notes": [],
    }
    out = Path(args.out)
    status = 0
    t0 = time.perf_counter()
    try:
        with contextlib.redirect_stdout(sys.stderr):  # library chatter goes to stderr
            info = run(args, info)
    except Exception as error:
        status = 1
        message = f"{type(error).__name__}: {error}".replace("\n", " ")
        info["error"] = message[:1000]
        info["traceback"] = traceback.format_exc().splitlines()[-12:]
    info["total_s"] = time.perf_counter() - t0
    with contextlib.suppress(OSError):
        out.mkdir(parents=True, exist_ok=True)
        (out / "info.json").write_text(json.dumps(_clean(info), indent=2) + "\n")
    if status:
        sys.stderr.flush()
        print(f"{args.model}: {info['error'][:300]}", file=sys.stderr)
        return status
    summary = {k: info.get(k) for k in ("model", "train_s", "predict_s", "epochs_or_steps")}
    print(json.dumps(_clean(summary)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
