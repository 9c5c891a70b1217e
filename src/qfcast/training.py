"""The thin Lightning layer: batches in, the head's loss out; the maths lives in the encoder
and the head.

:class:`ForecastingModule` wires an encoder (``qfcast.nn``), a linear projection and a head
(``qfcast.heads``): it scales each window (the network sees ``y / scale``), asks the head for
the loss in data units, and logs it. :func:`make_trainer` builds a Lightning ``Trainer`` with
early stopping, best-weights restore, gradient clipping and a plateau learning-rate schedule,
and passes ``accelerator`` / ``devices`` / ``strategy`` / ``num_nodes`` through.
"""

from __future__ import annotations

import math
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, IterableDataset

from .data.panel import Panel
from .data.scaling import IdentityScaler, MeanAbsScaler, RobustScaler, Scale
from .data.windows import Windows, WindowSampler
from .nn.base import EncoderInput

__all__ = ["SCALERS", "ForecastingModule", "WindowStream", "make_trainer"]

SCALERS = {"mean_abs": MeanAbsScaler, "robust": RobustScaler, "none": IdentityScaler}


class WindowStream(IterableDataset):
    """``batches`` random batches of training windows per epoch, seeded per epoch and rank.

    Each process of a distributed run draws its own windows (the seed mixes in the global
    rank), so ranks never train on one identical stream.
    """

    def __init__(
        self,
        panel: Panel,
        context: int,
        horizon: int,
        batch_size: int,
        batches: int,
        seed: int,
        weighting: str = "uniform",
    ) -> None:
        super().__init__()
        self.sampler = WindowSampler(panel, context, horizon, weighting=weighting, seed=seed)
        self.batch_size, self.batches, self.seed = batch_size, batches, seed
        self.epoch = 0

    def __iter__(self):
        rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
        self.sampler.rng = np.random.default_rng([self.seed, rank, self.epoch])
        self.epoch += 1
        for _ in range(self.batches):
            yield self.sampler.sample(self.batch_size)

    def __len__(self) -> int:
        return self.batches


class ForecastingModule(L.LightningModule):
    """Encoder → linear projection → head; the loss is the head's, in data units."""

    def __init__(
        self,
        encoder: nn.Module,
        head: Any,
        *,
        past_covariates: int,
        scaler: str = "robust",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        lr_factor: float = 0.5,
        lr_patience: int = 10,
        forking: bool = True,
        origins: int | None = None,
    ) -> None:
        super().__init__()
        self.encoder, self.head = encoder, head
        self.projection = nn.Linear(encoder.out_features, head.outputs)
        self.past_covariates = past_covariates
        self.scaler = SCALERS[scaler]()
        self.lr, self.weight_decay = lr, weight_decay
        self.lr_factor, self.lr_patience = lr_factor, lr_patience
        self.forking, self.origins = forking, origins
        self.autoregressive = getattr(encoder, "kind", "") == "autoregressive"
        self.joint = bool(getattr(head, "joint", False))
        if self.joint and self.autoregressive:
            raise ValueError(
                f"the {head.name} head forecasts the H steps jointly from one encoder state per "
                "origin; use a multi-horizon encoder ('mqcnn' or 'mqrnn'), not an "
                "autoregressive one"
            )
        self.monitor = "val_loss"

    # ------------------------------------------------------------------ inputs
    def encoder_input(self, w: Windows) -> tuple[EncoderInput, Scale]:
        scale = self.scaler(w.past_target, w.past_observed)
        observed = w.past_observed.to(w.past_target.dtype)
        p = self.past_covariates
        x = EncoderInput(
            target=scale.transform(w.past_target) * observed,
            observed=observed,
            time=torch.cat([w.past_time, w.future_time], dim=1),
            past=w.past_dynamic[..., :p],
            known=torch.cat([w.past_dynamic[..., p:], w.future_dynamic], dim=1),
            static_real=w.static_real,
            static_cat=w.static_cat,
            log_scale=scale.scale.log(),
        )
        return x, scale

    def _mean_loss(self, raw, target, observed, scale: Scale, extra_dims: int) -> torch.Tensor:
        """Mean loss per observed target (univariate heads) or per fully observed window of
        H steps (joint heads, whose loss has one value per window)."""
        joint = self.joint
        shape = (-1,) + (1,) * (extra_dims - 1 if joint else extra_dims)
        loc, s = scale.loc.reshape(shape), scale.scale.reshape(shape)
        loss = self.head.loss(raw, target, observed, loc, s)
        count = (observed != 0).all(-1).sum() if joint else observed.sum()
        return loss.sum() / count.clamp(min=1.0)

    def loss(self, w: Windows, forking: bool | None = None) -> torch.Tensor:
        """Mean loss per observed target in data units (forking: over every context origin)."""
        x, scale = self.encoder_input(w)
        forking = self.forking if forking is None else forking
        horizon = w.future_target.shape[1]
        if self.autoregressive:
            seen = w.future_observed.to(x.target.dtype)
            future = scale.transform(w.future_target) * seen
            raw = self.projection(self.encoder(x, future, seen))
            target = torch.cat([w.past_target, w.future_target], dim=1)
            observed = torch.cat([w.past_observed, w.future_observed], dim=1).to(raw.dtype)
            observed[:, 0] = 0.0  # the first step has no lagged target to condition on
            if not forking:  # validation: the horizon steps only
                raw, target = raw[:, -horizon:], target[:, -horizon:]
                observed = observed[:, -horizon:]
            return self._mean_loss(raw, target, observed, scale, 1)
        if forking:
            # (B, K, H, O): the last K = ``origins`` origins of the context (default all C)
            raw = self.projection(self.encoder(x, forking=True, origins=self.origins))
            k = raw.shape[1]
            full = torch.cat([w.past_target, w.future_target], dim=1)[:, 1:]
            seen = torch.cat([w.past_observed, w.future_observed], dim=1)[:, 1:]
            target = full.unfold(1, horizon, 1)[:, -k:]
            observed = seen.unfold(1, horizon, 1)[:, -k:].to(raw.dtype)
            return self._mean_loss(raw, target, observed, scale, 2)
        raw = self.projection(self.encoder(x, forking=False))  # (B, H, O)
        observed = w.future_observed.to(raw.dtype)
        return self._mean_loss(raw, w.future_target, observed, scale, 1)

    # ------------------------------------------------------------------ Lightning
    def _log_loss(self, name: str, loss: torch.Tensor, batch: Windows) -> None:
        self.log(name, loss, prog_bar=True, on_step=False, on_epoch=True,
                 batch_size=len(batch), sync_dist=True)  # fmt: skip

    def training_step(self, batch: Windows, batch_idx: int) -> torch.Tensor:
        loss = self.loss(batch)
        self._log_loss("train_loss", loss, batch)
        return loss

    def validation_step(self, batch: Windows, batch_idx: int) -> None:
        self._log_loss("val_loss", self.loss(batch, forking=False), batch)

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        schedule = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, factor=self.lr_factor, patience=self.lr_patience
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": schedule, "monitor": self.monitor},
        }

    # ------------------------------------------------------------------ prediction
    @torch.no_grad()
    def predict_raw(self, w: Windows) -> tuple[torch.Tensor, Scale]:
        """Raw head outputs (B, H, O) for the steps after each window's context."""
        x, scale = self.encoder_input(w)
        return self.projection(self.encoder(x, forking=False)), scale

    @torch.no_grad()
    def predict_samples(self, w: Windows, num_samples: int) -> torch.Tensor:
        """Sample paths (S, B, H) in data units, drawn step by step (autoregressive)."""
        x, scale = self.encoder_input(w)
        one = torch.ones(1, dtype=x.target.dtype, device=x.target.device)

        def project(state: torch.Tensor):
            return self.head.distribution(self.projection(state), 0.0 * one, one)

        paths = self.encoder.sample(x, project, num_samples)  # (S, B, H) scaled
        return paths * scale.scale[None] + scale.loc[None]


