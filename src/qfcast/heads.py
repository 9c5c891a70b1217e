"""Heads: from an encoder's raw outputs to a forecast distribution in data units, and its loss.

The training wrapper projects encoder features to ``head.outputs`` numbers per (origin, step)
in *scaled* units (the network sees ``target / scale``); the head maps them to a distribution,
scales it back with ``loc`` and ``scale`` (MATH.md A.6) and gives the loss in data units. Each
class declares its name, whether its quantiles can cross and its scoring rule, so nothing
downstream branches on the head's type; the registry :data:`HEADS` is derived from them.

* ``isqf`` :class:`ISQF`, ``iqf`` :class:`IQF`, ``sqf`` :class:`SQF`: spline quantile
  functions trained with their exact closed-form CRPS;
* ``quantile`` :class:`QuantileRegression`: plain multi-quantile regression (may cross);
* ``monotone_quantiles`` :class:`MonotoneQuantiles`: MQ-CNN's incremental quantile head;
* ``gaussian`` :class:`Gaussian`, ``student_t`` :class:`StudentT`: NLL or CRPS.

Example:
    >>> import torch
    >>> head = get_head("isqf")
    >>> head.outputs  # 2(K−1)L + K + 2 with K = 5 levels and L = 5 pieces
    47
    >>> raw = torch.zeros(2, 3, head.outputs)
    >>> loc, scale, y = torch.tensor(100.0), torch.tensor(10.0), torch.full((2, 3), 110.0)
    >>> d = head.distribution(raw, loc, scale)
    >>> d.batch_shape
    torch.Size([2, 3])
    >>> loss = head.loss(raw, y, torch.ones(2, 3), loc, scale)
    >>> bool(torch.allclose(loss, d.crps(y)))  # the loss is the CRPS in data units
    True
    >>> get_head(head_config(head)) == head  # what a saved model stores rebuilds the head
    True
"""

from __future__ import annotations

import itertools
import operator
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, ClassVar, Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.distributions import Distribution

from . import distributions as qd
from ._names import closest

__all__ = [
    "HEADS",
    "IQF",
    "ISQF",
    "MQCNN_LEVELS",
    "MQF2",
    "SQF",
    "Gaussian",
    "Head",
    "HeadBase",
    "MonotoneQuantiles",
    "QuantileRegression",
    "StudentT",
    "get_head",
    "head_config",
]

#: MQ-CNN's default levels (GluonTS; 0.025/0.975 added to match MSIS, MATH.md A.9)
MQCNN_LEVELS = (0.025, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.975)
_KNOT_LEVELS = (0.1, 0.3, 0.5, 0.7, 0.9)
_TOL = 1e-4  # positivity floor of the spline domain maps (as in qfcast.distributions)
_MIN_SCALE = 1e-4  # floor of the parametric scale, in scaled units
_POSITIVE = {"softplus": F.softplus, "relu": F.relu}
_LOSSES = ("nll", "crps")


@runtime_checkable
class Head(Protocol):
    """What the training wrapper and the forecaster need from a head."""

    name: ClassVar[str]  # registry key
    monotone: ClassVar[bool]  # True when quantiles can never cross

    @property
    def outputs(self) -> int: ...  # raw outputs per (origin, step): the projection's width

    # in data units, batch_shape == raw.shape[:-1]
    def distribution(self, raw: Tensor, loc: Tensor, scale: Tensor) -> Distribution: ...

    # per element in data units, shape raw.shape[:-1], exactly 0 where unobserved
    def loss(
        self, raw: Tensor, target: Tensor, observed: Tensor, loc: Tensor, scale: Tensor
    ) -> Tensor: ...

    def config(self) -> dict: ...  # JSON-able kwargs: type(h)(**h.config()) == h


_REGISTRY: dict[str, type[HeadBase]] = {}
#: every head class by name, read-only; filled by defining a :class:`HeadBase` subclass
HEADS: Mapping[str, type[HeadBase]] = MappingProxyType(_REGISTRY)


