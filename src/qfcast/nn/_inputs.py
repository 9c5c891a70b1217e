"""Shared pieces of the encoders' inputs: static features, shape checks, hyperparameter checks."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..data.features import StaticEmbedding
from .base import EncoderInput, InputDims

__all__ = ["StaticFeatures", "check_input", "context_inputs", "positive_int", "positive_ints"]


class StaticFeatures(nn.Module):
    """``[embedding(static_cat), static_real, log_scale]`` per window, shape ``(B, out_features)``.

    The embedding tables follow :class:`~qfcast.data.features.StaticEmbedding` (default sizes
    ``min(50, (cardinality + 1) // 2)``); ``out_features = sum(embedding sizes) + R + 1``.
    """

    def __init__(self, dims: InputDims, embedding_dims: Sequence[int] | None = None) -> None:
        super().__init__()
        self.embedding = StaticEmbedding(dims.cardinalities, embedding_dims)
        self.out_features = self.embedding.out_features + dims.static_real + 1

    def forward(self, x: EncoderInput) -> Tensor:
        embedded = self.embedding(x.static_cat).to(x.target.dtype)
        return torch.cat([embedded, x.static_real, x.log_scale], dim=-1)


def context_inputs(x: EncoderInput, static: Tensor) -> Tensor:
    """Per-step inputs over the context, ``(B, C, 2 + T + P + K + static)``.

    Step t holds ``[y_t, observed_t, time_t, past_t, known_t, static]``: everything known at
    the end of step t, so a causal network over these steps sees no future.
    """
    c = x.target.shape[1]
    return torch.cat(
        [
            x.target.unsqueeze(-1),
            x.observed.unsqueeze(-1),
            x.time[:, :c],
            x.past,
            x.known[:, :c],
            static.unsqueeze(1).expand(-1, c, -1),
        ],
        dim=-1,
    )


def check_input(x: EncoderInput, dims: InputDims) -> None:
    """Raise ``ValueError`` unless every tensor of ``x`` has the shape ``dims`` announces."""
    b, c, h = x.batch_size, dims.context, dims.horizon
    expected = {
        "target": (b, c),
        "observed": (b, c),
        "time": (b, c + h, dims.time),
        "past": (b, c, dims.past),
        "known": (b, c + h, dims.known),
        "static_real": (b, dims.static_real),
        "static_cat": (b, len(dims.cardinalities)),
        "log_scale": (b, 1),
    }
    wrong = [
        f"{name} {tuple(getattr(x, name).shape)} (expected {shape})"
        for name, shape in expected.items()
        if tuple(getattr(x, name).shape) != shape
    ]
    if wrong:
        raise ValueError(f"EncoderInput does not match {dims}: " + "; ".join(wrong))


def positive_int(name: str, value: object) -> int:
    """``value`` as an int >= 1, or ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def positive_ints(name: str, values: Sequence[int], length: int | None = None) -> list[int]:
    """``values`` as a non-empty list of ints >= 1 (of ``length`` items if given)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
        raise ValueError(f"{name} must be a non-empty sequence of positive ints, got {values!r}")
    out = [positive_int(name, v) for v in values]
    if length is not None and len(out) != length:
        raise ValueError(f"{name} needs {length} entries, got {len(out)}")
    return out


def probability(name: str, value: object) -> float:
    """``value`` as a float in [0, 1), or ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
    return float(value)
