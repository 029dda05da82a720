"""Exact Shapley explanations: additivity, equality with shap's model-agnostic explainer, the
planted truth of the sample shop, global drivers, cold start, evidence, what-if and filters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import shap

from recsys.core import columns as C
from recsys.insight import attribution as A
from recsys.insight import drivers as D
from recsys.insight import recommend as R
from recsys.insight import whatif as W
from recsys.data import synth, synth_vocab
from recsys.learn.config import FeatureConfig
from recsys.learn.config import ModelConfig
from recsys.learn.model import HybridRecommender
from recsys.data.schema import ColumnKind, ColumnSpec, TableSchema

TRUTH_CONFIG = ModelConfig(epochs=10, no_components=16, random_state=0)  # fixed seed, single thread


# ------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def sample(sample_shop, sample_schemas):
    """The bundled sample shop and its (users, items) schemas (session fixtures: read-only)."""
    return sample_shop, *sample_schemas


@pytest.fixture(scope="module")
def hybrid(sample) -> HybridRecommender:
    """The default model (identity features on) trained on the committed sample shop."""
    shop, us, its = sample
    return HybridRecommender(TRUTH_CONFIG).fit(shop.interactions, shop.users, us, shop.items, its)


@pytest.fixture(scope="module")
def side_only(sample) -> HybridRecommender:
    """The same model without identity features: customers and offers are their facts only."""
    shop, us, its = sample
    features = FeatureConfig(user_identity=False, item_identity=False)
    return HybridRecommender(TRUTH_CONFIG, features).fit(shop.interactions, shop.users, us, shop.items, its)


@pytest.fixture(scope="module")
def explainer(hybrid) -> A.ScoreExplainer:
    return A.ScoreExplainer(hybrid)


@pytest.fixture(scope="module")
def small(small_shop, small_shop_schemas):
    """A tiny shop and model: one customer and one offer have no training interactions (cold)."""
    shop, (us, its) = small_shop, small_shop_schemas
    cold_user, cold_item = "C000001", "OFF0002"
    train = shop.interactions[(shop.interactions[C.USER_ID] != cold_user) & (shop.interactions[C.ITEM_ID] != cold_item)]
    model = HybridRecommender(ModelConfig(epochs=3, no_components=8, random_state=1)).fit(train, shop.users, us, shop.items, its)
    return shop, model, cold_user, cold_item


def _float64_scores(model: HybridRecommender, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Reference scores straight from the feature matrices and parameters (no explain code)."""
    x = sp.csr_matrix(model.user_feature_matrix(users), dtype=np.float64)
    y = sp.csr_matrix(model.item_feature_matrix(items), dtype=np.float64)
    p = np.asarray(x @ model.user_embeddings_.astype(np.float64))
    q = np.asarray(y @ model.item_embeddings_.astype(np.float64))
    return (p * q).sum(1) + x @ model.user_biases_.astype(np.float64) + y @ model.item_biases_.astype(np.float64)


# ------------------------------------------------------------------------------------ exactness
@pytest.mark.parametrize("view", list(A.VIEWS))
def test_additivity_on_random_pairs_of_the_sample(hybrid, explainer, view: str) -> None:
    rng = np.random.default_rng(7)
    users = rng.choice(hybrid.user_index_.ids, 500)
    items = rng.choice(hybrid.item_index_.ids, 500)
    ex = explainer.explain(users, items, view=view)
    total = ex.base_values + ex.values.sum(axis=1)
    reference = _float64_scores(hybrid, users, items)
    np.testing.assert_allclose(total, reference, rtol=0, atol=1e-6)
    # ... and the model's own float32 scores agree to float32 precision
    np.testing.assert_allclose(total, hybrid.score(users, items), rtol=0, atol=1e-4)
    # feature-level values summed per source column are the column-level values
    fx = explainer.explain(users[:60], items[:60], view=view, level="feature")
    np.testing.assert_allclose(fx.base_values + fx.values.sum(1), reference[:60], rtol=0, atol=1e-6)
    codes = np.r_[explainer.user_groups.code, len(explainer.user_groups) + explainer.item_groups.code]
    grouped = np.zeros((60, len(explainer.column_names)))
    np.add.at(grouped.T, codes, fx.values.T)
    np.testing.assert_allclose(grouped, ex.values[:60], rtol=0, atol=1e-9)


