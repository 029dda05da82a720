"""The synthetic shop's offers (:mod:`recsys.data.synth`): campaign type, category, channel, discount depth,
minimum spend, run dates, popularity and exposure per offer; and the items table with titles,
descriptions and tags written from them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recsys.core import columns as cols
from recsys.data.synth_vocab import (
    CAMPAIGN_TYPE, CAMPAIGN_TYPES, CAMPAIGN_TYPE_SHARES, CATEGORIES, CATEGORY, CHANNEL, CHANNELS, CHANNEL_SHARES,
    DATE_DTYPE, DESCRIPTION, DISCOUNT_DEPTH, END_DATE, MIN_SPEND, SEASONS, START_DATE, TAGS, TITLE,
)

if TYPE_CHECKING:
    from recsys.data.synth import SynthConfig


_CATEGORY_BLURB: dict[str, str] = {
    "fashion": "new-season styles", "shoes": "trainers, boots and sandals",
    "electronics": "headphones, phones and smart gadgets", "beauty": "skincare and make-up",
    "home": "kitchen, bedding and decor", "grocery": "your weekly shop",
    "sports": "fitness gear and outdoor kit", "toys": "toys, games and puzzles",
}


#: Discount-depth options (percent) per campaign type; fixed-amount depth is amount / minimum spend.
_DEPTH_OPTIONS: dict[str, tuple[float, ...]] = {
    "percent_off": (10, 15, 20, 25, 30, 35, 40, 50),
    "free_shipping": (5, 8, 10),
    "bundle": (15, 20, 25, 33),
    "flash_sale": (30, 40, 50, 60),
}
_MIN_SPEND_OPTIONS: dict[str, tuple[float, ...]] = {
    "percent_off": (0, 20, 30, 50),
    "fixed_amount": (25, 40, 50, 75, 100),
    "free_shipping": (25, 35, 50),
    "bundle": (0, 0, 30),
    "flash_sale": (0, 0, 20),
}
_FIXED_AMOUNTS: tuple[float, ...] = (5, 10, 15, 20, 25)


def make_items(config: SynthConfig, rng: np.random.Generator, start: pd.Timestamp) -> dict[str, Any]:
    n, days = config.n_items, config.days
    ctype = rng.choice(len(CAMPAIGN_TYPES), size=n, p=CAMPAIGN_TYPE_SHARES)
    category = rng.integers(0, len(CATEGORIES), size=n)
    channel = rng.choice(len(CHANNELS), size=n, p=CHANNEL_SHARES)
    depth = np.zeros(n)
    min_spend = np.zeros(n)
    amount = np.zeros(n)
    for t, name in enumerate(CAMPAIGN_TYPES):  # a handful of campaign types
        mask = ctype == t
        min_spend[mask] = rng.choice(_MIN_SPEND_OPTIONS[name], size=mask.sum())
        if name == "fixed_amount":
            amount[mask] = rng.choice(_FIXED_AMOUNTS, size=mask.sum())
            depth[mask] = np.round(100.0 * amount[mask] / min_spend[mask])
        else:
            depth[mask] = rng.choice(_DEPTH_OPTIONS[name], size=mask.sum())

    # Windows: a few evergreen offers run all period (so every day has something on show).
    is_flash = ctype == CAMPAIGN_TYPES.index("flash_sale")
    duration = np.where(is_flash, rng.integers(2, 5, size=n), rng.integers(14, 61, size=n))
    duration = np.minimum(duration, days)
    start_day = rng.integers(0, days - duration + 1)
    evergreen = rng.random(n) < config.evergreen_share
    evergreen[np.argsort(rng.random(n))[:2]] = True
    start_day = np.where(evergreen, 0, start_day)
    end_day = np.where(evergreen, days - 1, start_day + duration - 1)

    rank = rng.permutation(n) + 1  # popularity rank, 1 = most attractive
    attractiveness = -config.popularity_exponent * np.log(rank)
    attractiveness -= attractiveness.mean()
    exposure = rank ** -config.exposure_skew * np.where(is_flash, config.flash_sale_exposure, 1.0)
    latent = rng.normal(size=(n, config.latent_dim))
    ids = pd.array(np.char.add("OFF", np.char.zfill(np.arange(1, n + 1).astype(str), 4)), dtype="str")
    return {
        "ids": ids, "ctype": ctype, "category": category, "channel": channel, "depth": depth,
        "min_spend": min_spend, "amount": amount, "start_day": start_day, "end_day": end_day,
        "evergreen": evergreen, "rank": rank, "attractiveness": attractiveness, "exposure": exposure,
        "latent": latent, "deep": depth >= config.deep_discount_threshold,
    }


def _money(values: np.ndarray) -> np.ndarray:
    return np.char.add("$", values.astype(int).astype(str))


def items_frame(it: dict[str, Any], start: pd.Timestamp) -> pd.DataFrame:
    ctype = np.array(CAMPAIGN_TYPES)[it["ctype"]]
    category = np.array(CATEGORIES)[it["category"]]
    channel = np.array(CHANNELS)[it["channel"]]
    depth_txt = it["depth"].astype(int).astype(str)
    start_dates = start.to_datetime64().astype("datetime64[D]") + it["start_day"].astype("timedelta64[D]")
    end_dates = start.to_datetime64().astype("datetime64[D]") + it["end_day"].astype("timedelta64[D]")
    months = pd.DatetimeIndex(start_dates).month.to_numpy()
    season = np.array(SEASONS)[months - 1]
    cat_title = np.char.capitalize(category)
    offer_text = np.select(
        [ctype == "percent_off", ctype == "fixed_amount", ctype == "free_shipping", ctype == "bundle"],
        [
            np.char.add(depth_txt, "% off"),
            np.char.add(np.char.add(_money(it["amount"]), " off "), _money(it["min_spend"])),
            np.full(len(ctype), "Free shipping"),
            np.where(it["depth"] == 33, "Buy 2 get 1 free", np.char.add(np.char.add("Bundle & save ", depth_txt), "%")),
        ],
        default=np.char.add(np.char.add("Flash sale ", depth_txt), "% off"),
    )
    title = np.char.add(np.char.add(np.char.add(season, " "), np.char.add(cat_title, " ")), offer_text)
    repeat = pd.Series(title).groupby(title).cumcount().to_numpy()  # "... (2)" keeps titles unique
    title = np.char.add(title, np.where(repeat > 0, np.char.add(np.char.add(" (", (repeat + 1).astype(str)), ")"), ""))

    blurb = np.array([_CATEGORY_BLURB[c] for c in CATEGORIES])[it["category"]]
    spend_clause = np.where(
        it["min_spend"] > 0,
        np.char.add(np.char.add(" when you spend ", _money(it["min_spend"])), " or more"),
        "",
    )
    channel_clause = np.select(
        [channel == "app", channel == "sms", channel == "email"],
        [" in the app only", " with the code in your text message", " with the code in your inbox"],
        default=" online",
    )
    lead = np.select(
        [it["deep"] & (ctype == "flash_sale"), it["deep"]],
        ["Huge savings for a few days only: ", "Big clearance savings: "],
        default="",
    )
    pitch = np.select(
        [ctype == "percent_off", ctype == "fixed_amount", ctype == "free_shipping", ctype == "bundle"],
        [
            np.char.add(np.char.add("Save ", depth_txt), "% on"),
            np.char.add(np.char.add("Get ", _money(it["amount"])), " off"),
            np.full(len(ctype), "Free shipping on"),
            np.char.add(offer_text, " on"),
        ],
        default=np.char.add(np.char.add("Flash sale: ", depth_txt), "% off"),
    )
    description = np.char.add(
        np.char.add(np.char.add(lead, pitch), np.char.add(" ", blurb)),
        np.char.add(np.char.add(spend_clause, channel_clause), "."),
    )

    tags = np.char.add(category, np.char.add("|", np.char.replace(ctype, "_", "-")))
    tags = np.char.add(tags, np.where(it["deep"], "|deep-discount", ""))
    tags = np.char.add(tags, np.where(channel == "app", "|app-exclusive", ""))
    tags = np.char.add(tags, np.where(it["min_spend"] == 0, "|no-minimum", ""))
    tags = np.char.add(tags, np.where(it["evergreen"], "|always-on", ""))
    return pd.DataFrame({
        cols.ITEM_ID: it["ids"],
        TITLE: pd.array(title, dtype="str"),
        CAMPAIGN_TYPE: pd.array(ctype, dtype="str"),
        CATEGORY: pd.array(category, dtype="str"),
        DISCOUNT_DEPTH: it["depth"].astype("float64"),
        MIN_SPEND: it["min_spend"].astype("float64"),
        CHANNEL: pd.array(channel, dtype="str"),
        DESCRIPTION: pd.array(description, dtype="str"),
        START_DATE: start_dates.astype(DATE_DTYPE),
        END_DATE: end_dates.astype(DATE_DTYPE),
        TAGS: pd.array(tags, dtype="str"),
    })
