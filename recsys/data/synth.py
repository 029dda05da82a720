"""Realistic synthetic shop data with a documented planted truth.

:func:`generate` makes a shop of customers, offers (coupons / campaigns) and about six months of
events (impression -> click -> redeem -> purchase with value). Behaviour is driven by structure that is
written down in :attr:`SyntheticShop.truth`, so a model, an explanation, a segmentation or a fairness
audit can be checked against what is really there:

* every customer has a hidden *persona* (bargain hunter, brand loyal, category explorer, premium,
  occasional); the observed ``segment`` matches it for ~85% of customers;
* bargain hunters respond much more to deep discounts (``discount_depth >= 30``): the headline driver;
* each customer likes 1-3 categories, drawn from persona and age-band priors plus idiosyncratic noise,
  and a small latent user x offer factor adds purely collaborative signal;
* customers in region ``north`` respond more to ``app`` offers;
* offers have a Zipf-like base attractiveness and exposure (popularity skew); logit noise on top;
* optionally (``plant_bias=True``) the exposure policy shows deep-discount offers to the ``55+`` age
  band at half the rate, while their true response is unchanged.

Everything is vectorised over whole arrays (loops only run over a handful of personas, categories or
campaign types) and deterministic for a given seed.

>>> shop = generate(n_users=200, n_items=30, seed=1)
>>> sorted(shop.truth["personas"])[:2]
['bargain_hunter', 'brand_loyal']
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
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

USERS_FILE = "users.csv"
ITEMS_FILE = "items.csv"
INTERACTIONS_FILE = "interactions.csv"
TRUTH_FILE = "truth.json"
PAST_CAMPAIGNS_FILE = "past_campaigns.csv"
GZIP_ABOVE_ROWS = 100_000  # interactions files longer than this are written gzipped

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
_FIRST_NAMES = np.array([
    "anna", "ben", "carla", "dev", "emma", "farid", "grace", "hugo", "ines", "jon", "kim", "leo",
    "maya", "nils", "olga", "priya", "quinn", "rosa", "sam", "tariq", "uma", "vic", "wen", "yusuf",
])
_LAST_NAMES = np.array([
    "smith", "jones", "garcia", "muller", "rossi", "dubois", "novak", "khan", "silva", "kowalski",
    "tanaka", "olsen", "byrne", "costa", "meyer", "ahmed", "larsen", "moreau", "lopez", "weber",
])
_CATEGORY_BLURB: dict[str, str] = {
    "fashion": "new-season styles", "shoes": "trainers, boots and sandals",
    "electronics": "headphones, phones and smart gadgets", "beauty": "skincare and make-up",
    "home": "kitchen, bedding and decor", "grocery": "your weekly shop",
    "sports": "fitness gear and outdoor kit", "toys": "toys, games and puzzles",
}


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


@dataclass(frozen=True)
class SynthConfig:
    """Every parameter of the synthetic shop (JSON-able; ``to_dict``/``from_dict`` round-trip).

    Logit effects are on the log-odds scale of the click (per impression) or the redeem (per click)
    probability. Persona-specific effects live in :data:`PERSONAS`.
    """

    n_users: int = 4000
    n_items: int = 150
    seed: int = 0
    days: int = 182
    end_date: str = "2026-06-30"
    plant_bias: bool = False  # under-expose one age band to deep discounts (for fairness audits)
    bias_age_band: str = "55+"
    bias_exposure_ratio: float = 0.5  # that band's deep-discount impressions are kept with this probability
    impressions_per_user: float = 60.0  # mean for an average-activity customer active the whole period
    activity_sigma: float = 0.5  # log-normal spread of customer activity
    segment_agreement: float = 0.85  # P(observed segment == persona's segment)
    deep_discount_threshold: float = 30.0
    click_intercept: float = -3.3
    redeem_intercept: float = -1.3
    purchase_rate: float = 0.85  # P(purchase | redeem)
    discount_slope: float = 0.01  # click logit per discount point, everyone
    taste_strength: float = 2.0  # click logit of a liked category (times the persona multiplier)
    taste_redeem: float = 0.5  # redeem logit of a liked category
    taste_idiosyncrasy: float = 1.0  # Gumbel scale of the individual part of category tastes
    popularity_exponent: float = 1.0  # Zipf exponent of offer base attractiveness
    popularity_strength: float = 0.4  # click logit per unit of -log(rank), centred
    exposure_skew: float = 0.4  # impressions per active day proportional to rank ** -exposure_skew
    targeted_share: float = 0.5  # impressions chosen by the shop's rule-based targeting (a liked category)
    flash_sale_exposure: float = 3.0  # flash sales are pushed this much harder per day
    channel_region: str = "north"
    preferred_channel: str = "app"
    channel_boost: float = 1.0  # click logit of preferred_channel offers in channel_region
    latent_dim: int = 4
    latent_strength: float = 0.5  # click logit scale of the purely collaborative user x offer factor
    noise: float = 0.5  # sd of per-impression logit noise
    evergreen_share: float = 0.08  # offers that run for the whole period
    signup_years: float = 3.0  # signups spread over this many years before end_date

    def to_dict(self) -> dict[str, Any]:
        """All parameters as a JSON-able dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SynthConfig":
        """Build a config from :meth:`to_dict` output; unknown keys are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"Unknown SynthConfig parameter(s): {', '.join(unknown)}. Known: {', '.join(sorted(known))}."
            )
        return cls(**data)

    def validate(self) -> None:
        """Raise ``ValueError`` naming the parameter when a value is out of range."""
        checks = [
            (self.n_users >= 1, "n_users must be >= 1"),
            (self.n_items >= 5, "n_items must be >= 5"),
            (self.days >= 14, "days must be >= 14"),
            (0.0 <= self.segment_agreement <= 1.0, "segment_agreement must be in [0, 1]"),
            (0.0 <= self.bias_exposure_ratio <= 1.0, "bias_exposure_ratio must be in [0, 1]"),
            (0.0 <= self.purchase_rate <= 1.0, "purchase_rate must be in [0, 1]"),
            (0.0 <= self.evergreen_share <= 1.0, "evergreen_share must be in [0, 1]"),
            (0.0 <= self.targeted_share <= 1.0, "targeted_share must be in [0, 1]"),
            (self.impressions_per_user > 0, "impressions_per_user must be > 0"),
            (self.latent_dim >= 1, "latent_dim must be >= 1"),
            (self.noise >= 0 and self.activity_sigma >= 0, "noise and activity_sigma must be >= 0"),
            (self.bias_age_band in AGE_BANDS, f"bias_age_band must be one of {AGE_BANDS}"),
            (self.channel_region in REGIONS, f"channel_region must be one of {REGIONS}"),
            (self.preferred_channel in CHANNELS, f"preferred_channel must be one of {CHANNELS}"),
            (self.signup_years > 0, "signup_years must be > 0"),
        ]
        problems = [msg for ok, msg in checks if not ok]
        try:
            pd.Timestamp(self.end_date)
        except ValueError:
            problems.append(f"end_date {self.end_date!r} is not a date (use YYYY-MM-DD)")
        if problems:
            raise ValueError("Invalid SynthConfig: " + "; ".join(problems) + ".")


@dataclass(frozen=True)
class SyntheticShop:
    """A generated shop: three tables of the data contract plus the planted truth.

    ``interactions`` has ``user_id, item_id, event, timestamp, value``; ``value`` is the order revenue
    on purchases (> 0) and ``0.0`` on every other event. Rows are sorted by time.
    """

    interactions: pd.DataFrame
    users: pd.DataFrame
    items: pd.DataFrame
    truth: dict[str, Any]
    #: The generator's hidden per-customer and per-offer arrays (persona codes, liked categories,
    #: latent factors, ...), kept only on a freshly generated shop (never written to the CSVs); what
    #: :func:`true_response_probability` reads. ``None`` on a shop read back by :func:`load_sample`.
    hidden: dict[str, Any] | None = dataclasses.field(default=None, compare=False, repr=False)
    #: Past randomised coupon campaigns (treatment + control, outcomes), from their own random
    #: stream (:mod:`recsys.data.past_campaigns`); ``None`` when a folder read back has none.
    past_campaigns: pd.DataFrame | None = dataclasses.field(default=None, compare=False, repr=False)


# ================================================================================================
# public API
# ================================================================================================
def generate(config: SynthConfig | None = None, **overrides: Any) -> SyntheticShop:
    """Generate a synthetic shop.

    Parameters
    ----------
    config
        All parameters; the defaults of :class:`SynthConfig` when omitted.
    **overrides
        Fields of :class:`SynthConfig` to change, e.g. ``n_users=500``.

    Returns
    -------
    SyntheticShop
        Interactions, users, items and the JSON-able planted truth.

    Examples
    --------
    >>> shop = generate(n_users=100, n_items=20, seed=3)
    >>> set(shop.interactions[cols.EVENT]) <= set(EVENTS)
    True
    """
    config = config or SynthConfig()
    if overrides:
        known = {f.name for f in dataclasses.fields(SynthConfig)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"Unknown SynthConfig parameter(s): {', '.join(unknown)}.")
        config = dataclasses.replace(config, **overrides)
    config.validate()
    # Independent streams: the users table does not change when only n_items changes, and so on.
    rng_users, rng_items, rng_events = (
        np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(3)
    )
    end = pd.Timestamp(config.end_date).normalize()
    start = end - pd.Timedelta(days=config.days - 1)
    users = _make_users(config, rng_users, start)
    items = _make_items(config, rng_items, start)
    events = _make_events(config, rng_events, users, items)
    interactions = _events_frame(events, users["ids"], items["ids"], start)
    truth = _make_truth(config, users, items, events, start, end)
    shop = SyntheticShop(
        interactions=interactions,
        users=_users_frame(users),
        items=_items_frame(items, start),
        truth=truth,
        hidden={"config": config, "users": users, "items": items},
    )
    from recsys.data.past_campaigns import past_campaigns

    past, past_truth = past_campaigns(shop)
    truth["past_campaigns"] = json.loads(json.dumps(past_truth))
    return dataclasses.replace(shop, past_campaigns=past)


def write_sample(shop: SyntheticShop, out_dir: str | Path, compress: bool | None = None) -> dict[str, Path]:
    """Write a shop as CSV files plus ``truth.json``.

    Parameters
    ----------
    shop
        The shop to write.
    out_dir
        Folder to write into (created when missing). Existing files of the same names are replaced.
    compress
        Gzip the interactions file (``interactions.csv.gz``). ``None`` gzips it when it has more than
        ``GZIP_ABOVE_ROWS`` rows.

    Returns
    -------
    dict[str, Path]
        ``{"users": ..., "items": ..., "interactions": ..., "truth": ...}``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if compress is None:
        compress = len(shop.interactions) > GZIP_ABOVE_ROWS
    paths = {
        "users": out / USERS_FILE,
        "items": out / ITEMS_FILE,
        "interactions": out / (INTERACTIONS_FILE + (".gz" if compress else "")),
        "truth": out / TRUTH_FILE,
    }
    if shop.past_campaigns is not None:
        paths["past_campaigns"] = out / PAST_CAMPAIGNS_FILE
    stale = out / (INTERACTIONS_FILE if compress else INTERACTIONS_FILE + ".gz")
    if stale.exists():  # never leave two interactions files that disagree
        stale.unlink()
    shop.users.to_csv(paths["users"], index=False, date_format="%Y-%m-%d", lineterminator="\n")
    shop.items.to_csv(paths["items"], index=False, date_format="%Y-%m-%d", lineterminator="\n")
    shop.interactions.to_csv(
        paths["interactions"], index=False, date_format="%Y-%m-%d %H:%M:%S", lineterminator="\n",
        compression={"method": "gzip", "mtime": 0} if compress else None,
    )
    if shop.past_campaigns is not None:
        shop.past_campaigns.to_csv(paths["past_campaigns"], index=False, date_format="%Y-%m-%d", lineterminator="\n")
    paths["truth"].write_text(json.dumps(shop.truth, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    return paths


def load_truth(path: str | Path) -> dict[str, Any]:
    """Read a ``truth.json`` (or the one inside a folder written by :func:`write_sample`)."""
    path = Path(path)
    if path.is_dir():
        path = path / TRUTH_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"No planted-truth file at {path}.") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON (line {exc.lineno}): {exc.msg}.") from None
    if not isinstance(data, dict) or "personas" not in data:
        raise ValueError(f"{path} is not a PromoLens planted-truth file (no 'personas' section).")
    return data


def load_sample(folder: str | Path) -> SyntheticShop:
    """Read back a folder written by :func:`write_sample`, with the dtypes :func:`generate` gives."""
    folder = Path(folder)
    inter_path = folder / INTERACTIONS_FILE
    if not inter_path.exists():
        inter_path = folder / (INTERACTIONS_FILE + ".gz")
    interactions = pd.read_csv(inter_path, dtype={cols.USER_ID: "str", cols.ITEM_ID: "str", cols.EVENT: "str"})
    interactions[cols.TIMESTAMP] = pd.to_datetime(interactions[cols.TIMESTAMP]).astype(TIMESTAMP_DTYPE)
    interactions[cols.VALUE] = interactions[cols.VALUE].astype("float64")
    users = pd.read_csv(folder / USERS_FILE, dtype="str")
    users[SIGNUP_DATE] = pd.to_datetime(users[SIGNUP_DATE]).astype(DATE_DTYPE)
    items = pd.read_csv(folder / ITEMS_FILE, dtype={c: "str" for c in ITEM_COLUMNS
                                                     if c not in (DISCOUNT_DEPTH, MIN_SPEND)})
    for name in (START_DATE, END_DATE):
        items[name] = pd.to_datetime(items[name]).astype(DATE_DTYPE)
    for name in (DISCOUNT_DEPTH, MIN_SPEND):
        items[name] = items[name].astype("float64")
    past = None
    if (folder / PAST_CAMPAIGNS_FILE).exists():
        from recsys.data.past_campaigns import read_past_campaigns

        past = read_past_campaigns(folder / PAST_CAMPAIGNS_FILE)
    return SyntheticShop(interactions, users, items, load_truth(folder), past_campaigns=past)


def with_hidden(shop: SyntheticShop) -> SyntheticShop:
    """The shop with its hidden generator arrays: itself when it has them, else regenerated from
    ``truth["config"]`` (a shop read back by :func:`load_sample` keeps only the CSVs and the truth)."""
    if shop.hidden is not None:
        return shop
    return generate(SynthConfig.from_dict(shop.truth["config"]))


#: Gauss-Hermite nodes for E[sigmoid(m + noise)] with Gaussian noise (exact enough to 1e-6).
_GH_NODES, _GH_WEIGHTS = np.polynomial.hermite_e.hermegauss(24)


def _expected_sigmoid(mean_logit: np.ndarray, sd: float) -> np.ndarray:
    """E[sigmoid(mean_logit + N(0, sd^2))], by Gauss-Hermite quadrature, vectorised."""
    if sd <= 0:
        return _sigmoid(mean_logit)
    return _sigmoid(mean_logit[:, None] + sd * _GH_NODES[None, :]) @ (_GH_WEIGHTS / _GH_WEIGHTS.sum())


def true_response_probability(shop: SyntheticShop, user_ids: Any, item_ids: Any) -> np.ndarray:
    """The generator's TRUE probability that a customer redeems an offer if it is sent once.

    ``P(click | impression) x P(redeem | click)`` with the generator's own logits, averaged over
    its per-impression noise (the two noises are independent) and without its random draws; it
    ignores only that a click or redeem falling after the offer's last day does not happen. This
    is what a targeting list should be judged by on a synthetic shop (never shown in the app).

    Parameters
    ----------
    shop
        A generated shop (a shop read back by :func:`load_sample` is regenerated from its config).
    user_ids, item_ids
        Pairs: equal lengths, or one of them a single id broadcast against the other.

    Returns
    -------
    np.ndarray
        One probability in [0, 1] per pair.

    Examples
    --------
    >>> shop = generate(n_users=50, n_items=10, seed=2)
    >>> p = true_response_probability(shop, ["C000001", "C000002"], "OFF0001")
    >>> p.shape, bool(((p >= 0) & (p <= 1)).all())
    ((2,), True)
    """
    shop = with_hidden(shop)
    assert shop.hidden is not None
    config, u, it = shop.hidden["config"], shop.hidden["users"], shop.hidden["items"]
    users = np.atleast_1d(np.asarray(user_ids, dtype=object)).astype(str)
    items = np.atleast_1d(np.asarray(item_ids, dtype=object)).astype(str)
    users, items = np.broadcast_arrays(users, items)
    user = pd.Index(np.asarray(u["ids"], dtype=object).astype(str)).get_indexer(users)
    item = pd.Index(np.asarray(it["ids"], dtype=object).astype(str)).get_indexer(items)
    if (user < 0).any() or (item < 0).any():
        bad = np.concatenate([users[user < 0], items[item < 0]])[:5]
        raise ValueError(f"true_response_probability: unknown customer or offer id(s) {bad.tolist()}.")
    liked, latent = _pair_taste(config, u, it, user, item)
    click = _expected_sigmoid(_click_mean_logit(config, u, it, user, item, liked, latent), config.noise)
    redeem = _expected_sigmoid(_redeem_mean_logit(config, u, it, user, item, liked, latent), config.noise)
    return click * redeem


def true_response_block(shop: SyntheticShop, user_ids: Any, item_ids: Any) -> np.ndarray:
    """:func:`true_response_probability` of every customer x offer pair, shape (customers, offers)."""
    users = np.asarray(user_ids, dtype=object)
    items = np.asarray(item_ids, dtype=object)
    p = true_response_probability(shop, np.repeat(users, len(items)), np.tile(items, len(users)))
    return p.reshape(len(users), len(items))


def user_personas(shop: SyntheticShop) -> pd.Series:
    """Each customer's hidden persona name (index ``user_id``), from the planted truth."""
    return pd.Series(shop.truth["user_persona"], name="persona").rename_axis(cols.USER_ID)


def gini(counts: np.ndarray | pd.Series) -> float:
    """Gini coefficient of non-negative counts (0 = all equal, -> 1 = all on one)."""
    x = np.sort(np.asarray(counts, dtype="float64"))
    n, total = len(x), x.sum()
    if n == 0 or total == 0:
        return 0.0
    return float(2.0 * np.sum(np.arange(1, n + 1) * x) / (n * total) - (n + 1) / n)


# ================================================================================================
# users
# ================================================================================================
def _choice_rows(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One categorical draw per row of ``probs`` (rows sum to 1), vectorised."""
    cum = np.cumsum(probs, axis=1)
    cum[:, -1] = 1.0
    return (rng.random(len(probs))[:, None] >= cum).sum(axis=1)


def _weights_matrix(rows: list[dict[str, float]], names: tuple[str, ...]) -> np.ndarray:
    """Rows of named weights (unlisted names weigh 1) as a matrix over ``names``."""
    return np.array([[row.get(n, 1.0) for n in names] for row in rows], dtype="float64")


def _make_users(config: SynthConfig, rng: np.random.Generator, start: pd.Timestamp) -> dict[str, Any]:
    n, k = config.n_users, len(PERSONAS)
    persona = rng.choice(k, size=n, p=[p.share for p in PERSONAS])
    shifted = (persona + rng.integers(1, k, size=n)) % k  # uniform over the *other* segments
    segment = np.where(rng.random(n) < config.segment_agreement, persona, shifted)
    region = rng.choice(len(REGIONS), size=n, p=REGION_SHARES)
    age = rng.choice(len(AGE_BANDS), size=n, p=AGE_BAND_SHARES)
    gender = rng.choice(len(GENDERS), size=n, p=GENDER_SHARES)
    tier = _choice_rows(rng, np.array([p.tier_probs for p in PERSONAS])[persona])
    signup_span = int(round(config.signup_years * 365))
    signup_days_before_end = rng.integers(7, max(signup_span, 8), size=n)
    signup_day = (config.days - 1) - signup_days_before_end  # day index relative to start (may be < 0)

    activity = np.array([p.activity for p in PERSONAS])[persona] * rng.lognormal(
        -0.5 * config.activity_sigma**2, config.activity_sigma, size=n
    )
    # Category tastes: persona prior x age-band prior x individual Gumbel noise; the top k are liked.
    prior = np.log(_weights_matrix([p.category_weights for p in PERSONAS], CATEGORIES))[persona]
    prior += np.log(_weights_matrix([AGE_CATEGORY_WEIGHTS.get(b, {}) for b in AGE_BANDS], CATEGORIES))[age]
    score = prior + config.taste_idiosyncrasy * rng.gumbel(size=(n, len(CATEGORIES)))
    n_liked = _choice_rows(rng, np.array([p.n_liked_probs for p in PERSONAS])[persona]) + 1
    rank = np.argsort(np.argsort(-score, axis=1), axis=1)
    liked = rank < n_liked[:, None]
    latent = rng.normal(size=(n, config.latent_dim))

    number = np.arange(1, n + 1)
    ids = pd.array(np.char.add("C", np.char.zfill(number.astype(str), 6)), dtype="str")
    first = _FIRST_NAMES[rng.integers(0, len(_FIRST_NAMES), size=n)]
    last = _LAST_NAMES[rng.integers(0, len(_LAST_NAMES), size=n)]
    email = np.char.add(np.char.add(np.char.add(first, "."), np.char.add(last, number.astype(str))), "@example.com")
    return {
        "ids": ids, "persona": persona, "segment": segment, "region": region, "age": age,
        "gender": gender, "tier": tier, "signup_day": signup_day, "start": start, "activity": activity,
        "liked": liked, "latent": latent, "email": email,
    }


def _labels(names: tuple[str, ...], codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """String labels of integer codes (a take on a tiny string array: fast for millions of rows)."""
    return pd.array(list(names), dtype="str").take(codes)


def _users_frame(u: dict[str, Any]) -> pd.DataFrame:
    start: pd.Timestamp = u["start"]
    signup = start.to_datetime64().astype("datetime64[D]") + u["signup_day"].astype("timedelta64[D]")
    return pd.DataFrame({
        cols.USER_ID: u["ids"],
        SEGMENT: _labels(SEGMENTS, u["segment"]),
        REGION: _labels(REGIONS, u["region"]),
        AGE_BAND: _labels(AGE_BANDS, u["age"]),
        GENDER: _labels(GENDERS, u["gender"]),
        LOYALTY_TIER: _labels(LOYALTY_TIERS, u["tier"]),
        SIGNUP_DATE: signup.astype(DATE_DTYPE),
        EMAIL: pd.array(u["email"], dtype="str"),
    })


# ================================================================================================
# items (offers)
# ================================================================================================
def _make_items(config: SynthConfig, rng: np.random.Generator, start: pd.Timestamp) -> dict[str, Any]:
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


def _items_frame(it: dict[str, Any], start: pd.Timestamp) -> pd.DataFrame:
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


# ================================================================================================
# events
# ================================================================================================
def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _day_weights(config: SynthConfig, start: pd.Timestamp) -> np.ndarray:
    """Relative traffic per day: weekly seasonality and a mild 10% growth over the period."""
    day = np.arange(config.days)
    weekday = (start.day_of_week + day) % 7
    return np.asarray(WEEKDAY_WEIGHTS)[weekday] * (1.0 + 0.1 * day / config.days)


def _draw_by_row(weights: np.ndarray, row: np.ndarray, uniform: np.ndarray) -> np.ndarray:
    """Draw a column per query from the distribution in ``weights[row]`` (inverse CDF, vectorised).

    Rows with zero total weight give -1.
    """
    n_rows, n_cols = weights.shape
    total = weights.sum(axis=1, keepdims=True)
    empty = total[:, 0] <= 0
    cdf = np.cumsum(weights, axis=1) / np.where(empty[:, None], 1.0, total)
    cdf[empty] = 1.0  # any column; flagged below
    cdf += np.arange(n_rows)[:, None]  # row r lives in (r, r + 1]: one sorted array for all rows
    query = row + uniform
    order = np.argsort(query)  # sorted queries make searchsorted cache-friendly (~5x faster)
    col = np.empty(len(query), dtype=np.int64)
    col[order] = np.searchsorted(cdf.ravel(), query[order], side="right")
    col -= row * n_cols
    col = np.clip(col, 0, n_cols - 1)
    return np.where(empty[row], -1, col)


def _make_events(
    config: SynthConfig, rng: np.random.Generator, u: dict[str, Any], it: dict[str, Any]
) -> dict[str, Any]:
    """All impressions and their funnel outcomes, as index arrays (one entry per impression)."""
    user, day, t_imp = _impression_times(config, rng, u)
    item = _impression_offers(config, rng, u, it, user, day)
    # The bias draw is made always and applied only when planted, so both variants share the rest.
    keep_draw = rng.random(len(user))
    biased = (u["age"][user] == AGE_BANDS.index(config.bias_age_band)) & it["deep"][item]
    kept = ~(config.plant_bias & biased & (keep_draw >= config.bias_exposure_ratio))
    return _funnel(config, rng, u, it, user, item, t_imp, kept)


def _impression_times(config: SynthConfig, rng: np.random.Generator, u: dict[str, Any]) -> tuple[np.ndarray, ...]:
    """Customer, day and second (since the period start) of every impression."""
    days = config.days
    first_day = np.clip(u["signup_day"], 0, days - 1)
    active_share = (days - first_day) / days
    n_imp = rng.poisson(config.impressions_per_user * u["activity"] * active_share)
    user = np.repeat(np.arange(config.n_users), n_imp)
    # Day: inverse CDF of the weekday-weighted traffic, restricted to days after signup.
    cum = np.cumsum(_day_weights(config, u["start"]))
    before = np.concatenate([[0.0], cum[:-1]])[first_day[user]]
    target = before + rng.random(len(user)) * (cum[-1] - before)
    day = np.minimum(np.searchsorted(cum, target, side="right"), days - 1)
    hour = rng.choice(24, size=len(user), p=np.asarray(HOUR_WEIGHTS) / np.sum(HOUR_WEIGHTS))
    t_imp = day * 86400 + hour * 3600 + rng.integers(0, 3600, size=len(user))
    return user, day, t_imp


def _impression_offers(config: SynthConfig, rng: np.random.Generator, u: dict[str, Any], it: dict[str, Any],
                       user: np.ndarray, day: np.ndarray) -> np.ndarray:
    """The offer of every impression: among those on show that day, by exposure weight.

    A ``targeted_share`` of impressions comes from the shop's existing rule-based targeting, which
    shows an offer of a category the customer likes (a real shop's "more of what you bought" rule);
    the rest are broadcast.
    """
    days, n_items, n_cat = config.days, config.n_items, len(CATEGORIES)
    on_show = (np.arange(days)[:, None] >= it["start_day"]) & (np.arange(days)[:, None] <= it["end_day"])
    weight = on_show * it["exposure"]
    broadcast = _draw_by_row(weight, day, rng.random(len(user)))
    by_category = weight[:, None, :] * (it["category"][None, None, :] == np.arange(n_cat)[None, :, None])
    liked_first = np.argsort(~u["liked"], axis=1, kind="stable")  # liked categories first, per customer
    pick = np.floor(rng.random(len(user)) * u["liked"].sum(axis=1)[user]).astype(np.int64)
    category = liked_first[user, pick]
    targeted = _draw_by_row(by_category.reshape(days * n_cat, n_items), day * n_cat + category, rng.random(len(user)))
    use_targeted = (rng.random(len(user)) < config.targeted_share) & (targeted >= 0)
    return np.where(use_targeted, targeted, broadcast)


def _persona_array(field: str) -> np.ndarray:
    return np.array([getattr(p, field) for p in PERSONAS], dtype="float64")


def _click_logit(config: SynthConfig, rng: np.random.Generator, u: dict[str, Any], it: dict[str, Any],
                 user: np.ndarray, item: np.ndarray, liked: np.ndarray, latent: np.ndarray) -> np.ndarray:
    return _click_mean_logit(config, u, it, user, item, liked, latent) + rng.normal(0.0, config.noise, size=len(user))


def _click_mean_logit(config: SynthConfig, u: dict[str, Any], it: dict[str, Any],
                      user: np.ndarray, item: np.ndarray, liked: np.ndarray, latent: np.ndarray) -> np.ndarray:
    """The click logit of each impression before its random noise."""
    persona = u["persona"][user]
    ctype_effect = np.array([[p.campaign_type_effect.get(c, 0.0) for c in CAMPAIGN_TYPES] for p in PERSONAS])
    channel_effect = np.array([CHANNEL_EFFECT[c] for c in CHANNELS])
    region_pref = (u["region"][user] == REGIONS.index(config.channel_region)) & (
        it["channel"][item] == CHANNELS.index(config.preferred_channel)
    )
    return (
        config.click_intercept
        + _persona_array("click_base")[persona]
        + config.popularity_strength * it["attractiveness"][item]
        + config.taste_strength * _persona_array("taste_multiplier")[persona] * liked
        + _persona_array("deep_click")[persona] * it["deep"][item]
        + config.discount_slope * (it["depth"][item] - 25.0)
        + ctype_effect[persona, it["ctype"][item]]
        + channel_effect[it["channel"][item]]
        + config.channel_boost * region_pref
        + config.latent_strength * latent
    )


def _redeem_logit(config: SynthConfig, rng: np.random.Generator, u: dict[str, Any], it: dict[str, Any],
                  user: np.ndarray, item: np.ndarray, liked: np.ndarray, latent: np.ndarray) -> np.ndarray:
    return _redeem_mean_logit(config, u, it, user, item, liked, latent) + rng.normal(0.0, config.noise, size=len(user))


def _redeem_mean_logit(config: SynthConfig, u: dict[str, Any], it: dict[str, Any],
                       user: np.ndarray, item: np.ndarray, liked: np.ndarray, latent: np.ndarray) -> np.ndarray:
    """The redeem-given-click logit of each impression before its random noise."""
    persona = u["persona"][user]
    return (
        config.redeem_intercept
        + _persona_array("deep_redeem")[persona] * it["deep"][item]
        + _persona_array("min_spend_penalty")[persona] * it["min_spend"][item] / 50.0
        + config.taste_redeem * liked
        + 0.5 * config.latent_strength * latent
    )


def _order_value(rng: np.random.Generator, u: dict[str, Any], it: dict[str, Any],
                 user: np.ndarray, item: np.ndarray) -> np.ndarray:
    """Revenue after discount of an order: category basket x persona multiplier, at least min spend."""
    basket = np.array([CATEGORY_BASKET[c] for c in CATEGORIES])[it["category"][item]]
    gross = np.maximum(
        it["min_spend"][item] * (1.0 + rng.exponential(0.15, size=len(user))),
        basket * _persona_array("value_multiplier")[u["persona"][user]] * rng.lognormal(-0.08, 0.4, size=len(user)),
    )
    is_fixed = it["ctype"][item] == CAMPAIGN_TYPES.index("fixed_amount")
    net = np.where(is_fixed, gross - it["amount"][item], gross * (1.0 - it["depth"][item] / 100.0))
    return np.round(np.maximum(net, 1.0), 2)


def _first_per_pair(mask: np.ndarray, user: np.ndarray, item: np.ndarray, t: np.ndarray, n_items: int) -> np.ndarray:
    """Keep only the earliest True of ``mask`` per (customer, offer) pair."""
    cand = np.flatnonzero(mask)
    pair = user[cand].astype(np.int64) * n_items + item[cand]
    order = np.lexsort((t[cand], pair))
    _, first = np.unique(pair[order], return_index=True)
    out = np.zeros(len(mask), dtype=bool)
    out[cand[order[first]]] = True
    return out


def _pair_taste(config: SynthConfig, u: dict[str, Any], it: dict[str, Any],
                user: np.ndarray, item: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whether each customer likes the offer's category, and the latent customer x offer factor."""
    liked = u["liked"][user, it["category"][item]]
    latent = np.einsum("ij,ij->i", u["latent"][user], it["latent"][item]) / np.sqrt(config.latent_dim)
    return liked, latent


def _funnel(config: SynthConfig, rng: np.random.Generator, u: dict[str, Any], it: dict[str, Any],
            user: np.ndarray, item: np.ndarray, t_imp: np.ndarray, kept: np.ndarray) -> dict[str, Any]:
    """Click, redeem and purchase outcomes and times of each impression; a step that would fall
    after the offer's last day does not happen (the coupon expired)."""
    n = len(user)
    liked, latent = _pair_taste(config, u, it, user, item)
    window_end = (it["end_day"][item] + 1) * 86400 - 1  # last second of the offer's last day

    click_logit = _click_logit(config, rng, u, it, user, item, liked, latent)
    t_click = t_imp + np.ceil(rng.exponential(8 * 60, size=n)).astype(np.int64) + 1
    clicked = kept & (rng.random(n) < _sigmoid(click_logit)) & (t_click <= window_end)

    redeem_logit = _redeem_logit(config, rng, u, it, user, item, liked, latent)
    t_redeem = t_click + np.ceil(rng.exponential(3 * 3600, size=n)).astype(np.int64) + 1
    redeemed = clicked & (rng.random(n) < _sigmoid(redeem_logit)) & (t_redeem <= window_end)
    redeemed = _first_per_pair(redeemed, user, item, t_redeem, config.n_items)  # single-use coupons

    t_purchase = t_redeem + np.ceil(rng.exponential(10 * 60, size=n)).astype(np.int64) + 1
    purchased = redeemed & (rng.random(n) < config.purchase_rate) & (t_purchase <= window_end)
    return {
        "user": user, "item": item, "kept": kept, "clicked": clicked, "redeemed": redeemed,
        "purchased": purchased, "t_imp": t_imp, "t_click": t_click, "t_redeem": t_redeem,
        "t_purchase": t_purchase, "order_value": _order_value(rng, u, it, user, item),
    }


def _events_frame(ev: dict[str, Any], user_ids: pd.api.extensions.ExtensionArray,
                  item_ids: pd.api.extensions.ExtensionArray, start: pd.Timestamp) -> pd.DataFrame:
    steps = [("kept", "t_imp"), ("clicked", "t_click"), ("redeemed", "t_redeem"), ("purchased", "t_purchase")]
    masks = [ev[m] for m, _ in steps]
    user = np.concatenate([ev["user"][m] for m in masks])
    item = np.concatenate([ev["item"][m] for m in masks])
    t = np.concatenate([ev[tname][m] for m, (_, tname) in zip(masks, steps)])
    code = np.concatenate([np.full(m.sum(), k, dtype=np.int8) for k, m in enumerate(masks)])
    value = np.concatenate([np.zeros(m.sum()) for m in masks[:3]] + [ev["order_value"][masks[3]]])
    # Stable sort on time: ties keep the concatenation order (customer order, then funnel order).
    order = np.argsort(t, kind="stable")
    timestamps = start.to_datetime64().astype("datetime64[s]") + t[order].astype("timedelta64[s]")
    return pd.DataFrame({
        cols.USER_ID: user_ids.take(user[order]),
        cols.ITEM_ID: item_ids.take(item[order]),
        cols.EVENT: _labels(EVENTS, code[order]),
        cols.TIMESTAMP: timestamps.astype(TIMESTAMP_DTYPE),
        cols.VALUE: value[order],
    })


# ================================================================================================
# planted truth
# ================================================================================================
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


def _make_truth(config: SynthConfig, u: dict[str, Any], it: dict[str, Any], ev: dict[str, Any],
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
