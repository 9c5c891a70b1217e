"""``make reproduce --quick`` in CI: every example runs on less data and every claim's
direction is checked — a claim that stops holding fails here, visibly."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from .data.conftest import shared_dir

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def examples():
    sys.path.insert(0, str(EXAMPLES))
    yield
    sys.path.remove(str(EXAMPLES))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["three_peaks", "crossing", "joint_horizon", "decisions"])
def test_quick_run_keeps_every_claim(name, examples, tmp_path, monkeypatch):
    if name == "crossing":
        if not (shared_dir() / "exchange_rate").is_dir():
            pytest.skip("shared benchmark data not found")
        monkeypatch.setenv("QFCAST_DATA_DIR", str(shared_dir()))
    result = importlib.import_module(name).run(quick=True, out=tmp_path)
    assert result["name"] == name and result["claims"]
    for claim in result["claims"]:
        assert isinstance(claim["holds"], bool) and claim["evidence"]
        assert claim["holds"], f"{name}: {claim['claim']} — {claim['evidence']}"
    for figure in result["figures"]:
        assert Path(figure).read_bytes()[:4] == b"\x89PNG"