class HeadBase(ABC):
    """Shared machinery: scaling, masking and the registry. Subclasses are frozen dataclasses.

    A subclass that sets ``name`` is registered under it. It provides ``outputs``,
    ``_base(raw)`` (the distribution in scaled units) and ``_scaled_loss(raw, z)`` (the loss
    of scaled targets ``z``); ``scoring_rule`` says how the loss moves with the scale:
    ``"nll"`` shifts by ``log(scale)``, ``"crps"`` and ``"pinball"`` multiply by ``scale``.
    ``"crps"`` also promises that the loss equals the distribution's CRPS.
    """

    name: ClassVar[str]
    monotone: ClassVar[bool]
    scoring_rule: ClassVar[str] = "crps"
    joint: ClassVar[bool] = False  # one distribution over all H steps (see _mqf2_head)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("name")
        if name is None:
            return
        if name in _REGISTRY:
            raise TypeError(f"head name {name!r} is taken by {_REGISTRY[name].__qualname__}")
        _REGISTRY[name] = cls

    @property
    @abstractmethod
    def outputs(self) -> int: ...

    @abstractmethod
    def _base(self, raw: Tensor, validate: bool | None = None) -> Distribution: ...

    @abstractmethod
    def _scaled_loss(self, raw: Tensor, z: Tensor) -> Tensor: ...

    def _to_data_units(self, loss: Tensor, scale: Tensor) -> Tensor:
        return scale * loss

    def _check_raw(self, raw: Tensor) -> None:
        if raw.dim() < 1 or raw.shape[-1] != self.outputs:
            raise ValueError(
                f"{self.name} head needs raw of shape (..., {self.outputs}), got {tuple(raw.shape)}"
            )

    def distribution(
        self, raw: Tensor, loc: Tensor | float = 0.0, scale: Tensor | float = 1.0
    ) -> qd.AffineTransformed:
        """``loc + scale · X``, ``X`` the family built from ``raw`` (..., outputs)."""
        self._check_raw(raw)
        return qd.AffineTransformed(self._base(raw), loc, scale)

    def loss(
        self,
        raw: Tensor,
        target: Tensor,
        observed: Tensor,
        loc: Tensor | float = 0.0,
        scale: Tensor | float = 1.0,
    ) -> Tensor:
        """Per-element loss in data units, weighted by ``observed``; exactly 0 where it is 0.

        Unobserved targets (NaN, padding, anything) are replaced by ``loc`` *before* the loss
        is computed, so neither the value nor the gradient of any element can become NaN
        through them (a single ``where`` after the fact would still pass 0 · NaN backwards).
        """
        self._check_raw(raw)
        target, observed, loc, scale = (
            torch.as_tensor(v, dtype=raw.dtype, device=raw.device)
            for v in (target, observed, loc, scale)
        )
        keep = observed != 0
        z = (torch.where(keep, target, loc) - loc) / scale
        per = self._to_data_units(self._scaled_loss(raw, z), scale)
        return torch.where(keep, per * observed, 0.0)

    def __post_init__(self) -> None:
        for f in fields(self):  # type: ignore[arg-type]
            check = f.metadata.get("check")
            if check is not None:  # frozen: normalise through object.__setattr__
                object.__setattr__(self, f.name, check(getattr(self, f.name), f.name))

    def config(self) -> dict:
        """Constructor arguments as JSON types (tuples become lists)."""
        out = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out


def _checked(check: Callable[[Any, str], Any], default: Any) -> Any:
    """A dataclass field whose value :meth:`HeadBase.__post_init__` checks and normalises."""
    return field(default=default, metadata={"check": check})


def _levels(levels: Sequence[float], what: str) -> tuple[float, ...]:
    try:
        out = tuple(float(a) for a in levels)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a sequence of numbers, got {levels!r}") from None
    if len(out) < 2 or not all(0 < a < 1 for a in out):
        raise ValueError(f"{what} must be at least 2 numbers in (0, 1), got {list(out)}")
    if any(b <= a for a, b in itertools.pairwise(out)):
        raise ValueError(f"{what} must be strictly increasing, got {list(out)}")
    return out


def _count(value: int, what: str) -> int:
    if isinstance(value, bool) or not hasattr(value, "__index__") or operator.index(value) < 1:
        raise ValueError(f"{what} must be an integer >= 1, got {value!r}")
    return operator.index(value)


