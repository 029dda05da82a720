"""Canonical column names of the PromoLens data contract.

Every other module refers to columns through these constants; no other file spells them as string
literals. The three tables are:

* interactions: ``user_id``, ``item_id`` and optionally ``event``, ``timestamp``, ``weight``,
  ``value`` (revenue), plus the helper columns ``quantity``, ``unit_price`` and ``order_id`` that
  cleaning uses (returns, cancellations, revenue) and then drops;
* users: ``user_id`` + any feature columns;
* items: ``item_id`` + any feature columns.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

USER_ID = "user_id"
ITEM_ID = "item_id"
EVENT = "event"
TIMESTAMP = "timestamp"
WEIGHT = "weight"
VALUE = "value"

# Helper columns of raw interaction files, used during cleaning only.
QUANTITY = "quantity"
UNIT_PRICE = "unit_price"
ORDER_ID = "order_id"

# Columns produced by models, targeting and exports.
SCORE = "score"
RANK = "rank"
GROUP = "group"
REASONS = "reasons"

# Values of the GROUP column of a targeting list, and the measurement columns built on them.
TREATMENT = "treatment"
CONTROL = "control"
ARM = "arm"
SCORE_DECILE = "score_decile"

INTERACTION_COLUMNS: tuple[str, ...] = (USER_ID, ITEM_ID, EVENT, TIMESTAMP, WEIGHT, VALUE)
INTERACTION_HELPER_COLUMNS: tuple[str, ...] = (QUANTITY, UNIT_PRICE, ORDER_ID)


class Table(str, Enum):
    """The three tables of a dataset."""

    INTERACTIONS = "interactions"
    USERS = "users"
    ITEMS = "items"


#: The key column of each table.
TABLE_KEYS: dict[Table, tuple[str, ...]] = {
    Table.INTERACTIONS: (USER_ID, ITEM_ID),
    Table.USERS: (USER_ID,),
    Table.ITEMS: (ITEM_ID,),
}

#: Canonical columns that may be mapped from a user's file, per table.
MAPPABLE_COLUMNS: dict[Table, tuple[str, ...]] = {
    Table.INTERACTIONS: INTERACTION_COLUMNS + INTERACTION_HELPER_COLUMNS,
    Table.USERS: (USER_ID,),
    Table.ITEMS: (ITEM_ID,),
}

# Event types. Files may use any event names; these are the ones PromoLens knows a default weight for.
IMPRESSION = "impression"
VIEW = "view"
CLICK = "click"
REDEEM = "redeem"
PURCHASE = "purchase"
INTERACTION = "interaction"  # the event given to rows of a file with no event column and no revenue

# The event vocabulary: which events mean what, in one place.
#: The customer was sent or shown the offer (contact fatigue, exposure-aware negatives).
CONTACT_EVENTS: tuple[str, ...] = (IMPRESSION,)
#: The customer saw the offer (sent, shown or viewed): the denominator of response rates.
EXPOSURE_EVENTS: tuple[str, ...] = (IMPRESSION, VIEW)
#: The customer used the coupon: what a coupon campaign counts as a response.
REDEEM_EVENTS: tuple[str, ...] = (REDEEM,)
#: The customer converted on the offer (redeemed it or bought with it).
RESPONSE_EVENTS: tuple[str, ...] = (REDEEM, PURCHASE)

#: Offer columns that name an offer for people, tried in order (compared case-insensitively);
#: without one, the offer id is shown.
NAME_COLUMNS: tuple[str, ...] = ("title", "name", "offer_name", "campaign_name", "product_name", "description")


def name_column(columns: Iterable[str]) -> str | None:
    """The column that names an offer for people: the first of :data:`NAME_COLUMNS` present.

    Names are compared case-insensitively and the column is returned as spelled in ``columns``;
    ``None`` when there is none (then the offer id is shown).

    >>> name_column(["item_id", "Title", "discount"])
    'Title'
    >>> name_column(["item_id", "discount"]) is None
    True
    """
    by_lower: dict[str, str] = {}
    for column in columns:  # the columns of one table: a handful
        by_lower.setdefault(str(column).lower(), column)
    return next((by_lower[name] for name in NAME_COLUMNS if name in by_lower), None)

#: Default weight of each event type (the user can change them); unknown events weigh 1.
DEFAULT_EVENT_WEIGHTS: dict[str, float] = {
    IMPRESSION: 0.0,
    VIEW: 1.0,
    CLICK: 2.0,
    REDEEM: 5.0,
    PURCHASE: 5.0,
    INTERACTION: 1.0,
}

#: Event names in other languages -> the canonical event (compared after trimming and lower-casing).
EVENT_ALIASES: dict[str, str] = {
    "曝光": IMPRESSION, "展示": IMPRESSION, "发放": IMPRESSION, "推送": IMPRESSION,
    "浏览": VIEW, "查看": VIEW, "访问": VIEW,
    "点击": CLICK, "领取": CLICK, "领券": CLICK, "收藏": CLICK, "加购": CLICK, "加入购物车": CLICK,
    "核销": REDEEM, "使用": REDEEM, "用券": REDEEM, "兑换": REDEEM,
    "购买": PURCHASE, "下单": PURCHASE, "支付": PURCHASE, "付款": PURCHASE, "成交": PURCHASE,
}

#: Common names of the canonical columns in real files (compared after lower-casing and removing
#: spaces, underscores and dashes). Aliases are tried in order, so the earlier alias wins when a
#: file has several candidates (``customerid`` before ``customer``); the user can override.
ALIASES: dict[str, tuple[str, ...]] = {
    USER_ID: (
        "userid", "user", "customerid", "customer", "custid", "clientid", "client", "member",
        "memberid", "accountid", "account", "shopperid", "buyerid", "visitorid", "uid",
        "customernumber", "customerno", "customercode", "clientnumber", "membernumber", "loyaltyid",
        # Chinese exports (Taobao/JD/Youzan-style headers; "ID" is lower-cased to "id")
        "会员编号", "会员id", "会员号", "会员卡号", "用户id", "用户编号", "客户编号", "客户id", "客户号",
        "顾客编号", "顾客id", "买家id", "买家编号", "会员", "用户", "客户", "顾客", "买家",
    ),
    ITEM_ID: (
        "itemid", "item", "offerid", "offer", "couponid", "coupon", "campaignid", "campaign",
        "productid", "product", "stockcode", "sku", "articleid", "promoid", "promotionid", "iid",
        "couponcode", "promocode", "offercode", "campaigncode", "productcode", "itemcode", "articlenumber",
        "优惠券id", "券id", "优惠券编号", "券编号", "优惠券编码", "活动id", "活动编号", "优惠id", "优惠编号",
        "商品编码", "商品编号", "商品id", "货号", "sku编码", "优惠券", "活动", "商品",
    ),
    EVENT: ("event", "eventtype", "action", "actiontype", "interaction", "interactiontype", "behavior", "behaviour",
            "行为", "行为类型", "事件", "事件类型", "动作", "用户行为"),
    TIMESTAMP: (
        "timestamp", "time", "datetime", "date", "eventtime", "eventdate", "invoicedate", "orderdate",
        "ts", "createdat", "occurredat", "when", "eventtimestamp", "transactiondate", "purchasedate", "redeemedat",
        "下单时间", "时间", "日期", "时间戳", "发生时间", "事件时间", "行为时间", "创建时间", "交易时间", "支付时间",
        "付款时间", "购买时间", "订单时间", "领取时间", "核销时间", "日期时间",
    ),
    WEIGHT: ("weight", "rating", "strength", "score", "权重", "评分"),
    VALUE: ("value", "revenue", "amount", "sales", "spend", "total", "ordervalue", "gmv",
            "订单金额", "金额", "实付金额", "支付金额", "实收金额", "成交金额", "消费金额", "销售额", "总金额"),
    QUANTITY: ("quantity", "qty", "units", "count", "数量", "购买数量", "商品数量", "件数"),
    UNIT_PRICE: ("unitprice", "price", "itemprice", "单价", "商品单价", "价格"),
    ORDER_ID: (
        "orderid", "order", "invoiceno", "invoice", "invoiceid", "transactionid", "basketid", "ordernumber",
        "orderno", "invoicenumber", "receiptid",
        "订单号", "订单编号", "订单id", "交易号", "交易编号", "流水号", "主订单编号",
    ),
}
