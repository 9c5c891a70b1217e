"""The MQ-* forking-sequences decoder: a global MLP and a local MLP shared across horizons.

Wen, Torkkola, Narayanaswamy & Madeka, "A Multi-Horizon Quantile Recurrent Forecaster",
NIPS Time Series Workshop 2017 (arXiv:1711.11053), section 3. For an encoder state ``h_t``
and the future-known inputs ``x_{t+1}, …, x_{t+H}`` (known covariates and time features):

* global MLP: ``(c_{t+1}, …, c_{t+H}, c_a) = m_G(h_t, x_{t+1}, …, x_{t+H})`` — one local
  context per horizon step and one horizon-agnostic context;
* local MLP, the same weights for every step: ``f_{t+k} = m_L(c_{t+k}, c_a, x_{t+k})``.

Here the local MLP stops at its hidden layer: ``f_{t+k}`` is the feature vector a head
projects (the head is the local MLP's output layer).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from ._inputs import check_input, positive_int
from .base import EncoderInput, InputDims
from .registry import Encoder

__all__ = ["ForkingMLPDecoder", "MultiHorizonEncoder"]


class ForkingMLPDecoder(nn.Module):
    """Global + local MLP decoder of MQ-CNN / MQ-RNN (Wen et al. 2017).

    Parameters
    ----------
    state_features
        Size D of the encoder state ``h_t``.
    step_features
        Size of the future-known inputs per step (time features + known covariates).
    horizon
        Number H of steps decoded per origin.
    global_hidden
        Width of the global MLP's hidden layer (ReLU).
    local_dim
        Size of each local context and of the horizon-agnostic context (ReLU).
    out_features
        Size of the local MLP's output (ReLU): the features per horizon step.

    Examples
    --------
    >>> dec = ForkingMLPDecoder(5, 2, horizon=3, global_hidden=8, local_dim=4, out_features=6)
    >>> dec(torch.zeros(7, 5), torch.zeros(7, 3, 2)).shape  # any leading batch dims
    torch.Size([7, 3, 6])
    """

    def __init__(
        self,
        state_features: int,
        step_features: int,
        horizon: int,
        global_hidden: int,
        local_dim: int,
        out_features: int,
    ) -> None:
        super().__init__()
        self.horizon, self.local_dim = horizon, local_dim
        self.global_mlp = nn.Sequential(
            nn.Linear(state_features + horizon * step_features, global_hidden),
            nn.ReLU(),
            nn.Linear(global_hidden, (horizon + 1) * local_dim),
            nn.ReLU(),
        )
        self.local_mlp = nn.Sequential(
            nn.Linear(2 * local_dim + step_features, out_features),
            nn.ReLU(),
        )

    def forward(self, state: Tensor, steps: Tensor) -> Tensor:
        """Features ``(*batch, H, out_features)`` from ``state (*batch, D)`` and
        ``steps (*batch, H, step_features)``."""
        contexts = self.global_mlp(torch.cat([state, steps.flatten(-2)], dim=-1))
        contexts = contexts.unflatten(-1, (self.horizon + 1, self.local_dim))
        local, agnostic = contexts[..., :-1, :], contexts[..., -1:, :]
        return self.local_mlp(torch.cat([local, agnostic.expand_as(local), steps], dim=-1))


def decoder_hparams(
    global_hidden: int, local_dim: int, out_features: int, embedding_dims, season: int | None
) -> dict:
    """The checked, JSON-able hyperparameters every multi-horizon encoder shares."""
    return {
        "global_hidden": positive_int("global_hidden", global_hidden),
        "local_dim": positive_int("local_dim", local_dim),
        "out_features": positive_int("out_features", out_features),
        "embedding_dims": None if embedding_dims is None else list(embedding_dims),
        "season": None if season is None else positive_int("season", season),
    }


def seasonal_sources(context: int, horizon: int, season: int) -> Tensor:
    """Window position of the seasonal-naive forecast for every (origin, step), ``(C, H)``.

    From the origin after position t, step k (1-based) is forecast by the value one or more
    whole seasons earlier that is already known: position ``t + k − season·⌈k / season⌉``,
    which lies in ``(t − season, t]``. Negative entries fall before the window.

    Examples
    --------
    >>> seasonal_sources(context=4, horizon=3, season=2).tolist()
    [[-1, 0, -1], [0, 1, 0], [1, 2, 1], [2, 3, 2]]
    """
    t = torch.arange(context).unsqueeze(1)
    k = torch.arange(1, horizon + 1)
    return t + k - season * torch.div(k + season - 1, season, rounding_mode="floor")


def seasonal_naive_inputs(target: Tensor, observed: Tensor, sources: Tensor) -> Tensor:
    """``(B, *sources.shape, 2)``: the seasonal-naive value and whether it was observed, for
    each source position (0 and 0 where it falls before the window or was missing)."""
    inside = sources >= 0
    index = sources.clamp(min=0)
    seen = observed[:, index] * inside
    return torch.stack([target[:, index] * seen, seen], dim=-1)


class MultiHorizonEncoder(Encoder, abc.ABC):
    """A causal sequence encoder over the context followed by a :class:`ForkingMLPDecoder`.

    Subclasses implement :meth:`encode`, which returns one state per context position,
    computed from inputs at positions ≤ t only.

    With a ``season`` hyperparameter (``Forecaster`` passes the data's season length), every
    step's decoder input also holds the **seasonal-naive forecast** from that origin (the
    value one season before the step, already known at the origin, see
    :func:`seasonal_sources`) and whether it was observed. A convolution with a receptive
    field of 31 steps or an RNN cannot recall yesterday's value at the same half-hour (48
    steps back) or last year's week; this input hands it to the decoder directly.
    """

    kind = "multi_horizon"
    decoder: ForkingMLPDecoder

    def __init__(self, dims: InputDims, hparams: Mapping[str, Any]) -> None:
        super().__init__(dims, hparams)
        self.season: int | None = hparams.get("season")
        if self.season is not None:
            sources = seasonal_sources(dims.context, dims.horizon, self.season)
            self.register_buffer("seasonal_sources", sources, persistent=False)

    @abc.abstractmethod
    def encode(self, x: EncoderInput) -> Tensor:
        """States ``(B, C, state_features)``; state t sees window positions ≤ t only."""

    def _decoder(
        self, dims: InputDims, state_features: int, global_hidden: int, local_dim: int
    ) -> ForkingMLPDecoder:
        return ForkingMLPDecoder(
            state_features,
            dims.time + dims.known + (2 if self.season is not None else 0),
            dims.horizon,
            global_hidden,
            local_dim,
            self.out_features,
        )

    def forward(self, x: EncoderInput, forking: bool = False, origins: int | None = None) -> Tensor:
        """Features for the H steps after one origin, or after every context position.

        Parameters
        ----------
        x
            The scaled batch.
        forking
            ``False``: the origin is the end of the context; the result ``(B, H, F)`` holds
            the features of window positions C, …, C+H−1. ``True`` (forking sequences): the
            result ``(B, C, H, F)`` holds, for the origin after window position t, the
            features of positions t+1, …, t+H, so its targets are
            ``cat(past_target, future_target)[:, t + 1 : t + 1 + H]``. Origin t is computed
            from the target and past covariates at positions ≤ t and the known covariates
            and time features at positions ≤ t + H only.
        origins
            With ``forking``: decode only the last ``origins`` origins, ``(B, origins, H, F)``
            (the values of ``forward(x, forking=True)[:, -origins:]``, for less work).

        Notes
        -----
        The last origin is decoded by the very same call in both modes, so the non-forking
        output equals ``forward(x, forking=True)[:, -1]`` bit for bit (a single batched call
        over all origins would differ in the last float bits: matrix products on CPU and GPU
        round differently for different row counts).
        """
        check_input(x, self.dims)
        c, h = self.dims.context, self.dims.horizon
        states = self.encode(x)
        steps = torch.cat([x.time, x.known], dim=-1)  # (B, C + H, T + K)
        last = self.decoder(states[:, -1], self._with_naive(x, steps[:, c:], c - 1))
        if not forking:
            return last
        first = 0 if origins is None else c - min(positive_int("origins", origins), c)
        if first == c - 1:
            return last.unsqueeze(1)
        # origin t < C − 1 reads positions t + 1, …, t + H: windows of steps[:, 1 : C + H − 1]
        windows = steps[:, first + 1 : c + h - 1].unfold(1, h, 1).transpose(-1, -2)
        windows = self._with_naive(x, windows, slice(first, c - 1))
        early = self.decoder(states[:, first:-1], windows)  # origins first, …, C − 2
        return torch.cat([early, last.unsqueeze(1)], dim=1)

    def _with_naive(self, x: EncoderInput, steps: Tensor, origins: int | slice) -> Tensor:
        """The decoder's step inputs of ``origins``, with their seasonal-naive inputs
        appended when the encoder has a season."""
        if self.season is None:
            return steps
        naive = seasonal_naive_inputs(x.target, x.observed, self.seasonal_sources[origins])
        return torch.cat([steps, naive], dim=-1)