class BestWeights(L.Callback):
    """Keep the weights of the best epoch in memory and restore them when training ends.

    No checkpoint files are written; every rank of a distributed run holds the same weights
    and, with ``sync_dist`` logging, the same monitored value.
    """

    def __init__(self, monitor: str) -> None:
        self.monitor = monitor
        self.best = math.inf
        self.best_epoch = -1
        self.state: dict[str, torch.Tensor] | None = None
        self.history: list[dict[str, float]] = []

    def _check(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
        self.history.append({"epoch": trainer.current_epoch, **metrics})
        value = metrics.get(self.monitor)
        if value is not None and value < self.best:
            self.best, self.best_epoch = value, trainer.current_epoch
            self.state = {k: v.detach().clone() for k, v in module.state_dict().items()}

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._check(trainer, module)

    def on_fit_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if self.state is not None:
            module.load_state_dict(self.state)


def make_trainer(
    *,
    max_epochs: int,
    monitor: str,
    patience: int | None,
    gradient_clip: float | None,
    progress: bool,
    accelerator: str,
    devices: int | str | list[int],
    strategy: str,
    num_nodes: int,
    **trainer_kwargs: Any,
) -> tuple[L.Trainer, BestWeights]:
    """A Lightning Trainer with early stopping, best-weights restore and no file output."""
    best = BestWeights(monitor)
    callbacks: list[L.Callback] = [best]
    if patience is not None:
        callbacks.append(L.pytorch.callbacks.EarlyStopping(monitor, patience=patience))
    options: dict[str, Any] = {
        "max_epochs": max_epochs,
        "accelerator": accelerator,
        "devices": devices,
        "strategy": strategy,
        "num_nodes": num_nodes,
        "gradient_clip_val": gradient_clip,
        "enable_progress_bar": progress,
        "enable_model_summary": False,  # no summary that runs the model on example input
        "enable_checkpointing": False,  # best weights are kept in memory (BestWeights)
        "logger": False,
        "num_sanity_val_steps": 0,
        "use_distributed_sampler": False,  # WindowStream seeds each rank itself
        "callbacks": callbacks,
    }
    options.update(trainer_kwargs)
    return L.Trainer(**options), best


def loader(stream: IterableDataset | list[Windows]) -> DataLoader:
    """A DataLoader over ready-made batches (the windows are batched already)."""
    return DataLoader(stream, batch_size=None, collate_fn=_identity)


def _identity(batch: Windows) -> Windows:
    return batch