def _choice(value: str, options: Sequence[str], what: str) -> str:
    if value not in options:
        raise ValueError(f"{what} must be one of {tuple(options)}, got {value!r}")
    return value


def _positive(value: str, what: str) -> str:
    return _choice(value, tuple(_POSITIVE), what)


def _level_tensor(levels: tuple[float, ...], like: Tensor) -> Tensor:
    return torch.tensor(levels, dtype=like.dtype, device=like.device)


def _two_pinball(z: Tensor, q: Tensor, tau: Tensor) -> Tensor:
    """2ρ_τ(z − q) per level: 2(z − q)(τ − 1{z < q}); ``z`` (...), ``q`` (..., K)."""
    u = z.unsqueeze(-1) - q
    return 2 * u * (tau - (u < 0).to(u.dtype))


class _CRPSHead(HeadBase):
    """Heads whose loss is the closed-form CRPS of their own (scaled) distribution."""

    def _scaled_loss(self, raw: Tensor, z: Tensor) -> Tensor:
        return self._base(raw, validate=False).crps(z)


@dataclass(frozen=True)
class ISQF(_CRPSHead):
    """Incremental spline quantile function (Park et al. 2022), trained with its exact CRPS.

    Raw layout as :func:`qfcast.distributions.isqf_domain_map` (softplus increments, tol
    1e-4): ``(K−1)L`` width logits, ``(K−1)L`` height logits, ``β_l``, ``β_r``, ``K`` knots.
    The loss is ``scale · ISQF.crps((y − loc)/scale)``, the data-unit CRPS exactly (CRPS is
    scale-equivariant) through the distribution's fast parameter-level path.

    Args:
        num_pieces: linear pieces ``L`` per knot interval, >= 1.
        levels: knot levels ``K >= 2``, strictly increasing in (0, 1).

    Example:
        >>> import torch
        >>> head = ISQF(num_pieces=2, levels=(0.1, 0.9))
        >>> head.outputs  # 2·(2 − 1)·2 widths and heights, β_l, β_r, 2 knots
        8
        >>> d = head.distribution(torch.randn(4, head.outputs), loc=5.0, scale=2.0)
        >>> q = d.icdf(torch.linspace(0.01, 0.99, 50).reshape(50, 1))  # (levels, batch)
        >>> q.shape, bool((q.diff(dim=0) > 0).all())  # strictly increasing: never crosses
        (torch.Size([50, 4]), True)
    """

    name: ClassVar[str] = "isqf"
    monotone: ClassVar[bool] = True
    num_pieces: int = _checked(_count, 5)
    levels: tuple[float, ...] = _checked(_levels, _KNOT_LEVELS)

    @property
    def outputs(self) -> int:
        k = len(self.levels)
        return 2 * (k - 1) * self.num_pieces + k + 2

    def _base(self, raw: Tensor, validate: bool | None = None) -> qd.ISQF:
        params = qd.isqf_domain_map(raw, len(self.levels), self.num_pieces, _TOL)
        return qd.ISQF(_level_tensor(self.levels, raw), *params, validate_args=validate)


@dataclass(frozen=True)
class IQF(_CRPSHead):
    """ISQF with one linear piece per knot interval: ``β_l``, ``β_r``, then ``K`` knots.

    The knot and tail part of :class:`ISQF`'s map (:func:`qfcast.distributions.iqf_domain_map`;
    with ``L = 1`` the piece shares are identically 1, so they have no logits), built as
    :class:`qfcast.distributions.IQF`.

    Example:
        >>> import torch
        >>> head = IQF(levels=(0.25, 0.75))
        >>> raw = torch.tensor([0.0, 0.0, 1.0, 0.0])  # β logits, first knot 1, increment logit 0
        >>> round(head.distribution(raw).icdf(torch.tensor(0.5)).item(), 4)  # 1 + softplus(0)/2
        1.3466
    """

    name: ClassVar[str] = "iqf"
    monotone: ClassVar[bool] = True
    levels: tuple[float, ...] = _checked(_levels, _KNOT_LEVELS)

    @property
    def outputs(self) -> int:
        return len(self.levels) + 2

    def _base(self, raw: Tensor, validate: bool | None = None) -> qd.IQF:
        k = len(self.levels)
        values, beta_l, beta_r = qd.iqf_domain_map(raw, k, _TOL)
        levels = _level_tensor(self.levels, raw)
        return qd.IQF(levels, values, beta_l, beta_r, validate_args=validate)


