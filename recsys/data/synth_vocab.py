"""The synthetic shop's vocabulary (:mod:`recsys.data.synth`): the column names and dtypes of its tables, the
labels and shares of its customers' and offers' traits, the seasons and traffic weights, and the hidden
personas that drive behaviour."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from recsys.core import columns as cols


# --- feature column names of the synthetic users and items tables ------------------------------
SEGMENT = "segment"
REGION = "region"
AGE_BAND = "age_band"
GENDER = "gender"
LOYALTY_TIER = "loyalty_tier"
SIGNUP_DATE = "signup_date"
EMAIL = "email"
USER_COLUMNS: tuple[str, ...] = (
    cols.USER_ID, SEGMENT, REGION, AGE_BAND, GENDER, LOYALTY_TIER, SIGNUP_DATE, EMAIL,
)

TITLE = "title"
CAMPAIGN_TYPE = "campaign_type"
CATEGORY = "category"
DISCOUNT_DEPTH = "discount_depth"
MIN_SPEND = "min_spend"
CHANNEL = "channel"
DESCRIPTION = "description"
START_DATE = "start_date"
END_DATE = "end_date"
TAGS = "tags"
ITEM_COLUMNS: tuple[str, ...] = (
    cols.ITEM_ID, TITLE, CAMPAIGN_TYPE, CATEGORY, DISCOUNT_DEPTH, MIN_SPEND, CHANNEL, DESCRIPTION,
    START_DATE, END_DATE, TAGS,
)
INTERACTION_COLUMNS: tuple[str, ...] = (cols.USER_ID, cols.ITEM_ID, cols.EVENT, cols.TIMESTAMP, cols.VALUE)

#: Funnel events in order; a later event of a (customer, offer) always follows an earlier one.
EVENTS: tuple[str, ...] = (cols.IMPRESSION, cols.CLICK, cols.REDEEM, cols.PURCHASE)
TIMESTAMP_DTYPE = "datetime64[us]"  # what pandas >= 3 gives when it parses the CSV back
DATE_DTYPE = "datetime64[us]"


# --- the vocabulary of the shop -----------------------------------------------------------------
CATEGORIES: tuple[str, ...] = (
    "fashion", "shoes", "electronics", "beauty", "home", "grocery", "sports", "toys",
)
AGE_BANDS: tuple[str, ...] = ("18-24", "25-34", "35-44", "45-54", "55+")
AGE_BAND_SHARES: tuple[float, ...] = (0.14, 0.24, 0.22, 0.18, 0.22)
REGIONS: tuple[str, ...] = ("north", "south", "east", "west", "central")
REGION_SHARES: tuple[float, ...] = (0.22, 0.24, 0.18, 0.20, 0.16)
GENDERS: tuple[str, ...] = ("F", "M", "X")
GENDER_SHARES: tuple[float, ...] = (0.51, 0.46, 0.03)
LOYALTY_TIERS: tuple[str, ...] = ("bronze", "silver", "gold", "platinum")
CHANNELS: tuple[str, ...] = ("email", "app", "web", "sms")
CHANNEL_SHARES: tuple[float, ...] = (0.35, 0.30, 0.25, 0.10)
#: Base click logit shift of each channel (all customers).
CHANNEL_EFFECT: dict[str, float] = {"email": -0.2, "app": 0.1, "web": 0.0, "sms": -0.4}
CAMPAIGN_TYPES: tuple[str, ...] = ("percent_off", "fixed_amount", "free_shipping", "bundle", "flash_sale")
CAMPAIGN_TYPE_SHARES: tuple[float, ...] = (0.35, 0.20, 0.15, 0.15, 0.15)

#: Typical basket (gross order value) per category, before persona multiplier and noise.
CATEGORY_BASKET: dict[str, float] = {
    "fashion": 65.0, "shoes": 80.0, "electronics": 180.0, "beauty": 40.0,
    "home": 90.0, "grocery": 55.0, "sports": 75.0, "toys": 45.0,
}
#: Category taste prior per age band (weights; unlisted categories weigh 1).
AGE_CATEGORY_WEIGHTS: dict[str, dict[str, float]] = {
    "18-24": {"fashion": 3.0, "shoes": 2.5, "electronics": 2.5},
    "25-34": {"fashion": 2.0, "beauty": 2.5, "toys": 2.0},
    "35-44": {"home": 2.5, "toys": 2.5, "grocery": 2.0},
    "45-54": {"home": 2.5, "grocery": 2.0, "sports": 2.0},
    "55+": {"home": 3.0, "grocery": 2.5, "beauty": 1.5},
}
#: Relative number of impressions per weekday (Monday first) and per hour of day.
WEEKDAY_WEIGHTS: tuple[float, ...] = (0.90, 0.92, 0.95, 1.00, 1.15, 1.30, 1.20)
HOUR_WEIGHTS: tuple[float, ...] = (
    0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.5, 0.9, 1.1, 1.0, 1.0, 1.1,
    1.3, 1.2, 1.0, 1.0, 1.1, 1.3, 1.6, 1.9, 2.0, 1.7, 1.1, 0.5,
)
SEASONS: tuple[str, ...] = (  # by month, January first
    "Winter", "Winter", "Spring", "Spring", "Spring", "Summer",
    "Summer", "Summer", "Autumn", "Autumn", "Autumn", "Winter",
)


@dataclass(frozen=True)
class Persona:
    """A hidden customer type that drives behaviour (see ``truth["personas"]``)."""

    name: str
    segment: str  # the observed segment label that usually goes with this persona
    share: float
    description: str
    activity: float  # multiplier on the number of impressions
    click_base: float  # click logit shift
    deep_click: float  # click logit shift on deep-discount offers
    deep_redeem: float  # redeem logit shift (given a click) on deep-discount offers
    min_spend_penalty: float  # redeem logit shift per 50 of minimum spend
    taste_multiplier: float  # multiplies the liked-category effect
    n_liked_probs: tuple[float, float, float]  # P(1, 2, 3 liked categories)
    category_weights: dict[str, float]  # taste prior (unlisted categories weigh 1)
    campaign_type_effect: dict[str, float]  # click logit shift per campaign type
    value_multiplier: float  # multiplies the basket value
    tier_probs: tuple[float, float, float, float]  # bronze, silver, gold, platinum

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


PERSONAS: tuple[Persona, ...] = (
    Persona(
        "bargain_hunter", "deal_seeker", 0.25,
        "Price-sensitive: clicks and redeems far more on deep discounts (>= 30%), dislikes high "
        "minimum spend, smaller baskets.",
        activity=1.2, click_base=-0.2, deep_click=1.4, deep_redeem=1.8, min_spend_penalty=-0.6,
        taste_multiplier=0.8, n_liked_probs=(0.4, 0.4, 0.2),
        category_weights={"grocery": 2.5, "fashion": 2.0, "home": 1.5},
        campaign_type_effect={"flash_sale": 0.4}, value_multiplier=0.8,
        tier_probs=(0.45, 0.35, 0.15, 0.05),
    ),
    Persona(
        "brand_loyal", "loyalist", 0.20,
        "Sticks to one favourite category and buys there whatever the discount; high loyalty tier.",
        activity=1.3, click_base=0.0, deep_click=0.1, deep_redeem=0.1, min_spend_penalty=0.0,
        taste_multiplier=1.5, n_liked_probs=(0.7, 0.3, 0.0),
        category_weights={"electronics": 1.5, "sports": 1.5},
        campaign_type_effect={}, value_multiplier=1.2,
        tier_probs=(0.05, 0.20, 0.40, 0.35),
    ),
    Persona(
        "category_explorer", "explorer", 0.20,
        "Broad tastes (usually 3 categories), likes bundles, moderate discount response.",
        activity=1.0, click_base=0.1, deep_click=0.3, deep_redeem=0.3, min_spend_penalty=-0.1,
        taste_multiplier=0.7, n_liked_probs=(0.0, 0.3, 0.7),
        category_weights={},
        campaign_type_effect={"bundle": 0.6}, value_multiplier=1.0,
        tier_probs=(0.25, 0.40, 0.25, 0.10),
    ),
    Persona(
        "premium", "premium", 0.15,
        "Not moved by discounts (slightly put off by deep ones), likes free shipping, big baskets.",
        activity=0.8, click_base=0.0, deep_click=-0.3, deep_redeem=-0.2, min_spend_penalty=0.2,
        taste_multiplier=1.0, n_liked_probs=(0.3, 0.5, 0.2),
        category_weights={"electronics": 2.5, "beauty": 2.0, "fashion": 1.5},
        campaign_type_effect={"free_shipping": 0.8}, value_multiplier=1.6,
        tier_probs=(0.10, 0.25, 0.35, 0.30),
    ),
    Persona(
        "occasional", "casual", 0.20,
        "Rarely active and rarely responds; impulse clicks on flash sales.",
        activity=0.4, click_base=-0.6, deep_click=0.4, deep_redeem=0.3, min_spend_penalty=-0.2,
        taste_multiplier=1.0, n_liked_probs=(0.6, 0.3, 0.1),
        category_weights={"toys": 1.5, "home": 1.5},
        campaign_type_effect={"flash_sale": 0.7}, value_multiplier=0.9,
        tier_probs=(0.60, 0.30, 0.08, 0.02),
    ),
)
PERSONA_NAMES: tuple[str, ...] = tuple(p.name for p in PERSONAS)
SEGMENTS: tuple[str, ...] = tuple(p.segment for p in PERSONAS)


def labels(names: tuple[str, ...], codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """String labels of integer codes (a take on a tiny string array: fast for millions of rows)."""
    return pd.array(list(names), dtype="str").take(codes)
