"""The registry that drives the conformance suite: valid and invalid examples per family.

A new family adds its examples here (and in ``_parametric_examples.py`` for the torch-wrapped
ones); every conformance test then runs on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.distributions import Distribution

from qfcast.distributions import (
    IQF,
    ISQF,
    SQF,
    AffineTransformed,
    QuantileGrid,
    isqf_domain_map,
    sqf_domain_map,
)

from ._parametric_examples import PARAMETRIC_BAD_EXAMPLES, PARAMETRIC_EXAMPLES

F64 = torch.float64
LEVELS5 = torch.tensor([0.1, 0.3, 0.5, 0.7, 0.9], dtype=F64)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def isqf_example(batch=(3,), levels=LEVELS5, pieces=4, seed=0, scale=1.0) -> ISQF:
    k = levels.shape[0]
    raw = torch.randn(*batch, 2 * (k - 1) * pieces + k + 2, generator=_gen(seed), dtype=F64)
    return ISQF(levels, *isqf_domain_map(scale * raw, k, pieces), validate_args=True)


def iqf_example(batch=(3,), seed=1) -> IQF:
    values = (torch.rand(*batch, 3, generator=_gen(seed), dtype=F64) + 0.1).cumsum(-1)
    beta = torch.rand(*batch, generator=_gen(seed + 1), dtype=F64) + 0.5
    return IQF(torch.tensor([0.05, 0.5, 0.95], dtype=F64), values, beta, 2 * beta, True)


def sqf_example(batch=(3,), pieces=5, seed=2) -> SQF:
    raw = torch.randn(*batch, 2 * pieces + 1, generator=_gen(seed), dtype=F64)
    return SQF(*sqf_domain_map(raw, pieces), validate_args=True)


def grid_example(batch=(3,), seed=3) -> QuantileGrid:
    levels = torch.tensor([0.025, 0.1, 0.25, 0.5, 0.75, 0.9, 0.975], dtype=F64)
    values = torch.randn(*batch, 7, generator=_gen(seed), dtype=F64).sort(-1).values
    return QuantileGrid(levels, values + torch.linspace(0, 2, 7, dtype=F64), validate_args=True)


@dataclass(frozen=True)
class Example:
    name: str
    make: Callable[[], Distribution]
    tailed: bool = True  # unbounded support: icdf(0) = -inf, icdf(1) = +inf
    has_density: bool = True


EXAMPLES: list[Example] = [
    Example("isqf-scalar", lambda: isqf_example(batch=())),
    Example("isqf-3", lambda: isqf_example()),
    Example("isqf-2x3-wide", lambda: isqf_example(batch=(2, 3), scale=3.0, seed=7)),
    Example("isqf-k2-l1", lambda: isqf_example(levels=LEVELS5[[0, -1]], pieces=1, seed=4)),
    Example("iqf-3", lambda: iqf_example()),
    Example("sqf-3", lambda: sqf_example(), tailed=False),
    Example("sqf-2x2", lambda: sqf_example(batch=(2, 2), pieces=3, seed=5), tailed=False),
    Example("grid-3", lambda: grid_example()),
    Example("scaled-isqf", lambda: AffineTransformed(isqf_example(), 10.0, 3.0)),
    *[Example(name, make) for name, make in PARAMETRIC_EXAMPLES],
]


def _bad_isqf(**change):
    base = isqf_example(batch=(2,))
    args = {
        "knot_levels": base.knot_levels,
        "knot_values": base.knot_values,
        "piece_widths": base.piece_widths,
        "piece_heights": base.piece_heights,
        "beta_left": base.beta_left,
        "beta_right": base.beta_right,
    }
    args.update(change)
    return lambda: ISQF(**args, validate_args=True)


_W = torch.full((2, 4, 4), 0.25, dtype=F64)
BAD_EXAMPLES: list[tuple[str, Callable[[], object]]] = [
    ("isqf-levels-unsorted", _bad_isqf(knot_levels=LEVELS5.flip(0))),
    ("isqf-levels-outside", _bad_isqf(knot_levels=torch.tensor([0.0, 0.3, 0.5, 0.7, 1.0]))),
    ("isqf-values-decreasing", _bad_isqf(knot_values=torch.tensor([[0.0, 1, 2, 3, 2]] * 2))),
    ("isqf-values-nan", _bad_isqf(knot_values=torch.tensor([[0.0, 1, float("nan"), 3, 4]] * 2))),
    ("isqf-widths-not-summing", _bad_isqf(piece_widths=_W * 1.1)),
    ("isqf-widths-zero", _bad_isqf(piece_widths=torch.tensor([0.0, 0.5, 0.25, 0.25]) + 0 * _W)),
    ("isqf-heights-negative", _bad_isqf(piece_heights=torch.tensor([-0.5, 1.0, 0.25, 0.25]))),
    ("isqf-beta-negative", _bad_isqf(beta_left=torch.tensor([1.0, -1.0]))),
    ("isqf-beta-zero", _bad_isqf(beta_right=torch.tensor([0.0, 1.0]))),
    ("isqf-wrong-k", _bad_isqf(knot_values=torch.zeros(2, 4))),
    ("isqf-wrong-pieces-shape", _bad_isqf(piece_heights=torch.full((2, 4, 3), 1 / 3))),
    (
        "sqf-negative-slope",
        lambda: SQF(0.0, torch.tensor([1.0, -1.0]), torch.tensor([0.5, 0.5]), validate_args=True),
    ),
    (
        "sqf-widths-not-summing",
        lambda: SQF(0.0, torch.tensor([1.0, 1.0]), torch.tensor([0.5, 0.7]), validate_args=True),
    ),
    ("grid-one-level", lambda: QuantileGrid(torch.tensor([0.5]), torch.zeros(3, 1))),
    ("grid-wrong-k", lambda: QuantileGrid(torch.tensor([0.1, 0.9]), torch.zeros(3, 3))),
    (
        "grid-crossing-raise",
        lambda: QuantileGrid(torch.tensor([0.1, 0.9]), torch.tensor([1.0, 0.0]), "raise"),
    ),
    ("grid-bad-policy", lambda: QuantileGrid(torch.tensor([0.1, 0.9]), torch.zeros(2), "hide")),
    ("scaled-negative-scale", lambda: AffineTransformed(isqf_example(), 0.0, -1.0)),
    *PARAMETRIC_BAD_EXAMPLES,
]