@dataclass(frozen=True)
class SQF(_CRPSHead):
    """Spline quantile function (Gasthaus et al. 2019): bounded support, no tails.

    Raw layout as :func:`qfcast.distributions.sqf_domain_map`: ``γ``, ``L`` slope logits,
    ``L`` width logits; loss the exact CRPS.

    Example:
        >>> import torch
        >>> head = SQF(num_pieces=3)
        >>> d = head.distribution(torch.zeros(head.outputs), loc=1.0, scale=2.0)
        >>> [round(v, 4) for v in d.icdf(torch.tensor([0.0, 1.0])).tolist()]  # [1 + 2γ, ...]
        [1.0, 2.3865]
    """

    name: ClassVar[str] = "sqf"
    monotone: ClassVar[bool] = True
    num_pieces: int = _checked(_count, 10)

    @property
    def outputs(self) -> int:
        return 2 * self.num_pieces + 1

    def _base(self, raw: Tensor, validate: bool | None = None) -> qd.SQF:
        return qd.SQF(*qd.sqf_domain_map(raw, self.num_pieces, _TOL), validate_args=validate)


@dataclass(frozen=True)
class _GridHead(HeadBase):
    """Quantile values at fixed levels; loss the mean over levels of ``w_j · 2ρ_{τ_j}``."""

    scoring_rule: ClassVar[str] = "pinball"
    levels: tuple[float, ...] = _checked(_levels, MQCNN_LEVELS)

    @property
    def outputs(self) -> int:
        return len(self.levels)

    @property
    def weights(self) -> tuple[float, ...]:
        """Weight of each level in the loss."""
        return (1.0,) * len(self.levels)

    def values(self, raw: Tensor) -> Tensor:
        """Quantile values at the levels, in scaled units."""
        return raw

    def _base(self, raw: Tensor, validate: bool | None = None) -> qd.QuantileGrid:
        levels = _level_tensor(self.levels, raw)
        return qd.QuantileGrid(levels, self.values(raw), crossing="keep", validate_args=validate)

    def _scaled_loss(self, raw: Tensor, z: Tensor) -> Tensor:
        pinball = _two_pinball(z, self.values(raw), _level_tensor(self.levels, raw))
        return (pinball * _level_tensor(self.weights, raw)).mean(-1)


@dataclass(frozen=True)
class QuantileRegression(_GridHead):
    """Plain multi-quantile regression, the crossing baseline (GluonTS ``QuantileOutput``).

    One raw output per level, ``q_τ = loc + scale · raw_τ``; loss the mean over levels of
    ``2ρ_τ(y − q_τ)`` (≈ the CRPS for levels spread evenly over (0, 1)). Nothing orders the
    quantiles, so the distribution is a :class:`~qfcast.distributions.QuantileGrid` with
    ``crossing="keep"``: ``icdf`` returns the predicted (crossing) interpolant, ``base_dist``
    ``.crossed``/``.crossing_rate`` report crossing rows, ``cdf``/``crps``/``log_prob`` raise.

    Example:
        >>> import torch
        >>> head = QuantileRegression(levels=(0.1, 0.5, 0.9))
        >>> head.distribution(torch.tensor([[0.0, 2.0, 1.0]])).base_dist.crossing_rate
        1.0
        >>> head.loss(torch.zeros(3), torch.tensor(1.0), torch.tensor(1.0)).item()  # 2·0.5·1
        1.0
    """

    name: ClassVar[str] = "quantile"
    monotone: ClassVar[bool] = False


