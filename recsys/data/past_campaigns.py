"""Past coupon campaigns with random control groups, and their planted heterogeneous effects.

A shop that has exported targeting lists with a control group and uploaded the outcomes (the
Measure page) holds randomised data: for each campaign, customers who were sent the offer
(``group = treatment``) and comparable customers who were held out (``group = control``), and
whether each one converted within the horizon. :func:`past_campaigns` makes such a table for the
synthetic shop, from its OWN random stream (the shop's users, offers and events are unchanged),
so uplift models can be learned and checked against a known truth.

The planted model (written to ``truth["past_campaigns"]``), per customer ``u`` sent offer ``o``
(category ``c``, discount depth ``d`` percent):

* without the coupon: ``logit p0 = base_intercept + persona.base + liked_boost*[c liked] + N(0, base_sd)``
  (the customer may buy in that category anyway);
* with the coupon: ``logit p1 = logit p0 + tau``, where
  ``tau = persona.a + persona.b*d/10 + persona.deep*[d >= deep_threshold] + N(0, effect_sd)``:
  bargain hunters respond to deep discounts mostly *because* of them; loyal customers buy anyway
  (``tau = 0``); premium customers are put off by deep discounts (``tau < 0``);
* the order value is the category basket x persona value multiplier x LogNormal(-0.08, 0.4) (mean 1),
  minus the discount for a treated customer.

:func:`true_uplift` gives the expected ``p1 - p0`` (over both noises) of any customer x depth x
category, and :func:`true_incremental_profit` the expected incremental profit of sending it:
``(p1 - p0) * margin * basket - p1 * d/100 * basket`` (the discount is paid by every redeemer,
including those who would have bought anyway). Both read only the truth, so a shop read back
from files is enough.

>>> from recsys.data import synth
>>> shop = synth.generate(n_users=300, n_items=40, seed=1)
>>> table, truth = past_campaigns(shop)
>>> sorted(table[GROUP].unique())
['control', 'treatment']
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from recsys.core import columns as cols
from recsys.data import synth_vocab

CAMPAIGN_ID = "campaign_id"
GROUP = cols.GROUP
SENT_DATE = "sent_date"
CONVERTED = "converted"
ORDER_VALUE = cols.VALUE
COLUMNS: tuple[str, ...] = (CAMPAIGN_ID, cols.USER_ID, cols.ITEM_ID, GROUP, SENT_DATE, CONVERTED, ORDER_VALUE)
FILE = "past_campaigns.csv"

#: Discount depths of the past percent-off campaigns (one campaign each, when the shop has such an offer).
DEPTHS: tuple[float, ...] = (10.0, 15.0, 20.0, 25.0, 30.0, 35.0, 40.0, 50.0)
CAMPAIGN_SIZE = 2500
CONTROL_SHARE = 0.5
HORIZON_DAYS = 14
BASE_INTERCEPT = -2.6
LIKED_BOOST = 1.2
BASE_SD = 0.6
EFFECT_SD = 0.3
DEEP_THRESHOLD = 30.0
#: Gross margin rate of the shop's goods (the profit the truth and the bench assume).
MARGIN_RATE = 0.5
#: Per persona: control base logit shift and the effect ``a + b*depth/10 + deep*[deep discount]``.
EFFECTS: dict[str, dict[str, float]] = {
    "bargain_hunter": {"base": -0.4, "a": 0.1, "b": 0.1, "deep": 1.6},
    "brand_loyal": {"base": 1.2, "a": 0.0, "b": 0.0, "deep": 0.0},
    "category_explorer": {"base": -0.2, "a": 0.2, "b": 0.05, "deep": 0.2},
    "premium": {"base": 0.4, "a": 0.1, "b": 0.0, "deep": -1.5},
    "occasional": {"base": -1.0, "a": 0.1, "b": 0.05, "deep": 0.3},
}
_STREAM = 20  # the past campaigns' own seed stream: SeedSequence([seed, _STREAM])
_GH_NODES, _GH_WEIGHTS = np.polynomial.hermite_e.hermegauss(24)
_GH_WEIGHTS = _GH_WEIGHTS / _GH_WEIGHTS.sum()


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _expected_sigmoid(mean: np.ndarray, sd: float) -> np.ndarray:
    return _sigmoid(np.asarray(mean, dtype="float64")[..., None] + sd * _GH_NODES) @ _GH_WEIGHTS


def _persona_param(personas: np.ndarray, field: str) -> np.ndarray:
    names = np.array(list(EFFECTS))
    values = np.array([EFFECTS[n][field] for n in names])
    index = pd.Index(names).get_indexer(personas)
    if (index < 0).any():
        raise ValueError(f"past campaigns: unknown persona(s) {sorted(set(personas[index < 0]))[:5]}.")
    return values[index]


def planted_logits(personas: np.ndarray, liked: np.ndarray, depth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean control logit and mean effect ``tau`` (log-odds) per row, without the noises."""
    depth = np.asarray(depth, dtype="float64")
    base = BASE_INTERCEPT + _persona_param(personas, "base") + LIKED_BOOST * np.asarray(liked, dtype="float64")
    tau = (_persona_param(personas, "a") + _persona_param(personas, "b") * depth / 10.0
           + _persona_param(personas, "deep") * (depth >= DEEP_THRESHOLD))
    return base, tau