def test_baseline_is_the_mean_score_over_all_pairs(hybrid, explainer) -> None:
    x = sp.csr_matrix(hybrid.user_features_, dtype=np.float64)
    y = sp.csr_matrix(hybrid.item_features_, dtype=np.float64)
    p, q = x @ hybrid.user_embeddings_.astype(np.float64), y @ hybrid.item_embeddings_.astype(np.float64)
    all_scores = p @ q.T + (x @ hybrid.user_biases_.astype(np.float64))[:, None] + y @ hybrid.item_biases_.astype(np.float64)
    assert all_scores.shape == (len(hybrid.user_index_), len(hybrid.item_index_))
    assert explainer.base_value == pytest.approx(all_scores.mean(), abs=1e-6)
    assert A.Baseline.average(hybrid).description == "the average customer and the average offer"


def test_views_split_main_effects_and_interactions(hybrid, explainer) -> None:
    users = np.repeat(hybrid.user_index_.ids[:3], 4)
    items = np.tile(hybrid.item_index_.ids[:4], 3)
    full = explainer.explain(users, items, view="score")
    offer = explainer.explain(users, items, view="offer")
    customer = explainer.explain(users, items, view="customer")
    gu = len(explainer.user_groups)
    # offer view base = score(this customer, average offer): equal for all offers of one customer
    base = offer.base_values.reshape(3, 4)
    np.testing.assert_allclose(base, base[:, :1].repeat(4, 1), atol=1e-9)
    assert not np.allclose(base[:, 0], base[0, 0])  # ... and differs between customers
    # customer columns: score view - offer view = main effect, the same for every offer
    main = (full.values - offer.values)[:, :gu].reshape(3, 4, gu)
    np.testing.assert_allclose(main, main[:, :1].repeat(4, 1), atol=1e-9)
    np.testing.assert_allclose(offer.values[:, gu:], full.values[:, gu:], atol=1e-12)
    np.testing.assert_allclose(customer.values[:, :gu], full.values[:, :gu], atol=1e-12)
    # interaction halves: a customer column's offer-view value is half its row of the interaction table
    inter = explainer.column_interactions(explainer.user_rows(users), explainer.item_rows(items))
    np.testing.assert_allclose(offer.values[:, :gu], 0.5 * inter.sum(axis=2), atol=1e-9)
    np.testing.assert_allclose(customer.values[:, gu:], 0.5 * inter.sum(axis=1), atol=1e-9)


@pytest.fixture(scope="module")
def tiny_side_only() -> HybridRecommender:
    """A tiny model of facts only (no identity features), trained once for the module: read-only."""
    shop = synth.generate(n_users=200, n_items=25, seed=5)
    user_schema = TableSchema((ColumnSpec(synth_vocab.SEGMENT, ColumnKind.CATEGORICAL),))
    item_schema = TableSchema((ColumnSpec(synth_vocab.CHANNEL, ColumnKind.CATEGORICAL),
                               ColumnSpec(synth_vocab.CAMPAIGN_TYPE, ColumnKind.CATEGORICAL)))
    features = FeatureConfig(user_identity=False, item_identity=False)
    return HybridRecommender(ModelConfig(epochs=3, no_components=4, random_state=2), features).fit(
        shop.interactions, shop.users, user_schema, shop.items, item_schema)


@pytest.mark.parametrize("view", list(A.VIEWS))
def test_feature_values_equal_shap_exact_explainer(tiny_side_only, view: str) -> None:
    """Every model feature is a player: 5 segments + 4 channels + 5 campaign types = 14 players."""
    model = tiny_side_only
    ex = A.ScoreExplainer(model)
    fu = model.user_features_.shape[1]
    x0, y0 = ex.baseline.user_weights, ex.baseline.item_weights
    assert fu + len(y0) == 14

    def lightfm_score(z: np.ndarray) -> np.ndarray:  # LightFM's own predict on masked feature rows
        n = len(z)
        ids = np.arange(n, dtype=np.int32)
        s = model.lightfm_.predict(ids, ids, user_features=sp.csr_matrix(z[:, :fu].astype(np.float32)),
                                   item_features=sp.csr_matrix(z[:, fu:].astype(np.float32)))
        return np.asarray(s, dtype=np.float64)

    def value(z: np.ndarray) -> np.ndarray:
        """The game of the view, evaluated with LightFM's predict."""
        z = np.atleast_2d(z)
        if view == "offer":  # score(x, y) - score(x, y')
            return lightfm_score(z) - lightfm_score(np.hstack([z[:, :fu], np.broadcast_to(y0, (len(z), len(y0)))]))
        if view == "customer":  # score(x, y) - score(x', y)
            return lightfm_score(z) - lightfm_score(np.hstack([np.broadcast_to(x0, (len(z), fu)), z[:, fu:]]))
        return lightfm_score(z)

    users = model.user_index_.ids[[0, 7, 42]]
    items = model.item_index_.ids[[1, 3, 9]]
    rows = np.hstack([model.user_feature_matrix(users).toarray(), model.item_feature_matrix(items).toarray()])
    background = np.r_[x0, y0][None, :]
    reference = shap.explainers.Exact(value, shap.maskers.Independent(background, max_samples=1))(rows)
    ours = ex.explain(users, items, level="feature", view=view)
    np.testing.assert_allclose(ours.values, reference.values, rtol=0, atol=2e-5)  # LightFM predicts in float32
    assert np.abs(ours.values).max() > 1e-2  # not trivially zero
    # both add up: ours to the score, shap's to the view's game value(x, y) from value(x', y')
    np.testing.assert_allclose(ours.base_values + ours.values.sum(1), lightfm_score(rows), atol=1e-5)
    np.testing.assert_allclose(reference.base_values + reference.values.sum(1), value(rows), atol=1e-5)


