"""recsys.workspace.campaign end to end on a small shop with a tiny trained run, and the `promolens export` command."""

from __future__ import annotations

import re
import shutil
import types
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys.workspace import campaign as cp
from recsys import cli
from recsys.cli.campaigns import export_request_from_args
from recsys.cli.common import EXIT_BAD_INPUT
from recsys.campaign import export
from recsys.workspace import exports, runs
from recsys.data import synth
from recsys.core import columns as C
from recsys.workspace.campaign import CampaignError, CampaignRequest
from recsys.insight import rerank as rerank_module
from recsys.insight.attribution import ScoreExplainer
from recsys.workspace.ingest import import_files
from recsys.learn.config import ModelConfig
from recsys.learn.pipeline import TrainConfig
from recsys.workspace.store import Workspace
from recsys.campaign.spec import AudienceSpec, UserFilter

OFFERS = ("OFF0001", "OFF0004", "OFF0010")
REASON_LINE = re.compile(r"^[^;]+ [+-]\d+\.\d\d(; [^;]+ [+-]\d+\.\d\d)*$")


def make_workspace(path: Path) -> tuple[Workspace, str, str]:
    """A workspace with a small synthetic shop (300 customers, 30 offers) and a tiny trained run.

    The run has no response probabilities (``targeting=False``): these tests cover the budgets,
    caps and allocation on the raw-score fallback; probabilities are tested on the sample below.
    Most of its offers ended before the data's last day, so the requests allow offers that are not live.
    """
    shop = synth.generate(n_users=300, n_items=30, seed=3)
    files = synth.write_sample(shop, path / "shop")
    ws = Workspace(path / "ws")
    info, _ = import_files(ws, files["interactions"], files["users"], files["items"], name="small shop")
    run_id = runs.train_run(ws, info.id, TrainConfig(model=ModelConfig(epochs=3, no_components=8)), targeting=False)
    return ws, info.id, run_id


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    root = tmp_path_factory.mktemp("campaign")
    _, dataset_id, run_id = make_workspace(root)
    return root / "ws", dataset_id, run_id


@pytest.fixture()
def setup(template: tuple[Path, str, str], tmp_path: Path) -> tuple[Workspace, str, str]:
    """A fresh copy of the template workspace per test (tests write exports)."""
    source, dataset_id, run_id = template
    shutil.copytree(source, tmp_path / "ws")
    return Workspace(tmp_path / "ws"), dataset_id, run_id


def request(run_id: str, reasons: int = 2, **spec: object) -> CampaignRequest:
    values = {"offers": OFFERS, "seed": 5, **spec}
    return CampaignRequest(run_id, AudienceSpec(**values), reasons=reasons, all_offers=True)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------- end to end
def test_budgets_cap_control_share_reasons_and_manifest(setup, tmp_path: Path) -> None:
    ws, dataset_id, run_id = setup
    req = request(run_id, top_n=40, max_per_customer=3, holdout_share=0.2)
    built = cp.build_campaign(ws, req)
    frame = built.audience.frame

    per_offer = frame[C.ITEM_ID].value_counts()
    assert per_offer.to_dict() == dict.fromkeys(OFFERS, 40)  # the budget binds for every offer
    per_customer = frame[C.USER_ID].value_counts()
    assert per_customer.max() <= 3
    groups = frame.groupby(C.USER_ID)[C.GROUP].nunique()
    assert (groups == 1).all()  # the control unit is the customer
    customers = built.audience.customers()
    n = customers[C.TREATMENT] + customers[C.CONTROL]
    assert n == frame[C.USER_ID].nunique()
    assert abs(customers[C.CONTROL] - 0.2 * n) <= 1

    # scores are the production model's
    model = runs.load_model(ws, run_id)
    np.testing.assert_allclose(frame[C.SCORE], model.score(frame[C.USER_ID], frame[C.ITEM_ID]), rtol=1e-5, atol=1e-5)

    # reasons: filled, and the first one is the pair's largest attribution
    assert built.reasons.map(bool).all()
    assert built.reasons.str.match(REASON_LINE).all(), built.reasons.head().tolist()
    explanation = ScoreExplainer(model).explain(frame[C.USER_ID][:5], frame[C.ITEM_ID][:5], view="customer")
    best = np.asarray(explanation.values).max(axis=1)
    first = built.reasons[:5].str.extract(r"^[^;]+ ([+-]\d+\.\d\d)")[0].astype(float)
    np.testing.assert_allclose(first, np.round(best, 2), atol=0.0051)

    out = tmp_path / "handoff" / "targets.csv"
    result = cp.export_campaign(ws, built, out=out)
    manifest = result.manifest
    assert manifest["csv"]["sha256"] == export.sha256_file(result.csv_path) == export.sha256_file(out)
    assert export.verify(result.directory)
    assert manifest["run_id"] == run_id
    assert manifest["dataset_fingerprint"] == ws.dataset(dataset_id).fingerprint
    assert manifest["params"]["campaign"] == req.to_dict()
    assert manifest["params"]["spec"]["offers"] == list(OFFERS)
    assert manifest["counts"]["customers_by_group"] == customers
    assert [e["id"] for e in ws.exports()] == [result.export_id]
    csv = export.read_csv(out)
    expected = list(export.EXPORT_COLUMNS)
    expected[2:2] = export.OFFER_COLUMNS  # the offer's name and days after its id
    assert list(csv.columns) == expected
    assert set(csv[export.OFFER_NAME]) == set(built.offer_names.get(str(i), str(i)) for i in frame[C.ITEM_ID])
    assert len(csv) == len(frame) and csv[C.REASONS].tolist() == built.reasons.tolist()