def _liked(truth: dict[str, Any], user_ids: np.ndarray, categories: np.ndarray) -> np.ndarray:
    """Whether each row's customer likes the row's category (from ``truth["user_liked_categories"]``)."""
    liked = pd.Series(truth["user_liked_categories"]).reindex(user_ids).fillna("").to_numpy(dtype=str)
    wrapped = np.char.add(np.char.add("|", liked), "|")
    return np.char.find(wrapped, np.char.add(np.char.add("|", np.asarray(categories, dtype=str)), "|")) >= 0


def true_probabilities(truth: dict[str, Any], user_ids: Any, depth: Any, category: Any) -> tuple[np.ndarray, np.ndarray]:
    """Expected P(convert | control) and P(convert | sent) of each (customer, depth, category) row."""
    users = np.atleast_1d(np.asarray(user_ids, dtype=object)).astype(str)
    users, depth, category = np.broadcast_arrays(users, np.atleast_1d(np.asarray(depth, dtype="float64")),
                                                 np.atleast_1d(np.asarray(category, dtype=object)).astype(str))
    persona = pd.Series(truth["user_persona"]).reindex(users)
    if persona.isna().any():
        raise ValueError(f"true_uplift: unknown customer id(s) {users[persona.isna().to_numpy()][:5].tolist()}.")
    base, tau = planted_logits(persona.to_numpy(dtype=str), _liked(truth, users, category), depth)
    p0 = _expected_sigmoid(base, BASE_SD)
    p1 = _expected_sigmoid(base + tau, float(np.hypot(BASE_SD, EFFECT_SD)))
    return p0, p1


def true_uplift(truth: dict[str, Any], user_ids: Any, depth: Any, category: Any) -> np.ndarray:
    """The planted expected uplift ``P(convert | sent) - P(convert | not sent)`` per row."""
    p0, p1 = true_probabilities(truth, user_ids, depth, category)
    return p1 - p0


def expected_basket(truth: dict[str, Any], user_ids: Any, category: Any) -> np.ndarray:
    """Expected gross order value of a customer's order in a category (before any discount)."""
    users = np.atleast_1d(np.asarray(user_ids, dtype=object)).astype(str)
    users, category = np.broadcast_arrays(users, np.atleast_1d(np.asarray(category, dtype=object)).astype(str))
    persona = pd.Series(truth["user_persona"]).reindex(users).to_numpy(dtype=str)
    multiplier = pd.Series({k: v["value_multiplier"] for k, v in truth["personas"].items()}).reindex(persona)
    basket = pd.Series(truth["past_campaigns"]["category_basket"]).reindex(category)
    return multiplier.to_numpy(dtype="float64") * basket.to_numpy(dtype="float64")


