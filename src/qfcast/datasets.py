"""Benchmark datasets by name: ``qfcast.datasets.load("exchange_rate")``.

A thin alias of :mod:`qfcast.data.datasets`, where the registry lives.
"""

from __future__ import annotations

from .data import datasets as _registry
from .data.datasets import *  # noqa: F403

__all__ = list(_registry.__all__)
