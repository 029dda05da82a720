"""ROI-aware targeting: what a coupon is worth, which depth to send, and the list's money with intervals.

For a pair (customer, offer) with ``p1`` = P(convert | sent), ``p0`` = P(convert | not sent),
uplift :math:`\\tau = p_1 - p_0`, expected order value ``V`` (before discount), margin rate ``m`` and
discount depth ``d`` (a share of the order):

* expected incremental responders :math:`\\tau`;
* expected incremental revenue :math:`\\tau V (1 - d)` (what the extra buyers pay);
* expected discount cost :math:`p_1 d V`: paid by EVERY redeemer, including those who would have
  bought anyway (:math:`p_0` of them) - the cost response targeting ignores;
* expected incremental profit :math:`\\tau m V - p_1 d V`.

The objective decides the allocation weight: ``response`` = :math:`p_1` (today's ranking), ``uplift``
= :math:`\\tau`, ``profit`` = the incremental profit. Under ``uplift`` and ``profit`` a pair whose
weight is <= 0 is never sent by default (the count is reported), so the allocation maximises the
expected incremental value under the budgets and caps. Among offers that differ only in depth
(same facts apart from id, name, text and depth), :func:`choose_depths` keeps per customer the
cheapest depth that still moves them (``uplift``: the shallowest within ``DEPTH_TOLERANCE`` of the
best uplift; ``profit``: the most profitable, ties to the shallower).

:func:`calibration` + :func:`roi_summary` put intervals on a list's money: predicted uplift is cut
into bins on held-out randomised rows; per bin the OBSERVED treated and control conversion rates
(Poisson-bootstrap replicates) replace the model's numbers, so "customers like these" converted
``r1`` with the coupon and ``r0`` without, and the list's totals and ROI get intervals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from recsys.campaign.spec import TargetingError
from recsys.core.i18n import gettext as _
from recsys.core import columns as C

Objective = Literal["response", "uplift", "profit"]
OBJECTIVES: tuple[str, ...] = ("response", "uplift", "profit")
MARGIN_RATE = 0.5
DEPTH_TOLERANCE = 0.9
N_BINS = 10
N_BOOT = 200
ALPHA = 0.05
#: Item columns that do not make two offers different (besides the depth itself).
_NOT_FACTS = ("title", "name", "description", "tags", "offer_name", "campaign_name")
VALUE_COLUMNS: tuple[str, ...] = ("p_with", "p_without", "uplift", "order_value", "depth", "margin",
                                  "incremental_revenue", "discount_cost", "incremental_profit")


def check_objective(objective: str) -> None:
    if objective not in OBJECTIVES:
        raise TargetingError(f"Unknown objective {objective!r}. Fix: use one of {', '.join(OBJECTIVES)}.")


def pair_values(pairs: pd.DataFrame, margin: Any = MARGIN_RATE) -> pd.DataFrame:
    """Add incremental revenue, discount cost and incremental profit to pairs with
    ``p_with, p_without, uplift, order_value, depth`` (depth as a share 0..1); ``margin`` per pair or one rate."""
    out = pairs.copy()
    out["margin"] = np.broadcast_to(np.asarray(margin, dtype="float64"), len(out))
    v, d, tau = out["order_value"].to_numpy(), out["depth"].to_numpy(), out["uplift"].to_numpy()
    out["incremental_revenue"] = tau * v * (1.0 - d)
    out["discount_cost"] = out["p_with"].to_numpy() * d * v
    out["incremental_profit"] = tau * out["margin"].to_numpy() * v - out["discount_cost"].to_numpy()
    return out


def objective_weight(values: pd.DataFrame, objective: str) -> np.ndarray:
    """The allocation weight of each pair under an objective."""
    check_objective(objective)
    column = {"response": "p_with", "uplift": "uplift", "profit": "incremental_profit"}[objective]
    return values[column].to_numpy(dtype="float64")


def worth_sending(values: pd.DataFrame, objective: str) -> np.ndarray:
    """Pairs with a positive expected incremental value under the objective (all pairs for ``response``)."""
    weight = objective_weight(values, objective)
    return np.ones(len(weight), dtype=bool) if objective == "response" else weight > 0


def depth_families(items: pd.DataFrame, depth_column: str) -> pd.Series:
    """A family label per offer: offers whose facts are equal apart from id, name, text and depth."""
    facts = [c for c in items.columns if c not in (C.ITEM_ID, depth_column) and c.lower() not in _NOT_FACTS]
    if not facts:
        return pd.Series(items[C.ITEM_ID].astype(str).to_numpy(), index=items[C.ITEM_ID].astype(str))
    key = items[facts].astype(str).agg("\x1f".join, axis=1)
    return pd.Series(pd.factorize(key)[0].astype(str), index=items[C.ITEM_ID].astype(str).to_numpy())


def choose_depths(values: pd.DataFrame, families: pd.Series, objective: str,
                  tolerance: float = DEPTH_TOLERANCE) -> np.ndarray:
    """Per customer and depth family, the one pair to keep (see the module docstring); a mask."""
    check_objective(objective)
    if objective == "response" or len(values) == 0:
        return np.ones(len(values), dtype=bool)
    frame = pd.DataFrame({
        "u": values[C.USER_ID].astype(str).to_numpy(), "f": families.reindex(values[C.ITEM_ID].astype(str)).fillna("?").to_numpy(),
        "w": objective_weight(values, objective), "d": values["depth"].to_numpy(), "pos": np.arange(len(values)),
    })
    if objective == "uplift":
        best = frame.groupby(["u", "f"])["w"].transform("max")
        frame = frame[(frame["w"] >= tolerance * best) | (frame["w"] == best)]
        keep = frame.sort_values(["u", "f", "d", "w"], ascending=[True, True, True, False]).drop_duplicates(["u", "f"])
    else:
        keep = frame.sort_values(["u", "f", "w", "d"], ascending=[True, True, False, True]).drop_duplicates(["u", "f"])
    mask = np.zeros(len(values), dtype=bool)
    mask[keep["pos"].to_numpy()] = True
    return mask


def expected_order_value(interactions: pd.DataFrame, items: pd.DataFrame | None, user_ids: Any, item_ids: Any,
                         category_column: str = "category", depth_column: str = "discount_depth",
                         strength: float = 3.0) -> np.ndarray:
    """Each pair's expected order value before discount: the mean gross order of the offer's category
    (of the shop when there is no category column) times the customer's spending level (their mean
    gross order over the shop's, shrunk to 1 with ``strength`` pseudo-orders).

    Order values in the interactions are taken as paid after the discount, so they are grossed up by
    the offer's depth when the offers have a ``depth_column`` (percent)."""
    orders = interactions.loc[interactions[C.VALUE].fillna(0) > 0, [C.USER_ID, C.ITEM_ID, C.VALUE]]
    if orders.empty:
        raise TargetingError("No order values in the interactions (value column): a profit objective needs them. "
                             "Fix: import revenue per purchase or use --objective uplift.")
    offers = np.asarray(item_ids, dtype=object).astype(str)
    order_item = orders[C.ITEM_ID].astype(str)
    gross = orders[C.VALUE].to_numpy(dtype="float64")
    facts = None
    if items is not None:
        facts = items.assign(**{C.ITEM_ID: items[C.ITEM_ID].astype(str)}).drop_duplicates(C.ITEM_ID).set_index(C.ITEM_ID)
        if depth_column in facts.columns:
            depth = pd.to_numeric(facts[depth_column], errors="coerce").reindex(order_item).fillna(0.0).to_numpy()
            gross = gross / np.clip(1.0 - depth / 100.0, 0.05, 1.0)
    shop_mean = float(gross.mean())
    prior = np.full(len(offers), shop_mean)
    if facts is not None and category_column in facts.columns:
        by_cat = pd.Series(gross).groupby(facts[category_column].reindex(order_item).to_numpy()).mean()
        prior = by_cat.reindex(facts[category_column].reindex(offers).to_numpy()).fillna(shop_mean).to_numpy()
        relative = gross / by_cat.reindex(facts[category_column].reindex(order_item).to_numpy()).fillna(shop_mean).to_numpy()
    else:
        relative = gross / shop_mean
    level = pd.Series(relative).groupby(orders[C.USER_ID].astype(str).to_numpy()).agg(["sum", "count"])
    level = level.reindex(np.asarray(user_ids, dtype=object).astype(str)).fillna(0.0)
    return prior * (level["sum"].to_numpy() + strength) / (level["count"].to_numpy() + strength)


