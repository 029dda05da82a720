"""The Chinese sample shop: the same customers, offers, events and planted truth, in Chinese.

:func:`to_chinese` rewrites a synthetic shop's labels (segments, regions, genders, loyalty tiers,
categories, campaign types, channels, tags) and writes its offer titles and descriptions as a
Chinese shop would (春季服饰7折, 满200减30, 包邮, 限时秒杀 ...). Ids, numbers, dates and events are
unchanged, so the planted truth of :mod:`recsys.data.synth` holds as it is; ``truth["names_zh"]``
maps every English label to its Chinese one, so checks written against the English names can be
read on the Chinese shop. Column names stay the canonical ones (``segment``, ``discount_depth``).

>>> from recsys.data import synth
>>> shop = to_chinese(synth.generate(n_users=60, n_items=8, seed=2))
>>> shop.users["segment"].isin(SEGMENTS_ZH.values()).all(), shop.truth["locale"]
(np.True_, 'zh_CN')
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from recsys.data import synth, synth_vocab

SEGMENTS_ZH: dict[str, str] = {
    "deal_seeker": "价格敏感型", "loyalist": "品牌忠诚型", "explorer": "探索尝新型", "premium": "高端品质型",
    "casual": "偶尔购买型",
}
REGIONS_ZH: dict[str, str] = {"north": "华北", "south": "华南", "east": "华东", "west": "西部", "central": "华中"}
GENDERS_ZH: dict[str, str] = {"F": "女", "M": "男", "X": "其他"}
TIERS_ZH: dict[str, str] = {"bronze": "铜牌会员", "silver": "银牌会员", "gold": "金牌会员", "platinum": "铂金会员"}
CATEGORIES_ZH: dict[str, str] = {
    "fashion": "服饰", "shoes": "鞋靴", "electronics": "数码", "beauty": "美妆", "home": "家居",
    "grocery": "食品生鲜", "sports": "运动户外", "toys": "玩具",
}
CAMPAIGN_TYPES_ZH: dict[str, str] = {
    "percent_off": "折扣券", "fixed_amount": "满减券", "free_shipping": "包邮券", "bundle": "组合优惠",
    "flash_sale": "限时秒杀",
}
CHANNELS_ZH: dict[str, str] = {"email": "邮件", "app": "App", "web": "网页", "sms": "短信"}
TAGS_ZH: dict[str, str] = {
    **CATEGORIES_ZH, **{k.replace("_", "-"): v for k, v in CAMPAIGN_TYPES_ZH.items()},
    "deep-discount": "大额优惠", "app-exclusive": "App专享", "no-minimum": "无门槛", "always-on": "长期有效",
}
SEASONS_ZH: dict[str, str] = {"Winter": "冬季", "Spring": "春季", "Summer": "夏季", "Autumn": "秋季"}
BLURBS_ZH: dict[str, str] = {
    "fashion": "当季新款服饰", "shoes": "运动鞋、靴子和凉鞋", "electronics": "耳机、手机和智能数码",
    "beauty": "护肤和彩妆", "home": "厨房、床品和家居装饰", "grocery": "每周日常采购", "sports": "健身装备和户外用品",
    "toys": "玩具、游戏和拼图",
}
#: Every English label of the sample -> its Chinese label (also stored as ``truth["names_zh"]``).
NAMES_ZH: dict[str, str] = {
    **SEGMENTS_ZH, **REGIONS_ZH, **GENDERS_ZH, **TIERS_ZH, **CATEGORIES_ZH, **CAMPAIGN_TYPES_ZH, **CHANNELS_ZH,
    **TAGS_ZH,
}


def _zhe(depth: pd.Series) -> pd.Series:
    """A percentage off as Chinese 折: 30% off -> "7", 15% off -> "8.5"."""
    tenths = (100 - depth.round()).astype(int)
    whole, rest = tenths // 10, tenths % 10
    return whole.astype(str).where(rest == 0, whole.astype(str) + "." + rest.astype(str))


def _yuan(values: pd.Series) -> pd.Series:
    return values.round().astype(int).astype(str)


def _items_zh(items: pd.DataFrame) -> pd.DataFrame:
    out = items.copy()
    ctype = items[synth_vocab.CAMPAIGN_TYPE].astype(str)
    category = items[synth_vocab.CATEGORY].astype(str)
    channel = items[synth_vocab.CHANNEL].astype(str)
    depth = items[synth_vocab.DISCOUNT_DEPTH].astype(float)
    min_spend = items[synth_vocab.MIN_SPEND].astype(float)
    # the fixed amount is written in the English title ("$15 off $60"); depth * min spend otherwise
    amount = pd.to_numeric(items[synth_vocab.TITLE].astype(str).str.extract(r"\$(\d+) off \$")[0], errors="coerce")
    amount = amount.fillna(depth * min_spend / 100)
    deep = depth >= 30
    zhe = _zhe(depth)
    by_month = np.array([SEASONS_ZH[s] for s in synth_vocab.SEASONS], dtype=object)  # 12 months
    season = pd.Series(by_month[pd.to_datetime(items[synth_vocab.START_DATE]).dt.month.to_numpy() - 1], index=items.index)
    offer = np.select(
        [ctype == "percent_off", ctype == "fixed_amount", ctype == "free_shipping", ctype == "bundle"],
        ["全场" + zhe + "折", "满" + _yuan(min_spend) + "减" + _yuan(amount), pd.Series("包邮", index=items.index),
         pd.Series(np.where(depth.round() == 33, "买二送一", "组合购立省" + depth.round().astype(int).astype(str) + "%"),
                   index=items.index)],
        default="限时秒杀" + zhe + "折",
    )
    title = season + category.map(CATEGORIES_ZH) + pd.Series(offer, index=items.index)
    repeat = title.groupby(title).cumcount()
    title = title.where(repeat == 0, title + "（" + (repeat + 1).astype(str) + "）")
    lead = np.select([deep & (ctype == "flash_sale"), deep], ["仅限几天的超值特惠：", "清仓大促："], default="")
    pitch = np.select(
        [ctype == "percent_off", ctype == "fixed_amount", ctype == "free_shipping"],
        [zhe + "折优惠", "立减" + _yuan(amount) + "元", pd.Series("全场包邮", index=items.index)],
        default=pd.Series(offer, index=items.index),
    )
    spend = pd.Series(np.where(min_spend > 0, "，满" + _yuan(min_spend) + "元可用", "，无门槛"), index=items.index)
    where = channel.map({"app": "，仅限App使用", "sms": "，凭短信优惠码使用", "email": "，凭邮件优惠码使用"}).fillna("，官网可用")
    description = pd.Series(lead, index=items.index) + pd.Series(pitch, index=items.index) + "，" \
        + category.map(BLURBS_ZH) + spend + where + "。"
    tags = items[synth_vocab.TAGS].astype(str).str.split("|").explode()
    tags = tags.map(TAGS_ZH).fillna(tags)
    out[synth_vocab.TITLE] = pd.array(title, dtype="str")
    out[synth_vocab.DESCRIPTION] = pd.array(description, dtype="str")
    out[synth_vocab.CAMPAIGN_TYPE] = pd.array(ctype.map(CAMPAIGN_TYPES_ZH), dtype="str")
    out[synth_vocab.CATEGORY] = pd.array(category.map(CATEGORIES_ZH), dtype="str")
    out[synth_vocab.CHANNEL] = pd.array(channel.map(CHANNELS_ZH), dtype="str")
    out[synth_vocab.TAGS] = pd.array(tags.groupby(level=0).agg("|".join).reindex(items.index), dtype="str")
    return out


def _users_zh(users: pd.DataFrame) -> pd.DataFrame:
    out = users.copy()
    for column, names in ((synth_vocab.SEGMENT, SEGMENTS_ZH), (synth_vocab.REGION, REGIONS_ZH), (synth_vocab.GENDER, GENDERS_ZH),
                          (synth_vocab.LOYALTY_TIER, TIERS_ZH)):
        out[column] = pd.array(users[column].astype(str).map(names), dtype="str")
    return out


def to_chinese(shop: synth.SyntheticShop) -> synth.SyntheticShop:
    """The same shop with Chinese labels, titles and descriptions (ids, numbers, dates, events unchanged)."""
    truth: dict[str, Any] = {**shop.truth, "locale": "zh_CN", "names_zh": dict(NAMES_ZH)}
    past = shop.past_campaigns
    return dataclasses.replace(shop, users=_users_zh(shop.users), items=_items_zh(shop.items), truth=truth,
                               past_campaigns=None if past is None else past.copy())


def english_name(chinese: str) -> str:
    """The English label of a Chinese one (for reading the planted truth on the Chinese shop)."""
    return {v: k for k, v in NAMES_ZH.items()}.get(chinese, chinese)


__all__ = ["NAMES_ZH", "SEGMENTS_ZH", "REGIONS_ZH", "CATEGORIES_ZH", "CAMPAIGN_TYPES_ZH", "CHANNELS_ZH",
           "english_name", "to_chinese"]
