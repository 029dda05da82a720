"""Offer text in Chinese becomes words (jieba), mixed with English sensibly; English keywords are unchanged."""

from __future__ import annotations

import pandas as pd

from recsys.data.schema import ColumnKind
from recsys.learn.config import FeatureConfig
from recsys.learn.encoders import TextEncoder
from recsys.learn.tokens import words


def test_chinese_promotion_text_becomes_words():
    assert words("满200减30，全场通用") == ["满减", "全场", "通用"]
    assert words("限时秒杀 新人专享折扣券 包邮") == ["限时秒杀", "新人专享", "折扣券", "包邮"]
    assert words("Apple 官方旗舰店 iPhone 配件 8折") == ["apple", "官方", "旗舰店", "iphone", "配件", "折扣"]


def test_text_encoder_keywords_of_chinese_descriptions_are_words():
    texts = pd.Series(["满200减30，全场通用，包邮"] * 3 + ["限时秒杀，数码配件5折起"] * 3 + ["新人专享折扣券，包邮"] * 3)
    encoder = TextEncoder("description").fit(texts, FeatureConfig(min_count=2))
    assert {"满减", "包邮", "限时秒杀", "折扣", "折扣券", "新人专享"} <= set(encoder.vocabulary)
    assert all(len(w) >= 2 for w in encoder.vocabulary)  # no single characters, no whole sentences
    assert encoder.name("包邮") == "description mentions “包邮”"
    rows, cols, _weights = encoder.transform(texts.iloc[[0, 3]])
    first = {encoder.vocabulary[c] for r, c in zip(rows, cols) if r == 0}
    assert first == {"满减", "全场", "通用", "包邮"}


def test_english_keywords_are_as_before():
    texts = pd.Series(["Free shipping on all orders", "Spend 50 save 10 on shoes", "free shipping weekend"] * 2)
    encoder = TextEncoder("description").fit(texts, FeatureConfig(min_count=2))
    assert encoder.vocabulary == ["free", "orders", "save", "shipping", "shoes", "spend", "weekend"]
    assert ColumnKind.TEXT.value == encoder.kind
