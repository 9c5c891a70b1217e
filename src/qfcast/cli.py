"""The ``qfcast`` command line: fit, predict, ask stock questions, evaluate, backtest, plot.

Every user error (a missing file, a bad column, a bad level, an incompatible model) prints one
line starting with ``error:`` and exits with status 1, without a traceback. ``--json`` prints
machine-readable output; ``--quiet`` keeps only the results.
"""

from __future__ import annotations

import json
import logging
import sys
import warnings
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer

from .data.errors import DataError

app = typer.Typer(
    name="qfcast",
    help="Forecast the whole quantile function: fit once, answer any service level.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
datasets_app = typer.Typer(help="The benchmark datasets of the registry.", no_args_is_help=True)
app.add_typer(datasets_app, name="datasets")

_STATE: dict[str, bool] = {"quiet": False, "json": False}
_TABLE_SUFFIXES = (".csv", ".parquet", ".pq", ".json")


class UserError(Exception):
    """A problem with the user's input: reported in one line, exit status 1."""


def _guard(fn: Callable) -> Callable:
    """Turn user errors into one line on stderr and exit status 1."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore" if _STATE["quiet"] else "default")
                return fn(*args, **kwargs)
        # User errors only: a KeyError or TypeError from our own code is a bug and keeps its
        # traceback rather than turning into a misleading one-liner.
        except (UserError, DataError, ValueError, FileNotFoundError) as err:
            message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            typer.echo(f"error: {message}", err=True)
            raise typer.Exit(1) from None

    return wrapper


def _say(message: str) -> None:
    if not _STATE["quiet"] and not _STATE["json"]:
        typer.echo(message, err=True)


def _emit(frame: pd.DataFrame | dict, title: str | None = None) -> None:
    """Results to stdout: JSON records with --json, else a readable table."""
    if _STATE["json"]:
        if isinstance(frame, pd.DataFrame):
            typer.echo(frame.to_json(orient="records", date_format="iso"))
        else:
            typer.echo(json.dumps(frame, default=str))
        return
    if title and not _STATE["quiet"]:
        typer.echo(title)
    if isinstance(frame, pd.DataFrame):
        with pd.option_context("display.max_rows", 200, "display.width", 120):
            typer.echo(frame.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    else:
        for key, value in frame.items():
            typer.echo(f"{key:>16}: {value:.4g}" if isinstance(value, float) else f"{key}: {value}")


# ---------------------------------------------------------------------------- files
def _read_table(
    path: Path,
    id_col: str,
    time_col: str,
    target_col: str,
    wide: bool = False,
    target: bool = True,
) -> pd.DataFrame:
    """CSV, Parquet or JSON records; long (id, time, target columns) or wide (one column per
    series beside the time column)."""
    if not path.exists():
        raise UserError(f"no such file: {path}")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame = pd.read_csv(path)
    elif suffix in (".parquet", ".pq"):
        frame = pd.read_parquet(path)
    elif suffix == ".json":
        frame = pd.read_json(path, orient="records")
    else:
        raise UserError(f"{path}: unknown format {suffix!r}; use one of {_TABLE_SUFFIXES}")
    if time_col not in frame.columns:
        raise UserError(
            f"{path} has no time column {time_col!r} (columns: {list(frame.columns)[:8]}); "
            "name it with --time-col"
        )
    if wide:
        frame = frame.melt(id_vars=[time_col], var_name=id_col, value_name=target_col)
        frame = frame[[id_col, time_col, target_col]]
    missing = [c for c in (id_col, target_col)[: 2 if target else 1] if c not in frame.columns]
    if missing:
        raise UserError(
            f"{path} has no column {missing[0]!r} (columns: {list(frame.columns)[:8]}); name it "
            "with --id-col / --target-col, or pass --wide for one column per series"
        )
    if frame[time_col].dtype == object or str(frame[time_col].dtype).startswith("str"):
        frame[time_col] = pd.to_datetime(frame[time_col])
    frame[id_col] = frame[id_col].astype(str)
    return frame


def _write_table(frame: pd.DataFrame, path: Path) -> Path:
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix in (".parquet", ".pq"):
        frame.to_parquet(path, index=False)
    elif suffix == ".json":
        frame.to_json(path, orient="records", date_format="iso")
    else:
        raise UserError(f"{path}: unknown output format {suffix!r}; use one of {_TABLE_SUFFIXES}")
    return path


def _levels(text: str) -> list[float]:
    """``"0.1,0.5,0.9"`` or a range ``"0.80-0.99"`` (steps of 0.01)."""
    try:
        if "-" in text and "," not in text:
            lo, hi = (float(x) for x in text.split("-"))
            levels = list(np.round(np.arange(lo, hi + 1e-9, 0.01), 4))
        else:
            levels = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UserError(f"levels must look like 0.1,0.5,0.9 or 0.80-0.99, got {text!r}") from None
    bad = [a for a in levels if not 0 < a < 1]
    if not levels or bad:
        raise UserError(f"levels must lie strictly between 0 and 1, got {text!r}")
    return levels


def _steps(text: str | None, horizon: int) -> list[int] | None:
    """Human step numbers, 1-based: ``"3"``, ``"1-7"`` or ``"1,3,5"`` → 0-based indices."""
    if text is None:
        return None
    try:
        if "-" in text:
            lo, hi = (int(x) for x in text.split("-"))
            numbers = list(range(lo, hi + 1))
        else:
            numbers = [int(x) for x in text.split(",")]
    except ValueError:
        raise UserError(f"steps must look like 3, 1-7 or 1,3,5, got {text!r}") from None
    if not numbers or min(numbers) < 1 or max(numbers) > horizon:
        raise UserError(f"steps must lie in 1…{horizon} (the model's horizon), got {text!r}")
    return [n - 1 for n in numbers]


def _load_model(path: Path):
    from .forecaster import Forecaster

    if not (path / "config.json").exists():
        raise UserError(f"{path} is not a saved model directory (no config.json); run qfcast fit")
    return Forecaster.load(path)


def _forecast(model_dir: Path, data: Path, future: Path | None, wide: bool):
    model = _load_model(model_dir)
    frame = _read_table(data, model.id_col, model.time_col, model.target_col, wide)
    future_df = None
    if future is not None:
        future_df = _read_table(
            future, model.id_col, model.time_col, model.target_col, False, target=False
        )
    elif model.future:
        raise UserError(
            f"this model uses future-known covariates {list(model.future)}: pass --future FILE"
        )
    forecast = model.predict(frame, future_df, progress=not _STATE["quiet"])
    return model, frame, forecast


def _forecaster(
    horizon: int,
    freq: str | None,
    model: str,
    head: str,
    columns: tuple[str, str, str],
    max_epochs: int,
    seed: int,
    budget: float,
    **kwargs: Any,
):
    """A Forecaster from the command-line options (``budget`` seconds: Lightning's max_time)."""
    from .forecaster import Forecaster

    id_col, time_col, target_col = columns
    return Forecaster(
        horizon=horizon,
        freq=freq,
        model=model,
        head=head,
        id_col=id_col,
        time_col=time_col,
        target_col=target_col,
        max_epochs=max_epochs,
        random_state=seed,
        trainer_kwargs={"max_time": {"seconds": budget}} if budget > 0 else None,
        **kwargs,
    )


def _quiet_logs() -> None:
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)


# ---------------------------------------------------------------------------- options
IdCol = Annotated[str, typer.Option(help="Series id column (long format).")]
Model = Annotated[str, typer.Option(help="Encoder: mqcnn, mqrnn or deepar.")]
Head = Annotated[str, typer.Option(help="Head: isqf, iqf, sqf, gaussian, student_t, mqf2, …")]
MaxEpochs = Annotated[int, typer.Option(help="Epoch cap (early stopping usually ends sooner).")]
Budget = Annotated[float, typer.Option(help="Training wall-clock seconds per fit (0: none).")]
Seed = Annotated[int, typer.Option(help="Random seed.")]
TimeCol = Annotated[str, typer.Option(help="Time column.")]
TargetCol = Annotated[str, typer.Option(help="Target column (long format).")]
Wide = Annotated[bool, typer.Option(help="One column per series beside the time column.")]
ModelDir = Annotated[Path, typer.Argument(help="A directory written by `qfcast fit`.")]
DataFile = Annotated[Path, typer.Argument(help="History: CSV, Parquet or JSON records.")]
Future = Annotated[
    Path | None,
    typer.Option(help="Future-known covariates for the horizon (if the model uses any)."),
]


@app.callback()
def _main(
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only results.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Forecast the whole quantile function: fit once, answer any service level.

    Example: qfcast fit sales.csv --horizon 28 --out model && qfcast query model sales.csv
    --level 0.95 --steps 1-7
    """
    _STATE["quiet"], _STATE["json"] = quiet, json_out
    _quiet_logs()


# ---------------------------------------------------------------------------- commands
@app.command()
@_guard
def fit(
    data: DataFile,
    horizon: Annotated[int, typer.Option(help="Steps to forecast.")],
    out: Annotated[Path, typer.Option(help="Directory to save the model in.")] = Path("model"),
    freq: Annotated[
        str | None, typer.Option(help="Pandas frequency (inferred if omitted).")
    ] = None,
    model: Model = "mqcnn",
    head: Head = "isqf",
    static: Annotated[str, typer.Option(help="Comma-separated static columns.")] = "",
    past: Annotated[str, typer.Option(help="Comma-separated past-only covariates.")] = "",
    future: Annotated[str, typer.Option(help="Comma-separated future-known covariates.")] = "",
    max_epochs: MaxEpochs = 100,
    budget: Budget = 0.0,
    seed: Seed = 0,
    id_col: IdCol = "unique_id",
    time_col: TimeCol = "ds",
    target_col: TargetCol = "y",
    wide: Wide = False,
) -> None:
    """Train a model on a history file and save it.

    Example: qfcast fit sales.csv --horizon 28 --future promo --static store --out model
    """
    frame = _read_table(data, id_col, time_col, target_col, wide)
    split = lambda s: tuple(c for c in s.split(",") if c)  # noqa: E731
    fc = _forecaster(
        horizon, freq, model, head, (id_col, time_col, target_col), max_epochs, seed, budget,
        progress=not _STATE["quiet"] and not _STATE["json"],
        static=split(static), past=split(past), future=split(future),
    )  # fmt: skip
    fc.fit(frame)
    path = fc.save(out)
    _emit(
        {
            "model": str(path),
            "fit_seconds": round(fc.fit_seconds_, 2),
            "best_epoch": fc.best_epoch_,
        },
        title=f"saved the model to {path}",
    )


@app.command()
@_guard
def predict(
    model_dir: ModelDir,
    data: DataFile,
    out: Annotated[
        Path | None, typer.Option(help="Write the quantiles here (.csv/.parquet/.json).")
    ] = None,
    levels: Annotated[
        str, typer.Option(help="Quantile levels: 0.1,0.5,0.9 or 0.80-0.99.")
    ] = "0.1,0.5,0.9",
    future: Future = None,
    wide: Wide = False,
) -> None:
    """Forecast the horizon after each series; write quantiles (never crossing).

    Example: qfcast predict model sales.csv --levels 0.05,0.5,0.95 --out forecast.csv
    """
    _, _, forecast = _forecast(model_dir, data, future, wide)
    table = forecast.quantile(_levels(levels))
    if out is not None:
        _say(f"wrote {_write_table(table, out)}")
        if not _STATE["json"]:
            return
    _emit(table)


@app.command()
@_guard
def query(
    model_dir: ModelDir,
    data: DataFile,
    level: Annotated[float | None, typer.Option(help="Service level, e.g. 0.95.")] = None,
    stock: Annotated[
        float | None, typer.Option(help="Stock: gives its service level instead.")
    ] = None,
    steps: Annotated[
        str | None, typer.Option(help="Lead time in steps: 3, 1-7 or 1,3 (default: whole horizon).")
    ] = None,
    future: Future = None,
    wide: Wide = False,
) -> None:
    """How much stock covers demand over a lead time at a service level (or the reverse).

    Example: qfcast query model sales.csv --level 0.95 --steps 1-7
    """
    from .decision import service_level_for_stock, stock_for_service_level

    if (level is None) == (stock is None):
        raise UserError("give exactly one of --level or --stock")
    _, _, forecast = _forecast(model_dir, data, future, wide)
    index = _steps(steps, forecast.horizon)
    if level is not None:
        table = stock_for_service_level(forecast, level, index)
    else:
        table = service_level_for_stock(forecast, stock, index)
    _emit(table)


@app.command()
@_guard
def tradeoff(
    model_dir: ModelDir,
    data: DataFile,
    levels: Annotated[str, typer.Option(help="Service levels: 0.80-0.99 or a list.")] = "0.80-0.99",
    steps: Annotated[
        str | None, typer.Option(help="Lead time in steps: 3, 1-7 (default: whole horizon).")
    ] = None,
    series: Annotated[str | None, typer.Option(help="One series id (default: all).")] = None,
    plot: Annotated[
        Path | None, typer.Option(help="Save the trade-off curve (.png/.svg) of the series.")
    ] = None,
    future: Future = None,
    wide: Wide = False,
) -> None:
    """The stock at each service level and the extra stock per point ("94% vs 95%").

    Example: qfcast tradeoff model sales.csv --steps 1-7 --series item_001 --plot tradeoff.png
    """
    from . import decision

    _, _, forecast = _forecast(model_dir, data, future, wide)
    table = decision.tradeoff(forecast, _levels(levels), _steps(steps, forecast.horizon))
    if series is not None:
        table = _one_series(table, forecast, series)
    _emit(table)
    if plot is not None:
        from . import plot as plots

        chosen = series if series is not None else str(forecast.ids[0])
        fig = plots.tradeoff_curve(table[table[forecast.id_col] == chosen])
        _say(f"wrote {plots.save(fig, plot)}")


def _one_series(table: pd.DataFrame, forecast, series: str) -> pd.DataFrame:
    ids = [str(i) for i in forecast.ids]
    if series not in ids:
        raise UserError(f"unknown series {series!r}; e.g. {', '.join(ids[:5])}")
    return table[table[forecast.id_col].astype(str) == series]


@app.command()
@_guard
def evaluate(
    model_dir: ModelDir,
    data: DataFile,
    actuals: Annotated[Path, typer.Option(help="The true values of the forecast horizon.")],
    future: Future = None,
    wide: Wide = False,
) -> None:
    """Score a model's forecast against actuals: wQL, coverage, crossing, ND, MASE, …

    Example: qfcast evaluate model history.csv --actuals next_month.csv
    """
    from .metrics import evaluate as score

    model, frame, forecast = _forecast(model_dir, data, future, wide)
    truth = _read_table(actuals, model.id_col, model.time_col, model.target_col, wide)
    truth = truth.rename(columns={model.target_col: "y"})
    history = frame[[model.id_col, model.time_col, model.target_col]]
    out = score(forecast, truth, insample=history.rename(columns={model.target_col: "y"}))
    flat = {k: v for k, v in out.items() if not isinstance(v, dict)}
    flat.update({f"wql_{k:g}": v for k, v in out["wql"].items()})
    _emit(flat)


@app.command()
@_guard
def backtest(
    data: Annotated[
        str, typer.Argument(help="A history file, or a dataset name (qfcast datasets list).")
    ],
    horizon: Annotated[
        int | None, typer.Option(help="Steps (a dataset name sets its own).")
    ] = None,
    windows: Annotated[
        int | None, typer.Option(help="Rolling windows (default 1; a dataset's own).")
    ] = None,
    step: Annotated[
        int | None, typer.Option(help="Steps between windows (default: horizon).")
    ] = None,
    refit: Annotated[bool, typer.Option(help="Retrain before every window.")] = False,
    model: Model = "mqcnn",
    head: Head = "isqf",
    max_epochs: MaxEpochs = 100,
    budget: Budget = 0.0,
    per_series: Annotated[
        Path | None, typer.Option(help="Write the per-series scores here.")
    ] = None,
    seed: Seed = 0,
    id_col: IdCol = "unique_id",
    time_col: TimeCol = "ds",
    target_col: TargetCol = "y",
    wide: Wide = False,
) -> None:
    """Rolling-origin evaluation of a model configuration.

    Example: qfcast backtest exchange_rate --budget 60    (the standard 30 × 5 windows)
    """
    from . import datasets
    from .backtest import backtest as run

    path = Path(data)
    if path.suffix.lower() in _TABLE_SUFFIXES or path.exists():
        source: Any = _read_table(path, id_col, time_col, target_col, wide)
        if horizon is None:
            raise UserError("--horizon is required for a file")
        freq = None
    else:
        if data not in datasets.names():
            raise UserError(
                f"{data!r} is neither a file nor a dataset ({', '.join(datasets.names())})"
            )
        source = datasets.load(data, progress=not _STATE["quiet"])
        horizon, freq = source.horizon, source.freq
    fc = _forecaster(
        horizon,
        freq,
        model,
        head,
        (id_col, time_col, target_col),
        max_epochs,
        seed,
        budget,
        progress=False,
    )
    result = run(fc, source, windows=windows, step=step, refit=refit, progress=not _STATE["quiet"])
    columns = [
        "mean_wql",
        "crps_weighted",
        "coverage_80",
        "coverage_95",
        "crossing_rate",
        "nd",
        "mase",
    ]
    table = result.summary[columns].reset_index()
    table["window"] = table["window"].astype(str)
    if per_series is not None:
        _say(f"wrote {_write_table(result.per_series, per_series)}")
    _emit(table, title=f"fit {result.fit_seconds:.1f} s, predict {result.predict_seconds:.1f} s")


@app.command()
@_guard
def plot(
    model_dir: ModelDir,
    data: DataFile,
    kind: Annotated[str, typer.Option(help="fan, quantile, pit, correlation or tradeoff.")] = "fan",
    out: Annotated[Path, typer.Option(help="Image file (.png or .svg).")] = Path("forecast.png"),
    series: Annotated[str | None, typer.Option(help="Series id (default: the first).")] = None,
    step: Annotated[int, typer.Option(help="Step (1-based) for --kind quantile.")] = 1,
    actuals: Annotated[
        Path | None, typer.Option(help="Actuals: drawn on the fan, needed for pit.")
    ] = None,
    future: Future = None,
    wide: Wide = False,
) -> None:
    """Draw a forecast: fan chart, quantile function, PIT, correlation across steps, trade-off.

    Example: qfcast plot model sales.csv --kind fan --series item_001 --out fan.png
    """
    from . import decision
    from . import plot as plots

    model, frame, forecast = _forecast(model_dir, data, future, wide)
    ids = [str(i) for i in forecast.ids]
    if series is not None and series not in ids:
        raise UserError(f"unknown series {series!r}; e.g. {', '.join(ids[:5])}")
    chosen = series if series is not None else ids[0]
    truth = None
    if actuals is not None:
        truth = _read_table(actuals, model.id_col, model.time_col, model.target_col, wide)
        truth = truth.rename(columns={model.target_col: "y"})
    history = frame.rename(columns={model.target_col: "y"})
    if kind == "fan":
        fig = plots.fan_chart(forecast, history=history, actuals=truth, series=chosen)
    elif kind == "quantile":
        if not 1 <= step <= forecast.horizon:
            raise UserError(f"--step must lie in 1…{forecast.horizon}, got {step}")
        fig = plots.quantile_function(forecast, series=chosen, step=step - 1)
    elif kind == "pit":
        if truth is None:
            raise UserError("--kind pit needs --actuals FILE")
        fig = plots.pit_histogram(forecast, truth[[model.id_col, model.time_col, "y"]])
    elif kind == "correlation":
        if not hasattr(forecast, "correlation"):
            raise UserError(
                "--kind correlation needs a model with joint sample paths "
                "(head mqf2 or model deepar)"
            )
        fig = plots.correlation_heatmap(forecast, titles=["model"])
    elif kind == "tradeoff":
        table = decision.tradeoff(forecast)
        fig = plots.tradeoff_curve(table[table[forecast.id_col].astype(str) == chosen])
    else:
        raise UserError(f"--kind must be fan, quantile, pit, correlation or tradeoff, got {kind!r}")
    _emit({"plot": str(plots.save(fig, out))}, title=None)


@datasets_app.command("list")
@_guard
def datasets_list() -> None:
    """The registry: name, frequency, standard horizon × windows, and whether it is present.

    Example: qfcast datasets list
    """
    from . import datasets

    table = datasets.table().reset_index(drop=False)
    _emit(table)


@datasets_app.command("fetch")
@_guard
def datasets_fetch(
    name: Annotated[str, typer.Argument(help="A dataset name from `qfcast datasets list`.")],
) -> None:
    """Download (or find locally) a dataset into the cache and verify it.

    Example: qfcast datasets fetch exchange_rate
    """
    from . import datasets

    if name not in datasets.names():
        raise UserError(f"unknown dataset {name!r}; one of {', '.join(datasets.names())}")
    path = datasets.fetch(name, progress=not _STATE["quiet"])
    _emit({"dataset": name, "path": str(path)}, title=None)


@app.command()
@_guard
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the plots.")] = Path("qfcast-demo"),
    quick: Annotated[bool, typer.Option(help="A smaller, faster run (for tests).")] = False,
    save_data: Annotated[
        Path | None, typer.Option(help="Also write history.csv, future.csv, actuals.csv here.")
    ] = None,
) -> None:
    """Train on the embedded retail demand panel and answer "95% or 94%?".

    Example: qfcast demo --out demo_plots
    """
    from ._demo import run_demo

    run_demo(out, quick=quick, save_data=save_data, say=_say, emit=_emit)


def main() -> None:
    """Entry point of the ``qfcast`` script."""
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
