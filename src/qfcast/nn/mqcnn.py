"""MQ-CNN: a causal dilated convolution encoder with the forking-sequences MLP decoder.

Wen, Torkkola, Narayanaswamy & Madeka, "A Multi-Horizon Quantile Recurrent Forecaster",
NIPS Time Series Workshop 2017 (arXiv:1711.11053). Defaults follow GluonTS's
``MQCNNEstimator`` (``docs/MATH.md`` A.9): channels (30, 30, 30), kernels (7, 3, 3),
dilations (1, 3, 9), decoder width 30.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._inputs import StaticFeatures, context_inputs, positive_ints
from .base import EncoderInput, InputDims
from .decoder import MultiHorizonEncoder, decoder_hparams

__all__ = ["MQCNN", "CausalConv1d"]


class CausalConv1d(nn.Conv1d):
    """``Conv1d`` padded with ``(kernel_size − 1)·dilation`` zeros on the left only.

    Output position t therefore sees input positions t − (kernel_size − 1)·dilation, …, t,
    never a later one, and the sequence keeps its length.

    Examples
    --------
    >>> conv = CausalConv1d(1, 1, kernel_size=2, dilation=3)
    >>> _ = conv.weight.data.fill_(1.0), conv.bias.data.zero_()
    >>> conv(torch.arange(5.0).view(1, 1, 5)).flatten().tolist()  # x_t + x_{t−3}
    [0.0, 1.0, 2.0, 3.0, 5.0]
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, dilation=dilation)
        self.left_padding = (kernel_size - 1) * dilation

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(F.pad(x, (self.left_padding, 0)))


class MQCNN(MultiHorizonEncoder):
    """MQ-CNN encoder–decoder (Wen et al. 2017) with forking sequences.

    **Encoder.** Context step t gets ``[y_t, observed_t, time_t, past_t, known_t, static]``
    (``static = [embedded static_cat, static_real, log_scale]``), then a stack of causal
    dilated convolutions with ReLU. The state is ``h_t = [conv_t, y_t, observed_t]`` (the
    latest observation is passed on directly, GluonTS's ``use_residual``), size
    ``channels[-1] + 2``. The receptive field is ``1 + Σ (kernel − 1)·dilation`` steps
    (31 with the defaults).

    **Decoder.** :class:`~qfcast.nn.decoder.ForkingMLPDecoder`: a global MLP
    ``(h_t, x_{t+1..t+H}) → (c_{t+1}, …, c_{t+H}, c_a)`` and a local MLP shared across
    horizons ``(c_{t+k}, c_a, x_{t+k}) → features``, where ``x`` = time features + known
    covariates. See :meth:`~qfcast.nn.decoder.MultiHorizonEncoder.forward` for ``forking``.

    Parameters
    ----------
    dims
        Input sizes.
    channels, kernel_sizes, dilations
        One entry per convolution layer (same lengths).
    global_hidden
        Hidden width of the global MLP (30 units in all; GluonTS's ``decoder_mlp_dim_seq``
        [30] instead means 30 units *per horizon step*, one dense layer of H·30 units).
    local_dim
        Size of each local context and of the horizon-agnostic context.
    out_features
        Features per horizon step: the local MLP's width (30, GluonTS's per-step decoder
        width); the head is its output layer.
    embedding_dims
        Embedding size per static categorical column; default ``min(50, (card + 1) // 2)``.
    season
        Season length in steps: feed each decoder step the seasonal-naive forecast from its
        origin (see :class:`~qfcast.nn.decoder.MultiHorizonEncoder`); ``None``: no such input.

    Examples
    --------
    >>> from qfcast.nn import InputDims
    >>> dims = InputDims(context=96, horizon=24, time=5, past=0, known=1, static_real=0,
    ...                  cardinalities=(10,))
    >>> m = MQCNN(dims)
    >>> m.out_features, m.receptive_field
    (30, 31)
    """

    name = "mqcnn"

    def __init__(
        self,
        dims: InputDims,
        channels: Sequence[int] = (30, 30, 30),
        kernel_sizes: Sequence[int] = (7, 3, 3),
        dilations: Sequence[int] = (1, 3, 9),
        global_hidden: int = 30,
        local_dim: int = 20,
        out_features: int = 30,
        embedding_dims: Sequence[int] | None = None,
        season: int | None = None,
    ) -> None:
        channels = positive_ints("channels", channels)
        kernel_sizes = positive_ints("kernel_sizes", kernel_sizes, len(channels))
        dilations = positive_ints("dilations", dilations, len(channels))
        hparams = {
            "channels": channels,
            "kernel_sizes": kernel_sizes,
            "dilations": dilations,
            **decoder_hparams(global_hidden, local_dim, out_features, embedding_dims, season),
        }
        super().__init__(dims, hparams)
        self.out_features = out_features
        self.static = StaticFeatures(dims, embedding_dims)
        width = 2 + dims.time + dims.past + dims.known + self.static.out_features
        layers: list[nn.Module] = []
        for c, k, d in zip(channels, kernel_sizes, dilations, strict=True):
            layers += [CausalConv1d(width, c, k, d), nn.ReLU()]
            width = c
        self.convs = nn.Sequential(*layers)
        pairs = zip(kernel_sizes, dilations, strict=True)
        self.receptive_field = 1 + sum((k - 1) * d for k, d in pairs)
        self.decoder = self._decoder(dims, channels[-1] + 2, global_hidden, local_dim)

    def encode(self, x: EncoderInput) -> Tensor:
        """States ``(B, C, channels[-1] + 2)``; state t sees window positions ≤ t only."""
        inputs = context_inputs(x, self.static(x))  # (B, C, width)
        conv = self.convs(inputs.transpose(1, 2)).transpose(1, 2)
        return torch.cat([conv, x.target.unsqueeze(-1), x.observed.unsqueeze(-1)], dim=-1)
