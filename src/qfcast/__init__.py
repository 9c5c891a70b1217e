"""qfcast: forecasting the whole quantile function.

See :mod:`qfcast.distributions` for the quantile-function families (ISQF, IQF, SQF, quantile
grid, Gaussian, Student-t).
"""

__version__ = "0.1.0"

from . import distributions

__all__ = ["__version__", "distributions"]
