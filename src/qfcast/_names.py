"""Suggesting the name a user probably meant (heads, encoders, datasets)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(name: object, known: Iterable[str]) -> str | None:
    """The known name closest to ``name`` (case-insensitive), or None if none is close.

    >>> closest("ISQFF", ["isqf", "iqf", "gaussian"])
    'isqf'
    """
    close = difflib.get_close_matches(str(name).lower(), list(known), n=1)
    return close[0] if close else None