@dataclass(frozen=True)
class Calibration:
    """Observed conversion with and without the coupon per bin of predicted uplift (held-out rows).

    ``edges``: inner bin edges of predicted uplift; ``treated_rate`` / ``control_rate``: arrays
    (1 + replicates, bins), row 0 the observed rates; ``sizes``: rows per bin and arm.
    """

    edges: np.ndarray
    treated_rate: np.ndarray
    control_rate: np.ndarray
    sizes: pd.DataFrame

    def bins(self, predicted_uplift: Any) -> np.ndarray:
        return np.searchsorted(self.edges, np.asarray(predicted_uplift, dtype="float64"), side="right")


def calibration(predicted_uplift: Any, treated: Any, converted: Any, n_bins: int = N_BINS, n_boot: int = N_BOOT,
                seed: int = 0) -> Calibration:
    """Bin held-out randomised rows by predicted uplift; observed rates per bin with bootstrap replicates."""
    pred = np.asarray(predicted_uplift, dtype="float64")
    t = np.asarray(treated, dtype=bool)
    y = np.asarray(converted, dtype="float64")
    edges = np.unique(np.quantile(pred, np.linspace(0, 1, n_bins + 1)[1:-1]))
    b = np.searchsorted(edges, pred, side="right")
    k = len(edges) + 1
    rng = np.random.default_rng(seed)
    w = np.vstack([np.ones(len(pred)), rng.poisson(1.0, size=(n_boot, len(pred)))])
    onehot = np.zeros((len(pred), k))
    onehot[np.arange(len(pred)), b] = 1.0

    def rate(mask: np.ndarray) -> np.ndarray:
        num = (w * (y * mask)) @ onehot
        den = (w * mask) @ onehot
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, num / den, np.nan)

    sizes = pd.DataFrame({"bin": np.arange(k), "treated": (onehot[t]).sum(axis=0).astype(int),
                          "control": (onehot[~t]).sum(axis=0).astype(int)})
    return Calibration(edges, rate(t.astype(float)), rate((~t).astype(float)), sizes)


