"""Affine scaling that keeps the closed forms: ``Y = loc + scale · X``.

Networks predict in scaled units; the forecast is in data units. CRPS is scale-equivariant,
``CRPS(Y, y) = |scale| · CRPS(X, (y − loc)/scale)``, so the scaled distribution keeps an exact
CRPS (GluonTS needed a bespoke ``TransformedISQF`` for this; here it is one function for all).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.distributions import AffineTransform, Distribution, TransformedDistribution

from ._utils import as_float_tensor


class AffineTransformed(TransformedDistribution):
    """``loc + scale · base`` for a univariate ``base``, with ``crps`` and ``mean`` in closed form.

    ``log_prob`` and ``rsample`` come from torch's
    :class:`~torch.distributions.TransformedDistribution`; ``icdf`` and ``cdf`` are direct
    (see below). ``scale`` must be positive (checked when validation is on).

    Example:
        >>> import torch
        >>> from qfcast.distributions import Gaussian
        >>> d = AffineTransformed(Gaussian(0.0, 1.0), loc=10.0, scale=3.0)
        >>> bool(torch.isclose(d.crps(torch.tensor(13.0)), 3 * Gaussian(0.0, 1.0).crps(1.0)))
        True
    """

    def __init__(
        self,
        base: Distribution,
        loc: Tensor | float = 0.0,
        scale: Tensor | float = 1.0,
        validate_args: bool | None = None,
    ) -> None:
        if base.event_shape != torch.Size():
            raise ValueError("AffineTransformed needs a univariate base distribution")
        ref = getattr(base, next(iter(base.arg_constraints)))  # its first parameter
        self.loc = as_float_tensor(loc, ref)
        self.scale = as_float_tensor(scale, ref)
        super().__init__(base, [AffineTransform(self.loc, self.scale)], validate_args=validate_args)
        if self._validate_args and bool((self.scale <= 0).any()):
            raise ValueError("scale must be positive")

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(AffineTransformed, _instance)
        new.loc, new.scale = self.loc, self.scale
        return super().expand(batch_shape, _instance=new)

    @property
    def mean(self) -> Tensor:
        return self.loc + self.scale * self.base_dist.mean

    # torch's TransformedDistribution rewrites levels as ``sign·(α − ½) + ½`` whenever the
    # scale is a tensor, which rounds α = 1e-300 to 0 (and the quantile to −inf). With a
    # positive scale no rewriting is needed, so tiny tail levels keep their precision.
    def icdf(self, value: Tensor | float) -> Tensor:
        return self.loc + self.scale * self.base_dist.icdf(value)

    def cdf(self, value: Tensor | float) -> Tensor:
        value = as_float_tensor(value, self.scale)
        return self.base_dist.cdf((value - self.loc) / self.scale)

    def crps(self, value: Tensor | float) -> Tensor:
        value = as_float_tensor(value, self.scale)
        return self.scale * crps(self.base_dist, (value - self.loc) / self.scale)


def crps(distribution: Distribution, value: Tensor | float) -> Tensor:
    """CRPS of ``value`` under any qfcast family, scaled or not, in closed form.

    Works on the families of :mod:`qfcast.distributions`, on :class:`AffineTransformed`, and on
    a plain :class:`~torch.distributions.TransformedDistribution` whose transforms are all
    :class:`~torch.distributions.AffineTransform` over such a base.
    """
    if hasattr(distribution, "crps"):
        return distribution.crps(value)
    if isinstance(distribution, TransformedDistribution):
        loc: Tensor | float = 0.0
        scale: Tensor | float = 1.0
        for t in distribution.transforms:
            if not isinstance(t, AffineTransform) or t.event_dim != 0:
                raise TypeError(f"crps: only affine transforms keep a closed form, got {t}")
            loc, scale = t.loc + t.scale * loc, t.scale * scale
        value = torch.as_tensor(value)
        z = (value - loc) / scale
        return torch.as_tensor(scale).abs() * crps(distribution.base_dist, z)
    raise TypeError(
        f"crps: {type(distribution).__name__} has no closed-form CRPS; "
        "use a family from qfcast.distributions"
    )