def true_incremental_profit(truth: dict[str, Any], user_ids: Any, depth: Any, category: Any,
                            margin_rate: float = MARGIN_RATE) -> np.ndarray:
    """Expected incremental profit of sending each row's offer: uplift x margin - discount paid by redeemers."""
    p0, p1 = true_probabilities(truth, user_ids, depth, category)
    basket = expected_basket(truth, user_ids, category)
    return (p1 - p0) * margin_rate * basket - p1 * np.asarray(depth, dtype="float64") / 100.0 * basket


def read_past_campaigns(path: Any) -> pd.DataFrame:
    """Read back a ``past_campaigns.csv`` written with a shop, with the dtypes :func:`past_campaigns` gives."""
    table = pd.read_csv(path, dtype={CAMPAIGN_ID: "str", cols.USER_ID: "str", cols.ITEM_ID: "str", GROUP: "str"})
    table[SENT_DATE] = pd.to_datetime(table[SENT_DATE]).astype(synth_vocab.DATE_DTYPE)
    table[CONVERTED] = table[CONVERTED].astype("int64")
    table[ORDER_VALUE] = table[ORDER_VALUE].astype("float64")
    return table


def _campaign_offers(items: pd.DataFrame) -> pd.DataFrame:
    """One percent-off offer per depth of :data:`DEPTHS` (the first by id), when the shop has one."""
    pct = items[items[synth_vocab.CAMPAIGN_TYPE].eq("percent_off") & items[synth_vocab.DISCOUNT_DEPTH].isin(DEPTHS)]
    return pct.sort_values(cols.ITEM_ID).drop_duplicates(synth_vocab.DISCOUNT_DEPTH).sort_values(synth_vocab.DISCOUNT_DEPTH)


