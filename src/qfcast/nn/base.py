"""What every encoder receives and returns.

An encoder is a plain ``nn.Module``. It never sees data units: the training wrapper scales the
window first (``target / scale``, with ``log(scale)`` given as a feature) and the head maps its
outputs back. Two kinds exist:

* **multi-horizon** encoders (MQ-CNN, MQ-RNN) return features for the H steps after an origin;
  with ``forking=True`` they do so for *every* context position (forking sequences), so one
  window trains C forecast origins at once;
* **autoregressive** encoders (DeepAR) return next-step features along the window with teacher
  forcing in training, and draw sample paths at prediction.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch

__all__ = ["EncoderInput", "InputDims"]


@dataclass(frozen=True)
class InputDims:
    """Sizes of an encoder's inputs (all known when the training panel is built)."""

    context: int  # C, steps of history per window
    horizon: int  # H, steps forecast per origin
    time: int  # calendar features + age per step
    past: int  # past-only dynamic covariates
    known: int  # future-known dynamic covariates
    static_real: int
    cardinalities: tuple[int, ...] = ()  # static categorical columns (incl. "unknown" code)


@dataclass
class EncoderInput:
    """One batch of B windows, target already divided by its window's scale.

    ``time`` and ``known`` cover the whole window, context then horizon, so an origin at any
    context position finds the covariates of the H steps after it. ``past`` (past-only
    covariates) covers the context only. ``observed`` is 1.0 where the target was observed,
    0.0 for NaN targets and left padding (whose target is 0).
    """

    target: torch.Tensor  # (B, C) scaled past target
    observed: torch.Tensor  # (B, C) float 0/1
    time: torch.Tensor  # (B, C + H, T)
    past: torch.Tensor  # (B, C, P)
    known: torch.Tensor  # (B, C + H, K)
    static_real: torch.Tensor  # (B, R)
    static_cat: torch.Tensor  # (B, S) int64
    log_scale: torch.Tensor  # (B, 1)

    def to(self, device: torch.device | str) -> EncoderInput:
        return EncoderInput(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})

    @property
    def batch_size(self) -> int:
        return self.target.shape[0]