def test_column_values_equal_shap_exact_explainer_on_the_sample(side_only) -> None:
    """Source columns of the sample shop as players (4 + 10): the same game, 16,384 coalitions.

    (With identity features there are 16 columns; the closed form is the same, only shap is slower.)
    """
    hybrid, explainer = side_only, A.ScoreExplainer(side_only)
    ur = explainer.user_groups
    ir = explainer.item_groups
    users = hybrid.user_index_.ids[[1500]]
    items = hybrid.item_index_.ids[[120]]
    x = explainer.user_rows(users).toarray()
    y = explainer.item_rows(items).toarray()
    x0, y0 = explainer.baseline.user_weights, explainer.baseline.item_weights
    eu, bu = hybrid.user_embeddings_.astype(np.float64), hybrid.user_biases_.astype(np.float64)
    ei, bi = hybrid.item_embeddings_.astype(np.float64), hybrid.item_biases_.astype(np.float64)
    gu, gi = len(ur), len(ir)
    ours = explainer.explain(users, items)
    for j in range(len(users)):
        # each column moves all of its features from the baseline to the pair's weights at once
        du = np.zeros((gu, len(x0)))
        du[ur.code, np.arange(len(x0))] = (x[j] - x0)
        di = np.zeros((gi, len(y0)))
        di[ir.code, np.arange(len(y0))] = (y[j] - y0)

        def value(z: np.ndarray) -> np.ndarray:
            xs, ys = x0 + z[:, :gu] @ du, y0 + z[:, gu:] @ di
            return ((xs @ eu) * (ys @ ei)).sum(1) + xs @ bu + ys @ bi

        reference = shap.explainers.Exact(value, shap.maskers.Independent(np.zeros((1, gu + gi)), max_samples=1))(
            np.ones((1, gu + gi)))
        np.testing.assert_allclose(ours.values[j], reference.values[0], rtol=0, atol=1e-8)
        assert reference.base_values[0] == pytest.approx(explainer.base_value, abs=1e-8)


def test_permutation_explainer_agrees_with_the_closed_form(tiny_side_only) -> None:
    model = tiny_side_only
    ex = A.ScoreExplainer(model)
    fu = model.user_features_.shape[1]
    eu, bu = model.user_embeddings_.astype(np.float64), model.user_biases_.astype(np.float64)
    ei, bi = model.item_embeddings_.astype(np.float64), model.item_biases_.astype(np.float64)

    def value(z: np.ndarray) -> np.ndarray:
        return ((z[:, :fu] @ eu) * (z[:, fu:] @ ei)).sum(1) + z[:, :fu] @ bu + z[:, fu:] @ bi

    rows = np.hstack([model.user_feature_matrix(["C000010"]).toarray(), model.item_feature_matrix(["OFF0004"]).toarray()])
    background = np.r_[ex.baseline.user_weights, ex.baseline.item_weights][None, :]
    perm = shap.explainers.Permutation(value, shap.maskers.Independent(background, max_samples=1), seed=0)(rows, max_evals=2000)
    ours = ex.explain(["C000010"], ["OFF0004"], level="feature")
    # a second-order game: antithetic permutations are exact up to rounding
    np.testing.assert_allclose(ours.values, perm.values, atol=1e-8)


# ------------------------------------------------------------------------------------ the planted truth
def _pairs(shop: synth.SyntheticShop, segment: str | None, region: str | None, deep: bool | None, channel: str | None):
    u, it = shop.users, shop.items
    users = u.loc[(u[synth_vocab.SEGMENT] == segment) if segment else (u[synth_vocab.REGION] == region), C.USER_ID].to_numpy(object)
    mask = (it[synth_vocab.DISCOUNT_DEPTH] >= 30) if deep else (it[synth_vocab.CHANNEL] == channel)
    items = it.loc[mask, C.ITEM_ID].to_numpy(object)
    return np.repeat(users, len(items)), np.tile(items, len(users))


