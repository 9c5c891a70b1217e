from qfcast import _demo


def test_demo_data_section_describes_the_embedded_panel(capsys):
    _demo.show_data()
    out = capsys.readouterr().out
    assert "50 items × up to 730 days (5 launched late)" in out
    assert "50 validation windows" in out