def test_cap_binds_when_offers_have_room(setup) -> None:
    ws, _, run_id = setup
    built = cp.build_campaign(ws, request(run_id, top_n=250, max_per_customer=1, holdout_share=0.0, exclude_redeemed=False))
    frame = built.audience.frame
    assert frame[C.USER_ID].is_unique  # one coupon per customer ...
    assert len(frame) == 300  # ... and every customer got one (750 offer slots, 300 customers)
    assert (frame[C.ITEM_ID].value_counts() <= 250).all()
    assert (frame[C.GROUP] == C.TREATMENT).all()


def test_money_budget_with_a_percentage_cost(setup) -> None:
    ws, dataset_id, run_id = setup
    items = ws.load_dataset(dataset_id).items.set_index(C.ITEM_ID)
    cost = items["discount_depth"] / 100 * items["min_spend"]
    offers = ("OFF0001", "OFF0003", "OFF0010")  # percent of a minimum spend > 0
    req = CampaignRequest(run_id, AudienceSpec(offers=offers, total_budget=200.0, cost_column="discount_depth",
                                               seed=1), cost_percent_of="min_spend", all_offers=True)
    built = cp.build_campaign(ws, req)
    frame = built.audience.frame
    spent = frame[C.ITEM_ID].map(cost)
    assert spent.sum() <= 200.0 + 1e-9
    assert spent.sum() > 200.0 - cost[list(offers)].max()  # nothing affordable left over
    summary = built.summary()
    assert summary["budget_used"] == pytest.approx(spent.sum())
    assert summary["money"] == pytest.approx(spent[frame[C.GROUP] == C.TREATMENT].sum())
    assert built.costs == pytest.approx({o: cost[o] for o in offers})

    free = CampaignRequest(run_id, replace(req.spec, offers=("OFF0001", "OFF0004")), cost_percent_of="min_spend", all_offers=True)
    with pytest.raises(CampaignError, match=r"OFF0004 \(30.0% of 0.0\) costs nothing"):
        cp.build_campaign(ws, free)


def test_segments_and_filters_are_applied_before_scoring(setup) -> None:
    ws, dataset_id, run_id = setup
    users = ws.load_dataset(dataset_id).users
    members = users[C.USER_ID].iloc[::3]
    segment_id = ws.save_segment(dataset_id, "every third", {"how": "test"}, members)
    north_south = set(users.loc[users["region"].isin(["north", "south"]), C.USER_ID])
    req = request(run_id, segments=(segment_id,), user_filters=(UserFilter("region", "in", ["north", "south"]),),
                  top_n=1000, holdout_share=0.0, exclude_redeemed=False)
    built = cp.build_campaign(ws, req)
    allowed = set(members) & north_south
    assert set(built.audience.frame[C.USER_ID]) == allowed
    funnel = built.audience.funnel.set_index(cp.STEP)[cp.CUSTOMERS]
    assert funnel["customers in the dataset"] == 300
    assert funnel["in segments"] == len(members)
    assert funnel["customer filters"] == len(allowed)
    assert built.audience.spec == req.spec  # the manifest records what was asked


