"""Write ``BENCHMARKS.md`` from ``benchmarks/results/*.json`` (never hand-edit its numbers).

    python benchmarks/report.py [--results benchmarks/results] [--out BENCHMARKS.md]

Each section names the machine, the versions and the command that produced its numbers; a
results file that is absent is said to be absent.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _fmt(value: object, digits: int = 4) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != value:  # NaN
            return "—"
        return f"{value:.{digits}g}"
    return str(value)


def _table(header: list[str], rows: list[list[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += [
        "| " + " | ".join(_fmt(c) if not isinstance(c, str) else c for c in r) + " |" for r in rows
    ]
    return lines


def _provenance(result: dict) -> list[str]:
    machine = result.get("machine", {})
    if isinstance(machine, dict):
        machine = ", ".join(f"{k} {v}" for k, v in machine.items())
    versions = result.get("versions", {})
    if not versions:
        versions = {k: result[k] for k in ("qfcast", "torch") if k in result}
    versions = ", ".join(f"{k} {v}" for k, v in versions.items())
    commands = result.get("runs") or [result.get("command", "?")]
    return [
        "*Command"
        + ("s (in order; later ones resume the file)" if len(commands) > 1 else "")
        + ":* "
        + "; ".join(f"`{c}`" for c in commands)
        + "  ",
        f"*Machine:* {machine}  ",
        f"*Versions:* {versions}",
        "",
    ]


# Each peer library's default model (issue 6's "every peer's default").
PEER_DEFAULTS = ("gluonts_deepar", "nf_nhits_mqloss", "sf_autoets")


def summarise(models: dict) -> dict:
    """Best of ours vs everything, and our default vs each peer run (seasonal naive apart)."""
    scored = {k: v for k, v in models.items() if "mean_wql" in v}
    ours = {k: v for k, v in scored.items() if k.startswith("qfcast_")}
    peers = {
        k: v for k, v in scored.items() if not k.startswith("qfcast_") and k != "seasonal_naive"
    }
    out: dict = {}
    if ours:
        best = min(ours, key=lambda k: ours[k]["mean_wql"])
        out["best_ours"] = best
        out["best_overall"] = min(scored, key=lambda k: scored[k]["mean_wql"])
        out["ours_best_is_lowest"] = out["best_overall"] == best
    if "qfcast_default" in scored:
        default = scored["qfcast_default"]["mean_wql"]
        out["default_beats"] = {k: default < v["mean_wql"] for k, v in peers.items()}
        # None when a peer default has no score (not run, failed or timed out): undecided.
        complete = all(k in peers for k in PEER_DEFAULTS)
        out["default_beats_peer_defaults"] = (
            all(out["default_beats"][k] for k in PEER_DEFAULTS) if complete else None
        )
        if "seasonal_naive" in scored:
            out["default_beats_seasonal_naive"] = default < scored["seasonal_naive"]["mean_wql"]
    return out


def accuracy(result: dict) -> list[str]:
    out = ["## Accuracy against the peers on real data (`benchmarks/accuracy.py`)", ""]
    out += _provenance(result)
    out += [
        f"Every model trains once on the data before the first test window under the same "
        f"wall-clock budget of {_fmt(result.get('budget_s'))} s (statistical models refit per "
        "window and are timed in full), then forecasts each rolling window from its own "
        "history; one scorer for all, from quantiles at 99 levels. `mean wQL`: GluonTS's mean "
        "weighted quantile loss at 0.1…0.9; `CRPS`: ∑ CRPS / ∑ |y| with the CRPS approximated "
        "on the 99 levels; `cov80/95`: coverage of the central intervals; `crossing`: share "
        "of (series, step) whose quantiles are not monotone. Bold: lowest mean wQL.",
        "",
    ]
    tally_best, tally_default, undecided, n = 0, 0, 0, 0
    for name, entry in result.get("datasets", {}).items():
        models = entry.get("models", {})
        scored = {k: v for k, v in models.items() if "mean_wql" in v}
        best = min(scored, key=lambda k: scored[k]["mean_wql"]) if scored else None
        out += [
            f"### {name} — {entry.get('series')} series, {entry.get('freq')}, "
            f"{entry.get('horizon')} steps × {entry.get('windows')} windows",
            "",
        ]
        rows = []
        for model, row in sorted(models.items(), key=lambda kv: kv[1].get("mean_wql", 1e300)):
            label = f"**{model}**" if model == best else model
            if "mean_wql" not in row:
                rows.append(
                    [
                        label,
                        "failed: " + str(row.get("error", "?"))[:80],
                        "",
                        "",
                        "",
                        "",
                        _fmt(row.get("train_s")),
                        "",
                    ]
                )
                continue
            rows.append(
                [
                    label,
                    row["mean_wql"],
                    row["crps"],
                    row["coverage_80"],
                    row["coverage_95"],
                    row["crossing_rate"],
                    row.get("train_s"),
                    row.get("predict_s"),
                ]
            )
        out += _table(
            ["model", "mean wQL", "CRPS", "cov80", "cov95", "crossing", "train s", "predict s"],
            rows,
        )
        summary = summarise(models)  # recomputed: the tally follows the rows shown
        peer_rows = [k for k in models if not k.startswith("qfcast_") and k != "seasonal_naive"]
        if summary and not peer_rows:
            out += ["", "*The peers have not run on this dataset yet: not in the tally.*"]
        if summary:
            if peer_rows:
                n += 1
                tally_best += bool(summary.get("ours_best_is_lowest"))
                verdict = summary.get("default_beats_peer_defaults")
                tally_default += verdict is True
                undecided += verdict is None
            beats = summary.get("default_beats", {})
            lost = [k for k, v in beats.items() if not v]
            out += [
                "",
                f"Best of ours: {summary.get('best_ours')}; lowest overall: "
                f"{summary.get('best_overall')}. Our default loses to the peer runs: "
                f"{', '.join(lost) if lost else 'none'}; beats seasonal naive: "
                f"{_fmt(summary.get('default_beats_seasonal_naive'))}.",
            ]
        out.append("")
    if n:
        out += [
            f"**Tally over {n} datasets:** our best model has the lowest mean wQL on "
            f"{tally_best}; our default beats every peer library's default "
            f"({', '.join(PEER_DEFAULTS)}) on {tally_default}, undecided on {undecided} (a peer "
            "default without a score: timed out or failed).",
            "",
        ]
    return out


def mqf2(result: dict) -> list[str]:
    out = ["## MQF²: training step and accuracy vs GluonTS (`benchmarks/mqf2.py`)", ""]
    out += _provenance(result)
    step = result.get("step", {})
    ours, theirs = step.get("qfcast", {}), step.get("gluonts", {})
    out += _table(
        ["", "loss+backward s (median)", "fastest repeat s", "peak RSS GB", "RSS before GB"],
        [
            [
                "qfcast",
                ours.get("loss_backward_s"),
                ours.get("loss_backward_min_s"),
                ours.get("peak_rss_gb"),
                ours.get("rss_before_steps_gb"),
            ],
            [
                "GluonTS",
                theirs.get("loss_backward_s"),
                theirs.get("loss_backward_min_s"),
                theirs.get("peak_rss_gb"),
                theirs.get("rss_before_steps_gb"),
            ],
        ],
    )
    out += [
        "",
        f"Speed-up {_fmt(step.get('speedup'))}× (median of the per-round ratios "
        f"{step.get('speedup_per_round')}), {_fmt(step.get('speedup_of_fastest_repeats'))}× "
        f"between the fastest repeats; extra memory ratio {_fmt(step.get('extra_memory_ratio'))}.",
        "",
    ]
    acc = result.get("accuracy", {})
    rows = []
    for key in ("truth", "mqf2", "isqf", "gluonts"):
        if key in acc:
            r = acc[key]
            rows.append(
                [
                    key,
                    r.get("energy_score"),
                    r.get("variogram_score"),
                    r.get("correlation_error"),
                    r.get("train_s"),
                ]
            )
    out += [
        f"Known joint Gaussian, {acc.get('steps')} optimiser steps, {acc.get('series')} series:",
        "",
    ]
    out += _table(["model", "energy score", "variogram score", "‖corr − true‖_F", "train s"], rows)
    return [*out, ""]


def forecasters(result: dict) -> list[str]:
    out = ["## Encoders × heads (`benchmarks/forecasters.py`)", ""]
    out += _provenance(result)
    for name, entry in result.get("datasets", {}).items():
        out += [
            f"### {name} ({entry.get('horizon')} × {entry.get('windows')}, "
            f"{entry.get('max_epochs')} epochs)",
            "",
        ]
        rows = [
            [r["model"], r["head"], r["mean_wql"], r.get("crossing_rate"), r.get("train_s")]
            for r in entry.get("rows", [])
        ]
        out += _table(["encoder", "head", "mean wQL", "crossing (99 levels)", "train s"], rows)
        out.append("")
    steps = result.get("train_step_ms", {})
    if steps:
        out += ["Training step, ISQF vs Gaussian head, side by side:", ""]
        out += _table(
            ["encoder", "Gaussian ms", "ISQF ms", "ratio"],
            [[k, v["gaussian_ms"], v["isqf_ms"], v["ratio"]] for k, v in steps.items()],
        )
        out.append("")
    return out


def distributions(result: dict) -> list[str]:
    out = ["## Distributions (`benchmarks/distributions.py`)", ""]
    out += _provenance(result)
    crps = result.get("crps_forward_backward", {})
    icdf = result.get("icdf", {})
    check = result.get("gluonts_check", {})
    out += _table(
        ["measure", "value"],
        [
            ["CRPS fwd+bwd, ISQF / Gaussian (per row)", crps.get("ratio_isqf_to_gaussian")],
            ["the same per parameter", crps.get("ratio_per_parameter")],
            ["icdf at 99 levels, ISQF / Gaussian", icdf.get("ratio_isqf_to_gaussian")],
            [
                "max relative difference to GluonTS's ISQF CRPS",
                check.get("max_relative_difference", {}).get("crps"),
            ],
        ],
    )
    return [*out, ""]


def data(result: dict) -> list[str]:
    out = ["## Data layer (`benchmarks/data.py`)", ""]
    out += _provenance(result)
    rows = [
        [s.get("series"), s.get("length"), s.get("total_s"), s.get("panel_s"), s.get("peak_rss_gb")]
        for s in result.get("sizes", [])
    ]
    out += _table(["series", "length", "total s", "panel s", "peak RSS GB"], rows)
    return [*out, ""]


SECTIONS = [
    ("accuracy.json", accuracy),
    ("mqf2.json", mqf2),
    ("forecasters.json", forecasters),
    ("distributions.json", distributions),
    ("data.json", data),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=HERE / "results")
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    args = parser.parse_args()
    lines = [
        "# Benchmarks",
        "",
        "Generated by `python benchmarks/report.py` from `benchmarks/results/*.json`; do not "
        "edit by hand. Timings come from shared 2-core machines: compare ratios measured side "
        "by side in one run, not absolute seconds across sections.",
        "",
    ]
    for filename, section in SECTIONS:
        path = args.results / filename
        if path.exists():
            lines += section(json.loads(path.read_text()))
        else:
            lines += [f"*`{filename}` is absent: run its benchmark to fill this section.*", ""]
    args.out.write_text("\n".join(lines).rstrip() + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
