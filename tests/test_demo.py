"""``qfcast demo`` (``make demo``) in its quick form: every section runs and says something true."""

from __future__ import annotations

from qfcast._demo import run_demo


def test_quick_demo_answers_the_stock_question_and_writes_its_plots(tmp_path):
    lines: list[str] = []
    out = run_demo(tmp_path / "plots", quick=True, save_data=tmp_path / "data", say=lines.append)
    answer = out["answer"]
    assert len(answer) == 5
    assert (answer["stock_95%"] >= answer["stock_94%"]).all()
    assert (answer["saved_at_94%"] >= 0).all()
    accuracy = out["accuracy"].set_index("model")
    assert set(accuracy.index) == {"qfcast default", "seasonal naive"}
    assert 0 <= accuracy.loc["qfcast default", "coverage_80"] <= 1
    assert [f.name for f in out["files"]] == [
        "fan_chart.png",
        "quantile_function.png",
        "tradeoff.png",
        "pit.png",
    ]
    assert all(f.read_bytes()[:4] == b"\x89PNG" for f in out["files"])
    assert {p.name for p in (tmp_path / "data").iterdir()} == {
        "history.csv",
        "future.csv",
        "actuals.csv",
    }
    assert str((tmp_path / "plots").resolve()) in lines[-1]