def test_redeemed_offers_are_left_out_unless_asked(setup) -> None:
    ws, dataset_id, run_id = setup
    inter = ws.load_dataset(dataset_id).interactions
    redeemed = inter[(inter[C.EVENT] == C.REDEEM) & inter[C.ITEM_ID].isin(OFFERS)][[C.USER_ID, C.ITEM_ID]]
    assert len(redeemed)
    pairs = set(map(tuple, redeemed.astype(str).to_numpy()))

    def allocated(exclude: bool) -> set[tuple[str, str]]:
        built = cp.build_campaign(ws, request(run_id, top_n=1000, max_per_customer=3, holdout_share=0.0,
                                              exclude_redeemed=exclude, reasons=0))
        return set(map(tuple, built.audience.frame[[C.USER_ID, C.ITEM_ID]].astype(str).to_numpy()))

    assert not allocated(True) & pairs
    assert pairs <= allocated(False)


def test_customers_of_a_recent_export_are_not_contacted_again(setup) -> None:
    ws, _, run_id = setup
    first = cp.export_campaign(ws, cp.build_campaign(ws, request(run_id, top_n=30, reasons=0)))
    sent = set(exports.load_targets(ws, first.export_id).query("group == 'treatment'")[C.USER_ID])
    again = cp.build_campaign(ws, request(run_id, top_n=30, reasons=0, exclude_contacted_days=1))
    assert sent and not sent & set(again.audience.frame[C.USER_ID])


def test_reasons_can_be_switched_off(setup) -> None:
    ws, _, run_id = setup
    req = CampaignRequest(run_id, AudienceSpec(offers=OFFERS[:1], top_n=10), reasons=0, all_offers=True)
    built = cp.build_campaign(ws, req)
    assert len(built.reasons) == 10 and (built.reasons == "").all()


@pytest.mark.parametrize(("spec", "message"), [
    ({"offers": ()}, "Choose at least one offer"),
    ({"offers": ("NOPE",)}, "neither known to the model nor in the offers table"),
    ({"user_filters": (UserFilter("regio", "in", ["north"]),)}, "did you mean 'region'"),
    ({"total_budget": 100.0}, "cost_column"),
    ({"holdout_share": 1.5}, "holdout_share"),
])
def test_bad_requests_are_refused_with_the_fix(setup, spec: dict, message: str) -> None:
    ws, _, run_id = setup
    before = ws.snapshot()
    with pytest.raises(CampaignError, match=re.escape(message)):
        cp.build_campaign(ws, CampaignRequest(run_id, AudienceSpec(**{"offers": OFFERS, **spec}), all_offers=True))
    assert ws.snapshot() == before


def test_histogram_counts_every_scored_and_targeted_pair(setup) -> None:
    ws, _, run_id = setup
    built = cp.build_campaign(ws, request(run_id, top_n=25, reasons=0))
    hist = built.histogram
    assert hist.groupby(C.ITEM_ID)[cp.SCORED].sum().to_dict() == dict.fromkeys(OFFERS, 300)
    assert hist.groupby(C.ITEM_ID)[cp.TARGETED].sum().to_dict() == dict.fromkeys(OFFERS, 25)
    assert (hist[cp.BIN_LOW] < hist[cp.BIN_HIGH]).all()


# ------------------------------------------------------------------------------- scoring
def test_new_customers_and_offers_are_scored_from_their_facts(setup) -> None:
    ws, dataset_id, run_id = setup
    data = ws.load_dataset(dataset_id)
    model = runs.load_model(ws, run_id)
    new_user = data.users.iloc[[0]].assign(**{C.USER_ID: "NEWCUST"})
    new_item = data.items.iloc[[0]].assign(**{C.ITEM_ID: "NEWOFFER"})
    users = pd.concat([data.users, new_user], ignore_index=True)
    items = pd.concat([data.items, new_item], ignore_index=True)
    ids = ["NEWCUST", *data.users[C.USER_ID].iloc[1:4]]
    scores = cp.score_customers(model, ids, ["NEWOFFER", "OFF0002"], users=users, items=items, chunk_users=2)
    assert len(scores) == 8 and set(scores[C.USER_ID].astype(str)) == set(ids)

    # independent computation: feature rows times the per-feature embeddings and biases
    x = model.user_feature_matrix(ids, new_user).toarray()
    y = model.item_feature_matrix(["NEWOFFER", "OFF0002"], new_item).toarray()
    expected = (x @ model.user_embeddings_) @ (y @ model.item_embeddings_).T
    expected += (x @ model.user_biases_)[:, None] + (y @ model.item_biases_)[None, :]
    got = scores.pivot(index=C.USER_ID, columns=C.ITEM_ID, values=C.SCORE).loc[ids, ["NEWOFFER", "OFF0002"]]
    np.testing.assert_allclose(got.to_numpy(), expected, rtol=1e-4, atol=1e-4)


