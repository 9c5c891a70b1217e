"""Quantile-function distributions: query any level, never cross, exact CRPS.

Every family is a :class:`torch.distributions.Distribution` with ``icdf`` (the quantile
function; levels broadcast against the batch), ``cdf``, ``crps``, ``mean``, ``rsample`` and,
where a density exists, ``log_prob``.
"""

from .base import PiecewiseQuantileDistribution
from .energy import energy_score, variogram_score
from .isqf import IQF, ISQF, ISQFParams, iqf_domain_map, isqf_domain_map, spline_shares
from .mqf2 import MQF2
from .parametric import Gaussian, StudentT
from .picnn import PICNN
from .quantile_grid import QuantileGrid
from .scaled import AffineTransformed, crps
from .sqf import SQF, SQFParams, sqf_domain_map

__all__ = [
    "IQF",
    "ISQF",
    "MQF2",
    "PICNN",
    "SQF",
    "AffineTransformed",
    "Gaussian",
    "ISQFParams",
    "PiecewiseQuantileDistribution",
    "QuantileGrid",
    "SQFParams",
    "StudentT",
    "crps",
    "energy_score",
    "iqf_domain_map",
    "isqf_domain_map",
    "spline_shares",
    "sqf_domain_map",
    "variogram_score",
]