def past_campaigns(shop: Any, size: int = CAMPAIGN_SIZE, control_share: float = CONTROL_SHARE) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The shop's past randomised campaigns (see the module docstring) and their planted truth.

    Returns the table (columns :data:`COLUMNS`) and the JSON-able truth section.
    """
    truth = shop.truth
    seed = int(truth["config"]["seed"])
    rng = np.random.default_rng(np.random.SeedSequence([seed, _STREAM]))
    offers = _campaign_offers(shop.items)
    users = shop.users[[cols.USER_ID, synth_vocab.SIGNUP_DATE]]
    blocks = []
    for k, offer in enumerate(offers.itertuples(index=False)):  # a handful of campaigns, not rows
        sent = pd.Timestamp(getattr(offer, synth_vocab.START_DATE))
        eligible = users[cols.USER_ID].to_numpy()[(users[synth_vocab.SIGNUP_DATE] < sent).to_numpy()]
        chosen = rng.choice(eligible, size=min(size, len(eligible)), replace=False)
        blocks.append(pd.DataFrame({
            CAMPAIGN_ID: f"PAST{k + 1:02d}", cols.USER_ID: chosen, cols.ITEM_ID: getattr(offer, cols.ITEM_ID),
            "depth": float(getattr(offer, synth_vocab.DISCOUNT_DEPTH)), "category": getattr(offer, synth_vocab.CATEGORY),
            SENT_DATE: sent, "treated": rng.random(len(chosen)) >= control_share,
        }))
    rows = pd.concat(blocks, ignore_index=True)
    n = len(rows)
    persona = pd.Series(truth["user_persona"]).reindex(rows[cols.USER_ID]).to_numpy(dtype=str)
    base, tau = planted_logits(persona, _liked(truth, rows[cols.USER_ID].to_numpy(), rows["category"].to_numpy()),
                               rows["depth"].to_numpy())
    by_user = pd.Series(rng.normal(0.0, BASE_SD, size=len(shop.users)), index=shop.users[cols.USER_ID])
    logit = base + by_user.reindex(rows[cols.USER_ID]).to_numpy() + rows["treated"].to_numpy() * (
        tau + rng.normal(0.0, EFFECT_SD, size=n))
    converted = rng.random(n) < _sigmoid(logit)
    multiplier = pd.Series({p.name: p.value_multiplier for p in synth_vocab.PERSONAS}).reindex(persona).to_numpy()
    gross = pd.Series(synth_vocab.CATEGORY_BASKET).reindex(rows["category"]).to_numpy() * multiplier * rng.lognormal(-0.08, 0.4, n)
    paid = gross * (1.0 - rows["treated"].to_numpy() * rows["depth"].to_numpy() / 100.0)
    table = pd.DataFrame({
        CAMPAIGN_ID: rows[CAMPAIGN_ID], cols.USER_ID: rows[cols.USER_ID], cols.ITEM_ID: rows[cols.ITEM_ID],
        GROUP: np.where(rows["treated"], cols.TREATMENT, cols.CONTROL),
        SENT_DATE: rows[SENT_DATE].astype(synth_vocab.DATE_DTYPE), CONVERTED: converted.astype("int64"),
        ORDER_VALUE: np.where(converted, np.round(paid, 2), 0.0),
    })
    return table, _truth(offers, rows, persona, size, control_share)


def _truth(offers: pd.DataFrame, rows: pd.DataFrame, persona: np.ndarray, size: int, control_share: float) -> dict[str, Any]:
    treated = rows["treated"].to_numpy()
    deep = rows["depth"].to_numpy() >= DEEP_THRESHOLD
    return {
        "file": FILE,
        "columns": list(COLUMNS),
        "design": f"{len(offers)} percent-off campaigns (one per discount depth), each sent to up to {size} random "
                  f"customers signed up before its start date; each customer held out at random with probability "
                  f"{control_share:g} (group = control); converted = bought in the offer's category within "
                  f"{HORIZON_DAYS} days (with the coupon for treatment, without it for control)",
        "campaigns": {f"PAST{k + 1:02d}": {"item_id": i, "discount_depth": float(d), "category": c}
                      for k, (i, d, c) in enumerate(zip(offers[cols.ITEM_ID], offers[synth_vocab.DISCOUNT_DEPTH],
                                                        offers[synth_vocab.CATEGORY]))},
        "model": {
            "control": "logit p0 = base_intercept + persona.base + liked_boost*[category liked] + N(0, base_sd) per customer",
            "treatment": "logit p1 = logit p0 + persona.a + persona.b*depth/10 + persona.deep*[depth >= deep_threshold]"
                         " + N(0, effect_sd) per row",
            "order_value": "category_basket*persona.value_multiplier*LogNormal(-0.08, 0.4), minus the discount when treated",
            "incremental_profit": "(p1 - p0)*margin_rate*basket - p1*depth/100*basket",
        },
        "base_intercept": BASE_INTERCEPT, "liked_boost": LIKED_BOOST, "base_sd": BASE_SD, "effect_sd": EFFECT_SD,
        "deep_threshold": DEEP_THRESHOLD, "margin_rate": MARGIN_RATE, "horizon_days": HORIZON_DAYS,
        "persona_effects": EFFECTS,
        "category_basket": dict(synth_vocab.CATEGORY_BASKET),
        "statement": "bargain hunters respond to deep discounts mostly because of them (large uplift); brand-loyal "
                     "customers buy anyway (uplift 0); premium customers are put off by deep discounts (negative "
                     "uplift); explorers and occasional customers move a little",
        "rows": int(len(rows)), "treated_rows": int(treated.sum()),
        "deep_rows_by_persona": pd.Series(persona[deep]).value_counts().sort_index().astype(int).to_dict(),
    }
