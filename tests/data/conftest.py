from __future__ import annotations

import os
from pathlib import Path

import pytest


def shared_dir() -> Path:
    """The shared benchmark data: ``QFCAST_DATA_DIR``, else ``../shared/data`` beside the repo."""
    env = os.environ.get("QFCAST_DATA_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.fixture(scope="session")
def shared() -> Path:
    root = shared_dir()
    if not (root / "m1_yearly").is_dir():
        pytest.skip(f"shared benchmark data not found at {root} (set QFCAST_DATA_DIR)")
    return root
