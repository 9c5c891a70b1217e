"""The data layer: long DataFrames in, validated panels on a regular grid, windows out.

The input contract is a long DataFrame with one row per (``unique_id``, ``ds``) and the target
``y`` (all three names overridable), plus optional static, past-only and future-known
covariates; see :class:`Schema` and :meth:`Panel.from_frame`.
"""

from .errors import DataError, DataWarning
from .features import StaticEmbedding, calendar_features, time_feature_names
from .panel import Panel
from .scaling import IdentityScaler, MeanAbsScaler, RobustScaler, Scale
from .schema import Schema
from .timeindex import TimeIndex
from .windows import (
    Windows,
    WindowSampler,
    gather,
    inference_batches,
    inference_windows,
    split_validation,
    validation_windows,
)

__all__ = [
    "DataError",
    "DataWarning",
    "IdentityScaler",
    "MeanAbsScaler",
    "Panel",
    "RobustScaler",
    "Scale",
    "Schema",
    "StaticEmbedding",
    "TimeIndex",
    "WindowSampler",
    "Windows",
    "calendar_features",
    "gather",
    "inference_batches",
    "inference_windows",
    "split_validation",
    "time_feature_names",
    "validation_windows",
]
