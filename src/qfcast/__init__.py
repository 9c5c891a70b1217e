"""qfcast: forecasting the whole quantile function.

* :mod:`qfcast.distributions` — the quantile-function families (ISQF, IQF, SQF, quantile grid,
  Gaussian, Student-t), with closed-form CRPS;
* :mod:`qfcast.data` — long DataFrames in, validated panels and training/inference windows
  out; readers (:mod:`qfcast.data.readers`) and synthetic generators
  (:mod:`qfcast.data.synthetic`);
* :mod:`qfcast.datasets` — the standard benchmarks by name, with their forecast setups;
* :mod:`qfcast.nn` (MQ-CNN, MQ-RNN, DeepAR encoders) and :mod:`qfcast.heads` (one head per
  family) — combined by :class:`Forecaster`, whose ``predict`` returns a :class:`Forecast`;
* :mod:`qfcast.metrics` (scores on arrays and forecasts) and :func:`backtest` (rolling-origin
  evaluation, the registry's standard setups by name);
* :mod:`qfcast.decision` (stock for a service level, trade-offs, the newsvendor),
  :mod:`qfcast.plot` (matplotlib figures; imported on use) and the ``qfcast`` command line
  (:mod:`qfcast.cli`).
"""

__version__ = "0.1.0"

from . import data, datasets, decision, distributions, heads, metrics, nn
from .backtest import BacktestResult, backtest
from .forecast import DistributionForecast, Forecast, JointForecast, SampleForecast
from .forecaster import Forecaster

__all__ = [
    "BacktestResult",
    "DistributionForecast",
    "Forecast",
    "Forecaster",
    "JointForecast",
    "SampleForecast",
    "__version__",
    "backtest",
    "data",
    "datasets",
    "decision",
    "distributions",
    "heads",
    "metrics",
    "nn",
]