@dataclass(frozen=True)
class MonotoneQuantiles(_GridHead):
    r"""MQ-CNN's incremental quantile head (GluonTS ``is_iqf=True``, MATH.md A.9): no crossing.

    Raw output 1 is the lowest quantile ``q_1``, the others give increments ``pos(u) ≥ 0``:
    ``q_j = q_1 + Σ_{i<j} pos(u_i)``. GluonTS's ``pos`` is ReLU (``positive="relu"``, exact).
    The default is softplus, because a ReLU increment with a negative pre-activation is 0
    *with zero gradient*: it can stay dead, two quantiles tied for good (from a zero start,
    all are). Ties are legal — :class:`~qfcast.distributions.QuantileGrid` needs strictly
    increasing levels, not values; a tie is an atom of the cdf (``log_prob`` is meaningless
    there) and a tie at an end collapses that post-hoc tail — so no tolerance is added, which
    keeps ``"relu"`` exactly GluonTS's; softplus increments are positive unless they underflow.

    Loss, combined as GluonTS's ``QuantileLoss``: the *mean* over the K levels of
    ``w_j · 2ρ_{τ_j}(y − q_j)``, trapezoid weights ``w_1 = (τ_2 − τ_1)/2``,
    ``w_j = (τ_{j+1} − τ_{j−1})/2``, ``w_K = (τ_K − τ_{K−1})/2``. The weighted *sum* is the
    trapezoid rule for ``∫_{τ_1}^{τ_K} 2ρ_α(y − q̂(α)) dα``, the CRPS of the piecewise-linear
    interpolant ``q̂`` restricted to ``[τ_1, τ_K]`` (no tails): off the interval holding ``y``
    the integrand is quadratic in α and the rule falls short by ``(τ_{j+1} − τ_j)²·Δq_j/3``
    per interval, so ``K · loss`` converges to that CRPS as the grid refines. The loss is
    ``1/K`` of the sum (GluonTS's mean; it changes the step size, not the fit). The
    distribution adds post-hoc exponential tails through the two outermost quantiles.

    Args:
        levels: ``K >= 2`` strictly increasing levels in (0, 1).
        positive: ``"softplus"`` (default) or ``"relu"`` (GluonTS) for the increments.

    Example:
        >>> import torch
        >>> head = MonotoneQuantiles(levels=(0.1, 0.5, 0.9), positive="relu")
        >>> head.distribution(torch.tensor([1.0, -3.0, 2.0])).icdf(torch.tensor([0.1, 0.5, 0.9]))
        tensor([1., 1., 3.])
        >>> loss = head.loss(torch.tensor([1.0, -3.0, 2.0]), torch.tensor(3.0), torch.tensor(1.0))
        >>> round(3 * loss.item(), 6)  # K · loss = 0.2 · 2·0.1·2 + 0.4 · 2·0.5·2 + 0.2 · 0
        0.88
    """

    name: ClassVar[str] = "monotone_quantiles"
    monotone: ClassVar[bool] = True
    positive: str = _checked(_positive, "softplus")

    @property
    def weights(self) -> tuple[float, ...]:
        """Trapezoid weights ``w_j`` of the levels (they sum to ``τ_K − τ_1``)."""
        t = self.levels
        inner = [(t[j + 1] - t[j - 1]) / 2 for j in range(1, len(t) - 1)]
        return ((t[1] - t[0]) / 2, *inner, (t[-1] - t[-2]) / 2)

    def values(self, raw: Tensor) -> Tensor:
        """Non-decreasing quantile values (scaled units) at the levels: lowest + cumsum."""
        self._check_raw(raw)
        steps = _POSITIVE[self.positive](raw[..., 1:])
        return torch.cat([raw[..., :1], raw[..., :1] + steps.cumsum(-1)], dim=-1)


@dataclass(frozen=True, init=False, repr=False)
class _ParametricHead(HeadBase):
    """Gaussian / Student-t: negative log-likelihood (default) or closed-form CRPS.

    ``loss="nll"``: ``−log p(y)`` in data units, ``−log p(z) + log scale``;
    ``loss="crps"``: the closed-form CRPS in data units, ``scale · CRPS(z)``.
    """

    loss_kind: str = "nll"  # a field named ``loss`` would shadow the method

    def __init__(self, loss: str = "nll") -> None:
        object.__setattr__(self, "loss_kind", _choice(loss, _LOSSES, "loss"))

    @property
    def scoring_rule(self) -> str:  # type: ignore[override]
        return self.loss_kind

    def _scaled_loss(self, raw: Tensor, z: Tensor) -> Tensor:
        base = self._base(raw, validate=False)
        return -base.log_prob(z) if self.loss_kind == "nll" else base.crps(z)

    def _to_data_units(self, loss: Tensor, scale: Tensor) -> Tensor:
        return loss + scale.log() if self.loss_kind == "nll" else scale * loss

    def config(self) -> dict:
        return {"loss": self.loss_kind}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(loss={self.loss_kind!r})"


