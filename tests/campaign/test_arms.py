"""A/B arms in one export: the seeded, stratified draw (recsys.campaign.arms), the export and its measurement."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys import cli
from recsys.campaign import arms, export, measure
from recsys.campaign.spec import AudienceSpec, TargetingError
from recsys.core import columns as C
from recsys.workspace import campaign as cp
from recsys.workspace import exports
from recsys.workspace.store import Workspace

IDS = [f"c{i:04d}" for i in range(3000)]
SCORES = np.random.default_rng(0).random(3000)


def test_every_customer_gets_one_arm_sizes_follow_the_shares_and_each_score_bin_is_balanced() -> None:
    drawn = arms.assign_arms(IDS, SCORES, ["A", "B", "C"], shares=[2, 1, 1], control_share=0.2, seed=7)
    assert drawn[C.USER_ID].tolist() == IDS  # one row per customer, in order: arms are disjoint
    sizes = drawn[arms.ARM_OFFER].value_counts()
    for arm, share in {"A": 0.5, "B": 0.25, "C": 0.25}.items():
        assert abs(sizes[arm] - share * 3000) <= 1, (arm, sizes[arm])
        in_arm = drawn[arms.ARM_OFFER] == arm
        assert abs(drawn.loc[in_arm, arms.CONTROL_FLAG].sum() - 0.2 * in_arm.sum()) <= 1
    assert abs(drawn[arms.CONTROL_FLAG].sum() - 600) <= 1
    deciles = pd.qcut(SCORES, 10, labels=False)  # stratified: every score decile holds its share of each arm
    per_bin = pd.crosstab(deciles, drawn[arms.ARM_OFFER])
    assert (per_bin["A"] - 150).abs().max() <= 2 and (per_bin["B"] - 75).abs().max() <= 2


def test_the_draw_is_reproducible_order_free_and_changes_with_the_seed() -> None:
    first = arms.assign_arms(IDS, SCORES, ["A", "B"], control_share=0.1, seed=3)
    again = arms.assign_arms(IDS, SCORES, ["A", "B"], control_share=0.1, seed=3)
    pd.testing.assert_frame_equal(first, again)
    order = np.random.default_rng(1).permutation(len(IDS))
    shuffled = arms.assign_arms(np.asarray(IDS)[order], SCORES[order], ["A", "B"], control_share=0.1, seed=3)
    pd.testing.assert_frame_equal(shuffled.set_index(C.USER_ID).loc[IDS].reset_index(), first)
    other = arms.assign_arms(IDS, SCORES, ["A", "B"], control_share=0.1, seed=4)
    assert (other[arms.ARM_OFFER] != first[arms.ARM_OFFER]).mean() > 0.3


@pytest.mark.parametrize(("offers", "shares", "control", "words"), [
    (["A"], [], 0.1, "at least two offers"),
    (["A", "A"], [], 0.1, "twice"),
    (["A", "B"], [], 0.0, "control group"),
    (["A", "B"], [1, 0], 0.1, "above 0"),
    (["A", "B"], [1], 0.1, "one number above 0 per arm"),
])
def test_bad_designs_are_refused_with_the_fix(offers, shares, control, words) -> None:
    with pytest.raises(TargetingError, match=words):
        arms.check_arms(offers, shares, control)


def test_an_ab_export_has_one_arm_per_customer_and_measures_per_arm_lift(small_workspace, tmp_path: Path) -> None:
    ws = Workspace(small_workspace.path)
    offers = ("OFF0001", "OFF0004")
    request = cp.CampaignRequest(small_workspace.run_id, AudienceSpec(offers=offers, holdout_share=0.2, seed=5),
                                 all_offers=True, ab_test=True, reasons=1)
    assert "--ab" in request.command() and "--arm-shares" not in request.command()  # equal arms
    built = cp.build_campaign(ws, request)
    frame = built.audience.frame
    assert frame[C.USER_ID].is_unique and 0.9 * built.n_customers < len(frame) <= built.n_customers  # one arm each
    assert set(frame[C.ARM]) == {*offers, C.CONTROL}
    assert (frame[C.ARM] == C.CONTROL).equals(frame[C.GROUP] == C.CONTROL)
    assert abs((frame[C.GROUP] == C.CONTROL).sum() - 0.2 * len(frame)) <= 2
    assert abs((frame[C.ITEM_ID] == offers[0]).sum() - len(frame) / 2) <= 1

    out = tmp_path / "ab.csv"
    result = cp.export_campaign(ws, built, out=out)
    csv = export.read_csv(out)
    assert C.ARM in csv.columns and csv[C.ARM].tolist() == frame[C.ARM].astype(str).tolist()
    assert built.has_probability and csv[C.REASONS].str.fullmatch(r"[^;]+ [+-]\d+\.\d pt").all()  # the page's unit
    assert result.manifest["params"]["reasons"]["unit"].startswith("percentage points of the chance")
    entry = result.manifest["params"]["ab_test"]
    assert [a[C.ITEM_ID] for a in entry["arms"]] == list(offers) and entry["control_share"] == 0.2
    assert sum(a[C.TREATMENT] + a[C.CONTROL] for a in entry["arms"]) == len(frame)
    again = cp.build_campaign(ws, cp.CampaignRequest.from_dict(request.to_dict()))  # JSON round trip, same draw
    assert again.audience.frame[C.ARM].tolist() == frame[C.ARM].tolist()

    # outcomes: customers of the first arm converted far more often than the rest -> its lift shows, per arm
    rng = np.random.default_rng(2)
    converted = np.where(csv[C.ARM] == offers[0], rng.random(len(csv)) < 0.6, rng.random(len(csv)) < 0.1)
    outcomes = pd.DataFrame({"customer": csv[C.USER_ID], "converted": converted.astype(int)})
    measured = exports.measure_outcomes(ws, result.export_id, outcomes, ["converted"], user_column="customer")
    table = measured.arms.set_index("arm")
    assert set(table.index) == {*offers, C.CONTROL}
    assert table.loc[offers[0], "lift_low"] > 0.3 and table.loc[offers[1], "lift_low"] < 0 < table.loc[offers[1], "lift_high"]
    assert not any("control group is" in w for w in measured.warnings)  # no sample-ratio mismatch

    outcomes.to_csv(tmp_path / "outcomes.csv", index=False)
    code = cli.main(["measure", "--workspace", str(ws.path), "--export", result.export_id, "--outcomes",
                     str(tmp_path / "outcomes.csv"), "--user-column", "customer", "--outcome", "converted", "--json"])
    assert code == 0


def test_cli_export_ab_matches_the_library_and_refuses_a_bad_design(small_workspace, tmp_path: Path, capsys) -> None:
    argv = ["export", "--workspace", str(small_workspace.path), "--run", small_workspace.run_id, "--item", "OFF0001",
            "--item", "OFF0004", "--item", "OFF0010", "--ab", "--arm-shares", "2", "1", "1", "--holdout", "0.1",
            "--all-offers", "--reasons", "0", "--out", str(tmp_path / "ab.csv")]
    assert cli.main(argv) == 0
    assert "A/B test: 3 arms" in capsys.readouterr().out
    frame = export.read_csv(tmp_path / "ab.csv")
    sizes = frame[C.ITEM_ID].value_counts()
    assert abs(sizes["OFF0001"] - len(frame) / 2) <= 1 and abs(sizes["OFF0004"] - len(frame) / 4) <= 2
    assert cli.main([*argv[:-2], "--cap", "2", "--out", str(tmp_path / "bad.csv")]) == 2
    assert "exactly one arm" in capsys.readouterr().err
    assert cli.main([*argv[:9], "--ab", "--holdout", "0", "--all-offers", "--out", str(tmp_path / "bad.csv")]) == 2
    assert "control group" in capsys.readouterr().err
