"""Lift measurement: statistics against independent computations, Hillstrom figures, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from recsys.core import columns as C
from recsys.campaign import measure
from recsys.cli import main
from recsys.cli.common import EXIT_BAD_INPUT
from recsys.campaign.measure import MeasureError
from recsys.workspace import exports
from recsys.workspace.store import Workspace

HILLSTROM = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "hillstrom" / "hillstrom.csv"
#: The README's figures: arm -> (customers, visit rate, conversion rate, spend per customer).
HILLSTROM_FIGURES = {
    "Mens E-Mail": (21307, 0.1828, 0.0125, 1.4226),
    "Womens E-Mail": (21387, 0.1514, 0.0088, 1.0772),
    "No E-Mail": (21306, 0.1062, 0.0057, 0.6528),
}


def tiny() -> pd.DataFrame:
    return pd.DataFrame({
        "group": ["coupon"] * 6 + ["control"] * 5,
        "bought": ["yes", "yes", "no", "yes", "no", "yes", "no", "yes", "no", "no", "no"],
        "revenue": [20.0, 35.5, 0, 12.0, 0, 40.0, 0, 18.0, 0, 0, 0],
    })


def test_tiny_table_matches_hand_computation_and_scipy() -> None:
    result = measure.measure(tiny(), "group", "control", ["bought", "revenue"])
    arms = result.arms.set_index(["outcome", "arm"])
    assert arms.loc[("bought", "coupon"), "kind"] == "rate"
    assert arms.loc[("bought", "coupon"), "mean"] == pytest.approx(4 / 6)
    assert arms.loc[("bought", "control"), "mean"] == pytest.approx(1 / 5)
    treated, control = tiny()["revenue"][:6], tiny()["revenue"][6:]
    welch = stats.ttest_ind(treated, control, equal_var=False)
    ci = welch.confidence_interval(0.95)
    row = arms.loc[("revenue", "coupon")]
    assert row["lift"] == pytest.approx(treated.mean() - control.mean())
    assert (row["lift_low"], row["lift_high"]) == pytest.approx((ci.low, ci.high))
    assert row["p_value"] == pytest.approx(welch.pvalue)
    assert row["incremental"] == pytest.approx(6 * (treated.mean() - control.mean()))
    assert np.isnan(arms.loc[("revenue", "control"), "lift"])


def test_relative_lift_mde_and_power_formulas() -> None:
    n_t, m_t, v_t, n_c, m_c, v_c = 20000.0, 0.12, 0.12 * 0.88, 500.0, 0.10, 0.09
    out = measure.compare(np.array([n_t]), np.array([m_t]), np.array([v_t]), np.array([n_c]), np.array([m_c]), np.array([v_c]))
    se = np.sqrt(v_t / n_t + v_c / n_c)
    z = stats.norm.ppf(0.975)
    assert out["mde"][0] == pytest.approx((z + stats.norm.ppf(0.8)) * se)
    assert out["power"][0] == pytest.approx(stats.norm.cdf(0.02 / se - z) + stats.norm.cdf(-0.02 / se - z))
    log_se = np.sqrt(v_t / (n_t * m_t**2) + v_c / (n_c * m_c**2))
    assert out["rel_lift"][0] == pytest.approx(0.2)
    assert out["rel_low"][0] == pytest.approx(np.exp(np.log(1.2) - z * log_se) - 1)
    # the control size that gives 80% power for this lift really does
    needed = out["control_needed"][0]
    se_needed = np.sqrt(v_t / n_t + v_c / needed)
    assert stats.norm.cdf(0.02 / se_needed - z) == pytest.approx(0.8, abs=0.002)
    # with too few treated customers no control group is large enough
    few = measure.compare(np.array([200.0]), np.array([m_t]), np.array([v_t]), np.array([n_c]), np.array([m_c]), np.array([v_c]))
    assert np.isinf(few["control_needed"][0])


def test_holm_adjustment() -> None:
    assert measure.holm([0.01, 0.04, 0.03, np.nan]).round(4).tolist()[:3] == [0.03, 0.06, 0.06]


def test_small_control_gets_a_power_warning_and_a_large_one_does_not() -> None:
    rng = np.random.default_rng(1)

    def table(n_control: int) -> pd.DataFrame:
        treated = rng.random(20000) < 0.11
        control = rng.random(n_control) < 0.10
        return pd.DataFrame({"arm": ["mail"] * 20000 + ["none"] * n_control,
                             "converted": np.concatenate([treated, control]).astype(int)})

    small = measure.measure(table(300), "arm", "none", ["converted"])
    assert any("too small to detect" in w and "control customers would be needed" in w for w in small.warnings)
    assert "We cannot tell" in small.arms["verdict"].dropna().iloc[0]
    big = measure.measure(table(60000), "arm", "none", ["converted"])
    assert not big.warnings and "raised" in big.arms["verdict"].dropna().iloc[0]


def test_planted_uplift_shows_in_the_top_deciles() -> None:
    result = measure.measure(measure.example_results(), "segment", "No E-Mail", ["visit"], score="score")
    deciles = result.deciles[result.deciles["arm"] == "Mens E-Mail"].set_index(C.SCORE_DECILE)
    assert set(deciles.index) == set(range(1, 11))
    assert deciles.loc[8:10, "lift"].mean() > 2 * deciles.loc[1:3, "lift"].mean()
    uplift = result.uplift.set_index(["outcome", "arm"]).loc[("visit", "Mens E-Mail")]
    assert uplift["difference_low"] > 0 and "because of the coupon" in uplift["verdict"]


@pytest.mark.parametrize(
    ("change", "column", "message"),
    [
        (lambda f: f.rename(columns={"group": "grp"}), "group", "did you mean 'grp'"),
        (lambda f: f.assign(revenue=["12", "x"] + ["0"] * 9), "revenue", "1 rows have no number"),
        (lambda f: f.assign(group=f["group"].replace("control", "holdout")), "group", "control value 'control'"),
        (lambda f: f.iloc[6:], "group", "only one arm"),
    ],
)
def test_bad_tables_name_file_column_and_fix(change, column: str, message: str) -> None:
    with pytest.raises(MeasureError) as info:
        measure.measure(change(tiny()), "group", "control", ["bought", "revenue"], source="results.csv")
    problem = next(p for p in info.value.problems if message in p.message)
    assert problem.file == "results.csv" and problem.column == column and problem.fix
    assert "could not be measured" in str(info.value)


def test_bad_outcome_rows_are_listed_as_spreadsheet_rows() -> None:
    with pytest.raises(MeasureError) as info:
        measure.measure(tiny().assign(revenue=[1.0, None] + [0.0] * 9), "group", "control", ["revenue"])
    assert info.value.problems[0].rows == (3,)


# ------------------------------------------------------------------------------ exports
def export_rows() -> pd.DataFrame:
    n = 400
    rng = np.random.default_rng(2)
    return pd.DataFrame({
        C.USER_ID: [f"=c{i}" if i % 50 == 0 else f"c{i}" for i in range(n)],
        C.ITEM_ID: np.where(np.arange(n) % 2 == 0, "A", "B"),
        C.SCORE: rng.random(n), C.RANK: 1,
        C.GROUP: np.where(np.arange(n) % 4 == 0, C.CONTROL, C.TREATMENT),
    })


def test_measure_export_joins_outcomes_to_groups() -> None:
    targets = export_rows()
    treated_ids = targets.loc[targets[C.GROUP] == C.TREATMENT, C.USER_ID]
    # outcomes: half the treated bought (two rows for one of them), controls absent, plus a stranger and
    # an id copied from the neutralised CSV ("'=c50")
    buyers = treated_ids.iloc[::2].tolist()
    outcomes = pd.DataFrame({
        "CustomerID": buyers + [buyers[0], "stranger", "'=c50"],
        "redeemed": [1] * len(buyers) + [1, 1, 1],
        "revenue": [10.0] * len(buyers) + [5.0, 99.0, 7.0],
    })
    result = measure.measure_export(targets, outcomes, ["redeemed", "revenue"], planned_share=0.25,
                                    source="outcomes.csv", export_id="e1")
    arms = result.arms.set_index(["outcome", "arm"])
    n_treated = int((targets[C.GROUP] == C.TREATMENT).sum())
    assert result.params["user_column"] == "CustomerID"
    assert arms.loc[("redeemed", C.TREATMENT), "n"] == n_treated
    assert arms.loc[("redeemed", C.CONTROL), "n"] == 100
    assert arms.loc[("redeemed", C.TREATMENT), "mean"] == pytest.approx((len(buyers) + ("=c50" not in buyers)) / n_treated)
    expected_revenue = 10.0 * len(buyers) + 5.0 + (7.0 if "=c50" in treated_ids.tolist() else 0.0)
    assert arms.loc[("revenue", C.TREATMENT), "mean"] * n_treated == pytest.approx(expected_revenue)
    assert any("1 outcome rows" in w for w in result.warnings)  # the stranger
    assert not any("planned" in w for w in result.warnings)
    assert result.by_offer is not None and set(result.by_offer[C.ITEM_ID]) == {"A", "B"}
    mismatched = measure.measure_export(targets, outcomes, ["redeemed"], planned_share=0.5)
    assert any("instead of the planned 50%" in w for w in mismatched.warnings)


def test_cli_measures_a_workspace_export_and_records_it(tmp_path: Path, capsys) -> None:
    ws = Workspace(tmp_path / "ws")
    targets = export_rows()
    exports.save_export(ws, targets, params={"spec": {"holdout_share": 0.25}})
    outcomes = tmp_path / "outcomes.csv"
    pd.DataFrame({"user_id": targets[C.USER_ID].iloc[1::3], "converted": 1}).to_csv(outcomes, index=False)
    code = main(["measure", "--workspace", str(ws.path), "--export", "e1", "--outcomes", str(outcomes),
                 "--outcome", "converted", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["measurement_id"] == "m1" and ws.measurements("e1")[0]["id"] == "m1"
    assert {a["arm"] for a in out["arms"]} == {C.TREATMENT, C.CONTROL}
    assert main(["measure", "--workspace", str(ws.path), "--export", "e1", "--outcome", "converted"]) == EXIT_BAD_INPUT


def test_cli_reports_bad_columns_with_exit_2(tmp_path: Path, capsys) -> None:
    path = tmp_path / "results.csv"
    tiny().to_csv(path, index=False)
    code = main(["measure", "--data", str(path), "--arm", "group", "--control", "control", "--outcome", "revenu"])
    assert code == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "results.csv" in err and "revenu" in err and "did you mean 'revenue'" in err


# ------------------------------------------------------------------------------ Hillstrom
@pytest.mark.skipif(not HILLSTROM.exists(), reason=f"real data not available: {HILLSTROM} is absent")
def test_cli_reproduces_the_hillstrom_figures_with_independent_intervals(capsys) -> None:
    code = main(["measure", "--data", str(HILLSTROM), "--arm", "segment", "--control", "No E-Mail",
                 "--outcome", "visit", "--outcome", "conversion", "--outcome", "spend", "--json"])
    assert code == 0
    arms = pd.DataFrame(json.loads(capsys.readouterr().out)["arms"]).set_index(["outcome", "arm"])
    for arm, (customers, visit, conversion, spend) in HILLSTROM_FIGURES.items():
        for outcome, figure in (("visit", visit), ("conversion", conversion), ("spend", spend)):
            assert arms.loc[(outcome, arm), "n"] == customers
            assert round(arms.loc[(outcome, arm), "mean"], 4) == figure
    # the intervals agree with an independent computation straight from the raw file
    raw = pd.read_csv(HILLSTROM)
    control = raw[raw["segment"] == "No E-Mail"]
    for arm in ("Mens E-Mail", "Womens E-Mail"):
        treated = raw[raw["segment"] == arm]
        for outcome in ("visit", "conversion", "spend"):
            welch = stats.ttest_ind(treated[outcome], control[outcome], equal_var=False)
            ci = welch.confidence_interval(0.95)
            row = arms.loc[(outcome, arm)]
            assert (row["lift_low"], row["lift_high"]) == pytest.approx((ci.low, ci.high), rel=1e-9)
            assert row["p_value"] == pytest.approx(welch.pvalue, rel=1e-6)
            # normal approximation by hand agrees to 3 decimals at this size
            se = np.sqrt(treated[outcome].var() / len(treated) + control[outcome].var() / len(control))
            diff = treated[outcome].mean() - control[outcome].mean()
            assert row["lift_low"] == pytest.approx(diff - 1.959964 * se, abs=1e-3 * max(1, abs(diff)))
    assert arms.loc[("conversion", "Mens E-Mail"), "incremental"] == pytest.approx(145, abs=1)


@pytest.mark.skipif(not HILLSTROM.exists(), reason=f"real data not available: {HILLSTROM} is absent")
def test_cli_text_report_shows_the_hillstrom_rates(capsys) -> None:
    assert main(["measure", "--data", str(HILLSTROM), "--arm", "segment", "--control", "No E-Mail",
                 "--outcome", "conversion"]) == 0
    out = capsys.readouterr().out
    assert "0.0125" in out and "0.0088" in out and "0.0057" in out and "Mens E-Mail raised the conversion rate" in out
