"""The Chinese sample shop keeps the planted truth: its explanations lead with Chinese words.

The same approach as tests/insight/test_explain.py (the planted-truth section), on the committed sample
rewritten in Chinese by :func:`recsys.data.synth_zh.to_chinese`: deal seekers (价格敏感型) x deep
discounts is the planted driver, premium customers (高端品质型) are put off by deep discounts.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from recsys.core import columns as C
from recsys.data import synth_vocab, synth_zh
from recsys.data.schema import ColumnKind, infer_schema
from recsys.insight import attribution as A
from recsys.insight import drivers as D
from recsys.learn.config import FeatureConfig, ModelConfig
from recsys.learn.model import HybridRecommender

# One 10-epoch model on the 4,000-customer sample: about 5 s, so not marked slow.

TRUTH_CONFIG = ModelConfig(epochs=10, no_components=16, random_state=0)  # as test_explain.py


@pytest.fixture(scope="module")
def chinese(sample_shop):
    shop = synth_zh.to_chinese(sample_shop)
    users_schema = infer_schema(shop.users, C.USER_ID, identifiers={synth_vocab.EMAIL})
    inferred = infer_schema(shop.items, C.ITEM_ID)  # descriptions repeat: typed categorical; read them as text
    items_schema = dataclasses.replace(inferred, columns=tuple(
        dataclasses.replace(spec, kind=ColumnKind.TEXT) if spec.name == synth_vocab.DESCRIPTION else spec
        for spec in inferred.columns))
    model = HybridRecommender(TRUTH_CONFIG, FeatureConfig(user_identity=False, item_identity=False)).fit(
        shop.interactions, shop.users, users_schema, shop.items, items_schema)
    return shop, items_schema, A.ScoreExplainer(model)


def test_the_chinese_shop_is_the_same_shop_in_chinese(sample_shop, chinese):
    shop, _, _ = chinese
    assert shop.interactions.equals(sample_shop.interactions)
    assert (shop.items[synth_vocab.DISCOUNT_DEPTH] == sample_shop.items[synth_vocab.DISCOUNT_DEPTH]).all()
    english = shop.users[synth_vocab.SEGMENT].map(synth_zh.english_name)
    assert (english == sample_shop.users[synth_vocab.SEGMENT].astype(str)).all()
    assert shop.items[synth_vocab.DESCRIPTION].str.contains(r"[\u4e00-\u9fff]").all()
    assert not shop.items[synth_vocab.TITLE].duplicated().any()


def test_deal_seekers_lead_the_drivers_of_deep_discounts_in_chinese(chinese):
    """Across customers, 价格敏感型 lifts deep discounts the most and shallow ones the least (planted)."""
    shop, _, ex = chinese
    items = shop.items.sort_values([synth_vocab.DISCOUNT_DEPTH, C.ITEM_ID])
    means = {}
    for name, offers in (("deep", items[C.ITEM_ID].tail(4)), ("shallow", items[C.ITEM_ID].head(4))):
        frames = [D.offer_drivers(ex, i, max_users=2000, seed=1).summary() for i in offers]
        means[name] = pd.concat(frames).groupby(A.CONTRIBUTOR)[D.MEAN].mean().sort_values()
    assert means["deep"].index[-1] == "segment = 价格敏感型" and means["deep"].iloc[-1] > 0
    assert means["shallow"].index[0] == "segment = 价格敏感型" and means["shallow"].iloc[0] < 0
    assert means["deep"]["segment = 高端品质型"] < 0


def test_segment_x_discount_depth_is_the_largest_interaction_for_deal_seekers(chinese):
    shop, _, ex = chinese
    users = shop.users.loc[shop.users[synth_vocab.SEGMENT] == "价格敏感型", C.USER_ID].to_numpy(object)
    items = shop.items.loc[shop.items[synth_vocab.DISCOUNT_DEPTH] >= 30, C.ITEM_ID].to_numpy(object)
    users, items = np.repeat(users, len(items)), np.tile(items, len(users))
    inter = ex.column_interactions(ex.user_rows(users), ex.item_rows(items))
    cells = np.array([f"{a} x {b}" for a in ex.user_groups.names for b in ex.item_groups.names], dtype=object)
    tops = pd.Series(cells[np.argmax(inter.reshape(len(inter), -1), axis=1)]).value_counts(normalize=True)
    assert tops.get("segment x discount_depth", 0) >= 0.8


def test_description_keywords_are_chinese_words(chinese):
    """The Chinese descriptions become words, not sentences, and explanations show them; for deal seekers x
    清仓 (clearance: deep) offers the leading feature is the Chinese segment value.

    Found (seed 0, 20 deal seekers x the 43 清仓 offers): "segment = 价格敏感型" is among the 5 largest
    features of 81% of the pairs, more than any other feature.
    """
    shop, _, ex = chinese
    names = [str(n) for n in ex.model.item_builder_.feature_index_.names if str(n).startswith(synth_vocab.DESCRIPTION)]
    words = {n.split("“")[-1].rstrip("”") for n in names}
    assert {"清仓", "大促", "包邮", "折扣", "立减", "限时秒杀", "无门槛", "彩妆", "组合购"} <= words
    assert all(2 <= len(w) <= 6 and "，" not in w for w in words), sorted(words)
    seekers = shop.users.loc[shop.users[synth_vocab.SEGMENT] == "价格敏感型", C.USER_ID].iloc[:20].to_numpy(object)
    deep = shop.items.loc[shop.items[synth_vocab.DESCRIPTION].str.startswith("清仓大促"), C.ITEM_ID].to_numpy(object)
    users, items = np.repeat(seekers, len(deep)), np.tile(deep, len(seekers))
    columns = ex.explain(users[:1], items[:1], view=A.LIST_VIEW)
    shown = dict(zip(columns.feature_names, columns.display_data[0]))
    assert shown[synth_vocab.SEGMENT] == "segment = 价格敏感型"
    assert shown[synth_vocab.DESCRIPTION].startswith("description: ") and {"清仓", "大促"} <= set(
        shown[synth_vocab.DESCRIPTION].removeprefix("description: ").split(", "))
    features = ex.explain(users, items, level="feature", view=A.LIST_VIEW)
    top5 = np.asarray(features.feature_names, dtype=object)[np.argsort(-features.values, axis=1)[:, :5]]
    counts = pd.Series(top5.ravel()).value_counts()
    assert counts.index[0] == "segment = 价格敏感型" and counts.iloc[0] >= 0.7 * len(users)
