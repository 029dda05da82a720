"""The run's serving model (issue 15): a validated baseline serves campaigns, lists and probabilities; switching back."""

from __future__ import annotations

import json

import numpy as np
import pytest

from recsys.cli import main
from recsys.cli.common import EXIT_BAD_INPUT
from recsys.core import columns as C
from recsys.insight import recommend as R
from recsys.learn import scoring
from recsys.learn.history import EASERecommender
from recsys.learn.model import HybridRecommender
from recsys.learn.response import ResponseModelError
from recsys.workspace import runs, serving
from recsys.workspace.campaign import CampaignRequest, build_campaign
from recsys.workspace.recommend import response_scorer
from recsys.workspace.store import Workspace
from recsys.campaign.spec import AudienceSpec


@pytest.fixture()
def served(small_workspace):  # noqa: ANN001, ANN201 - (workspace, run id, dataset)
    """The small shop's run: EASE beats the tiny hybrid on validation, so EASE serves by default."""
    ws = Workspace(small_workspace.path)
    run_id = small_workspace.run_id
    run = runs.get_run(ws, run_id)
    if run.extra.get("validated_model") != "ease":
        pytest.skip(f"the small shop's validation chose {run.extra.get('validation_choice')!r}, not EASE")
    return ws, run_id, ws.load_dataset(small_workspace.dataset_id)


def test_the_validated_baseline_serves_with_probabilities_fitted_on_its_scores(served) -> None:  # noqa: ANN001
    ws, run_id, dataset = served
    run = runs.get_run(ws, run_id)
    assert run.serving_model == serving.VALIDATED and run.extra["serving_model"] == "validated"
    assert run.extra["validated_targeting"]["status"] == "ok"
    assert run.targeting == run.extra["validated_targeting"] != run.extra["targeting"]  # the served model's judgement
    assert runs.load_response_model(ws, run_id).scores_from_ == "ease"
    assert runs.load_response_model(ws, run_id, "hybrid").scores_from_ == "hybrid"
    hybrid = runs.load_model(ws, run_id)
    day = R.default_campaign_day(dataset)
    rm, ctx, note = response_scorer(ws, run_id, dataset, hybrid, day)
    assert note is None and isinstance(ctx.model, EASERecommender)  # the hybrid passed in is replaced by the served EASE
    with pytest.raises(ResponseModelError, match="fitted on the scores of ease"):
        rm.context(dataset.interactions, dataset.users, dataset.items, hybrid, day)
    assert any("(ease)" in g for g in rm.feature_groups_)

    # the campaign's probabilities are that response model's
    offers = tuple(ctx.item_ids[ctx.live][:2].astype(str))
    request = CampaignRequest(run_id=run_id, spec=AudienceSpec(offers=offers, max_per_customer=1, total_coupons=20),
                              reasons=1)
    campaign = build_campaign(ws, request, dataset=dataset, model=hybrid)
    frame = campaign.audience.frame
    assert len(frame) == 20
    expected = np.array([rm.predict_block(ctx, [u], [i])[0, 0] for u, i in zip(frame[C.USER_ID], frame[C.ITEM_ID])])
    np.testing.assert_allclose(frame[C.SCORE].to_numpy(float), expected, rtol=1e-9)
    assert campaign.reasons.str.len().gt(0).all()  # the probability's exact reasons, on EASE's fit term
    assert campaign.scored_by == "ease"  # and the export's manifest says so (params["scored_by"])

    # switching back: the hybrid's response model and its judgement
    serving.set_serving(ws, run_id, serving.HYBRID)
    assert runs.get_run(ws, run_id).targeting == runs.get_run(ws, run_id).extra["targeting"]
    rm2, ctx2, _ = response_scorer(ws, run_id, dataset, hybrid, day)
    assert rm2.scores_from_ == "hybrid" and isinstance(ctx2.model, HybridRecommender)
    rebuilt = build_campaign(ws, request, dataset=dataset, model=hybrid)
    assert rebuilt.scored_by == "hybrid"
    again = rebuilt.audience.frame
    p2 = np.array([rm2.predict_block(ctx2, [u], [i])[0, 0] for u, i in zip(again[C.USER_ID], again[C.ITEM_ID])])
    np.testing.assert_allclose(again[C.SCORE].to_numpy(float), p2, rtol=1e-9)
    assert not np.allclose(rm2.predict_block(ctx2, frame[C.USER_ID][:5], list(offers)),
                           rm.predict_block(ctx, frame[C.USER_ID][:5], list(offers)))


