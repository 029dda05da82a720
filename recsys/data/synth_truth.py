"""The synthetic shop's planted truth (:mod:`recsys.data.synth`): the generating equations in words, the
personas and planted effects, and the effect sizes realised in the generated events, as plain JSON."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recsys.core import columns as cols
from recsys.data.synth_vocab import (
    AGE_BANDS, AGE_CATEGORY_WEIGHTS, CATEGORIES, CHANNELS, CHANNEL_EFFECT, DISCOUNT_DEPTH, EVENTS, GENDER,
    HOUR_WEIGHTS, LOYALTY_TIER, PERSONAS, PERSONA_NAMES, REGION, REGIONS, WEEKDAY_WEIGHTS,
)

if TYPE_CHECKING:
    from recsys.data.synth import SynthConfig


def gini(counts: np.ndarray | pd.Series) -> float:
    """Gini coefficient of non-negative counts (0 = all equal, -> 1 = all on one)."""
    x = np.sort(np.asarray(counts, dtype="float64"))
    n, total = len(x), x.sum()
    if n == 0 or total == 0:
        return 0.0
    return float(2.0 * np.sum(np.arange(1, n + 1) * x) / (n * total) - (n + 1) / n)


def _rate(num: np.ndarray, den: np.ndarray) -> float:
    d = float(den.sum())
    return round(float(num.sum()) / d, 5) if d else float("nan")


def _observed(config: SynthConfig, u: dict[str, Any], it: dict[str, Any], ev: dict[str, Any]) -> dict[str, Any]:
    """Realised effect sizes in the generated data (what an analysis of the raw events shows)."""
    kept = ev["kept"]
    user, item = ev["user"][kept], ev["item"][kept]
    redeemed, clicked = ev["redeemed"][kept], ev["clicked"][kept]
    deep = it["deep"][item]
    persona = u["persona"][user]
    redeem_by_persona = {}
    for k, name in enumerate(PERSONA_NAMES):
        mine = persona == k
        redeem_by_persona[name] = {
            "deep": _rate(redeemed & mine & deep, mine & deep),
            "shallow": _rate(redeemed & mine & ~deep, mine & ~deep),
        }
    in_region = u["region"][user] == REGIONS.index(config.channel_region)
    pref = it["channel"][item] == CHANNELS.index(config.preferred_channel)
    counts = np.bincount(ev["item"][ev["clicked"] | ev["redeemed"]], minlength=config.n_items)
    deep_share = {}
    imp_per_user = np.bincount(user, minlength=config.n_users)
    deep_per_user = np.bincount(user, weights=deep, minlength=config.n_users)
    for a, band in enumerate(AGE_BANDS):
        mine = u["age"] == a
        deep_share[band] = _rate(deep_per_user[mine], imp_per_user[mine])
    return {
        "redeem_rate_per_impression_by_persona": redeem_by_persona,
        "click_rate": {
            f"{config.channel_region}_{config.preferred_channel}": _rate(clicked & in_region & pref, in_region & pref),
            f"{config.channel_region}_other_channels": _rate(clicked & in_region & ~pref, in_region & ~pref),
            f"other_regions_{config.preferred_channel}": _rate(clicked & ~in_region & pref, ~in_region & pref),
        },
        "item_click_redeem_gini": round(gini(counts), 4),
        "deep_discount_impression_share_by_age_band": deep_share,
        "segment_persona_agreement": round(float(np.mean(u["segment"] == u["persona"])), 4),
        "event_counts": {
            name: int(ev[m].sum()) for name, m in zip(EVENTS, ("kept", "clicked", "redeemed", "purchased"))
        },
    }


def _liked_labels(liked: np.ndarray) -> list[str]:
    """Each row of a boolean customer x category matrix as 'cat1|cat2' (via a bitmask lookup table)."""
    bits = 1 << np.arange(liked.shape[1])
    masks = np.arange(1 << liked.shape[1])
    table = np.array(["|".join(c for c, b in zip(CATEGORIES, bits) if m & b) for m in masks])
    return table[liked.astype(np.int64) @ bits].tolist()


def make_truth(config: SynthConfig, u: dict[str, Any], it: dict[str, Any], ev: dict[str, Any],
                start: pd.Timestamp, end: pd.Timestamp) -> dict[str, Any]:
    """The planted truth as plain JSON types (so it equals what :func:`load_truth` reads back)."""
    user_ids = np.asarray(u["ids"], dtype=object).tolist()
    item_ids = np.asarray(it["ids"], dtype=object).tolist()
    threshold = f"{config.deep_discount_threshold:g}"
    truth = {
        "generator": "recsys.data.synth",
        "config": config.to_dict(),
        "period": {"start": start.strftime("%Y-%m-%d"), "end": end.strftime("%Y-%m-%d")},
        "events": _truth_events(),
        "model": _truth_model(config),
        "headline_driver": {
            "persona": "bargain_hunter",
            "segment": "deal_seeker",
            "feature": DISCOUNT_DEPTH,
            "threshold": config.deep_discount_threshold,
            "statement": f"deal_seeker customers (bargain_hunter persona) click and redeem far more on offers with "
                         f"discount_depth >= {threshold}; explanations of their top deep-discount recommendations "
                         "should be led by segment and discount features",
        },
        "personas": {p.name: p.to_dict() for p in PERSONAS},
        "segments": {p.segment: p.name for p in PERSONAS},
        "segment_agreement": config.segment_agreement,
        "category_tastes": {
            "categories": list(CATEGORIES),
            "age_band_weights": AGE_CATEGORY_WEIGHTS,
            "rule": "score = log(persona.category_weights) + log(age_band_weights) + taste_idiosyncrasy*Gumbel;"
                    " a customer likes the top-k categories, k drawn from persona.n_liked_probs",
        },
        "channel_preference": {
            "region": config.channel_region, "channel": config.preferred_channel,
            "click_logit_boost": config.channel_boost, "channel_effects": CHANNEL_EFFECT,
        },
        "popularity": {
            "exponent": config.popularity_exponent, "strength": config.popularity_strength,
            "exposure_skew": config.exposure_skew,
            "offer_rank": dict(zip(item_ids, it["rank"].tolist())),
        },
        "null_effects": {
            GENDER: "no planted effect on behaviour",
            LOYALTY_TIER: "no direct effect; correlated with persona only",
            REGION: f"no effect except {config.channel_region} x {config.preferred_channel}",
        },
        "bias": {
            "enabled": config.plant_bias,
            "age_band": config.bias_age_band,
            "deep_discount_impression_keep_rate": config.bias_exposure_ratio if config.plant_bias else 1.0,
            "statement": (
                f"the exposure policy keeps each deep-discount impression of a {config.bias_age_band} customer "
                f"with probability {config.bias_exposure_ratio:g}; their true response is unchanged"
                if config.plant_bias else "no exposure bias planted"
            ),
        },
        "observed": _observed(config, u, it, ev),
        "user_persona": dict(zip(user_ids, np.array(PERSONA_NAMES)[u["persona"]].tolist())),
        "user_liked_categories": dict(zip(user_ids, _liked_labels(u["liked"]))),
    }
    return json.loads(json.dumps(truth))


def _truth_events() -> dict[str, Any]:
    return {
        "funnel": list(EVENTS),
        cols.VALUE: "order revenue after discount on purchase rows (> 0); 0.0 on every other event",
        "invariants": [
            "every click follows an impression of the same customer and offer",
            "every redeem follows a click of the same customer and offer; at most one redeem per customer "
            "and offer (single-use coupons)",
            "every purchase follows a redeem of the same customer and offer",
            "every event lies inside its offer's start_date..end_date (inclusive) and on or after the "
            "customer's signup_date",
        ],
        "delays_seconds_mean": {
            "click_after_impression": 480, "redeem_after_click": 10800, "purchase_after_redeem": 600,
        },
        "seasonality": {
            "weekday_weights_mon_first": list(WEEKDAY_WEIGHTS), "hour_weights": list(HOUR_WEIGHTS),
            "trend": "traffic grows 10% linearly over the period",
        },
    }


def _truth_model(config: SynthConfig) -> dict[str, str]:
    """The generating equations in words (parameter names refer to ``config`` and ``personas``)."""
    return {
        "click": "logit P(click|impression) = click_intercept + persona.click_base"
                 " + popularity_strength*attractiveness + taste_strength*persona.taste_multiplier*liked_category"
                 " + persona.deep_click*deep + discount_slope*(discount_depth-25) + persona.campaign_type_effect"
                 " + channel_effect + channel_boost*[region==channel_region and channel==preferred_channel]"
                 " + latent_strength*<z_user, z_offer>/sqrt(latent_dim) + N(0, noise)",
        "redeem": "logit P(redeem|click) = redeem_intercept + persona.deep_redeem*deep"
                  " + persona.min_spend_penalty*min_spend/50 + taste_redeem*liked_category"
                  " + 0.5*latent_strength*<z_user, z_offer>/sqrt(latent_dim) + N(0, noise)",
        "purchase": "P(purchase|redeem) = purchase_rate",
        cols.VALUE: "gross = max(min_spend*(1+Exp(0.15)),"
                    " category_basket*persona.value_multiplier*LogNormal(-0.08, 0.4));"
                    " value = gross - amount (fixed_amount) or gross*(1-discount_depth/100), rounded to cents",
        "attractiveness": "-popularity_exponent*log(offer_rank), centred to mean 0",
        "exposure": "each customer gets Poisson(impressions_per_user*activity*share of period after signup)"
                    " impressions on days drawn by weekday weights; the offer is drawn among those on show"
                    " that day with weight offer_rank**-exposure_skew (x flash_sale_exposure for flash sales);"
                    " a targeted_share of impressions (the shop's existing rule-based targeting) is drawn only"
                    " among on-show offers of one of the customer's liked categories (chosen uniformly)",
        "deep_discount": f"discount_depth >= {config.deep_discount_threshold:g}",
    }
