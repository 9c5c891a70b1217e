"""The one error type the data layer raises for bad input, and a helper to show examples."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

__all__ = ["DataError", "DataWarning", "describe_ids", "describe_rows"]


class DataError(ValueError):
    """Bad input data: the message names the column, the offending ids and example rows."""


def describe_ids(ids: Iterable[object], limit: int = 5) -> str:
    """``'a', 'b', 'c' and 12 more`` — a short, quoted list of offending ids."""
    ids = list(ids)
    shown = ", ".join(repr(i) for i in ids[:limit])
    return shown if len(ids) <= limit else f"{shown} and {len(ids) - limit} more"


def describe_rows(frame: pd.DataFrame, limit: int = 3) -> str:
    """The first ``limit`` rows of ``frame`` as indented text, for an error message."""
    text = frame.head(limit).to_string(max_colwidth=40)
    more = f"\n  ... ({len(frame) - limit} more rows)" if len(frame) > limit else ""
    return "\n  " + text.replace("\n", "\n  ") + more


class DataWarning(UserWarning):
    """A documented data policy was applied (padding, gaps filled with NaN, …)."""