def roi_summary(values: pd.DataFrame, cal: Calibration, alpha: float = ALPHA) -> pd.DataFrame:
    """Expected incremental responders, revenue, discount cost, profit and ROI of the pairs to be sent,
    from the model and from the calibration bins (with intervals)."""
    b = cal.bins(values["uplift"].to_numpy())
    r1, r0 = np.nan_to_num(cal.treated_rate[:, b]), np.nan_to_num(cal.control_rate[:, b])  # (reps, pairs)
    v, d, m = values["order_value"].to_numpy(), values["depth"].to_numpy(), values["margin"].to_numpy()
    inc = (r1 - r0).sum(axis=1)
    revenue = ((r1 - r0) * v * (1 - d)).sum(axis=1)
    cost = (r1 * d * v).sum(axis=1)
    profit = ((r1 - r0) * m * v).sum(axis=1) - cost
    with np.errstate(invalid="ignore", divide="ignore"):
        roi = np.where(cost > 0, profit / cost, np.nan)
    rows = []
    model = {"incremental responders": values["uplift"].sum(), "incremental revenue": values["incremental_revenue"].sum(),
             "discount cost": values["discount_cost"].sum(), "incremental profit": values["incremental_profit"].sum()}
    model_cost = model["discount cost"]
    model["ROI (profit / discount cost)"] = model["incremental profit"] / model_cost if model_cost > 0 else np.nan
    for name, reps in (("incremental responders", inc), ("incremental revenue", revenue), ("discount cost", cost),
                       ("incremental profit", profit), ("ROI (profit / discount cost)", roi)):
        finite = reps[1:][np.isfinite(reps[1:])]
        low, high = (np.quantile(finite, [alpha / 2, 1 - alpha / 2]) if len(finite) else (np.nan, np.nan))
        rows.append({"measure": name, "model": float(model[name]), "observed": float(reps[0]),
                     "low": float(low), "high": float(high)})
    return pd.DataFrame(rows)


def control_evidence(values: pd.DataFrame, cal: Calibration) -> pd.Series:
    """Per pair, the control-group evidence of customers like it, in words."""
    b = cal.bins(values["uplift"].to_numpy())
    r1, r0 = cal.treated_rate[0, b], cal.control_rate[0, b]
    n = (cal.sizes["treated"].to_numpy() + cal.sizes["control"].to_numpy())[b]
    pct = lambda r: pd.Series(np.round(np.nan_to_num(r) * 100).astype(int)).astype(str) + "%"
    text = ("among " + pd.Series(n).map("{:,}".format) + " past customers like this, " + pct(r1)
            + " converted with the coupon vs " + pct(r0) + " without")
    return pd.Series(text.to_numpy(), index=values.index, dtype=object)


