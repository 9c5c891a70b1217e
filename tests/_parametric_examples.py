"""Valid and invalid Gaussian / Student-t examples for the registry-driven conformance suite.

Valid Student-t examples keep df > 2 (finite mean and variance) so the suite's quadrature
checks of mean and CRPS converge; heavy tails (½ < df ≤ 2) are covered in test_parametric.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.distributions import Distribution

from qfcast.distributions.parametric import Gaussian, StudentT


def _t(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


PARAMETRIC_EXAMPLES: list[tuple[str, Callable[[], Distribution]]] = [
    ("gaussian-scalar", lambda: Gaussian(_t(0.5)[0], _t(2.0)[0], validate_args=True)),
    ("gaussian-3", lambda: Gaussian(_t(-1.0, 0.0, 3.0), _t(0.1, 1.0, 5.0), validate_args=True)),
    (
        "gaussian-2x3",
        lambda: Gaussian(_t(0.0, 1.0, 2.0), _t(0.5, 1.0, 2.0).expand(2, 3), validate_args=True),
    ),
    ("student-t-scalar", lambda: StudentT(_t(4.0)[0], _t(1.0)[0], _t(0.5)[0], validate_args=True)),
    (
        "student-t-3",
        lambda: StudentT(_t(2.5, 3.0, 50.0), _t(0.0, -2.0, 1.0), _t(1.0, 0.3, 4.0), True),
    ),
    (
        "student-t-2x3",
        lambda: StudentT(
            _t(2.5, 4.0, 10.0, 3.0, 7.0, 1e3).reshape(2, 3), _t(0.0), _t(1.0), validate_args=True
        ),
    ),
]

PARAMETRIC_BAD_EXAMPLES: list[tuple[str, Callable[[], Any]]] = [
    ("gaussian-negative-scale", lambda: Gaussian(_t(0.0), _t(-1.0), validate_args=True)),
    ("gaussian-zero-scale", lambda: Gaussian(_t(0.0, 1.0), _t(1.0, 0.0), validate_args=True)),
    ("gaussian-nan-loc", lambda: Gaussian(_t(float("nan")), _t(1.0), validate_args=True)),
    ("student-t-zero-df", lambda: StudentT(_t(0.0), validate_args=True)),
    ("student-t-negative-df", lambda: StudentT(_t(3.0, -1.0), validate_args=True)),
    ("student-t-negative-scale", lambda: StudentT(_t(3.0), _t(0.0), _t(-2.0), True)),
    ("student-t-nan-loc", lambda: StudentT(_t(3.0), _t(float("nan")), validate_args=True)),
]
