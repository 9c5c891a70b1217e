"""The MQF² head: a joint distribution over the H horizon steps of each forecast origin.

Unlike the univariate heads, MQF² has parameters of its own (the PICNN, MATH.md B.3) and its
size depends on the horizon, so the head is a spec that :meth:`MQF2.bind` turns into a module
once the horizon is known. The encoder's per-step outputs, ``(..., H, context)``, are flattened
into the PICNN's context vector; the joint quantile map is ∇φ(Φ⁻¹(u); context) (B.4) and the
loss the energy score in data units (B.5), over windows whose H targets are all observed.
With a multi-horizon encoder and forking sequences every context position is one window —
the sliding-window training scheme of B.2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from .distributions.mqf2 import MQF2 as MQF2Distribution
from .distributions.picnn import PICNN
from .heads import HeadBase, _checked, _count

__all__ = ["MQF2", "BoundMQF2"]


def _objective(value: str, what: str) -> str:
    if value not in ("energy", "likelihood"):
        raise ValueError(f"{what} must be 'energy' or 'likelihood', got {value!r}")
    return value


def _beta(value: float, what: str) -> float:
    value = float(value)
    if not 1.0 <= value < 2.0:
        raise ValueError(f"{what} must lie in [1, 2) (the strictly proper range), got {value}")
    return value


@dataclass(frozen=True)
class MQF2(HeadBase):
    """Multivariate quantile function forecaster head (Kan et al. 2022).

    Args:
        context: encoder outputs per horizon step fed to the PICNN (its context is
            ``horizon × context`` numbers).
        hidden, layers: PICNN width and depth (GluonTS: 20 × 2).
        num_samples: energy-score samples per window in training (GluonTS: 50).
        beta: energy-score exponent in [1, 2).
        objective: ``"energy"`` (default, B.5) or ``"likelihood"`` (B.6: the potential gets a
            strictly convex ‖x‖²/2 term so the map is invertible, and the loss is the
            negative log density in data units through the exact Hessian — O(H³) per window
            and Newton iteration, so meant for short horizons).
    """

    name: ClassVar[str] = "mqf2"
    monotone: ClassVar[bool] = True  # per-step quantiles come from samples: never cross
    joint: ClassVar[bool] = True
    scoring_rule: ClassVar[str] = "energy"
    context: int = _checked(_count, 8)
    hidden: int = _checked(_count, 20)
    layers: int = _checked(_count, 2)
    num_samples: int = _checked(_count, 50)
    beta: float = _checked(_beta, 1.0)
    objective: str = _checked(_objective, "energy")

    @property
    def outputs(self) -> int:
        return self.context

    def bind(self, horizon: int) -> BoundMQF2:
        """The trainable head for ``horizon`` steps."""
        return BoundMQF2(self, horizon)

    def _base(self, raw: Tensor, validate: bool | None = None):  # pragma: no cover - bind first
        raise TypeError("the mqf2 head has parameters: call bind(horizon) first")

    def _scaled_loss(self, raw: Tensor, z: Tensor) -> Tensor:  # pragma: no cover
        raise TypeError("the mqf2 head has parameters: call bind(horizon) first")

    def distribution(self, *args: Any, **kwargs: Any):
        raise TypeError("the mqf2 head has parameters: call bind(horizon) first")

    def loss(self, *args: Any, **kwargs: Any):
        raise TypeError("the mqf2 head has parameters: call bind(horizon) first")


class BoundMQF2(nn.Module):
    """An :class:`MQF2` head bound to a horizon: owns the PICNN, gives distribution and loss.

    ``raw`` is ``(..., H, context)``; the distribution has ``batch_shape = raw.shape[:-2]``
    and ``event_shape = (H,)``, and the loss one energy score per window (``raw.shape[:-2]``),
    exactly 0 for windows with any unobserved step.
    """

    joint = True
    monotone = True

    def __init__(self, spec: MQF2, horizon: int) -> None:
        super().__init__()
        self.spec, self.horizon = spec, int(horizon)
        self.picnn = PICNN(
            self.horizon,
            self.horizon * spec.context,
            spec.hidden,
            spec.layers,
            quadratic=spec.objective == "likelihood",
        )

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def outputs(self) -> int:
        return self.spec.outputs

    def config(self) -> dict:
        return self.spec.config()

    def _context(self, raw: Tensor) -> Tensor:
        if raw.dim() < 2 or tuple(raw.shape[-2:]) != (self.horizon, self.spec.context):
            raise ValueError(
                f"mqf2 head needs raw of shape (..., {self.horizon}, {self.spec.context}), "
                f"got {tuple(raw.shape)}"
            )
        return raw.flatten(-2)

    def distribution(
        self, raw: Tensor, loc: Tensor | float = 0.0, scale: Tensor | float = 1.0
    ) -> MQF2Distribution:
        """The joint distribution over the H steps, in data units (``loc + scale · Y``)."""
        return MQF2Distribution(self.picnn, self._context(raw), loc=loc, scale=scale)

    def loss(
        self,
        raw: Tensor,
        target: Tensor,
        observed: Tensor,
        loc: Tensor | float = 0.0,
        scale: Tensor | float = 1.0,
    ) -> Tensor:
        """Energy score (or negative log density) per window in data units; 0 for windows
        with an unobserved step."""
        loc = torch.as_tensor(loc, dtype=raw.dtype, device=raw.device)
        keep = (observed != 0).all(-1)
        safe = torch.where(keep[..., None], target, loc[..., None].expand_as(target))
        d = self.distribution(raw, loc, scale)
        if self.spec.objective == "likelihood":
            per = -d.log_prob(safe)
        else:
            per = d.energy_score(safe, num_samples=self.spec.num_samples, beta=self.spec.beta)
        return torch.where(keep, per, 0.0)
