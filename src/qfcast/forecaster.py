"""``Forecaster``: fit on a long DataFrame, predict a :class:`~qfcast.forecast.Forecast`.

>>> import qfcast
>>> from qfcast.data.synthetic import demand_scenario
>>> sc = demand_scenario(n_series=4, length=120, horizon=7, seed=0)
>>> fc = qfcast.Forecaster(horizon=7, head="isqf", max_epochs=2, batches_per_epoch=5,
...                        future=["promo"], progress=False, random_state=0)
>>> f = fc.fit(sc.history).predict(sc.history, future_df=sc.future)
>>> f.quantile([0.1, 0.5, 0.9]).columns.tolist()
['unique_id', 'ds', 'q0.1', 'q0.5', 'q0.9']

Conventions (scikit-learn's): the constructor only stores its arguments, ``fit`` returns
``self``, learned state ends in ``_``, ``random_state`` makes runs repeatable, and the input
frames are never modified. A saved model is a directory of ``config.json`` and
``model.safetensors`` (no pickle: loading an untrusted model runs no code).
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from . import __version__
from .data.errors import DataError
from .data.features import time_feature_names
from .data.panel import Panel
from .data.schema import Schema
from .data.timeindex import season_length
from .data.windows import inference_batches, split_validation
from .forecast import DistributionForecast, Forecast, JointForecast, SampleForecast
from .heads import get_head, head_config
from .nn import ENCODERS, get_encoder
from .nn._inputs import positive_int
from .nn.base import InputDims
from .training import SCALERS, ForecastingModule, WindowStream, loader, make_trainer

__all__ = ["Forecaster"]

FORMAT = 1  # saved-model layout; a different number cannot be loaded


class Forecaster:
    """A probabilistic forecaster: an encoder (``model``) with a quantile-function ``head``.

    Parameters
    ----------
    horizon : int
        Steps to forecast.
    freq : str, optional
        The data's frequency (inferred from the data when omitted).
    model : str, encoder class or dict
        ``"mqcnn"`` (default), ``"mqrnn"`` or ``"deepar"`` (see :mod:`qfcast.nn`), or
        ``{"name": ..., **hyperparameters}``.
    head : str, head or dict
        ``"isqf"`` (default), ``"iqf"``, ``"sqf"``, ``"quantile"``, ``"monotone_quantiles"``,
        ``"gaussian"``, ``"student_t"``, or an instance such as
        ``qfcast.heads.ISQF(num_pieces=5)``.
    context : int, optional
        History steps per window (default ``4 * horizon`` or two seasons, whichever is longer,
        at most 512 steps; ``horizon`` for the joint ``"mqf2"`` head, as in GluonTS). The
        multi-horizon encoders also get the seasonal-naive forecast as a decoder input.
    id_col, time_col, target_col, static, past, future
        The input contract (see :class:`qfcast.data.Schema`).
    scaler : {"robust", "mean_abs", "none"}
        Per-window scaling; forecasts are always in data units. ``"robust"`` (median and
        IQR of the context) centres each window, which random-walk-like series (exchange
        rates) need; compare with GluonTS's ``"mean_abs"`` using
        ``benchmarks/forecasters.py --scaler``.
    train_origins : int, optional
        Multi-horizon encoders train each window from its last ``train_origins`` context
        positions as forecast origins (forking sequences); default ``horizon``. Fewer origins
        make a batch cheaper, so more batches fit a time budget, and keep the origins with
        long histories, as at prediction. Any number ≥ ``context`` trains every origin, as
        GluonTS's MQ-CNN does; in 30 s on 2 CPU cores MQ-CNN + ISQF on nyc_taxi (192 origins
        × 48 steps per window) then trains 1 epoch, against 5 with the default.
    max_epochs, batches_per_epoch, batch_size, lr, weight_decay, gradient_clip, patience
        Training: ``batches_per_epoch`` random batches of windows make an epoch; training
        stops after ``patience`` epochs without a better validation loss (on the held-out
        ``validation_windows``), and the best epoch's weights are kept.
    validation : bool
        Hold out the end of each series for early stopping.
    validation_windows : int, optional
        Validation windows of ``horizon`` steps held out from the end of each series (the
        last ``validation_windows · horizon`` steps). Default: enough for 64 windows in all,
        but at most a tenth of the median series (1 for panels of 64 series or more). With
        one window per series, a panel of two hourly series validates on 48 values and early
        stopping picks the epoch by noise.
    num_samples : int
        Sample paths per series for autoregressive models.
    random_state : int, optional
        Seed for repeatable runs.
    accelerator, devices, strategy, num_nodes, trainer_kwargs
        Passed to ``lightning.Trainer`` (e.g. ``strategy="ddp", devices=2``).
    progress : bool
        Progress bars for training and prediction.
    """

    def __init__(
        self,
        horizon: int,
        freq: str | int | None = None,
        model: Any = "mqcnn",
        head: Any = "isqf",
        *,
        context: int | None = None,
        id_col: str = "unique_id",
        time_col: str = "ds",
        target_col: str = "y",
        static: tuple[str, ...] = (),
        past: tuple[str, ...] = (),
        future: tuple[str, ...] = (),
        scaler: str = "robust",
        train_origins: int | None = None,
        max_epochs: int = 100,
        batches_per_epoch: int = 50,
        batch_size: int = 32,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        gradient_clip: float | None = 10.0,
        patience: int | None = 10,
        validation: bool = True,
        validation_windows: int | None = None,
        num_samples: int = 200,
        random_state: int | None = None,
        accelerator: str = "cpu",
        devices: int | str = 1,
        strategy: str = "auto",
        num_nodes: int = 1,
        trainer_kwargs: dict | None = None,
        progress: bool = True,
    ) -> None:
        self.horizon = horizon
        self.freq = freq
        self.model = model
        self.head = head
        self.context = context
        self.id_col, self.time_col, self.target_col = id_col, time_col, target_col
        self.static, self.past, self.future = static, past, future
        self.scaler = scaler
        self.train_origins = train_origins
        self.max_epochs, self.batches_per_epoch, self.batch_size = (
            max_epochs,
            batches_per_epoch,
            batch_size,
        )
        self.lr, self.weight_decay, self.gradient_clip = lr, weight_decay, gradient_clip
        self.patience, self.validation, self.num_samples = patience, validation, num_samples
        self.validation_windows = validation_windows
        self.random_state = random_state
        self.accelerator, self.devices, self.strategy = accelerator, devices, strategy
        self.num_nodes, self.trainer_kwargs, self.progress = num_nodes, trainer_kwargs, progress

    # ------------------------------------------------------------------ helpers
    def _schema(self) -> Schema:
        return Schema(
            self.id_col, self.time_col, self.target_col, self.static, self.past, self.future
        )

    def _check_params(self) -> None:
        if not isinstance(self.horizon, int) or self.horizon < 1:
            raise ValueError(f"horizon must be a positive int, got {self.horizon!r}")
        if self.context is not None and (not isinstance(self.context, int) or self.context < 1):
            raise ValueError(f"context must be a positive int, got {self.context!r}")
        for name in ("train_origins", "validation_windows"):
            if getattr(self, name) is not None:
                positive_int(name, getattr(self, name))
        if self.scaler not in SCALERS:
            raise ValueError(f"scaler must be one of {sorted(SCALERS)}, got {self.scaler!r}")

    def _check_fitted(self) -> None:
        if not hasattr(self, "module_"):
            raise RuntimeError("this Forecaster is not fitted yet: call fit(df) first")

    def _default_context(self, season: int, head: Any) -> int:
        """MQ-CNN's 4 horizons, or two seasons where that is longer (weekly data: 104 weeks,
        so that DeepAR's yearly lags and the seasonal-naive decoder input fit in the window),
        at most 512 steps. A joint head trains one window per context position, each with its
        own energy-score samples, so it keeps GluonTS MQF²'s one horizon."""
        if getattr(head, "joint", False):
            return self.horizon
        return max(4 * self.horizon, min(2 * season, 512))

    @staticmethod
    def _lags(season: int, context: int) -> tuple[int, ...]:
        """DeepAR's default lags: the last three steps, one and two seasons back."""
        lags = {1, 2, 3, season, 2 * season}
        return tuple(sorted(lag for lag in lags if 1 <= lag < context))

    # ------------------------------------------------------------------ fit
    def fit(self, df: Any, static_df: Any = None) -> Forecaster:
        """Train on a long DataFrame (see :class:`qfcast.data.Panel`); returns ``self``."""
        self._check_params()
        seed = (
            self.random_state
            if self.random_state is not None
            else int(np.random.SeedSequence().entropy % 2**31)
        )
        L.seed_everything(seed, workers=True, verbose=False)
        panel = Panel.from_frame(df, freq=self.freq, schema=self._schema(), static_df=static_df)
        head = _bound_head(self.head, self.horizon)
        season = season_length(panel.freq)
        context = self.context or self._default_context(season, head)
        dims = InputDims(
            context=context,
            horizon=self.horizon,
            time=len(time_feature_names(panel.index)) + 1,
            past=len(self.past),
            known=len(self.future),
            static_real=len(panel.static_real_names),
            cardinalities=panel.cardinalities,
        )
        encoder = get_encoder(self._encoder_spec(season, context), dims)
        module = ForecastingModule(
            encoder,
            head,
            past_covariates=dims.past,
            scaler=self.scaler,
            lr=self.lr,
            weight_decay=self.weight_decay,
            origins=self.train_origins or self.horizon,
        )
        train, val = panel, None
        if self.validation:
            if (panel.lengths > self.horizon + 1).any():
                windows = self.validation_windows or _validation_windows(panel, self.horizon)
                train, val = split_validation(panel, context, self.horizon, windows)
            else:
                warnings.warn(
                    "no series is long enough to hold out a validation horizon; training "
                    "without early stopping",
                    stacklevel=2,
                )
        module.monitor = "val_loss" if val is not None else "train_loss"
        quiet = logging.getLogger("lightning.pytorch")
        level = quiet.level
        quiet.setLevel(logging.WARNING)  # no "GPU available: False" or tips on every fit
        try:
            fitted = self._train(module, train, val, context, seed)
        finally:
            quiet.setLevel(level)
        return self._store(module, head, dims, panel, *fitted)

    def _train(self, module, train, val, context, seed):
        stream = WindowStream(
            train, context, self.horizon, self.batch_size, self.batches_per_epoch, seed
        )
        trainer, best = make_trainer(
            max_epochs=self.max_epochs,
            monitor=module.monitor,
            patience=self.patience,
            gradient_clip=self.gradient_clip,
            progress=self.progress,
            accelerator=self.accelerator,
            devices=self.devices,
            strategy=self.strategy,
            num_nodes=self.num_nodes,
            **(self.trainer_kwargs or {}),
        )
        val_batches = None if val is None else [val[i : i + 1024] for i in range(0, len(val), 1024)]
        start = time.perf_counter()
        with warnings.catch_warnings():
            # Lightning-internal notices that say nothing about the user's data or model
            warnings.filterwarnings("ignore", ".*isinstance\\(treespec, LeafSpec\\).*")
            warnings.filterwarnings("ignore", ".*IterableDataset. has .__len__. defined.*")
            trainer.fit(
                module,
                train_dataloaders=loader(stream),
                val_dataloaders=None if val_batches is None else loader(val_batches),
            )
        module.cpu().eval()
        seconds = time.perf_counter() - start
        return seconds, best, trainer.global_rank, trainer.world_size

    def _store(self, module, head, dims, panel, seconds, best, rank, world) -> Forecaster:
        self.fit_seconds_ = seconds
        self.module_, self.head_, self.dims_ = module, head, dims
        self.schema_, self.freq_, self.tz_ = panel.schema, panel.freq, panel.tz
        self.categories_ = {k: v.tolist() for k, v in panel.categories.items()}
        self.context_ = dims.context
        self.history_ = best.history
        self.best_epoch_ = best.best_epoch
        self.global_rank_, self.world_size_ = rank, world
        return self

    def _encoder_spec(self, season: int, context: int) -> Any:
        spec = self.model
        if isinstance(spec, str):
            spec = {"name": spec}
        if not isinstance(spec, dict):
            return spec
        if spec.get("name") == "deepar" and "lags" not in spec:
            spec = {**spec, "lags": list(self._lags(season, context))}
        kind = getattr(ENCODERS.get(spec.get("name")), "kind", None)
        # the seasonal-naive input, unless every one of its sources lies before the window
        # (a season longer than context + horizon: it would be a constant zero)
        if kind == "multi_horizon" and "season" not in spec and season < context + self.horizon:
            spec = {**spec, "season": season}
        return spec

    # ------------------------------------------------------------------ predict
    def predict(
        self,
        df: Any,
        future_df: Any = None,
        static_df: Any = None,
        *,
        batch_size: int = 1024,
        progress: bool | None = None,
    ) -> Forecast:
        """Forecast the ``horizon`` steps after the end of every series in ``df``.

        ``future_df`` gives the future-known covariates for those steps (required when the
        model uses any). Large panels are forecast in chunks of ``batch_size`` series.
        """
        self._check_fitted()
        categories = {k: np.asarray(v, dtype=object) for k, v in self.categories_.items()}
        panel = Panel.from_frame(
            df, freq=self.freq_, schema=self.schema_, static_df=static_df, categories=categories
        )
        if panel.tz != self.tz_:
            raise DataError(
                f"the model was trained on {self.tz_ or 'naive'} timestamps, the data are "
                f"{panel.tz or 'naive'}"
            )
        module = self.module_
        show = self.progress if progress is None else progress
        batches = inference_batches(panel, self.context_, self.horizon, future_df, batch_size)
        total = -(-panel.n_series // batch_size)
        quiet = not show or total < 2
        bar = tqdm(batches, desc="predict", unit="chunk", total=total, disable=quiet)
        ar = module.autoregressive
        generator_seed = 0 if self.random_state is None else self.random_state
        raws, locs, scales, samples = [], [], [], []
        with torch.random.fork_rng():
            torch.manual_seed(generator_seed)
            for w in bar:
                if ar:
                    samples.append(module.predict_samples(w, self.num_samples).numpy())
                else:
                    raw, scale = module.predict_raw(w)
                    raws.append(raw)
                    locs.append(scale.loc)
                    scales.append(scale.scale)
        stamps = panel.future_frame(self.horizon)[self.schema_.time_col].to_numpy()
        names = {"id_col": self.schema_.id_col, "time_col": self.schema_.time_col}
        if ar:
            return SampleForecast(
                np.concatenate(samples, axis=1), panel.ids, stamps, self.horizon, **names
            )
        raw, loc, scale = torch.cat(raws), torch.cat(locs), torch.cat(scales)
        if module.joint:  # one joint distribution per series: keep it, answer from samples
            with torch.no_grad(), torch.random.fork_rng():
                torch.manual_seed(generator_seed)
                distribution = self.head_.distribution(raw, loc[:, 0], scale[:, 0])
                paths = distribution.sample((self.num_samples,)).numpy()
            return JointForecast(
                paths, distribution, panel.ids, stamps, self.horizon, seed=generator_seed, **names
            )
        distribution = self.head_.distribution(raw, loc, scale)
        return DistributionForecast(distribution, panel.ids, stamps, self.horizon, **names)

    # ------------------------------------------------------------------ persistence
    def get_params(self) -> dict[str, Any]:
        params = dict(vars(self))
        return {k: v for k, v in params.items() if not k.endswith("_")}

    def save(self, path: str | Path) -> Path:
        """Write ``config.json`` and ``model.safetensors`` into the directory ``path``."""
        self._check_fitted()
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        params = self.get_params()
        params["head"] = head_config(self.head_)
        params["model"] = {"name": self.module_.encoder.name, **self.module_.encoder.hparams}
        config = {
            "format": FORMAT,
            "qfcast_version": __version__,
            "params": _jsonable(params),
            "schema": self.schema_.to_dict(),
            "freq": self.freq_,
            "tz": self.tz_,
            "categories": self.categories_,
            "dims": asdict(self.dims_),
            "fit_seconds": self.fit_seconds_,
            "best_epoch": self.best_epoch_,
        }
        (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        state = {k: v.contiguous() for k, v in self.module_.state_dict().items()}
        save_file(state, str(folder / "model.safetensors"))
        return folder

    @classmethod
    def load(cls, path: str | Path) -> Forecaster:
        """Rebuild a saved Forecaster; predictions equal the saved model's."""
        folder = Path(path)
        config_path = folder / "config.json"
        if not config_path.is_file():
            raise FileNotFoundError(f"{folder} is not a saved qfcast model (no config.json)")
        config = json.loads(config_path.read_text())
        if config.get("format") != FORMAT:
            raise ValueError(
                f"{folder} was saved by qfcast {config.get('qfcast_version', '?')} in model "
                f"format {config.get('format')!r}; this qfcast ({__version__}) reads format "
                f"{FORMAT}. Retrain, or load it with the qfcast version that saved it"
            )
        params = config["params"]
        fc = cls(**params)
        dims = InputDims(
            **{**config["dims"], "cardinalities": tuple(config["dims"]["cardinalities"])}
        )
        head = _bound_head(params["head"], dims.horizon)
        encoder = get_encoder(params["model"], dims)
        module = ForecastingModule(
            encoder, head, past_covariates=dims.past, scaler=params["scaler"]
        )
        module.load_state_dict(load_file(str(folder / "model.safetensors")), strict=True)
        module.eval()
        fc.module_, fc.head_, fc.dims_ = module, head, dims
        fc.schema_ = Schema.from_dict(config["schema"])
        fc.freq_, fc.tz_ = config["freq"], config["tz"]
        fc.categories_ = config["categories"]
        fc.context_ = dims.context
        fc.fit_seconds_ = config["fit_seconds"]
        fc.best_epoch_ = config["best_epoch"]
        fc.history_ = []
        return fc


def _validation_windows(panel: Panel, horizon: int) -> int:
    """64 windows in all, at most a tenth of the median series, at least one per series."""
    wanted = -(-64 // max(panel.n_series, 1))
    room = int(0.1 * np.median(panel.lengths)) // horizon
    return max(1, min(wanted, room))


def _bound_head(spec: Any, horizon: int) -> Any:
    """The head for ``spec``; a head with parameters of its own (mqf2) is bound to the
    horizon, which creates them."""
    head = get_head(spec)
    return head.bind(horizon) if hasattr(head, "bind") else head


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    raise TypeError(f"cannot save parameter value {value!r} in JSON")
