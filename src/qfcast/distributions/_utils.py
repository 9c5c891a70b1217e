"""Small helpers shared by every quantile-function family."""

from __future__ import annotations

import torch
from torch import Tensor


def as_float_tensor(value: Tensor | float, like: Tensor) -> Tensor:
    """``value`` as a tensor with the dtype and device of ``like`` (no copy when it already is)."""
    return torch.as_tensor(value, dtype=like.dtype, device=like.device)


def check_levels(alpha: Tensor) -> None:
    """Raise a clear ``ValueError`` unless every level is a number in [0, 1].

    torch's own ``icdf`` implementations never check their argument (an out-of-range level
    silently becomes NaN or -inf); ours do whenever argument validation is on.
    """
    bad = torch.isnan(alpha) | (alpha < 0) | (alpha > 1)
    if bool(bad.any()):
        examples = alpha[bad].flatten()[:5].tolist()
        raise ValueError(
            f"quantile levels must lie in [0, 1]; got {int(bad.sum())} invalid value(s), "
            f"e.g. {examples}"
        )


def uniform_levels(shape: torch.Size, like: Tensor, generator=None) -> Tensor:
    """Uniform levels strictly inside (0, 1), so inverse-transform samples are always finite."""
    u = torch.rand(shape, dtype=like.dtype, device=like.device, generator=generator)
    tiny = torch.finfo(like.dtype).tiny
    eps = torch.finfo(like.dtype).eps
    return u.clamp(min=tiny, max=1 - eps)