def test_reason_text_keeps_positive_lifts_and_names_the_largest_otherwise() -> None:
    values = np.array([[0.82, 0.41, -0.3], [0.0, -0.2, -0.1], [0.05, 0.5, 0.2]])
    labels = np.array([["segment = deal_seeker", "discount 30-50%", "region = west"]] * 3, dtype=object)
    assert cp.reason_text(values, labels, 2).tolist() == [
        "segment = deal_seeker +0.82; discount 30-50% +0.41",
        "segment = deal_seeker +0.00",
        "discount 30-50% +0.50; region = west +0.20",
    ]
    assert cp.reason_text(values, labels, 1).tolist()[2] == "discount 30-50% +0.50"


# ------------------------------------------------------------------------------- fairness
def selection(targeted: dict[str, int]) -> cp.SelectionCheck:
    """A hand-made base of 100 a, 100 b and 10 c customers, with ``targeted`` of each targeted."""
    users = pd.DataFrame({C.USER_ID: [f"{g}{i}" for g, n in (("a", 100), ("b", 100), ("c", 10)) for i in range(n)]})
    users["band"] = users[C.USER_ID].str[0]
    chosen = [f"{g}{i}" for g, n in targeted.items() for i in range(n)]
    frame = pd.DataFrame({C.USER_ID: chosen, C.ITEM_ID: "x", C.GROUP: C.TREATMENT})
    fake = types.SimpleNamespace(audience=types.SimpleNamespace(frame=frame))
    return cp.selection_by_group(fake, users, "band", users[C.USER_ID])  # type: ignore[arg-type]


def test_four_fifths_rule_flags_groups_below_80_percent_of_the_top_rate() -> None:
    ok = selection({"a": 50, "b": 41, "c": 1})
    table = ok.table.set_index(cp.VALUE)
    assert table.loc["b", cp.RATE] == pytest.approx(0.41) and table.loc["b", cp.RATIO] == pytest.approx(0.82)
    assert not ok.flagged and ok.verdict and "no adverse-impact flag" in ok.verdict
    assert "c" in ok.notes[0]  # 10 customers: too few to judge, never flagged
    assert not table.loc["c", cp.FLAG]

    bad = selection({"a": 50, "b": 39, "c": 0})
    assert bad.flagged and bad.verdict is None
    assert bad.table.set_index(cp.VALUE).loc["b", cp.RATIO] == pytest.approx(0.78)
    assert len(bad.warnings) == 1 and "band = b" in bad.warnings[0] and "four-fifths" in bad.warnings[0]


def test_fairness_check_on_a_real_campaign(setup) -> None:
    ws, dataset_id, run_id = setup
    data = ws.load_dataset(dataset_id)
    built = cp.build_campaign(ws, request(run_id, top_n=1000, reasons=0, holdout_share=0.1,
                                          user_filters=(UserFilter("age_band", "in", ["18-24"]),)))
    check = cp.selection_by_group(built, data.users, "age_band", cp.customer_universe(data))
    table = check.table.set_index(cp.VALUE)
    young = int((data.users["age_band"] == "18-24").sum())
    assert table.loc["18-24", cp.TARGETED] == young and table.loc["18-24", cp.RATE] == 1.0
    assert check.flagged and set(table.index[table[cp.FLAG]]) == set(table.index) - {"18-24"}


