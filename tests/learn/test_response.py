"""The response model on the bundled sample: right customers for deep discounts, calibrated, explained."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys.core import columns as C
from recsys.data.schema import infer_schema
from recsys.data.synth import load_sample, user_personas
from recsys.learn.model import ModelConfig
from recsys.learn.pipeline import TrainConfig, fit_final
from recsys.learn.response import BASELINE, FIT_GROUP, LOGIT, PROBABILITY, ResponseModel, ResponseModelError
from recsys.learn.split import SplitConfig, split_interactions
from recsys.learn.targeting_eval import targeting_rows, targeting_scores
from recsys.metrics.targeting import OURS, RANDOM, RAW_SCORE, evaluate_targeting

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"
DEEP = ["OFF0004", "OFF0050", "OFF0108"]


@pytest.fixture(scope="module")
def fitted():
    shop = load_sample(SAMPLE)
    inter, users, items = shop.interactions, shop.users, shop.items
    us, its = infer_schema(users, C.USER_ID), infer_schema(items, C.ITEM_ID)
    cutoff = pd.Timestamp(split_interactions(inter, SplitConfig()).summary["cutoff"])
    t0 = cutoff - pd.Timedelta(days=28)
    config = TrainConfig(model=ModelConfig(epochs=10), seed=42)
    hybrid = fit_final(inter[inter[C.TIMESTAMP] < t0], users, us, items, its, config)
    known = inter[inter[C.TIMESTAMP] < cutoff]
    rm = ResponseModel().fit(known, users, us, items, its, hybrid, t0, cutoff)
    ctx = rm.context(known, users, items, hybrid, cutoff)
    return shop, hybrid, rm, ctx, cutoff


def test_deep_discount_lists_over_represent_bargain_hunters_and_a_shallow_list_does_not(fitted):
    shop, _, rm, ctx, _ = fitted
    uids = shop.users[C.USER_ID].astype(str).to_numpy(object)
    hunter = user_personas(shop).reindex(uids).to_numpy() == "bargain_hunter"
    prob = rm.predict_block(ctx, uids, DEEP + ["OFF0001"])
    shares = [hunter[np.argsort(-prob[:, j])[:500]].mean() for j in range(prob.shape[1])]
    assert min(shares[:3]) >= 1.5 * hunter.mean(), shares
    assert shares[3] < 1.5 * hunter.mean(), shares  # OFF0001: 10% off, live at the cutoff
    assert ((prob >= 0) & (prob <= 1)).all()


def test_attributions_add_up_to_the_logit_and_the_lightfm_offset_cancels(fitted):
    shop, hybrid, rm, ctx, _ = fitted
    uids = shop.users[C.USER_ID].astype(str).to_numpy(object)[:300]
    frame = rm.explain_pairs(ctx, np.repeat(uids, 2), np.tile(["OFF0004", "OFF0001"], len(uids)))
    parts = frame.drop(columns=[C.USER_ID, C.ITEM_ID, LOGIT, PROBABILITY])
    np.testing.assert_allclose(parts.sum(axis=1), frame[LOGIT], atol=1e-6)
    block = rm.logit_block(ctx, uids, ["OFF0004", "OFF0001"])
    np.testing.assert_allclose(frame[LOGIT].to_numpy().reshape(-1, 2), block, atol=1e-9)
    assert FIT_GROUP in parts.columns and BASELINE in parts.columns
    # shifting every score of a customer (the offset WARP leaves free) changes nothing
    before = rm.logit_block(ctx, uids[:20], ["OFF0004"])
    hybrid.user_bias_rep_[hybrid.user_index_.positions(uids[:20])] += 7.0
    try:
        # (to float32 rounding of the shifted biases)
        np.testing.assert_allclose(rm.logit_block(ctx, uids[:20], ["OFF0004"]), before, atol=1e-5)
    finally:
        hybrid.user_bias_rep_[hybrid.user_index_.positions(uids[:20])] -= 7.0


def test_save_load_round_trip_without_pickle(fitted, tmp_path):
    shop, _, rm, ctx, _ = fitted
    path = rm.save(tmp_path / "response")
    back = ResponseModel.load(path)
    uids = shop.users[C.USER_ID].astype(str).to_numpy(object)[:50]
    np.testing.assert_allclose(back.predict_block(ctx, uids, DEEP), rm.predict_block(ctx, uids, DEEP))
    # a context built by the loaded model (its own encoders) gives the same probabilities
    hybrid, cutoff = fitted[1], fitted[4]
    known = shop.interactions[shop.interactions[C.TIMESTAMP] < cutoff]
    again = back.context(known, shop.users, shop.items, hybrid, cutoff)
    np.testing.assert_allclose(back.predict_block(again, uids, DEEP), rm.predict_block(ctx, uids, DEEP), rtol=1e-9)
    with np.load(path, allow_pickle=False) as arrays:
        assert set(arrays.files) == {"coef", "x_mean"}


def test_unfitted_and_unknown_ids_are_clear_errors(fitted):
    with pytest.raises(ResponseModelError, match="not fitted"):
        ResponseModel().predict_block(fitted[3], ["C000001"], ["OFF0001"])
    with pytest.raises(ResponseModelError, match="unknown offer"):
        fitted[2].predict_block(fitted[3], ["C000001"], ["NOPE"])


def test_customer_ranking_beats_the_raw_score_and_random_with_non_overlapping_intervals(fitted):
    shop, hybrid, rm, _, cutoff = fitted
    inter, users, items = shop.interactions, shop.users, shop.items
    rows = targeting_rows(inter, items, cutoff, horizon_days=14)
    ctx = rm.context(inter, users, items, hybrid, cutoff)
    scores = targeting_scores(rows, rm, ctx, hybrid, inter, users, items)
    report = evaluate_targeting(rows, scores, n_values=(50,), n_boot=300, min_responders=5)
    ours = report.summary.loc[(OURS, "auc")]
    for base in (RAW_SCORE, RANDOM):
        assert ours["low"] > report.summary.loc[(base, "auc"), "high"], report.verdict
    assert report.calibration[OURS]["largest_decile_gap"] < 0.06


def test_a_context_is_the_same_whatever_the_ids_dtype_and_lists_events_customers_first(fitted):
    shop, hybrid, rm, ctx, cutoff = fitted
    known = shop.interactions[shop.interactions[C.TIMESTAMP] < cutoff]
    as_objects = known.assign(**{C.USER_ID: known[C.USER_ID].astype(object), C.ITEM_ID: known[C.ITEM_ID].astype(object)})
    other = rm.context(as_objects, shop.users, shop.items, hybrid, cutoff)
    for name in ("user_ids", "item_ids", "user_matrix", "item_matrix", "live"):
        np.testing.assert_array_equal(getattr(other, name), getattr(ctx, name), err_msg=name)
    assert other.responded.equals(ctx.responded) and len(ctx.responded)
    # the universe: the events' ids in order of first appearance, then the tables' other ids
    for column, table, ids in ((C.USER_ID, shop.users, ctx.user_ids), (C.ITEM_ID, shop.items, ctx.item_ids)):
        expected = pd.unique(np.concatenate([known[column].astype(str).to_numpy(object),
                                             table[column].astype(str).to_numpy(object)]))
        assert list(ids) == list(expected)
    done = known[known[C.EVENT].isin(C.RESPONSE_EVENTS)]
    assert set(ctx.responded) == set(zip(done[C.USER_ID].astype(str), done[C.ITEM_ID].astype(str)))


def test_probability_of_scores_is_the_listed_chance_and_rises_with_this_offers_score(fitted):
    from recsys.insight.attribution import ScoreExplainer
    from recsys.insight.chance import offer_chances

    shop, hybrid, rm, ctx, _ = fitted
    explainer = ScoreExplainer(hybrid)
    user = str(hybrid.user_index_.ids[3])
    items = ["OFF0004", "OFF0001", "OFF0050"]
    row = explainer.score_all_items(explainer.user_rows([user]).toarray().ravel())
    listed = rm.predict_block(ctx, [user], items)
    np.testing.assert_allclose(rm.probability_of_scores(ctx, user, items, row[None, :]), listed, atol=1e-6)
    # every score of the customer shifted alike: the same chance (the offset cancels in the softmax)
    np.testing.assert_allclose(rm.probability_of_scores(ctx, user, items, row[None, :] + 5.0), listed, atol=1e-9)
    # this offer's score moved, the others held: its chance rises with it (the fitted weight of the fit is positive)
    assert rm.coef_[-1] > 0
    column = hybrid.item_index_.positions(["OFF0004"])[0]
    grid = row[column] + np.linspace(-3, 3, 7)
    chances = offer_chances(rm, ctx, explainer, user, "OFF0004", row, grid)
    assert chances.shape == (7,) and (np.diff(chances) > 0).all()
    assert chances[3] == pytest.approx(listed[0, 0], abs=1e-6)
    # a one-hot customer fact moves the response model's own term of it; a date column is held
    fact = next(iter(rm.user_encoder_.categorical))
    values = rm.user_encoder_.categorical[fact]
    moved = [rm.probability_of_scores(ctx, user, items, row[None, :], facts={fact: v})[0] for v in values]
    assert rm.sets_fact(fact) and len({round(float(m[0]), 9) for m in moved}) > 1
    assert not rm.sets_fact(next(iter(rm.user_encoder_.dates))) if rm.user_encoder_.dates else True
    with pytest.raises(ResponseModelError):
        rm.probability_of_scores(ctx, user, items, row[None, :-1])


def test_with_no_offer_live_a_pairs_chance_does_not_depend_on_the_other_offers_asked_for(fitted):
    """On a campaign day with no live offer the scores are compared over every offer, not over the offers
    a caller happened to ask for (before: one offer's chance moved from 0.55 to 0.75 with its companions)."""
    from dataclasses import replace

    from recsys.learn.response import compared_offers

    shop, hybrid, rm, ctx, _ = fitted
    none_live = replace(ctx, live=np.zeros_like(ctx.live))
    assert compared_offers(none_live.live).all() and (compared_offers(ctx.live) == ctx.live).all()
    users = [str(u) for u in hybrid.user_index_.ids[:5]]
    everything = rm.predict_block(none_live, users, list(ctx.item_ids))
    column = list(ctx.item_ids).index("OFF0004")
    for others in (["OFF0001"], ["OFF0050", "OFF0108"], []):
        asked = rm.predict_block(none_live, users, ["OFF0004", *others])[:, 0]
        np.testing.assert_allclose(asked, everything[:, column], rtol=1e-9)
    user = users[0]
    from recsys.insight.attribution import ScoreExplainer

    explainer = ScoreExplainer(hybrid)
    row = explainer.score_all_items(explainer.user_rows([user]).toarray().ravel())
    np.testing.assert_allclose(rm.probability_of_scores(none_live, user, ["OFF0004"], row[None, :])[0, 0],
                               everything[0, column], atol=1e-6)


def test_the_whole_list_in_chance_points_adds_up_to_each_offers_own_explanation(fitted):
    """Each listed offer's column of the list heatmap sums to the change in chance of its own waterfall
    (chance points), or to its whole gap (+-100%) without a response model; facts keep their sign."""
    from recsys.insight.attribution import OFFER_VIEW, ScoreExplainer
    from recsys.insight.chance import CHANCE_POINTS, GAP_SHARES, explain_offer, list_in_unit
    from recsys.insight.recommend import recommend_explained

    shop, hybrid, rm, ctx, _ = fitted
    explainer = ScoreExplainer(hybrid)
    user = str(hybrid.user_index_.ids[3])
    listed = recommend_explained(explainer, user, k=5, view=OFFER_VIEW)
    frame, unit = list_in_unit(listed, explainer, rm, ctx)
    assert unit == CHANCE_POINTS and list(frame.columns) == listed.recommendations[C.ITEM_ID].astype(str).tolist()
    raw = np.asarray(listed.explanation.values).T
    assert (np.sign(frame.to_numpy()) == np.sign(raw)).all()
    for item in frame.columns:
        own = explain_offer(listed, item, explainer, rm, ctx)
        assert frame[item].sum() == pytest.approx(own.end - own.start, abs=1e-9)
    shares, unit = list_in_unit(listed, explainer)  # no response model: shares of each offer's gap
    gaps = raw.sum(axis=0)
    assert unit == GAP_SHARES
    np.testing.assert_allclose(shares.sum().to_numpy(), np.sign(gaps), atol=1e-9)


def test_who_else_in_chance_points_gives_each_customer_their_own_explanations_change(fitted):
    """"Who else is it for" in chance points: each customer's row of one offer's drivers sums to the change in
    chance of that customer's own explanation of the offer (the batched response-model call equals one call
    per customer), facts keep their raw sign; without a response model each row is +-100% of its gap."""
    from recsys.insight import drivers as D
    from recsys.insight.attribution import OFFER_VIEW, ScoreExplainer
    from recsys.insight.chance import CHANCE_POINTS, GAP_SHARES, drivers_in_unit, explain_offer, offer_chances
    from recsys.insight.recommend import recommend_explained

    shop, hybrid, rm, ctx, _ = fitted
    explainer = ScoreExplainer(hybrid)
    users = hybrid.user_index_.ids[:40]
    raw = D.offer_drivers(explainer, "OFF0004", users, view=OFFER_VIEW)
    shown, unit = drivers_in_unit(raw, explainer, rm, ctx)
    assert unit == CHANCE_POINTS and shown.values.shape == raw.values.shape
    assert (np.sign(shown.values) == np.sign(raw.values)).all()
    gap = raw.values.sum(axis=1)
    for i in (0, 7, 39):  # one customer at a time, the single-customer path
        user = str(users[i])
        row = explainer.score_all_items(explainer.user_rows([user]).toarray().ravel())
        p0, p1 = offer_chances(rm, ctx, explainer, user, "OFF0004", row, [raw.base_values[i], raw.base_values[i] + gap[i]])
        assert shown.values[i].sum() == pytest.approx(p1 - p0, abs=1e-9)
    listed = recommend_explained(explainer, str(users[7]), k=len(hybrid.item_index_), view=OFFER_VIEW)
    if "OFF0004" in set(listed.recommendations[C.ITEM_ID].astype(str)):  # the waterfall of the same pair agrees
        own = explain_offer(listed, "OFF0004", explainer, rm, ctx)
        assert shown.values[7].sum() == pytest.approx(own.end - own.start, abs=1e-6)
    summary = shown.summary()  # means over customers are in chance points too
    assert summary[D.MEAN].abs().max() <= 1.0
    shares, unit = drivers_in_unit(raw, explainer)  # no response model: shares of each customer's gap
    assert unit == GAP_SHARES
    np.testing.assert_allclose(shares.values.sum(axis=1), np.sign(gap) * (gap != 0), atol=1e-9)
    _, unit = drivers_in_unit(D.offer_drivers(explainer, "OFF0004", users, view="score"), explainer, rm, ctx)
    assert unit == GAP_SHARES  # the average customer as the base: no chance of this score to split


def test_segment_profile_offers_by_their_chance_of_redeeming(fitted):
    """A segment card's offers with the response model: each offer's mean chance over the members (and over
    everyone) is the response model's own, its points above everyone their difference, and the card ranks its
    top offers by chance and its distinctive ones by the points above everyone; without it, nothing changes."""
    from recsys.insight import lift as L
    from recsys.insight import profiles as P
    from recsys.insight.segments import Segmentation

    shop, hybrid, rm, ctx, _ = fitted
    ids = np.asarray(hybrid.user_index_.ids, dtype=object)
    everyone = ids[:1500]
    members = everyone[::7]
    items = np.asarray(hybrid.item_index_.ids, dtype=object)
    scores = P.offer_scores(hybrid, members, sample_size=10_000, base_ids=everyone, response=(rm, ctx))
    np.testing.assert_allclose(scores["chance"], rm.predict_block(ctx, members, items).mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(scores["base_chance"], rm.predict_block(ctx, everyone, items).mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(scores["chance_uplift"], scores["chance"] - scores["base_chance"], atol=1e-15)
    plain = P.offer_scores(hybrid, members, sample_size=10_000, base_ids=everyone)
    assert "chance" not in plain.columns
    pd.testing.assert_frame_equal(plain, scores[plain.columns])  # the scores themselves are unchanged
    labels = pd.Series(np.where(np.isin(everyone, members), "a", "b"), index=pd.Index(everyone.astype(str)))
    seg = Segmentation.from_labels(labels, "columns", {})
    no_lifts = pd.DataFrame(columns=[L.SEGMENT, L.VALUE_LABEL, L.SHARE, L.LIFT])
    card = P.profile(seg, "a", interactions=shop.interactions, trait_lifts=no_lifts, offer_lifts=no_lifts,
                     model=hybrid, response=(rm, ctx))
    best = scores.sort_values(["chance", "top_k_share"], ascending=False)
    assert card.top_offers[C.ITEM_ID].tolist() == best[C.ITEM_ID].head(5).tolist()
    assert card.distinctive_offers["chance_uplift"].is_monotonic_decreasing
    assert card.distinctive_offers["chance_uplift"].iloc[0] == pytest.approx(scores["chance_uplift"].max())
