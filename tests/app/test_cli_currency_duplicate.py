"""`promolens import` refuses a duplicate import like the Data page; `promolens export --currency` formats money."""

from __future__ import annotations

from pathlib import Path

from recsys import cli
from recsys.cli.common import EXIT_BAD_INPUT
from recsys.core.money import CURRENCY_ENV, format_money
from recsys.workspace.store import Workspace


def test_a_second_import_of_the_same_files_is_refused_unless_allowed(small_shop_files, tmp_path: Path, capsys) -> None:
    ws = tmp_path / "ws"
    argv = ["import", "--workspace", str(ws), "--interactions", str(small_shop_files["interactions"]),
            "--items", str(small_shop_files["items"])]
    assert cli.main(argv) == 0
    capsys.readouterr()
    assert cli.main(argv) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "already imported" in err and "--dataset d1" in err and "--allow-duplicate" in err
    assert [d.id for d in Workspace(ws).datasets()] == ["d1"]  # nothing was saved
    assert cli.main([*argv, "--allow-duplicate"]) == 0
    assert len(Workspace(ws).datasets()) == 2


def test_money_has_its_currency_and_export_prints_it(small_workspace, tmp_path: Path, capsys, monkeypatch) -> None:
    assert format_money(1234.5, "£") == "£1,234.50" and format_money(-3, "EUR", 0) == "-3 EUR"
    monkeypatch.setenv(CURRENCY_ENV, "CHF")
    assert format_money(10) == "10.00 CHF" and format_money(10, "") == "10.00"
    argv = ["export", "--workspace", str(small_workspace.path), "--run", small_workspace.run_id, "--item", "OFF0004",
            "--money-budget", "200", "--cost-column", "discount_depth", "--all-offers", "--reasons", "0",
            "--out", str(tmp_path / "t.csv")]
    assert cli.main([*argv, "--currency", "£"]) == 0
    [line] = [x for x in capsys.readouterr().out.splitlines() if x.startswith("Cost of the coupons sent")]
    assert line.startswith("Cost of the coupons sent: £") and line[-3] == "."
    assert cli.main(argv) == 0  # no --currency: $PROMOLENS_CURRENCY
    assert any(x.startswith("Cost of the coupons sent: ") and x.endswith(" CHF") for x in capsys.readouterr().out.splitlines())