def value_pairs(model: Any, user_ids: Any, item_ids: Any, as_of: Any, interactions: pd.DataFrame,
                users: pd.DataFrame | None, items: pd.DataFrame, depth_column: str = "discount_depth",
                margin: float | str = MARGIN_RATE) -> pd.DataFrame:
    """Uplift model -> per pair ``p_with, p_without, uplift`` and the money (:func:`pair_values`).

    ``model`` is a fitted :class:`recsys.learn.uplift.ShopUplift`; ``depth_column`` holds the discount in
    percent of the order; ``margin`` is one margin rate (0..1) or an items column of margin rates.
    """
    if depth_column not in items.columns:
        raise TargetingError(f"The offers have no column '{depth_column}': the discount depth (percent of the order) "
                             "is needed to cost a coupon. Fix: name the depth column (CLI: --depth-column).")
    facts = items.assign(**{C.ITEM_ID: items[C.ITEM_ID].astype(str)}).drop_duplicates(C.ITEM_ID).set_index(C.ITEM_ID)
    offers = np.asarray(item_ids, dtype=object).astype(str)
    pairs = model.predict_pairs(user_ids, offers, as_of, interactions, users, items)
    pairs["order_value"] = expected_order_value(interactions, items, pairs[C.USER_ID], offers)
    pairs["depth"] = pd.to_numeric(facts[depth_column], errors="coerce").reindex(offers).fillna(0.0).to_numpy() / 100.0
    if isinstance(margin, str):
        if margin not in facts.columns:
            raise TargetingError(f"The offers have no margin column '{margin}'. Fix: choose one of {list(facts.columns)}.")
        rate = pd.to_numeric(facts[margin], errors="coerce").reindex(offers).to_numpy()
        if not np.isfinite(rate).all() or (rate < 0).any() or (rate > 1).any():
            raise TargetingError(f"Margin column '{margin}' must hold rates from 0 to 1 (e.g. 0.4 = 40%) for every offer.")
    else:
        if not 0 <= float(margin) <= 1:
            raise TargetingError(f"The margin rate must be from 0 to 1 (e.g. 0.4 = 40%), got {margin}.")
        rate = float(margin)
    return pair_values(pairs, rate)


@dataclass(frozen=True)
class Selection:
    """Pairs kept for allocation under an objective, with what was left out and why."""

    values: pd.DataFrame  # kept pairs, with a ``score`` column = the objective's weight
    objective: str
    negative_pairs: int
    negative_customers: int  # customers with no pair worth sending
    deeper_than_needed: int  # pairs dropped because a cheaper depth of the same offer does as well

    def note(self) -> str:
        if self.objective == "response":
            return _("Ranked by the chance to convert if sent (not by the change the coupon makes).")
        return _("{customers} customer(s) left out: no coupon has a positive expected incremental {what} for them "
                 "({pairs} pair(s)); {deeper} deeper-than-needed pair(s) replaced by a cheaper depth of the same "
                 "offer.").format(customers=f"{self.negative_customers:,}",
                                  what=_("profit") if self.objective == "profit" else _("effect"),
                                  pairs=f"{self.negative_pairs:,}", deeper=f"{self.deeper_than_needed:,}")


def select_pairs(values: pd.DataFrame, items: pd.DataFrame, objective: str, depth_column: str = "discount_depth",
                 send_negative: bool = False) -> Selection:
    """Keep the pairs worth sending (unless ``send_negative``) and the cheapest sufficient depth."""
    check_objective(objective)
    positive = worth_sending(values, objective) | send_negative
    customers = values[C.USER_ID].astype(str)
    negative_customers = int(customers.nunique() - customers[positive].nunique())
    kept = values[positive]
    depth = choose_depths(kept, depth_families(items, depth_column), objective)
    kept = kept[depth].reset_index(drop=True)
    kept = kept.assign(**{C.SCORE: objective_weight(kept, objective)})
    return Selection(kept, objective, int((~positive).sum()), negative_customers, int((~depth).sum()))