def test_saved_rerank_settings_go_through_the_fairness_hook(setup, monkeypatch: pytest.MonkeyPatch) -> None:
    ws, _, run_id = setup
    ws.update_run_extra(run_id, {"rerank": {"method": "test-reverse"}})
    monkeypatch.delattr(rerank_module, "score_adjuster")
    plain = cp.build_campaign(ws, request(run_id, offers=OFFERS[:1], top_n=10, reasons=0, holdout_share=0.0))
    assert any("cannot apply them" in note for note in plain.notes)

    calls = []

    def score_adjuster(settings, *, model, users, items):  # noqa: ANN001, ANN202 - the hook's contract
        calls.append(settings)
        return lambda pairs: -pairs[C.SCORE]  # the lowest scores first

    monkeypatch.setattr(rerank_module, "score_adjuster", score_adjuster, raising=False)
    reranked = cp.build_campaign(ws, request(run_id, offers=OFFERS[:1], top_n=10, reasons=0, holdout_share=0.0))
    assert calls == [{"method": "test-reverse"}] and reranked.notes == (cp.NO_PROBABILITY_NOTE[0].upper() + cp.NO_PROBABILITY_NOTE[1:] + ".",)
    assert reranked.audience.fairness_hook == "<lambda>"
    assert reranked.audience.frame[C.SCORE].max() < plain.audience.frame[C.SCORE].min()


# ------------------------------------------------------------------------------- the CLI
def test_command_line_round_trips_the_request(setup) -> None:
    ws, _, run_id = setup
    req = CampaignRequest(run_id, AudienceSpec(
        offers=OFFERS, segments=("s1",), user_filters=(UserFilter("region", "in", ["north", "east"]),
                                                       UserFilter("segment", "!=", "casual")),
        active_since="2026-05-01", exclude_contacted_days=14, exclude_redeemed=False, top_n=50,
        total_budget=300.0, cost_column="discount_depth", min_score=-1.5, max_per_customer=2,
        holdout_share=0.15, seed=9,
    ), cost_percent_of="min_spend", reasons=3, reasons_view="score", all_offers=True)
    argv = req.command(workspace=ws.path)
    assert argv[:2] == ["promolens", "export"]
    args = cli.build_parser().parse_args(argv[1:])
    assert export_request_from_args(args) == req


def test_cli_export_writes_the_csv_records_it_and_matches_the_library(setup, tmp_path: Path, capsys) -> None:
    ws, _, run_id = setup
    out = tmp_path / "out" / "targets.csv"
    code = cli.main(["export", "--workspace", str(ws.path), "--run", run_id, "--item", OFFERS[0], "--item", OFFERS[1],
                     "--top", "20", "--cap", "1", "--holdout", "0.25", "--seed", "4", "--all-offers", "--out", str(out),
                     "--check-fairness", "gender"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "Exported e1" in printed and "NO coupon" in printed
    assert "Targeted share by gender" in printed and "four-fifths" in printed
    [record] = ws.exports()
    assert record["run_id"] == run_id and record["sha256"] == export.sha256_file(out)
    frame = export.read_csv(out)
    assert frame[C.ITEM_ID].value_counts().to_dict() == {OFFERS[0]: 20, OFFERS[1]: 20}
    assert frame[C.REASONS].str.match(REASON_LINE).all()

    # the same request through the library gives the same bytes: the CLI reproduces the page
    same = CampaignRequest(run_id, AudienceSpec(offers=OFFERS[:2], top_n=20, max_per_customer=1, holdout_share=0.25, seed=4),
                           all_offers=True)
    again = cp.export_campaign(ws, cp.build_campaign(ws, same))
    assert again.manifest["csv"]["sha256"] == record["sha256"]


def test_cli_export_bad_input_exits_2_with_a_message(setup, tmp_path: Path, capsys) -> None:
    ws, _, run_id = setup
    base = ["export", "--workspace", str(ws.path), "--out", str(tmp_path / "x.csv")]
    assert cli.main([*base, "--run", run_id, "--item", "NOPE"]) == EXIT_BAD_INPUT
    assert "NOPE" in capsys.readouterr().err
    assert cli.main([*base, "--run", "r99", "--item", OFFERS[0]]) == EXIT_BAD_INPUT
    assert "No run 'r99'" in capsys.readouterr().err
    assert cli.main([*base, "--run", run_id, "--item", OFFERS[0], "--money-budget", "50", "--all-offers"]) == EXIT_BAD_INPUT
    assert "cost" in capsys.readouterr().err
    assert not ws.exports() and not (tmp_path / "x.csv").exists()