def _column_values(ex: A.ScoreExplainer, users: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(column names, list-view values) of many pairs (the numbers of ``explain``, without labels)."""
    values, _, _ = ex.column_values(ex.user_rows(users), ex.item_rows(items), A.LIST_VIEW)
    return np.asarray(ex.column_names), values


def _top_share(names: np.ndarray, values: np.ndarray) -> pd.Series:
    return pd.Series(names[np.argmax(values, axis=1)]).value_counts(normalize=True)


def _interaction_tops(ex: A.ScoreExplainer, users: np.ndarray, items: np.ndarray, side_only: bool) -> pd.Series:
    inter = ex.column_interactions(ex.user_rows(users), ex.item_rows(items))
    cells = np.array([(a, b) for a in ex.user_groups.names for b in ex.item_groups.names], dtype=object)
    keep = np.array([not (ga or gb) for ga in ex.user_groups.identity for gb in ex.item_groups.identity])
    flat = inter.reshape(len(inter), -1)
    if side_only:
        flat, cells = flat[:, keep], cells[keep]
    return pd.Series([f"{a} x {b}" for a, b in cells[np.argmax(flat, axis=1)]]).value_counts(normalize=True)


def test_planted_driver_leads_without_identity_features(sample, side_only) -> None:
    """Deal seekers x deep discounts (57,480 pairs), explained in the list view.

    Found (seed 0, 10 epochs, 16 components): segment x discount_depth is the largest interaction
    of 92% of the pairs; segment is the top customer column for 92%; discount_depth is the most
    frequent top column overall (40%; the offer's recency and category often weigh more).
    """
    shop, _, _ = sample
    ex = A.ScoreExplainer(side_only)
    users, items = _pairs(shop, "deal_seeker", None, True, None)
    names, values = _column_values(ex, users, items)
    gu = len(ex.user_groups)
    assert _interaction_tops(ex, users, items, side_only=False).get("segment x discount_depth", 0) >= 0.8
    assert _top_share(names[:gu], values[:, :gu]).get("segment", 0) >= 0.8
    overall = _top_share(names, values)
    assert overall.index[0] == "discount_depth"
    top2 = names[np.argsort(-values, axis=1)[:, :2]]
    assert np.isin(top2, ["segment", "discount_depth"]).any(axis=1).mean() >= 0.7
    # region north x app offers, the second planted effect
    users, items = _pairs(shop, None, "north", None, "app")
    assert _interaction_tops(ex, users, items, side_only=False).get("region x channel", 0) >= 0.6


def test_planted_driver_with_identity_features(sample, hybrid, explainer) -> None:
    """With identity features (the default), the customer's own history takes a share.

    Found: segment x discount_depth is still the most frequent largest interaction (58%), but the
    customer's identity x category (their individual category taste) is the largest for 22%;
    among side features segment x discount_depth leads for 93%. Top columns overall:
    discount_depth 33%, the offer's own track record 23%.
    """
    shop, _, _ = sample
    users, items = _pairs(shop, "deal_seeker", None, True, None)
    names, values = _column_values(explainer, users, items)
    gu = len(explainer.user_groups)
    tops = _interaction_tops(explainer, users, items, side_only=False)
    assert tops.index[0] == "segment x discount_depth" and tops.iloc[0] >= 0.4
    assert _interaction_tops(explainer, users, items, side_only=True).get("segment x discount_depth", 0) >= 0.8
    assert _top_share(names[:gu], values[:, :gu]).index[0] == "segment"
    assert _top_share(names, values).index[0] == "discount_depth"
    users, items = _pairs(shop, None, "north", None, "app")
    assert _interaction_tops(explainer, users, items, side_only=True).get("region x channel", 0) >= 0.6


def test_global_drivers_of_deep_and_shallow_offers(sample, side_only) -> None:
    """Across customers, deal seekers lift deep discounts the most and shallow ones the least."""
    shop, _, _ = sample
    ex = A.ScoreExplainer(side_only)
    items = shop.items.sort_values([synth_vocab.DISCOUNT_DEPTH, C.ITEM_ID])
    means = {}
    for name, offers in (("deep", items[C.ITEM_ID].tail(4)), ("shallow", items[C.ITEM_ID].head(4))):
        frames = [D.offer_drivers(ex, i, max_users=2000, seed=1).summary() for i in offers]
        means[name] = pd.concat(frames).groupby(A.CONTRIBUTOR)[D.MEAN].mean().sort_values()
    assert means["deep"].index[-1] == "segment = deal_seeker" and means["deep"].iloc[-1] > 0
    assert means["shallow"].index[0] == "segment = deal_seeker" and means["shallow"].iloc[0] < 0
    # premium customers are (planted) put off by deep discounts
    assert means["deep"]["segment = premium"] < 0


def test_offer_drivers_rows_summary_and_points(sample, hybrid, explainer) -> None:
    d = D.offer_drivers(explainer, "OFF0004", max_users=500, seed=3)
    assert d.values.shape == (500, len(explainer.column_names)) and len(d.user_ids) == 500
    single = explainer.explain(d.user_ids[:5], ["OFF0004"] * 5, view=A.LIST_VIEW)
    np.testing.assert_allclose(d.values[:5], single.values, atol=1e-9)
    np.testing.assert_allclose(d.base_values[:5], single.base_values, atol=1e-9)
    as_shap = d.explanation()
    np.testing.assert_array_equal(as_shap.display_data[:5], single.display_data)  # the same labels as explain()
    np.testing.assert_allclose(as_shap.values, d.values)
    summary = d.summary()
    assert summary[D.CUSTOMERS].groupby(summary[A.COLUMN]).sum().eq(500).all()  # every customer once per column
    assert set(summary[A.COLUMN]) <= {n for n, s in explainer.sides.items() if s == A.CUSTOMER_SIDE}
    assert summary[D.MEAN].is_monotonic_decreasing
    # a trait's numbers are those of its customers
    users = sample[0].users.set_index(C.USER_ID).loc[d.user_ids]
    seg = d.values[:, list(d.column_names).index("segment")]
    deal = (users[synth_vocab.SEGMENT] == "deal_seeker").to_numpy()
    row = summary.set_index(A.CONTRIBUTOR).loc["segment = deal_seeker"]
    assert row[D.CUSTOMERS] == deal.sum() and row[D.MEAN] == pytest.approx(seg[deal].mean())
    assert row[D.SHARE_UP] == pytest.approx((seg[deal] > 0).mean())
    history = summary.set_index(A.CONTRIBUTOR).loc["this customer's own history"]
    assert history[D.CUSTOMERS] == (hybrid.user_index_.positions(d.user_ids) < hybrid.n_warm_users_).sum()
    points = d.points(max_points=20)
    assert points.groupby(A.CONTRIBUTOR).size().max() <= 20
    assert set(points[A.CONTRIBUTOR]) == set(summary[A.CONTRIBUTOR])
    pick = points[points[A.CONTRIBUTOR] == "segment = deal_seeker"][A.ATTRIBUTION]
    assert np.isin(pick, seg[deal]).all()
    # the binned spread counts every customer once per trait, at most `bins` rows a trait
    spread = d.spread(bins=8)
    by_trait = spread.groupby(A.CONTRIBUTOR)
    assert by_trait[D.CUSTOMERS].sum().reindex(summary[A.CONTRIBUTOR]).tolist() == summary[D.CUSTOMERS].tolist()
    weighted = (spread[A.ATTRIBUTION] * spread[D.CUSTOMERS]).groupby(spread[A.CONTRIBUTOR]).sum() / by_trait[D.CUSTOMERS].sum()
    np.testing.assert_allclose(weighted.reindex(summary[A.CONTRIBUTOR]), summary[D.MEAN], atol=1e-9)
    assert by_trait.size().max() <= 8 and by_trait.size()["this customer's own history"] > 1  # history spreads
    deal_row = spread[spread[A.CONTRIBUTOR] == "segment = deal_seeker"]  # one value for everyone who has it
    assert len(deal_row) == 1 and deal_row[A.ATTRIBUTION].iloc[0] == pytest.approx(seg[deal].mean())
    # rows given directly (e.g. a large audience of new customers)
    rows = hybrid.user_features_[:50]
    direct = D.offer_drivers(explainer, "OFF0004", user_rows=rows)
    np.testing.assert_allclose(direct.values, D.offer_drivers(explainer, "OFF0004", hybrid.user_index_.ids[:50]).values, atol=1e-9)


# ------------------------------------------------------------------------------------ lists, labels, cold start
def test_recommend_explained_is_the_models_list(hybrid, explainer) -> None:
    user = "C000004"
    got = R.recommend_explained(explainer, user, 10, view=A.LIST_VIEW)
    ref = hybrid.recommend([user], k=10)
    assert got.recommendations[C.ITEM_ID].tolist() == ref[C.ITEM_ID].tolist()
    assert got.recommendations[C.RANK].tolist() == list(range(1, 11))
    np.testing.assert_allclose(got.recommendations[C.SCORE], ref[C.SCORE], atol=1e-4)
    first = got.recommendations[C.ITEM_ID].iloc[0]
    parts = got.contributions(first, top=4)
    assert len(parts) == 5 and parts[A.CONTRIBUTOR].iloc[-1].startswith("other (")
    assert got.base_value(first) + parts[A.ATTRIBUTION].sum() == pytest.approx(got.recommendations[C.SCORE].iloc[0], abs=1e-9)
    assert parts[A.ATTRIBUTION].iloc[:4].abs().is_monotonic_decreasing
    assert all(r and ("+" in r or "-" in r) for r in got.recommendations[R.REASON])
    drivers = got.drivers()
    assert list(drivers.columns[1:]) == got.recommendations[C.ITEM_ID].tolist()
    # exclusions and candidates
    banned = got.recommendations[C.ITEM_ID].iloc[:3].tolist()
    again = R.recommend_explained(explainer, user, 10, exclude=banned)
    assert not set(banned) & set(again.recommendations[C.ITEM_ID])
    only = R.recommend_explained(explainer, user, 10, candidates=banned)
    assert set(only.recommendations[C.ITEM_ID]) == set(banned)


def test_labels_name_the_customers_and_offers_values(sample, hybrid, explainer) -> None:
    shop, _, _ = sample
    user, item = "C000004", "OFF0002"
    e = explainer.explain([user], [item])[0]
    shown = dict(zip(e.feature_names, e.display_data))
    values = dict(zip(e.feature_names, e.data))
    urow = shop.users.set_index(C.USER_ID).loc[user]
    irow = shop.items.set_index(C.ITEM_ID).loc[item]
    assert shown["segment"] == f"segment = {urow[synth_vocab.SEGMENT]}" and values["segment"] == urow[synth_vocab.SEGMENT]
    assert shown["channel"] == f"channel = {irow[synth_vocab.CHANNEL]}"
    assert shown["this customer's own history"] == "this customer's own history"
    assert set(values["tags"].split(", ")) == set(irow[synth_vocab.TAGS].split("|"))
    assert shown["discount_depth"].startswith("discount_depth ")


def test_explanations_select_rows_and_become_shap_explanations(explainer) -> None:
    ours = explainer.explain(["C000004", "C000005", "C000006"], ["OFF0001", "OFF0002", "OFF0003"])
    assert "shap" not in type(ours).__module__  # no shap import needed to explain
    row = ours[1]
    np.testing.assert_array_equal(row.values, ours.values[1])
    assert float(row.base_values) == float(ours.base_values[1]) and row.instance_names == ours.instance_names[1]
    assert len(ours[0:2]) == 2 and list(ours[[2, 0]].display_data[:, 0]) == [ours.display_data[2, 0], ours.display_data[0, 0]]
    e = ours.to_shap()
    np.testing.assert_array_equal(e.values, ours.values)
    seg = e[:, "segment"]
    np.testing.assert_allclose(seg.values, e.values[:, list(e.feature_names).index("segment")])
    assert e.abs.mean(0).values.shape == (len(explainer.column_names),)
    assert e[1].values.shape == (len(explainer.column_names),)
    assert isinstance(e[0:2], shap.Explanation)


def test_shap_plots_draw_the_explanations(explainer) -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    e = explainer.explain(["C000004"] * 4, ["OFF0001", "OFF0002", "OFF0003", "OFF0004"]).to_shap()
    shap.plots.waterfall(e[0], show=False)
    shap.plots.bar(e, show=False)


def test_cold_customers_and_offers_are_explained(small) -> None:
    shop, model, cold_user, cold_item = small
    ex = A.ScoreExplainer(model)
    assert model.user_index_.positions([cold_user])[0] >= model.n_warm_users_
    assert model.item_index_.positions([cold_item])[0] >= model.n_warm_items_
    users = [cold_user, cold_user, "C000002"]
    items = [cold_item, "OFF0001", cold_item]
    e = ex.explain(users, items, view=A.LIST_VIEW)
    np.testing.assert_allclose(e.base_values + e.values.sum(1), _float64_scores(model, np.array(users), np.array(items)), atol=1e-6)
    shown = pd.DataFrame(e.display_data, columns=e.feature_names)
    assert shown.loc[0, "this customer's own history"] == A.NO_USER_HISTORY
    assert shown.loc[0, "this offer's own track record"] == A.NO_ITEM_HISTORY
    assert shown.loc[2, "this customer's own history"] == "this customer's own history"
    # a customer the model has never heard of, described by a users-table row
    new = shop.users[shop.users[C.USER_ID] == "C000003"].assign(**{C.USER_ID: "brand-new"})
    fresh = ex.explain(["brand-new"], ["OFF0001"], new_users=new)
    assert fresh.base_values[0] + fresh.values[0].sum() == pytest.approx(
        float(model.score(["brand-new"], ["OFF0001"], new_users=new)[0]), abs=1e-4)
    listed = R.recommend_explained(ex, "brand-new", 5, new_users=new)
    assert len(listed.recommendations) == 5
    assert (listed.explanation.display_data[:, 0] == A.NO_USER_HISTORY).all()


# ------------------------------------------------------------------------------------ evidence
def test_similar_history_is_the_customers_own_responses_by_cosine(hybrid) -> None:
    user = "C000004"
    upos = hybrid.user_index_.positions([user])[0]
    past = set(hybrid.item_index_.ids[hybrid.seen_[upos].indices])
    target = hybrid.recommend([user], k=1)[C.ITEM_ID].iloc[0]
    found = D.similar_history(hybrid, user, target, n=3)
    assert len(found) == 3 and set(found[C.ITEM_ID]) <= past and target not in set(found[C.ITEM_ID])
    assert found[D.SIMILARITY].is_monotonic_decreasing
    _, vecs = hybrid.item_representations([found[C.ITEM_ID].iloc[0], target])
    cos = float(vecs[0] @ vecs[1] / np.linalg.norm(vecs[0]) / np.linalg.norm(vecs[1]))
    assert found[D.SIMILARITY].iloc[0] == pytest.approx(cos, abs=1e-5)
    # every other past response is less similar than the third shown
    _, all_past = hybrid.item_representations(sorted(past - {target}))
    _, t = hybrid.item_representations([target])
    sims = all_past @ t[0] / np.linalg.norm(all_past, axis=1) / np.linalg.norm(t[0])
    assert np.sort(sims)[-3] == pytest.approx(found[D.SIMILARITY].iloc[2], abs=1e-5)


def test_similar_history_names_the_strongest_event(sample, hybrid) -> None:
    shop, _, _ = sample
    user = "C000004"
    history = shop.interactions[shop.interactions[C.USER_ID] == user]
    found = D.similar_history(hybrid, user, "OFF0001", history=history, n=50)
    strongest = history.assign(w=history[C.EVENT].map(C.DEFAULT_EVENT_WEIGHTS)).sort_values("w").groupby(C.ITEM_ID)["w"].max()
    expect = set(strongest[strongest > 0].index) - {"OFF0001"}
    assert set(found[C.ITEM_ID]) == expect
    assert set(found[C.EVENT]) <= {C.CLICK, C.REDEEM, C.PURCHASE, C.VIEW}


def test_similar_responders_responded_and_are_closest(hybrid) -> None:
    user, item = "C000004", "OFF0014"
    found = D.similar_responders(hybrid, user, item, n=5)
    ipos = hybrid.item_index_.positions([item])[0]
    responders = set(hybrid.user_index_.ids[hybrid.seen_[:, [ipos]].tocoo().row]) - {user}
    assert len(found) == 5 and set(found[C.USER_ID]) <= responders
    assert found[D.SIMILARITY].is_monotonic_decreasing
    _, vecs = hybrid.user_representations(sorted(responders))
    _, me = hybrid.user_representations([user])
    sims = vecs @ me[0] / np.linalg.norm(vecs, axis=1) / np.linalg.norm(me[0])
    assert found[D.SIMILARITY].iloc[0] == pytest.approx(sims.max(), abs=1e-5)


# ------------------------------------------------------------------------------------ what-if
def test_what_if_changes_one_fact_and_keeps_the_rest(sample, hybrid, explainer) -> None:
    user = "C000004"  # a deal seeker
    assert "segment" in W.changeable_columns(explainer) and "tags" not in W.changeable_columns(explainer)
    assert "premium" in W.column_choices(explainer, "segment")
    w = W.what_if(explainer, user, "segment", "premium", k=10)
    assert (w.old_value, w.new_value) == ("deal_seeker", "premium")
    listed = R.recommend_explained(explainer, user, 10, view=A.LIST_VIEW)
    assert w.before.recommendations[C.ITEM_ID].tolist() == listed.recommendations[C.ITEM_ID].tolist()
    after = pd.DataFrame(w.after.explanation.display_data, columns=w.after.explanation.feature_names)
    assert (after["segment"] == "segment = premium").all()
    assert (after["this customer's own history"] == "this customer's own history").all()  # identity kept
    e = w.after.explanation
    np.testing.assert_allclose(e.base_values + e.values.sum(1), w.after.recommendations[C.SCORE], atol=1e-9)
    # the planted effect: a premium customer loses deep discounts from the list
    depth = sample[0].items.set_index(C.ITEM_ID)[synth_vocab.DISCOUNT_DEPTH]
    assert depth[w.after.recommendations[C.ITEM_ID]].mean() < depth[w.before.recommendations[C.ITEM_ID]].mean()
    assert set(w.changes[W.CHANGE]) - {"same place"}
    same = W.what_if(explainer, user, "segment", "deal_seeker", k=10)
    assert (same.changes[W.CHANGE] == "same place").all()
    with pytest.raises(ValueError, match="cannot be changed"):
        W.what_if(explainer, user, "tags", "x")
    with pytest.raises(ValueError, match="not a value of 'segment'"):
        W.what_if(explainer, user, "segment", "nobody")


# ------------------------------------------------------------------------------------ filters and errors
def test_active_items_and_redeemed_items() -> None:
    items = pd.DataFrame({C.ITEM_ID: ["a", "b", "c", "d"],
                          "start_date": ["2026-01-01", "2026-02-01", None, "2026-01-01"],
                          "end_date": ["2026-01-31", "2026-03-01", "2026-01-10", None]})
    schema = TableSchema((ColumnSpec("start_date", ColumnKind.DATE), ColumnSpec("end_date", ColumnKind.DATE)))
    assert R.date_window_columns(schema) == ("start_date", "end_date")
    assert R.active_items(items, "2026-01-31", "start_date", "end_date").tolist() == ["a", "d"]
    assert R.active_items(items, "2026-01-05 13:00", "start_date", "end_date").tolist() == ["a", "c", "d"]
    inter = pd.DataFrame({C.USER_ID: ["u", "u", "u", "v"], C.ITEM_ID: ["a", "b", "c", "d"],
                          C.EVENT: ["redeem", "click", "Purchase ", "redeem"]})
    assert sorted(R.redeemed_items(inter, "u")) == ["a", "c"]


def test_recommend_for_customer_applies_the_filters(sample, hybrid, explainer) -> None:
    shop, us, its = sample

    class _Info:
        item_schema = its

    newcomer = shop.users.head(1).assign(**{C.USER_ID: "NEWBIE"})  # e.g. appended after training

    class _Dataset:  # the fields of data.dataset.Dataset that are used
        info, interactions, items = _Info(), shop.interactions, shop.items
        users = pd.concat([shop.users, newcomer], ignore_index=True)

    user = "C000004"
    redeemed = set(R.redeemed_items(shop.interactions, user))
    assert redeemed
    listed = R.recommend_for_customer(explainer, user, _Dataset(), k=10)
    assert not redeemed & set(listed.recommendations[C.ITEM_ID]) and listed.view == A.LIST_VIEW
    day = pd.Timestamp("2026-06-15")
    active = set(R.active_items(shop.items, day, "start_date", "end_date"))
    dated = R.recommend_for_customer(explainer, user, _Dataset(), k=10, active_on=day)
    assert set(dated.recommendations[C.ITEM_ID]) <= active - redeemed
    responded = R.recommend_for_customer(explainer, user, _Dataset(), k=10, exclude="responded")
    upos = hybrid.user_index_.positions([user])[0]
    assert not set(hybrid.item_index_.ids[hybrid.seen_[upos].indices]) & set(responded.recommendations[C.ITEM_ID])
    with pytest.raises(ValueError, match="not known to this model and has no row"):
        R.recommend_for_customer(explainer, "nobody", _Dataset())
    fresh = R.recommend_for_customer(explainer, "NEWBIE", _Dataset(), k=5)  # scored from their facts
    direct = hybrid.recommend(["NEWBIE"], k=5, new_users=newcomer)
    assert fresh.recommendations[C.ITEM_ID].tolist() == direct[C.ITEM_ID].tolist()
    with pytest.raises(ValueError, match="exclude must be one of"):
        R.recommend_for_customer(explainer, user, _Dataset(), exclude="everything")


def test_clear_errors(hybrid, explainer) -> None:
    with pytest.raises(ValueError, match="same length"):
        explainer.explain(["C000004"], ["OFF0001", "OFF0002"])
    with pytest.raises(ValueError, match="unknown to the model"):
        explainer.explain(["nobody"], ["OFF0001"])
    with pytest.raises(ValueError, match="view must be one of"):
        explainer.explain(["C000004"], ["OFF0001"], view="both")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at most"):
        explainer.feature_values(hybrid.user_features_[:3000], hybrid.item_features_[:1])
    with pytest.raises(ValueError, match="do not match"):
        A.ScoreExplainer(hybrid, A.Baseline(np.zeros(3), np.zeros(3)))
    reference = A.ScoreExplainer(hybrid, A.Baseline.reference(hybrid, "C000005", "OFF0003"))
    e = reference.explain(["C000005"], ["OFF0003"])
    assert np.abs(e.values).max() == 0.0  # the reference pair against itself
    assert reference.baseline.compared_with("offer") == "this customer with offer OFF0003"
    listed = R.recommend_explained(reference, "C000004", 3, view=A.SCORE_VIEW)
    assert listed.compared_with == "customer C000005 with offer OFF0003"
    assert listed.base_value(listed.recommendations[C.ITEM_ID].iloc[0]) == pytest.approx(
        float(_float64_scores(hybrid, np.array(["C000005"]), np.array(["OFF0003"]))[0]), abs=1e-9)
