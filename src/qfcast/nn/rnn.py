"""Recurrent encoders: MQ-RNN (multi-horizon, forking sequences) and DeepAR (autoregressive).

* MQ-RNN: Wen, Torkkola, Narayanaswamy & Madeka, "A Multi-Horizon Quantile Recurrent
  Forecaster", NIPS Time Series Workshop 2017 (arXiv:1711.11053).
* DeepAR: Salinas, Flunkert, Gasthaus & Januschowski, "DeepAR: Probabilistic forecasting with
  autoregressive recurrent networks", International Journal of Forecasting 36(3), 2020;
  defaults of GluonTS's torch ``DeepAREstimator`` (``docs/MATH.md`` B.2).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.distributions import Distribution

from ._inputs import (
    StaticFeatures,
    check_input,
    context_inputs,
    positive_int,
    positive_ints,
    probability,
)
from .base import EncoderInput, InputDims
from .decoder import MultiHorizonEncoder, decoder_hparams
from .registry import Encoder

__all__ = ["MQRNN", "DeepAR"]

_CELLS = {"lstm": nn.LSTM, "gru": nn.GRU}


class MQRNN(MultiHorizonEncoder):
    """MQ-RNN encoder–decoder (Wen et al. 2017) with forking sequences.

    The encoder is a **unidirectional** LSTM (as in Wen et al.; ``cell="gru"`` for a GRU) over
    the context inputs ``[y_t, observed_t, time_t, past_t, known_t, static]``; the state is
    ``h_t = [rnn_t, y_t, observed_t]`` and the decoder is the same
    :class:`~qfcast.nn.decoder.ForkingMLPDecoder` as :class:`~qfcast.nn.mqcnn.MQCNN`. The LSTM
    is the default because PyTorch's CPU LSTM has a fused (oneDNN) backward and the GRU does
    not: at 2 × 40 units over 24 steps, batch 32, forward + backward are 2.6–3.7× faster
    (``benchmarks/mqf2.py``, ``components``).

    GluonTS's MQ-RNN uses a *bidirectional* GRU (``docs/MATH.md`` A.9). With forking
    sequences that leaks: the backward direction carries the targets after position t into
    the state of origin t, which is then trained to forecast them. A causal encoder keeps every
    origin honest, so training matches prediction.

    Parameters
    ----------
    dims
        Input sizes.
    hidden_size, num_layers, dropout
        The recurrent layers' (GluonTS: 50 units, 1 layer); ``dropout`` acts between layers.
    cell
        ``"lstm"`` (default) or ``"gru"``.
    global_hidden, local_dim, out_features, embedding_dims, season
        As for :class:`~qfcast.nn.mqcnn.MQCNN`.

    Examples
    --------
    >>> from qfcast.nn import InputDims
    >>> dims = InputDims(context=6, horizon=2, time=1, past=0, known=0, static_real=0)
    >>> x = EncoderInput(torch.zeros(3, 6), torch.ones(3, 6), torch.zeros(3, 8, 1),
    ...                  torch.zeros(3, 6, 0), torch.zeros(3, 8, 0), torch.zeros(3, 0),
    ...                  torch.zeros(3, 0, dtype=torch.long), torch.zeros(3, 1))
    >>> MQRNN(dims)(x, forking=True).shape  # (B, C origins, H steps, features)
    torch.Size([3, 6, 2, 30])
    """

    name = "mqrnn"

    def __init__(
        self,
        dims: InputDims,
        hidden_size: int = 50,
        num_layers: int = 1,
        dropout: float = 0.0,
        global_hidden: int = 30,
        local_dim: int = 20,
        out_features: int = 30,
        embedding_dims: Sequence[int] | None = None,
        cell: str = "lstm",
        season: int | None = None,
    ) -> None:
        if cell not in _CELLS:
            raise ValueError(f"cell must be one of {sorted(_CELLS)}, got {cell!r}")
        hparams = {
            "cell": cell,
            "hidden_size": positive_int("hidden_size", hidden_size),
            "num_layers": positive_int("num_layers", num_layers),
            "dropout": probability("dropout", dropout),
            **decoder_hparams(global_hidden, local_dim, out_features, embedding_dims, season),
        }
        super().__init__(dims, hparams)
        self.out_features = out_features
        self.static = StaticFeatures(dims, embedding_dims)
        width = 2 + dims.time + dims.past + dims.known + self.static.out_features
        self.rnn = _CELLS[cell](
            width,
            hidden_size,
            num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.decoder = self._decoder(dims, hidden_size + 2, global_hidden, local_dim)

    def encode(self, x: EncoderInput) -> Tensor:
        """States ``(B, C, hidden_size + 2)``; state t sees window positions ≤ t only."""
        out, _ = self.rnn(context_inputs(x, self.static(x)))
        return torch.cat([out, x.target.unsqueeze(-1), x.observed.unsqueeze(-1)], dim=-1)


class DeepAR(Encoder):
    """DeepAR's autoregressive LSTM (Salinas et al. 2020): next-step features along the window.

    Row t of the output parameterises ``y_t`` and is computed from the inputs at window
    positions 0, …, t, where the input at position t (of C + H) is

    * ``[y_{t−l}, observed_{t−l}]`` for each ``l`` in ``lags`` (scaled target; a lag reaching
      before the window gives ``0, 0``);
    * the time features and known covariates at t;
    * if P > 0: the past-only covariates at t − 1 and a flag that they exist, i.e. the
      covariates of positions 0, …, C−1 feed positions 1, …, C; positions 0 and C+1, …
      get zeros and flag 0. They are thus treated like the target (seen one step late) and
      nothing after the forecast origin is ever used: past-only covariates are unknown
      beyond the context, in training and sampling alike;
    * the static features ``[embedded static_cat, static_real, log_scale]``.

    So row t depends on targets and past covariates strictly before t only. Row 0 sees no
    target at all (every lag is before the window); a trainer may mask it.

    Parameters
    ----------
    dims
        Input sizes.
    hidden_size, num_layers, dropout
        The LSTM's (GluonTS: 40 units, 2 layers, dropout 0.1 between layers).
    lags
        Distinct positive target lags (GluonTS derives them from the frequency; default
        ``(1,)``).
    embedding_dims
        Embedding size per static categorical column; default ``min(50, (card + 1) // 2)``.

    Examples
    --------
    >>> from qfcast.nn import InputDims
    >>> dims = InputDims(context=5, horizon=3, time=0, past=0, known=0, static_real=0)
    >>> m = DeepAR(dims, lags=[1, 7])
    >>> m.out_features, m.inputs_per_step  # 2 lags × (value, flag) + log_scale
    (40, 5)
    """

    name = "deepar"
    kind = "autoregressive"

    def __init__(
        self,
        dims: InputDims,
        hidden_size: int = 40,
        num_layers: int = 2,
        dropout: float = 0.1,
        lags: Sequence[int] = (1,),
        embedding_dims: Sequence[int] | None = None,
    ) -> None:
        lags = positive_ints("lags", lags)
        if len(set(lags)) != len(lags):
            raise ValueError(f"lags must be distinct, got {lags}")
        hparams = {
            "hidden_size": positive_int("hidden_size", hidden_size),
            "num_layers": positive_int("num_layers", num_layers),
            "dropout": probability("dropout", dropout),
            "lags": lags,
            "embedding_dims": None if embedding_dims is None else list(embedding_dims),
        }
        super().__init__(dims, hparams)
        self.lags = tuple(lags)
        self.out_features = hidden_size
        self.static = StaticFeatures(dims, embedding_dims)
        past = dims.past + 1 if dims.past else 0
        self.inputs_per_step = (
            2 * len(lags) + dims.time + dims.known + past + self.static.out_features
        )
        self.lstm = nn.LSTM(
            self.inputs_per_step,
            hidden_size,
            num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )

    def _lag_features(self, y: Tensor, observed: Tensor, start: int, stop: int) -> Tensor:
        """``[y_{t−l}, observed_{t−l}]`` per lag for positions ``start ≤ t < stop``."""
        pad = max(self.lags)
        y, observed = F.pad(y, (pad, 0)), F.pad(observed, (pad, 0))
        columns = []
        for lag in self.lags:
            window = slice(pad + start - lag, pad + stop - lag)
            columns += [y[:, window], observed[:, window]]
        return torch.stack(columns, dim=-1)

    def _covariates(self, x: EncoderInput) -> Tensor:
        """The target-free inputs of every window position, ``(B, C + H, ·)``."""
        c, h = self.dims.context, self.dims.horizon
        parts = [x.time, x.known]
        if self.dims.past:
            parts.append(F.pad(x.past, (0, 0, 1, h - 1)))  # position t gets past_{t−1}
            exists = x.target.new_zeros(c + h)
            exists[1 : c + 1] = 1.0
            parts.append(exists.expand(x.batch_size, -1).unsqueeze(-1))
        static = self.static(x)
        parts.append(static.unsqueeze(1).expand(-1, c + h, -1))
        return torch.cat(parts, dim=-1)

    def inputs(
        self, x: EncoderInput, future_target: Tensor, future_observed: Tensor | None = None
    ) -> Tensor:
        """The LSTM's inputs ``(B, C + H, inputs_per_step)`` with teacher forcing.

        Columns: ``[y_{t−l}, observed_{t−l}]`` for each lag in order, time features, known
        covariates, (past covariates at t − 1 and their flag, if P > 0), static features.
        ``future_observed`` defaults to ones — the flag a sampled value gets.
        """
        check_input(x, self.dims)
        b, c, h = x.batch_size, self.dims.context, self.dims.horizon
        if tuple(future_target.shape) != (b, h):
            raise ValueError(f"future_target must be (B, H) = {(b, h)}, got {future_target.shape}")
        if future_observed is None:
            future_observed = torch.ones_like(future_target)
        elif tuple(future_observed.shape) != (b, h):
            raise ValueError(f"future_observed must be {(b, h)}, got {future_observed.shape}")
        y = torch.cat([x.target, future_target.to(x.target.dtype)], dim=1)
        observed = torch.cat([x.observed, future_observed.to(x.observed.dtype)], dim=1)
        return torch.cat([self._lag_features(y, observed, 0, c + h), self._covariates(x)], -1)

    def forward(
        self, x: EncoderInput, future_target: Tensor, future_observed: Tensor | None = None
    ) -> Tensor:
        """Teacher-forced states ``(B, C + H, hidden_size)``; row t parameterises ``y_t``.

        Parameters
        ----------
        x
            The scaled batch.
        future_target
            ``(B, H)`` scaled future target, 0 where unobserved.
        future_observed
            ``(B, H)`` 0/1 flags; default all ones (as for sampled values).
        """
        out, _ = self.lstm(self.inputs(x, future_target, future_observed))
        return out

    @torch.no_grad()
    def sample(
        self,
        x: EncoderInput,
        project: Callable[[Tensor], Distribution],
        num_samples: int,
    ) -> Tensor:
        """Ancestral sample paths ``(num_samples, B, H)`` in scaled units.

        The LSTM runs over the real context and the first horizon position (whose lags all lie
        in the context) once per window; its state is then repeated ``num_samples`` times
        (row ``s·B + b`` is sample s of window b) and each step draws
        ``y ~ project(state)`` — a distribution with batch shape ``(num_samples·B,)`` — and
        feeds it back as the next lag with observed flag 1, exactly as :meth:`forward` does
        with ``future_target`` = the sample. Draws use torch's global generator, so
        ``torch.manual_seed`` makes them repeatable. Dropout follows the module's mode: call
        ``eval()`` first.
        """
        check_input(x, self.dims)
        num_samples = positive_int("num_samples", num_samples)
        b, c, h = x.batch_size, self.dims.context, self.dims.horizon
        n = num_samples * b
        covariates = self._covariates(x)
        y = torch.cat([x.target, x.target.new_zeros(b, h)], dim=1)
        observed = torch.cat([x.observed, x.observed.new_ones(b, h)], dim=1)
        first = torch.cat([self._lag_features(y, observed, 0, c + 1), covariates[:, : c + 1]], -1)
        out, (hidden, cell) = self.lstm(first)
        state = out[:, -1].repeat(num_samples, 1)
        hidden, cell = hidden.repeat(1, num_samples, 1), cell.repeat(1, num_samples, 1)
        y, observed = y.repeat(num_samples, 1), observed.repeat(num_samples, 1)
        covariates = covariates.repeat(num_samples, 1, 1)
        for step in range(c, c + h):
            if step > c:
                lagged = self._lag_features(y, observed, step, step + 1)
                step_input = torch.cat([lagged, covariates[:, step : step + 1]], dim=-1)
                out, (hidden, cell) = self.lstm(step_input, (hidden, cell))
                state = out[:, 0]
            draw = project(state).sample()
            if tuple(draw.shape) != (n,):
                raise ValueError(
                    f"project(state) must give a distribution of batch shape ({n},) and event "
                    f"shape (), got samples of shape {tuple(draw.shape)}"
                )
            y[:, step] = draw.to(y.dtype)
        return y[:, c:].reshape(num_samples, b, h)