def test_the_served_list_is_the_baselines_own_top_k_among_live_offers(served) -> None:  # noqa: ANN001
    ws, run_id, dataset = served
    name, model = runs.load_validated_model(ws, run_id)
    user = str(dataset.interactions[C.USER_ID].iloc[0])
    day = R.default_campaign_day(dataset)
    listed = serving.served_recommendations(ws, run_id, dataset, user, k=5, exclude=R.EXCLUDE_RESPONDED, active_on=day)
    start, end = R.date_window_columns(dataset.info.item_schema, dataset.items)
    live = np.asarray(R.active_items(dataset.items, day, start, end), dtype=object).astype(str)
    own = model.recommend([user], k=5, candidates=live, exclude_seen=True)
    assert listed.model == name == "ease"
    assert listed.recommendations[C.ITEM_ID].tolist() == own[C.ITEM_ID].tolist()
    np.testing.assert_allclose(listed.recommendations[C.SCORE], own[C.SCORE])
    assert listed.recommendations[R.PROBABILITY].between(0, 1).all() and listed.horizon_days
    assert listed.recommendations[R.REASON].str.contains("because they took|best-seller|no history").all()


def test_the_generic_score_path_is_the_same_softmax_as_the_hybrids(served) -> None:  # noqa: ANN001
    """One implementation of the probability maths: the hybrid's fit term from its embeddings equals
    the fit term of its score block through the path any baseline uses."""
    ws, run_id, dataset = served
    rm = runs.load_response_model(ws, run_id, "hybrid")
    hybrid = runs.load_model(ws, run_id)
    ctx = rm.context(dataset.interactions, dataset.users, dataset.items, hybrid, R.default_campaign_day(dataset))
    upos = ctx.user_positions(ctx.user_ids[:7])
    ipos = ctx.item_positions(ctx.item_ids[ctx.live][:3])
    offers = rm.offer_arrays(ctx, ipos)
    via_embeddings = scoring.fit_term(*rm.customer_arrays(ctx, upos), offers)
    block_ids = ctx.item_ids[np.union1d(np.flatnonzero(ctx.live), ipos)]
    scores = hybrid.score_block(ctx.user_ids[upos], block_ids)
    via_scores = scoring.log_softmax_live(scores, np.ones(scores.shape, bool), offers)
    np.testing.assert_allclose(via_scores, via_embeddings, rtol=1e-6, atol=1e-8)


def test_cli_serve_and_recommend_follow_the_serving_model(served, capsys) -> None:  # noqa: ANN001
    ws, run_id, dataset = served
    path = str(ws.path)
    user = str(dataset.interactions[C.USER_ID].iloc[0])
    assert main(["serve", "--workspace", path, run_id]) == 0
    assert "serves EASE" in capsys.readouterr().out
    assert main(["recommend", "--workspace", path, "--run", run_id, "--user", user, "-k", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model"] == "ease" and len(out["offers"]) == 3 and all("probability" in o for o in out["offers"])
    assert main(["serve", "--workspace", path, run_id, "hybrid"]) == 0
    assert "serves Our model (hybrid)" in capsys.readouterr().out
    assert main(["recommend", "--workspace", path, "--run", run_id, "--user", user, "-k", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert "model" not in out and len(out["recommendations"]) == 3  # the hybrid's explained list
    assert main(["serve", "--workspace", path, "nope", "validated"]) == EXIT_BAD_INPUT


def test_a_run_without_a_validated_baseline_cannot_serve_one(sample_workspace) -> None:  # noqa: ANN001
    ws = Workspace(sample_workspace.path)
    assert serving.serving_choice(ws, sample_workspace.run_id) == serving.HYBRID
    with pytest.raises(serving.ServingError, match="no validated baseline"):
        serving.set_serving(ws, sample_workspace.run_id, serving.VALIDATED)
    assert runs.get_run(ws, sample_workspace.run_id).extra["serving_model"] == "hybrid"