class Gaussian(_ParametricHead):
    """Normal distribution: raw ``(μ, s)``, σ = softplus(s) + 1e-4 (scaled units).

    Example:
        >>> import torch
        >>> head = Gaussian(loss="crps")  # CRPS(N(0, 1), 0) = (√2 − 1)/√π, times the scale 2
        >>> round(head.loss(torch.tensor([0.0, 0.5413]), 3.0, 1.0, 3.0, 2.0).item(), 3)
        0.467
    """

    name: ClassVar[str] = "gaussian"
    monotone: ClassVar[bool] = True

    @property
    def outputs(self) -> int:
        return 2

    def _base(self, raw: Tensor, validate: bool | None = None) -> qd.Gaussian:
        sigma = F.softplus(raw[..., 1]) + _MIN_SCALE
        return qd.Gaussian(raw[..., 0], sigma, validate_args=validate)


class StudentT(_ParametricHead):
    """Student-t: raw ``(μ, s, d)``, σ = softplus(s) + 1e-4, ν = 2 + softplus(d) (> 2, so
    the variance exists). ``loss`` as for :class:`Gaussian`.

    Example:
        >>> import torch
        >>> d = StudentT().distribution(torch.zeros(3), loc=5.0, scale=2.0)
        >>> round(d.base_dist.df.item(), 4), d.mean.item()
        (2.6931, 5.0)
    """

    name: ClassVar[str] = "student_t"
    monotone: ClassVar[bool] = True

    @property
    def outputs(self) -> int:
        return 3

    def _base(self, raw: Tensor, validate: bool | None = None) -> qd.StudentT:
        sigma = F.softplus(raw[..., 1]) + _MIN_SCALE
        df = 2 + F.softplus(raw[..., 2])
        return qd.StudentT(df, raw[..., 0], sigma, validate_args=validate)


def _lookup(name: str) -> type[HeadBase]:
    cls = HEADS.get(name)
    if cls is None:
        close = closest(name, HEADS)
        hint = f"; did you mean {close!r}?" if close else ""
        raise ValueError(f"unknown head {name!r}; known heads: {sorted(HEADS)}{hint}")
    return cls


def get_head(spec: str | Head | Mapping[str, Any]) -> Head:
    """A head from its name (default arguments), an instance (returned as is), or a config.

    A config is ``{"name": ..., **kwargs}``, what :func:`head_config` returns and a saved
    model stores. The mapping is not modified.

    Example:
        >>> get_head({"name": "isqf", "num_pieces": 3, "levels": [0.1, 0.9]})
        ISQF(num_pieces=3, levels=(0.1, 0.9))
        >>> get_head("isqff")
        Traceback (most recent call last):
        ...
        ValueError: unknown head 'isqff'; known heads: [...]; did you mean 'isqf'?
    """
    if isinstance(spec, str):
        return _lookup(spec)()
    if isinstance(spec, Mapping):
        kwargs = dict(spec)
        name = kwargs.pop("name", None)
        if not isinstance(name, str):
            raise ValueError(f"a head config needs a 'name' string, got {dict(spec)!r}")
        return _lookup(name)(**kwargs)
    if isinstance(spec, Head):
        return spec
    raise TypeError(f"get_head takes a name, a head or a config dict, got {type(spec).__name__}")


def head_config(head: Head) -> dict:
    """``{"name": head.name, **head.config()}``: JSON-able, and ``get_head`` rebuilds it."""
    return {"name": head.name, **head.config()}


# The joint head lives in its own module (it owns parameters: see _mqf2_head); importing it
# here registers it under "mqf2" like every other head.
from ._mqf2_head import MQF2  # noqa: E402
